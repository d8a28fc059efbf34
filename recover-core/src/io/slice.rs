//! A window onto another volume: a partition of its disk.

use super::origin::Origins;
use super::volume::{check_range, Volume, VolumeRef};
use crate::error::Result;

/// `len` bytes of `inner` starting at `offset`.
#[derive(Debug)]
pub struct Slice {
    inner: VolumeRef,
    offset: u64,
    len: u64,
    name: String,
}

impl Slice {
    /// The window `offset..offset+len` of `inner`, clipped to its end (a
    /// partition that claims more than the disk holds reads what there is;
    /// the caller reports the claim).
    pub fn new(inner: VolumeRef, offset: u64, len: u64, name: String) -> Self {
        let offset = offset.min(inner.len());
        let len = len.min(inner.len() - offset);
        Slice {
            inner,
            offset,
            len,
            name,
        }
    }

    /// Where the window starts in the inner volume.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Volume for Slice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        self.inner.read_at(self.offset + offset, buf)
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        let all = self.inner.as_bytes()?;
        let s = usize::try_from(self.offset).ok()?;
        all.get(s..s.checked_add(usize::try_from(self.len).ok()?)?)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn prefetch(&self, offset: u64, len: u64) {
        self.inner.prefetch(
            self.offset.saturating_add(offset),
            len.min(self.len.saturating_sub(offset)),
        );
    }

    fn device_sector_size(&self) -> Option<u32> {
        self.inner.device_sector_size()
    }

    fn release(&self, offset: u64, len: u64) {
        self.inner.release(
            self.offset.saturating_add(offset),
            len.min(self.len.saturating_sub(offset)),
        );
    }

    fn hole_at(&self, offset: u64) -> u64 {
        let left = self.len.saturating_sub(offset);
        self.inner
            .hole_at(self.offset.saturating_add(offset))
            .min(left)
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let len = len.min(self.len.saturating_sub(offset));
        let mut o = Origins::new();
        let at = self.offset.saturating_add(offset);
        o.add_shifted(self.inner.origins(at, len), self.offset, 0);
        o
    }
}
