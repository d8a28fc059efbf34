//! The FAT12/16/32 and exFAT readers against images written by real
//! implementations (mkfs.vfat + mtools; mkfs.exfat + exfat-fuse): every
//! path of what was copied in comes back with its kind, size, SHA-256 of
//! the contents read through `open`, and mtime; then damage made by
//! editing copies of those images fails only what it touches.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fixtures::fat_image::{exfat_image, fat_image, fat_manifest};
use fixtures::tree::{sha256, MANY};
use recover_core::fs::{lookup, walk, FileKind, FileSystem, FileSystemRef, Stat};
use recover_core::io::{open_source, MapPolicy, MemVolume, VolumeRef};
use recover_core::Severity;
use sha2::{Digest, Sha256};

fn mapped(path: &Path) -> VolumeRef {
    open_source(path, MapPolicy::Auto)
        .expect("open image")
        .volume
}

fn in_memory(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read image")
}

fn mem(bytes: Vec<u8>) -> VolumeRef {
    Arc::new(MemVolume::new("edited", bytes))
}

fn open_fs(format: &str, vol: VolumeRef) -> FileSystemRef {
    recover_core::registry::open_filesystem(format, vol)
        .expect("a reader for the format")
        .expect("the filesystem opens")
}

/// SHA-256 of a file's contents, read through `open` in 1 MiB pieces.
fn digest(fs: &dyn FileSystem, id: u64) -> recover_core::Result<String> {
    let v = fs.open(id)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < v.len() {
        let n = (v.len() - at).min(buf.len() as u64) as usize;
        v.read_at(at, &mut buf[..n])?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Everything under the root: path → (id, stat).
fn listing(fs: &dyn FileSystem) -> BTreeMap<String, (u64, Stat)> {
    let mut out = BTreeMap::new();
    let errors = std::cell::RefCell::new(Vec::new());
    walk(
        fs,
        fs.root(),
        &mut |w| {
            let path = String::from_utf8(w.path.clone()).expect("UTF-8 names");
            match &w.stat {
                Ok(s) => {
                    out.insert(path, (w.id, s.clone()));
                }
                Err(e) => errors.borrow_mut().push(format!("{path}: {e}")),
            }
        },
        &mut |p, e| {
            errors
                .borrow_mut()
                .push(format!("{}: {e}", String::from_utf8_lossy(p)))
        },
    );
    let errors = errors.into_inner();
    assert!(errors.is_empty(), "walk errors: {errors:#?}");
    out
}

/// Compares the filesystem with the manifest of what was copied in.
/// `mtime_slack`: FAT keeps 2-second steps.
fn check_tree(format: &str, fs: &dyn FileSystem, mtime_slack: i64) {
    let want = fat_manifest(format);
    let got = listing(fs);
    let want_paths: Vec<&str> = want.iter().map(|e| e.path.as_str()).collect();
    let got_paths: Vec<&str> = got.keys().map(|p| p.as_str()).collect();
    let missing: Vec<_> = want_paths
        .iter()
        .filter(|p| !got.contains_key(**p))
        .collect();
    let extra: Vec<_> = got_paths
        .iter()
        .filter(|p| !want_paths.contains(p))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{format}: missing {missing:?}, extra {extra:?}"
    );
    for e in &want {
        let (id, st) = &got[&e.path];
        assert_eq!(st.kind().as_str(), e.kind, "{format} {}: kind", e.path);
        let mt = st
            .mtime
            .unwrap_or_else(|| panic!("{format} {}: no mtime", e.path));
        assert!(
            (mt.secs - e.mtime).abs() < mtime_slack.max(1),
            "{format} {}: mtime {} vs {}",
            e.path,
            mt.secs,
            e.mtime
        );
        if e.kind == "file" {
            assert_eq!(st.size, e.size, "{format} {}: size", e.path);
            let d = digest(fs, *id).unwrap_or_else(|err| panic!("{format} {}: {err}", e.path));
            assert_eq!(d, e.digest, "{format} {}: contents", e.path);
        }
    }
    assert_eq!(fs.problems(), vec![], "{format}: problems on a clean image");
}

fn check_common(fs: &dyn FileSystem, full: bool) {
    let empty = lookup(fs, "empty").expect("empty");
    let st = fs.stat(empty).unwrap();
    assert_eq!((st.kind(), st.size), (FileKind::File, 0));
    assert_eq!(fs.open(empty).unwrap().len(), 0);
    if full {
        let many = lookup(fs, "many").expect("many/");
        assert_eq!(fs.read_dir(many).unwrap().len(), MANY);
        // Case-insensitive lookup, and the 200-character name.
        let long = format!("names/{}.txt", "long-name-".repeat(20));
        let id = lookup(fs, &long.to_uppercase()).expect("long name, any case");
        assert_eq!(digest(fs, id).unwrap(), sha256(b"long\n"));
    }
}

fn fat_tree(bits: u8) {
    let Some(img) = fat_image(bits) else { return };
    let format = format!("fat{bits}");
    // Whatever name it is asked for by, the BPB decides.
    let fs = open_fs("fat32", mapped(&img));
    assert_eq!(fs.format(), format);
    check_tree(&format, fs.as_ref(), 2);
    check_common(fs.as_ref(), bits != 12);
    let st = fs.stat(lookup(fs.as_ref(), "names").unwrap()).unwrap();
    assert_eq!(st.kind(), FileKind::Dir);
}

#[test]
fn fat12_tree_matches_the_manifest() {
    fat_tree(12);
}

#[test]
fn fat16_tree_matches_the_manifest() {
    fat_tree(16);
}

#[test]
fn fat32_tree_matches_the_manifest() {
    fat_tree(32);
}

#[test]
fn exfat_tree_matches_the_manifest() {
    let Some(img) = exfat_image() else { return };
    let fs = open_fs("exfat", mapped(&img));
    check_tree("exfat", fs.as_ref(), 1);
    check_common(fs.as_ref(), true);
    let all = listing(fs.as_ref());
    let contiguous = all
        .values()
        .filter(|(_, s)| {
            s.kind() == FileKind::File && s.size > 0 && s.flags.contains(&"nofatchain")
        })
        .count();
    assert!(contiguous > 0, "no NoFatChain file in the exFAT image");
    // And the FAT-chain path is exercised too (many/ grew cluster by
    // cluster while exfat-fuse filled it).
    let chained: Vec<&String> = all
        .iter()
        .filter(|(_, (_, s))| !s.flags.contains(&"nofatchain"))
        .map(|(p, _)| p)
        .collect();
    assert!(
        !chained.is_empty(),
        "no FAT-chained entry in the exFAT image"
    );
}

/// A FAT12/16 layout read from the BPB, for editing images in tests.
struct Layout {
    bps: u64,
    fat: u64,
    fat_len: u64,
    fats: u64,
    data: u64,
    cluster: u64,
    bits: u8,
}

fn layout(img: &[u8]) -> Layout {
    let u16at = |o: usize| u64::from(u16::from_le_bytes([img[o], img[o + 1]]));
    let u32at = |o: usize| u64::from(u32::from_le_bytes(img[o..o + 4].try_into().unwrap()));
    let bps = u16at(11);
    let fat16 = u16at(22);
    let fat_sectors = if fat16 != 0 { fat16 } else { u32at(36) };
    let fats = u64::from(img[16]);
    let root = (u16at(17) * 32).div_ceil(bps);
    let fat = u16at(14) * bps;
    Layout {
        bps,
        fat,
        fat_len: fat_sectors * bps,
        fats,
        data: fat + fats * fat_sectors * bps + root * bps,
        cluster: u64::from(img[13]) * bps,
        bits: if fat16 == 0 { 32 } else { 16 },
    }
}

impl Layout {
    fn get(&self, img: &[u8], c: u64) -> u64 {
        let o = (self.fat + c * u64::from(self.bits / 8)) as usize;
        if self.bits == 16 {
            u64::from(u16::from_le_bytes([img[o], img[o + 1]]))
        } else {
            u64::from(u32::from_le_bytes(img[o..o + 4].try_into().unwrap())) & 0x0FFF_FFFF
        }
    }

    /// Sets the entry of cluster `c` in every FAT copy.
    fn set(&self, img: &mut [u8], c: u64, v: u64) {
        for copy in 0..self.fats {
            self.set_in(img, copy, c, v);
        }
    }

    /// Sets the entry of cluster `c` in FAT copy `copy` (from 0).
    fn set_in(&self, img: &mut [u8], copy: u64, c: u64, v: u64) {
        let o = (self.fat + copy * self.fat_len + c * u64::from(self.bits / 8)) as usize;
        if self.bits == 16 {
            img[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes());
        } else {
            img[o..o + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
    }
}

fn first_cluster(img: &[u8], entry: u64) -> u64 {
    let e = entry as usize;
    let lo = u64::from(u16::from_le_bytes([img[e + 26], img[e + 27]]));
    let hi = u64::from(u16::from_le_bytes([img[e + 20], img[e + 21]]));
    (hi << 16) | lo
}

/// Every file but `skip` still reads back as the manifest says.
fn others_intact(format: &str, fs: &dyn FileSystem, skip: &str) {
    let got = listing(fs);
    for e in fat_manifest(format) {
        if e.kind != "file" || e.path == skip {
            continue;
        }
        let (id, _) = &got[&e.path];
        assert_eq!(digest(fs, *id).unwrap(), e.digest, "{}", e.path);
    }
}

#[test]
fn a_looping_fat_chain_fails_that_file_only() {
    let Some(img) = fat_image(16) else { return };
    let clean = open_fs("fat16", mapped(&img));
    let victim = "sizes/len-65537-9";
    let id = lookup(clean.as_ref(), victim).unwrap();
    let mut bytes = in_memory(&img);
    let l = layout(&bytes);
    assert!(l.bps >= 512 && l.fats == 2 && l.fat_len > 0 && l.data > 0 && l.cluster > 0);
    let c1 = first_cluster(&bytes, id);
    let c2 = l.get(&bytes, c1);
    let c3 = l.get(&bytes, c2);
    // The third cluster leads back to the first.
    l.set(&mut bytes, c3, c1);
    let fs = open_fs("fat16", mem(bytes));
    let err = fs.open(id).unwrap_err().to_string();
    assert!(
        err.contains("loops") && err.contains(&format!("cluster {c3}")),
        "{err}"
    );
    // The error points at the FAT entry at fault.
    assert!(err.contains(&format!("{:#x}", l.fat + c3 * 2)), "{err}");
    others_intact("fat16", fs.as_ref(), victim);
}

#[test]
fn a_chain_damaged_in_fat_copy_1_only_reads_through_copy_2() {
    let Some(img) = fat_image(16) else { return };
    let clean = open_fs("fat16", mapped(&img));
    let victim = "sizes/len-65537-9";
    let id = lookup(clean.as_ref(), victim).unwrap();
    let mut bytes = in_memory(&img);
    let l = layout(&bytes);
    let c1 = first_cluster(&bytes, id);
    let c2 = l.get(&bytes, c1);
    l.set_in(&mut bytes, 0, c2, c1);
    let fs = open_fs("fat16", mem(bytes));
    let want = fat_manifest("fat16")
        .into_iter()
        .find(|m| m.path == victim)
        .unwrap();
    assert_eq!(digest(fs.as_ref(), id).unwrap(), want.digest);
    let problems = fs.problems();
    assert!(
        problems.iter().any(|p| p.structure == "FAT copy 2"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.detail.contains("read through FAT copy 2")),
        "{problems:?}"
    );
}

#[test]
fn a_cluster_past_the_end_fails_that_file_only() {
    let Some(img) = fat_image(32) else { return };
    let clean = open_fs("fat32", mapped(&img));
    let victim = "sizes/len-65536-8";
    let id = lookup(clean.as_ref(), victim).unwrap();
    let mut bytes = in_memory(&img);
    let l = layout(&bytes);
    let c1 = first_cluster(&bytes, id);
    l.set(&mut bytes, c1, 0x0FFF_FF00);
    // And a file whose directory entry names a cluster past the end.
    let victim2 = "sizes/len-4097-6";
    let id2 = lookup(clean.as_ref(), victim2).unwrap() as usize;
    bytes[id2 + 20..id2 + 22].copy_from_slice(&0x0FFEu16.to_le_bytes());
    let fs = open_fs("fat32", mem(bytes));
    let err = fs.open(id).unwrap_err().to_string();
    assert!(
        err.contains("no data cluster") && err.contains(&format!("cluster {c1}")),
        "{err}"
    );
    let err = fs.open(id2 as u64).unwrap_err().to_string();
    assert!(err.contains("not a data cluster"), "{err}");
    let got = listing(fs.as_ref());
    for e in fat_manifest("fat32") {
        if e.kind == "file" && e.path != victim && e.path != victim2 {
            assert_eq!(
                digest(fs.as_ref(), got[&e.path].0).unwrap(),
                e.digest,
                "{}",
                e.path
            );
        }
    }
}

#[test]
fn an_lfn_checksum_mismatch_falls_back_to_the_short_name() {
    let Some(img) = fat_image(16) else { return };
    let clean = open_fs("fat16", mapped(&img));
    let victim = "names/with spaces and (parens).txt";
    let id = lookup(clean.as_ref(), victim).unwrap() as usize;
    let mut bytes = in_memory(&img);
    let mut e = id - 32;
    let mut n = 0;
    while bytes[e + 11] == 0x0F {
        bytes[e + 13] ^= 0x5A;
        n += 1;
        if bytes[e] & 0x40 != 0 {
            break;
        }
        e -= 32;
    }
    assert!(n >= 2, "the name has {n} long-name entries");
    let fs = open_fs("fat16", mem(bytes));
    let names = lookup(fs.as_ref(), "names").unwrap();
    let listed: Vec<String> = fs
        .read_dir(names)
        .unwrap()
        .iter()
        .map(|d| d.name_lossy())
        .collect();
    assert!(listed.contains(&"WITHSP~1.TXT".to_string()), "{listed:?}");
    assert!(!listed.iter().any(|n| n == "with spaces and (parens).txt"));
    // The other names are intact.
    assert!(
        listed.contains(&"日本語のファイル名.txt".to_string()),
        "{listed:?}"
    );
    let p = fs.problems();
    assert!(
        p.iter().any(|p| p.severity == Severity::Error
            && p.detail.contains("checksum")
            && p.offset == Some(e as u64)),
        "{p:?}"
    );
    // Its contents are still there under the short name.
    let sid = lookup(fs.as_ref(), "names/WITHSP~1.TXT").unwrap();
    let want = fat_manifest("fat16")
        .into_iter()
        .find(|m| m.path == victim)
        .unwrap();
    assert_eq!(digest(fs.as_ref(), sid).unwrap(), want.digest);
}

#[test]
fn an_exfat_entry_set_with_a_bad_checksum_is_reported() {
    let Some(img) = exfat_image() else { return };
    let clean = open_fs("exfat", mapped(&img));
    let victim = "names/Ünïcödé-façade.txt";
    let id = lookup(clean.as_ref(), victim).unwrap() as usize;
    let mut bytes = in_memory(&img);
    // One bit of the creation time flipped: the set no longer matches its
    // checksum, and the file still reads.
    bytes[id + 8] ^= 0x01;
    let fs = open_fs("exfat", mem(bytes));
    // A set not listed yet must pass its checksum.
    assert!(fs.stat(id as u64).is_err());
    let names = lookup(fs.as_ref(), "names").unwrap();
    let listed = fs.read_dir(names).unwrap();
    assert!(listed
        .iter()
        .any(|d| d.name_lossy() == "Ünïcödé-façade.txt"));
    let p = fs.problems();
    assert!(
        p.iter()
            .any(|p| p.detail.contains("SetChecksum") && p.offset == Some(id as u64 + 2)),
        "{p:?}"
    );
    others_intact("exfat", fs.as_ref(), "");
}

#[test]
fn exfat_bytes_past_valid_data_length_read_as_zeros() {
    let Some(img) = exfat_image() else { return };
    let clean = open_fs("exfat", mapped(&img));
    let path = "sizes/len-4097-6";
    let id = lookup(clean.as_ref(), path).unwrap() as usize;
    let mut whole = vec![0u8; 4097];
    clean
        .open(id as u64)
        .unwrap()
        .read_at(0, &mut whole)
        .unwrap();
    let mut bytes = in_memory(&img);
    let stream = id + 32;
    assert_eq!(bytes[stream], 0xC0);
    bytes[stream + 8..stream + 16].copy_from_slice(&1000u64.to_le_bytes());
    let count = usize::from(bytes[id + 1]) + 1;
    let sum = recover_core::fs::exfat::entry::set_checksum(&bytes[id..id + count * 32]);
    bytes[id + 2..id + 4].copy_from_slice(&sum.to_le_bytes());
    let fs = open_fs("exfat", mem(bytes));
    let v = fs.open(id as u64).unwrap();
    assert_eq!(v.len(), 4097);
    let mut got = vec![0xAAu8; 4097];
    v.read_at(0, &mut got).unwrap();
    assert_eq!(&got[..1000], &whole[..1000]);
    assert!(got[1000..].iter().all(|&b| b == 0));
    assert_eq!(fs.problems(), vec![]);
}

#[test]
fn a_looping_directory_chain_is_read_once_and_reported() {
    let Some(img) = fat_image(32) else { return };
    let clean = open_fs("fat32", mapped(&img));
    let many = lookup(clean.as_ref(), "many").unwrap();
    let mut bytes = in_memory(&img);
    let l = layout(&bytes);
    let first = first_cluster(&bytes, many);
    // The last cluster of many/ leads back to its first.
    let mut c = first;
    let mut n = 1;
    while l.get(&bytes, c) < 0x0FFF_FFF8 {
        c = l.get(&bytes, c);
        n += 1;
    }
    assert!(n > 2, "many/ has {n} clusters");
    l.set(&mut bytes, c, first);
    let fs = open_fs("fat32", mem(bytes));
    assert_eq!(fs.read_dir(many).unwrap().len(), MANY);
    let p = fs.problems();
    assert!(
        p.iter()
            .any(|p| p.detail.contains("loops") && p.offset == Some(l.fat + c * 4)),
        "{p:?}"
    );
    others_intact("fat32", fs.as_ref(), "");
}

#[test]
fn a_broken_exfat_boot_sector_is_replaced_by_its_backup() {
    let Some(img) = exfat_image() else { return };
    let mut bytes = in_memory(&img);
    // BytesPerSectorShift out of range in the main boot sector only.
    bytes[108] = 3;
    let fs = open_fs("exfat", mem(bytes.clone()));
    let p = fs.problems();
    assert!(
        p.iter()
            .any(|p| p.offset == Some(108) && p.detail.contains("backup boot sector")),
        "{p:?}"
    );
    // The main region's checksum no longer matches, but the backup's does.
    assert!(
        !p.iter().any(|p| p.structure == "exFAT boot checksum"),
        "{p:?}"
    );
    others_intact("exfat", fs.as_ref(), "");
    // A flipped byte in the boot code: the checksum says so, the files read.
    let mut bytes = in_memory(&img);
    bytes[200] ^= 0xFF;
    let fs = open_fs("exfat", mem(bytes));
    let p = fs.problems();
    assert!(
        p.iter()
            .any(|p| p.structure == "exFAT boot checksum" && p.offset == Some(11 * 512)),
        "{p:?}"
    );
}
