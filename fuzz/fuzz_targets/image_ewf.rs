#![no_main]
//! The EWF (E01, SMART) reader on untrusted bytes: the file header, the
//! section chain (descriptor checksums, offsets that must move forward),
//! the volume, header/header2 (zlib text), hash, digest, xhash and error2
//! sections, chunk tables and table2 copies, zlib and stored chunks; the
//! input is the first segment, and the second half of it is served again
//! as segment 2 so the set logic (later segments, missing ones) runs too.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{ewf, MemVolume, Volume, VolumeRef};

fuzz_target!(|data: &[u8]| {
    let first: VolumeRef = Arc::new(MemVolume::new("f.E01", data.to_vec()));
    let second: VolumeRef = Arc::new(MemVolume::new(
        "f.E02",
        data.get(data.len() / 2..).unwrap_or_default().to_vec(),
    ));
    let opener = |name: &str| -> recover_core::Result<Option<VolumeRef>> {
        Ok((name == "f.E02").then(|| second.clone()))
    };
    let Ok(e) = ewf::open(first, "f.E01", &opener) else {
        return;
    };
    let v = e.volume;
    let len = v.len();
    let mut buf = vec![0u8; 256 << 10];
    for at in [0, 32768 - 100, len.saturating_sub(buf.len() as u64)] {
        let n = (len.saturating_sub(at)).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
    let _ = v.bad_ranges();
});
