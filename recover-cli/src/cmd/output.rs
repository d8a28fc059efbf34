//! Writing a volume to a file the user named: never over a source, never
//! over an existing file without --force, in parallel large blocks, with
//! runs of zeros left as holes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use recover_core::io::Volume;

use crate::progress::Progress;

/// Bytes per read: large enough for disk bandwidth and whole stripes of any
/// array, small enough to keep the progress bar moving.
pub const BLOCK: usize = 8 << 20;

/// An output file checked and opened.
pub struct Output {
    file: File,
    /// Holes may be punched (a fresh regular file, not a device).
    sparse: bool,
    /// Flushed to stable storage at the end (files and block devices; not
    /// pipes or /dev/null, which refuse fsync).
    sync: bool,
}

impl Output {
    /// Opens `path` for writing after checking it is none of `sources` and
    /// (without `force`) not an existing file.
    pub fn create(path: &Path, sources: &[PathBuf], force: bool) -> io::Result<Output> {
        refuse_overwriting_sources(sources, path)?;
        let meta = std::fs::metadata(path).ok();
        if meta.as_ref().is_some_and(|m| m.is_file()) && !force {
            return Err(io::Error::other(format!(
                "{}: exists; add --force to replace it",
                path.display()
            )));
        }
        // Holes only in regular files: a device, a pipe or /dev/null gets every byte.
        let regular = meta.as_ref().is_none_or(|m| m.is_file());
        let block = meta
            .as_ref()
            .is_some_and(|m| m.file_type().is_block_device());
        let file = if regular {
            File::create(path)?
        } else {
            OpenOptions::new().write(true).open(path)?
        };
        Ok(Output {
            file,
            sparse: regular,
            sync: regular || block,
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
    pub fn write_volume(self, vol: &dyn Volume, what: &str) -> io::Result<u64> {
        let progress = Progress::bytes(vol.len(), what);
        let n = self.write_volume_with(vol, &mut |pos| progress.set(pos))?;
        progress.finish();
        Ok(n)
    }

    /// [`Output::write_volume`], telling `done` how many bytes are written.
    pub fn write_volume_with(self, vol: &dyn Volume, done: &mut dyn FnMut(u64)) -> io::Result<u64> {
        let len = vol.len();
        let window = rayon::current_num_threads().max(1) * 2;
        // Whole stripes per block, so no stripe to rebuild is split.
        let align = vol.io_alignment().clamp(1, BLOCK as u64) as usize;
        let block = BLOCK / align * align;
        // Small files: buffers no larger than the file.
        let block = block.min((len.div_ceil(align as u64) * align as u64).max(1) as usize);
        // Two sets of buffers: while one batch is written (on this thread,
        // in order), the next is read into the other (in parallel). Writes
        // to one file serialize in the kernel anyway (the inode lock), so
        // one writer costs no time and spares the readers from waiting.
        let mut cur: Vec<Vec<u8>> = (0..window).map(|_| vec![0u8; block]).collect();
        let mut next: Vec<Vec<u8>> = (0..window).map(|_| vec![0u8; block]).collect();
        let batch_at = |pos: u64| -> Vec<(u64, usize)> {
            (0..window)
                .map(|i| pos + (i * block) as u64)
                .take_while(|&at| at < len)
                .map(|at| (at, (len - at).min(block as u64) as usize))
                .collect()
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
        let write = |bufs: &[Vec<u8>], batch: &[(u64, usize)]| -> io::Result<()> {
            for (b, &(at, n)) in bufs.iter().zip(batch) {
                let data = vol.slice_at(at, n as u64).unwrap_or(&b[..n]);
                if sparse {
                    write_at_sparse(file, at, data)?;
                } else {
                    (&*file).write_all(data)?;
                }
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
        if self.sparse {
            self.file.set_len(len)?;
        }
        if self.sync {
            self.file.sync_all()?;
        }
        Ok(len)
    }
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

/// Writes `b` at `at` in `file`, leaving 64 KiB runs of zeros unwritten
/// (holes in a fresh file) and writing the rest in as few calls as the
/// runs allow.
fn write_at_sparse(file: &File, at: u64, b: &[u8]) -> io::Result<()> {
    const GRAIN: usize = 64 << 10;
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

/// Refuses an output that is one of the sources (or a part of a split
/// source), however it is spelled: same device and inode.
pub fn refuse_overwriting_sources(sources: &[PathBuf], output: &Path) -> io::Result<()> {
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    for s in sources {
        let paths = recover_core::io::split::split_parts(s).unwrap_or_else(|| vec![s.clone()]);
        for p in paths {
            if let Ok(m) = std::fs::metadata(&p) {
                let same_file = m.dev() == out.dev() && m.ino() == out.ino();
                let same_device = m.file_type().is_block_device()
                    && out.file_type().is_block_device()
                    && m.rdev() == out.rdev();
                if same_file || same_device {
                    return Err(io::Error::other(format!(
                        "{}: is the source {}; refusing to write over a source",
                        output.display(),
                        p.display()
                    )));
                }
            }
        }
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
