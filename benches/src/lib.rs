//! Shared bench helpers: synthetic RAID members with real parity, for
//! throughput measurements on arrays larger than the lab makes.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use recover_core::io::VolumeRef;
use recover_core::raid::map::{ParityAlgo, ParityGeometry};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::{ArrayModel, MemberData, Spec};
use recover_core::raid::parity;
use recover_core::raid::volume::ArrayVolume;

/// Writes (once; cached by name) `disks` member files of `member_mib` MiB
/// forming a RAID5 (`level` 5) or RAID6 with `algo` and `chunk`-byte chunks,
/// data random, P and Q computed as md computes them. Returns the members
/// in slot order.
pub fn synthetic_members(
    dir: &Path,
    level: u8,
    disks: u32,
    chunk: usize,
    member_mib: u64,
    algo: ParityAlgo,
) -> Vec<PathBuf> {
    let tag = format!(
        "raid{level}-{disks}d-{}k-{}-{member_mib}m",
        chunk >> 10,
        algo.name()
    );
    let d = dir.join(&tag);
    let paths: Vec<PathBuf> = (0..disks).map(|i| d.join(format!("m{i}.img"))).collect();
    let size = member_mib << 20;
    if paths
        .iter()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == size))
    {
        return paths;
    }
    std::fs::create_dir_all(&d).unwrap();
    let files: Vec<std::fs::File> = paths
        .iter()
        .map(|p| {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(p)
                .unwrap();
            f.set_len(size).unwrap();
            f
        })
        .collect();
    let g = ParityGeometry::new(level, disks, algo).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(disks);
    let mut block = vec![0u8; chunk];
    let mut p = vec![0u8; chunk];
    let mut q = vec![0u8; chunk];
    for stripe in 0..size / chunk as u64 {
        let st = g.stripe(stripe);
        p.fill(0);
        q.fill(0);
        for (i, &m) in st.data.iter().enumerate() {
            for w in block.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w.copy_from_slice(&x.to_le_bytes());
            }
            parity::xor_into(&mut p, &block);
            if st.q.is_some() {
                parity::mul_xor_into(&mut q, &block, parity::gf_exp(st.q_slot[i]));
            }
            files[m as usize]
                .write_all_at(&block, stripe * chunk as u64)
                .unwrap();
        }
        files[st.p as usize]
            .write_all_at(&p, stripe * chunk as u64)
            .unwrap();
        if let Some(qm) = st.q {
            files[qm as usize]
                .write_all_at(&q, stripe * chunk as u64)
                .unwrap();
        }
    }
    paths
}

/// Where the synthetic members go: the fixture cache.
pub fn bench_dir() -> PathBuf {
    fixtures::cache_dir().join("bench-raid")
}

/// A left-symmetric RAID5/6 (or any level) over `members`, with the slots
/// in `missing` left out, assembled with `chunk`-byte chunks.
pub fn array(level: Level, members: &[VolumeRef], missing: &[usize], chunk: u64) -> ArrayVolume {
    let m = members
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (!missing.contains(&i)).then(|| MemberData {
                volume: v.clone(),
                data_offset: 0,
                data_size: v.len(),
                name: format!("m{i}"),
            })
        })
        .collect();
    let spec = Spec {
        level,
        layout: "left-symmetric".into(),
        chunk,
        members: m,
        member_size: None,
        size: None,
        spans: None,
    };
    ArrayVolume::new("bench".into(), ArrayModel::new(spec).unwrap(), false).unwrap()
}
