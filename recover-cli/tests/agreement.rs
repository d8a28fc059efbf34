//! `scan` and `ls` agree: a filesystem `scan` shows as healthy (exit 0)
//! opens and lists in `ls`, and one `ls` rejects is damage in `scan`
//! (exit 1). Superblocks are mutated field by field with their checksums
//! made right again, so the readers go past the checksum to the field.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fixtures::FsKind;
use proptest::prelude::*;
use recover_core::checksum::{crc32c, crc32c_raw};

fn scratch(name: &str) -> PathBuf {
    let d = fixtures::cache_dir().join("agreement");
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("{name}-{}", std::process::id()))
}

/// A copy of `src` at `dst` with `edit` applied to the `len` bytes at `at`.
fn mutant(src: &Path, dst: &Path, at: u64, len: usize, edit: impl FnOnce(&mut [u8])) {
    std::fs::copy(src, dst).unwrap();
    let mut b = fixtures::disk::peek(dst, at, len);
    edit(&mut b);
    fixtures::disk::patch(dst, at, &b);
}

/// ext4's superblock checksum: the raw CRC-32C register over the first
/// 0x3FC bytes, stored at 0x3FC (when metadata_csum is on).
fn ext4_resign(sb: &mut [u8]) {
    let c = crc32c_raw(!0, &sb[..0x3FC]);
    sb[0x3FC..0x400].copy_from_slice(&c.to_le_bytes());
}

/// XFS v5's superblock CRC: CRC-32C of the sector with sb_crc (224)
/// zeroed, stored little-endian.
fn xfs_resign(sb: &mut [u8]) {
    sb[224..228].fill(0);
    let c = crc32c(sb);
    sb[224..228].copy_from_slice(&c.to_le_bytes());
}

/// (scan's exit code, ls's exit code, scan's stderr) for a whole-disk image.
fn scan_and_ls(img: &Path, fs: &str) -> (i32, i32, String) {
    let s = recover(["scan", img.to_str().unwrap()]);
    let l = recover(["ls", img.to_str().unwrap(), "--at", &format!("d0/{fs}")]);
    (s.code, l.code, format!("{}{}", s.stdout, l.stderr))
}

#[test]
fn ext4_superblocks_ls_rejects_are_damage_in_scan() {
    let base = fixtures::whole_disk(FsKind::Ext4, 16);
    let (s, l, out) = scan_and_ls(&base, "ext4");
    assert_eq!((s, l), (0, 0), "the unmutated image:\n{out}");
    // (field, offset in the superblock, bytes)
    let cases: [(&str, usize, Vec<u8>); 3] = [
        ("s_inode_size 0", 0x58, 0u16.to_le_bytes().to_vec()),
        (
            "s_first_data_block 0xFFFFFFFF",
            0x14,
            u32::MAX.to_le_bytes().to_vec(),
        ),
        ("s_inodes_count 0", 0x00, 0u32.to_le_bytes().to_vec()),
    ];
    for (name, off, bytes) in cases {
        let img = scratch("ext4-mutant");
        mutant(&base, &img, 1024, 1024, |sb| {
            sb[off..off + bytes.len()].copy_from_slice(&bytes);
            ext4_resign(sb);
        });
        let (s, l, out) = scan_and_ls(&img, "ext4");
        assert_eq!(l, 1, "{name}: ls\n{out}");
        assert_eq!(s, 1, "{name}: scan says healthy what ls rejects\n{out}");
        let _ = std::fs::remove_file(&img);
    }
}

#[test]
fn xfs_root_inode_outside_the_filesystem_is_damage_in_scan() {
    if !fixtures::tools::have("mkfs.xfs") {
        eprintln!("SKIPPED: no mkfs.xfs");
        return;
    }
    let base = fixtures::whole_disk(FsKind::Xfs, 300);
    let (s, l, out) = scan_and_ls(&base, "xfs");
    assert_eq!((s, l), (0, 0), "the unmutated image:\n{out}");
    for rootino in [u64::MAX >> 8, 1 << 40, 0] {
        let img = scratch("xfs-mutant");
        mutant(&base, &img, 0, 512, |sb| {
            sb[56..64].copy_from_slice(&rootino.to_be_bytes());
            xfs_resign(sb);
        });
        let (s, l, out) = scan_and_ls(&img, "xfs");
        assert_eq!(l, 1, "root inode {rootino:#x}: ls\n{out}");
        assert_eq!(s, 1, "root inode {rootino:#x}: scan\n{out}");
        let _ = std::fs::remove_file(&img);
    }
}

/// An EBR whose logical partition starts at the EBR itself describes a
/// partition that holds the same EBR again: one error, no nesting.
#[test]
fn a_logical_partition_over_its_own_ebr_stops_at_once() {
    let img = scratch("ebr-self");
    let mut d = vec![0u8; 4 << 20];
    let entry = |s: &mut [u8], slot: usize, kind: u8, lba: u32, n: u32| {
        let o = 446 + 16 * slot;
        s[o + 4] = kind;
        s[o + 8..o + 12].copy_from_slice(&lba.to_le_bytes());
        s[o + 12..o + 16].copy_from_slice(&n.to_le_bytes());
    };
    // MBR: an extended partition at LBA 2048 of 4096 sectors.
    entry(&mut d[..512], 0, 0x05, 2048, 4096);
    d[510] = 0x55;
    d[511] = 0xAA;
    // Its EBR: a logical at relative LBA 0 (the EBR itself).
    let ebr = &mut d[2048 * 512..2049 * 512];
    entry(ebr, 0, 0x83, 0, 2048);
    ebr[510] = 0x55;
    ebr[511] = 0xAA;
    std::fs::write(&img, &d).unwrap();
    let r = recover(["scan", "--json", img.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let p5 = node(&doc, "d0/mbr/p5");
    assert_eq!(
        p5["children"].as_array().map_or(0, Vec::len),
        0,
        "p5 is not looked into: {p5}"
    );
    let text = doc.to_string();
    assert_eq!(
        text.matches("covers the sector of the table that describes it")
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("d0/mbr/p5/mbr"), "{text}");
    let _ = std::fs::remove_file(&img);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any one 32-bit field of the ext4 superblock set to any value (the
    /// checksum made right): scan healthy implies ls lists the root, and
    /// neither panics or hangs.
    #[test]
    fn ext4_scan_healthy_means_ls_works(field in 0usize..64, value in prop_oneof![
        Just(0u32), Just(1), Just(u32::MAX), Just(0x8000_0000), any::<u32>(), 0u32..4096,
    ]) {
        let base = fixtures::whole_disk(FsKind::Ext4, 16);
        let img = scratch(&format!("ext4-prop-{field}-{value}"));
        mutant(&base, &img, 1024, 1024, |sb| {
            sb[field * 4..field * 4 + 4].copy_from_slice(&value.to_le_bytes());
            ext4_resign(sb);
        });
        // The mutation may change what the superblock is (ext2, ext3, a
        // journal device): list whatever ext flavour scan shows, if any.
        let doc = recover(["scan", "--json", img.to_str().unwrap()]).json();
        let kind = doc["nodes"][0]["children"]
            .as_array()
            .and_then(|c| c.iter().find_map(|n| n["format"].as_str().filter(|f| f.starts_with("ext"))))
            .map(str::to_string);
        let Some(kind) = kind else {
            let _ = std::fs::remove_file(&img);
            return Ok(());
        };
        let (s, l, out) = scan_and_ls(&img, &kind);
        let _ = std::fs::remove_file(&img);
        prop_assert!(s <= 1 && l <= 1, "field {} = {:#x}: exit codes {} {}\n{}", field, value, s, l, out);
        if s == 0 {
            prop_assert_eq!(l, 0, "field {} = {:#x}: scan healthy, ls fails\n{}", field, value, out);
        }
    }
}
