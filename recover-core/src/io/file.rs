//! Image files, memory-mapped: zero-copy slices for parsers and the scanner.

// Unsafe code is allowed here only, for memory-mapping image files (zero-copy reads); each block
// says why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};

use super::volume::{check_range, Volume};
use crate::error::Result;

/// A read-only memory map of a whole image file.
#[derive(Debug)]
pub struct MappedFile {
    name: String,
    /// `None` for an empty file, which cannot be mapped.
    map: Option<Mmap>,
    /// The file itself: large reads are served by pread, which copies from
    /// the page cache without taking a page fault per 4 KiB of mapping.
    file: File,
}

/// Reads at least this large go through pread rather than the mapping.
const PREAD_AT_LEAST: usize = 256 << 10;

impl MappedFile {
    /// Maps the regular file at `path`.
    pub fn open(path: &Path, name: String) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the file is opened read-only and mapped read-only. If
            // another process truncates it while it is mapped, reads past the
            // new end raise SIGBUS; that is why only regular files on local
            // filesystems are mapped, and why block devices and files on FUSE
            // or network filesystems (which fail with EIO) are read with pread.
            Some(unsafe { MmapOptions::new().map(&file)? })
        };
        Ok(MappedFile { name, map, file })
    }
}

impl MappedFile {
    /// `madvise(advice)` over the pages `offset..+len` touches, inside the
    /// mapping; advice that neither changes the bytes nor unmaps them.
    fn advise(&self, offset: u64, len: u64, advice: libc::c_int) {
        let Some(m) = &self.map else { return };
        let page = 4096u64;
        let start = offset / page * page;
        let end = offset
            .saturating_add(len)
            .div_ceil(page)
            .saturating_mul(page)
            .min(m.len() as u64);
        if start >= end {
            return;
        }
        // SAFETY: the range lies inside the live mapping (start < end <=
        // its length, start page-aligned), and the callers' advice
        // (POPULATE_READ, DONTNEED on a read-only file mapping) keeps every
        // address mapped to the same file bytes.
        unsafe {
            libc::madvise(
                m.as_ptr().add(start as usize) as *mut libc::c_void,
                (end - start) as usize,
                advice,
            );
        }
    }
}

impl Volume for MappedFile {
    fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        if buf.len() >= PREAD_AT_LEAST {
            use std::os::unix::fs::FileExt;
            return self
                .file
                .read_exact_at(buf, offset)
                .map_err(|source| crate::Error::Io {
                    layer: self.name.clone(),
                    offset,
                    source,
                });
        }
        if let Some(m) = &self.map {
            let s = offset as usize; // ok: checked against the map's length
            buf.copy_from_slice(&m[s..s + buf.len()]);
        }
        Ok(())
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        Some(self.map.as_deref().unwrap_or(&[]))
    }

    fn prefetch(&self, offset: u64, len: u64) {
        // MADV_POPULATE_READ (Linux 5.14): populate the page tables for the
        // range from the page cache in one call. Older kernels refuse it;
        // then the pages fault in as they are read.
        const MADV_POPULATE_READ: libc::c_int = 22;
        self.advise(offset, len, MADV_POPULATE_READ);
    }

    fn release(&self, offset: u64, len: u64) {
        // MADV_DONTNEED on a shared read-only file mapping only drops the
        // page-table entries: later reads of those addresses fault the same
        // file pages back in, so every slice handed out stays valid and
        // reads the same bytes. A page shared with bytes outside the range
        // that is still wanted only faults back in.
        self.advise(offset, len, libc::MADV_DONTNEED);
    }

    fn hole_at(&self, offset: u64) -> u64 {
        use std::os::fd::AsRawFd;
        let len = self.len();
        let Ok(at) = libc::off_t::try_from(offset) else {
            return 0;
        };
        if offset >= len {
            return 0;
        }
        // SEEK_DATA: where the next stored byte is, as the image file's
        // filesystem knows it (a sparse image's unwritten runs are holes).
        // Only the returned offset is used; reads are positioned (pread,
        // the mapping), so moving the descriptor's position changes
        // nothing.
        // SAFETY: lseek on a descriptor this value owns, with no memory.
        let data = unsafe { libc::lseek(self.file.as_raw_fd(), at, libc::SEEK_DATA) };
        if data < 0 {
            // ENXIO: no data from `offset` to the end; anything else
            // (a filesystem without SEEK_DATA): no hole known.
            return match io::Error::last_os_error().raw_os_error() {
                Some(libc::ENXIO) => len - offset,
                _ => 0,
            };
        }
        (data as u64).min(len).saturating_sub(offset)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
