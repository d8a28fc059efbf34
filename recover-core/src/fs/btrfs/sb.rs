//! The Btrfs superblock the reader needs, from the newest valid copy.
//!
//! Layout (btrfs-progs kernel-shared/uapi/btrfs_tree.h, struct
//! btrfs_super_block), little-endian, offsets in bytes:
//!
//! | off | field | | off | field |
//! |----:|-------|-|----:|-------|
//! | 0x00 | csum [32] | | 0xA0 | sys_chunk_array_size u32 |
//! | 0x20 | fsid [16] | | 0xBC | incompat_flags u64 |
//! | 0x30 | bytenr u64 | | 0xC4 | csum_type u16 |
//! | 0x40 | magic "_BHRfS_M" | | 0xC6 | root_level u8 |
//! | 0x48 | generation u64 | | 0xC7 | chunk_root_level u8 |
//! | 0x50 | root u64 | | 0xC9 | dev_item (98 bytes: devid +0, uuid +66, fsid +82) |
//! | 0x58 | chunk_root u64 | | 0x12B | label [256] |
//! | 0x70 | total_bytes u64 | | 0x23B | metadata_uuid [16] |
//! | 0x88 | num_devices u64 | | 0x32B | sys_chunk_array [2048] |
//! | 0x90 | sectorsize u32 | | | |
//! | 0x94 | nodesize u32 | | | |
//!
//! The checksum covers bytes 0x20..0x1000. Copies sit at 64 KiB, 64 MiB
//! and 256 GiB (`btrfs_sb_offset`); each names its own offset in bytenr.

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::io::{bytes_up_to, Volume};
use crate::problem::Problem;

use super::csum::CsumType;

/// Where the superblock copies are.
pub const COPIES: [u64; 3] = [0x1_0000, 0x400_0000, 0x40_0000_0000];
/// Bytes of a superblock.
pub const SIZE: usize = 0x1000;
/// Most bytes the sys_chunk_array holds (BTRFS_SYSTEM_CHUNK_ARRAY_SIZE).
pub const SYS_CHUNK_ARRAY_MAX: usize = 2048;
const SYS_CHUNK_ARRAY: usize = 0x32B;
/// incompat_flags: headers carry metadata_uuid, not fsid.
const INCOMPAT_METADATA_UUID: u64 = 1 << 10;
/// incompat_flags: the extent tree v2 layout (not read by this build).
const INCOMPAT_EXTENT_TREE_V2: u64 = 1 << 13;
/// Deepest b-tree level (BTRFS_MAX_LEVEL is 8: levels 0..=7).
pub const MAX_LEVEL: u8 = 7;

/// The validated fields the reader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Byte offset of the copy this was read from.
    pub offset: u64,
    /// fsid.
    pub fsid: [u8; 16],
    /// The uuid tree block headers carry (metadata_uuid or fsid).
    pub header_fsid: [u8; 16],
    /// generation.
    pub generation: u64,
    /// Logical address and level of the root tree's root.
    pub root: (u64, u8),
    /// Logical address and level of the chunk tree's root.
    pub chunk_root: (u64, u8),
    /// total_bytes.
    pub total_bytes: u64,
    /// num_devices.
    pub num_devices: u64,
    /// sectorsize (4096..=65536, a power of two).
    pub sectorsize: u32,
    /// nodesize (4096..=65536, a power of two, at least sectorsize).
    pub nodesize: u32,
    /// The checksum type.
    pub csum: CsumType,
    /// incompat_flags.
    pub incompat: u64,
    /// This device's id (dev_item.devid).
    pub devid: u64,
    /// This device's uuid (dev_item.uuid).
    pub dev_uuid: [u8; 16],
    /// sys_chunk_array, as long as sys_chunk_array_size says.
    pub sys_chunk_array: Vec<u8>,
}

fn pow2_in(v: u32, lo: u32, hi: u32) -> bool {
    (lo..=hi).contains(&v) && v.is_power_of_two()
}

impl Superblock {
    /// Parses a superblock copy `b` read from byte `at`; offsets in errors
    /// are within the volume. The checksum is checked when the type is
    /// one this build computes (`Ok((sb, false))` when it is not).
    pub fn parse(b: &[u8], at: u64) -> Result<(Superblock, bool)> {
        let s = "Btrfs superblock";
        let r = Bytes(b);
        let bad = |off: u64, d: String| Error::corrupt(s, at + off, d);
        if b.len() < SIZE {
            return Err(bad(0, "cut short by the end of the volume".into()));
        }
        if !r.has(0x40, b"_BHRfS_M") {
            return Err(bad(0x40, "no magic".into()));
        }
        let short = || bad(0, "cut short".into());
        let raw_csum = r.le_u16(0xC4).ok_or_else(short)?;
        let csum = CsumType::from_raw(raw_csum)
            .ok_or_else(|| bad(0xC4, format!("unknown checksum type {raw_csum}")))?;
        let verified = match csum.matches(
            r.get(0, 32).ok_or_else(short)?,
            r.get(0x20, SIZE - 0x20).ok_or_else(short)?,
        ) {
            Some(false) => return Err(bad(0, format!("{} checksum mismatch", csum.name()))),
            Some(true) => true,
            None => false,
        };
        let bytenr = r.le_u64(0x30).ok_or_else(short)?;
        if bytenr != at {
            return Err(bad(0x30, format!("says it is at {bytenr:#x}")));
        }
        let sectorsize = r.le_u32(0x90).ok_or_else(short)?;
        if !pow2_in(sectorsize, 4096, 65536) {
            return Err(bad(0x90, format!("sector size {sectorsize}")));
        }
        let nodesize = r.le_u32(0x94).ok_or_else(short)?;
        if !pow2_in(nodesize, 4096, 65536) || nodesize < sectorsize {
            return Err(bad(0x94, format!("node size {nodesize}")));
        }
        let root_level = r.u8(0xC6).ok_or_else(short)?;
        let chunk_level = r.u8(0xC7).ok_or_else(short)?;
        if root_level > MAX_LEVEL {
            return Err(bad(0xC6, format!("root level {root_level}")));
        }
        if chunk_level > MAX_LEVEL {
            return Err(bad(0xC7, format!("chunk root level {chunk_level}")));
        }
        let sys_len = r.le_u32(0xA0).ok_or_else(short)? as usize;
        if sys_len > SYS_CHUNK_ARRAY_MAX {
            return Err(bad(0xA0, format!("sys_chunk_array_size {sys_len} > 2048")));
        }
        let incompat = r.le_u64(0xBC).ok_or_else(short)?;
        let fsid: [u8; 16] = r.array(0x20).ok_or_else(short)?;
        let header_fsid = if incompat & INCOMPAT_METADATA_UUID != 0 {
            r.array(0x23B).ok_or_else(short)?
        } else {
            fsid
        };
        let sb = Superblock {
            offset: at,
            fsid,
            header_fsid,
            generation: r.le_u64(0x48).ok_or_else(short)?,
            root: (r.le_u64(0x50).ok_or_else(short)?, root_level),
            chunk_root: (r.le_u64(0x58).ok_or_else(short)?, chunk_level),
            total_bytes: r.le_u64(0x70).ok_or_else(short)?,
            num_devices: r.le_u64(0x88).ok_or_else(short)?,
            sectorsize,
            nodesize,
            csum,
            incompat,
            devid: r.le_u64(0xC9).ok_or_else(short)?,
            dev_uuid: r.array(0xC9 + 66).ok_or_else(short)?,
            sys_chunk_array: r.get(SYS_CHUNK_ARRAY, sys_len).ok_or_else(short)?.to_vec(),
        };
        Ok((sb, verified))
    }

    /// The newest valid copy on `vol` by generation. Damaged copies are
    /// reported to `problems` (a copy past the end of the volume is not
    /// damage); an unverifiable checksum type is reported once.
    pub fn read_best(vol: &dyn Volume, problems: &ProblemLog) -> Result<Superblock> {
        let mut best: Option<(Superblock, bool)> = None;
        let mut first_err = None;
        for at in COPIES {
            if at.saturating_add(SIZE as u64) > vol.len() {
                continue;
            }
            let b = bytes_up_to(vol, at, SIZE)?;
            if !Bytes(&b).has(0x40, b"_BHRfS_M") {
                // Mirrors are written only where the device reaches.
                if at == COPIES[0] {
                    first_err.get_or_insert(Error::corrupt(
                        "Btrfs superblock",
                        at + 0x40,
                        "no magic in the primary superblock",
                    ));
                }
                continue;
            }
            match Superblock::parse(&b, at) {
                Ok((sb, verified)) => {
                    if best
                        .as_ref()
                        .is_none_or(|(b, _)| sb.generation > b.generation)
                    {
                        best = Some((sb, verified));
                    }
                }
                Err(e) => {
                    problems.push(Problem::from_error(
                        crate::problem::Severity::Warning,
                        "Btrfs superblock",
                        &e,
                    ));
                    first_err.get_or_insert(e);
                }
            }
        }
        match best {
            Some((sb, verified)) => {
                if !verified {
                    problems.push(Problem::warning(
                        "Btrfs superblock",
                        Some(sb.offset + 0xC4),
                        format!(
                            "checksum type {} not verified by this build",
                            sb.csum.name()
                        ),
                    ));
                }
                if sb.incompat & INCOMPAT_EXTENT_TREE_V2 != 0 {
                    return Err(Error::Unsupported {
                        layer: String::new(),
                        what: "Btrfs with the extent tree v2 layout".into(),
                    });
                }
                Ok(sb)
            }
            None => Err(first_err.unwrap_or_else(|| {
                Error::corrupt("Btrfs superblock", COPIES[0], "no superblock copy found")
            })),
        }
    }
}
