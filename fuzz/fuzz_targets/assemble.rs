#![no_main]
//! Assembly from random geometry: level, member count, chunk, layout,
//! missing members and data offsets taken from the first bytes, the rest
//! cut into member images; then the whole array is read. Building the
//! model must refuse what cannot be, and reading must never panic.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{MemVolume, Volume, VolumeRef};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::{ArrayModel, MemberData, Spec};
use recover_core::raid::volume::ArrayVolume;

const LAYOUTS: &[&str] = &[
    "",
    "left-asymmetric",
    "right-asymmetric",
    "left-symmetric",
    "right-symmetric",
    "parity-first",
    "parity-last",
    "ddf-zero-restart",
    "ddf-N-restart",
    "ddf-N-continue",
    "left-symmetric-6",
    "parity-first-6",
    "near=2",
    "far=2",
    "offset=2",
    "near=3",
    "near=2, far=2",
    "alternate",
    "bogus",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let level = [
        Level::Linear,
        Level::Raid0,
        Level::Raid1,
        Level::Raid4,
        Level::Raid5,
        Level::Raid6,
        Level::Raid10,
        Level::Raid1E,
    ][usize::from(data[0] % 8)];
    let n = usize::from(data[1] % 8) + 1;
    let chunk = 512u64 << (data[2] % 9);
    let layout = LAYOUTS[usize::from(data[3]) % LAYOUTS.len()].to_string();
    let missing = data[4];
    let offset = u64::from(data[5] % 4) * 512;
    let allow_holes = data[6] & 1 != 0;
    let spans = (data[6] & 2 != 0).then(|| (2u32, "striped".to_string()));
    let rest = &data[8..];
    let part = rest.len() / n;
    let members: Vec<Option<MemberData>> = (0..n)
        .map(|i| {
            (missing >> i & 1 == 0).then(|| {
                let v: VolumeRef = Arc::new(MemVolume::new(
                    format!("m{i}"),
                    rest[i * part..(i + 1) * part].to_vec(),
                ));
                MemberData {
                    data_size: v.len().saturating_sub(offset),
                    volume: v,
                    data_offset: offset,
                    name: format!("m{i}"),
                }
            })
        })
        .collect();
    let spec = Spec {
        level,
        layout,
        chunk,
        members,
        member_size: None,
        size: None,
        spans,
    };
    let Ok(model) = ArrayModel::new(spec) else {
        return;
    };
    let Ok(vol) = ArrayVolume::new("fuzz".into(), model, allow_holes) else {
        return;
    };
    let len = vol.len().min(1 << 20);
    let mut buf = vec![0u8; 4096 + 7];
    let mut at = 0u64;
    while at < len {
        let k = (len - at).min(buf.len() as u64) as usize;
        let _ = vol.read_at(at, &mut buf[..k]);
        at += k as u64;
    }
    let _ = vol.read_at(vol.len(), &mut buf[..1]);
    let _ = vol.bad_ranges();
});
