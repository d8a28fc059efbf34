//! The Btrfs reader against images made by the real tools: `mkfs.btrfs
//! --rootdir` and loop-mounted images filled by the kernel's Btrfs (plain,
//! compress-force with zlib, LZO and zstd, compress=zstd with xxhash64
//! checksums, compress=lzo with sha256), with a subvolume, a nested
//! subvolume, a snapshot, hard links and a preallocated file. Every entry
//! of the source tree's manifest is compared: kind, size, SHA-256 of the
//! contents, link target, mtime and mode. A damaged leaf fails only the
//! files whose items it holds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fixtures::btrfs_image::{
    btrfs_kernel, btrfs_rootdir, kernel_layout, mkfs_btrfs_available, MOUNTS,
};
use fixtures::tree::{bytes, manifest, sha256, source_tree, Entry};
use recover_core::error::Result;
use recover_core::fs::btrfs::items::{Key, INODE_ITEM};
use recover_core::fs::btrfs::reader::{split_id, Btrfs};
use recover_core::fs::filesystem::FileSystem;
use recover_core::fs::{lookup, walk, FileKind, Stat};
use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};

fn volume(p: &Path) -> VolumeRef {
    open_source(p, MapPolicy::Auto).expect("open image").volume
}

#[derive(Debug)]
struct Patched {
    base: VolumeRef,
    patches: Vec<(u64, Vec<u8>)>,
}

impl Volume for Patched {
    fn len(&self) -> u64 {
        self.base.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.base.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (at, bytes) in &self.patches {
            for (k, b) in bytes.iter().enumerate() {
                let p = at + k as u64;
                if p >= offset && p < end {
                    buf[(p - offset) as usize] = *b;
                }
            }
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "patched".into()
    }
}

fn listing(fs: &dyn FileSystem) -> (BTreeMap<String, (u64, Stat)>, Vec<String>) {
    let mut out = BTreeMap::new();
    let errors = std::cell::RefCell::new(Vec::new());
    walk(
        fs,
        fs.root(),
        &mut |w| match &w.stat {
            Ok(stat) => {
                out.insert(
                    String::from_utf8(w.path.clone()).expect("utf-8"),
                    (w.id, stat.clone()),
                );
            }
            Err(e) => errors
                .borrow_mut()
                .push(format!("{}: {e}", String::from_utf8_lossy(&w.path))),
        },
        &mut |p, e| {
            errors
                .borrow_mut()
                .push(format!("{}: {e}", String::from_utf8_lossy(p)))
        },
    );
    (out, errors.into_inner())
}

fn contents(fs: &dyn FileSystem, id: u64) -> Vec<u8> {
    let v = fs.open(id).expect("open file");
    let mut buf = vec![0u8; v.len() as usize];
    v.read_at(0, &mut buf).expect("read file");
    buf
}

/// Compares the listing under `prefix` with `want`: the same paths, kinds,
/// sizes, digests, link targets, mtimes and permission bits.
fn compare(
    fs: &dyn FileSystem,
    got: &BTreeMap<String, (u64, Stat)>,
    prefix: &str,
    want: &[Entry],
    src: &Path,
) -> usize {
    let got_paths: Vec<&str> = got.keys().filter_map(|k| k.strip_prefix(prefix)).collect();
    let want_paths: Vec<&str> = want.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(got_paths, want_paths, "the same paths under {prefix:?}");
    for e in want {
        let (id, st) = &got[&format!("{prefix}{}", e.path)];
        assert_eq!(st.kind().as_str(), e.kind, "{}", e.path);
        match e.kind {
            "file" => {
                assert_eq!(st.size, e.size, "{}", e.path);
                assert_eq!(sha256(&contents(fs, *id)), e.digest, "{}", e.path);
            }
            "symlink" => {
                let t = fs.read_link(*id).expect("read_link");
                assert_eq!(String::from_utf8(t).expect("utf-8"), e.digest, "{}", e.path);
                assert_eq!(st.size, e.size, "{}", e.path);
            }
            _ => {}
        }
        assert_eq!(
            st.mtime.expect("mtime").secs,
            e.mtime,
            "mtime of {}",
            e.path
        );
        if e.kind != "symlink" {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::symlink_metadata(src.join(&e.path)).expect("lstat");
            assert_eq!(
                st.mode.expect("mode") & 0o7777,
                m.mode() & 0o7777,
                "mode of {}",
                e.path
            );
        }
    }
    want.len()
}

fn open(img: &Path) -> Arc<dyn FileSystem> {
    recover_core::registry::open_filesystem("btrfs", volume(img))
        .expect("btrfs has a reader")
        .expect("open btrfs")
}

#[test]
fn rootdir_matches_manifest() {
    if !mkfs_btrfs_available("rootdir_matches_manifest") {
        return;
    }
    let img = btrfs_rootdir();
    let fs = open(&img);
    let (got, errors) = listing(fs.as_ref());
    assert!(errors.is_empty(), "{errors:?}");
    let n = compare(
        fs.as_ref(),
        &got,
        "",
        &manifest(&source_tree()),
        &source_tree(),
    );
    assert!(n > 2500, "{n} entries compared");
    assert_eq!(fs.problems(), vec![], "no damage on a fresh image");
    // The sparse file's holes are named, so a copy skips them.
    let id = lookup(fs.as_ref(), "sparse.img").unwrap();
    let v = fs.open(id).unwrap();
    assert_eq!(v.len(), 16 << 20);
}

#[test]
fn kernel_images_match_manifest() {
    let want = manifest(&source_tree());
    let sizes: Vec<Entry> = want
        .iter()
        .filter_map(|e| {
            let p = e.path.strip_prefix("sizes/")?;
            Some(Entry {
                path: p.to_string(),
                ..e.clone()
            })
        })
        .collect();
    for m in MOUNTS {
        let Some(img) = btrfs_kernel(m, "kernel_images_match_manifest") else {
            return;
        };
        eprintln!("{}", m.name);
        let fs = open(&img);
        let (got, errors) = listing(fs.as_ref());
        assert!(errors.is_empty(), "{}: {errors:?}", m.name);
        let src = source_tree();
        compare(fs.as_ref(), &got, "tree/", &want, &src);
        compare(fs.as_ref(), &got, "sv/sizes/", &sizes, &src.join("sizes"));
        compare(fs.as_ref(), &got, "snap/sizes/", &sizes, &src.join("sizes"));
        use kernel_layout::*;
        // The subvolume, its nested subvolume, the snapshot.
        for d in [SUBVOL, INNER, SNAPSHOT, "snap/inner"] {
            assert_eq!(got[d].1.kind(), FileKind::Dir, "{d}");
        }
        let inner = lookup(fs.as_ref(), &format!("{INNER}/file")).unwrap();
        assert_eq!(contents(fs.as_ref(), inner), INNER_FILE);
        assert!(
            fs.read_dir(got["snap/inner"].0).unwrap().is_empty(),
            "as the kernel shows it"
        );
        assert!(got.contains_key("sv/after-snapshot"));
        assert!(!got.contains_key("snap/after-snapshot"));
        let (sv_tree, _) = split_id(got[SUBVOL].0);
        let (snap_tree, _) = split_id(got[SNAPSHOT].0);
        let (inner_tree, _) = split_id(got[INNER].0);
        assert!(sv_tree >= 256 && snap_tree >= 256 && inner_tree >= 256);
        assert!(sv_tree != snap_tree && sv_tree != inner_tree);
        // Hard links: one inode, two names.
        let (a, b) = (&got[LINKS[0]], &got[LINKS[1]]);
        assert_eq!(a.0, b.0);
        assert_eq!(a.1.nlink, Some(2));
        assert_eq!(contents(fs.as_ref(), a.0), bytes(5, 5000));
        // Preallocated space reads as zeros, and is named a hole.
        let pre = fs.open(got["prealloc.bin"].0).unwrap();
        assert_eq!(pre.len(), PREALLOC);
        let mut buf = vec![1u8; PREALLOC as usize];
        pre.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf[..PREALLOC_WRITTEN], &bytes(77, PREALLOC_WRITTEN)[..]);
        assert!(buf[PREALLOC_WRITTEN..].iter().all(|&b| b == 0));
        assert_eq!(
            pre.hole_at(PREALLOC_WRITTEN as u64),
            PREALLOC - PREALLOC_WRITTEN as u64
        );
        // Compressible files (compressed where the mount asks for it).
        for (name, len) in COMPRESSIBLE {
            let (id, st) = &got[&format!("compressible/{name}")];
            assert_eq!(st.size, len as u64, "{name}");
            let want = compressible(name, len);
            let got = contents(fs.as_ref(), *id);
            assert!(got == want, "{}: compressible/{name} differs", m.name);
            // Unaligned reads across extents.
            let v = fs.open(*id).unwrap();
            for (off, n) in [(1u64, 5000usize), (131_000, 3000), (len as u64 - 7, 7)] {
                if off as usize + n > len {
                    continue;
                }
                let mut b = vec![0u8; n];
                v.read_at(off, &mut b).unwrap();
                assert_eq!(
                    &b[..],
                    &want[off as usize..off as usize + n],
                    "{name} at {off}"
                );
            }
        }
        let holey = fs.open(got["compressible/holey.txt"].0).unwrap();
        assert!(holey.hole_at(1 << 20) > 0, "{}: the hole is named", m.name);
        // The sparse file keeps its holes.
        let sp = fs.open(got["tree/sparse.img"].0).unwrap();
        assert!(sp.hole_at(4096) > 0, "{}", m.name);
        assert_eq!(
            fs.problems(),
            vec![],
            "{}: no damage on a fresh image",
            m.name
        );
    }
}

#[test]
fn a_damaged_leaf_fails_only_its_files() {
    if !mkfs_btrfs_available("a_damaged_leaf_fails_only_its_files") {
        return;
    }
    let img = btrfs_rootdir();
    let clean = Btrfs::open(volume(&img)).unwrap();
    let victim = "many/entry-01200-with-a-longer-name-to-fill-blocks.txt";
    let id = lookup(&clean, victim).unwrap();
    let (tree, ino) = split_id(id);
    let (logical, copies) = clean.leaf_of(tree, Key::new(ino, INODE_ITEM, 0)).unwrap();
    assert_eq!(copies.len(), 2, "metadata DUP");
    // Damage every copy of the leaf in its item area.
    let patches = copies
        .iter()
        .map(|&p| (p + 0x200, vec![0xA5; 16]))
        .collect();
    let fs = Btrfs::open(Arc::new(Patched {
        base: volume(&img),
        patches,
    }))
    .unwrap();
    let err = fs.stat(id).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(
        err.contains(&format!("{:#x}", copies[0])),
        "{err} names the offset"
    );
    assert!(
        err.contains(&format!("{logical:#x}")),
        "{err} names the logical address"
    );
    let (got, errors) = listing(&fs);
    assert!(!errors.is_empty());
    assert!(errors.len() < 200, "{} errors", errors.len());
    // Everything else reads.
    let want = manifest(&source_tree());
    let mut ok = 0;
    for e in &want {
        if let Some((id, st)) = got.get(&e.path) {
            if e.kind == "file" {
                match fs.open(*id).and_then(|v| {
                    let mut b = vec![0u8; v.len() as usize];
                    v.read_at(0, &mut b).map(|_| b)
                }) {
                    Ok(b) => assert_eq!(sha256(&b), e.digest, "{}", e.path),
                    Err(err) => {
                        let err = err.to_string();
                        assert!(
                            err.contains("checksum mismatch")
                                && err.contains(&format!("{logical:#x}")),
                            "{err}"
                        );
                        continue;
                    }
                }
                assert_eq!(st.size, e.size);
            }
            ok += 1;
        }
    }
    assert!(ok + 200 > want.len(), "{ok} of {} read", want.len());
    assert!(ok < want.len());
    // The other copy checks out on one damaged copy: nothing fails, the damage is reported.
    let one = vec![(copies[0] + 0x200, vec![0xA5; 16])];
    let fs = Btrfs::open(Arc::new(Patched {
        base: volume(&img),
        patches: one,
    }))
    .unwrap();
    assert!(fs.stat(id).is_ok());
    assert!(!fs.problems().is_empty());
}

#[test]
fn a_damaged_data_sector_is_reported_and_returned() {
    if !mkfs_btrfs_available("a_damaged_data_sector_is_reported_and_returned") {
        return;
    }
    let img = btrfs_rootdir();
    let clean = Btrfs::open(volume(&img)).unwrap();
    let id = lookup(&clean, "large.bin").unwrap();
    let good = contents(&clean, id);
    // Find a device offset of the file's byte 1 MiB: patch it and read.
    let mut probe = vec![0u8; 4096];
    clean
        .open(id)
        .unwrap()
        .read_at(1 << 20, &mut probe)
        .unwrap();
    let raw = std::fs::read(&img).unwrap();
    let at = raw.windows(4096).position(|w| w == &probe[..]).unwrap() as u64;
    let fs = Btrfs::open(Arc::new(Patched {
        base: volume(&img),
        patches: vec![(at + 10, vec![!probe[10]])],
    }))
    .unwrap();
    let got = contents(&fs, id);
    assert_eq!(got.len(), good.len());
    assert_eq!(
        got[(1 << 20) + 10],
        !probe[10],
        "the data is still returned"
    );
    let p = fs.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].offset, Some(at));
    assert!(p[0].detail.contains("logical"), "{p:?}");
}
