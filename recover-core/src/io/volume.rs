//! The one abstraction everything readable shares.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::origin::{Origin, Origins};
use crate::error::{Error, Result};

/// A read-only, random-access run of bytes with a known length: a disk image,
/// a block device, a partition, and later an array, a logical volume, a file
/// inside a filesystem or a VM image's virtual disk.
///
/// Reads are positional and take `&self`, so one volume can be shared by
/// threads (rayon) and by the layers stacked on it.
pub trait Volume: Send + Sync {
    /// Length in bytes.
    fn len(&self) -> u64;

    /// Fills `buf` with the bytes at `offset`. A read that does not fit inside
    /// the volume is an [`Error::OutOfRange`], never a short read.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// All the bytes, when the volume is memory-mapped (zero-copy).
    fn as_bytes(&self) -> Option<&[u8]> {
        None
    }

    /// A short name for error chains, such as `d0/gpt/p2`.
    fn describe(&self) -> String;

    /// `len` bytes at `offset` without a copy, when they lie contiguous in
    /// mapped memory (a mapped image, a slice of one, a file's extent in
    /// one); `None` otherwise, or when the range is out of bounds.
    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let all = self.as_bytes()?;
        let s = usize::try_from(offset).ok()?;
        all.get(s..s.checked_add(usize::try_from(len).ok()?)?)
    }

    /// The logical sector size the kernel reports, for block devices.
    fn device_sector_size(&self) -> Option<u32> {
        None
    }

    /// Byte ranges that could not be read and were zero-filled, so far.
    fn bad_ranges(&self) -> Vec<Range<u64>> {
        Vec::new()
    }

    /// The read size that suits this volume best, for bulk copies: a full
    /// stripe for arrays (a block boundary then never splits a stripe that
    /// must be rebuilt); 1 when it does not matter.
    fn io_alignment(&self) -> u64 {
        1
    }

    /// A hint that `len` bytes at `offset` are about to be read through
    /// [`Volume::as_bytes`]: a mapped file faults them in with one call
    /// instead of a page fault per page.
    fn prefetch(&self, _offset: u64, _len: u64) {}

    /// A hint that `len` bytes at `offset` have been read and will not be
    /// needed again soon: a mapped file drops those pages from the
    /// process (the page cache keeps them), so a pass over a disk does not
    /// leave the process as large as the disk.
    fn release(&self, _offset: u64, _len: u64) {}

    /// How many bytes from `offset` are known to read as zeros without
    /// being stored anywhere (a hole of a thin file); 0 when they may hold
    /// data, or when the volume cannot tell. A copy skips what this names
    /// instead of reading it.
    fn hole_at(&self, _offset: u64) -> u64 {
        0
    }

    /// How the bytes of `offset..offset+len` were obtained where that was
    /// not by reading them as stored: rebuilt from parity, read from a
    /// mirror, zeros for unreadable or missing data. Layers answer in their
    /// own coordinates by asking the layers below; the default reports this
    /// volume's [`Volume::bad_ranges`] as unreadable. Complete for bytes
    /// already read (bad sectors are found by reading them).
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let mut o = Origins::new();
        o.add_clipped(
            &self.bad_ranges(),
            offset..offset.saturating_add(len),
            Origin::Unreadable,
        );
        o
    }

    /// True for a zero-length volume.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This volume as [`Any`](std::any::Any), for a reader that opens a
    /// volume of its own kind differently (a gathered set of Btrfs
    /// devices); `None` for the others.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A shared handle on a volume; layers hold the one below this way.
pub type VolumeRef = Arc<dyn Volume>;

impl std::fmt::Debug for dyn Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Volume({}, {} bytes)", self.describe(), self.len())
    }
}

/// Checks that `len` bytes at `offset` fit in a volume of `size` bytes.
pub fn check_range(layer: &dyn Volume, offset: u64, len: u64) -> Result<()> {
    let size = layer.len();
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::OutOfRange {
            layer: layer.describe(),
            offset,
            len,
            size,
        }),
    }
}

/// The bytes at `offset`: borrowed when the volume is mapped, read into a
/// new buffer otherwise. `len` must already be bounded by the caller; this
/// never reads past the end.
pub fn bytes_at(vol: &dyn Volume, offset: u64, len: usize) -> Result<Cow<'_, [u8]>> {
    check_range(vol, offset, len as u64)?;
    if let Some(all) = vol.as_bytes() {
        let start = usize::try_from(offset).ok();
        if let Some(s) = start.and_then(|s| all.get(s..s.checked_add(len)?)) {
            return Ok(Cow::Borrowed(s));
        }
    }
    let mut buf = vec![0u8; len];
    vol.read_at(offset, &mut buf)?;
    Ok(Cow::Owned(buf))
}

/// Up to `len` bytes at `offset`, fewer when the volume ends first (none
/// when `offset` is past the end).
pub fn bytes_up_to(vol: &dyn Volume, offset: u64, len: usize) -> Result<Cow<'_, [u8]>> {
    let avail = vol.len().saturating_sub(offset);
    if avail == 0 {
        return Ok(Cow::Borrowed(&[]));
    }
    let len = len.min(usize::try_from(avail).unwrap_or(usize::MAX));
    bytes_at(vol, offset, len)
}

/// A volume over bytes in memory: tests, fuzzing, small decoded structures.
#[derive(Debug, Clone)]
pub struct MemVolume {
    name: String,
    data: Arc<[u8]>,
}

impl MemVolume {
    /// Wraps `data` under the name `name`.
    pub fn new(name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Self {
        MemVolume {
            name: name.into(),
            data: data.into(),
        }
    }
}

impl Volume for MemVolume {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let start = offset as usize; // ok: checked against len, which is a usize
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        Ok(())
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        Some(&self.data)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_errors() {
        let v = MemVolume::new("m", vec![7u8; 10]);
        let mut b = [0u8; 4];
        assert!(v.read_at(6, &mut b).is_ok());
        assert!(matches!(
            v.read_at(7, &mut b),
            Err(Error::OutOfRange { offset: 7, .. })
        ));
        assert!(v.read_at(u64::MAX, &mut b).is_err());
        assert_eq!(bytes_up_to(&v, 8, 100).unwrap().len(), 2);
        assert_eq!(bytes_up_to(&v, 80, 100).unwrap().len(), 0);
    }
}

/// Bytes that read as zeros: a stretch of a volume whose data is gone (an
/// LV's extents on a missing PV) or was never written.
#[derive(Debug)]
pub struct Zeros {
    len: u64,
    name: String,
    /// Standing in for data that is gone, rather than for a range that
    /// holds zeros by design.
    missing: bool,
}

impl Zeros {
    /// `len` zero bytes, named `name` in errors.
    pub fn new(len: u64, name: String) -> Self {
        Zeros {
            len,
            name,
            missing: false,
        }
    }

    /// `len` zero bytes in place of data on a device that is missing; its
    /// [`Volume::origins`] says so.
    pub fn missing(len: u64, name: String) -> Self {
        Zeros {
            len,
            name,
            missing: true,
        }
    }
}

impl Volume for Zeros {
    fn len(&self) -> u64 {
        self.len
    }

    fn hole_at(&self, offset: u64) -> u64 {
        self.len.saturating_sub(offset)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        buf.fill(0);
        Ok(())
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let mut o = Origins::new();
        if self.missing {
            let end = offset.saturating_add(len).min(self.len);
            o.add(offset.min(end)..end, Origin::Missing);
        }
        o
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
