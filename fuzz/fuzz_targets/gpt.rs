#![no_main]
//! GPT header parsing, both-copy scans, and the partition-table model.

use libfuzzer_sys::fuzz_target;
use recover_core::io::MemVolume;
use recover_core::part::{self, gpt, SectorSizeSource};

fuzz_target!(|data: &[u8]| {
    let _ = gpt::parse_header(data, 1);
    let vol = MemVolume::new("fuzz", data.to_vec());
    for ss in [512u64, 4096] {
        let s = gpt::scan(&vol, ss);
        let _ = s.present();
        let _ = s.chosen();
    }
    let probe = part::probe_tables(&vol);
    let tables = part::tables(&vol, &probe, (512, SectorSizeSource::Default));
    for t in &tables {
        for p in &t.partitions {
            let _ = (p.ptype.code(), p.ptype.name());
        }
    }
});
