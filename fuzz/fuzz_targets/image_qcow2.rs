#![no_main]
//! The qcow2 reader on untrusted bytes: header and extensions, L1 and L2
//! tables, compressed clusters (deflate and zstd), extended L2 bitmaps,
//! the snapshot table and the allocation count, an external data file;
//! reads of the virtual disk at its start, across a cluster boundary and
//! at its end, and the holes there reading as zeros.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::image::qcow2::Qcow2;
use recover_core::io::{MemVolume, Volume, VolumeRef};

fuzz_target!(|data: &[u8]| {
    let file: VolumeRef = Arc::new(MemVolume::new("fuzz", data.to_vec()));
    let backing: VolumeRef = Arc::new(MemVolume::new("base", vec![0x11u8; 1 << 16]));
    // Served only to images that say their clusters are in a data file.
    let external: VolumeRef = Arc::new(MemVolume::new("data", vec![0x22u8; 1 << 18]));
    let Ok(q) = Qcow2::open_with_data(file, Some(backing), Some(external)) else {
        return;
    };
    let _ = q.snapshots();
    let _ = q.allocated();
    let mut buf = vec![0u8; 96 << 10];
    let len = q.len();
    for at in [0, 65536 - 100, len.saturating_sub(buf.len() as u64)] {
        let n = (len.saturating_sub(at)).min(buf.len() as u64) as usize;
        let read = q.read_at(at, &mut buf[..n]);
        // What hole_at calls a hole reads as zeros (the NBD server sends
        // it as a hole chunk and reports it as `hole,zero`).
        let hole = q.hole_at(at).min(n as u64) as usize;
        if read.is_ok() {
            assert!(buf[..hole].iter().all(|&b| b == 0), "a hole at {at} that is not zeros");
        }
    }
});
