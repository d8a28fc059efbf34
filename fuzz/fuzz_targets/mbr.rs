#![no_main]
//! MBR parsing and the EBR chain walk, on 512- and 4096-byte sectors.

use libfuzzer_sys::fuzz_target;
use recover_core::io::MemVolume;
use recover_core::part::mbr::{parse_mbr, walk_ebr_chain};
use recover_core::part::types::is_extended;

fuzz_target!(|data: &[u8]| {
    let Ok(mbr) = parse_mbr(data) else {
        return;
    };
    let _ = mbr.role();
    let vol = MemVolume::new("fuzz", data.to_vec());
    for e in mbr.entries.iter().filter(|e| is_extended(e.kind)) {
        for ss in [512u64, 4096] {
            let chain = walk_ebr_chain(&vol, ss, e.first_lba as u64, e.sectors as u64);
            for p in &chain.problems {
                let _ = p.to_string();
            }
        }
    }
});
