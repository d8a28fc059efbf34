//! VMDK disks read as their virtual disk, against `qemu-img convert -f
//! vmdk -O raw` of the same disk: every subformat qemu-img writes
//! (descriptor and extents found beside it), a stream-optimized extent
//! with its grain directory in the footer, a delta disk over its parent,
//! and damage: each a clear error or problem, never a panic.

mod common;
use common::open_file as file;
use common::sha_volume as sha;

use std::path::Path;
use std::sync::Arc;

use fixtures::vmdk_image::{vmdk_delta, vmdk_image, VMDK_VARIANTS};
use recover_core::image::siblings::HostDirs;
use recover_core::image::vmdk::{self, SparseExtent};
use recover_core::image::{detect, Chain, Detected};
use recover_core::io::{MapPolicy, MemVolume, VolumeRef};
use recover_core::Severity;

/// The chain of a host file: named files are looked for beside it.
fn chain(p: &Path) -> Chain {
    Chain::new(
        p.display().to_string(),
        Arc::new(HostDirs::for_source(p, Vec::new(), MapPolicy::Auto)),
    )
}

fn detected(p: &Path) -> Detected {
    detect(&file(p), &chain(p))
        .expect("found as a VM image")
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn mem(name: &str, b: Vec<u8>) -> VolumeRef {
    Arc::new(MemVolume::new(name, b))
}

#[test]
fn every_subformat_reads_as_qemu_img_converts_it() {
    for v in VMDK_VARIANTS {
        let Some((img, want)) = vmdk_image(v) else {
            return;
        };
        let (info, disk, problems) = detected(&img);
        assert_eq!(info.format, "vmdk", "{}", v.name);
        assert_eq!(info.subformat, v.create_type, "{}", v.name);
        assert_eq!(info.virtual_size, fixtures::vmdk_image::SIZE, "{}", v.name);
        assert!(problems.is_empty(), "{}: {problems:?}", v.name);
        let disk = disk.unwrap();
        assert_eq!(disk.len(), fixtures::vmdk_image::SIZE, "{}", v.name);
        assert_eq!(sha(disk.as_ref()), want, "{}", v.name);
        let alloc = info.allocated.unwrap();
        assert!(
            alloc > 0 && alloc <= disk.len(),
            "{}: {alloc} bytes allocated",
            v.name
        );
        eprintln!("{}: {alloc} allocated of {}", v.name, disk.len());
    }
}

#[test]
fn zeroed_grain_entries_read_as_zeros() {
    let v = VMDK_VARIANTS
        .iter()
        .find(|v| v.name == "lsilogic-hw6-zeroed-grain")
        .unwrap();
    let Some((img, _)) = vmdk_image(v) else {
        return;
    };
    let (ext, _) = SparseExtent::open(file(&img)).unwrap();
    assert_ne!(ext.header().flags & 4, 0, "zeroed-grain flag");
    let d = vmdk::open(file(&img), &chain(&img)).unwrap();
    let desc = d.descriptor.unwrap();
    assert_eq!(desc.adapter_type.as_deref(), Some("lsilogic"));
    assert_eq!(desc.hw_version.as_deref(), Some("6"));
    let mut b = vec![0xEEu8; 3 << 20];
    d.disk.read_at(0, &mut b).unwrap();
    assert!(b[..1 << 20].iter().all(|&x| x == 0));
    assert!(b[2 << 20..(2 << 20) + (256 << 10)].iter().all(|&x| x == 0));
}

/// qemu-img writes a stream-optimized extent with its grain directory
/// placed in the header; VMware writes it after the grains, with the
/// header's offset GD_AT_END and the real one in a footer. The same
/// extent rewritten that way reads the same.
#[test]
fn stream_optimized_with_the_grain_directory_in_the_footer() {
    let v = VMDK_VARIANTS
        .iter()
        .find(|v| v.name == "streamOptimized")
        .unwrap();
    let Some((img, want)) = vmdk_image(v) else {
        return;
    };
    let mut f = std::fs::read(&img).unwrap();
    assert_eq!(f.len() % 512, 0);
    let header: Vec<u8> = f[..512].to_vec();
    f[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    // Footer marker (a metadata marker: sectors 1, size 0, type 3), the
    // header with the real offset, the end-of-stream marker.
    let mut marker = vec![0u8; 512];
    marker[..8].copy_from_slice(&1u64.to_le_bytes());
    marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&marker);
    f.extend_from_slice(&header);
    f.extend_from_slice(&[0u8; 512]);
    let d = vmdk::open(mem("footer.vmdk", f.clone()), &Chain::default()).unwrap();
    assert_eq!(d.create_type, "streamOptimized");
    assert_eq!(sha(d.disk.as_ref()), want);
    // Without a footer marker, the grain directory cannot be found.
    let n = f.len();
    f[n - 1536 + 12] = 0;
    let e = vmdk::open(mem("footer.vmdk", f), &Chain::default()).unwrap_err();
    assert!(e.to_string().contains("VMDK footer"), "{e}");
}

#[test]
fn a_delta_disk_reads_through_its_parent() {
    let Some((img, want)) = vmdk_delta() else {
        return;
    };
    let (info, disk, problems) = detected(&img);
    assert_eq!(info.backing_file.as_deref(), Some("base.vmdk"));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(sha(disk.unwrap().as_ref()), want);
    // Without the parent, the delta's own grains still read; the rest are
    // zeros, and a problem says why.
    let d = vmdk::open(file(&img), &Chain::default()).unwrap();
    assert!(d.problems.iter().any(|p| p.detail.contains("base.vmdk")));
    let mut b = vec![0u8; 70 << 10];
    d.disk.read_at(3 << 20, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0x5a));
    d.disk.read_at(0, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}

#[test]
fn a_missing_extent_reads_as_zeros_with_an_error() {
    let v = VMDK_VARIANTS
        .iter()
        .find(|v| v.name == "monolithicFlat")
        .unwrap();
    let Some((img, _)) = vmdk_image(v) else {
        return;
    };
    let s = fixtures::cache::Scratch::new("vmdk-missing");
    let lone = s.join("disk.vmdk");
    std::fs::copy(&img, &lone).unwrap();
    let (info, disk, problems) = detected(&lone);
    assert_eq!(info.virtual_size, fixtures::vmdk_image::SIZE);
    let p = problems
        .iter()
        .find(|p| p.severity == Severity::Error)
        .expect("an error problem");
    assert!(p.detail.contains("disk-flat.vmdk"), "{p:?}");
    let disk = disk.unwrap();
    let mut b = vec![0xEEu8; 4096];
    disk.read_at(disk.len() - 4096, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}

#[test]
fn damaged_sparse_extents_are_clear_errors() {
    let Some((img, _)) = vmdk_image(&VMDK_VARIANTS[0]) else {
        return;
    };
    let whole = std::fs::read(&img).unwrap();
    let open = |b: Vec<u8>| vmdk::open(mem("bad.vmdk", b), &Chain::default());
    let read_all = |d: &VolumeRef| -> Result<(), String> {
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0;
        while pos < d.len() {
            d.read_at(pos, &mut buf).map_err(|e| e.to_string())?;
            pos += buf.len() as u64;
        }
        Ok(())
    };
    // Truncated in the middle of the grains: opens, reads fail at the
    // first grain past the end.
    let d = open(whole[..whole.len() / 2].to_vec()).unwrap();
    let e = read_all(&d.disk).unwrap_err();
    assert!(
        e.contains("VMDK grain table") && e.contains("past the end"),
        "{e}"
    );
    // Truncated inside the grain directory or header.
    for cut in [100, 600, 0x3000] {
        let e = open(whole[..cut].to_vec()).unwrap_err().to_string();
        assert!(e.contains("VMDK"), "{cut}: {e}");
    }
    // The first grain table entry points far past the end.
    let h = vmdk::sparse::parse_header(&whole).unwrap().unwrap();
    let gd = h.gd_offset as usize * 512;
    let gt = u32::from_le_bytes(whole[gd..gd + 4].try_into().unwrap()) as usize * 512;
    let mut f = whole.clone();
    f[gt..gt + 4].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    let d = open(f).unwrap();
    let e = d.disk.read_at(10, &mut [0u8; 100]).unwrap_err().to_string();
    assert!(e.contains("grain 0") && e.contains("past the end"), "{e}");
    // A grain directory entry past the end: the redundant copy is used.
    let mut f = whole.clone();
    f[gd..gd + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    let d = open(f).unwrap();
    assert!(
        d.problems.iter().any(|p| p.detail.contains("redundant")),
        "{:?}",
        d.problems
    );
    read_all(&d.disk).unwrap();
    // Absurd header fields.
    for (at, val, why) in [
        (12usize, u64::MAX, "capacity"),
        (12, 1 << 50, "grain tables"),
        (20, 3, "grain of 3"),
        (20, 1 << 40, "grain of"),
    ] {
        let mut f = whole.clone();
        f[at..at + 8].copy_from_slice(&val.to_le_bytes());
        let e = open(f).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("VMDK sparse header"), "{e}");
    }
    let mut f = whole.clone();
    f[44..48].copy_from_slice(&0u32.to_le_bytes());
    let e = open(f).unwrap_err().to_string();
    assert!(e.contains("grain table entries"), "{e}");
}

#[test]
fn damaged_descriptors_are_clear_errors() {
    let open = |t: &str| vmdk::open(mem("d.vmdk", t.as_bytes().to_vec()), &Chain::default());
    let e = open("# Disk DescriptorFile\nRW 99999999999999999 FLAT \"x\" 0\n").unwrap_err();
    assert!(e.to_string().contains("2^64"), "{e}");
    let e = open("# Disk DescriptorFile\ncreateType=\"x\"\n").unwrap_err();
    assert!(e.to_string().contains("no extents"), "{e}");
    let e = open("# Disk DescriptorFile\nRW 8 FLAT \"x 0\n").unwrap_err();
    assert!(e.to_string().contains("quote"), "{e}");
    // An extent that is not there, and one of a type not read: zeros.
    let d = open(
        "# Disk DescriptorFile\nRW 8 FLAT \"gone.vmdk\" 0\nRW 8 VMFSSPARSE \"x\"\nRW 8 ZERO\n",
    )
    .unwrap();
    assert_eq!(d.disk.len(), 24 * 512);
    assert_eq!(d.problems.len(), 2, "{:?}", d.problems);
    assert!(d.problems[0].detail.contains("gone.vmdk"));
    let mut b = vec![1u8; 24 * 512];
    d.disk.read_at(0, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}
