//! The XFS reader against images made by the real tools: `mkfs.xfs -p`
//! (v5 and v4) and a loop-mounted image filled by the kernel. Every entry
//! of the source tree's manifest is looked for; kinds, sizes, SHA-256 of
//! the contents read through `open()`, symlink targets and mtimes are
//! compared. Damage tests patch bytes of an image (through an overlay) and
//! check which error comes back and that the rest still reads.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use fixtures::tree::{bytes, manifest, sha256, source_tree, Entry};
use fixtures::xfs_image::{
    kernel_layout, mkfs_xfs_available, proto_skips, small_long_target, small_tree, xfs_kernel,
    xfs_proto, xfs_small, XfsVersion,
};
use recover_core::error::{Error, Result};
use recover_core::fs::filesystem::FileSystem;
use recover_core::fs::xfs::dir::DirFormat;
use recover_core::fs::xfs::reader::Xfs;
use recover_core::fs::{lookup, walk, FileKind, Stat};
use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};

fn volume(p: &Path) -> VolumeRef {
    open_source(p, MapPolicy::Auto).expect("open image").volume
}

/// A volume with some bytes replaced: damage without copying 320 MiB.
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

fn patched(p: &Path, patches: Vec<(u64, Vec<u8>)>) -> Xfs {
    Xfs::open(Arc::new(Patched {
        base: volume(p),
        patches,
    }))
    .expect("open patched xfs")
}

/// Everything the reader finds: path → (id, stat).
fn listing(fs: &dyn FileSystem) -> BTreeMap<String, (u64, Stat)> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    walk(
        fs,
        fs.root(),
        &mut |w| {
            let stat = w.stat.as_ref().expect("stat").clone();
            out.insert(
                String::from_utf8(w.path.clone()).expect("utf-8"),
                (w.id, stat),
            );
        },
        &mut |p, e| errors.push(format!("{}: {e}", String::from_utf8_lossy(p))),
    );
    assert!(errors.is_empty(), "walk errors: {errors:?}");
    out
}

fn contents(fs: &dyn FileSystem, id: u64) -> Vec<u8> {
    let v = fs.open(id).expect("open file");
    let mut buf = vec![0u8; v.len() as usize];
    v.read_at(0, &mut buf).expect("read file");
    buf
}

enum Mtimes {
    /// As in the source tree.
    Exact,
    /// Set by mkfs when it ran: within this window (seconds since the epoch).
    Between(i64, i64),
}

/// Compares the listing under `prefix` with the manifest (entries `skip`
/// says cannot be there left out): the same paths, kinds, sizes, digests,
/// link targets and mtimes.
fn compare(
    fs: &dyn FileSystem,
    got: &BTreeMap<String, (u64, Stat)>,
    prefix: &str,
    want: &[Entry],
    skip: &dyn Fn(&str) -> bool,
    mtimes: Mtimes,
) -> usize {
    let mut n = 0;
    let want: Vec<&Entry> = want.iter().filter(|e| !skip(&e.path)).collect();
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
        let m = st.mtime.expect("mtime").secs;
        match mtimes {
            Mtimes::Exact => assert_eq!(m, e.mtime, "mtime of {}", e.path),
            Mtimes::Between(lo, hi) => {
                assert!(
                    (lo..=hi).contains(&m),
                    "mtime {m} of {} not in {lo}..={hi}",
                    e.path
                )
            }
        }
        n += 1;
    }
    n
}

fn file_mtime(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).expect("stat image").mtime()
}

fn proto_matches(version: XfsVersion, test: &str) {
    if !mkfs_xfs_available(test) {
        return;
    }
    let img = xfs_proto(version);
    let fs = recover_core::registry::open_filesystem("xfs", volume(&img))
        .expect("xfs has a reader")
        .expect("open xfs");
    let got = listing(fs.as_ref());
    let want = manifest(&source_tree());
    // mkfs -p stamps every inode with the time it ran, which is before the
    // image file was last written.
    let t = file_mtime(&img);
    let n = compare(
        fs.as_ref(),
        &got,
        "",
        &want,
        &|p| proto_skips(p),
        Mtimes::Between(t - 3600, t + 1),
    );
    assert!(n > 2500, "{n} entries compared");
    // The protofile cannot name a file with a space: that one is absent.
    assert!(want.iter().any(|e| proto_skips(&e.path)));
    assert!(!got.keys().any(|k| proto_skips(k)));
    let root = fs.stat(fs.root()).expect("stat root");
    assert_eq!(root.crtime.is_some(), version == XfsVersion::V5);
    assert_eq!(fs.problems(), vec![], "no damage on a fresh image");
    // Directory entries carry the file type on v5 (ftype=1), not on v4.
    let entries = fs.read_dir(fs.root()).expect("root");
    let known = entries.iter().all(|e| e.kind != FileKind::Unknown);
    let unknown = entries.iter().all(|e| e.kind == FileKind::Unknown);
    match version {
        XfsVersion::V5 => assert!(known),
        XfsVersion::V4 => assert!(unknown),
    }
}

#[test]
fn proto_v5_matches_manifest() {
    proto_matches(XfsVersion::V5, "proto_v5_matches_manifest");
}

#[test]
fn proto_v4_matches_manifest() {
    proto_matches(XfsVersion::V4, "proto_v4_matches_manifest");
}

#[test]
fn kernel_image_matches_manifest_with_mtimes_holes_and_unwritten() {
    let Some(img) = xfs_kernel("kernel_image_matches_manifest") else {
        return;
    };
    let fs = Xfs::open(volume(&img)).expect("open xfs");
    let got = listing(&fs);
    let want = manifest(&source_tree());
    // cp -a keeps mtimes; every name of the tree is there, spaces included.
    let n = compare(&fs, &got, "tree/", &want, &|_| false, Mtimes::Exact);
    assert_eq!(n, want.len());
    let st = |p: &str| got[p].1.clone();
    assert!(st("tree/sparse.img").flags.contains(&"sparse"));
    assert!(
        st("tree/sparse.img").allocated.expect("allocated") < 1 << 20,
        "holes are not allocated"
    );
    // prealloc.bin: written head, unwritten rest reads as zeros.
    let pre = st("prealloc.bin");
    assert_eq!(pre.size, kernel_layout::PREALLOC);
    assert!(pre.flags.contains(&"unwritten"), "{:?}", pre.flags);
    let mut want_pre = bytes(77, kernel_layout::PREALLOC_WRITTEN);
    want_pre.resize(kernel_layout::PREALLOC as usize, 0);
    assert_eq!(contents(&fs, got["prealloc.bin"].0), want_pre);
    // A remote symlink block as the kernel writes it (with its v5 header).
    let ll = got["longlink"].0;
    assert_eq!(fs.inode(ll).expect("inode").format, 2);
    assert_eq!(
        fs.read_link(ll).expect("link"),
        small_long_target().as_bytes()
    );
    // leaf/ and btree/ hold exactly the names written, with their contents.
    let names = |d: &str| -> Vec<String> {
        got.keys()
            .filter_map(|k| k.strip_prefix(d))
            .map(String::from)
            .collect()
    };
    let mut want_leaf: Vec<String> = (0..kernel_layout::LEAF_ENTRIES)
        .map(kernel_layout::leaf_name)
        .collect();
    want_leaf.sort();
    assert_eq!(names("leaf/"), want_leaf);
    let mut want_bt = Vec::new();
    for k in 0..kernel_layout::BTREE_ENTRIES {
        let (name, filler) = kernel_layout::btree_name(k);
        let (id, s) = &got[&format!("btree/{name}")];
        if filler {
            assert_eq!(contents(&fs, *id), bytes(k as u64, 4096), "{name}");
        } else {
            assert_eq!(s.size, 0, "{name}");
        }
        want_bt.push(name);
    }
    want_bt.sort();
    assert_eq!(names("btree/"), want_bt);
    assert_eq!(fs.problems(), vec![]);
}

/// The data fork format xfs_db reports for `path` ("local", "extents",
/// "btree"), when xfs_db is here.
fn xfs_db_format(img: &Path, path: &str) -> Option<String> {
    let out = Command::new("xfs_db")
        .arg("-r")
        .args(["-c", &format!("path {path}"), "-c", "print core.format"])
        .arg(img)
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let f = s.split('(').nth(1)?.split(')').next()?.to_string();
    Some(f)
}

#[test]
fn every_directory_format_is_exercised() {
    if !mkfs_xfs_available("every_directory_format_is_exercised") {
        return;
    }
    let mut cases = Vec::new();
    for v in [XfsVersion::V5, XfsVersion::V4] {
        let img = xfs_proto(v);
        cases.push((img, "/", DirFormat::ShortForm, false));
        cases.push((xfs_proto(v), "/names", DirFormat::Block, false));
        cases.push((xfs_proto(v), "/many", DirFormat::Node, true));
    }
    if let Some(k) = xfs_kernel("every_directory_format_is_exercised") {
        cases.push((k.clone(), "/leaf", DirFormat::Leaf, false));
        cases.push((k.clone(), "/btree", DirFormat::Node, true));
        cases.push((k, "/tree/names", DirFormat::Block, false));
    }
    for (img, path, format, btree) in cases {
        let fs = Xfs::open(volume(&img)).expect("open");
        let id = lookup(&fs, path).expect("lookup");
        assert_eq!(
            fs.dir_format(id).expect("format"),
            (format, btree),
            "{path} in {}",
            img.display()
        );
        if let Some(f) = xfs_db_format(&img, path) {
            let want = match (format, btree) {
                (DirFormat::ShortForm, _) => "local",
                (_, true) => "btree",
                _ => "extents",
            };
            assert_eq!(f, want, "xfs_db on {path}");
        }
        assert!(!fs.read_dir(id).expect("read_dir").is_empty());
    }
}

fn id_of(fs: &Xfs, path: &str) -> u64 {
    lookup(fs, path).expect("lookup")
}

/// Every manifest file other than `except` still reads right.
fn rest_reads(fs: &Xfs, except: &str) {
    let want = manifest(&source_tree());
    let mut n = 0;
    for e in want
        .iter()
        .filter(|e| e.kind == "file" && !proto_skips(&e.path))
    {
        if e.path == except || e.path.starts_with("many/") && n > 50 {
            continue;
        }
        let id = id_of(fs, &e.path);
        assert_eq!(sha256(&contents(fs, id)), e.digest, "{}", e.path);
        n += 1;
    }
}

#[test]
fn corrupt_inode_fails_only_that_file() {
    if !mkfs_xfs_available("corrupt_inode_fails_only_that_file") {
        return;
    }
    let img = xfs_proto(XfsVersion::V5);
    let clean = Xfs::open(volume(&img)).expect("open");
    let victim = "sizes/len-4097-6";
    let id = id_of(&clean, victim);
    let at = clean.inode_offset(id).expect("offset");
    // Magic gone: stat, open fail naming the inode and its offset.
    let fs = patched(&img, vec![(at, b"XX".to_vec())]);
    for e in [fs.stat(id).unwrap_err(), fs.open(id).unwrap_err()] {
        match &e {
            Error::Corrupt {
                structure,
                offset,
                detail,
                ..
            } => {
                assert_eq!(*structure, "XFS inode");
                assert_eq!(*offset, at);
                assert!(detail.contains(&format!("inode {id}")), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
    rest_reads(&fs, victim);
    // One byte of the size flipped: the CRC says so, the read goes on.
    let fs = patched(&img, vec![(at + 63, vec![0x55])]);
    let st = fs.stat(id).expect("stat still works");
    assert_ne!(st.size, 4097);
    let p = fs.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].offset, Some(at + 100));
    assert!(p[0].detail.contains("CRC"), "{}", p[0]);
}

#[test]
fn bmbt_pointer_out_of_range_fails_that_directory() {
    if !mkfs_xfs_available("bmbt_pointer_out_of_range") {
        return;
    }
    let img = xfs_proto(XfsVersion::V5);
    let clean = Xfs::open(volume(&img)).expect("open");
    let many = id_of(&clean, "many");
    let ino = clean.inode(many).expect("inode");
    assert_eq!(ino.format, 3, "many/ has a btree block map");
    let maxrecs = (ino.fork.len() - 4) / 16;
    let ptr_at = ino.fork_offset + 4 + 8 * maxrecs as u64;
    let fs = patched(
        &img,
        vec![(ptr_at, 0xffff_ffff_ffffu64.to_be_bytes().to_vec())],
    );
    match fs.read_dir(many).unwrap_err() {
        Error::Corrupt {
            structure, offset, ..
        } => {
            assert_eq!(structure, "XFS bmap btree pointer");
            assert_eq!(offset, ptr_at);
        }
        other => panic!("{other:?}"),
    }
    assert!(fs.read_dir(fs.root()).is_ok());
    rest_reads_outside_many(&fs);
}

fn rest_reads_outside_many(fs: &Xfs) {
    let want = manifest(&source_tree());
    for e in want
        .iter()
        .filter(|e| e.kind == "file" && !proto_skips(&e.path) && !e.path.starts_with("many/"))
    {
        let id = id_of(fs, &e.path);
        assert_eq!(sha256(&contents(fs, id)), e.digest, "{}", e.path);
    }
}

#[test]
fn directory_block_with_bad_magic() {
    if !mkfs_xfs_available("directory_block_with_bad_magic") {
        return;
    }
    let img = xfs_proto(XfsVersion::V5);
    let clean = Xfs::open(volume(&img)).expect("open");
    let g = clean.geometry().clone();
    // A single-block directory: nothing left to read, an error at the block.
    let names = id_of(&clean, "names");
    let map = clean.data_map(names).expect("map");
    let blk = g.fsb_offset(map[0].startblock).expect("in range");
    let fs = patched(&img, vec![(blk, b"JUNK".to_vec())]);
    let e = fs.read_dir(names).unwrap_err();
    assert_eq!(e.offset(), Some(blk), "{e}");
    assert!(e.to_string().contains("XFS directory data block"), "{e}");
    assert!(fs.read_dir(fs.root()).is_ok());
    // One data block of many/: the others still list, the bad one is reported.
    let many = id_of(&clean, "many");
    let all = clean.read_dir(many).expect("clean many").len();
    let map = clean.data_map(many).expect("map");
    let r = map
        .iter()
        .filter(|r| r.startoff > 0 && r.startoff < (1 << 35) >> g.block_log)
        .min_by_key(|r| r.startoff)
        .expect("a later data block");
    let blk = g.fsb_offset(r.startblock).expect("in range");
    let fs = patched(&img, vec![(blk, b"JUNK".to_vec())]);
    let got = fs.read_dir(many).expect("partial listing");
    assert!(!got.is_empty() && got.len() < all, "{} of {all}", got.len());
    let p = fs.problems();
    assert!(p.iter().any(|p| p.offset == Some(blk)), "{p:?}");
}

fn small_matches(version: XfsVersion, test: &str) {
    if !mkfs_xfs_available(test) {
        return;
    }
    let img = xfs_small(version);
    let fs = Xfs::open(volume(&img)).expect("open");
    let g = fs.geometry();
    // Directory blocks of 4 KiB made of 1 KiB (v5) or 512-byte (v4) blocks.
    assert_eq!(g.dir_block_size(), 4096);
    assert_eq!(
        g.block_size,
        if version == XfsVersion::V5 { 1024 } else { 512 }
    );
    assert!(g.ftype);
    let got = listing(&fs);
    let want = manifest(&small_tree());
    let t = file_mtime(&img);
    let n = compare(
        &fs,
        &got,
        "",
        &want,
        &|_| false,
        Mtimes::Between(t - 3600, t + 1),
    );
    assert_eq!(n, want.len());
    let big = id_of(&fs, "big");
    assert_eq!(
        fs.dir_format(big).expect("format"),
        (DirFormat::Leaf, false)
    );
    // The long target lives in a remote block (extents format).
    let ll = id_of(&fs, "longlink");
    assert_eq!(fs.inode(ll).expect("inode").format, 2);
    assert_eq!(
        fs.read_link(ll).expect("link"),
        small_long_target().as_bytes()
    );
    let p = fs.problems();
    if version == XfsVersion::V5 {
        // xfsprogs 6.1 writes v5 remote symlink blocks without their
        // header: read anyway, and said.
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].detail.contains("no XSLM header"), "{}", p[0]);
    } else {
        assert_eq!(p, vec![]);
    }
}

#[test]
fn small_blocks_v5_multi_block_directory_blocks_and_remote_symlink() {
    small_matches(XfsVersion::V5, "small_blocks_v5");
}

#[test]
fn small_blocks_v4_with_ftype() {
    small_matches(XfsVersion::V4, "small_blocks_v4");
}

#[test]
fn truncated_image_reads_what_is_there() {
    if !mkfs_xfs_available("truncated_image_reads_what_is_there") {
        return;
    }
    let img = xfs_small(XfsVersion::V5);
    let head = std::fs::read(&img).expect("read")[..256 << 10].to_vec();
    let fs = Xfs::open(Arc::new(recover_core::io::MemVolume::new("head", head))).expect("open");
    let p = fs.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].detail.contains("volume ends"), "{}", p[0]);
    let f1 = id_of(&fs, "f1");
    assert_eq!(contents(&fs, f1), bytes(1, 100));
    let blob = id_of(&fs, "d/blob");
    assert_eq!(contents(&fs, blob), bytes(99, 3000));
    // big/ lives in the second allocation group, past the cut.
    let big = fs.read_dir(fs.root()).expect("root");
    let big = big.iter().find(|e| e.name == b"big").expect("big").id;
    assert!(matches!(fs.read_dir(big), Err(Error::OutOfRange { .. })));
    assert!(matches!(fs.stat(big), Err(Error::OutOfRange { .. })));
}

#[test]
fn wide_inode_numbers_in_short_form_directories() {
    let Some(img) = fixtures::xfs_image::xfs_kernel_wide("wide_inode_numbers") else {
        return;
    };
    let fs = Xfs::open(volume(&img)).expect("open");
    let root = fs.inode(fs.root()).expect("root");
    assert_eq!(root.format, 1, "short form");
    assert!(root.fork[1] > 0, "i8count is set: 8-byte inode numbers");
    let mut wide = 0;
    for d in fixtures::xfs_image::WIDE_DIRS {
        let id = id_of(&fs, d);
        wide += usize::from(id > u64::from(u32::MAX));
        assert_eq!(
            fs.dir_format(id).expect("format"),
            (DirFormat::ShortForm, false)
        );
        assert_eq!(contents(&fs, id_of(&fs, &format!("{d}/file"))), b"hi\n");
        assert_eq!(fs.stat(id).expect("stat").kind(), FileKind::Dir);
    }
    assert!(wide > 0, "some directory sits above 2^32");
    assert_eq!(listing(&fs).len(), 10);
    assert_eq!(fs.problems(), vec![]);
}

/// A directory extent claiming 2^21 - 1 blocks (fuzzing showed such maps
/// made a listing read block after failing block): refused at once, by
/// what the volume can hold.
#[test]
fn directory_extent_longer_than_the_volume() {
    if !mkfs_xfs_available("directory_extent_longer_than_the_volume") {
        return;
    }
    let img = xfs_proto(XfsVersion::V5);
    let clean = Xfs::open(volume(&img)).expect("open");
    let names = id_of(&clean, "names");
    let ino = clean.inode(names).expect("inode");
    assert_eq!((ino.format, ino.nextents), (2, 1));
    let l1 = u64::from_be_bytes(ino.fork[8..16].try_into().expect("8 bytes"));
    let fs = patched(
        &img,
        vec![(ino.fork_offset + 8, (l1 | 0x1f_ffff).to_be_bytes().to_vec())],
    );
    let t = std::time::Instant::now();
    let e = fs.read_dir(names).unwrap_err();
    assert!(t.elapsed().as_secs() < 2, "refused quickly");
    assert!(e.to_string().contains("more than the volume holds"), "{e}");
    assert_eq!(e.offset(), Some(ino.fork_offset));
}

/// A byte of a v5 directory block changed (a name's letter): the listing
/// goes on, with the changed name, and the block's CRC mismatch is
/// reported at the CRC field.
#[test]
fn directory_block_crc_mismatch_is_reported() {
    if !mkfs_xfs_available("directory_block_crc_mismatch_is_reported") {
        return;
    }
    let img = xfs_proto(XfsVersion::V5);
    let clean = Xfs::open(volume(&img)).expect("open");
    let names = id_of(&clean, "names");
    let blk = clean
        .geometry()
        .fsb_offset(clean.data_map(names).expect("map")[0].startblock)
        .expect("in range");
    let raw = {
        let v = volume(&img);
        let mut b = vec![0u8; 4096];
        v.read_at(blk, &mut b).expect("read");
        b
    };
    let at = raw
        .windows(4)
        .position(|w| w == b"long")
        .expect("the long name");
    let fs = patched(&img, vec![(blk + at as u64, b"LONG".to_vec())]);
    let got = fs.read_dir(names).expect("listing goes on");
    assert!(got.iter().any(|e| e.name.starts_with(b"LONG-name-")));
    let p = fs.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].offset, Some(blk + 4));
    assert!(p[0].detail.contains("CRC mismatch"), "{}", p[0]);
}
