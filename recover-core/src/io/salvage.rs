//! Reading through bad sectors.
//!
//! A read that fails with a media error is retried in halves, down to single
//! sectors; what still fails is zero-filled and its range recorded, so one
//! bad sector costs one sector of data, not the whole request, and the run
//! goes on. Memory-mapped sources cannot do this (a failed page is SIGBUS),
//! which is why sources that may fail are read with pread.

use std::io;
use std::ops::Range;
use std::sync::Mutex;

use super::volume::{check_range, Volume};
use crate::error::{Error, Result};

/// The lowest layer of a pread source: one attempt per call, no retries.
pub trait RawRead: Send + Sync {
    /// Length in bytes.
    fn raw_len(&self) -> u64;
    /// Exact read at `offset`; a short read is an error.
    fn pread(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// The same, for salvage reads: `offset` and `buf` are whole sectors
    /// (except at the very end), and `buf` is aligned to 4096 bytes, so a
    /// block device can use O_DIRECT and fail one sector at a time instead
    /// of one page-cache page.
    fn pread_salvage(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.pread(offset, buf)
    }
    /// Granularity of failure: the logical sector size.
    fn sector_size(&self) -> u32;
    /// Name for errors.
    fn describe(&self) -> String;
    /// Logical sector size the kernel reports, for block devices.
    fn device_sector_size(&self) -> Option<u32> {
        None
    }
}

/// Errors that mean "this range of the medium is unreadable", as opposed to
/// "the source is gone" or "the program is wrong".
pub fn is_media_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::ENODATA | libc::EBADMSG | libc::EILSEQ | libc::EREMOTEIO)
    )
}

/// A [`Volume`] over a [`RawRead`] that salvages what it can around media
/// errors and remembers what it could not.
#[derive(Debug)]
pub struct Salvaging<R> {
    raw: R,
    bad: Mutex<Vec<Range<u64>>>,
}

impl<R: RawRead> Salvaging<R> {
    /// Wraps `raw`.
    pub fn new(raw: R) -> Self {
        Salvaging {
            raw,
            bad: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped source.
    pub fn raw(&self) -> &R {
        &self.raw
    }

    fn record(&self, r: Range<u64>) {
        let mut bad = self.bad.lock().unwrap_or_else(|p| p.into_inner());
        insert_merged(&mut bad, r);
    }

    fn io_err(&self, offset: u64, source: io::Error) -> Error {
        Error::Io {
            layer: self.raw.describe(),
            offset,
            source,
        }
    }

    fn salvage(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let ss = u64::from(self.raw.sector_size().max(1));
        let end = offset + buf.len() as u64; // ok: checked by check_range
        let a0 = offset / ss * ss;
        let a1 = end.div_ceil(ss).saturating_mul(ss).min(self.raw.raw_len());
        let span = usize::try_from(a1 - a0)
            .map_err(|_| self.io_err(offset, io::Error::other("salvage span exceeds memory")))?;
        let mut store = vec![0u8; span + 4096];
        let skip = store.as_ptr().align_offset(4096).min(4096);
        let bounce = &mut store[skip..skip + span];
        self.bisect(a0, a0, a1, bounce, ss)?;
        let from = (offset - a0) as usize; // ok: < ss
        buf.copy_from_slice(&bounce[from..from + buf.len()]);
        Ok(())
    }

    /// Reads `lo..hi` into `bounce[lo-base..hi-base]`, halving on failure.
    fn bisect(&self, base: u64, lo: u64, hi: u64, bounce: &mut [u8], ss: u64) -> Result<()> {
        let (s, e) = ((lo - base) as usize, (hi - base) as usize); // ok: within span
        let window = &mut bounce[s..e]; // ok: s..e within the span
        match self.raw.pread_salvage(lo, window) {
            Ok(()) => Ok(()),
            Err(err) if !is_media_error(&err) => Err(self.io_err(lo, err)),
            Err(_) if hi - lo <= ss => {
                bounce[s..e].fill(0); // ok: s..e within the span
                self.record(lo..hi);
                Ok(())
            }
            Err(_) => {
                let mid = lo + (hi - lo) / ss / 2 * ss;
                let mid = if mid == lo { lo + ss } else { mid };
                self.bisect(base, lo, mid, bounce, ss)?;
                self.bisect(base, mid, hi, bounce, ss)
            }
        }
    }
}

/// Adds `r` to a sorted list of disjoint ranges, merging neighbours.
pub fn insert_merged(list: &mut Vec<Range<u64>>, r: Range<u64>) {
    if r.is_empty() {
        return;
    }
    let i = list.partition_point(|x| x.end < r.start);
    let mut j = i;
    let mut merged = r;
    while j < list.len() && list[j].start <= merged.end {
        merged.start = merged.start.min(list[j].start);
        merged.end = merged.end.max(list[j].end);
        j += 1;
    }
    list.splice(i..j, [merged]);
}

impl<R: RawRead> Volume for Salvaging<R> {
    fn len(&self) -> u64 {
        self.raw.raw_len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        match self.raw.pread(offset, buf) {
            Ok(()) => Ok(()),
            Err(e) if is_media_error(&e) => self.salvage(offset, buf),
            Err(e) => Err(self.io_err(offset, e)),
        }
    }

    fn describe(&self) -> String {
        self.raw.describe()
    }

    fn device_sector_size(&self) -> Option<u32> {
        self.raw.device_sector_size()
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        self.bad.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::faults::FaultyMedium;
    use proptest::prelude::*;

    #[test]
    fn merging() {
        let mut l = vec![];
        insert_merged(&mut l, 10..20);
        insert_merged(&mut l, 30..40);
        insert_merged(&mut l, 0..5);
        assert_eq!(l, vec![0..5, 10..20, 30..40]);
        insert_merged(&mut l, 20..30);
        assert_eq!(l, vec![0..5, 10..40]);
        insert_merged(&mut l, 3..50);
        assert_eq!(l, vec![0..50]);
    }

    #[test]
    fn other_errors_are_not_salvaged() {
        let m = FaultyMedium::new(vec![1u8; 4096], 512).failing(0..512, libc::ENODEV);
        let v = Salvaging::new(m);
        let mut b = [0u8; 1024];
        assert!(matches!(
            v.read_at(0, &mut b),
            Err(Error::Io { offset: 0, .. })
        ));
        assert!(v.bad_ranges().is_empty());
    }

    proptest! {
        /// Every readable byte comes through, every unreadable sector reads as
        /// zeros, and exactly the unreadable sectors are reported.
        #[test]
        fn salvage_keeps_every_readable_sector(
            sectors in 1u64..64,
            bad in proptest::collection::vec((0u64..64, 1u64..4), 0..6),
            reads in proptest::collection::vec((0u64..64 * 512, 1usize..8192), 1..8),
        ) {
            let len = sectors * 512;
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            let mut medium = FaultyMedium::new(data.clone(), 512);
            let mut expect_bad = Vec::new();
            for (s, n) in bad {
                let r = (s * 512).min(len)..((s + n) * 512).min(len);
                medium = medium.failing(r.clone(), libc::EIO);
                insert_merged(&mut expect_bad, r);
            }
            let v = Salvaging::new(medium);
            let mut touched = Vec::new();
            for (off, n) in reads {
                let off = off % len;
                let n = n.min((len - off) as usize);
                let mut buf = vec![0xAAu8; n];
                v.read_at(off, &mut buf).unwrap();
                for (i, b) in buf.iter().enumerate() {
                    let pos = off + i as u64;
                    let is_bad = expect_bad.iter().any(|r| r.contains(&pos));
                    prop_assert_eq!(*b, if is_bad { 0 } else { data[pos as usize] });
                }
                insert_merged(&mut touched, off / 512 * 512..(off + n as u64).div_ceil(512) * 512);
            }
            // Reported ranges: the bad sectors inside the sectors that were read.
            let mut want = Vec::new();
            for b in &expect_bad {
                for t in &touched {
                    let r = b.start.max(t.start)..b.end.min(t.end);
                    insert_merged(&mut want, r);
                }
            }
            let got = v.bad_ranges();
            // A failing read may cover a whole bad range even where only part
            // of it was asked for, so what is reported lies inside the bad
            // ranges and covers every bad sector that was read.
            for g in &got {
                prop_assert!(expect_bad.iter().any(|b| b.start <= g.start && g.end <= b.end));
            }
            for w in &want {
                prop_assert!(got.iter().any(|g| g.start <= w.start && w.end <= g.end));
            }
        }
    }
}
