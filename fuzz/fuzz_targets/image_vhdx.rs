#![no_main]
//! The VHDX reader on untrusted bytes: headers, log replay, region table,
//! metadata items and parent locator, BAT and sector bitmaps; reads at the
//! start, across block boundaries and at the end, over a parent disk.
//!
//! VHDX structures sit at MiB offsets, so a raw input would be megabytes of
//! zeros for the fuzzer to drag along. The input is a list of patches
//! instead, each `offset: u32 LE, length: u16 LE, bytes`, laid over zeros
//! in order (offsets taken modulo 16 MiB); the file ends where the
//! furthest patch does. When the input's length is odd, the checksums of
//! both headers, both region tables and the log entry at the log's start
//! are then made right, so that mutations get past them.
//! seed.sh turns qemu-img images into this form.

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use recover_core::image::vhdx::header::crc_without;
use recover_core::image::vhdx::Vhdx;
use recover_core::io::{MemVolume, Volume, VolumeRef};
use recover_fuzz::Patches;

const MAX_FILE: u64 = 16 << 20;

trait FixSums {
    fn fix_crc(&mut self, at: u64, len: u64);
    fn le<const N: usize>(&self, at: u64) -> [u8; N];
    fn fix_checksums(&mut self);
}

impl FixSums for Patches {
    /// Stores the right CRC-32C of the `len` bytes at `at` in their
    /// checksum field (at 4).
    fn fix_crc(&mut self, at: u64, len: u64) {
        let mut b = vec![0u8; len as usize];
        if self.read_at(at, &mut b).is_ok() {
            let c = crc_without(&b, 4);
            self.patches.push((at + 4, c.to_le_bytes().to_vec()));
        }
    }

    fn le<const N: usize>(&self, at: u64) -> [u8; N] {
        let mut b = [0u8; N];
        let _ = self.read_at(at, &mut b);
        b
    }

    fn fix_checksums(&mut self) {
        for at in [0x1_0000, 0x2_0000] {
            self.fix_crc(at, 4096);
        }
        for at in [0x3_0000, 0x4_0000] {
            self.fix_crc(at, 0x1_0000);
        }
        let log = u64::from_le_bytes(self.le(0x1_0000 + 72));
        let entry = u64::from(u32::from_le_bytes(self.le(log.saturating_add(8))));
        if entry <= 1 << 20 {
            self.fix_crc(log, entry.max(64));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static PARENT: OnceLock<VolumeRef> = OnceLock::new();
    let parent = PARENT.get_or_init(|| Arc::new(MemVolume::new("parent", vec![0x22u8; 3 << 20])));
    let mut sparse = Patches::new(data, MAX_FILE);
    if data.len() % 2 == 1 {
        sparse.fix_checksums();
    }
    let file: VolumeRef = Arc::new(sparse);
    let Ok((v, _problems)) = Vhdx::open(file) else {
        return;
    };
    let _ = (v.subformat(), v.allocated(), v.parent_names());
    let v = v.with_parent(Some(parent.clone()));
    let mut buf = vec![0u8; 96 << 10];
    let len = v.len();
    let block = v.metadata().block_size;
    for at in [
        0,
        100_000,
        block - 100,
        (2 * block).saturating_sub(4000),
        len.saturating_sub(buf.len() as u64),
    ] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
});
