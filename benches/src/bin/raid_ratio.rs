//! Degraded-read throughput as a ratio of plain reading, in one run.
//!
//! Builds (once) a RAID5 of 5 and a RAID6 of 6 members of 256 MiB with 64
//! KiB chunks, loads them into the page cache, then times, best of three:
//! - plain: reading every surviving member in full (what any rebuild must read);
//! - RAID5 with one member missing, through `ArrayVolume`;
//! - RAID6 with two data-holding members missing (every stripe needs the
//!   P+Q double recovery or the Q recovery).
//!
//! Single-threaded (per core) and with every core (rayon over 8 MiB blocks).
//! Prints GB/s and the ratios; `--members` prints the member paths and exits.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use recover_benches::array as make_array;
use recover_benches::{bench_dir, synthetic_members};
use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};
use recover_core::raid::map::ParityAlgo;
use recover_core::raid::metadata::Level;

const BLOCK: usize = 8 << 20;
const CHUNK: usize = 64 << 10;
const MEMBER_MIB: u64 = 256;

fn read_all(v: &dyn Volume, threads: bool) -> u64 {
    let blocks: Vec<u64> = (0..v.len().div_ceil(BLOCK as u64)).collect();
    let one = |b: &u64, buf: &mut Vec<u8>| {
        let at = b * BLOCK as u64;
        let n = (v.len() - at).min(BLOCK as u64) as usize;
        v.read_at(at, &mut buf[..n]).unwrap();
        std::hint::black_box(&buf[..n]);
    };
    if threads {
        blocks
            .par_iter()
            .for_each_init(|| vec![0u8; BLOCK], |buf, b| one(b, buf));
    } else {
        let mut buf = vec![0u8; BLOCK];
        blocks.iter().for_each(|b| one(b, &mut buf));
    }
    v.len()
}

fn best_of_3(f: impl Fn() -> u64) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let bytes = f();
            bytes as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn main() {
    let dir = bench_dir();
    let r5 = synthetic_members(&dir, 5, 5, CHUNK, MEMBER_MIB, ParityAlgo::LeftSymmetric);
    let r6 = synthetic_members(&dir, 6, 6, CHUNK, MEMBER_MIB, ParityAlgo::LeftSymmetric);
    if std::env::args().any(|a| a == "--members") {
        for p in r5.iter().chain(&r6) {
            println!("{}", p.display());
        }
        return;
    }
    let open = |ps: &[std::path::PathBuf]| -> Vec<VolumeRef> {
        ps.iter()
            .map(|p| open_source(p, MapPolicy::Auto).unwrap().volume)
            .collect()
    };
    let (v5, v6) = (open(&r5), open(&r6));
    // Page cache: read everything once.
    for v in v5.iter().chain(&v6) {
        read_all(v.as_ref(), false);
    }
    println!(
        "parity kernel: {}, threads: {}",
        recover_core::raid::parity::kernel_name(),
        rayon::current_num_threads()
    );
    for (threads, label) in [(false, "1 thread"), (true, "all threads")] {
        let plain5 = best_of_3(|| v5[1..].iter().map(|v| read_all(v.as_ref(), threads)).sum());
        let a5 = Arc::new(make_array(Level::Raid5, &v5, &[1], CHUNK as u64));
        let deg5 = best_of_3(|| read_all(a5.as_ref(), threads));
        // RAID6: slots 1 and 2 missing; every stripe loses two blocks, data or parity.
        let plain6 = best_of_3(|| {
            v6.iter()
                .enumerate()
                .filter(|(i, _)| *i != 1 && *i != 2)
                .map(|(_, v)| read_all(v.as_ref(), threads))
                .sum()
        });
        let a6 = Arc::new(make_array(Level::Raid6, &v6, &[1, 2], CHUNK as u64));
        let deg6 = best_of_3(|| read_all(a6.as_ref(), threads));
        println!("[{label}] plain read of the 4 surviving RAID5 members: {plain5:.2} GB/s");
        println!(
            "[{label}] RAID5, 1 of 5 missing, array read:            {deg5:.2} GB/s  ratio {:.2}",
            deg5 / plain5
        );
        println!("[{label}] plain read of the 4 surviving RAID6 members: {plain6:.2} GB/s");
        println!(
            "[{label}] RAID6, 2 of 6 missing, array read:            {deg6:.2} GB/s  ratio {:.2}",
            deg6 / plain6
        );
    }
}
