//! The logical address space: chunks over devices. Part 1 reads one
//! device; a stripe on a device that is not here is an error naming its
//! devid.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::io::{Origin, Origins, VolumeRef};

use super::chunk::{run_len, Chunk, Placement};

/// More chunks than this is damage (a 1 PiB filesystem of 1 GiB chunks
/// has a million).
pub const MAX_CHUNKS: usize = 1 << 22;

/// Chunks by logical start, and the devices by id.
#[derive(Debug)]
pub struct Space {
    chunks: BTreeMap<u64, Chunk>,
    devices: HashMap<u64, VolumeRef>,
}

impl Space {
    /// An empty map over `devices`.
    pub fn new(devices: HashMap<u64, VolumeRef>) -> Space {
        Space {
            chunks: BTreeMap::new(),
            devices,
        }
    }

    /// Adds a chunk; false when it overlaps one already known (the one
    /// known stays) or the map is full.
    pub fn insert(&mut self, c: Chunk) -> bool {
        if self.chunks.len() >= MAX_CHUNKS {
            return false;
        }
        let end = c.logical.saturating_add(c.length);
        let before = self.chunks.range(..end).next_back();
        if before.is_some_and(|(_, b)| b.logical.saturating_add(b.length) > c.logical) {
            return before.is_some_and(|(_, b)| *b == c);
        }
        self.chunks.insert(c.logical, c);
        true
    }

    /// The chunk holding `logical`.
    pub fn chunk(&self, logical: u64) -> Option<&Chunk> {
        let (_, c) = self.chunks.range(..=logical).next_back()?;
        (logical - c.logical < c.length).then_some(c)
    }

    /// The end of the highest chunk.
    pub fn end(&self) -> u64 {
        self.chunks
            .values()
            .next_back()
            .map_or(0, |c| c.logical.saturating_add(c.length))
    }

    /// How many copies of `logical` the profile keeps (1 for striped and
    /// parity profiles).
    pub fn mirrors(&self, logical: u64) -> usize {
        match self.chunk(logical).and_then(|c| c.placement(logical)) {
            Some(Placement::Copies(c)) => c.len().max(1),
            _ => 1,
        }
    }

    /// The device and byte offset on it of copy `mirror` (counted over the
    /// copies on devices that are here first) of `logical`, and how many
    /// bytes from there stay in the same stripe element.
    pub fn locate(&self, logical: u64, mirror: usize) -> Result<(VolumeRef, u64, u64)> {
        let c = self.chunk(logical).ok_or_else(|| {
            Error::corrupt(
                "Btrfs logical address",
                logical,
                "lies in no chunk of the chunk tree",
            )
        })?;
        let within = c.length - (logical - c.logical);
        let run = run_len(c.profile, c.stripe_len, logical - c.logical).min(within);
        let places = match c.placement(logical) {
            Some(Placement::Copies(p)) => p,
            Some(Placement::Parity { data, .. }) => vec![data],
            None => Vec::new(),
        };
        let mut here = Vec::new();
        let mut missing = Vec::new();
        for p in places {
            let Some((devid, off)) = c.device_offset(p) else {
                continue;
            };
            match self.devices.get(&devid) {
                Some(v) => here.push((v.clone(), off)),
                None => missing.push(devid),
            }
        }
        // A mirror past those here falls back to the first (the caller
        // asked for more copies than exist).
        match here.get(mirror).or_else(|| here.first()) {
            Some((v, off)) => Ok((v.clone(), *off, run)),
            None => Err(Error::corrupt(
                "Btrfs chunk",
                logical,
                format!(
                    "logical {logical:#x} ({} chunk at {:#x}) is on device{} {} that {} not here",
                    c.profile.name(),
                    c.logical,
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|d| format!("devid {d}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if missing.len() == 1 { "is" } else { "are" },
                ),
            )),
        }
    }

    /// Reads `buf.len()` bytes at `logical` from copy `mirror`.
    pub fn read(&self, logical: u64, buf: &mut [u8], mirror: usize) -> Result<()> {
        let mut pos = logical;
        let mut out = buf;
        while !out.is_empty() {
            let (vol, off, run) = self.locate(pos, mirror)?;
            let part = crate::bytes::take_front(&mut out, run.max(1));
            vol.read_at(off, part)?;
            pos = pos.saturating_add(part.len() as u64);
        }
        Ok(())
    }

    /// Origins of `len` bytes at `logical`, read as [`Space::read`] reads
    /// copy 0: the devices' origins, as [`Origin::Mirror`] where the first
    /// copy's device is not here, and [`Origin::Missing`] where no copy is
    /// (reads fail there). Addresses in no chunk have none.
    pub fn origins(&self, logical: u64, len: u64) -> Origins {
        let end = logical.saturating_add(len);
        let mut o = Origins::new();
        let mut pos = logical;
        while pos < end {
            let Some(c) = self.chunk(pos) else {
                match self.chunks.range(pos..end).next() {
                    Some((&next, _)) => {
                        pos = next;
                        continue;
                    }
                    None => break,
                }
            };
            let within = c.length - (pos - c.logical);
            let run = run_len(c.profile, c.stripe_len, pos - c.logical)
                .min(within)
                .min(end - pos)
                .max(1);
            let places = match c.placement(pos) {
                Some(Placement::Copies(p)) => p,
                Some(Placement::Parity { data, .. }) => vec![data],
                None => Vec::new(),
            };
            let here = places.iter().enumerate().find_map(|(k, &p)| {
                let (devid, off) = c.device_offset(p)?;
                Some((k, self.devices.get(&devid)?, off))
            });
            match here {
                Some((k, v, off)) => {
                    if k > 0 {
                        o.add(pos..pos + run, Origin::Mirror);
                    }
                    o.add_shifted(v.origins(off, run), off, pos);
                }
                None => o.add(pos..pos + run, Origin::Missing),
            }
            pos += run;
        }
        o
    }

    /// The device offset of the first copy of `logical` here, for messages.
    pub fn physical(&self, logical: u64) -> Option<u64> {
        self.locate(logical, 0).ok().map(|(_, off, _)| off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::btrfs::chunk::{Profile, Stripe};
    use crate::io::{Concat, MemVolume, Zeros};
    use std::sync::Arc;

    fn chunk(logical: u64, length: u64, profile: Profile, stripes: &[(u64, u64)]) -> Chunk {
        Chunk {
            logical,
            length,
            stripe_len: 4096,
            flags: 1,
            profile,
            sub_stripes: 0,
            stripes: stripes
                .iter()
                .map(|&(devid, offset)| Stripe { devid, offset })
                .collect(),
        }
    }

    #[test]
    fn origins_follow_chunks_onto_devices() {
        // Device 1: 64 KiB, its last 16 KiB missing below (a degraded
        // array under it would say the same); device 2 is here whole;
        // device 3 is not here.
        let d1: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("d1", vec![0u8; 48 << 10])),
                Arc::new(Zeros::missing(16 << 10, "gone".into())),
            ],
            "d1".into(),
        ));
        let d2: VolumeRef = Arc::new(MemVolume::new("d2", vec![0u8; 64 << 10]));
        let mut s = Space::new(HashMap::from([(1, d1), (2, d2)]));
        let k = 1u64 << 10;
        // Single at device 1 from 40 KiB: 8 KiB there, then 8 KiB missing.
        assert!(s.insert(chunk(1 << 20, 16 * k, Profile::Single, &[(1, 40 * k)])));
        // RAID1 whose first copy is on device 3: read from device 2.
        assert!(s.insert(chunk(2 << 20, 8 * k, Profile::Raid1(2), &[(3, 0), (2, 0)])));
        // RAID0 over devices 3 and 2: every other 4 KiB element is gone.
        assert!(s.insert(chunk(3 << 20, 16 * k, Profile::Raid0, &[(3, 0), (2, 0)])));
        let o = s.origins(1 << 20, 3 << 20);
        let m = 1u64 << 20;
        assert_eq!(
            o.of(Origin::Missing),
            vec![
                m + 8 * k..m + 16 * k,
                3 * m..3 * m + 4 * k,
                3 * m + 8 * k..3 * m + 12 * k
            ]
        );
        assert_eq!(o.of(Origin::Mirror), vec![2 * m..2 * m + 8 * k]);
        // Addresses between chunks have none; a window is clipped.
        assert!(s.origins(0, 1 << 20).is_empty());
        assert_eq!(
            s.origins(m + 10 * k, k).of(Origin::Missing),
            vec![m + 10 * k..m + 11 * k]
        );
    }
}
