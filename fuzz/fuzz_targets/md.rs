#![no_main]
//! md superblocks: 1.x at any of its three places, 0.90 in either byte
//! order, through the probe that finds them.

use libfuzzer_sys::fuzz_target;
use recover_core::io::MemVolume;
use recover_core::raid::md;

fuzz_target!(|data: &[u8]| {
    let _ = md::v1::parse(data, 0);
    let _ = md::v1::parse(data, 4096);
    let _ = md::v090::parse(data, 0);
    let vol = MemVolume::new("fuzz", data.to_vec());
    let head = &data[..data.len().min(0x11000)];
    if let Some(Ok(m)) = md::find(head, &vol) {
        let _ = md::identified(m, "md");
    }
});
