//! Bounded sampling of the members: which offsets to read (a fixed budget
//! per member, flat in the member's size) and the reads themselves, in
//! parallel. Every read the engine makes goes through [`Counted`], which
//! counts the bytes per member and refuses reads past a hard cap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::io::{Volume, VolumeRef};

/// The most the engine reads of one member, whatever its size.
pub const HARD_CAP: u64 = 1 << 30;

/// Bytes in one sample window.
pub const WINDOW: u64 = 2 << 20;

/// The head read whole: md data offsets and the array's first chunks lie there.
pub const HEAD: u64 = 8 << 20;

/// A member volume that counts what is read of it and refuses reads past a cap.
pub struct Counted {
    inner: VolumeRef,
    read: AtomicU64,
    cap: u64,
}

impl Counted {
    /// Wraps `inner`, allowing at most `cap` bytes of reads.
    pub fn new(inner: VolumeRef, cap: u64) -> Arc<Counted> {
        Arc::new(Counted {
            inner,
            read: AtomicU64::new(0),
            cap,
        })
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Counted({}, {} read)",
            self.inner.describe(),
            self.bytes_read()
        )
    }
}

impl Volume for Counted {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let n = buf.len() as u64;
        let before = self.read.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.cap {
            return Err(Error::corrupt(
                "RAID inference read budget",
                offset,
                format!("{} bytes of {} read already", before, self.inner.describe()),
            ));
        }
        self.inner.read_at(offset, buf)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Window start offsets for members of `len` bytes (the least of them) and
/// a budget of `budget` bytes: the head whole, a window at 128 MiB (md 1.2's
/// data offset on large members), then windows spread evenly. Sorted,
/// distinct, aligned to [`WINDOW`], each inside `len`.
pub fn plan(len: u64, budget: u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    let max_windows = (budget / WINDOW).clamp(1, 512);
    let mut o = 0;
    while o < len.min(HEAD) && (out.len() as u64) < max_windows {
        out.push(o);
        o += WINDOW;
    }
    if len > (128 << 20) && (out.len() as u64) < max_windows {
        out.push(128 << 20);
    }
    // Windows (the last one partial), spread evenly, the last always in:
    // a member's end holds a backup GPT, a linear array's last member.
    let total = len.div_ceil(WINDOW);
    let left = max_windows.saturating_sub(out.len() as u64);
    if left > 0 && total > 0 {
        for i in 0..left {
            let w = if left == 1 {
                total - 1
            } else {
                i * (total - 1) / (left - 1)
            };
            out.push(w.min(total - 1) * WINDOW);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|&w| w < len);
    out
}

/// Windows read around the middle of large members for RAID10 far copies.
const FAR_PROBES: u64 = 12;

/// Where RAID10 far=2 keeps the second copies of the head of members of
/// `len` bytes: half a member on, less half the data offset (up to 128
/// MiB) and the space kept at the end. Windows a little over a head apart
/// going down from the middle hold copies of the head whatever these are;
/// md 1.2's data offset on large members is 128 MiB, so the window there
/// has its copies a quarter of that past the middle.
pub fn far_probes(len: u64) -> Vec<u64> {
    let mid = (len / 2).next_multiple_of(WINDOW);
    let mut out: Vec<u64> = (0..FAR_PROBES)
        .filter_map(|k| mid.checked_sub(k * (HEAD - WINDOW)))
        .collect();
    if len > (256 << 20) {
        out.extend((0..3).map(|k| mid + (64 << 20) - k * WINDOW));
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|&w| w >= HEAD && w < len);
    out
}

/// The sampled bytes: the same windows of every member.
#[derive(Debug)]
pub struct Sample {
    /// Window starts (member offsets), sorted.
    pub starts: Vec<u64>,
    /// `data[member][window]`, each `min(WINDOW, len - start)` bytes.
    pub data: Vec<Vec<Vec<u8>>>,
    /// The least member length.
    pub len: u64,
}

impl Sample {
    /// Reads the windows `starts` of every member, in parallel; a window
    /// that cannot be read is left out for all members.
    pub fn read(members: &[Arc<Counted>], starts: &[u64]) -> Sample {
        let least = members.iter().map(|m| m.len()).min().unwrap_or(0);
        let jobs: Vec<(usize, usize)> = (0..members.len())
            .flat_map(|m| (0..starts.len()).map(move |w| (m, w)))
            .collect();
        let bufs: Vec<Option<Vec<u8>>> = jobs
            .par_iter()
            .map(|&(m, w)| {
                let s = *starts.get(w)?;
                let n = WINDOW.min(least.saturating_sub(s));
                let mut buf = vec![0u8; usize::try_from(n).ok()?];
                members.get(m)?.read_at(s, &mut buf).ok()?;
                Some(buf)
            })
            .collect();
        let keep: Vec<bool> = (0..starts.len())
            .map(|w| {
                (0..members.len()).all(
                    |m| matches!(bufs.get(m * starts.len() + w), Some(Some(b)) if !b.is_empty()),
                )
            })
            .collect();
        let mut data: Vec<Vec<Vec<u8>>> = vec![Vec::new(); members.len()];
        let mut it = bufs.into_iter();
        for d in data.iter_mut() {
            for k in &keep {
                let b = it.next().flatten();
                if *k {
                    d.push(b.unwrap_or_default());
                }
            }
        }
        let starts = starts
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| *s)
            .collect();
        Sample {
            starts,
            data,
            len: least,
        }
    }

    /// Members sampled.
    pub fn members(&self) -> usize {
        self.data.len()
    }

    /// `len` bytes of member `m` at member offset `off`, when they lie in
    /// one window.
    pub fn bytes(&self, m: usize, off: u64, len: usize) -> Option<&[u8]> {
        let i = self.starts.partition_point(|&s| s <= off).checked_sub(1)?;
        let win = self.data.get(m)?.get(i)?;
        let rel = usize::try_from(off - self.starts.get(i)?).ok()?;
        win.get(rel..rel.checked_add(len)?)
    }

    /// This sample's windows together with `more` (of the same members),
    /// in offset order; windows of `more` already held are left out. The
    /// windows are moved, not copied.
    pub fn merged(self, more: Sample) -> Sample {
        let mut starts: Vec<u64> = self.starts.clone();
        let keep: Vec<bool> = more
            .starts
            .iter()
            .map(|o| !self.starts.contains(o))
            .collect();
        starts.extend(
            more.starts
                .iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(&o, _)| o),
        );
        let mut order: Vec<usize> = (0..starts.len()).collect();
        order.sort_by_key(|&i| starts.get(i).copied());
        let data = self
            .data
            .into_iter()
            .zip(more.data)
            .map(|(mine, theirs)| {
                let mut all: Vec<Option<Vec<u8>>> = mine
                    .into_iter()
                    .chain(
                        theirs
                            .into_iter()
                            .zip(&keep)
                            .filter(|(_, &k)| k)
                            .map(|(w, _)| w),
                    )
                    .map(Some)
                    .collect();
                order
                    .iter()
                    .filter_map(|&i| all.get_mut(i).and_then(Option::take))
                    .collect()
            })
            .collect();
        Sample {
            starts: order
                .iter()
                .filter_map(|&i| starts.get(i).copied())
                .collect(),
            data,
            len: self.len,
        }
    }

    /// Adds a member whose bytes are the XOR of all the others (a missing
    /// RAID5 member, rebuilt from the sample).
    pub fn with_xor_member(&self) -> Sample {
        let mut data = self.data.clone();
        let mut x: Vec<Vec<u8>> = self
            .data
            .first()
            .map(|w| w.iter().map(|b| vec![0u8; b.len()]).collect())
            .unwrap_or_default();
        for m in &self.data {
            for (acc, win) in x.iter_mut().zip(m) {
                crate::raid::parity::xor_into(acc, win);
            }
        }
        data.push(std::mem::take(&mut x));
        Sample {
            starts: self.starts.clone(),
            data,
            len: self.len,
        }
    }
}

/// One member as the sample holds it: reads inside a sampled window are
/// served from memory, others fail. Candidates are assembled over these for
/// a first structural check that costs no I/O.
#[derive(Debug)]
pub struct SampledMember {
    starts: Vec<u64>,
    windows: Vec<Vec<u8>>,
    len: u64,
    name: String,
}

impl SampledMember {
    /// Member `m` of `s` (`len`: the member's length).
    pub fn new(s: &Sample, m: usize, len: u64) -> SampledMember {
        SampledMember {
            starts: s.starts.clone(),
            windows: s.data.get(m).cloned().unwrap_or_default(),
            len,
            name: format!("sampled member {m}"),
        }
    }
}

impl Volume for SampledMember {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let not_sampled = || Error::OutOfRange {
            layer: self.name.clone(),
            offset,
            len: buf.len() as u64,
            size: self.len,
        };
        let i = self
            .starts
            .partition_point(|&s| s <= offset)
            .checked_sub(1)
            .ok_or_else(not_sampled)?;
        let w = self.windows.get(i).ok_or_else(not_sampled)?;
        let rel = usize::try_from(offset - self.starts[i]).map_err(|_| not_sampled())?;
        let src = rel
            .checked_add(buf.len())
            .and_then(|end| w.get(rel..end))
            .ok_or_else(not_sampled)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn plans_are_bounded_sorted_and_inside(len in 0u64..(1u64 << 44), budget in 0u64..(1u64 << 32)) {
            let p = plan(len, budget);
            prop_assert!(p.len() as u64 <= (budget / WINDOW).clamp(1, 512));
            prop_assert!(p.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(p.iter().all(|&w| w < len && w % WINDOW == 0 || w == 128 << 20));
        }
    }

    #[test]
    fn the_head_is_read_whole() {
        let p = plan(1 << 40, 64 << 20);
        assert_eq!(&p[..4], &[0, WINDOW, 2 * WINDOW, 3 * WINDOW]);
        assert!(p.contains(&(128 << 20)));
        assert_eq!(p.last(), Some(&(((1u64 << 40) - 1) / WINDOW * WINDOW)));
        // The tail of a member whose length is not a multiple of a window.
        let len = 17 << 20;
        assert_eq!(plan(len, 64 << 20).last(), Some(&(16 << 20)));
    }
}
