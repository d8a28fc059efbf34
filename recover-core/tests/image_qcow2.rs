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
