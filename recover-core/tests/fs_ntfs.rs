//! NTFS read through the FileSystem trait, against the tree ntfs-3g
//! wrote: every file's bytes (SHA-256), sizes, kinds, link targets and
//! mtimes; LZNT1-compressed files; an alternate data stream.

mod common;

use common::{assert_same_tree, open_fs, read_tree};
use fixtures::ntfs_image::{compressible, many_stream, ntfs_image, MANY_STREAMS, STREAM};
use fixtures::tree::{bytes, manifest, sha256, source_tree};
use std::sync::Arc;

use recover_core::fs::ntfs::Ntfs;
use recover_core::fs::{lookup, FileSystem};
use recover_core::io::MemVolume;

fn read_all(fs: &dyn FileSystem, path: &str) -> Vec<u8> {
    let v = fs.open(lookup(fs, path).unwrap()).unwrap();
    let mut b = vec![0u8; v.len() as usize];
    v.read_at(0, &mut b).unwrap();
    b
}

#[test]
fn the_tree_reads_back() {
    let Some(img) = ntfs_image() else { return };
    let fs = open_fs(&img, "ntfs");
    let (got, errors) = read_tree(&fs);
    assert!(errors.is_empty(), "{errors:?}");
    let extra = [
        "compressed",
        "compressed/text.txt",
        "compressed/random.bin",
        "compressed/mixed.bin",
        "ads.txt",
        "many-streams.txt",
    ];
    let got: Vec<_> = got
        .into_iter()
        .filter(|e| !extra.contains(&e.path.as_str()))
        .collect();
    assert_same_tree("ntfs", &got, &manifest(&source_tree()), true, true);
    assert!(fs.problems().is_empty(), "{:?}", fs.problems());
}

#[test]
fn compressed_files_and_streams() {
    let Some(img) = ntfs_image() else { return };
    let fs = open_fs(&img, "ntfs");
    let fs = fs.as_ref();
    let text = lookup(fs, "/compressed/text.txt").unwrap();
    let st = fs.stat(text).unwrap();
    assert!(st.flags.contains(&"compressed"), "{:?}", st.flags);
    assert!(st.allocated.unwrap() < st.size / 4, "{st:?}");
    assert_eq!(
        sha256(&read_all(fs, "/compressed/text.txt")),
        sha256(&compressible())
    );
    assert_eq!(
        sha256(&read_all(fs, "/compressed/random.bin")),
        sha256(&bytes(77, 150_000))
    );
    let mut mixed = compressible();
    mixed.extend(vec![0u8; 200_000]);
    mixed.extend(bytes(78, 70_000));
    assert_eq!(
        sha256(&read_all(fs, "/compressed/mixed.bin")),
        sha256(&mixed)
    );
    let ads = lookup(fs, "/ads.txt").unwrap();
    let st = fs.stat(ads).unwrap();
    assert_eq!(st.streams, [(STREAM.0.to_string(), STREAM.1.len() as u64)]);
    let v = fs.open_stream(ads, STREAM.0).unwrap();
    let mut b = vec![0u8; v.len() as usize];
    v.read_at(0, &mut b).unwrap();
    assert_eq!(b, STREAM.1);
    assert_eq!(read_all(fs, "/ads.txt"), b"the main stream\n");
}

#[test]
fn an_attribute_list_gathers_streams_from_extension_records() {
    let Some(img) = ntfs_image() else { return };
    let fs = open_fs(&img, "ntfs");
    let fs = fs.as_ref();
    let id = lookup(fs, "/many-streams.txt").unwrap();
    let st = fs.stat(id).unwrap();
    assert_eq!(st.streams.len(), MANY_STREAMS);
    for i in 0..MANY_STREAMS {
        let v = fs.open_stream(id, &format!("s{i:03}")).unwrap();
        let mut b = vec![0u8; v.len() as usize];
        v.read_at(0, &mut b).unwrap();
        assert_eq!(b, many_stream(i), "stream {i}");
    }
    assert_eq!(read_all(fs, "/many-streams.txt"), b"main\n");
}

fn damaged(edit: impl FnOnce(&Ntfs, &mut Vec<u8>)) -> Option<Ntfs> {
    let img = ntfs_image()?;
    let mut bytes = std::fs::read(img).unwrap();
    let fs = Ntfs::open(Arc::new(MemVolume::new("clean", bytes.clone()))).unwrap();
    edit(&fs, &mut bytes);
    Some(Ntfs::open(Arc::new(MemVolume::new("damaged", bytes))).unwrap())
}

#[test]
fn a_torn_record_fails_that_file_only() {
    let Some(fs) = damaged(|fs, b| {
        let r = lookup(fs, "/deep/level-00/file-3.dat").unwrap();
        let at = fs.record_location(r).unwrap() as usize;
        b[at + 510] ^= 0xFF; // the first sector's update sequence number
    }) else {
        return;
    };
    let e = fs
        .stat(lookup(&fs, "/deep/level-00/file-3.dat").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("NTFS MFT record")
            && e.contains("update sequence")
            && e.starts_with("damaged: "),
        "{e}"
    );
    let fs: recover_core::fs::FileSystemRef = Arc::new(fs);
    let (got, errors) = read_tree(&fs);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(got.len() > 2600);
}

#[test]
fn a_damaged_mft_record_0_is_read_from_the_mirror() {
    let Some(fs) = damaged(|fs, b| {
        let at = fs.record_location(0).unwrap() as usize;
        b[at..at + 4].copy_from_slice(b"BAAD");
    }) else {
        return;
    };
    assert!(
        fs.problems().iter().any(|p| p.detail.contains("$MFTMirr")),
        "{:?}",
        fs.problems()
    );
    assert_eq!(
        sha256(&read_all(&fs, "/large.bin")),
        fixtures::tree::sha256_file(&source_tree().join("large.bin"))
    );
}

#[test]
fn a_broken_index_block_loses_its_entries_only() {
    let Some(fs) = damaged(|_, b| {
        // The INDX block holding entry-01000's name.
        let name: Vec<u8> = "entry-01000-with"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        // Its first copy inside an INDX block (the file's own MFT record
        // holds the name too).
        let start = (0..b.len() - name.len())
            .filter(|&i| b[i..i + name.len()] == name[..])
            .find_map(|i| {
                (0..8)
                    .map(|k| i - i % 512 - k * 512)
                    .find(|&o| &b[o..o + 4] == b"INDX")
            })
            .unwrap();
        b[start..start + 4].copy_from_slice(b"XXXX");
    }) else {
        return;
    };
    let many = fs.read_dir(lookup(&fs, "/many").unwrap()).unwrap();
    assert!(
        many.len() < fixtures::tree::MANY && many.len() > fixtures::tree::MANY / 2,
        "{}",
        many.len()
    );
    assert!(
        fs.problems()
            .iter()
            .any(|p| p.structure == "NTFS index block" && p.detail.contains("INDX")),
        "{:?}",
        fs.problems()
    );
}
