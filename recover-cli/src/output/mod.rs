//! Everything `recover` writes. Files, directories and links are made only
//! through [`guard`] (never over a source, never over an existing file
//! without --force); a volume is written in parallel large blocks, with
//! runs of zeros left as holes.

pub mod guard;

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use recover_core::discover::Node;
use recover_core::io::Volume;
use sha2::{Digest, Sha256};

use crate::progress::Progress;
pub use guard::Guard;

/// Bytes per read: large enough for disk bandwidth and whole stripes of any
/// array, small enough to keep the progress bar moving.
pub const BLOCK: usize = 8 << 20;

/// What a thread of a positional copy reads and writes at a time: small
/// enough to stay in its core's cache, large enough that a call costs
/// nothing beside the copy.
const PIECE: usize = 1 << 20;

/// What a thread of a positional copy claims at a time.
const RUN: u64 = 32 << 20;

/// An output file checked and opened through the [`Guard`].
#[derive(Debug)]
pub struct Output {
    file: File,
    /// Holes may be punched (a fresh regular file, not a device).
    sparse: bool,
    /// Flushed to stable storage at the end (files and block devices; not
    /// pipes or /dev/null, which refuse fsync).
    sync: bool,
    /// Written at offsets, in any order, by several threads at once
    /// (files, block devices, /dev/null); a pipe or a terminal takes the
    /// bytes in order.
    positional: bool,
    /// The path and what is written to it, for errors.
    path: PathBuf,
    what: String,
}

impl Output {
    /// Opens `path` for writing `what` through `guard` (never a source;
    /// an existing file only with --force).
    pub fn create(guard: &Guard, path: &Path, what: &str) -> io::Result<Output> {
        let c = guard.create_file(path, what)?;
        Ok(Output {
            file: c.file,
            sparse: c.regular,
            sync: c.regular || c.block,
            positional: c.regular || c.block || c.null,
            path: path.to_path_buf(),
            what: what.to_string(),
        })
    }

    /// Skips the flush to stable storage at the end (`cp` of many files
    /// flushes once, at the end).
    pub fn without_sync(mut self) -> Self {
        self.sync = false;
        self
    }

    /// Writes all of `vol`: blocks read (and, into a regular file, written)
    /// in parallel, a window of a few per thread so memory stays bounded.
    pub fn write_volume(self, vol: &dyn Volume, label: &str) -> io::Result<u64> {
        let progress = Progress::bytes(vol.len(), label);
        let n = self.write_volume_with(vol, &mut |pos| progress.set(pos))?;
        progress.finish();
        Ok(n)
    }

    /// [`Output::write_volume`], telling `done` how many bytes are written.
    pub fn write_volume_with(self, vol: &dyn Volume, done: &mut dyn FnMut(u64)) -> io::Result<u64> {
        self.write_volume_hashed(vol, done, None)
    }

    /// [`Output::write_volume_with`], feeding every byte written to `hash`
    /// in order (the holes skipped as zeros), for a manifest.
    pub fn write_volume_hashed(
        self,
        vol: &dyn Volume,
        done: &mut dyn FnMut(u64),
        hash: Option<&mut Sha256>,
    ) -> io::Result<u64> {
        self.write_into(vol, done, hash)
    }

    /// The file written to, for what is set on it afterwards (mode, times).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// True for a regular file (not a device, a pipe or /dev/null).
    pub fn is_regular(&self) -> bool {
        self.sparse
    }

    /// [`Output::write_volume_hashed`], leaving the file open.
    pub fn write_into(
        &self,
        vol: &dyn Volume,
        done: &mut dyn FnMut(u64),
        hash: Option<&mut Sha256>,
    ) -> io::Result<u64> {
        let len = vol.len();
        // Whole stripes per block, so no stripe to rebuild is split.
        let align = vol.io_alignment().clamp(1, BLOCK as u64) as usize;
        let block = BLOCK / align * align;
        if len <= block as u64 {
            return self.write_one_block(vol, done, hash);
        }
        if self.positional && hash.is_none() {
            return self.write_positional(vol, done, align);
        }
        // Written in order on one thread at a time; the lock is never contended.
        let hash = std::sync::Mutex::new(hash.map(|h| (h, 0u64)));
        let window = rayon::current_num_threads().max(1) * 2;
        // Two sets of buffers: while one batch is written (on this thread,
        // in order), the next is read into the other (in parallel). Writes
        // to one file serialize in the kernel anyway (the inode lock), so
        // one writer costs no time and spares the readers from waiting.
        let mut cur: Vec<Vec<u8>> = (0..window).map(|_| vec![0u8; block]).collect();
        let mut next: Vec<Vec<u8>> = (0..window).map(|_| vec![0u8; block]).collect();
        // Into a regular file, whole blocks the volume knows to be holes (a
        // thin disk's unallocated space) are not read at all; blocks stay
        // aligned, as holes are skipped in whole blocks.
        let sparse_out = self.sparse;
        let batch_at = |mut pos: u64| -> Vec<(u64, usize)> {
            let mut out = Vec::with_capacity(window);
            while out.len() < window && pos < len {
                let hole = if sparse_out { vol.hole_at(pos) } else { 0 };
                if hole >= block as u64 {
                    pos += hole / block as u64 * block as u64;
                    continue;
                }
                let n = (len - pos).min(block as u64);
                out.push((pos, n as usize)); // ok: n <= block
                pos += n;
            }
            out
        };
        // Ranges lying in mapped memory are written from there (one copy
        // fewer, and read ahead of time); the rest is read into buffers.
        let read = |bufs: &mut [Vec<u8>], batch: &[(u64, usize)]| -> io::Result<()> {
            bufs[..batch.len()]
                .par_iter_mut()
                .zip(batch.par_iter())
                .try_for_each(|(b, &(at, n))| -> io::Result<()> {
                    if vol.slice_at(at, n as u64).is_some() {
                        vol.prefetch(at, n as u64);
                    } else {
                        vol.read_at(at, &mut b[..n]).map_err(io::Error::other)?;
                    }
                    Ok(())
                })
        };
        // A regular file gets each block at its offset, runs of zeros left
        // as holes; anything else the bytes in order.
        let file = &self.file;
        let sparse = self.sparse;
        let failed = |e: io::Error| guard::failed(&self.path, &self.what, &e);
        let write = |bufs: &[Vec<u8>], batch: &[(u64, usize)]| -> io::Result<()> {
            for (b, &(at, n)) in bufs.iter().zip(batch) {
                let data = vol.slice_at(at, n as u64).unwrap_or(&b[..n]);
                if let Some((h, upto)) = hash.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    hash_zeros(h, at - *upto);
                    h.update(data);
                    *upto = at + n as u64;
                }
                if sparse {
                    write_at_sparse(file, at, data).map_err(failed)?;
                } else {
                    (&*file).write_all(data).map_err(failed)?;
                }
                // Written: out of the process (memory flat in the size of
                // what is copied).
                vol.release(at, n as u64);
            }
            Ok(())
        };
        let mut batch = batch_at(0);
        read(&mut cur, &batch)?;
        while let Some(&(last, n)) = batch.last() {
            let end = last + n as u64;
            let following = batch_at(end);
            let (w, r) = rayon::join(|| write(&cur, &batch), || read(&mut next, &following));
            w?;
            r?;
            done(end);
            std::mem::swap(&mut cur, &mut next);
            batch = following;
        }
        if let Some((h, upto)) = hash.into_inner().unwrap_or_else(|p| p.into_inner()) {
            hash_zeros(h, len - upto);
        }
        if self.sparse {
            self.file.set_len(len).map_err(failed)?;
        }
        if self.sync {
            self.file.sync_all().map_err(failed)?;
        }
        Ok(len)
    }

    /// All of `vol`, into an output written at offsets: each thread claims
    /// a run of the volume at a time and copies it piece by piece through
    /// its own small buffer, which stays in the core's cache between the
    /// read and the write. Large buffers handed from readers to a writer
    /// (the ordered path) go out to memory and back, which costs more than
    /// rebuilding parity does.
    fn write_positional(
        &self,
        vol: &dyn Volume,
        done: &mut dyn FnMut(u64),
        align: usize,
    ) -> io::Result<u64> {
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
        let len = vol.len();
        // Whole stripes, at least PIECE; a stripe wider than BLOCK is read
        // in BLOCK pieces (a stripe split is only rebuilt twice).
        let piece = PIECE.div_ceil(align).saturating_mul(align).min(BLOCK) as u64;
        let run = RUN.div_ceil(piece) * piece;
        let next = AtomicU64::new(0);
        let written = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let finished = AtomicUsize::new(0);
        let error = std::sync::Mutex::new(None::<io::Error>);
        let workers = rayon::current_num_threads().max(1);
        let main = std::thread::current();
        let failed = |e: io::Error| guard::failed(&self.path, &self.what, &e);
        let file = &self.file;
        let sparse = self.sparse;
        // The next run to copy, holes the volume knows of (a thin disk's
        // unallocated space) skipped whole without reading: the file is
        // made that long at the end.
        let claim = || -> Option<(u64, u64)> {
            let mut start = next.load(Relaxed);
            loop {
                if start >= len || stop.load(Relaxed) {
                    return None;
                }
                let hole = if sparse { vol.hole_at(start) } else { 0 };
                let (to, skipped) = if hole >= piece {
                    let skip = (hole / piece * piece).min(len - start);
                    (start + skip, skip)
                } else {
                    (start.saturating_add(run).min(len), 0)
                };
                match next.compare_exchange_weak(start, to, Relaxed, Relaxed) {
                    Ok(_) if skipped > 0 => {
                        written.fetch_add(skipped, Relaxed);
                        start = to;
                    }
                    Ok(_) => return Some((start, to)),
                    Err(now) => start = now,
                }
            }
        };
        let work = || -> io::Result<()> {
            let mut buf = Vec::new();
            while let Some((start, end)) = claim() {
                let mut at = start;
                while at < end && !stop.load(Relaxed) {
                    let n = (end - at).min(piece);
                    if sparse && vol.hole_at(at) >= n {
                        at += n;
                        written.fetch_add(n, Relaxed);
                        continue;
                    }
                    let data = match vol.slice_at(at, n) {
                        Some(d) => d,
                        None => {
                            buf.resize(piece as usize, 0); // ok: piece <= BLOCK
                            let b = &mut buf[..n as usize]; // ok: n <= piece
                            vol.read_at(at, b).map_err(io::Error::other)?;
                            b
                        }
                    };
                    if sparse {
                        write_at_sparse(file, at, data).map_err(failed)?;
                    } else {
                        file.write_all_at(data, at).map_err(failed)?;
                    }
                    at += n;
                    written.fetch_add(n, Relaxed);
                }
                // Written: out of the process, a run at a time (memory
                // flat in the size of what is copied; one flush of the
                // page tables per run, not per piece).
                vol.release(start, end - start);
            }
            Ok(())
        };
        std::thread::scope(|s| {
            for _ in 0..workers {
                let main = main.clone();
                let (work, stop, error, finished) = (&work, &stop, &error, &finished);
                s.spawn(move || {
                    if let Err(e) = work() {
                        stop.store(true, Relaxed);
                        error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                    finished.fetch_add(1, Relaxed);
                    main.unpark();
                });
            }
            while finished.load(Relaxed) < workers {
                done(written.load(Relaxed));
                std::thread::park_timeout(std::time::Duration::from_millis(100));
            }
        });
        if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        done(len);
        if self.sparse {
            self.file.set_len(len).map_err(failed)?;
        }
        if self.sync {
            self.file.sync_all().map_err(failed)?;
        }
        Ok(len)
    }

    /// A volume of one block or less (most files of a tree): one read and
    /// one write on this thread. Handing a few KiB to the thread pool costs
    /// more in wake-ups than the copy itself, and a tree's files are copied
    /// in parallel already.
    fn write_one_block(
        &self,
        vol: &dyn Volume,
        done: &mut dyn FnMut(u64),
        hash: Option<&mut Sha256>,
    ) -> io::Result<u64> {
        let len = vol.len();
        let n = usize::try_from(len).map_err(io::Error::other)?; // ok: <= BLOCK
        let failed = |e: io::Error| guard::failed(&self.path, &self.what, &e);
        let hole = self.sparse && vol.hole_at(0) >= len;
        let mut buf = Vec::new();
        let data: &[u8] = match vol.slice_at(0, len) {
            _ if hole || n == 0 => &[],
            Some(d) => d,
            None => {
                buf.resize(n, 0);
                vol.read_at(0, &mut buf).map_err(io::Error::other)?;
                &buf
            }
        };
        if let Some(h) = hash {
            if hole {
                hash_zeros(h, len);
            } else {
                h.update(data);
            }
        }
        if self.sparse {
            write_at_sparse(&self.file, 0, data).map_err(failed)?;
            // The length, unless the last grain was written (most files).
            let last = data.len().saturating_sub(1) / SPARSE_GRAIN * SPARSE_GRAIN;
            if data.get(last..).is_none_or(is_zero) {
                self.file.set_len(len).map_err(failed)?;
            }
        } else {
            (&self.file).write_all(data).map_err(failed)?;
        }
        // Not released here: a small file's pages are few, and dropping them
        // one file at a time costs a TLB flush on every core per file (cp
        // of a tree releases its filesystem's pages a batch at a time).
        done(len);
        if self.sync {
            self.file.sync_all().map_err(failed)?;
        }
        Ok(len)
    }
}

/// Feeds `n` zero bytes to `h`: the holes a copy skipped without reading.
fn hash_zeros(h: &mut Sha256, mut n: u64) {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize; // ok: <= 64 KiB
        h.update(&ZEROS[..k]);
        n -= k as u64;
    }
}

/// The bytes of `node`, or why it has none (a volume group, a thin pool,
/// a node whose metadata could not be read).
pub fn node_volume(node: &Node) -> io::Result<&dyn Volume> {
    if let Some(vol) = node.volume.as_deref() {
        return Ok(vol);
    }
    let mut why = node
        .problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if why.is_empty() {
        why = match node.kind {
            recover_core::discover::NodeKind::VolumeGroup => {
                "a volume group has no bytes of its own: extract one of its LVs".into()
            }
            recover_core::discover::NodeKind::LogicalVolume => {
                "a thin pool is read through its thin LVs; its data and metadata are the hidden _tdata and _tmeta LVs".into()
            }
            _ => "nothing to read".into(),
        };
    }
    Err(io::Error::other(format!(
        "{}: the bytes of this {} cannot be read ({why})",
        node.path,
        node.kind.as_str()
    )))
}

/// Writes `node`'s bytes to `path`, feeding them to `hash` if given; true
/// when some could not be read (reported).
pub fn write_node(
    guard: &Guard,
    node: &Node,
    roots: &[Node],
    path: &Path,
    hash: Option<&mut Sha256>,
) -> io::Result<bool> {
    let vol = node_volume(node)?;
    let out = Output::create(guard, path, &format!("the bytes of {}", node.path))?;
    let progress = Progress::bytes(vol.len(), &node.path);
    let written = out.write_volume_hashed(vol, &mut |pos| progress.set(pos), hash)?;
    progress.finish();
    let failed = report_bad_ranges(roots, Some(node));
    eprintln!(
        "recover: wrote {written} bytes of {} to {}",
        node.path,
        path.display()
    );
    Ok(failed)
}

/// Reports on stderr the ranges that could not be read and were written as
/// zeros: of the sources under `roots`, and of `node` itself (an array
/// assembled with holes) when it is not one of them. True when there were any.
pub fn report_bad_ranges(roots: &[Node], node: Option<&Node>) -> bool {
    let mut failed = false;
    let mut layers: Vec<&Node> = roots.iter().collect();
    if let Some(n) = node.filter(|n| !roots.iter().any(|r| r.path == n.path)) {
        layers.push(n);
    }
    for l in layers {
        for b in l
            .volume
            .as_ref()
            .map(|v| v.bad_ranges())
            .unwrap_or_default()
        {
            failed = true;
            eprintln!(
                "recover: {}: {} bytes at {:#x}..{:#x} could not be read and were written as zeros",
                crate::report::source_name(l),
                b.end - b.start,
                b.start,
                b.end
            );
        }
    }
    failed
}

/// True when every byte is zero: 16 bytes at a time (the compiler turns
/// it into vector compares), 256 bytes between looks at the result, so
/// data that is not zero (most of it) costs a few cache lines, not a pass
/// over the whole block.
fn is_zero(b: &[u8]) -> bool {
    let mut runs = b.chunks_exact(256);
    for run in &mut runs {
        let acc = run
            .chunks_exact(16)
            .map(|c| u128::from_ne_bytes(c.try_into().unwrap_or([1; 16]))) // ok: chunks_exact(16)
            .fold(0u128, |acc, w| acc | w);
        if acc != 0 {
            return false;
        }
    }
    runs.remainder().iter().all(|&x| x == 0)
}

/// The run of zeros [`write_at_sparse`] leaves as a hole, and its alignment.
const SPARSE_GRAIN: usize = 64 << 10;

/// Writes `b` at `at` in `file`, leaving 64 KiB runs of zeros unwritten
/// (holes in a fresh file) and writing the rest in as few calls as the
/// runs allow.
fn write_at_sparse(file: &File, at: u64, b: &[u8]) -> io::Result<()> {
    const GRAIN: usize = SPARSE_GRAIN;
    let zero = |j: usize| is_zero(&b[j..(j + GRAIN).min(b.len())]);
    let mut i = 0;
    while i < b.len() {
        let z = zero(i);
        let mut j = (i + GRAIN).min(b.len());
        while j < b.len() && zero(j) == z {
            j = (j + GRAIN).min(b.len());
        }
        if !z {
            file.write_all_at(&b[i..j], at + i as u64)?;
        }
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn zeros() {
        assert!(super::is_zero(&[0u8; 100]));
        for i in 0..100 {
            let mut b = [0u8; 100];
            b[i] = 1;
            assert!(!super::is_zero(&b), "{i}");
        }
        assert!(super::is_zero(&[]));
    }
}
