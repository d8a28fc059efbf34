#![no_main]
//! Superblock identification (every probe) and the boot-sector filesystems.

use libfuzzer_sys::fuzz_target;
use recover_core::fs;
use recover_core::io::MemVolume;

fuzz_target!(|data: &[u8]| {
    let vol = MemVolume::new("fuzz", data.to_vec());
    for r in recover_core::registry::identify(&vol) {
        match r {
            Ok(mut id) => fs::probe::check_fits(&mut id, data.len() as u64),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let _ = fs::probe::boot_sector_filesystem(&vol);
});
