#![no_main]
//! IMSM: the MPB (with extended sectors), disk table and volume maps, read
//! from the input as the tail of a disk.

use libfuzzer_sys::fuzz_target;
use recover_core::io::MemVolume;
use recover_core::raid::imsm;

fuzz_target!(|data: &[u8]| {
    let _ = imsm::checksum(data);
    let vol = MemVolume::new("fuzz", data.to_vec());
    if let Some((off, ss)) = imsm::find(&vol) {
        let _ = imsm::read(&vol, off, ss);
    }
});
