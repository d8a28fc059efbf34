#![no_main]
//! Geometry inference over members made of the input: the first byte says
//! how many (1 to 5), the rest is cut into that many member images. The
//! engine reads them as untrusted data (partition tables, filesystem
//! superblocks, LVM labels, parity rows): it must never panic or loop,
//! whatever it concludes.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{MemVolume, VolumeRef};
use recover_core::raid::infer::{infer, Hints};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(first % 5) + 1;
    let len = rest.len() / n;
    let members: Vec<VolumeRef> = (0..n)
        .map(|i| {
            let part = rest.get(i * len..(i + 1) * len).unwrap_or(&[]).to_vec();
            Arc::new(MemVolume::new(format!("m{i}"), part)) as VolumeRef
        })
        .collect();
    let _ = infer(&members, &Hints::default(), &|_, _| {});
});
