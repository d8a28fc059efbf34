#![no_main]
//! LVM2 on untrusted bytes: the PV label and header, metadata area headers
//! and their rings, the text metadata, VGs gathered from two PVs (the input
//! split in two), every LV built and read at its start, middle and end; and
//! the dm-thin metadata of a thin LV; a classic snapshot's COW store. The
//! first byte picks the path.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{MemVolume, Volume, VolumeRef};
use recover_core::lvm::{self, config, snapshot, thin, volume};

fn reads(v: &dyn Volume) {
    let mut buf = vec![0u8; 70 << 10];
    let len = v.len();
    for at in [0, len / 2, len.saturating_sub(buf.len() as u64)] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            let half = rest.len() / 2;
            let (a, b) = rest.split_at(half); // ok: half <= len
            let pvs: Vec<lvm::PvFound> = [a, b]
                .iter()
                .enumerate()
                .filter_map(|(i, bytes)| {
                    let v: VolumeRef = Arc::new(MemVolume::new(format!("pv{i}"), bytes.to_vec()));
                    lvm::read_pv(&format!("d{i}/lvm2"), v, false)
                })
                .collect();
            for g in lvm::gather(&pvs) {
                let mut b = volume::Builder::new(&g.metadata, &g.pv_volumes, "lvm/x".into());
                for lv in &g.metadata.lvs {
                    if let volume::Built::Volume(v) = b.build(&lv.name) {
                        reads(v.as_ref());
                    }
                }
            }
        }
        1 => {
            let _ = config::parse(rest);
            let _ = lvm::metadata::parse(rest);
        }
        3 => {
            let origin: VolumeRef = Arc::new(MemVolume::new("origin", vec![0x11u8; 1 << 20]));
            let cow: VolumeRef = Arc::new(MemVolume::new("cow", rest.to_vec()));
            if let Ok((s, _)) = snapshot::SnapshotVolume::open(origin, cow, "snap".into()) {
                reads(s.as_ref());
            }
        }
        _ => {
            let cut = rest.len().min(3 * 4096);
            let (m, d) = rest.split_at(cut); // ok: cut <= len
            let meta: VolumeRef = Arc::new(MemVolume::new("tmeta", m.to_vec()));
            let data: VolumeRef = Arc::new(MemVolume::new("tdata", d.to_vec()));
            if let Ok((t, _)) = thin::ThinVolume::open(meta, data, 1, 1 << 30, "thin".into()) {
                reads(t.as_ref());
            }
        }
    }
});
