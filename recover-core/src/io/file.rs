//! Image files, memory-mapped: zero-copy slices for parsers and the scanner.

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
}

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
        Ok(MappedFile { name, map })
    }
}

impl Volume for MappedFile {
    fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        if let Some(m) = &self.map {
            let s = offset as usize; // ok: checked against the map's length
            buf.copy_from_slice(&m[s..s + buf.len()]);
        }
        Ok(())
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        Some(self.map.as_deref().unwrap_or(&[]))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
