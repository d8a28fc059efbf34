//! The file allocation table and cluster chains, for FAT12/16/32 and
//! exFAT alike.
//!
//! fatgen103 "FAT Data Structure": entry `n` of the FAT describes cluster
//! `n`; FAT12 packs two 12-bit entries in three bytes (entry at byte
//! `n + n/2`, the high 12 bits of the 16-bit word for odd `n`), FAT16 has
//! 16-bit entries, FAT32 32-bit entries of which the top 4 bits are
//! reserved (masked with 0x0FFFFFFF). Values: 0 free, 2..=max a next
//! cluster, BAD (0xFF7 / 0xFFF7 / 0x0FFFFFF7) a bad cluster, >= 0xFF8 /
//! 0xFFF8 / 0x0FFFFFF8 end of chain. exFAT spec §4.1: 32-bit entries,
//! 0xFFFFFFF7 bad, 0xFFFFFFFF end of chain, 0xFFFFFFF8..=0xFFFFFFFE
//! invalid. Clusters 0 and 1 never hold data in either.
//!
//! Chains come from untrusted bytes and can loop: every walk is bounded by
//! a cluster limit the caller sets (never more than the cluster count),
//! and a cluster met twice ends the walk as [`Stop::Loop`].

use std::collections::BTreeMap;

use crate::bytes::Bytes;
use crate::error::Result;
use crate::io::{bytes_at, VolumeRef};

/// The entry width and the special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatKind {
    /// 12-bit packed entries.
    Fat12,
    /// 16-bit entries.
    Fat16,
    /// 28 useful bits in 32.
    Fat32,
    /// 32-bit entries, exFAT values.
    ExFat,
}

impl FatKind {
    /// Bits per entry as stored.
    pub fn bits(self) -> u64 {
        match self {
            FatKind::Fat12 => 12,
            FatKind::Fat16 => 16,
            FatKind::Fat32 | FatKind::ExFat => 32,
        }
    }

    /// The bad-cluster mark.
    fn bad(self) -> u32 {
        match self {
            FatKind::Fat12 => 0xFF7,
            FatKind::Fat16 => 0xFFF7,
            FatKind::Fat32 => 0x0FFF_FFF7,
            FatKind::ExFat => 0xFFFF_FFF7,
        }
    }

    /// True for an end-of-chain value.
    fn is_end(self, v: u32) -> bool {
        match self {
            FatKind::Fat12 => v >= 0xFF8,
            FatKind::Fat16 => v >= 0xFFF8,
            FatKind::Fat32 => v >= 0x0FFF_FFF8,
            FatKind::ExFat => v == 0xFFFF_FFFF,
        }
    }

    /// The highest cluster number an entry can name.
    pub fn max_cluster(self) -> u32 {
        self.bad() - 1
    }
}

/// What a FAT entry says comes after its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The next cluster of the chain.
    Cluster(u32),
    /// End of chain.
    End,
    /// Free (0): the chain was cut.
    Free,
    /// Marked bad.
    Bad,
    /// A value that names no data cluster (1, past the last cluster, or a
    /// reserved value).
    Invalid(u32),
}

impl std::fmt::Display for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Cluster(c) => write!(f, "cluster {c}"),
            Next::End => write!(f, "end of chain"),
            Next::Free => write!(f, "a free entry"),
            Next::Bad => write!(f, "a bad-cluster mark"),
            Next::Invalid(v) => write!(f, "{v:#x}, which names no data cluster"),
        }
    }
}

/// A run of consecutive clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First cluster.
    pub first: u32,
    /// Number of clusters.
    pub count: u32,
}

/// Why a chain walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// An end-of-chain mark after the last cluster.
    End,
    /// The limit was reached; the last cluster's entry says `next`.
    Limit(Next),
    /// The entry of cluster `after` (the last one taken) is not a link:
    /// free, bad or invalid.
    Broken {
        /// The cluster whose entry is wrong.
        after: u32,
        /// What it says.
        next: Next,
    },
    /// The entry of cluster `after` points back to `to`, already in the
    /// chain.
    Loop {
        /// The cluster whose entry closes the loop.
        after: u32,
        /// The cluster met again.
        to: u32,
    },
}

/// The clusters of a chain, in order, and how it ended.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Runs in chain order.
    pub runs: Vec<Run>,
    /// Clusters in all runs.
    pub clusters: u64,
    /// How the walk ended.
    pub stop: Stop,
}

/// Bytes of the FAT read at a time by a walk.
const WINDOW: u64 = 64 << 10;

/// The part of the FAT a walk read last (one window serves one table).
#[derive(Debug, Default)]
pub struct Window {
    start: u64,
    data: Vec<u8>,
}

/// One copy of the FAT on its volume.
#[derive(Debug, Clone)]
pub struct FatTable {
    vol: VolumeRef,
    /// Byte offset of the table within the volume.
    offset: u64,
    /// Length of the table in bytes.
    len: u64,
    kind: FatKind,
    /// Highest data cluster number (cluster count + 1, clamped to what
    /// the table holds).
    max_cluster: u32,
}

impl FatTable {
    /// The table of `len` bytes at `offset`, for a filesystem whose
    /// highest data cluster is `max_cluster` (clamped here to the entries
    /// the table has room for and the kind can name).
    pub fn new(vol: VolumeRef, offset: u64, len: u64, kind: FatKind, max_cluster: u64) -> Self {
        let entries = len.saturating_mul(8) / kind.bits();
        let max = max_cluster
            .min(entries.saturating_sub(1))
            .min(u64::from(kind.max_cluster()));
        FatTable {
            vol,
            offset,
            len,
            kind,
            max_cluster: u32::try_from(max).unwrap_or(0), // ok: max <= kind.max_cluster()
        }
    }

    /// The highest data cluster number.
    pub fn max_cluster(&self) -> u32 {
        self.max_cluster
    }

    /// Number of data clusters (2..=max).
    pub fn cluster_count(&self) -> u64 {
        u64::from(self.max_cluster).saturating_sub(1)
    }

    /// True when `c` is a data cluster.
    pub fn is_data(&self, c: u32) -> bool {
        (2..=self.max_cluster).contains(&c)
    }

    /// Byte offset within the volume of the entry of cluster `c`.
    pub fn entry_offset(&self, c: u32) -> u64 {
        let c = u64::from(c);
        self.offset
            + match self.kind {
                FatKind::Fat12 => c + c / 2,
                FatKind::Fat16 => c * 2,
                FatKind::Fat32 | FatKind::ExFat => c * 4,
            }
    }

    /// The raw entry of cluster `c` (masked for FAT32).
    pub fn entry(&self, c: u32, w: &mut Window) -> Result<u32> {
        let at = self.entry_offset(c) - self.offset;
        let width = if self.kind == FatKind::Fat16 || self.kind == FatKind::Fat12 {
            2
        } else {
            4
        };
        let inside = at >= w.start && at + width <= w.start + w.data.len() as u64;
        if !inside {
            let start = at - at % WINDOW;
            // A little more than a window, so an entry straddling its end
            // still fits; never past the table or the volume.
            let len = (WINDOW + 4)
                .min(self.len.saturating_sub(start))
                .min(self.vol.len().saturating_sub(self.offset + start));
            w.data = bytes_at(self.vol.as_ref(), self.offset + start, len as usize)?.into_owned();
            w.start = start;
        }
        let rel = (at - w.start) as usize; // ok: within the window (< 64 KiB + 4)
        let b = Bytes(&w.data);
        let short = || {
            crate::Error::corrupt(
                "FAT",
                self.offset + at,
                format!("the entry of cluster {c} lies past the end of the table"),
            )
        };
        Ok(match self.kind {
            FatKind::Fat12 => {
                let v = u32::from(b.le_u16(rel).ok_or_else(short)?);
                if c & 1 == 1 {
                    v >> 4
                } else {
                    v & 0xFFF
                }
            }
            FatKind::Fat16 => u32::from(b.le_u16(rel).ok_or_else(short)?),
            FatKind::Fat32 => b.le_u32(rel).ok_or_else(short)? & 0x0FFF_FFFF,
            FatKind::ExFat => b.le_u32(rel).ok_or_else(short)?,
        })
    }

    /// What follows cluster `c`.
    pub fn next(&self, c: u32, w: &mut Window) -> Result<Next> {
        let v = self.entry(c, w)?;
        Ok(if v == 0 {
            Next::Free
        } else if self.kind.is_end(v) {
            Next::End
        } else if v == self.kind.bad() {
            Next::Bad
        } else if self.is_data(v) {
            Next::Cluster(v)
        } else {
            Next::Invalid(v)
        })
    }

    /// Walks the chain from `first` (a data cluster: the caller checks)
    /// for at most `limit` clusters (and never more than the cluster
    /// count), stopping at a loop.
    pub fn chain(&self, first: u32, limit: u64) -> Result<Chain> {
        let limit = limit.min(self.cluster_count());
        let mut w = Window::default();
        // Closed runs by first cluster, to find a cluster met again.
        let mut closed: BTreeMap<u32, u32> = BTreeMap::new();
        let mut runs: Vec<Run> = Vec::new();
        let mut cur = Run { first, count: 1 };
        let mut clusters = 1u64;
        let mut last = first;
        let stop = loop {
            if clusters >= limit {
                break Stop::Limit(self.next(last, &mut w)?);
            }
            let c = match self.next(last, &mut w)? {
                Next::Cluster(c) => c,
                Next::End => break Stop::End,
                next => break Stop::Broken { after: last, next },
            };
            let in_closed = closed
                .range(..=c)
                .next_back()
                .is_some_and(|(&f, &n)| u64::from(c) < u64::from(f) + u64::from(n));
            let in_cur =
                c >= cur.first && u64::from(c) < u64::from(cur.first) + u64::from(cur.count);
            if in_closed || in_cur {
                break Stop::Loop { after: last, to: c };
            }
            if u64::from(c) == u64::from(cur.first) + u64::from(cur.count) {
                cur.count += 1;
            } else {
                closed.insert(cur.first, cur.count);
                runs.push(cur);
                cur = Run { first: c, count: 1 };
            }
            clusters += 1;
            last = c;
        };
        runs.push(cur);
        Ok(Chain {
            runs,
            clusters,
            stop,
        })
    }
}

/// The clusters of a file of `needed` clusters from `first`, for
/// [`FatTable::file_chain`]: the runs, and a warning when the chain does
/// not end where the size says (offset of the FAT entry, text).
pub type FileChain = (Vec<Run>, Option<(u64, String)>);

impl FatTable {
    /// The chain of a file that needs `needed` clusters from `first`,
    /// named `name` in messages. A chain shorter than that (cut, looping,
    /// pointing past the end) is an error at the FAT entry at fault; a
    /// longer one, or one without an end mark, only a warning.
    pub fn file_chain(&self, first: u32, needed: u64, name: &str) -> Result<FileChain> {
        let s = "FAT";
        if !self.is_data(first) {
            return Err(crate::Error::corrupt(
                s,
                self.entry_offset(first.min(self.max_cluster)),
                format!("{name}: first cluster {first} is not a data cluster"),
            ));
        }
        if needed > self.cluster_count() {
            return Err(crate::Error::corrupt(
                s,
                self.offset,
                format!("{name}: needs {needed} clusters, more than the filesystem has"),
            ));
        }
        let chain = self.chain(first, needed)?;
        let last = chain
            .runs
            .last()
            .map_or(first, |r| r.first.saturating_add(r.count.saturating_sub(1)));
        if chain.clusters < needed {
            let (at, why) = match chain.stop {
                Stop::Broken { after, next } => {
                    (after, format!("cluster {after} is followed by {next}"))
                }
                Stop::Loop { after, to } => (
                    after,
                    format!("the chain loops: cluster {after} leads back to cluster {to}"),
                ),
                _ => (last, format!("the chain ends at cluster {last}")),
            };
            return Err(crate::Error::corrupt(
                s,
                self.entry_offset(at),
                format!(
                    "{name}: {why} after {} of the {needed} clusters its size needs",
                    chain.clusters
                ),
            ));
        }
        let warning = match chain.stop {
            Stop::Limit(Next::End) | Stop::End | Stop::Loop { .. } => None,
            Stop::Limit(Next::Cluster(c)) => Some(format!(
                "{name}: the cluster chain goes on past the file's size (cluster {c} follows cluster {last})"
            )),
            Stop::Limit(next) | Stop::Broken { next, .. } => Some(format!(
                "{name}: the last cluster {last} is followed by {next}, not an end mark"
            )),
        };
        Ok((chain.runs, warning.map(|w| (self.entry_offset(last), w))))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use std::sync::Arc;

    fn table(kind: FatKind, entries: &[u32]) -> FatTable {
        let mut b = Vec::new();
        match kind {
            FatKind::Fat12 => {
                for pair in entries.chunks(2) {
                    let a = pair[0];
                    let c = pair.get(1).copied().unwrap_or(0);
                    let v = a | (c << 12);
                    b.extend_from_slice(&v.to_le_bytes()[..3]);
                }
            }
            FatKind::Fat16 => entries
                .iter()
                .for_each(|&e| b.extend_from_slice(&(e as u16).to_le_bytes())),
            _ => entries
                .iter()
                .for_each(|&e| b.extend_from_slice(&e.to_le_bytes())),
        }
        let len = b.len() as u64;
        let vol: VolumeRef = Arc::new(MemVolume::new("fat", b));
        FatTable::new(vol, 0, len, kind, entries.len() as u64 - 1)
    }

    #[test]
    fn fat12_packing_and_runs() {
        // 2 -> 3 -> 4 -> 7 -> end; 5 bad; 6 free.
        let t = table(FatKind::Fat12, &[0xFF8, 0xFFF, 3, 4, 7, 0xFF7, 0, 0xFFF, 0]);
        let c = t.chain(2, 100).unwrap();
        assert_eq!(
            c.runs,
            vec![Run { first: 2, count: 3 }, Run { first: 7, count: 1 }]
        );
        assert_eq!(c.clusters, 4);
        assert_eq!(c.stop, Stop::End);
        let mut w = Window::default();
        assert_eq!(t.next(5, &mut w).unwrap(), Next::Bad);
        assert_eq!(t.next(6, &mut w).unwrap(), Next::Free);
        let c = t.chain(2, 2).unwrap();
        assert_eq!(c.stop, Stop::Limit(Next::Cluster(4)));
    }

    #[test]
    fn loops_and_bad_links_stop() {
        // 2 -> 3 -> 4 -> 2 (loop); 5 -> 5 (self loop); 6 -> 99 (past the end).
        let t = table(FatKind::Fat32, &[0, 0, 3, 4, 2, 5, 99, 0xF000_0000]);
        assert_eq!(
            t.chain(2, u64::MAX).unwrap().stop,
            Stop::Loop { after: 4, to: 2 }
        );
        assert_eq!(
            t.chain(5, u64::MAX).unwrap().stop,
            Stop::Loop { after: 5, to: 5 }
        );
        assert_eq!(
            t.chain(6, u64::MAX).unwrap().stop,
            Stop::Broken {
                after: 6,
                next: Next::Invalid(99)
            }
        );
        // FAT32 masks the top four bits: 0xF0000000 is free.
        let mut w = Window::default();
        assert_eq!(t.next(7, &mut w).unwrap(), Next::Free);
        let e = table(FatKind::ExFat, &[0, 0, 0xFFFF_FFFF, 0xFFFF_FFF8]);
        let mut w = Window::default();
        assert_eq!(e.next(2, &mut w).unwrap(), Next::End);
        assert_eq!(e.next(3, &mut w).unwrap(), Next::Invalid(0xFFFF_FFF8));
    }
}
