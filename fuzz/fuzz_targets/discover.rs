#![no_main]
//! Whole-source discovery: tables, partitions, nested volumes, filesystems.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::discover::discover_source;
use recover_core::io::{MemVolume, Source, SourceKind};

fuzz_target!(|data: &[u8]| {
    let src = Source {
        name: "fuzz".into(),
        volume: Arc::new(MemVolume::new("fuzz", data.to_vec())),
        kind: SourceKind::File,
    };
    let root = discover_source(&src, 0, &Default::default());
    for n in root.walk() {
        for p in &n.problems {
            let _ = p.to_string();
        }
    }
});
