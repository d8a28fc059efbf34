//! How the geometry inference scales with member size: seconds and bytes
//! read per member for members of 16 MiB to 64 GiB, in one run.
//!
//! Each array is a RAID5 of 3 members, 64 KiB chunks, left-symmetric, data
//! from 1 MiB on, striped here by its own small striper (not the library's
//! layout math) over the 64 MiB GPT disk of the fixtures (sgdisk, mkfs.ext4,
//! mkfs.vfat, mkswap), the members then padded with zeros to their size
//! (sparse: the zeros are never stored). The inference must find the
//! geometry at every size, reading the same amount: flat in member size.
//!
//!     cargo run --release -p recover-benches --bin infer_scaling

use std::sync::Arc;
use std::time::Instant;

use recover_core::io::{Concat, MemVolume, VolumeRef, Zeros};
use recover_core::raid::infer::{infer, Hints};
use recover_core::raid::metadata::Level;

const CHUNK: usize = 64 << 10;
const OFFSET: usize = 1 << 20;
const N: usize = 3;

/// md's left-symmetric RAID5: parity on member n-1-r%n, data after it.
fn stripe(data: &[u8]) -> Vec<Vec<u8>> {
    let dd = N - 1;
    let rows = data.len().div_ceil(CHUNK * dd);
    let mut m = vec![vec![0u8; OFFSET + rows * CHUNK]; N];
    for r in 0..rows {
        let p = N - 1 - r % N;
        let mut parity = vec![0u8; CHUNK];
        for k in 0..dd {
            let d = (p + 1 + k) % N;
            let at = (r * dd + k) * CHUNK;
            let src = data.get(at..(at + CHUNK).min(data.len())).unwrap_or(&[]);
            let o = OFFSET + r * CHUNK;
            m[d][o..o + src.len()].copy_from_slice(src);
            for (x, y) in parity.iter_mut().zip(src) {
                *x ^= y;
            }
        }
        let o = OFFSET + r * CHUNK;
        m[p][o..o + CHUNK].copy_from_slice(&parity);
    }
    m
}

fn main() {
    let disk = std::fs::read(fixtures::gpt_small().path).expect("the fixture disk");
    println!("member size  | seconds | MiB read per member | found");
    println!("-------------|---------|---------------------|------");
    let mut first = None;
    for size in [16u64 << 20, 256 << 20, 4 << 30, 64 << 30] {
        // The array's bytes that fit the members (all of the disk from 64 MiB up).
        let content = ((size as usize - OFFSET) * (N - 1)).min(disk.len());
        let members: Vec<VolumeRef> = stripe(&disk[..content])
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let have = bytes.len() as u64;
                let parts: Vec<VolumeRef> = vec![
                    Arc::new(MemVolume::new(format!("m{i}"), bytes)),
                    Arc::new(Zeros::new(size.saturating_sub(have), format!("m{i} zeros"))),
                ];
                Arc::new(Concat::new(parts, format!("m{i}"))) as VolumeRef
            })
            .collect();
        let t = Instant::now();
        let found = infer(&members, &Hints::default(), &|_, _| {}).expect("inference");
        let secs = t.elapsed().as_secs_f64();
        let read = found.bytes_read.iter().copied().max().unwrap_or(0);
        let ok = found.candidates.first().is_some_and(|c| {
            c.level == Level::Raid5
                && c.layout == "left-symmetric"
                && c.chunk == CHUNK as u64
                && c.slots == [Some(0), Some(1), Some(2)]
                && c.data_offset.iter().all(|&o| o == OFFSET as u64)
        });
        println!(
            "{:>9} MiB | {secs:>7.2} | {:>19.1} | {}",
            size >> 20,
            read as f64 / (1 << 20) as f64,
            if ok { "yes" } else { "NO" }
        );
        // Members smaller than the sample are read whole: the reference is
        // the first size past it.
        if size == 256 << 20 {
            first = Some((secs, read));
        }
        if let (64, Some((s0, r0))) = (size >> 30, first) {
            println!(
                "\n64 GiB against 256 MiB members: {:.2}x the time, {:.2}x the bytes read",
                secs / s0.max(1e-9),
                read as f64 / r0.max(1) as f64
            );
        }
    }
}
