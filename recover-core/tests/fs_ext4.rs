//! ext2/3/4 read through the FileSystem trait, against the tree mke2fs -d
//! was given: every file's bytes (SHA-256), sizes, kinds, link targets and
//! mtimes, in every variant (block maps, extents, 1 KiB blocks, inline
//! data, meta_bg, with and without metadata_csum).

mod common;

use common::{assert_same_tree, open_fs, read_tree};
use fixtures::ext_image::{ext_image, EXT_VARIANTS};
use fixtures::tree::{manifest, source_tree};

#[test]
fn every_variant_reads_back_the_tree() {
    let want = manifest(&source_tree());
    for v in EXT_VARIANTS {
        let Some(img) = ext_image(v) else { return };
        let fs = open_fs(&img, v.fs_type);
        let (mut got, errors) = read_tree(&fs);
        // mke2fs makes lost+found; the tree has none.
        let lf = got.iter().position(|e| e.path == "lost+found");
        assert!(lf.is_some(), "{}: no lost+found", v.name);
        got.retain(|e| e.path != "lost+found");
        assert!(errors.is_empty(), "{}: {errors:?}", v.name);
        assert_same_tree(v.name, &got, &want, true, false);
        assert!(fs.problems().is_empty(), "{}: {:?}", v.name, fs.problems());
        eprintln!("{}: {} entries match", v.name, got.len());
    }
}

use std::sync::Arc;

use recover_core::fs::ext4::Ext4;
use recover_core::fs::{lookup, FileKind, FileSystem};
use recover_core::io::{MemVolume, VolumeRef};

fn stat_flags(fs: &dyn FileSystem, path: &str) -> Vec<&'static str> {
    fs.stat(lookup(fs, path).unwrap()).unwrap().flags
}

#[test]
fn htree_and_inline_directories_are_there_and_read() {
    let by = |n: &str| EXT_VARIANTS.iter().find(|v| v.name == n).unwrap();
    let Some(img) = ext_image(by("ext4-htree")) else {
        return;
    };
    let fs = open_fs(&img, "ext4");
    assert!(stat_flags(fs.as_ref(), "/many").contains(&"indexed"));
    assert_eq!(
        fs.read_dir(lookup(fs.as_ref(), "/many").unwrap())
            .unwrap()
            .len(),
        fixtures::tree::MANY
    );
    let Some(img) = ext_image(by("ext4-inline")) else {
        return;
    };
    let fs = open_fs(&img, "ext4");
    assert!(stat_flags(fs.as_ref(), "/names/Ελληνικά").contains(&"inline"));
    assert!(stat_flags(fs.as_ref(), "/sizes/len-1-0").contains(&"inline"));
    let Some(img) = ext_image(by("ext4")) else {
        return;
    };
    let fs = open_fs(&img, "ext4");
    assert!(stat_flags(fs.as_ref(), "/sparse.img").contains(&"sparse"));
}

#[test]
fn symlinks_in_blocks_fifos_and_devices() {
    let Some(img) = fixtures::ext_image::ext_links_image() else {
        return;
    };
    let fs = open_fs(&img, "ext4");
    let id = |p| lookup(fs.as_ref(), p).unwrap();
    assert_eq!(
        fs.read_link(id("/long-link")).unwrap(),
        fixtures::ext_image::LONG_TARGET.as_bytes()
    );
    assert_eq!(fs.read_link(id("/short-link")).unwrap(), b"short");
    assert_eq!(fs.stat(id("/fifo")).unwrap().kind(), FileKind::Fifo);
    assert!(fs.open(id("/fifo")).is_err());
    if let Ok(n) = lookup(fs.as_ref(), "/null") {
        assert_eq!(fs.stat(n).unwrap().kind(), FileKind::CharDevice);
    }
    assert!(fs.read_link(id("/fifo")).is_err());
}

/// The default ext4 image in memory, to damage.
fn damaged(edit: impl FnOnce(&Ext4, &mut Vec<u8>)) -> Option<Ext4> {
    let img = ext_image(EXT_VARIANTS.iter().find(|v| v.name == "ext4").unwrap())?;
    let mut bytes = std::fs::read(img).unwrap();
    let clean: VolumeRef = Arc::new(MemVolume::new("clean", bytes.clone()));
    let fs = Ext4::open(clean).unwrap();
    edit(&fs, &mut bytes);
    Some(Ext4::open(Arc::new(MemVolume::new("damaged", bytes))).unwrap())
}

fn inode_at(fs: &Ext4, path: &str) -> usize {
    fs.inode_location(lookup(fs, path).unwrap()).unwrap() as usize
}

#[test]
fn a_corrupt_extent_tree_fails_that_file_only() {
    let Some(fs) = damaged(|fs, b| {
        let at = inode_at(fs, "/deep/level-00/file-3.dat");
        b[at + 0x28] ^= 0xFF; // the extent header's magic
    }) else {
        return;
    };
    let bad = lookup(&fs, "/deep/level-00/file-3.dat").unwrap();
    let e = fs.open(bad).unwrap_err().to_string();
    assert!(
        e.contains("ext4 extent header") && e.contains("magic") && e.contains("damaged: "),
        "{e}"
    );
    // The inode checksum no longer matches: reported, not fatal.
    assert!(fs
        .problems()
        .iter()
        .any(|p| p.structure == "ext4 inode" && p.detail.contains("checksum")));
    let (got, errors) = read_tree(&(Arc::new(fs) as _));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("deep/level-00/file-3.dat: "));
    assert!(got.len() > 2600);
}

#[test]
fn an_extent_past_the_end_is_an_error_naming_the_file() {
    let Some(fs) = damaged(|fs, b| {
        let at = inode_at(fs, "/large.bin");
        // The first leaf entry's ee_start_lo, in the inode's i_block.
        b[at + 0x28 + 12 + 8..at + 0x28 + 12 + 12].copy_from_slice(&0x00FF_FFF0u32.to_le_bytes());
    }) else {
        return;
    };
    let e = fs
        .open(lookup(&fs, "/large.bin").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ext4 extent") && e.contains("outside the filesystem") && e.contains("inode"),
        "{e}"
    );
    assert!(fs.open(lookup(&fs, "/empty").unwrap()).is_ok());
}

#[test]
fn a_broken_directory_block_keeps_the_entries_before_it() {
    let Some(fs) = damaged(|_, b| {
        // The entry of "entry-00010-..." in /many: its rec_len becomes 3.
        let name = b"entry-00010-with-a-longer-name-to-fill-blocks.txt";
        let at = b.windows(name.len()).position(|w| w == name).unwrap();
        b[at - 4..at - 2].copy_from_slice(&3u16.to_le_bytes());
    }) else {
        return;
    };
    let many = fs.read_dir(lookup(&fs, "/many").unwrap()).unwrap();
    // Entries 0..=9 of the first block, and every later block.
    assert!(many.iter().any(|e| e.name.starts_with(b"entry-00009")));
    assert!(!many.iter().any(|e| e.name.starts_with(b"entry-00010")));
    assert!(many.iter().any(|e| e.name.starts_with(b"entry-02499")));
    let p = fs.problems();
    assert!(
        p.iter()
            .any(|p| p.structure == "ext4 directory block" && p.detail.contains("entry length")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.structure == "ext4 directory block" && p.detail.contains("checksum")),
        "{p:?}"
    );
}

#[test]
fn a_directory_loop_is_entered_once() {
    let Some(fs) = damaged(|fs, b| {
        // level-05's entry for level-06 now names level-00: a cycle.
        let target = lookup(fs, "/deep/level-00").unwrap() as u32;
        let name = b"level-06";
        let at = b.windows(name.len()).position(|w| w == name).unwrap();
        b[at - 8..at - 4].copy_from_slice(&target.to_le_bytes());
    }) else {
        return;
    };
    let fs: recover_core::fs::FileSystemRef = Arc::new(fs);
    let (got, errors) = read_tree(&fs);
    assert!(
        errors.iter().any(|e| e.contains("reached twice")),
        "{errors:?}"
    );
    assert!(got
        .iter()
        .any(|e| e.path == "many/entry-02499-with-a-longer-name-to-fill-blocks.txt"));
}
