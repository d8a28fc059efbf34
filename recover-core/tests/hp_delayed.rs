//! SYNTHETIC: HP Smart Array's delayed parity (RAID5), through the
//! library. No Linux tool writes the layout, so the members come from
//! `fixtures::hp_delayed`: a striper of its own (not `raid::map`) over a
//! real ext4 made by `mke2fs -d`. The oracle is the ext4 image's SHA-256.
//!
//! Asserts, for 4 members (64 KiB strips, parity held 16 rows) and 5
//! members (32 KiB, held 32 rows):
//! - the geometry given by hand (`left-asymmetric+delay=N`) serves the
//!   image byte for byte, whole and with any one member left out (its
//!   chunks rebuilt from parity);
//! - the inference, with no hints and the members given out of order,
//!   puts the delayed layout first (the right delay, chunk and order), and
//!   that candidate serves the image byte for byte; the same with the
//!   member in slot 1 left out. Whole, its confidence is at least 0.5;
//!   either way, more than three times the next candidate's.

use std::sync::Arc;

use fixtures::hp_delayed::{hp_delayed_raid5, SyntheticDelayed};
use recover_core::io::{MemVolume, Volume, VolumeRef};
use recover_core::raid::infer::{infer, Hints};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::{ArrayModel, MemberData, Spec};
use recover_core::raid::volume::ArrayVolume;
use sha2::{Digest, Sha256};

fn sha(v: &dyn Volume) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < v.len() {
        let n = (v.len() - off).min(buf.len() as u64) as usize;
        v.read_at(off, &mut buf[..n]).expect("read the array");
        h.update(&buf[..n]);
        off += n as u64;
    }
    format!("{:x}", h.finalize())
}

fn image_sha(a: &SyntheticDelayed) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(&a.image).unwrap()))
}

fn members(a: &SyntheticDelayed) -> Vec<VolumeRef> {
    a.members
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Arc::new(MemVolume::new(format!("m{i}"), std::fs::read(p).unwrap())) as VolumeRef
        })
        .collect()
}

fn geometries() -> Vec<SyntheticDelayed> {
    [(4, 64 << 10, 16), (5, 32 << 10, 32)]
        .into_iter()
        .filter_map(|(n, chunk, delay)| hp_delayed_raid5(n, chunk, delay))
        .collect()
}

/// The RAID5 of `vols` with `layout` and `chunk`, the member at slot
/// `gone` left out.
fn raid5(vols: &[VolumeRef], layout: &str, chunk: u64, gone: Option<usize>) -> ArrayVolume {
    let slots = vols
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (Some(i) != gone).then(|| MemberData {
                volume: v.clone(),
                data_offset: 0,
                data_size: v.len(),
                name: format!("m{i}"),
            })
        })
        .collect();
    let model = ArrayModel::new(Spec {
        level: Level::Raid5,
        layout: layout.into(),
        chunk,
        members: slots,
        member_size: None,
        size: None,
        spans: None,
    })
    .unwrap();
    ArrayVolume::new(layout.into(), model, false).unwrap()
}

#[test]
fn hand_geometry_serves_the_image_whole_and_degraded() {
    for a in geometries() {
        let want = image_sha(&a);
        let vols = members(&a);
        let layout = format!("left-asymmetric+delay={}", a.delay);
        for gone in [None].into_iter().chain((0..vols.len()).map(Some)) {
            let vol = raid5(&vols, &layout, a.chunk, gone);
            assert_eq!(vol.len(), fixtures::hp_delayed::IMAGE_SIZE);
            assert_eq!(
                sha(&vol),
                want,
                "{layout}, {} members, slot {gone:?} gone",
                vols.len()
            );
            assert!(vol.bad_ranges().is_empty());
        }
        // The plain rotation over the same members is not the image.
        assert_ne!(sha(&raid5(&vols, "left-asymmetric", a.chunk, None)), want);
    }
}

#[test]
fn inference_finds_the_delayed_layout() {
    for a in geometries() {
        let want = image_sha(&a);
        let all = members(&a);
        let n = all.len();
        // Given out of order: the i-th given is slot (3i + 2) mod n (a
        // permutation for 4 and 5 members).
        let order: Vec<usize> = (0..n).map(|i| (i * 3 + 2) % n).collect();
        for gone in [None, Some(1)] {
            let vols: Vec<VolumeRef> = order
                .iter()
                .filter(|&&i| Some(i) != gone)
                .map(|&i| all[i].clone())
                .collect();
            let inf = infer(&vols, &Hints::default(), &|_, _| {}).unwrap();
            let what = format!("{n} members, delay {}, slot {gone:?} gone", a.delay);
            for c in inf.candidates.iter().take(3) {
                eprintln!("{what}: {:.3} {}", c.confidence, c.summary());
            }
            let best = inf.candidates.first().expect("a candidate");
            assert_eq!(best.level, Level::Raid5, "{what}");
            assert_eq!(
                best.layout,
                format!("left-asymmetric+delay={}", a.delay),
                "{what}"
            );
            assert_eq!(best.chunk, a.chunk, "{what}");
            let model = ArrayModel::new(best.spec(&vols)).unwrap();
            let vol = ArrayVolume::new("inferred".into(), model, false).unwrap();
            assert_eq!(sha(&vol), want, "{what}");
            // Singled out: whole, confidently; with a member gone (the
            // level itself then less sure), well ahead of the next.
            let next = inf.candidates.get(1).map_or(0.0, |c| c.confidence);
            assert!(
                best.confidence > 3.0 * next,
                "{what}: {:.3} against {next:.3}",
                best.confidence
            );
            if gone.is_none() {
                assert!(best.confidence >= 0.5, "{what}: {:.3}", best.confidence);
            }
        }
    }
}
