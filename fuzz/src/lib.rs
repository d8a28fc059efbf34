//! What the deep-scan fuzz targets share: driving one validator of the
//! signature table, directly and through the scanner.

use std::sync::{Arc, OnceLock};

use recover_core::io::{check_range, MemVolume, Volume, VolumeRef};
use recover_core::scan::signature::{Context, SECTOR};
use recover_core::scan::{assemble, scan, Finding, ScanOptions, SIGNATURES};

/// One thread: findings do not depend on the thread count (a test checks
/// that), and one thread keeps the fuzzer's runs deterministic and cheap.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a one-thread pool")
    })
}

/// Drives the validator of the signatures named `names` (entries of
/// [`SIGNATURES`] sharing one validator) on `data`.
///
/// The last byte steers: bits 4-6 pick the signature, bits 0-3 the sector
/// where the structure is taken to start, and bit 7 writes the signature's
/// magic there, so that mutated inputs reach the checks behind the magic.
/// A seed made by a real tool ends in a zero byte almost always: its own
/// bytes are used as they are. The validator is then called at that
/// sector, and the scanner runs over the whole input with only these
/// signatures, calling it wherever the input holds a magic.
pub fn validator(names: &[&str], data: &[u8]) {
    let sigs: Vec<_> = names
        .iter()
        .map(|n| {
            SIGNATURES
                .iter()
                .find(|s| s.name == *n)
                .unwrap_or_else(|| panic!("no signature named {n}"))
        })
        .collect();
    let Some((&ctl, body)) = data.split_last() else {
        return;
    };
    let sig = sigs[usize::from((ctl >> 4) & 7) % sigs.len()];
    let at = u64::from(ctl & 15) * SECTOR;
    let mut bytes = body.to_vec();
    if ctl & 0x80 != 0 {
        let m = at as usize + sig.magic_offset;
        if let Some(dst) = bytes.get_mut(m..m + sig.magic.len()) {
            dst.copy_from_slice(sig.magic);
        }
    }
    let len = bytes.len() as u64;
    let vol: VolumeRef = Arc::new(MemVolume::new("fuzz", bytes));
    let all = vol.as_bytes().unwrap_or(&[]);
    // The scanner calls a validator only at offsets inside the volume.
    if let Some(here) = all.get(at as usize..).filter(|h| !h.is_empty()) {
        let ctx = Context {
            vol: &vol,
            at,
            bytes: &here[..sig.need.min(here.len())],
        };
        if let Some(f) = (sig.validate)(&ctx) {
            check(&f, len);
            assert_eq!(f.at, at, "{}: a finding names its own offset", sig.name);
        }
    }
    let one = std::slice::from_ref(sig);
    for skip_inside in [false, true] {
        let opts = ScanOptions {
            signatures: one,
            skip_inside,
            block: 64 << 10,
            ..ScanOptions::default()
        };
        let mut found: Vec<Finding> = Vec::new();
        let r = pool().install(|| scan(&vol, &opts, &mut found));
        if let Err(e) = r {
            let _ = e.to_string();
        }
        for f in &found {
            check(f, len);
        }
        let _ = assemble(&found, len);
    }
}

/// What every finding promises.
pub fn check(f: &Finding, len: u64) {
    assert!(f.confidence <= 100, "{f:?}");
    assert!(f.at < len, "{f:?}");
    if let Some(end) = f.skip_end(len) {
        assert!(end > f.at && end <= len, "{f:?}");
    }
}

/// Runs the whole deep scan over `data`: every signature, jumping past
/// found filesystems and not, then the candidates, and the recovered
/// table with each candidate partition explored.
pub fn deep_scan(data: &[u8]) {
    use recover_core::discover;
    let len = data.len() as u64;
    let vol: VolumeRef = Arc::new(MemVolume::new("fuzz", data.to_vec()));
    for opts in [ScanOptions::default(), ScanOptions::skipping()] {
        let opts = ScanOptions {
            block: 64 << 10,
            ..opts
        };
        let mut found: Vec<Finding> = Vec::new();
        if pool().install(|| scan(&vol, &opts, &mut found)).is_err() {
            continue;
        }
        assert!(found.windows(2).all(|w| w[0].at <= w[1].at), "offset order");
        for f in &found {
            check(f, len);
        }
        let cands = assemble(&found, len);
        let search = discover::SearchInfo {
            range: 0..len,
            thorough: !opts.skip_inside,
            findings: found,
        };
        let table = discover::recovered_table(&vol, "fuzz", &cands, search, &Default::default());
        for n in table.walk() {
            for p in &n.problems {
                let _ = p.to_string();
            }
        }
    }
}

/// Opens `data` as a filesystem of `format` and reads all of it a reader
/// can be asked for: every directory (walked with its loop protection),
/// every stat, up to 64 KiB of every file (first and last bytes), every
/// link target and stream. Errors are fine; panics, hangs and huge
/// allocations are the bugs.
pub fn filesystem(format: &str, data: &[u8]) {
    filesystem_on(format, Arc::new(MemVolume::new("fuzz", data.to_vec())));
}

/// [`filesystem`] on a volume made otherwise (patches, for formats whose
/// structures sit megabytes apart).
pub fn filesystem_on(format: &str, vol: VolumeRef) {
    use recover_core::fs::{walk, FileKind};
    let Some(Ok(fs)) = recover_core::registry::open_filesystem(format, vol) else {
        return;
    };
    let mut files = Vec::new();
    walk(
        fs.as_ref(),
        fs.root(),
        &mut |w| {
            if files.len() < 4096 {
                files.push((w.id, w.stat.as_ref().map(|s| s.clone()).ok()));
            }
        },
        &mut |_, _| {},
    );
    let mut buf = vec![0u8; 32 << 10];
    for (id, stat) in files {
        let kind = stat.as_ref().map_or(FileKind::Unknown, |s| s.kind());
        match kind {
            FileKind::Symlink => {
                let _ = fs.read_link(id);
            }
            _ => {
                if let Ok(v) = fs.open(id) {
                    let n = (v.len().min(buf.len() as u64)) as usize;
                    let _ = v.read_at(0, &mut buf[..n]);
                    let _ = v.read_at(v.len() - n as u64, &mut buf[..n]);
                }
            }
        }
        for (name, _) in stat.map(|s| s.streams).unwrap_or_default() {
            if let Ok(v) = fs.open_stream(id, &name) {
                let n = (v.len().min(buf.len() as u64)) as usize;
                let _ = v.read_at(0, &mut buf[..n]);
            }
        }
    }
    let _ = fs.problems();
}

/// A file made of patches over zeros, for formats whose structures sit
/// megabytes apart (VHDX, VMFS): the input is a list of `offset: u32 LE,
/// length: u16 LE, bytes`, laid in order (offsets taken modulo the
/// largest file); the file ends where the furthest patch does. Kept sparse:
/// megabytes of zeros would cost more than the parsing under the sanitizer.
pub struct Patches {
    /// The file's length.
    pub len: u64,
    /// Where each patch goes, and its bytes.
    pub patches: Vec<(u64, Vec<u8>)>,
}

impl Patches {
    /// The patches of `rest`, offsets modulo `max_file`.
    pub fn new(mut rest: &[u8], max_file: u64) -> Patches {
        let mut s = Patches {
            len: 0,
            patches: Vec::new(),
        };
        while let (Some(off), Some(len)) = (rest.get(..4), rest.get(4..6)) {
            let off = u64::from(u32::from_le_bytes([off[0], off[1], off[2], off[3]])) % max_file;
            let body = &rest[6..];
            let n = usize::from(u16::from_le_bytes([len[0], len[1]])).min(body.len());
            s.len = s.len.max(off + n as u64);
            s.patches.push((off, body[..n].to_vec()));
            rest = &body[n..];
        }
        s
    }
}

impl Volume for Patches {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> recover_core::Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (at, p) in &self.patches {
            let (s, e) = ((*at).max(offset), (at + p.len() as u64).min(end));
            if s < e {
                buf[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&p[(s - at) as usize..(e - at) as usize]);
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "fuzz".into()
    }
}

/// Up to 32 KiB of `v` read at its start, middle and end.
pub fn reads(v: &dyn Volume) {
    let mut buf = vec![0u8; 32 << 10];
    let len = v.len();
    for at in [0, len / 2, len.saturating_sub(buf.len() as u64)] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
}
