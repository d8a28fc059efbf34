//! What the filesystem tests share: reading a whole tree through the
//! FileSystem trait and comparing it with the host's manifest.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use fixtures::tree::{sha256, Entry};
use recover_core::fs::filesystem::Walked;
use recover_core::fs::{walk, FileKind, FileSystemRef};
use recover_core::io::{open_source, MapPolicy, VolumeRef};

/// Opens `image` as a filesystem of `format`.
pub fn open_fs(image: &Path, format: &str) -> FileSystemRef {
    let src = open_source(image, MapPolicy::Auto).expect("open image");
    let vol: VolumeRef = src.volume.clone();
    recover_core::registry::open_filesystem(format, vol)
        .expect("a reader for the format")
        .expect("the filesystem opens")
}

/// Everything the reader shows under the root, as manifest entries
/// (SHA-256 of every file read through `open`), with the errors met.
pub fn read_tree(fs: &FileSystemRef) -> (Vec<Entry>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut visit = |w: &Walked| {
        let path = String::from_utf8_lossy(&w.path).into_owned();
        let stat = match &w.stat {
            Ok(s) => s.clone(),
            Err(e) => {
                errors.push(format!("{path}: {e}"));
                return;
            }
        };
        let (kind, size, digest) = match stat.kind() {
            FileKind::Dir => ("dir", 0, String::new()),
            FileKind::Symlink => match fs.read_link(w.id) {
                Ok(t) => (
                    "symlink",
                    t.len() as u64,
                    String::from_utf8_lossy(&t).into_owned(),
                ),
                Err(e) => {
                    errors.push(format!("{path}: {e}"));
                    return;
                }
            },
            _ => match fs.open(w.id).and_then(|v| {
                let mut b = vec![0u8; v.len() as usize];
                v.read_at(0, &mut b).map(|_| b)
            }) {
                Ok(b) => ("file", stat.size, sha256(&b)),
                Err(e) => {
                    errors.push(format!("{path}: {e}"));
                    return;
                }
            },
        };
        out.push(Entry {
            path,
            kind,
            size,
            digest,
            mtime: stat.mtime.map_or(0, |t| t.secs),
        });
    };
    let mut dir_errors = Vec::new();
    let mut on_error = |p: &[u8], e: recover_core::Error| {
        dir_errors.push(format!("{}: {e}", String::from_utf8_lossy(p)));
    };
    walk(fs.as_ref(), fs.root(), &mut visit, &mut on_error);
    errors.extend(dir_errors);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    (out, errors)
}

/// Asserts that `got` equals `want` entry by entry: paths, kinds, sizes,
/// contents, link targets, and mtimes when `mtimes` (for `dirs` too).
pub fn assert_same_tree(label: &str, got: &[Entry], want: &[Entry], mtimes: bool, dirs: bool) {
    let got: BTreeMap<&str, &Entry> = got.iter().map(|e| (e.path.as_str(), e)).collect();
    let want: BTreeMap<&str, &Entry> = want.iter().map(|e| (e.path.as_str(), e)).collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{label}: missing {missing:?}, extra {extra:?}"
    );
    for (p, w) in &want {
        let g = got[p];
        assert_eq!(
            (g.kind, g.size, &g.digest),
            (w.kind, w.size, &w.digest),
            "{label}: {p}"
        );
        if mtimes && (dirs || w.kind != "dir") {
            assert_eq!(g.mtime, w.mtime, "{label}: mtime of {p}");
        }
    }
}

/// SHA-256 of a whole volume, read in odd-sized pieces so the reads
/// straddle clusters, grains and blocks.
pub fn sha_volume(v: &dyn recover_core::io::Volume) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < v.len() {
        let n = (v.len() - pos).min(buf.len() as u64 - 4097) as usize;
        v.read_at(pos, &mut buf[..n]).unwrap();
        h.update(&buf[..n]);
        pos += n as u64;
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A host file as a volume.
pub fn open_file(p: &Path) -> VolumeRef {
    open_source(p, MapPolicy::Auto).unwrap().volume
}
