//! An array's provenance (`Volume::origins`) against the read path itself.
//!
//! The bytes a degraded array rebuilds from parity (or reads from another
//! copy) are exactly the bytes that, on the whole array, are read from the
//! missing member: flipping every bit of that member changes exactly them.
//! So for every level and layout, with any member left out (two for RAID6),
//! the ranges `origins` reports as `Parity` (RAID4/5/6) or `Mirror`
//! (RAID1/10) must equal the ranges where the whole array's bytes change
//! when the left-out members are flipped; and a member with a bad range
//! carries it up as `Unreadable` at the array offsets that map onto it.

use std::ops::Range;
use std::sync::Arc;

use proptest::prelude::*;
use recover_core::io::{MemVolume, Origin, Volume, VolumeRef};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::{ArrayModel, MemberData, Spec};
use recover_core::raid::volume::ArrayVolume;

fn array(level: Level, layout: &str, chunk: u64, vols: &[Option<VolumeRef>]) -> ArrayVolume {
    let members = vols
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_ref().map(|v| MemberData {
                volume: v.clone(),
                data_offset: 0,
                data_size: v.len(),
                name: format!("m{i}"),
            })
        })
        .collect();
    let model = ArrayModel::new(Spec {
        level,
        layout: layout.into(),
        chunk,
        members,
        member_size: None,
        size: None,
        spans: None,
    })
    .expect("model");
    ArrayVolume::new("a".into(), model, false).expect("array")
}

fn read_all(v: &dyn Volume) -> Vec<u8> {
    let mut b = vec![0u8; v.len() as usize];
    v.read_at(0, &mut b).expect("read");
    b
}

/// Runs of bytes that differ between `a` and `b`.
fn differing(a: &[u8], b: &[u8]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            let i = i as u64;
            match out.last_mut() {
                Some(r) if r.end == i => r.end = i + 1,
                _ => out.push(i..i + 1),
            }
        }
    }
    out
}

fn layouts() -> Vec<(Level, &'static str, u32, usize)> {
    // (level, layout, members, how many may be left out)
    vec![
        (Level::Raid4, "", 4, 1),
        (Level::Raid5, "left-symmetric", 4, 1),
        (Level::Raid5, "right-asymmetric", 5, 1),
        (Level::Raid5, "parity-first", 3, 1),
        (Level::Raid6, "left-symmetric", 5, 2),
        (Level::Raid6, "right-asymmetric", 6, 2),
        (Level::Raid10, "near=2", 4, 1),
        (Level::Raid10, "far=2", 5, 1),
        (Level::Raid10, "offset=2", 4, 1),
        (Level::Raid1, "", 3, 2),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn rebuilt_bytes_are_the_missing_members_bytes(
        which in 0usize..10,
        gone in proptest::collection::vec(0u32..6, 1..3),
        chunk_log in 9u32..13,
        rows in 1u64..9,
        seed in any::<u64>(),
        query in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let (level, layout, n, may) = layouts()[which];
        let chunk = 1u64 << chunk_log;
        let size = chunk * rows * 2;
        let mut gone: Vec<usize> = gone.iter().map(|g| (*g % n) as usize).collect();
        gone.sort();
        gone.dedup();
        gone.truncate(may);
        let mut x = seed | 1;
        let data: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                (0..size)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect()
            })
            .collect();
        let vol = |i: usize, d: &[u8]| Arc::new(MemVolume::new(format!("m{i}"), d.to_vec())) as VolumeRef;
        let whole: Vec<Option<VolumeRef>> = data.iter().enumerate().map(|(i, d)| Some(vol(i, d))).collect();
        let flipped: Vec<Option<VolumeRef>> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let d: Vec<u8> = if gone.contains(&i) { d.iter().map(|b| !b).collect() } else { d.clone() };
                Some(vol(i, &d))
            })
            .collect();
        let degraded: Vec<Option<VolumeRef>> = whole
            .iter()
            .enumerate()
            .map(|(i, v)| (!gone.contains(&i)).then(|| v.clone()).flatten())
            .collect();
        let a = array(level, layout, chunk, &whole);
        let want = differing(&read_all(&a), &read_all(&array(level, layout, chunk, &flipped)));
        let d = array(level, layout, chunk, &degraded);
        let kind = if matches!(level, Level::Raid1 | Level::Raid10) { Origin::Mirror } else { Origin::Parity };
        let o = d.origins(0, d.len()).normalized();
        prop_assert_eq!(o.of(kind), want.clone(), "{:?} {} gone {:?}", level, layout, gone);
        prop_assert!(o.of(Origin::Missing).is_empty());
        prop_assert!(a.origins(0, a.len()).is_empty());

        // Any window reports the same runs, clipped to it.
        let (s, e) = (query.0.index(d.len() as usize) as u64, query.1.index(d.len() as usize + 1) as u64);
        let (s, e) = (s.min(e), s.max(e));
        let clipped: Vec<Range<u64>> = want
            .iter()
            .filter_map(|r| {
                let (rs, re) = (r.start.max(s), r.end.min(e));
                (rs < re).then_some(rs..re)
            })
            .collect();
        prop_assert_eq!(d.origins(s, e - s).of(kind), clipped);
    }
}

/// One more member gone than the level can rebuild: those bytes are
/// `Missing`, not `Parity`, and a RAID0 has no redundancy at all.
#[test]
fn beyond_redundancy_is_missing() {
    let chunk = 4096u64;
    let vols: Vec<Option<VolumeRef>> = (0..3)
        .map(|i| {
            (i != 1).then(|| {
                Arc::new(MemVolume::new(
                    format!("m{i}"),
                    vec![i as u8; 4 * chunk as usize],
                )) as VolumeRef
            })
        })
        .collect();
    let model = ArrayModel::new(Spec {
        level: Level::Raid0,
        layout: String::new(),
        chunk,
        members: vols
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_ref().map(|v| MemberData {
                    volume: v.clone(),
                    data_offset: 0,
                    data_size: v.len(),
                    name: format!("m{i}"),
                })
            })
            .collect(),
        member_size: None,
        size: None,
        spans: None,
    })
    .unwrap();
    let a = ArrayVolume::new("r0".into(), model, true).unwrap();
    let o = a.origins(0, a.len());
    assert_eq!(
        o.of(Origin::Missing),
        (0..4)
            .map(|r| (r * 3 + 1) * chunk..(r * 3 + 2) * chunk)
            .collect::<Vec<_>>()
    );
    assert!(o.of(Origin::Parity).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// One large read and many 512-byte reads (pieces of chunks, RAID6
    /// rebuilding two blocks of a stripe in one pass or not) read the same
    /// bytes, from any offset, with members missing or not.
    #[test]
    fn large_reads_equal_small_reads(
        which in 0usize..6,
        gone in proptest::collection::vec(0u32..6, 0..3),
        chunk_log in 9u32..13,
        rows in 2u64..12,
        seed in any::<u64>(),
        start in any::<prop::sample::Index>(),
    ) {
        let (level, layout, n, may) = layouts()[which];
        let chunk = 1u64 << chunk_log;
        let size = chunk * rows;
        let mut gone: Vec<usize> = gone.iter().map(|g| (*g % n) as usize).collect();
        gone.sort();
        gone.dedup();
        gone.truncate(may);
        let mut x = seed | 1;
        let vols: Vec<Option<VolumeRef>> = (0..n as usize)
            .map(|i| {
                let d: Vec<u8> = (0..size)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                (!gone.contains(&i)).then(|| Arc::new(MemVolume::new(format!("m{i}"), d)) as VolumeRef)
            })
            .collect();
        let a = array(level, layout, chunk, &vols);
        let mut small = vec![0u8; a.len() as usize];
        for (k, piece) in small.chunks_mut(512).enumerate() {
            a.read_at(k as u64 * 512, piece).unwrap();
        }
        let s = start.index(a.len() as usize / 2);
        let mut large = vec![0u8; a.len() as usize - s];
        a.read_at(s as u64, &mut large).unwrap();
        prop_assert!(large == small[s..], "{:?} {} gone {:?} from {}", level, layout, gone, s);
    }
}
