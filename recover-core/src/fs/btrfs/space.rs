//! The logical address space: chunks over devices. A copy on a device
//! that is not here is skipped for the next; a RAID5/6 data element on a
//! device that is not here is rebuilt from its row ([`super::rebuild`]);
//! what no redundancy covers is an error naming the devids.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::io::{Origin, Origins, VolumeRef};

use super::chunk::{run_len, Chunk, Place, Placement};
use super::rebuild::{rebuild, Row};

/// More chunks than this is damage (a 1 PiB filesystem of 1 GiB chunks
/// has a million).
pub const MAX_CHUNKS: usize = 1 << 22;

/// Chunks by logical start, and the devices by id.
#[derive(Debug)]
pub struct Space {
    chunks: BTreeMap<u64, Chunk>,
    devices: HashMap<u64, VolumeRef>,
}

/// A copy on a device that is here: devid, the device, the byte offset.
type Here = (u64, VolumeRef, u64);

impl Space {
    /// An empty map over `devices`.
    pub fn new(devices: HashMap<u64, VolumeRef>) -> Space {
        Space {
            chunks: BTreeMap::new(),
            devices,
        }
    }

    /// The devids here.
    pub fn device_ids(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.devices.keys().copied().collect();
        v.sort_unstable();
        v
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

    fn here(&self, c: &Chunk, p: Place) -> Option<Here> {
        let (devid, off) = c.device_offset(p)?;
        Some((devid, self.devices.get(&devid)?.clone(), off))
    }

    fn chunk_or_err(&self, logical: u64) -> Result<&Chunk> {
        self.chunk(logical).ok_or_else(|| {
            Error::corrupt(
                "Btrfs logical address",
                logical,
                "lies in no chunk of the chunk tree",
            )
        })
    }

    /// How many ways `logical` can be read: the copies on devices here
    /// (mirrored profiles), or the data element and its rebuild from the
    /// row (RAID5/6, when the element's device is here); at least 1.
    pub fn mirrors(&self, logical: u64) -> usize {
        let Some(c) = self.chunk(logical) else {
            return 1;
        };
        match c.placement(logical) {
            Some(Placement::Copies(p)) => p
                .iter()
                .filter(|&&q| self.here(c, q).is_some())
                .count()
                .max(1),
            Some(Placement::Parity { data, .. }) => 1 + usize::from(self.here(c, data).is_some()),
            None => 1,
        }
    }

    /// The device and byte offset on it of copy `mirror` (counted over the
    /// copies on devices that are here first) of `logical`, and how many
    /// bytes from there stay in the same stripe element. A RAID5/6 element
    /// whose device is not here has none (it is rebuilt by [`Space::read`]).
    pub fn locate(&self, logical: u64, mirror: usize) -> Result<(VolumeRef, u64, u64)> {
        let (_, v, off, run) = self.locate_dev(logical, mirror)?;
        Ok((v, off, run))
    }

    /// [`Space::locate`] with the devid.
    pub fn locate_dev(&self, logical: u64, mirror: usize) -> Result<(u64, VolumeRef, u64, u64)> {
        let c = self.chunk_or_err(logical)?;
        let within = c.length - (logical - c.logical);
        let run = run_len(c.profile, c.stripe_len, logical - c.logical).min(within);
        let places = match c.placement(logical) {
            Some(Placement::Copies(p)) => p,
            Some(Placement::Parity { data, .. }) => vec![data],
            None => Vec::new(),
        };
        let here: Vec<Here> = places.iter().filter_map(|&p| self.here(c, p)).collect();
        // A mirror past those here falls back to the first (the caller
        // asked for more copies than exist).
        match here.get(mirror).or_else(|| here.first()) {
            Some((d, v, off)) => Ok((*d, v.clone(), *off, run)),
            None => Err(self.not_here(c, logical, &places)),
        }
    }

    fn not_here(&self, c: &Chunk, logical: u64, places: &[Place]) -> Error {
        let missing: Vec<u64> = places
            .iter()
            .filter_map(|&p| c.device_offset(p))
            .map(|(d, _)| d)
            .filter(|d| !self.devices.contains_key(d))
            .collect();
        Error::corrupt(
            "Btrfs chunk",
            logical,
            format!(
                "logical {logical:#x} ({} chunk at {:#x}) is on device{} {} that {} not here{}",
                c.profile.name(),
                c.logical,
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|d| format!("devid {d}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 { "is" } else { "are" },
                if c.profile.parity() > 0 {
                    ", and too few of its row are here to rebuild it"
                } else {
                    ""
                },
            ),
        )
    }

    /// Reads `buf.len()` bytes at `logical` by way `mirror` (see
    /// [`Space::mirrors`]: for RAID5/6, way 1 is the rebuild from the row
    /// even when the element's device is here).
    pub fn read(&self, logical: u64, buf: &mut [u8], mirror: usize) -> Result<()> {
        let mut pos = logical;
        let mut out = buf;
        while !out.is_empty() {
            let c = self.chunk_or_err(pos)?;
            let within = c.length - (pos - c.logical);
            let run = run_len(c.profile, c.stripe_len, pos - c.logical).min(within);
            let part = crate::bytes::take_front(&mut out, run.max(1));
            self.read_piece(c, pos, part, mirror)?;
            pos = pos.saturating_add(part.len() as u64);
        }
        Ok(())
    }

    /// One piece inside one stripe element of `c`.
    fn read_piece(&self, c: &Chunk, pos: u64, part: &mut [u8], mirror: usize) -> Result<()> {
        match c.placement(pos) {
            Some(Placement::Copies(places)) => {
                let here: Vec<Here> = places.iter().filter_map(|&p| self.here(c, p)).collect();
                match here.get(mirror).or_else(|| here.first()) {
                    Some((_, v, off)) => v.read_at(*off, part),
                    None => Err(self.not_here(c, pos, &places)),
                }
            }
            Some(Placement::Parity {
                data,
                parity,
                columns,
                ..
            }) => {
                let direct = self.here(c, data);
                if let (Some((_, v, off)), 0) = (&direct, mirror) {
                    return v.read_at(*off, part);
                }
                if self.rebuild_into(c, data, &parity, &columns, part) {
                    return Ok(());
                }
                match direct {
                    Some((_, v, off)) => v.read_at(off, part),
                    None => Err(self.not_here(
                        c,
                        pos,
                        &columns.iter().map(|&i| (i, data.1)).collect::<Vec<_>>(),
                    )),
                }
            }
            None => Err(Error::corrupt(
                "Btrfs chunk",
                pos,
                format!(
                    "chunk at {:#x} has a geometry its profile cannot have",
                    c.logical
                ),
            )),
        }
    }

    /// Rebuilds the data element `data` of its row into `part`.
    fn rebuild_into(
        &self,
        c: &Chunk,
        data: Place,
        parity: &[Place],
        columns: &[usize],
        part: &mut [u8],
    ) -> bool {
        let n = part.len();
        let read = |i: usize| -> Option<Vec<u8>> {
            let (_, v, off) = self.here(c, (i, data.1))?;
            let mut b = vec![0u8; n];
            v.read_at(off, &mut b).ok()?;
            Some(b)
        };
        let Some(x) = columns.iter().position(|&i| i == data.0) else {
            return false;
        };
        let row = Row {
            data: columns
                .iter()
                .map(|&i| if i == data.0 { None } else { read(i) })
                .collect(),
            p: parity.first().and_then(|p| read(p.0)),
            q: parity.get(1).and_then(|q| read(q.0)),
        };
        rebuild(&row, x, part)
    }

    /// Whether the data element at `logical` could be rebuilt from its row
    /// without its own device (RAID5/6: at most as many of the row's
    /// stripes missing as there are parity stripes).
    fn rebuildable(&self, c: &Chunk, columns: &[usize], parity: &[Place]) -> bool {
        let gone = columns
            .iter()
            .chain(parity.iter().map(|p| &p.0))
            .filter(|&&i| {
                c.stripes
                    .get(i)
                    .is_none_or(|s| !self.devices.contains_key(&s.devid))
            })
            .count();
        gone <= c.profile.parity()
    }

    /// Origins of `len` bytes at `logical`, read as [`Space::read`] reads
    /// way 0: the devices' origins, as [`Origin::Mirror`] where the first
    /// copy's device is not here, [`Origin::Parity`] where a RAID5/6
    /// element is rebuilt, and [`Origin::Missing`] where nothing can be
    /// read (reads fail there). Addresses in no chunk have none.
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
            let (places, rebuilt) = match c.placement(pos) {
                Some(Placement::Copies(p)) => (p, false),
                Some(Placement::Parity {
                    data,
                    parity,
                    columns,
                    ..
                }) => {
                    let can = self.rebuildable(c, &columns, &parity);
                    (vec![data], can)
                }
                None => (Vec::new(), false),
            };
            let here = places
                .iter()
                .enumerate()
                .find_map(|(k, &p)| Some((k, self.here(c, p)?)));
            match here {
                Some((k, (_, v, off))) => {
                    if k > 0 {
                        o.add(pos..pos + run, Origin::Mirror);
                    }
                    o.add_shifted(v.origins(off, run), off, pos);
                }
                None if rebuilt => o.add(pos..pos + run, Origin::Parity),
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

    /// Where way `mirror` of `logical` is read from, for messages:
    /// "devid D offset 0x..", or "rebuilt from parity".
    pub fn position(&self, logical: u64, mirror: usize) -> String {
        let parity = self.chunk(logical).is_some_and(|c| c.profile.parity() > 0);
        match self.locate_dev(logical, mirror) {
            Ok((d, _, off, _)) if !(parity && mirror > 0) => format!("devid {d} offset {off:#x}"),
            _ if parity => "rebuilt from parity".into(),
            _ => "no device here".into(),
        }
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
