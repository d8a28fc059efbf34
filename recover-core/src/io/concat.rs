//! Volumes end to end: split raw images (disk.001, disk.002, ...), and later
//! linear arrays and multi-segment logical volumes.

use std::ops::Range;

use super::origin::Origins;
use super::volume::{check_range, Volume, VolumeRef};
use crate::error::Result;

/// Parts read as one volume, in order.
#[derive(Debug)]
pub struct Concat {
    parts: Vec<VolumeRef>,
    /// Start of each part in the whole; `starts[i+1] - starts[i]` is part i's length.
    starts: Vec<u64>,
    name: String,
}

impl Concat {
    /// Joins `parts` in order.
    pub fn new(parts: Vec<VolumeRef>, name: String) -> Self {
        let mut starts = Vec::with_capacity(parts.len() + 1);
        let mut at = 0u64;
        starts.push(0);
        for p in &parts {
            at = at.saturating_add(p.len());
            starts.push(at);
        }
        Concat {
            parts,
            starts,
            name,
        }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[VolumeRef] {
        &self.parts
    }
}

impl Volume for Concat {
    fn len(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let mut pos = offset;
        let mut done = 0usize;
        // The part holding `pos`: the last start that is <= pos, skipping empty parts.
        let mut i = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        while done < buf.len() {
            let (start, end) = (self.starts[i], self.starts[i + 1]);
            let n = ((end - pos) as usize).min(buf.len() - done);
            if n > 0 {
                self.parts[i].read_at(pos - start, &mut buf[done..done + n])?;
            }
            done += n;
            pos += n as u64;
            i += 1;
        }
        Ok(())
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [one] => one.as_bytes(),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn release(&self, offset: u64, len: u64) {
        let end = offset.saturating_add(len);
        for (p, w) in self.parts.iter().zip(self.starts.windows(2)) {
            let (s, e) = (offset.max(w[0]), end.min(w[1])); // ok: windows(2)
            if s < e {
                p.release(s - w[0], e - s);
            }
        }
    }

    fn hole_at(&self, offset: u64) -> u64 {
        // Holes that continue across parts add up.
        let mut pos = offset;
        let mut i = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        while let (Some(p), Some(&start), Some(&end)) = (
            self.parts.get(i),
            self.starts.get(i),
            self.starts.get(i + 1),
        ) {
            if pos >= end {
                i += 1;
                continue;
            }
            let h = p.hole_at(pos - start).min(end - pos);
            pos += h;
            if pos < end {
                break;
            }
            i += 1;
        }
        pos - offset
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        let mut all = Vec::new();
        for (p, &s) in self.parts.iter().zip(&self.starts) {
            all.extend(p.bad_ranges().into_iter().map(|r| r.start + s..r.end + s));
        }
        all
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len());
        let mut o = Origins::new();
        let mut i = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        while let (Some(p), Some(&start), Some(&stop)) = (
            self.parts.get(i),
            self.starts.get(i),
            self.starts.get(i + 1),
        ) {
            if start >= end {
                break;
            }
            let (s, e) = (offset.max(start), end.min(stop));
            if s < e {
                o.add_shifted(p.origins(s - start, e - s), 0, start);
            }
            i += 1;
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::slice::Slice;
    use crate::io::volume::MemVolume;
    use proptest::prelude::*;
    use std::sync::Arc;

    proptest! {
        /// Any split of a buffer into parts reads back as the buffer, and a
        /// slice of it as the same range of the buffer.
        #[test]
        fn concat_and_slice_read_like_the_whole(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
            reads in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..10),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            points.push(0);
            points.push(data.len());
            points.sort();
            let parts: Vec<VolumeRef> = points
                .windows(2)
                .map(|w| Arc::new(MemVolume::new("p", data[w[0]..w[1]].to_vec())) as VolumeRef)
                .collect();
            let whole: VolumeRef = Arc::new(Concat::new(parts, "c".into()));
            prop_assert_eq!(whole.len(), data.len() as u64);
            for (a, b) in reads {
                let a = a.index(data.len() + 1);
                let b = b.index(data.len() + 1);
                let (lo, hi) = (a.min(b), a.max(b));
                let mut buf = vec![0u8; hi - lo];
                whole.read_at(lo as u64, &mut buf).unwrap();
                prop_assert_eq!(&buf[..], &data[lo..hi]);
                let s = Slice::new(whole.clone(), lo as u64, (hi - lo) as u64, "s".into());
                let mut buf2 = vec![0u8; hi - lo];
                s.read_at(0, &mut buf2).unwrap();
                prop_assert_eq!(&buf2[..], &data[lo..hi]);
                prop_assert!(s.read_at(1, &mut buf2).is_err() || hi == lo);
            }
        }
    }
}
