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

/// An image file as a volume that reports `bad` as unreadable, as a disk
/// with bad sectors would (its reads pass through unchanged), and records
/// every range read from it. It is never mapped, so every read is seen.
#[derive(Debug)]
pub struct Probe {
    inner: VolumeRef,
    bad: Vec<std::ops::Range<u64>>,
    reads: std::sync::Mutex<Vec<std::ops::Range<u64>>>,
}

impl Probe {
    /// `inner`, with `bad` reported unreadable.
    pub fn new(inner: VolumeRef, bad: Vec<std::ops::Range<u64>>) -> std::sync::Arc<Probe> {
        std::sync::Arc::new(Probe {
            inner,
            bad,
            reads: Default::default(),
        })
    }

    /// The ranges read since the last call.
    pub fn take_reads(&self) -> Vec<std::ops::Range<u64>> {
        std::mem::take(&mut self.reads.lock().unwrap())
    }
}

impl recover_core::io::Volume for Probe {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> recover_core::Result<()> {
        self.reads
            .lock()
            .unwrap()
            .push(offset..offset + buf.len() as u64);
        self.inner.read_at(offset, buf)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn bad_ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.bad.clone()
    }
}

/// One extent of `qemu-img map --output=json`.
#[derive(Debug, Clone)]
pub struct MapEntry {
    /// Guest bytes.
    pub guest: std::ops::Range<u64>,
    /// 0 for this image, 1 for its backing file, ...
    pub depth: u64,
    /// Where the bytes are stored as they are, in the file at `depth`.
    pub offset: Option<u64>,
    /// Stored compressed.
    pub compressed: bool,
    /// Holds data (not zeros, not unallocated).
    pub data: bool,
}

/// What `qemu-img map` says of `img` (of format `format`).
pub fn qemu_map(img: &Path, format: &str) -> Vec<MapEntry> {
    let out = std::process::Command::new("qemu-img")
        .args(["map", "--output=json", "-f", format])
        .arg(img)
        .output()
        .expect("qemu-img map");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("map json");
    v.as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64();
            let start = n("start").unwrap();
            MapEntry {
                guest: start..start + n("length").unwrap(),
                depth: n("depth").unwrap_or(0),
                offset: n("offset"),
                compressed: e["compressed"].as_bool().unwrap_or(false),
                data: e["data"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

/// Sorted, overlapping and touching ranges joined.
pub fn merged(mut v: Vec<std::ops::Range<u64>>) -> Vec<std::ops::Range<u64>> {
    v.retain(|r| r.start < r.end);
    v.sort_by_key(|r| r.start);
    let mut out: Vec<std::ops::Range<u64>> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The guest bytes qemu-img's map stores as they are in `host` of the
/// file at `depth`.
pub fn guest_in(
    map: &[MapEntry],
    depth: u64,
    host: &[std::ops::Range<u64>],
) -> Vec<std::ops::Range<u64>> {
    let mut out = Vec::new();
    for e in map.iter().filter(|e| e.depth == depth && e.data) {
        let Some(off) = e.offset.filter(|_| !e.compressed) else {
            continue;
        };
        let len = e.guest.end - e.guest.start;
        for h in host {
            let (s, t) = (h.start.max(off), h.end.min(off + len));
            if s < t {
                out.push(e.guest.start + (s - off)..e.guest.start + (t - off));
            }
        }
    }
    merged(out)
}

/// The `block`-sized guest blocks of the compressed extents of `map`
/// whose stored bytes meet `host`, found by reading each block alone from
/// `disk` (a disk over `probe`) and seeing what is read from the file:
/// reads of more than 16 bytes (a table entry or a marker is smaller) are
/// the block's stored bytes.
pub fn compressed_in(
    disk: &dyn recover_core::io::Volume,
    probe: &Probe,
    map: &[MapEntry],
    block: u64,
    host: &[std::ops::Range<u64>],
) -> Vec<std::ops::Range<u64>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; block as usize];
    for e in map.iter().filter(|e| e.depth == 0 && e.compressed) {
        let mut at = e.guest.start;
        while at < e.guest.end {
            let n = block.min(e.guest.end - at).min(disk.len() - at);
            probe.take_reads();
            disk.read_at(at, &mut buf[..n as usize]).unwrap();
            let meets = probe
                .take_reads()
                .iter()
                .filter(|r| r.end - r.start > 16)
                .any(|r| host.iter().any(|h| r.start < h.end && h.start < r.end));
            if meets {
                out.push(at..at + n);
            }
            at += n;
        }
    }
    merged(out)
}

/// The guest bytes stored as they are in `host` of the file under `probe`,
/// found by reading `disk` in `piece`-sized pieces (within its blocks) and
/// seeing where each piece is read from: the read of the piece's length.
/// For formats whose map qemu-img does not give.
pub fn read_from(
    disk: &dyn recover_core::io::Volume,
    probe: &Probe,
    piece: u64,
    host: &[std::ops::Range<u64>],
) -> Vec<std::ops::Range<u64>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece as usize];
    let mut at = 0;
    while at < disk.len() {
        let n = piece.min(disk.len() - at);
        probe.take_reads();
        disk.read_at(at, &mut buf[..n as usize]).unwrap();
        for r in probe.take_reads().iter().filter(|r| r.end - r.start == n) {
            for h in host {
                let (s, t) = (h.start.max(r.start), h.end.min(r.end));
                if s < t {
                    out.push(at + (s - r.start)..at + (t - r.start));
                }
            }
        }
        at += n;
    }
    merged(out)
}

/// Asserts that `disk` reports `want` unreadable and nothing else, over
/// the whole disk and over a window of it.
pub fn assert_unreadable(
    label: &str,
    disk: &dyn recover_core::io::Volume,
    want: &[std::ops::Range<u64>],
) {
    use recover_core::io::Origin;
    assert!(!want.is_empty(), "{label}: the oracle finds nothing");
    let o = disk.origins(0, disk.len());
    assert_eq!(o.of(Origin::Unreadable), want, "{label}");
    for k in Origin::ALL {
        if k != Origin::Unreadable {
            assert!(o.of(k).is_empty(), "{label}: {k:?} {:?}", o.of(k));
        }
    }
    let (a, b) = (want[0].start + 1, want[want.len() - 1].end - 1);
    let clipped: Vec<_> = want
        .iter()
        .map(|r| r.start.max(a)..r.end.min(b))
        .filter(|r| r.start < r.end)
        .collect();
    assert_eq!(
        disk.origins(a, b - a).of(Origin::Unreadable),
        clipped,
        "{label}: window {a:#x}..{b:#x}"
    );
}
