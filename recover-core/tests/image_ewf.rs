//! EWF images read as their media data, against the raw disk they were
//! acquired from by libewf's ewfacquire: every format and compression level
//! it writes, split into segments; the stored hashes and case data against
//! ewfinfo; a missing middle segment and a corrupted chunk fail only their
//! ranges.

mod common;
use common::sha_volume as sha;

use std::ops::Range;
use std::path::Path;

use fixtures::ewf_image::{acquire, ewfinfo, have_ewf_tools, scratch, source_raw, FORMATS, LEVELS};
use recover_core::io::{open_source, MapPolicy, Source, SourceKind, Volume};

fn open(p: &Path) -> (Source, std::sync::Arc<recover_core::io::ewf::EwfInfo>) {
    let s = open_source(p, MapPolicy::Auto).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let SourceKind::Ewf(info) = s.kind.clone() else {
        panic!("{}: opened as {:?}, not EWF", p.display(), s.kind)
    };
    (s, info)
}

fn info_value<'a>(info: &'a [(String, String)], key: &str) -> Option<&'a str> {
    info.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Every byte outside `bad` equals the raw image's.
fn same_outside(vol: &dyn Volume, raw: &[u8], bad: &[Range<u64>]) {
    let mut got = vec![0u8; raw.len()];
    vol.read_at(0, &mut got).unwrap();
    let mut at = 0usize;
    for r in bad {
        assert_eq!(
            got[at..r.start as usize],
            raw[at..r.start as usize],
            "before {r:?}"
        );
        assert!(got[r.start as usize..r.end as usize]
            .iter()
            .all(|&b| b == 0));
        at = r.end as usize;
    }
    assert_eq!(got[at..], raw[at..]);
}

#[test]
fn every_format_and_level_reads_bit_exact() {
    if !have_ewf_tools() {
        return;
    }
    let raw = source_raw();
    let want = fixtures::tree::sha256_file(&raw);
    for format in FORMATS {
        for level in LEVELS {
            let tag = format!("{format}/{level}");
            let dir = scratch("ewf");
            let first = acquire(&raw, &dir.0, format, level, 1 << 20);
            let (src, info) = open(&first);
            assert!(
                info.segments.len() > 1,
                "{tag}: {} segments",
                info.segments.len()
            );
            assert!(info.missing_segments.is_empty(), "{tag}");
            assert!(info.problems.is_empty(), "{tag}: {:?}", info.problems);
            assert_eq!(src.volume.len(), 64 << 20, "{tag}");
            assert_eq!(sha(src.volume.as_ref()), want, "{tag}");
            assert!(src.volume.bad_ranges().is_empty(), "{tag}");
            // The stored hashes and the case data, as ewfinfo reads them.
            let ei = ewfinfo(&first);
            assert_eq!(info.md5.as_deref(), info_value(&ei, "MD5"), "{tag}");
            assert!(info.md5.is_some(), "{tag}: no MD5");
            assert_eq!(info.sha1.as_deref(), info_value(&ei, "SHA1"), "{tag}");
            let c = &info.case;
            for (key, ours) in [
                ("Case number", &c.case_number),
                ("Evidence number", &c.evidence_number),
                ("Examiner name", &c.examiner),
                ("Description", &c.description),
                ("Notes", &c.notes),
                ("Operating system used", &c.system),
                ("Software version used", &c.software),
            ] {
                assert_eq!(ours.as_deref(), info_value(&ei, key), "{tag}: {key}");
            }
            eprintln!(
                "{tag}: {} segments, {} variant, md5 {:?}, case {:?}, acquired {:?}",
                info.segments.len(),
                info.variant,
                info.md5,
                c.case_number,
                c.acquisition_date
            );
        }
    }
}

#[test]
fn a_missing_middle_segment_reads_as_zeros_with_its_range() {
    if !have_ewf_tools() {
        return;
    }
    let raw_path = source_raw();
    let raw = std::fs::read(&raw_path).unwrap();
    let dir = scratch("ewf-missing");
    let first = acquire(&raw_path, &dir.0, "encase6", "none", 8 << 20);
    std::fs::remove_file(dir.0.join("img.E03")).unwrap();
    let (src, info) = open(&first);
    assert_eq!(info.missing_segments, vec![3]);
    let bad = src.volume.bad_ranges();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let r = bad[0].clone();
    assert!(r.start > 0 && r.end < raw.len() as u64, "{r:?}");
    assert_eq!((r.end - r.start) % 32768, 0);
    assert!(info
        .problems
        .iter()
        .any(|p| p.detail.contains("segment 3") && p.offset == Some(r.start)));
    same_outside(src.volume.as_ref(), &raw, &bad);
    // Its chunks are missing, not unreadable.
    let o = src.volume.origins(0, src.volume.len());
    assert_eq!(o.of(recover_core::io::Origin::Missing), bad);
    assert!(o.of(recover_core::io::Origin::Unreadable).is_empty());
}

/// With a range of a segment file reported unreadable, the media reports
/// exactly the chunks whose stored bytes reading them fetches from there,
/// each whole (a chunk is checked and inflated as one).
#[test]
fn chunks_carry_their_segments_origins_whole() {
    use common::{merged, Probe};
    use recover_core::io::Origin;
    if !have_ewf_tools() {
        return;
    }
    let raw_path = source_raw();
    for level in ["none", "best"] {
        let dir = scratch("ewf-origins");
        let first = acquire(&raw_path, &dir.0, "encase6", level, 1 << 30);
        // The segment file's bytes (a source opened by path is its media).
        let f: recover_core::io::VolumeRef = std::sync::Arc::new(recover_core::io::MemVolume::new(
            "img.E01",
            std::fs::read(&first).unwrap(),
        ));
        let (a, b) = (f.len() / 3, f.len() / 3 * 2 + 12345);
        let bad = vec![a..a + 100_001, b..b + 1];
        let probe = Probe::new(f, bad.clone());
        let none = |_: &str| Ok(None);
        let v = recover_core::io::ewf::open(probe.clone(), "img.E01", &none)
            .unwrap()
            .volume;
        let cs = v.chunk_size();
        let mut want = Vec::new();
        let mut buf = vec![0u8; cs as usize];
        let mut at = 0;
        while at < v.len() {
            let n = cs.min(v.len() - at);
            probe.take_reads();
            v.read_at(at, &mut buf[..n as usize]).unwrap();
            let meets = probe
                .take_reads()
                .iter()
                .any(|r| bad.iter().any(|h| r.start < h.end && h.start < r.end));
            if meets {
                want.push(at..at + n);
            }
            at += n;
        }
        let want = merged(want);
        assert!(!want.is_empty(), "{level}");
        let o = v.origins(0, v.len());
        assert_eq!(o.of(Origin::Unreadable), want, "{level}");
        assert!(o.of(Origin::Missing).is_empty(), "{level}");
    }
}

#[test]
fn a_corrupt_chunk_fails_only_its_range() {
    if !have_ewf_tools() {
        return;
    }
    let raw_path = source_raw();
    let raw = std::fs::read(&raw_path).unwrap();
    for level in ["none", "best"] {
        let dir = scratch("ewf-corrupt");
        let first = acquire(&raw_path, &dir.0, "encase6", level, 1 << 20);
        // A byte in the sectors section of the second segment (past its
        // file header, data section descriptor and data section).
        let second = dir.0.join("img.E02");
        let mut seg = std::fs::read(&second).unwrap();
        let at = 0x4_0000;
        seg[at] ^= 0x55;
        std::fs::write(&second, &seg).unwrap();
        let (src, _) = open(&first);
        let mut all = vec![0u8; raw.len()];
        src.volume.read_at(0, &mut all).unwrap();
        let bad = src.volume.bad_ranges();
        assert_eq!(bad.len(), 1, "{level}: {bad:?}");
        assert_eq!(bad[0].end - bad[0].start, 32768, "{level}");
        same_outside(src.volume.as_ref(), &raw, &bad);
        let o = src.volume.origins(0, src.volume.len());
        assert_eq!(o.of(recover_core::io::Origin::Unreadable), bad, "{level}");
    }
}

#[test]
fn garbage_segments_never_panic() {
    // Every single-byte change of a small image's first 4 KiB either opens
    // and reads or is an error; none panics.
    if !have_ewf_tools() {
        return;
    }
    let raw_path = source_raw();
    let dir = scratch("ewf-mutate");
    let first = acquire(&raw_path, &dir.0, "encase6", "best", 64 << 20);
    let orig = std::fs::read(&first).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for at in (0..4096).step_by(7) {
        let mut m = orig.clone();
        m[at] ^= 0xa5;
        let v: recover_core::io::VolumeRef =
            std::sync::Arc::new(recover_core::io::MemVolume::new("m.E01", m));
        let none = |_: &str| Ok(None);
        if let Ok(e) = recover_core::io::ewf::open(v, "m.E01", &none) {
            let n = e.volume.len().min(buf.len() as u64) as usize;
            let _ = e.volume.read_at(0, &mut buf[..n]);
        }
    }
}
