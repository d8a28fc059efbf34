//! Classic (COW) snapshots: the origin as it was when the snapshot was
//! taken, from the origin LV and the exceptions in the COW store (the
//! kernel's persistent exception store, drivers/md/dm-snap-persistent.c,
//! little-endian).
//!
//! Chunk 0 of the store is the header: magic u32 at 0 (0x70416e53,
//! "SnAp"), valid u32 at 4 (0 once the snapshot overflowed), version u32
//! at 8 (1), chunk_size u32 at 12 (sectors). Then metadata areas, each one
//! chunk of 16-byte exceptions {old_chunk u64 (of the origin), new_chunk
//! u64 (of the store)}, each followed by the data chunks it maps: area i
//! sits at chunk 1 + i * (chunk / 16 + 1). An exception whose new_chunk is
//! 0 ends the list.

use std::sync::Arc;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::io::{bytes_at, check_range, for_each_block, Gather, Origins, Volume, VolumeRef};

const MAGIC: u32 = 0x7041_6e53;

/// A snapshot's view.
#[derive(Debug)]
pub struct SnapshotVolume {
    origin: VolumeRef,
    cow: VolumeRef,
    chunk: u64,
    /// (origin chunk, store chunk), sorted by origin chunk.
    exceptions: Vec<(u64, u64)>,
    name: String,
}

/// What the store's header says, and how many chunks were copied.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    /// False once the kernel invalidated the snapshot (its store filled).
    pub valid: bool,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Chunks the store holds.
    pub exceptions: usize,
}

impl SnapshotVolume {
    /// The view of `origin` through the COW store `cow`.
    pub fn open(origin: VolumeRef, cow: VolumeRef, name: String) -> Result<(Arc<Self>, StoreInfo)> {
        let cname = cow.describe();
        let bad =
            |at: u64, why: String| Error::corrupt("snapshot COW store", at, why).within(&cname, 0);
        let h =
            bytes_at(cow.as_ref(), 0, 16).map_err(|_| bad(0, "shorter than its header".into()))?;
        let h = Bytes(&h);
        if h.le_u32(0) != Some(MAGIC) {
            return Err(bad(
                0,
                "no SnAp magic (the store was never initialized, or is not one)".into(),
            ));
        }
        let chunk = u64::from(h.le_u32(12).unwrap_or(0)) * 512;
        // dm-snapshot takes a power of two of at least a page.
        if !chunk.is_power_of_two() || !(4096..=1 << 30).contains(&chunk) {
            return Err(bad(12, format!("chunk size {chunk} bytes")));
        }
        let per_area = chunk / 16;
        let mut exceptions = Vec::new();
        let chunks_in_store = cow.len() / chunk;
        let mut area = 0u64;
        'areas: loop {
            let at_chunk = 1 + area * (per_area + 1);
            if at_chunk >= chunks_in_store {
                break;
            }
            let block = bytes_at(cow.as_ref(), at_chunk * chunk, chunk as usize)?; // ok: <= 1 GiB, checked above
            for e in block.chunks_exact(16) {
                let b = Bytes(e);
                let (old, new) = (b.le_u64(0).unwrap_or(0), b.le_u64(8).unwrap_or(0));
                if new == 0 {
                    break 'areas;
                }
                if new >= chunks_in_store {
                    return Err(bad(
                        at_chunk * chunk,
                        format!("exception for origin chunk {old} points at store chunk {new}, past the end"),
                    ));
                }
                exceptions.push((old, new));
            }
            area += 1;
        }
        // A later exception for the same chunk replaces an earlier one.
        exceptions.reverse();
        exceptions.sort_by_key(|e| e.0);
        exceptions.dedup_by_key(|e| e.0);
        let info = StoreInfo {
            valid: h.le_u32(4) != Some(0),
            chunk_size: chunk,
            exceptions: exceptions.len(),
        };
        Ok((
            Arc::new(SnapshotVolume {
                origin,
                cow,
                chunk,
                exceptions,
                name,
            }),
            info,
        ))
    }
}

impl Volume for SnapshotVolume {
    fn len(&self) -> u64 {
        self.origin.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        for_each_block(offset, buf, self.chunk, |c, within, out| {
            let found = self.exceptions.binary_search_by_key(&c, |e| e.0).ok();
            // `i` comes from the search of `exceptions` itself.
            match found.and_then(|i| self.exceptions.get(i)) {
                Some(&(_, cow_chunk)) => self.cow.read_at(cow_chunk * self.chunk + within, out),
                None => self.origin.read_at(c * self.chunk + within, out),
            }
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Chunks copied to the store carry the store's origins, the others
    /// the origin LV's.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.origin.len());
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (c, within) = (pos / self.chunk, pos % self.chunk);
            let n = (self.chunk - within).min(end - pos);
            let found = self.exceptions.binary_search_by_key(&c, |e| e.0).ok();
            // `i` comes from the search of `exceptions` itself.
            match found.and_then(|i| self.exceptions.get(i)) {
                Some(&(_, cow_chunk)) => {
                    g.map(self.cow.as_ref(), cow_chunk * self.chunk + within, pos, n)
                }
                None => g.map(self.origin.as_ref(), pos, pos, n),
            }
            pos += n;
        }
        g.finish()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn changed_chunks_come_from_the_store() {
        let chunk = 4096usize;
        let origin: VolumeRef = Arc::new(MemVolume::new("origin", vec![0xaau8; 8 * chunk]));
        // Header, one area (exceptions: origin chunk 3 -> store 2, 5 -> 3), data.
        let mut cow = vec![0u8; 4 * chunk];
        cow[..4].copy_from_slice(&MAGIC.to_le_bytes());
        cow[4..8].copy_from_slice(&1u32.to_le_bytes());
        cow[12..16].copy_from_slice(&8u32.to_le_bytes());
        let a = chunk;
        cow[a..a + 8].copy_from_slice(&3u64.to_le_bytes());
        cow[a + 8..a + 16].copy_from_slice(&2u64.to_le_bytes());
        cow[a + 16..a + 24].copy_from_slice(&5u64.to_le_bytes());
        cow[a + 24..a + 32].copy_from_slice(&3u64.to_le_bytes());
        cow[2 * chunk..3 * chunk].fill(0x33);
        cow[3 * chunk..].fill(0x55);
        let cow: VolumeRef = Arc::new(MemVolume::new("cow", cow));
        let (s, info) = SnapshotVolume::open(origin, cow, "snap".into()).unwrap();
        assert!(info.valid);
        assert_eq!(info.exceptions, 2);
        let mut b = vec![0u8; 8 * chunk];
        s.read_at(0, &mut b).unwrap();
        assert!(b[..3 * chunk].iter().all(|&x| x == 0xaa));
        assert!(b[3 * chunk..4 * chunk].iter().all(|&x| x == 0x33));
        assert!(b[5 * chunk..6 * chunk].iter().all(|&x| x == 0x55));
        assert!(b[6 * chunk..].iter().all(|&x| x == 0xaa));
    }

    #[test]
    fn copied_chunks_carry_the_stores_origins_the_rest_the_origins() {
        use crate::io::{Concat, Origin, Zeros};
        let chunk = 4096usize;
        let c = chunk as u64;
        // The origin's chunks 4.. are on a missing PV; the store's chunk 3 too.
        let origin: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("o", vec![0xaau8; 4 * chunk])),
                Arc::new(Zeros::missing(4 * c, "gone".into())),
            ],
            "origin".into(),
        ));
        let mut cow = vec![0u8; 3 * chunk];
        cow[..4].copy_from_slice(&MAGIC.to_le_bytes());
        cow[4..8].copy_from_slice(&1u32.to_le_bytes());
        cow[12..16].copy_from_slice(&8u32.to_le_bytes());
        let a = chunk;
        // Origin chunk 5 -> store 2 (there), 1 -> store 3 (missing).
        cow[a..a + 8].copy_from_slice(&5u64.to_le_bytes());
        cow[a + 8..a + 16].copy_from_slice(&2u64.to_le_bytes());
        cow[a + 16..a + 24].copy_from_slice(&1u64.to_le_bytes());
        cow[a + 24..a + 32].copy_from_slice(&3u64.to_le_bytes());
        let cow: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("cow", cow)),
                Arc::new(Zeros::missing(c, "cow gone".into())),
            ],
            "cow".into(),
        ));
        let (s, _) = SnapshotVolume::open(origin, cow, "snap".into()).unwrap();
        assert_eq!(
            s.origins(0, s.len()).of(Origin::Missing),
            vec![c..2 * c, 4 * c..5 * c, 6 * c..8 * c]
        );
        assert_eq!(
            s.origins(c + 100, 4 * c).of(Origin::Missing),
            vec![c + 100..2 * c, 4 * c..5 * c]
        );
    }
}
