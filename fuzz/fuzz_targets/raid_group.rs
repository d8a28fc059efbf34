#![no_main]
//! Gathering members into arrays from arbitrary metadata: the input is cut
//! into up to four member images, each discovered, then grouped.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::discover::discover;
use recover_core::io::{MemVolume, Source, SourceKind};

fuzz_target!(|data: &[u8]| {
    let n = usize::from(data.first().copied().unwrap_or(1) % 4) + 1;
    let rest = data.get(1..).unwrap_or_default();
    let part = rest.len() / n;
    let sources: Vec<(usize, Source)> = (0..n)
        .map(|i| {
            let bytes = rest[i * part..(i + 1) * part].to_vec();
            (
                i,
                Source {
                    name: format!("m{i}"),
                    volume: Arc::new(MemVolume::new("fuzz", bytes)),
                    kind: SourceKind::File,
                },
            )
        })
        .collect();
    for node in discover(&sources, &Default::default()) {
        for n in node.walk() {
            for p in &n.problems {
                let _ = p.to_string();
            }
        }
    }
});
