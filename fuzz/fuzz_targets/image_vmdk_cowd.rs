#![no_main]
//! The VMFSSPARSE ("COWD") extent reader on untrusted bytes: the header,
//! the grain directory and grain tables; the allocation count; reads over
//! a parent at the start, across grain and grain table boundaries, and at
//! the end.
//!
//! The input is the extent file, its first four bytes made the magic so
//! that mutations reach what lies behind it (seeds: seed.sh, from the
//! fixtures' builder).

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use recover_core::image::vmdk::{cowd, CowdExtent, GrainMap};
use recover_core::io::{MemVolume, Volume, VolumeRef};

fuzz_target!(|data: &[u8]| {
    static PARENT: OnceLock<VolumeRef> = OnceLock::new();
    let parent = PARENT.get_or_init(|| Arc::new(MemVolume::new("parent", vec![0x22u8; 3 << 20])));
    let mut f = data.to_vec();
    if let Some(m) = f.get_mut(..4) {
        m.copy_from_slice(cowd::MAGIC);
    }
    let _ = cowd::parse_header(&f);
    let file: VolumeRef = Arc::new(MemVolume::new("fuzz-delta.vmdk", f));
    let Ok((ext, _problems)) = CowdExtent::open(file) else {
        return;
    };
    let _ = ext.allocated();
    let gb = ext.grain_bytes();
    let len = ext.header().size();
    let v = ext.placed(len, Some(parent.clone()), 0, "fuzz".into());
    let mut buf = vec![0u8; 96 << 10];
    for at in [
        0,
        gb.saturating_sub(100),
        (cowd::GTES * gb).saturating_sub(4000),
        len / 2,
        len.saturating_sub(buf.len() as u64),
    ] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
});
