//! What the deep-scan fuzz targets share: driving one validator of the
//! signature table, directly and through the scanner.

use std::sync::{Arc, OnceLock};

use recover_core::io::{MemVolume, VolumeRef};
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
    use recover_core::fs::{walk, FileKind};
    let vol: VolumeRef = Arc::new(MemVolume::new("fuzz", data.to_vec()));
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
