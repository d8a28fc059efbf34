//! VHDX images read as their virtual disk, against `qemu-img convert -f
//! vhdx -O raw` of the same image: the variants qemu-img makes (dynamic,
//! fixed, 1 MiB blocks, a larger log), a log left to replay, damaged
//! copies, and a differencing disk made from a qemu-img image by hand
//! (qemu-img cannot make one) read through its parent.

mod common;
use common::open_file as file;
use common::sha_volume as sha;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use fixtures::vhdx_image::{dirty_log_vhdx, small_vhdx, vhdx_image, VHDX_VARIANTS};
use recover_core::image::siblings::HostDirs;
use recover_core::image::vhdx::Vhdx;
use recover_core::image::{detect, Chain};
use recover_core::io::{MapPolicy, MemVolume, Volume, VolumeRef};
use recover_core::Severity;

fn mem(b: Vec<u8>) -> VolumeRef {
    Arc::new(MemVolume::new("damaged.vhdx", b))
}

#[test]
fn every_variant_reads_as_qemu_img_converts_it() {
    for v in VHDX_VARIANTS {
        let Some((img, want)) = vhdx_image(v) else {
            return;
        };
        let vol = file(&img);
        let (info, disk, problems) = detect(&vol, &Chain::default())
            .expect("detected")
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(info.format, "vhdx", "{}", v.name);
        assert_eq!(info.subformat, v.subformat, "{}", v.name);
        assert_eq!(info.virtual_size, fixtures::qcow2_image::SIZE, "{}", v.name);
        assert!(problems.is_empty(), "{}: {problems:?}", v.name);
        let disk = disk.unwrap();
        assert_eq!(disk.len(), fixtures::qcow2_image::SIZE, "{}", v.name);
        assert_eq!(sha(disk.as_ref()), want, "{}", v.name);
        let alloc = info.allocated.unwrap();
        assert!(alloc > 0 && alloc <= info.file_size, "{}: {alloc}", v.name);
        if v.subformat == "fixed" {
            assert_eq!(alloc, info.virtual_size, "{}", v.name);
        }
        eprintln!("{}: {alloc} allocated of {}", v.name, info.virtual_size);
    }
}

#[test]
fn a_fixed_disk_qemu_img_creates_is_fixed_and_zero() {
    let Some(img) = fixtures::vhdx_image::created_fixed_vhdx() else {
        return;
    };
    let (info, disk, problems) = detect(&file(&img), &Chain::default()).unwrap().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(info.subformat, "fixed");
    assert_eq!(info.virtual_size, 2 << 20);
    let disk = disk.unwrap();
    let mut b = vec![1u8; 2 << 20];
    disk.read_at(0, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}

#[test]
fn a_log_left_to_replay_is_replayed() {
    let Some((img, want)) = dirty_log_vhdx() else {
        return;
    };
    let (v, problems) = Vhdx::open(file(&img)).unwrap();
    assert!(v.log_replayed);
    assert!(v.header().log_pending());
    assert!(
        problems
            .iter()
            .any(|p| p.structure == "VHDX log" && p.detail.contains("replayed")),
        "{problems:?}"
    );
    assert_eq!(sha(&v), want);
    // Without the log, the written block is not there: the replay matters.
    let mut b = std::fs::read(&img).unwrap();
    for h in [0x1_0000usize, 0x2_0000] {
        b[h + 48..h + 64].fill(0);
        fix_crc(&mut b, h, 4096);
    }
    let (plain, problems) = Vhdx::open(mem(b)).unwrap();
    assert!(!plain.log_replayed && problems.is_empty(), "{problems:?}");
    let stale = sha(&plain);
    assert_ne!(stale, want);
    // A damaged log entry: said, and the image read as it stands.
    let mut b = std::fs::read(&img).unwrap();
    b[(1 << 20) + 100] ^= 1;
    let (v, problems) = Vhdx::open(mem(b)).unwrap();
    assert!(!v.log_replayed);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].severity, Severity::Error);
    assert_eq!(problems[0].structure, "VHDX log");
    assert!(
        problems[0].detail.contains("no valid sequence"),
        "{problems:?}"
    );
    assert_eq!(sha(&v), stale);
}

/// CRC-32C over `len` bytes at `at`, stored at `at + 4` as the format does.
fn fix_crc(b: &mut [u8], at: usize, len: usize) {
    b[at + 4..at + 8].fill(0);
    let c = recover_core::checksum::crc32c(&b[at..at + len]);
    b[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// (file offset of the BAT, of the metadata region) from region table 1.
fn regions(b: &[u8]) -> (usize, usize) {
    let (mut bat, mut meta) = (0, 0);
    for i in 0..le32(b, 0x3_0000 + 8) as usize {
        let e = 0x3_0000 + 16 + 32 * i;
        let off = le64(b, e + 16) as usize;
        match b[e] {
            0x66 => bat = off,
            0x06 => meta = off,
            _ => {}
        }
    }
    (bat, meta)
}

/// File offset of the metadata item whose GUID starts with `first`.
fn item(b: &[u8], first: u8) -> usize {
    let (_, meta) = regions(b);
    let n = u16::from_le_bytes([b[meta + 10], b[meta + 11]]) as usize;
    (0..n)
        .map(|i| meta + 32 + 32 * i)
        .find(|&e| b[e] == first)
        .map(|e| meta + le32(b, e + 16) as usize)
        .expect("item")
}

fn small() -> Option<(Vec<u8>, String)> {
    let (img, want) = small_vhdx()?;
    Some((std::fs::read(img).unwrap(), want))
}

fn open_err(b: Vec<u8>) -> String {
    match Vhdx::open(mem(b)) {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_current_header_falls_back_and_both_bad_is_an_error() {
    let Some((b, want)) = small() else {
        return;
    };
    let (v, problems) = Vhdx::open(mem(b.clone())).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(sha(&v), want);
    let current = if le64(&b, 0x2_0008) > le64(&b, 0x1_0008) {
        0x2_0000
    } else {
        0x1_0000
    };
    let mut one = b.clone();
    one[current + 20] ^= 1; // a GUID byte: the checksum no longer matches
    let (v, problems) = Vhdx::open(mem(one.clone())).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].structure, "VHDX header");
    assert_eq!(problems[0].offset, Some(current as u64 + 4));
    assert!(problems[0].detail.contains("checksum"), "{problems:?}");
    assert_eq!(sha(&v), want);
    let other = 0x3_0000 - current;
    one[other..other + 4].copy_from_slice(b"HEAD");
    let e = open_err(one);
    assert!(
        e.contains("VHDX header") && e.contains("neither header is valid"),
        "{e}"
    );
}

#[test]
fn region_table_checksums_are_checked() {
    let Some((b, want)) = small() else {
        return;
    };
    let mut r = b.clone();
    r[0x3_0000 + 16 + 17] ^= 0x10; // region 1's first entry's offset
    let (v, problems) = Vhdx::open(mem(r.clone())).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].structure, "VHDX region table");
    assert!(problems[0].detail.contains("copy is used"), "{problems:?}");
    assert_eq!(sha(&v), want);
    r[0x4_0000 + 16 + 17] ^= 0x10;
    let e = open_err(r);
    assert!(
        e.contains("VHDX region table at 0x30004") && e.contains("checksum"),
        "{e}"
    );
}

#[test]
fn a_block_past_the_end_is_a_problem_and_a_read_error() {
    let Some((b, _)) = small() else {
        return;
    };
    let (bat, _) = regions(&b);
    let mut d = b.clone();
    // Block 3 (fully present) moved 1 TiB on.
    let e = le64(&d, bat + 24) | (1 << 40);
    d[bat + 24..bat + 32].copy_from_slice(&e.to_le_bytes());
    let (v, problems) = Vhdx::open(mem(d)).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].severity, Severity::Error);
    assert_eq!(problems[0].offset, Some(bat as u64 + 24));
    assert!(
        problems[0].detail.contains("outside the file"),
        "{problems:?}"
    );
    let mut buf = vec![0u8; 8192];
    v.read_at((1 << 20) - 4096, &mut buf).unwrap();
    let e = v
        .read_at((3 << 20) - 4096, &mut buf)
        .unwrap_err()
        .to_string();
    assert!(e.contains("VHDX BAT") && e.contains("entry 3"), "{e}");
}

#[test]
fn truncated_copies_never_panic() {
    let Some((b, _)) = small() else {
        return;
    };
    let mut buf = vec![0u8; 300_000];
    let mut opened = 0;
    for cut in [
        0,
        7,
        0x1_0000,
        0x1_1000,
        0x3_8000,
        0x10_0000,
        0x20_0000,
        0x30_0000,
        b.len() - (1 << 20),
        b.len() - 1,
    ] {
        match Vhdx::open(mem(b[..cut].to_vec())) {
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("VHDX"), "{cut:#x}: {e}");
            }
            Ok((v, problems)) => {
                // The file ends inside a present block: said, and reads
                // there fail cleanly.
                assert!(!problems.is_empty(), "{cut:#x}");
                opened += 1;
                for at in (0..v.len()).step_by(buf.len()) {
                    let n = (v.len() - at).min(buf.len() as u64) as usize;
                    let _ = v.read_at(at, &mut buf[..n]);
                }
            }
        }
    }
    assert!(opened > 0, "no cut left the structures whole");
}

#[test]
fn absurd_metadata_is_an_error() {
    let Some((b, _)) = small() else {
        return;
    };
    let vs = item(&b, 0x24); // virtual disk size
    let mut d = b.clone();
    d[vs..vs + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = open_err(d);
    assert!(
        e.contains("VHDX metadata") && e.contains("at most 64 TiB"),
        "{e}"
    );
    let fp = item(&b, 0x37); // file parameters
    for bs in [0u32, 4096, 3 << 20, 512 << 20] {
        let mut d = b.clone();
        d[fp..fp + 4].copy_from_slice(&bs.to_le_bytes());
        let e = open_err(d);
        assert!(e.contains(&format!("block size {bs}")), "{e}");
    }
    let ls = item(&b, 0x1D); // logical sector size
    let mut d = b.clone();
    d[ls..ls + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(open_err(d).contains("logical sector size 1000"));
    // A disk as large as allowed needs a BAT larger than the region.
    let mut d = b;
    d[vs..vs + 8].copy_from_slice(&(64u64 << 40).to_le_bytes());
    let e = open_err(d);
    assert!(e.contains("VHDX BAT") && e.contains("needs"), "{e}");
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A parent locator item (MS-VHDX §2.6.2.6) with these key/value pairs.
fn locator(pairs: &[(&str, &str)]) -> Vec<u8> {
    // Locator type B04AEFB7-D19E-4A81-B789-25B8E9445913, in disk order.
    let mut b = vec![
        0xB7, 0xEF, 0x4A, 0xB0, 0x9E, 0xD1, 0x81, 0x4A, 0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59,
        0x13, 0, 0,
    ];
    b.extend_from_slice(&(pairs.len() as u16).to_le_bytes());
    let mut text = Vec::new();
    let base = 20 + 12 * pairs.len();
    for (k, v) in pairs {
        let (k, v) = (utf16(k), utf16(v));
        let ko = base + text.len();
        text.extend_from_slice(&k);
        let vo = base + text.len();
        text.extend_from_slice(&v);
        b.extend_from_slice(&(ko as u32).to_le_bytes());
        b.extend_from_slice(&(vo as u32).to_le_bytes());
        b.extend_from_slice(&(k.len() as u16).to_le_bytes());
        b.extend_from_slice(&(v.len() as u16).to_le_bytes());
    }
    b.extend_from_slice(&text);
    b
}

/// The small image turned into a differencing disk by hand: the parent
/// flag set, a parent locator naming `base.vhdx` (by Windows paths only,
/// so it is found by its last component), block 0 partially present with
/// a sector bitmap that marks most of the 64 KiB qemu-io wrote at 100 KiB
/// (sectors 200..328) and some zeros after it, block 3
/// fully present, blocks 1 and 2 not present. Returns the image and the
/// virtual disk expected over `parent`.
fn differencing(b: &[u8], parent: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut d = b.to_vec();
    let (bat, meta) = regions(&d);
    let fp = item(&d, 0x37);
    d[fp + 4..fp + 8].copy_from_slice(&2u32.to_le_bytes()); // has parent
    let loc = locator(&[
        ("parent_linkage", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"),
        ("relative_path", r"..\old\base.vhdx"),
        ("absolute_win32_path", r"C:\VMs\base.vhdx"),
    ]);
    let n = u16::from_le_bytes([d[meta + 10], d[meta + 11]]) as usize;
    let e = meta + 32 + 32 * n;
    d[e..e + 16].copy_from_slice(&[
        0x2D, 0x5F, 0xD3, 0xA8, 0x0B, 0xB3, 0x4D, 0x45, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB,
        0x0C,
    ]);
    d[e + 16..e + 20].copy_from_slice(&0x8_0000u32.to_le_bytes());
    d[e + 20..e + 24].copy_from_slice(&(loc.len() as u32).to_le_bytes());
    d[e + 24..e + 28].copy_from_slice(&4u32.to_le_bytes()); // required
    d[meta + 10..meta + 12].copy_from_slice(&(n as u16 + 1).to_le_bytes());
    d[meta + 0x8_0000..meta + 0x8_0000 + loc.len()].copy_from_slice(&loc);
    // A 1 MiB sector bitmap block appended, for chunk 0 (chunk ratio 4096
    // with 1 MiB blocks and 512-byte sectors): sectors 203..333 present,
    // edges inside bytes, so the bit order counts.
    let sb_at = d.len().next_multiple_of(1 << 20);
    d.resize(sb_at + (1 << 20), 0);
    for s in 203..333 {
        d[sb_at + s / 8] |= 1 << (s % 8);
    }
    let set = |d: &mut Vec<u8>, i: usize, e: u64| {
        d[bat + 8 * i..bat + 8 * i + 8].copy_from_slice(&e.to_le_bytes())
    };
    set(&mut d, 4096, (sb_at as u64) | 6);
    let b0 = le64(&d, bat) & !0xFFFFF;
    set(&mut d, 0, b0 | 7);
    set(&mut d, 1, 0);
    set(&mut d, 2, 0);
    let mut want = parent.to_vec();
    want[203 * 512..328 * 512].fill(0x5a);
    want[328 * 512..333 * 512].fill(0);
    want[3 << 20..4 << 20].fill(0x33);
    (d, want)
}

#[test]
fn a_differencing_disk_reads_through_its_parent() {
    let Some((b, _)) = small() else {
        return;
    };
    let dir = fixtures::cache_dir().join("vhdx-differencing");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let parent_raw: Vec<u8> = fixtures::tree::bytes(77, 4 << 20);
    let raw = dir.join("parent.raw");
    std::fs::write(&raw, &parent_raw).unwrap();
    let base = dir.join("base.vhdx");
    let ok = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "vhdx"])
        .arg(&raw)
        .arg(&base)
        .status()
        .unwrap();
    assert!(ok.success());
    let (child, want) = differencing(&b, &parent_raw);
    let child_path: PathBuf = dir.join("child.vhdx");
    std::fs::write(&child_path, &child).unwrap();

    let vol = file(&child_path);
    let chain = Chain::new(
        child_path.display().to_string(),
        Arc::new(HostDirs::for_source(
            &child_path,
            Vec::new(),
            MapPolicy::Auto,
        )),
    );
    let (info, disk, problems) = detect(&vol, &chain).unwrap().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(info.subformat, "differencing");
    assert_eq!(info.backing_file.as_deref(), Some(r"..\old\base.vhdx"));
    assert_eq!(info.backing_format.as_deref(), Some("vhdx"));
    let disk = disk.unwrap();
    let mut got = vec![0u8; 4 << 20];
    // Odd pieces, so reads straddle sectors, the bitmap's edges and blocks.
    for (k, piece) in got.chunks_mut(77_777).enumerate() {
        disk.read_at(k as u64 * 77_777, piece).unwrap();
    }
    assert!(got == want, "differencing disk differs from parent + child");

    // Without the parent: a problem, and what the child lacks reads as zeros.
    std::fs::remove_file(&base).unwrap();
    let (_, disk, problems) = detect(&vol, &chain).unwrap().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].detail.contains("parent cannot be read"),
        "{problems:?}"
    );
    assert_eq!(problems[0].severity, Severity::Error);
    let disk = disk.unwrap();
    disk.read_at(0, &mut got).unwrap();
    assert!(got[..203 * 512].iter().all(|&x| x == 0));
    assert!(got[203 * 512..328 * 512].iter().all(|&x| x == 0x5a));
    assert!(got[328 * 512..3 << 20].iter().all(|&x| x == 0));
    assert!(got[3 << 20..].iter().all(|&x| x == 0x33));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With ranges of the image file reported unreadable, the disk reports
/// exactly the guest bytes reading it fetches from there (qemu-img's map
/// gives no offsets for VHDX).
#[test]
fn blocks_carry_the_files_origins() {
    use common::{assert_unreadable, read_from, Probe};
    for v in VHDX_VARIANTS
        .iter()
        .filter(|v| ["dynamic", "1m-blocks"].contains(&v.name))
    {
        let Some((img, _)) = vhdx_image(v) else {
            return;
        };
        let f = file(&img);
        let (a, b) = (f.len() / 3, f.len() / 3 * 2 + 12345);
        let bad = vec![a..a + 300_001, b..b + 1];
        let probe = Probe::new(f, bad.clone());
        let (disk, _) = Vhdx::open(probe.clone()).unwrap();
        let want = read_from(&disk, &probe, 65536, &bad);
        assert_unreadable(v.name, &disk, &want);
    }
}
