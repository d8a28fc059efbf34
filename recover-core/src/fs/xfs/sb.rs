//! The XFS superblock as the reader needs it, and the geometry that turns
//! filesystem block numbers and inode numbers into byte offsets.
//!
//! Layout (XFS Algorithms & Data Structures, "Superblocks"; libxfs
//! xfs_format.h `struct xfs_dsb`), big-endian, offsets in bytes:
//!
//! | off | field | | off | field |
//! |----:|-------|-|----:|-------|
//! | 0 | sb_magicnum "XFSB" | | 102 | sb_sectsize u16 |
//! | 4 | sb_blocksize u32 | | 104 | sb_inodesize u16 |
//! | 8 | sb_dblocks u64 | | 106 | sb_inopblock u16 |
//! | 32 | sb_uuid [16] | | 120 | sb_blocklog u8 |
//! | 56 | sb_rootino u64 | | 122 | sb_inodelog u8 |
//! | 84 | sb_agblocks u32 | | 123 | sb_inopblog u8 |
//! | 88 | sb_agcount u32 | | 124 | sb_agblklog u8 |
//! | 100 | sb_versionnum u16 | | 192 | sb_dirblklog u8 |
//! | 200 | sb_features2 u32 | | 216 | sb_features_incompat u32 |
//!
//! An XFS filesystem block number (fsblock) packs the allocation group in
//! its high bits and the block within the group in the low `sb_agblklog`
//! bits; an inode number adds `sb_inopblog` bits for the inode within its
//! block below that.

use crate::bytes::Bytes;
use crate::error::{Error, Result};

/// sb_versionnum low nibble values this reader knows.
const VERSION_4: u16 = 4;
const VERSION_5: u16 = 5;
/// sb_versionnum: sb_features2 is valid.
const VERSION_MOREBITS: u16 = 0x8000;
/// sb_features2: directory entries carry a file type byte (v4).
const FEATURES2_FTYPE: u32 = 0x0000_0200;
/// sb_features_incompat bits (v5).
const INCOMPAT_FTYPE: u32 = 0x1;
const INCOMPAT_BIGTIME: u32 = 0x8;
const INCOMPAT_NREXT64: u32 = 0x20;

/// The validated superblock fields the reader uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Filesystem block size in bytes (512..=65536, a power of two).
    pub block_size: u32,
    /// log2(block_size).
    pub block_log: u8,
    /// Blocks in the data section.
    pub dblocks: u64,
    /// Inode size in bytes (256..=2048, a power of two).
    pub inode_size: u16,
    /// log2(inodes per block).
    pub inopb_log: u8,
    /// Blocks per allocation group (the last may be shorter).
    pub ag_blocks: u32,
    /// Allocation groups.
    pub ag_count: u32,
    /// Bits of an fsblock number that hold the block within its group.
    pub agblk_log: u8,
    /// log2(directory block size / block size).
    pub dir_block_log: u8,
    /// The root directory's inode.
    pub root_ino: u64,
    /// Superblock version 5: CRCs, v3 inodes, self-describing headers.
    pub v5: bool,
    /// Directory entries carry a file type byte.
    pub ftype: bool,
    /// The bigtime feature (inodes may hold 64-bit nanosecond times).
    pub bigtime: bool,
    /// 64-bit extent counters (inodes with the NREXT64 flag).
    pub nrext64: bool,
}

/// The superblock's fields as stored, read once from its bytes: the one
/// parse that identification, the deep scan's validator and the reader
/// ([`Geometry::parse`]) each check as far as they need. `None` when the
/// bytes are shorter than the fields or the magic is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSuperblock {
    /// sb_blocksize (4).
    pub block_size: u32,
    /// sb_dblocks (8).
    pub dblocks: u64,
    /// sb_uuid (32).
    pub uuid: [u8; 16],
    /// sb_rootino (56).
    pub root_ino: u64,
    /// sb_agblocks (84).
    pub ag_blocks: u32,
    /// sb_agcount (88).
    pub ag_count: u32,
    /// sb_versionnum (100).
    pub versionnum: u16,
    /// sb_sectsize (102).
    pub sect_size: u16,
    /// sb_inodesize (104).
    pub inode_size: u16,
    /// sb_fname (108), 12 bytes.
    pub fname: [u8; 12],
    /// sb_blocklog (120).
    pub block_log: u8,
    /// sb_inopblog (123).
    pub inopb_log: u8,
    /// sb_agblklog (124).
    pub agblk_log: u8,
    /// sb_dirblklog (192).
    pub dir_block_log: u8,
    /// sb_features2 (200).
    pub features2: u32,
    /// sb_features_incompat (216).
    pub incompat: u32,
    /// sb_crc (224), little-endian, and the CRC-32C of the sector with it
    /// zeroed, for a v5 superblock whose sector is in `b`.
    pub crc: Option<(u32, u32)>,
}

/// Where sb_crc sits.
pub const CRC_OFFSET: usize = 224;

impl RawSuperblock {
    /// Reads the fields from `b` (the superblock's sector, or at least its
    /// first 228 bytes).
    pub fn read(b: &[u8]) -> Option<RawSuperblock> {
        let r = Bytes(b);
        if !r.has(0, b"XFSB") {
            return None;
        }
        let versionnum = r.be_u16(100)?;
        let sect_size = r.be_u16(102)?;
        let crc = if versionnum & 0xF == VERSION_5 {
            r.get(0, usize::from(sect_size).max(CRC_OFFSET + 4))
                .and_then(|s| crate::bytes::zeroed(s, CRC_OFFSET, 4))
                .and_then(|copy| Some((r.le_u32(CRC_OFFSET)?, crate::checksum::crc32c(&copy))))
        } else {
            None
        };
        Some(RawSuperblock {
            block_size: r.be_u32(4)?,
            dblocks: r.be_u64(8)?,
            uuid: r.array(32)?,
            root_ino: r.be_u64(56)?,
            ag_blocks: r.be_u32(84)?,
            ag_count: r.be_u32(88)?,
            versionnum,
            sect_size,
            inode_size: r.be_u16(104)?,
            fname: r.array(108)?,
            block_log: r.u8(120)?,
            inopb_log: r.u8(123)?,
            agblk_log: r.u8(124)?,
            dir_block_log: r.u8(192)?,
            features2: r.be_u32(200)?,
            incompat: r.be_u32(216)?,
            crc,
        })
    }

    /// The version nibble of sb_versionnum (4 or 5 for any XFS in use).
    pub fn version(&self) -> u16 {
        self.versionnum & 0xF
    }
}

fn bad(offset: u64, detail: String) -> Error {
    Error::corrupt("XFS superblock", offset, detail)
}

fn log2_exact(v: u64) -> Option<u8> {
    v.is_power_of_two().then(|| v.trailing_zeros() as u8) // ok: < 64
}

impl Geometry {
    /// Parses and cross-checks the superblock in `b` (at least 512 bytes).
    pub fn parse(b: &[u8]) -> Result<Geometry> {
        if !Bytes(b).has(0, b"XFSB") {
            return Err(bad(0, "magic is not XFSB".into()));
        }
        let raw = RawSuperblock::read(b)
            .ok_or_else(|| bad(0, "superblock is shorter than 512 bytes".into()))?;
        Geometry::from_raw(&raw)
    }

    /// Cross-checks the fields the reader relies on.
    pub fn from_raw(raw: &RawSuperblock) -> Result<Geometry> {
        let block_size = raw.block_size;
        let block_log = match log2_exact(u64::from(block_size)) {
            Some(l) if (9..=16).contains(&l) => l,
            _ => {
                return Err(bad(
                    4,
                    format!("block size {block_size} is not a power of two in 512..=65536"),
                ))
            }
        };
        if raw.block_log != block_log {
            return Err(bad(
                120,
                format!(
                    "sb_blocklog {} does not match block size {block_size}",
                    raw.block_log
                ),
            ));
        }
        let version = raw.versionnum;
        let v5 = match version & 0xF {
            VERSION_5 => true,
            VERSION_4 => false,
            v => return Err(bad(100, format!("superblock version {v} is not 4 or 5"))),
        };
        let inode_size = raw.inode_size;
        let inode_log = match log2_exact(u64::from(inode_size)) {
            Some(l) if (8..=11).contains(&l) && l <= block_log => l,
            _ => {
                return Err(bad(
                    104,
                    format!(
                        "inode size {inode_size} is not a power of two in 256..=2048 \
                         and at most the block size"
                    ),
                ))
            }
        };
        let inopb_log = raw.inopb_log;
        if inopb_log != block_log - inode_log {
            return Err(bad(
                123,
                format!(
                    "sb_inopblog {inopb_log} does not match block size {block_size} / \
                     inode size {inode_size}"
                ),
            ));
        }
        let (ag_blocks, ag_count) = (raw.ag_blocks, raw.ag_count);
        if ag_blocks == 0 || ag_count == 0 {
            return Err(bad(84, "no allocation groups, or empty ones".into()));
        }
        // sb_agblklog is the bits needed for agblocks - 1, rounded up.
        let agblk_log = raw.agblk_log;
        let need = 32 - (ag_blocks - 1).leading_zeros();
        if u32::from(agblk_log) < need || agblk_log > 31 {
            return Err(bad(
                124,
                format!("sb_agblklog {agblk_log} does not fit {ag_blocks} blocks per group"),
            ));
        }
        if u32::from(agblk_log) + u32::from(inopb_log) > 56 {
            return Err(bad(
                124,
                "inode numbers would need more than 56 bits".into(),
            ));
        }
        let dblocks = raw.dblocks;
        if dblocks == 0 || dblocks.checked_mul(u64::from(block_size)).is_none() {
            return Err(bad(8, format!("data block count {dblocks} is not usable")));
        }
        let dir_block_log = raw.dir_block_log;
        if u32::from(block_log) + u32::from(dir_block_log) > 16 {
            return Err(bad(
                192,
                format!("directory blocks of 2^{dir_block_log} fs blocks exceed 64 KiB"),
            ));
        }
        let features2 = if version & VERSION_MOREBITS != 0 {
            raw.features2
        } else {
            0
        };
        let incompat = if v5 { raw.incompat } else { 0 };
        let g = Geometry {
            block_size,
            block_log,
            dblocks,
            inode_size,
            inopb_log,
            ag_blocks,
            ag_count,
            agblk_log,
            dir_block_log,
            root_ino: raw.root_ino,
            v5,
            ftype: features2 & FEATURES2_FTYPE != 0 || incompat & INCOMPAT_FTYPE != 0,
            bigtime: incompat & INCOMPAT_BIGTIME != 0,
            nrext64: incompat & INCOMPAT_NREXT64 != 0,
        };
        if g.ino_offset(g.root_ino).is_none() {
            return Err(bad(
                56,
                format!("root inode {} lies outside the filesystem", g.root_ino),
            ));
        }
        Ok(g)
    }

    /// Directory block size in bytes.
    pub fn dir_block_size(&self) -> u32 {
        self.block_size << self.dir_block_log
    }

    /// Byte offset of filesystem block `fsb`, `None` when its group or its
    /// block within the group does not exist.
    pub fn fsb_offset(&self, fsb: u64) -> Option<u64> {
        let agno = fsb.checked_shr(u32::from(self.agblk_log))?;
        let agbno = fsb & ((1u64 << self.agblk_log) - 1);
        if agno >= u64::from(self.ag_count) || agbno >= u64::from(self.ag_blocks) {
            return None;
        }
        let block = agno
            .checked_mul(u64::from(self.ag_blocks))?
            .checked_add(agbno)?;
        block.checked_mul(u64::from(self.block_size))
    }

    /// Byte offset of inode `ino`, `None` when it cannot exist.
    pub fn ino_offset(&self, ino: u64) -> Option<u64> {
        let fsb = ino.checked_shr(u32::from(self.inopb_log))?;
        let within = ino & ((1u64 << self.inopb_log) - 1);
        self.fsb_offset(fsb)?
            .checked_add(within * u64::from(self.inode_size))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn golden() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0..4].copy_from_slice(b"XFSB");
        b[4..8].copy_from_slice(&4096u32.to_be_bytes());
        b[8..16].copy_from_slice(&81920u64.to_be_bytes());
        b[56..64].copy_from_slice(&128u64.to_be_bytes());
        b[84..88].copy_from_slice(&20480u32.to_be_bytes());
        b[88..92].copy_from_slice(&4u32.to_be_bytes());
        b[100..102].copy_from_slice(&(0xB000u16 | 5).to_be_bytes());
        b[102..104].copy_from_slice(&512u16.to_be_bytes());
        b[104..106].copy_from_slice(&512u16.to_be_bytes());
        b[106..108].copy_from_slice(&8u16.to_be_bytes());
        b[120] = 12;
        b[122] = 9;
        b[123] = 3;
        b[124] = 15;
        b[216..220].copy_from_slice(&(INCOMPAT_FTYPE | INCOMPAT_BIGTIME).to_be_bytes());
        b
    }

    #[test]
    fn geometry_and_address_math() {
        let g = Geometry::parse(&golden()).unwrap();
        assert!(g.v5 && g.ftype && g.bigtime && !g.nrext64);
        assert_eq!(g.dir_block_size(), 4096);
        // AG 1, block 5: (20480 + 5) * 4096.
        assert_eq!(g.fsb_offset((1 << 15) | 5), Some((20480 + 5) * 4096));
        assert_eq!(g.fsb_offset(4 << 15), None, "AG past the count");
        assert_eq!(g.fsb_offset(20480), None, "block past the group");
        // Inode 128: block 16, slot 0.
        assert_eq!(g.ino_offset(128), Some(16 * 4096));
        assert_eq!(g.ino_offset(131), Some(16 * 4096 + 3 * 512));
        assert_eq!(g.ino_offset(u64::MAX), None);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (off, val) in [
            (0usize, 0u8),
            (4, 0x7f),
            (120, 11),
            (100 + 1, 3),
            (123, 4),
            (124, 3),
            (192, 9),
        ] {
            let mut b = golden();
            b[off] = val;
            match Geometry::parse(&b) {
                Err(Error::Corrupt { offset, .. }) => {
                    assert!(offset <= off as u64 + 4, "field {off}: error at {offset}")
                }
                other => panic!("field {off}: {other:?}"),
            }
        }
        assert!(Geometry::parse(&golden()[..100]).is_err());
    }
}
