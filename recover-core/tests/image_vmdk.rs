//! VMDK disks read as their virtual disk, against `qemu-img convert -f
//! vmdk -O raw` of the same disk: every subformat qemu-img writes
//! (descriptor and extents found beside it), a stream-optimized extent
//! with its grain directory in the footer, a delta disk over its parent,
//! ESXi's snapshot deltas (VMFSSPARSE and SESPARSE, which no tool here
//! writes: the fixtures' builder does, checked against qemu-img), and
//! damage: each a clear error or problem, never a panic.

mod common;
use common::open_file as file;
use common::sha_volume as sha;

use std::path::Path;
use std::sync::Arc;

use fixtures::esx_delta::{esx_delta, plan, DeltaKind, Put, ESX_DELTA_VARIANTS};
use fixtures::vmdk_image::{vmdk_delta, vmdk_image, VMDK_VARIANTS};
use recover_core::image::siblings::HostDirs;
use recover_core::image::vmdk::{self, GrainMap, SparseExtent};
use recover_core::image::{detect, Chain, Detected};
use recover_core::io::{MapPolicy, MemVolume, VolumeRef};
use recover_core::Severity;

use proptest::prelude::*;

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
    // And its provenance says the bytes are missing, not stored as zeros.
    let o = disk.origins(0, disk.len());
    assert_eq!(o.of(recover_core::io::Origin::Missing), vec![0..disk.len()]);
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
    // Extents that are not there (flat and VMFSSPARSE): zeros.
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

/// The bytes a delta's plan puts in the disk, by guest grain.
fn grain_bytes(kind: DeltaKind) -> u64 {
    match kind {
        DeltaKind::Cowd(g) => u64::from(g) * 512,
        DeltaKind::SeSparse => 4096,
    }
}

/// ESXi deltas (VMFSSPARSE and SESPARSE, written by the fixtures' builder)
/// over parents qemu-img made: read through the parent as qemu-img
/// converts them (the builder checked qemu-img against its own model).
#[test]
fn esx_deltas_read_as_qemu_img_converts_them() {
    for v in ESX_DELTA_VARIANTS {
        let Some(d) = esx_delta(v) else {
            return;
        };
        let (info, disk, problems) = detected(&d.descriptor);
        let create = match v.kind {
            DeltaKind::Cowd(_) => "vmfsSparse",
            DeltaKind::SeSparse => "seSparse",
        };
        assert_eq!(info.subformat, create, "{}", v.name);
        assert_eq!(
            info.backing_file.as_deref(),
            Some("base.vmdk"),
            "{}",
            v.name
        );
        assert!(problems.is_empty(), "{}: {problems:?}", v.name);
        let disk = disk.unwrap();
        assert_eq!(disk.len(), fixtures::esx_delta::SIZE, "{}", v.name);
        assert_eq!(sha(disk.as_ref()), d.sha, "{}", v.name);
        assert_ne!(d.sha, d.parent_sha, "{}: the delta changes nothing", v.name);
        let plan = plan(v.kind);
        let gb = grain_bytes(v.kind);
        let data = plan
            .iter()
            .filter(|(_, p)| matches!(p, Put::Data { .. }))
            .count() as u64;
        assert_eq!(info.allocated, Some(data * gb), "{}", v.name);
        // Each grain as the plan has it, read on its own.
        let mut b = vec![0u8; gb as usize];
        for (g, p) in &plan {
            disk.read_at(g * gb, &mut b).unwrap();
            match p {
                Put::Data { bytes, .. } => assert!(b == *bytes, "{}: grain {g}", v.name),
                _ => assert!(b.iter().all(|&x| x == 0), "{}: grain {g}", v.name),
            }
        }
        eprintln!("{}: {} grains of {gb} bytes", v.name, plan.len());
    }
}

/// A delta without its parent reads its own grains over zeros, and says
/// why; its extent found alone is a VMDK of its own.
#[test]
fn esx_deltas_without_their_parent_or_descriptor() {
    for v in ESX_DELTA_VARIANTS
        .iter()
        .filter(|v| v.parent == "monolithicSparse")
    {
        let Some(d) = esx_delta(v) else {
            return;
        };
        let gb = grain_bytes(v.kind);
        // The descriptor and its extent, without the parent.
        let s = fixtures::cache::Scratch::new("vmdk-esx-orphan");
        for f in [&d.descriptor, &d.extent] {
            std::fs::copy(f, s.join(f.file_name().unwrap().to_str().unwrap())).unwrap();
        }
        let desc = s.join(d.descriptor.file_name().unwrap().to_str().unwrap());
        let o = vmdk::open(file(&desc), &chain(&desc)).unwrap();
        assert!(
            o.problems.iter().any(|p| p.detail.contains("base.vmdk")),
            "{}: {:?}",
            v.name,
            o.problems
        );
        let lone = detected(&d.extent);
        let (info, disk, problems) = lone;
        assert_eq!(
            info.subformat,
            match v.kind {
                DeltaKind::Cowd(_) => "vmfsSparse extent",
                DeltaKind::SeSparse => "seSparse extent",
            }
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].detail.contains("without its descriptor"));
        let disk = disk.unwrap();
        for d in [&o.disk, &disk] {
            assert_eq!(d.len(), fixtures::esx_delta::SIZE);
            let mut b = vec![0xEEu8; gb as usize];
            for (g, p) in plan(v.kind) {
                d.read_at(g * gb, &mut b).unwrap();
                match p {
                    Put::Data { bytes, .. } => assert!(b == bytes, "{}: grain {g}", v.name),
                    _ => assert!(b.iter().all(|&x| x == 0), "{}: grain {g}", v.name),
                }
            }
            // 20 MiB: in a grain table the deltas leave out.
            d.read_at(20 << 20, &mut b).unwrap();
            assert!(b.iter().all(|&x| x == 0), "{}", v.name);
        }
    }
}

/// Reads the whole volume: the first error, if any.
fn read_all(d: &dyn recover_core::io::Volume) -> Result<(), String> {
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < d.len() {
        let n = (d.len() - pos).min(buf.len() as u64) as usize;
        d.read_at(pos, &mut buf[..n]).map_err(|e| e.to_string())?;
        pos += n as u64;
    }
    Ok(())
}

fn u32_at(f: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(f[at..at + 4].try_into().unwrap()))
}

fn u64_at(f: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(f[at..at + 8].try_into().unwrap())
}

#[test]
fn damaged_cowd_extents_are_clear_errors() {
    let v = ESX_DELTA_VARIANTS
        .iter()
        .find(|v| v.name == "cowd-grain8-sparse")
        .unwrap();
    let Some(d) = esx_delta(v) else {
        return;
    };
    let whole = std::fs::read(&d.extent).unwrap();
    let open = |b: Vec<u8>| vmdk::open(mem("x-delta.vmdk", b), &Chain::default());
    let gd = u32_at(&whole, 20) as usize * 512;
    // Grain tables are written last table first: table 0 is the last.
    let t0 = u32_at(&whole, gd) as usize * 512;
    // Cut in the middle of grain table 0: it is reported at its directory
    // entry, and reading its grains fails there; the other tables read.
    let o = open(whole[..t0 + 100].to_vec()).unwrap();
    let p = o
        .problems
        .iter()
        .find(|p| p.structure == "VMDK COWD grain directory")
        .expect("a grain directory problem");
    assert_eq!(p.offset, Some(gd as u64), "{p:?}");
    let e = read_all(o.disk.as_ref()).unwrap_err();
    assert!(
        e.contains(&format!("VMDK COWD grain directory at {gd:#x}")) && e.contains("past the end"),
        "{e}"
    );
    let mut b = vec![0u8; 4096];
    o.disk.read_at(5000 * 4096, &mut b).unwrap();
    // A grain table entry past the end of the file.
    let mut f = whole.clone();
    f[t0 + 4..t0 + 8].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let o = open(f).unwrap();
    let e = o.disk.read_at(4096, &mut b).unwrap_err().to_string();
    assert!(
        e.contains(&format!("VMDK COWD grain table at {:#x}", t0 + 4)) && e.contains("grain 1 "),
        "{e}"
    );
    // Truncated in the header, the grain directory past the end, a grain
    // of no sectors, too few directory entries.
    for (cut, why) in [(100, "truncated"), (gd + 2, "grain directory")] {
        let e = open(whole[..cut].to_vec())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{cut}: {e}");
    }
    for (at, val, why) in [
        (
            20usize,
            0x00FF_FFFFu32,
            "VMDK COWD grain directory at 0x1fffffe00",
        ),
        (16, 0, "VMDK COWD header at 0x10: grain of 0"),
        (24, 2, "VMDK COWD header at 0x18"),
    ] {
        let mut f = whole.clone();
        f[at..at + 4].copy_from_slice(&val.to_le_bytes());
        let e = open(f).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(why), "{at}: {e}");
    }
}

#[test]
fn damaged_sesparse_extents_are_clear_errors() {
    let v = ESX_DELTA_VARIANTS
        .iter()
        .find(|v| v.name == "sesparse-sparse")
        .unwrap();
    let Some(d) = esx_delta(v) else {
        return;
    };
    let whole = std::fs::read(&d.extent).unwrap();
    let open = |b: Vec<u8>| vmdk::open(mem("x-sesparse.vmdk", b), &Chain::default());
    let gd = u64_at(&whole, 128) as usize * 512;
    let tables = u64_at(&whole, 144) as usize * 512;
    // Grain table 0 of the directory is table 1 of the grain tables.
    let t0 = tables + (u64_at(&whole, gd) & 0xffff_ffff) as usize * 32768;
    let mut b = vec![0u8; 4096];
    // An entry of an unknown type; an allocated one past the end.
    for (entry, why) in [
        (7u64 << 60, "grain type 7"),
        (0x3000_0000_0100_0000, "past the end"),
        (0x0000_0000_0000_0400, "bits set"),
    ] {
        let mut f = whole.clone();
        f[t0 + 8..t0 + 16].copy_from_slice(&entry.to_le_bytes());
        let o = open(f).unwrap();
        let e = o.disk.read_at(4096, &mut b).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "VMDK SESPARSE grain table at {:#x}: grain 1",
                t0 + 8
            )) && e.contains(why),
            "{e}"
        );
        o.disk.read_at(0, &mut b).unwrap();
    }
    // A directory entry that names no table, or a table past the end; the
    // file cut inside a grain table.
    for (entry, cut) in [
        (0x2000_0000_0000_0001u64, whole.len()),
        (0x1000_0000_0001_0000, whole.len()),
        (u64_at(&whole, gd), t0 + 1000),
    ] {
        let mut f = whole[..cut].to_vec();
        f[gd..gd + 8].copy_from_slice(&entry.to_le_bytes());
        let o = open(f).unwrap();
        let p = o
            .problems
            .iter()
            .find(|p| p.structure == "VMDK SESPARSE grain directory")
            .expect("a grain directory problem");
        assert_eq!(p.offset, Some(gd as u64), "{p:?}");
        let e = read_all(o.disk.as_ref()).unwrap_err();
        assert!(
            e.contains(&format!("VMDK SESPARSE grain directory at {gd:#x}")),
            "{e}"
        );
        // Grain table 2 still reads.
        o.disk.read_at(8194 * 4096, &mut b).unwrap();
    }
    // Header fields, each reported at its own offset.
    for (at, val, why) in [
        (8usize, 0x1_0000_0001u64, "version"),
        (16, u64::MAX, "capacity"),
        (16, 1 << 50, "grain tables"),
        (24, 3, "grain of 3"),
        (32, 0, "grain tables of 0"),
        (136, 0, "grain directory of 0 sectors"),
        (192, u64::MAX - 1, "grains of"),
    ] {
        let mut f = whole.clone();
        f[at..at + 8].copy_from_slice(&val.to_le_bytes());
        let e = open(f).map(|_| ()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(why) && s.contains("VMDK SESPARSE header"),
            "{at}: {s}"
        );
        assert_eq!(e.offset(), Some(at as u64), "{s}");
    }
    let mut f = whole.clone();
    f[128..136].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let e = open(f).map(|_| ()).unwrap_err().to_string();
    assert!(
        e.contains("VMDK SESPARSE grain directory at 0x2000000000000"),
        "{e}"
    );
    // A journal not replayed, a volatile header without its magic, flags:
    // read, with problems.
    let vol = u64_at(&whole, 80) as usize * 512;
    for (at, val, severity) in [
        (vol + 24, 1u64, Severity::Error),
        (vol, 0, Severity::Warning),
        (40, 1, Severity::Warning),
    ] {
        let mut f = whole.clone();
        f[at..at + 8].copy_from_slice(&val.to_le_bytes());
        let o = open(f).unwrap();
        assert!(
            o.problems
                .iter()
                .any(|p| p.offset == Some(at as u64) && p.severity == severity),
            "{at}: {:?}",
            o.problems
        );
        read_all(o.disk.as_ref()).unwrap();
    }
}

/// A descriptor that gives an extent a type its header is not: read as
/// its header says, with a warning.
#[test]
fn a_delta_extent_is_read_as_its_header_says() {
    let v = ESX_DELTA_VARIANTS
        .iter()
        .find(|v| v.name == "cowd-grain128-flat")
        .unwrap();
    let Some(d) = esx_delta(v) else {
        return;
    };
    let s = fixtures::cache::Scratch::new("vmdk-esx-mislabelled");
    for f in ["base.vmdk", "base-flat.vmdk", "base-000001-delta.vmdk"] {
        std::fs::copy(d.descriptor.with_file_name(f), s.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(&d.descriptor).unwrap();
    let desc = s.join("base-000001.vmdk");
    std::fs::write(&desc, text.replace(" VMFSSPARSE ", " SESPARSE ")).unwrap();
    let (_, disk, problems) = detected(&desc);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .detail
        .contains("given as SESPARSE but holds a COWD header"));
    assert_eq!(sha(disk.unwrap().as_ref()), d.sha);
}

/// What a delta's disk holds, from the grains put in it: the parent (to
/// the capacity; zeros past the parent's end), the grains over it, zeros
/// past the capacity.
fn model(parent: &[u8], cap: usize, len: usize, gb: usize, grains: &[(u64, Put)]) -> Vec<u8> {
    let mut m = vec![0u8; len];
    let n = cap.min(parent.len());
    m[..n].copy_from_slice(&parent[..n]);
    for (g, p) in grains {
        let at = *g as usize * gb;
        let end = (at + gb).min(cap);
        match p {
            Put::Data { bytes, .. } => m[at..end].copy_from_slice(&bytes[..end - at]),
            _ => m[at..end].fill(0),
        }
    }
    m
}

fn grains_strategy(n: u64, gb: usize, types: bool) -> impl Strategy<Value = Vec<(u64, Put)>> {
    proptest::collection::btree_map(0..n, (0u8..4, any::<u64>()), 0..24).prop_map(move |m| {
        m.into_iter()
            .enumerate()
            .map(|(i, (g, (t, seed)))| {
                let p = match t {
                    1 if types => Put::Zero,
                    2 if types => Put::Unmapped,
                    _ => Put::Data {
                        // Distinct slots, out of guest order, some past
                        // 4095 (the entry's high part).
                        slot: if i % 5 == 4 {
                            4096 + i as u64
                        } else {
                            23 - i as u64
                        },
                        bytes: fixtures::tree::bytes(seed, gb),
                    },
                };
                (g, p)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any COWD extent the builder makes reads as its model over a parent,
    /// whatever the reads' offsets and lengths.
    #[test]
    fn cowd_reads_as_its_model(
        (grain, cap, grains) in prop_oneof![
            Just(1u32), Just(2), Just(8)
        ].prop_flat_map(|grain| (1u32..20_000).prop_flat_map(move |cap| {
            let gb = grain as usize * 512;
            let n = u64::from(cap).div_ceil(u64::from(grain));
            (Just(grain), Just(cap), grains_strategy(n, gb, false))
        })),
        extra in 0usize..3000,
        short in 0usize..3000,
        reads in proptest::collection::vec((0.0f64..1.0, 0usize..40_000), 8),
    ) {
        let gb = grain as usize * 512;
        let data: Vec<(u64, Vec<u8>)> = grains.iter().map(|(g, p)| match p {
            Put::Data { bytes, .. } => (*g, bytes.clone()),
            _ => unreachable!(),
        }).collect();
        let f = fixtures::esx_delta::cowd_extent(cap, grain, &data);
        let cap = cap as usize * 512;
        let parent = fixtures::tree::bytes(u64::from(grain) ^ cap as u64, cap.saturating_sub(short));
        let len = cap + extra;
        let want = model(&parent, cap, len, gb, &grains);
        let (ext, problems) = vmdk::CowdExtent::open(mem("p-delta.vmdk", f)).unwrap();
        prop_assert!(problems.is_empty(), "{:?}", problems);
        prop_assert_eq!(ext.allocated().unwrap(), (grains.len() * gb) as u64);
        let disk = ext.placed(len as u64, Some(mem("parent", parent)), 0, "d".into());
        for (at, n) in reads {
            let at = (at * len as f64) as usize;
            let n = n.min(len - at);
            let mut b = vec![0xEEu8; n];
            recover_core::io::Volume::read_at(&disk, at as u64, &mut b).unwrap();
            prop_assert!(b == want[at..at + n], "read of {} at {:#x}", n, at);
        }
    }

    /// Any SESPARSE extent the builder makes (ESXi's grain and table
    /// sizes, and small ones that make many tables) reads as its model.
    #[test]
    fn sesparse_reads_as_its_model(
        ((grain, table), cap, grains) in prop_oneof![
            Just((8u64, 64u64)), Just((1, 1)), Just((2, 4))
        ].prop_flat_map(|(grain, table)| (1u64..40_000).prop_flat_map(move |cap| {
            let gb = grain as usize * 512;
            (Just((grain, table)), Just(cap), grains_strategy(cap.div_ceil(grain), gb, true))
        })),
        extra in 0usize..5000,
        reads in proptest::collection::vec((0.0f64..1.0, 0usize..60_000), 8),
    ) {
        let gb = grain as usize * 512;
        let f = fixtures::esx_delta::sesparse_extent(cap, grain, table, &grains);
        let cap = cap as usize * 512;
        let parent = fixtures::tree::bytes(grain ^ cap as u64, cap);
        let len = cap + extra;
        let want = model(&parent, cap, len, gb, &grains);
        let (ext, problems) = vmdk::SeSparseExtent::open(mem("p-sesparse.vmdk", f)).unwrap();
        let odd = usize::from((grain, table) != (8, 64));
        prop_assert_eq!(problems.len(), odd, "{:?}", problems);
        let data = grains.iter().filter(|(_, p)| matches!(p, Put::Data { .. })).count();
        prop_assert_eq!(ext.allocated().unwrap(), (data * gb) as u64);
        let disk = ext.placed(len as u64, Some(mem("parent", parent)), 0, "d".into());
        for (at, n) in reads {
            let at = (at * len as f64) as usize;
            let n = n.min(len - at);
            let mut b = vec![0xEEu8; n];
            recover_core::io::Volume::read_at(&disk, at as u64, &mut b).unwrap();
            prop_assert!(b == want[at..at + n], "read of {} at {:#x}", n, at);
        }
    }
}

/// With ranges of a sparse extent file reported unreadable, the disk
/// reports exactly the guest bytes qemu-img's map stores there, and for
/// a stream-optimized extent the whole grains whose marker and stream
/// reading them fetches from there.
#[test]
fn sparse_grains_carry_the_files_origins() {
    use common::{assert_unreadable, compressed_in, guest_in, merged, qemu_map, Probe};
    for v in VMDK_VARIANTS
        .iter()
        .filter(|v| ["monolithicSparse", "streamOptimized"].contains(&v.name))
    {
        let Some((img, _)) = vmdk_image(v) else {
            return;
        };
        let map = qemu_map(&img, "vmdk");
        let f = file(&img);
        let (a, b) = (f.len() / 3, f.len() / 3 * 2 + 12345);
        let bad = vec![a..a + 300_001, b..b + 1];
        let probe = Probe::new(f, bad.clone());
        let disk = vmdk::open(probe.clone(), &Chain::default()).unwrap().disk;
        let mut want = guest_in(&map, 0, &bad);
        want.extend(compressed_in(disk.as_ref(), &probe, &map, 64 << 10, &bad));
        assert_unreadable(v.name, disk.as_ref(), &merged(want));
    }
}

/// An ESXi delta over a parent that is missing: the grains it holds carry
/// its file's origins (exactly the bytes reading it fetches from a bad
/// range), every other grain is missing, and the grains it zeroes are
/// neither.
#[test]
fn esx_delta_grains_carry_the_files_origins_the_rest_the_parents() {
    use common::{merged, read_from, Probe};
    use recover_core::io::{Origin, Zeros};
    use vmdk::{CowdExtent, SeSparseExtent};
    for v in ESX_DELTA_VARIANTS
        .iter()
        .filter(|v| ["cowd-grain8-sparse", "sesparse-sparse"].contains(&v.name))
    {
        let Some(d) = esx_delta(v) else {
            return;
        };
        let gb = grain_bytes(v.kind);
        let size = fixtures::esx_delta::SIZE;
        let plan = plan(v.kind);
        let open = |f: VolumeRef| -> VolumeRef {
            let parent: VolumeRef = Arc::new(Zeros::missing(size, "parent".into()));
            match v.kind {
                DeltaKind::Cowd(_) => {
                    let (x, _) = CowdExtent::open(f).unwrap();
                    Arc::new(x.placed(size, Some(parent), 0, "d".into()))
                }
                DeltaKind::SeSparse => {
                    let (x, _) = SeSparseExtent::open(f).unwrap();
                    Arc::new(x.placed(size, Some(parent), 0, "d".into()))
                }
            }
        };
        // The bad range: from inside the first data grain's stored bytes
        // to just past them, as reading it finds them.
        let first = plan
            .iter()
            .find(|(_, p)| matches!(p, Put::Data { .. }))
            .unwrap()
            .0;
        let probe = Probe::new(file(&d.extent), Vec::new());
        let mut b = vec![0u8; gb as usize];
        open(probe.clone()).read_at(first * gb, &mut b).unwrap();
        let r = probe
            .take_reads()
            .into_iter()
            .find(|r| r.end - r.start == gb)
            .unwrap();
        let bad = std::iter::once(r.start + 100..r.end + 5).collect::<Vec<_>>();
        let probe = Probe::new(file(&d.extent), bad.clone());
        let disk = open(probe.clone());
        let want = read_from(disk.as_ref(), &probe, gb, &bad);
        assert!(!want.is_empty(), "{}", v.name);
        let o = disk.origins(0, size);
        assert_eq!(o.of(Origin::Unreadable), want, "{}", v.name);
        let held = merged(plan.iter().map(|(g, _)| g * gb..(g + 1) * gb).collect());
        let mut parent = Vec::new();
        let mut at = 0;
        for h in held.iter().chain([&(size..size)]) {
            if at < h.start {
                parent.push(at..h.start);
            }
            at = h.end;
        }
        assert_eq!(o.of(Origin::Missing), parent, "{}", v.name);
        assert!(o.of(Origin::Parity).is_empty() && o.of(Origin::Mirror).is_empty());
    }
}

/// The ranges `qemu-img map` calls `"data": false` in `file` (read as
/// `format`), within `from..from + len` of it, moved to start at `to`.
fn qemu_no_data(
    file: &Path,
    format: &str,
    from: u64,
    len: u64,
    to: u64,
) -> Vec<std::ops::Range<u64>> {
    let out = std::process::Command::new("qemu-img")
        .args(["map", "--output=json", "-f", format])
        .arg(file)
        .output()
        .expect("qemu-img");
    let map: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut r = Vec::new();
    for e in map.as_array().unwrap() {
        if e["data"] == true {
            continue;
        }
        let (s, n) = (e["start"].as_u64().unwrap(), e["length"].as_u64().unwrap());
        let (s, e) = (s.max(from), (s + n).min(from + len));
        if s < e {
            r.push(s - from + to..e - from + to);
        }
    }
    r
}

/// The holes a VMDK disk reports (`Volume::hole_at`: grains its tables
/// leave out, zero grains, and the holes of a sparse host file under a
/// flat extent) are the ranges `qemu-img map` calls `"data": false`,
/// for every subformat, and read as zeros. qemu's VMDK driver calls a
/// flat extent all data, whatever its host file holds, so a flat
/// extent's holes are what `qemu-img map -f raw` finds in its file.
#[test]
fn holes_are_what_qemu_img_map_calls_no_data() {
    use std::ops::Range;
    for v in VMDK_VARIANTS {
        let Some((img, _)) = vmdk_image(v) else {
            return;
        };
        let mut holes = qemu_no_data(&img, "vmdk", 0, u64::MAX / 2, 0);
        // Descriptor extent lines: `RW <sectors> FLAT|VMFS "<file>" [offset]`.
        let text = String::from_utf8_lossy(&std::fs::read(&img).unwrap()).into_owned();
        let mut at = 0u64;
        for line in text.lines().filter(|l| l.starts_with("RW ")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let sectors: u64 = f[1].parse().unwrap();
            if f[2] == "FLAT" || f[2] == "VMFS" {
                let name = f[3].trim_matches('"');
                let off: u64 = f.get(4).map_or(0, |o| o.parse().unwrap());
                let host = img.parent().unwrap().join(name);
                holes.extend(qemu_no_data(&host, "raw", off * 512, sectors * 512, at));
            }
            at += sectors * 512;
        }
        holes.sort_by_key(|r| r.start);
        let mut want: Vec<Range<u64>> = Vec::new();
        for h in holes {
            match want.last_mut() {
                Some(l) if l.end >= h.start => l.end = l.end.max(h.end),
                _ => want.push(h),
            }
        }
        let (_, disk, _) = detected(&img);
        let disk = disk.unwrap();
        let mut got: Vec<Range<u64>> = Vec::new();
        let mut pos = 0u64;
        while pos < disk.len() {
            let h = disk.hole_at(pos);
            if h == 0 {
                pos += 4096;
                continue;
            }
            let mut z = vec![1u8; h.min(1 << 20) as usize];
            disk.read_at(pos, &mut z).unwrap();
            assert!(
                z.iter().all(|&b| b == 0),
                "{}: hole at {pos:#x} reads data",
                v.name
            );
            match got.last_mut() {
                Some(l) if l.end == pos => l.end = pos + h,
                _ => got.push(pos..pos + h),
            }
            pos += h;
        }
        assert_eq!(got, want, "{}: holes", v.name);
    }
}
