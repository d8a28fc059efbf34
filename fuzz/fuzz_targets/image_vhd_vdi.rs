#![no_main]
//! The VHD (fixed, dynamic, differencing over a parent) and VDI (static,
//! dynamic) readers on untrusted bytes: footer, dynamic header, block
//! tables and bitmaps, block maps; reads at the start, across a block
//! boundary and at the end. The first byte picks the reader.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::image::{vdi::Vdi, vhd::Vhd};
use recover_core::io::{MemVolume, Volume, VolumeRef};

fn reads(v: &dyn Volume) {
    let mut buf = vec![0u8; 96 << 10];
    let len = v.len();
    for at in [0, 4096 - 100, (2 << 20) - 100, len.saturating_sub(buf.len() as u64)] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let file: VolumeRef = Arc::new(MemVolume::new("fuzz", rest.to_vec()));
    if which & 1 == 0 {
        let parent: VolumeRef = Arc::new(MemVolume::new("parent", vec![0x22u8; 1 << 16]));
        if let Ok((_, disk, _)) = Vhd::open(file, Some(parent)) {
            reads(disk.as_ref());
        }
    } else if let Ok(v) = Vdi::open(file) {
        let _ = v.allocated();
        reads(v.as_ref());
    }
});
