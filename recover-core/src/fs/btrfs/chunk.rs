//! Chunks: how a run of Btrfs logical addresses is laid over devices, and
//! the stripe math of every profile as pure functions.
//!
//! A chunk item (btrfs_tree.h, struct btrfs_chunk; key objectid 256,
//! type CHUNK_ITEM 228, offset = the chunk's logical start), little-endian:
//! length u64 0, owner u64 8, stripe_len u64 16, type u64 24, io_align u32
//! 32, io_width u32 36, sector_size u32 40, num_stripes u16 44,
//! sub_stripes u16 46, then num_stripes × struct btrfs_stripe (devid u64
//! 0, offset u64 8, dev_uuid [16] 16; 32 bytes each) at 48.
//!
//! Profile bits of type (BTRFS_BLOCK_GROUP_*): RAID0 0x8, RAID1 0x10, DUP
//! 0x20, RAID10 0x40, RAID5 0x80, RAID6 0x100, RAID1C3 0x200, RAID1C4 0x400;
//! none of them is "single".

use crate::bytes::Bytes;
use crate::error::{Error, Result};

/// Bytes of the fixed part of a chunk item.
pub const CHUNK_ITEM_SIZE: usize = 48;
/// Bytes of a stripe record.
pub const STRIPE_SIZE: usize = 32;
/// More stripes than this in one chunk is damage (a chunk's item must fit
/// in a leaf: 16 KiB / 32 bytes).
pub const MAX_STRIPES: usize = 2048;

/// A block group profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// One copy.
    Single,
    /// Two copies on one device.
    Dup,
    /// Striped, no redundancy.
    Raid0,
    /// Two, three or four copies on different devices.
    Raid1(u8),
    /// Striped over mirrored pairs (sub_stripes copies).
    Raid10,
    /// Striped with one parity stripe.
    Raid5,
    /// Striped with two parity stripes (P and Q).
    Raid6,
}

impl Profile {
    /// From a chunk's type bits; `None` for two profiles at once.
    pub fn from_flags(flags: u64) -> Option<Profile> {
        let bits = [
            (0x8, Profile::Raid0),
            (0x10, Profile::Raid1(2)),
            (0x20, Profile::Dup),
            (0x40, Profile::Raid10),
            (0x80, Profile::Raid5),
            (0x100, Profile::Raid6),
            (0x200, Profile::Raid1(3)),
            (0x400, Profile::Raid1(4)),
        ];
        let mut found = bits.iter().filter(|(b, _)| flags & b != 0);
        match (found.next(), found.next()) {
            (None, _) => Some(Profile::Single),
            (Some((_, p)), None) => Some(*p),
            _ => None,
        }
    }

    /// The name btrfs-progs prints.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Single => "single",
            Profile::Dup => "DUP",
            Profile::Raid0 => "RAID0",
            Profile::Raid1(3) => "RAID1C3",
            Profile::Raid1(4) => "RAID1C4",
            Profile::Raid1(_) => "RAID1",
            Profile::Raid10 => "RAID10",
            Profile::Raid5 => "RAID5",
            Profile::Raid6 => "RAID6",
        }
    }

    /// Parity stripes per row.
    pub fn parity(self) -> usize {
        match self {
            Profile::Raid5 => 1,
            Profile::Raid6 => 2,
            _ => 0,
        }
    }

    /// Whether `num_stripes` and `sub_stripes` suit the profile.
    pub fn valid_geometry(self, num_stripes: usize, sub_stripes: usize) -> bool {
        match self {
            Profile::Single => num_stripes == 1,
            Profile::Dup => num_stripes == 2,
            Profile::Raid0 => num_stripes >= 1,
            Profile::Raid1(n) => num_stripes == usize::from(n),
            Profile::Raid10 => {
                sub_stripes >= 2 && num_stripes >= sub_stripes && num_stripes % sub_stripes == 0
            }
            Profile::Raid5 => num_stripes >= 2,
            Profile::Raid6 => num_stripes >= 3,
        }
    }
}

/// Where one byte of a chunk lives: a stripe (index into the chunk's
/// stripe list) and the byte offset from that stripe's start on its device.
pub type Place = (usize, u64);

/// Where byte `off` of a chunk (from its logical start) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Identical copies (single, DUP, RAID0, RAID1*, RAID10), any of which
    /// may be read.
    Copies(Vec<Place>),
    /// RAID5/6: the data, and the parity stripes of its row (P, then Q),
    /// each at the same offset in its stripe; a missing data stripe is
    /// rebuilt from the others of the row.
    Parity {
        /// The data.
        data: Place,
        /// P and (RAID6) Q.
        parity: Vec<Place>,
        /// Row number, and the stripe index of each data column of the row
        /// in data order (for a rebuild).
        row: u64,
        /// Stripe index of each data column of the row, in data order.
        columns: Vec<usize>,
    },
}

/// Where byte `off` of a chunk of `num_stripes` stripes of the profile,
/// stripe elements of `stripe_len` bytes, lives (volumes.c,
/// btrfs_map_block: RAID5/6 rotate the row's columns by the row number).
/// `None` for a geometry the profile cannot have.
pub fn place(
    profile: Profile,
    num_stripes: usize,
    sub_stripes: usize,
    stripe_len: u64,
    off: u64,
) -> Option<Placement> {
    if !profile.valid_geometry(num_stripes, sub_stripes) || stripe_len == 0 {
        return None;
    }
    let n = num_stripes as u64; // ok: <= MAX_STRIPES in practice, u64 always holds usize
    let nr = off / stripe_len;
    let within = off % stripe_len;
    Some(match profile {
        Profile::Single | Profile::Dup | Profile::Raid1(_) => {
            Placement::Copies((0..num_stripes).map(|i| (i, off)).collect())
        }
        Profile::Raid0 => {
            let idx = (nr % n) as usize; // ok: < num_stripes
            Placement::Copies(vec![(idx, (nr / n) * stripe_len + within)])
        }
        Profile::Raid10 => {
            let groups = n / sub_stripes as u64;
            let first = ((nr % groups) * sub_stripes as u64) as usize; // ok: < num_stripes
            let at = (nr / groups) * stripe_len + within;
            Placement::Copies((first..first + sub_stripes).map(|i| (i, at)).collect())
        }
        Profile::Raid5 | Profile::Raid6 => {
            let data_n = n - profile.parity() as u64;
            let row = nr / data_n;
            let col = nr % data_n;
            let at = row * stripe_len + within;
            let dev = |c: u64| ((row + c) % n) as usize; // ok: < num_stripes
            Placement::Parity {
                data: (dev(col), at),
                parity: (data_n..n).map(|c| (dev(c), at)).collect(),
                row,
                columns: (0..data_n).map(dev).collect(),
            }
        }
    })
}

/// Bytes from `off` to the end of its stripe element: a read starting at
/// `off` must not go further in one piece (mirrored profiles: no limit).
pub fn run_len(profile: Profile, stripe_len: u64, off: u64) -> u64 {
    match profile {
        Profile::Single | Profile::Dup | Profile::Raid1(_) => u64::MAX,
        _ if stripe_len == 0 => 0,
        _ => stripe_len - off % stripe_len,
    }
}

/// One stripe of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    /// The device.
    pub devid: u64,
    /// Byte offset on the device.
    pub offset: u64,
}

/// A validated chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First logical address.
    pub logical: u64,
    /// Logical length.
    pub length: u64,
    /// Stripe element size.
    pub stripe_len: u64,
    /// The type bits (data, system, metadata, profile).
    pub flags: u64,
    /// Its profile.
    pub profile: Profile,
    /// sub_stripes (RAID10).
    pub sub_stripes: usize,
    /// Its stripes.
    pub stripes: Vec<Stripe>,
}

impl Chunk {
    /// Parses the chunk item `b` whose key offset is `logical`; returns it
    /// and the bytes it took. Offsets in errors are within `b`.
    pub fn parse(b: &[u8], logical: u64) -> Result<(Chunk, usize)> {
        let s = "Btrfs chunk item";
        let r = Bytes(b);
        let short = || Error::corrupt(s, 0, "cut short");
        let length = r.le_u64(0).ok_or_else(short)?;
        let stripe_len = r.le_u64(16).ok_or_else(short)?;
        let flags = r.le_u64(24).ok_or_else(short)?;
        let num = usize::from(r.le_u16(44).ok_or_else(short)?);
        let sub = usize::from(r.le_u16(46).ok_or_else(short)?);
        if length == 0 || logical.checked_add(length).is_none() {
            return Err(Error::corrupt(s, 0, format!("length {length:#x}")));
        }
        if !stripe_len.is_power_of_two() || stripe_len > 1 << 32 {
            return Err(Error::corrupt(
                s,
                16,
                format!("stripe length {stripe_len:#x}"),
            ));
        }
        let profile = Profile::from_flags(flags)
            .ok_or_else(|| Error::corrupt(s, 24, format!("type {flags:#x} names two profiles")))?;
        if num == 0 || num > MAX_STRIPES || !profile.valid_geometry(num, sub) {
            return Err(Error::corrupt(
                s,
                44,
                format!(
                    "{num} stripes ({sub} sub-stripes) do not suit profile {}",
                    profile.name()
                ),
            ));
        }
        let total = CHUNK_ITEM_SIZE + num * STRIPE_SIZE; // ok: num <= 2048
        let stripes = (0..num)
            .map(|i| {
                let at = CHUNK_ITEM_SIZE + i * STRIPE_SIZE;
                Some(Stripe {
                    devid: r.le_u64(at)?,
                    offset: r.le_u64(at + 8)?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::corrupt(s, 48, format!("{num} stripes do not fit")))?;
        Ok((
            Chunk {
                logical,
                length,
                stripe_len,
                flags,
                profile,
                sub_stripes: sub,
                stripes,
            },
            total,
        ))
    }

    /// Where logical address `logical` (inside the chunk) lives, as device
    /// ids and device byte offsets.
    pub fn placement(&self, logical: u64) -> Option<Placement> {
        let off = logical.checked_sub(self.logical)?;
        if off >= self.length {
            return None;
        }
        place(
            self.profile,
            self.stripes.len(),
            self.sub_stripes,
            self.stripe_len,
            off,
        )
    }

    /// The device and byte offset on it of a [`Place`].
    pub fn device_offset(&self, p: Place) -> Option<(u64, u64)> {
        let s = self.stripes.get(p.0)?;
        Some((s.devid, s.offset.checked_add(p.1)?))
    }
}

/// Parses the superblock's sys_chunk_array: (key, chunk item) pairs;
/// offsets in errors are within the array.
pub fn parse_sys_array(b: &[u8]) -> Result<Vec<Chunk>> {
    let s = "Btrfs sys_chunk_array";
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        let r = Bytes(b);
        let typ = r
            .u8(at + 8)
            .ok_or_else(|| Error::corrupt(s, at as u64, "key cut short"))?;
        let logical = r
            .le_u64(at + 9)
            .ok_or_else(|| Error::corrupt(s, at as u64, "key cut short"))?;
        if typ != super::items::CHUNK_ITEM {
            return Err(Error::corrupt(
                s,
                at as u64 + 8,
                format!("key type {typ}, not a chunk"),
            ));
        }
        let rest = b.get(at + 17..).unwrap_or_default();
        let (c, used) = Chunk::parse(rest, logical).map_err(|e| shift(e, at as u64 + 17))?;
        out.push(c);
        at += 17 + used;
    }
    Ok(out)
}

/// `e` with `by` added to its offset.
pub fn shift(e: Error, by: u64) -> Error {
    match e {
        Error::Corrupt {
            structure,
            offset,
            detail,
            ..
        } => Error::corrupt(structure, offset.saturating_add(by), detail),
        e => e,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SL: u64 = 65536;

    fn copies(p: Placement) -> Vec<Place> {
        match p {
            Placement::Copies(c) => c,
            Placement::Parity { .. } => panic!("parity"),
        }
    }

    #[test]
    fn known_layouts() {
        assert_eq!(
            copies(place(Profile::Dup, 2, 0, SL, 5).unwrap()),
            vec![(0, 5), (1, 5)]
        );
        // RAID0 over 3: stripe 4 is on device 1, second row.
        assert_eq!(
            copies(place(Profile::Raid0, 3, 0, SL, 4 * SL + 7).unwrap()),
            vec![(1, SL + 7)]
        );
        // RAID10 over 4 (2 groups of 2): element 3 is group 1, row 1.
        assert_eq!(
            copies(place(Profile::Raid10, 4, 2, SL, 3 * SL).unwrap()),
            vec![(2, SL), (3, SL)]
        );
        // RAID5 over 3: row 1 rotates by one, parity of row 1 on stripe 0.
        match place(Profile::Raid5, 3, 0, SL, 2 * SL + 1).unwrap() {
            Placement::Parity {
                data,
                parity,
                row,
                columns,
            } => {
                assert_eq!(data, (1, SL + 1));
                assert_eq!(parity, vec![(0, SL + 1)]);
                assert_eq!(row, 1);
                assert_eq!(columns, vec![1, 2]);
            }
            _ => panic!(),
        }
        assert_eq!(place(Profile::Raid6, 2, 0, SL, 0), None);
        assert_eq!(place(Profile::Raid1(3), 2, 0, SL, 0), None);
        assert_eq!(Profile::from_flags(1 | 0x40), Some(Profile::Raid10));
        assert_eq!(Profile::from_flags(0x10 | 0x20), None);
    }

    fn profiles() -> impl Strategy<Value = (Profile, usize, usize)> {
        prop_oneof![
            Just((Profile::Single, 1, 0)),
            Just((Profile::Dup, 2, 0)),
            (1usize..9).prop_map(|n| (Profile::Raid0, n, 0)),
            (2u8..5).prop_map(|n| (Profile::Raid1(n), usize::from(n), 0)),
            (2usize..6).prop_map(|g| (Profile::Raid10, 2 * g, 2)),
            (2usize..9).prop_map(|n| (Profile::Raid5, n, 0)),
            (3usize..9).prop_map(|n| (Profile::Raid6, n, 0)),
        ]
    }

    proptest! {
        /// Every place is inside
        /// its stripe's share of the chunk; a run never leaves its element;
        /// parity sits on the row's other stripes.
        #[test]
        fn layouts_are_injective((profile, n, sub) in profiles(), rows in 1u64..6, sl_log in 9u32..17) {
            let sl = 1u64 << sl_log;
            let data_cols = match profile {
                Profile::Raid0 => n as u64,
                Profile::Raid10 => (n / sub) as u64,
                Profile::Raid5 | Profile::Raid6 => (n - profile.parity()) as u64,
                _ => 1,
            };
            let len = rows * sl * data_cols;
            let mut seen = std::collections::HashSet::new();
            // One byte per element, plus element ends.
            let mut off = 0;
            while off < len {
                for o in [off, off + sl - 1] {
                    let p = place(profile, n, sub, sl, o).unwrap();
                    let all = match &p {
                        Placement::Copies(c) => c.clone(),
                        Placement::Parity { data, parity, columns, .. } => {
                            prop_assert_eq!(columns.len() as u64, data_cols);
                            prop_assert!(columns.contains(&data.0));
                            for q in parity {
                                prop_assert!(!columns.contains(&q.0));
                                prop_assert_eq!(q.1, data.1);
                            }
                            vec![*data]
                        }
                    };
                    prop_assert!(!all.is_empty());
                    for (i, at) in all {
                        prop_assert!(i < n);
                        prop_assert!(at < rows * sl || matches!(profile, Profile::Single | Profile::Dup | Profile::Raid1(_)));
                        // Mirrored profiles put every copy at the same offset.
                        prop_assert!(seen.insert((i, at)) || o != off);
                    }
                    prop_assert!(run_len(profile, sl, o) >= 1);
                    let run = run_len(profile, sl, o);
                    prop_assert!(run == u64::MAX || o % sl + run == sl);
                }
                off += sl;
            }
        }

        /// Two different logical elements never land on the same device element.
        #[test]
        fn elements_do_not_collide((profile, n, sub) in profiles(), a in 0u64..64, b in 0u64..64) {
            prop_assume!(a != b);
            let sl = 4096;
            let pa = place(profile, n, sub, sl, a * sl).unwrap();
            let pb = place(profile, n, sub, sl, b * sl).unwrap();
            let firsts = |p: Placement| match p {
                Placement::Copies(c) => c,
                Placement::Parity { data, .. } => vec![data],
            };
            if matches!(profile, Profile::Single | Profile::Dup | Profile::Raid1(_)) {
                return Ok(());
            }
            for x in firsts(pa) {
                for y in firsts(pb.clone()) {
                    prop_assert_ne!(x, y);
                }
            }
        }
    }
}
