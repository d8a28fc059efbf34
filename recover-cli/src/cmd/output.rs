//! Writing a volume to a file the user named: never over a source, never
//! over an existing file without --force, in parallel large blocks, with
//! runs of zeros left as holes.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
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

    /// Writes all of `vol`: blocks read in parallel (a window of a few per
    /// thread, so memory stays bounded), written in order.
    pub fn write_volume(self, vol: &dyn Volume, what: &str) -> io::Result<u64> {
        let progress = Progress::bytes(vol.len(), what);
        let n = self.write_volume_with(vol, &mut |pos| progress.set(pos))?;
        progress.finish();
        Ok(n)
    }

    /// [`Output::write_volume`], telling `done` how many bytes are written.
    pub fn write_volume_with(
        mut self,
        vol: &dyn Volume,
        done: &mut dyn FnMut(u64),
    ) -> io::Result<u64> {
        let len = vol.len();
        let window = rayon::current_num_threads().max(1) * 2;
        // Whole stripes per block, so no stripe to rebuild is split.
        let align = vol.io_alignment().clamp(1, BLOCK as u64) as usize;
        let block = BLOCK / align * align;
        // Small files: buffers no larger than the file.
        let block = block.min((len.div_ceil(align as u64) * align as u64).max(1) as usize);
        let mut bufs: Vec<Vec<u8>> = (0..window).map(|_| vec![0u8; block]).collect();
        let mut pos = 0u64;
        while pos < len {
            let batch: Vec<(u64, usize)> = (0..window)
                .map(|i| pos + (i * block) as u64)
                .take_while(|&at| at < len)
                .map(|at| (at, (len - at).min(block as u64) as usize))
                .collect();
            // Ranges lying in mapped memory are written from there (one
            // copy fewer); the rest is read into the buffers in parallel.
            let mapped: Vec<Option<&[u8]>> = batch
                .iter()
                .map(|&(at, n)| vol.slice_at(at, n as u64))
                .collect();
            bufs[..batch.len()]
                .par_iter_mut()
                .zip(batch.par_iter().zip(mapped.par_iter()))
                .try_for_each(|(b, (&(at, n), m))| match m {
                    Some(_) => Ok(()),
                    None => vol.read_at(at, &mut b[..n]),
                })
                .map_err(io::Error::other)?;
            for (&(at, n), m) in batch.iter().zip(&mapped) {
                if m.is_some() {
                    vol.prefetch(at, n as u64);
                }
            }
            for ((b, &(_, n)), m) in bufs.iter().zip(&batch).zip(&mapped) {
                match m {
                    Some(s) => self.write_sparse(s)?,
                    None => self.write_sparse(&b[..n])?,
                }
                pos += n as u64;
                done(pos);
            }
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

impl Output {
    /// Writes `b` at the current position, seeking over 64 KiB runs of
    /// zeros (holes in a fresh file) and writing the rest in as few calls
    /// as the runs allow.
    fn write_sparse(&mut self, b: &[u8]) -> io::Result<()> {
        const GRAIN: usize = 64 << 10;
        if !self.sparse {
            return self.file.write_all(b);
        }
        let mut i = 0;
        while i < b.len() {
            let zero = |j: usize| b[j..(j + GRAIN).min(b.len())].iter().all(|&x| x == 0);
            let z = zero(i);
            let mut j = i;
            while j < b.len() && zero(j) == z {
                j = (j + GRAIN).min(b.len());
            }
            if z {
                self.file.seek(SeekFrom::Current((j - i) as i64))?;
            } else {
                self.file.write_all(&b[i..j])?;
            }
            i = j;
        }
        Ok(())
    }
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
