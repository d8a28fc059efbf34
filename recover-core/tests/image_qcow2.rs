//! qcow2 images read as their virtual disk, against `qemu-img convert -O
//! raw` of the same image: every variant qemu-img makes (compat 0.10 and
//! 1.1, deflate and zstd compression, extended L2, 512-byte and 2 MiB
//! clusters) and an overlay on a backing file with an internal snapshot.

mod common;
use common::open_file as file;
use common::sha_volume as sha;

use std::sync::Arc;

use fixtures::qcow2_image::{qcow2_image, qcow2_overlay, QCOW2_VARIANTS};
use recover_core::image::qcow2::Qcow2;
use recover_core::io::{Volume, VolumeRef};

#[test]
fn every_variant_reads_as_qemu_img_converts_it() {
    for v in QCOW2_VARIANTS {
        let Some((img, want)) = qcow2_image(v) else {
            return;
        };
        let q = Qcow2::open(file(&img), None).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(q.len(), fixtures::qcow2_image::SIZE, "{}", v.name);
        assert_eq!(sha(&q), want, "{}", v.name);
        let alloc = q.allocated().unwrap();
        assert!(
            alloc > 0 && alloc <= q.len(),
            "{}: {alloc} bytes allocated",
            v.name
        );
        eprintln!("{}: {} allocated of {}", v.name, alloc, q.len());
    }
}

#[test]
fn an_overlay_reads_through_its_backing_file() {
    let Some((img, want, base)) = qcow2_overlay() else {
        return;
    };
    let base_vol: VolumeRef = Arc::new(Qcow2::open(file(&base), None).unwrap());
    let q = Qcow2::open(file(&img), Some(base_vol)).unwrap();
    let named = q.header().backing_file.clone().unwrap();
    assert!(named.ends_with("qcow2-compat-1.1-v1.qcow2"), "{named}");
    assert_eq!(q.header().backing_format.as_deref(), Some("qcow2"));
    assert_eq!(sha(&q), want);
    let snaps = q.snapshots().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].name, "before-recovery");
    assert_eq!(snaps[0].disk_size, Some(fixtures::qcow2_image::SIZE));
    // Without its backing file, the overlay's own clusters still read.
    let alone = Qcow2::open(file(&img), None).unwrap();
    let mut b = vec![0u8; 70 << 10];
    alone.read_at(3 << 20, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0x5a));
}

/// Host ranges of an image file to report unreadable: a long run a third
/// of the way in, and one byte two thirds in.
fn bad_in(file_len: u64) -> Vec<std::ops::Range<u64>> {
    let (a, b) = (file_len / 3, file_len / 3 * 2 + 12345);
    vec![a..a + 300_001, b..b + 1]
}

/// With ranges of the image file unreadable, the guest reports exactly
/// the bytes qemu-img's map stores there (and, for compressed clusters,
/// the whole clusters whose stored bytes reading them fetches from there).
#[test]
fn origins_follow_clusters_into_the_image_file() {
    use common::{assert_unreadable, compressed_in, guest_in, merged, qemu_map, Probe};
    for v in QCOW2_VARIANTS
        .iter()
        .filter(|v| ["compat-1.1", "extended-l2", "512-byte-clusters", "deflate"].contains(&v.name))
    {
        let Some((img, _)) = qcow2_image(v) else {
            return;
        };
        let map = qemu_map(&img, "qcow2");
        let f = file(&img);
        let bad = bad_in(f.len());
        let probe = Probe::new(f, bad.clone());
        let q = Qcow2::open(probe.clone(), None).unwrap();
        let mut want = guest_in(&map, 0, &bad);
        let cs = q.header().cluster_size();
        want.extend(compressed_in(&q, &probe, &map, cs, &bad));
        assert_unreadable(v.name, &q, &merged(want));
    }
}

/// An overlay's unallocated clusters carry its backing file's origins,
/// where the map puts them (depth 1); its own clusters and the ranges it
/// zeroed do not.
#[test]
fn an_overlay_carries_its_backing_files_origins() {
    use common::{assert_unreadable, guest_in, qemu_map, Probe};
    let Some((img, _, base)) = qcow2_overlay() else {
        return;
    };
    let map = qemu_map(&img, "qcow2");
    let b = file(&base);
    let bad = bad_in(b.len());
    let base_vol: VolumeRef = Arc::new(Qcow2::open(Probe::new(b, bad.clone()), None).unwrap());
    let q = Qcow2::open(file(&img), Some(base_vol)).unwrap();
    assert_unreadable("overlay", &q, &guest_in(&map, 1, &bad));
    // Without the backing file, nothing below is read.
    assert!(Qcow2::open(file(&img), None)
        .unwrap()
        .origins(0, q.len())
        .is_empty());
}
