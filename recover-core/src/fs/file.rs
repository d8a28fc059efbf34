//! A file's contents as a volume: its extents (runs) mapped onto the
//! filesystem's volume, holes and unwritten extents read as zeros.

use std::sync::Arc;

use crate::bytes::take_front;
use crate::error::{Error, Result};
use crate::io::{check_range, Origins, Volume, VolumeRef};

/// Where a run of a file's bytes lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Byte offset within the file.
    pub logical: u64,
    /// Length in bytes.
    pub len: u64,
    /// Byte offset within the filesystem's volume; `None` reads as zeros
    /// (a hole, an unwritten extent).
    pub physical: Option<u64>,
}

/// Collects a file's extents in any order, merges neighbours and checks
/// them against the volume before a [`FileVolume`] is made.
#[derive(Debug, Default)]
pub struct ExtentList {
    extents: Vec<Extent>,
}

/// More extents than this in one file is damage (a 16 TiB file of 4 KiB
/// fragments would have a billion; real ones stay far below): the list
/// stops growing instead of exhausting memory.
pub const MAX_EXTENTS: usize = 1 << 24;

impl ExtentList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a run; merges it with the previous one when it continues it.
    /// False when the list is full ([`MAX_EXTENTS`]).
    pub fn push(&mut self, e: Extent) -> bool {
        if e.len == 0 {
            return true;
        }
        if let Some(last) = self.extents.last_mut() {
            let contiguous = last.logical.checked_add(last.len) == Some(e.logical)
                && match (last.physical, e.physical) {
                    (Some(a), Some(b)) => a.checked_add(last.len) == Some(b),
                    (None, None) => true,
                    _ => false,
                };
            if contiguous {
                last.len += e.len;
                return true;
            }
        }
        if self.extents.len() >= MAX_EXTENTS {
            return false;
        }
        self.extents.push(e);
        true
    }

    /// Number of runs so far.
    pub fn len(&self) -> usize {
        self.extents.len()
    }

    /// True when no run was added.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The file volume of `size` bytes over `base`. Runs are sorted; a run
    /// that overlaps an earlier one, or lies past the end of `base`, is an
    /// error naming `what` (the file) and the run.
    pub fn build(mut self, base: VolumeRef, size: u64, name: String) -> Result<FileVolume> {
        self.extents.sort_by_key(|e| e.logical);
        let mut end = 0u64;
        for e in &self.extents {
            if e.logical < end {
                return Err(Error::corrupt(
                    "file extent",
                    e.physical.unwrap_or(0),
                    format!(
                        "{name}: run at file offset {:#x} overlaps the one before",
                        e.logical
                    ),
                ));
            }
            end = e.logical.checked_add(e.len).ok_or_else(|| {
                Error::corrupt("file extent", 0, format!("{name}: run length overflows"))
            })?;
            if let Some(p) = e.physical {
                if p.checked_add(e.len).is_none_or(|pe| pe > base.len()) {
                    return Err(Error::corrupt(
                        "file extent",
                        p,
                        format!(
                            "{name}: {} bytes at file offset {:#x} lie past the end of the filesystem ({:#x})",
                            e.len,
                            e.logical,
                            base.len()
                        ),
                    ));
                }
            }
        }
        // Runs past the file's size are never read (preallocated space).
        Ok(FileVolume {
            base,
            size,
            extents: self.extents,
            name,
        })
    }
}

/// The contents of a file.
#[derive(Debug)]
pub struct FileVolume {
    base: VolumeRef,
    size: u64,
    extents: Vec<Extent>,
    name: String,
}

impl FileVolume {
    /// The runs, in file order.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Bytes of the file that are stored (not holes), up to its size.
    pub fn stored_bytes(&self) -> u64 {
        self.extents
            .iter()
            .filter(|e| e.physical.is_some() && e.logical < self.size)
            .map(|e| e.len.min(self.size - e.logical))
            .sum()
    }

    /// As a shared volume.
    pub fn into_ref(self) -> VolumeRef {
        Arc::new(self)
    }

    /// The stored runs of `offset..+len` (holes and unwritten runs left
    /// out), as (file offset, offset in the filesystem's volume, length).
    fn stored(&self, offset: u64, len: u64) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let end = offset.saturating_add(len).min(self.size);
        let first = self
            .extents
            .partition_point(|e| e.logical.saturating_add(e.len) <= offset);
        self.extents
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |e| e.logical < end)
            .filter_map(move |e| {
                let p = e.physical?;
                let s = offset.max(e.logical);
                let n = end.min(e.logical.saturating_add(e.len)).checked_sub(s)?;
                Some((s, p + (s - e.logical), n))
            })
    }
}

impl Volume for FileVolume {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let mut pos = offset;
        let mut out = buf;
        // The first run that ends after `pos`.
        let mut i = self
            .extents
            .partition_point(|e| e.logical.saturating_add(e.len) <= pos);
        while !out.is_empty() {
            let next = self.extents.get(i);
            let n = match next {
                Some(e) if e.logical <= pos => {
                    let within = pos - e.logical;
                    let part = take_front(&mut out, e.len - within);
                    match e.physical {
                        Some(p) => self.base.read_at(p + within, part)?,
                        None => part.fill(0),
                    }
                    i += 1;
                    part.len()
                }
                // A hole up to the next run, or to the end.
                _ => {
                    let gap = next.map_or(u64::MAX, |e| e.logical - pos);
                    let part = take_front(&mut out, gap);
                    part.fill(0);
                    part.len()
                }
            };
            pos += n as u64;
        }
        Ok(())
    }

    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let i = self
            .extents
            .partition_point(|e| e.logical.saturating_add(e.len) <= offset);
        let e = self.extents.get(i)?;
        let within = offset.checked_sub(e.logical)?;
        if within.checked_add(len)? > e.len || offset.checked_add(len)? > self.size {
            return None;
        }
        self.base.slice_at(e.physical?.checked_add(within)?, len)
    }

    fn prefetch(&self, offset: u64, len: u64) {
        let i = self
            .extents
            .partition_point(|e| e.logical.saturating_add(e.len) <= offset);
        if let Some((e, p)) = self.extents.get(i).and_then(|e| Some((e, e.physical?))) {
            let within = offset.saturating_sub(e.logical);
            self.base
                .prefetch(p + within, len.min(e.len.saturating_sub(within)));
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn release(&self, offset: u64, len: u64) {
        for (_, at, n) in self.stored(offset, len) {
            self.base.release(at, n);
        }
    }

    fn hole_at(&self, offset: u64) -> u64 {
        let mut pos = offset;
        let mut i = self
            .extents
            .partition_point(|e| e.logical.saturating_add(e.len) <= pos);
        while pos < self.size {
            match self.extents.get(i) {
                // Stored bytes: the hole (if any) ends here.
                Some(e) if e.logical <= pos && e.physical.is_some() => break,
                // An unwritten run.
                Some(e) if e.logical <= pos => {
                    pos = e.logical.saturating_add(e.len);
                    i += 1;
                }
                // No run until the next one, or the end.
                next => pos = next.map_or(self.size, |e| e.logical),
            }
        }
        pos.min(self.size).saturating_sub(offset)
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let mut o = Origins::new();
        for (s, at, n) in self.stored(offset, len) {
            o.add_shifted(self.base.origins(at, n), at, s);
        }
        o
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use proptest::prelude::*;

    fn base() -> VolumeRef {
        Arc::new(MemVolume::new(
            "base",
            (0..4096u32)
                .map(|i| (i % 251) as u8 + 1)
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn holes_are_named() {
        let mut l = ExtentList::new();
        l.push(Extent {
            logical: 100,
            len: 50,
            physical: Some(1000),
        });
        l.push(Extent {
            logical: 150,
            len: 50,
            physical: None,
        });
        l.push(Extent {
            logical: 300,
            len: 10,
            physical: Some(2000),
        });
        let f = l.build(base(), 400, "f".into()).unwrap();
        assert_eq!(f.hole_at(0), 100);
        assert_eq!(f.hole_at(120), 0);
        assert_eq!(f.hole_at(150), 150);
        assert_eq!(f.hole_at(310), 90);
        assert_eq!(f.hole_at(500), 0);
    }

    #[test]
    fn runs_holes_and_tail() {
        let mut l = ExtentList::new();
        l.push(Extent {
            logical: 100,
            len: 50,
            physical: Some(1000),
        });
        l.push(Extent {
            logical: 0,
            len: 10,
            physical: Some(0),
        });
        l.push(Extent {
            logical: 150,
            len: 10,
            physical: None,
        });
        let f = l.build(base(), 300, "f".into()).unwrap();
        let mut b = vec![0xAAu8; 300];
        f.read_at(0, &mut b).unwrap();
        let mut want = vec![0u8; 300];
        let src = base();
        src.read_at(0, &mut want[..10]).unwrap();
        src.read_at(1000, &mut want[100..150]).unwrap();
        assert_eq!(b, want);
        assert!(f.read_at(290, &mut [0u8; 11]).is_err());
        assert_eq!(f.stored_bytes(), 60);
    }

    #[test]
    fn bad_runs_are_errors() {
        let mut l = ExtentList::new();
        l.push(Extent {
            logical: 0,
            len: 10,
            physical: Some(4090),
        });
        assert!(l.build(base(), 10, "f".into()).is_err());
        let mut l = ExtentList::new();
        l.push(Extent {
            logical: 0,
            len: 10,
            physical: Some(0),
        });
        l.push(Extent {
            logical: 5,
            len: 10,
            physical: Some(100),
        });
        assert!(l.build(base(), 10, "f".into()).is_err());
        let mut l = ExtentList::new();
        l.push(Extent {
            logical: u64::MAX - 1,
            len: 10,
            physical: None,
        });
        assert!(l.build(base(), 10, "f".into()).is_err());
    }

    proptest! {
        /// Any read equals the same bytes read one at a time from a
        /// byte-by-byte model of the runs.
        #[test]
        fn reads_match_a_byte_model(
            runs in proptest::collection::vec((0u64..64, 1u64..64, proptest::option::of(0u64..3000)), 0..12),
            off in 0u64..900, len in 0usize..400,
        ) {
            let mut l = ExtentList::new();
            let mut model = vec![0u8; 1000];
            let b = base();
            let mut at = 0u64;
            for (gap, n, phys) in runs {
                at += gap;
                if at + n > 1000 { break; }
                l.push(Extent { logical: at, len: n, physical: phys });
                if let Some(p) = phys {
                    b.read_at(p, &mut model[at as usize..(at + n) as usize]).unwrap();
                }
                at += n;
            }
            let f = l.build(b, 1000, "f".into()).unwrap();
            let len = len.min(1000 - off as usize);
            let mut got = vec![0xEEu8; len];
            f.read_at(off, &mut got).unwrap();
            prop_assert_eq!(&got[..], &model[off as usize..off as usize + len]);
            // Zero-copy, where the range lies in one stored run.
            if let Some(s) = f.slice_at(off, len as u64) {
                prop_assert_eq!(s, &model[off as usize..off as usize + len]);
            }
        }
    }
}
