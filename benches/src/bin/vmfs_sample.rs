//! Prints the device images of a VMFS sample made by ESXi (fetched and
//! decompressed into the fixture cache on first use), for the scripts
//! that time `recover` on them: `vmfs_sample vmfs5`.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "vmfs5".into());
    let Some(paths) = fixtures::vmfs_samples::sample(&name) else {
        eprintln!("no VMFS sample {name}");
        std::process::exit(1);
    };
    for p in paths {
        println!("{}", p.display());
    }
}
