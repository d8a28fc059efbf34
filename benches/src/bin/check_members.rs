//! Members of a clean md 1.2 RAID5 or RAID6 (left-symmetric, 64 KiB
//! chunks, data at 1 MiB, superblock at 4 KiB) for timing `recover check`
//! against reading the members (benches/scripts/check-vs-cat.sh). The
//! data is pseudo-random, so nothing is found inside the array and the
//! time is the scrub's.
//!
//! usage: check_members DIR LEVEL DISKS MIB  (prints the member paths;
//! members already there at the right size are kept)

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use recover_core::raid::map::{ParityAlgo, ParityGeometry};
use recover_core::raid::parity;

const CHUNK: usize = 64 << 10;
const DATA_OFFSET: u64 = 1 << 20;
/// Rows written at once.
const ROWS: usize = 64;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let [_, dir, level, disks, mib] = &a[..] else {
        eprintln!("usage: check_members DIR LEVEL DISKS MIB");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let level: u8 = level.parse().expect("LEVEL");
    let disks: u32 = disks.parse().expect("DISKS");
    let mib: u64 = mib.parse().expect("MIB");
    let data = mib << 20;
    let len = DATA_OFFSET + data;
    std::fs::create_dir_all(&dir).expect("DIR");
    let paths: Vec<PathBuf> = (0..disks).map(|i| dir.join(format!("m{i}.img"))).collect();
    if !paths
        .iter()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == len))
    {
        let files: Vec<std::fs::File> = paths
            .iter()
            .map(|p| {
                let f = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(p)
                    .expect("create member");
                f.set_len(len).expect("size member");
                f
            })
            .collect();
        let g = ParityGeometry::new(level, disks, ParityAlgo::LeftSymmetric).expect("geometry");
        let rows = data / CHUNK as u64;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut bufs = vec![vec![0u8; CHUNK * ROWS]; disks as usize];
        let mut row = 0u64;
        while row < rows {
            let n = ((rows - row) as usize).min(ROWS);
            for k in 0..n {
                let st = g.stripe(row + k as u64);
                let at = k * CHUNK;
                let mut p = vec![0u8; CHUNK];
                let mut q = vec![0u8; CHUNK];
                for (i, &d) in st.data.iter().enumerate() {
                    let b = &mut bufs[d as usize][at..at + CHUNK];
                    for w in b.chunks_exact_mut(8) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        w.copy_from_slice(&x.to_le_bytes());
                    }
                    parity::xor_into(&mut p, b);
                    if let Some(&slot) = st.q_slot.get(i) {
                        parity::mul_xor_into(&mut q, b, parity::gf_exp(slot));
                    }
                }
                bufs[st.p as usize][at..at + CHUNK].copy_from_slice(&p);
                if let Some(qm) = st.q {
                    bufs[qm as usize][at..at + CHUNK].copy_from_slice(&q);
                }
            }
            for (f, b) in files.iter().zip(&bufs) {
                f.write_all_at(&b[..n * CHUNK], DATA_OFFSET + row * CHUNK as u64)
                    .expect("write member");
            }
            row += n as u64;
        }
        for (i, p) in paths.iter().enumerate() {
            fixtures::md::write_v1_2(
                p,
                &fixtures::md::Member {
                    name: "bench",
                    level: u32::from(level),
                    layout: 2,
                    chunk_sectors: (CHUNK / 512) as u32,
                    raid_disks: disks,
                    slot: i as u32,
                    data_offset: DATA_OFFSET / 512,
                    data_size: data / 512,
                },
            );
        }
    }
    for p in &paths {
        println!("{}", p.display());
    }
}
