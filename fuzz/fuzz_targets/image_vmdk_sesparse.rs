#![no_main]
//! The SESPARSE extent reader on untrusted bytes: the constant and
//! volatile headers, the grain directory and grain tables (entry types,
//! the split grain index); the allocation count; reads over a parent at
//! the start, across grain and grain table boundaries, and at the end.
//!
//! The input is the extent file, its first sixteen bytes made the magic
//! and the version so that mutations reach what lies behind them (seeds:
//! seed.sh, from the fixtures' builder).

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use recover_core::image::vmdk::{sesparse, GrainMap, SeSparseExtent};
use recover_core::io::{MemVolume, Volume, VolumeRef};

fuzz_target!(|data: &[u8]| {
    static PARENT: OnceLock<VolumeRef> = OnceLock::new();
    let parent = PARENT.get_or_init(|| Arc::new(MemVolume::new("parent", vec![0x22u8; 3 << 20])));
    let mut f = data.to_vec();
    if let Some(m) = f.get_mut(..16) {
        m[..8].copy_from_slice(&sesparse::MAGIC.to_le_bytes());
        m[8..].copy_from_slice(&sesparse::VERSION.to_le_bytes());
    }
    let _ = sesparse::parse_header(&f);
    for e in f.chunks_exact(8).take(64) {
        let _ = sesparse::decode_gte(u64::from_le_bytes(e.try_into().unwrap()));
    }
    let file: VolumeRef = Arc::new(MemVolume::new("fuzz-sesparse.vmdk", f));
    let Ok((ext, _problems)) = SeSparseExtent::open(file) else {
        return;
    };
    let _ = ext.allocated();
    let gb = ext.grain_bytes();
    let per = ext.header().per_table();
    let len = ext.header().size();
    let v = ext.placed(len, Some(parent.clone()), 0, "fuzz".into());
    let mut buf = vec![0u8; 96 << 10];
    for at in [
        0,
        gb.saturating_sub(100),
        per.saturating_mul(gb).saturating_sub(4000),
        len / 2,
        len.saturating_sub(buf.len() as u64),
    ] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
});
