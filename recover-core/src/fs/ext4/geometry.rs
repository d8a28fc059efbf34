//! What the reader needs from the superblock, and where the block group
//! descriptors are (pure layout math).
//!
//! Superblock fields (Linux Documentation/filesystems/ext4/super.rst),
//! little-endian: s_inodes_count 0x00, s_first_data_block 0x14,
//! s_blocks_per_group 0x20, s_inodes_per_group 0x28, s_inode_size 0x58
//! (u16, rev >= 1), s_desc_size 0xFE (u16, with 64bit), s_first_meta_bg
//! 0x104, s_checksum_seed 0x270 (with csum_seed). Group descriptors
//! (group_descr.rst): bg_inode_table_lo 0x08, bg_flags 0x12, bg_checksum
//! 0x1E, bg_inode_table_hi 0x28 (64-byte descriptors).

use super::features::*;
use super::Superblock;
use crate::bytes::Bytes;
use crate::checksum::crc32c_raw;
use crate::error::{Error, Result};

/// bg_flags: the group's inode table was never initialized (its inodes
/// are all free).
pub(crate) const BG_INODE_UNINIT: u16 = 0x1;

/// The layout of one ext2/3/4 filesystem.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// Bytes per block.
    pub block_size: u64,
    /// Blocks in the filesystem.
    pub blocks: u64,
    /// Inodes in the filesystem.
    pub inodes: u32,
    /// First block of group 0 (1 with 1 KiB blocks, else 0).
    pub first_data_block: u64,
    /// Blocks per group.
    pub blocks_per_group: u64,
    /// Inodes per group.
    pub inodes_per_group: u32,
    /// Bytes per on-disk inode.
    pub inode_size: u32,
    /// Bytes per group descriptor.
    pub desc_size: u32,
    /// Block groups.
    pub groups: u64,
    /// First group whose descriptors sit in meta block groups (meta_bg).
    pub first_meta_bg: u64,
    /// Incompatible features.
    pub incompat: u32,
    /// Read-only compatible features.
    pub ro_compat: u32,
    /// Seed of every metadata_csum checksum: crc32c(~0, uuid) or
    /// s_checksum_seed; `None` without metadata_csum.
    pub csum_seed: Option<u32>,
}

impl Geometry {
    /// Reads the layout from the 1024-byte superblock `raw` (already
    /// parsed as `sb`). Offsets in errors are within the superblock.
    pub fn new(sb: &Superblock, raw: &[u8]) -> Result<Geometry> {
        let b = Bytes(raw);
        let bad = |off: u64, d: String| Error::corrupt("ext superblock", off, d);
        let field = |off: usize| {
            b.le_u32(off)
                .ok_or_else(|| bad(off as u64, "truncated".into()))
        };
        let inodes = field(0x00)?;
        let first_data_block = u64::from(field(0x14)?);
        let blocks_per_group = u64::from(field(0x20)?);
        let inodes_per_group = field(0x28)?;
        let block_size = u64::from(sb.block_size);
        if blocks_per_group == 0 || blocks_per_group > block_size * 8 {
            return Err(bad(
                0x20,
                format!(
                    "{blocks_per_group} blocks per group (a bitmap block holds {})",
                    block_size * 8
                ),
            ));
        }
        if inodes_per_group == 0 || u64::from(inodes_per_group) > block_size * 8 {
            return Err(bad(0x28, format!("{inodes_per_group} inodes per group")));
        }
        let inode_size = if sb.rev_level == 0 {
            128
        } else {
            u32::from(b.le_u16(0x58).unwrap_or(0))
        };
        if !inode_size.is_power_of_two() || inode_size < 128 || u64::from(inode_size) > block_size {
            return Err(bad(0x58, format!("inode size {inode_size}")));
        }
        let desc_size = if sb.incompat & INCOMPAT_64BIT != 0 {
            u32::from(b.le_u16(0xFE).unwrap_or(0))
        } else {
            32
        };
        if !desc_size.is_power_of_two() || desc_size < 32 || u64::from(desc_size) > block_size {
            return Err(bad(0xFE, format!("group descriptor size {desc_size}")));
        }
        if first_data_block >= sb.blocks {
            return Err(bad(0x14, format!("first data block {first_data_block}")));
        }
        let groups = (sb.blocks - first_data_block).div_ceil(blocks_per_group);
        if u64::from(inodes) > groups.saturating_mul(u64::from(inodes_per_group)) {
            return Err(bad(
                0x00,
                format!("{inodes} inodes, more than {groups} groups of {inodes_per_group} hold"),
            ));
        }
        let csum_seed = (sb.ro_compat & RO_COMPAT_METADATA_CSUM != 0).then(|| {
            if sb.incompat & INCOMPAT_CSUM_SEED != 0 {
                b.le_u32(0x270).unwrap_or(0)
            } else {
                crc32c_raw(!0, &sb.uuid)
            }
        });
        Ok(Geometry {
            block_size,
            blocks: sb.blocks,
            inodes,
            first_data_block,
            blocks_per_group,
            inodes_per_group,
            inode_size,
            desc_size,
            groups,
            first_meta_bg: u64::from(b.le_u32(0x104).unwrap_or(0)),
            incompat: sb.incompat,
            ro_compat: sb.ro_compat,
            csum_seed,
        })
    }

    /// Whether group `g` holds a superblock backup: every group without
    /// sparse_super; with it, groups 0, 1 and powers of 3, 5 and 7.
    pub fn has_super(&self, g: u64) -> bool {
        if self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 || g <= 1 {
            return true;
        }
        [3u64, 5, 7].iter().any(|&base| {
            let mut p = base;
            while p < g {
                p = p.saturating_mul(base);
            }
            p == g
        })
    }

    /// The byte offset of group `g`'s descriptor (`None` past the last
    /// group or on overflow).
    pub fn desc_offset(&self, g: u64) -> Option<u64> {
        if g >= self.groups {
            return None;
        }
        let per_block = self.block_size / u64::from(self.desc_size);
        let (block, index) =
            if self.incompat & INCOMPAT_META_BG != 0 && g / per_block >= self.first_meta_bg {
                // meta_bg: each run of `per_block` groups keeps its descriptor
                // block in its own first group, after that group's superblock
                // backup (super.rst, "Meta Block Groups").
                let first = g / per_block * per_block;
                let start = self
                    .first_data_block
                    .checked_add(first.checked_mul(self.blocks_per_group)?)?;
                (start + u64::from(self.has_super(first)), g % per_block)
            } else {
                (self.first_data_block + 1 + g / per_block, g % per_block)
            };
        block
            .checked_mul(self.block_size)?
            .checked_add(index * u64::from(self.desc_size))
    }

    /// Where inode `ino` is, given its group's inode table block: its
    /// group, and its index in that group.
    pub fn inode_place(&self, ino: u32) -> Option<(u64, u64)> {
        if ino == 0 || ino > self.inodes {
            return None;
        }
        let i = u64::from(ino - 1);
        let ipg = u64::from(self.inodes_per_group);
        Some((i / ipg, i % ipg))
    }
}

/// A parsed group descriptor.
#[derive(Debug, Clone, Copy)]
pub struct GroupDesc {
    /// First block of the inode table.
    pub inode_table: u64,
    /// bg_flags.
    pub flags: u16,
    /// Stored and computed checksum, with metadata_csum.
    pub checksum: Option<(u16, u16)>,
}

/// Parses group `g`'s descriptor from `raw` (`desc_size` bytes).
pub fn parse_desc(geo: &Geometry, g: u64, raw: &[u8]) -> Option<GroupDesc> {
    let b = Bytes(raw);
    let lo = u64::from(b.le_u32(0x08)?);
    let hi = if geo.desc_size >= 64 {
        u64::from(b.le_u32(0x28)?)
    } else {
        0
    };
    let checksum = geo.csum_seed.map(|seed| {
        // crc32c over the group number and the descriptor with bg_checksum
        // zeroed, low 16 bits (group_descr.rst).
        let c = crc32c_raw(seed, &(g as u32).to_le_bytes()); // ok: the checksum takes le32
        let c = crc32c_raw(c, raw.get(..0x1E).unwrap_or(&[]));
        let c = crc32c_raw(c, &[0, 0]);
        let c = crc32c_raw(c, raw.get(0x20..).unwrap_or(&[]));
        (b.le_u16(0x1E).unwrap_or(0), (c & 0xFFFF) as u16)
    });
    Some(GroupDesc {
        inode_table: lo | hi << 32,
        flags: b.le_u16(0x12)?,
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(meta_bg: bool) -> Geometry {
        Geometry {
            block_size: 4096,
            blocks: 1 << 20,
            inodes: 65536,
            first_data_block: 0,
            blocks_per_group: 32768,
            inodes_per_group: 2048,
            inode_size: 256,
            desc_size: 64,
            groups: 32,
            first_meta_bg: 0,
            incompat: if meta_bg { INCOMPAT_META_BG } else { 0 },
            ro_compat: RO_COMPAT_SPARSE_SUPER,
            csum_seed: None,
        }
    }

    #[test]
    fn sparse_super_groups() {
        let g = geo(false);
        let with: Vec<u64> = (0..100).filter(|&n| g.has_super(n)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49, 81]);
    }

    #[test]
    fn descriptor_places() {
        let g = geo(false);
        assert_eq!(g.desc_offset(0), Some(4096));
        assert_eq!(g.desc_offset(65), None);
        assert_eq!(g.desc_offset(31), Some(4096 + 31 * 64));
        // meta_bg with 64 descriptors per block: group 0's block follows
        // group 0's superblock.
        let m = geo(true);
        assert_eq!(m.desc_offset(3), Some(4096 + 3 * 64));
        assert_eq!(g.inode_place(1), Some((0, 0)));
        assert_eq!(g.inode_place(2049), Some((1, 0)));
        assert_eq!(g.inode_place(0), None);
        assert_eq!(g.inode_place(65537), None);
    }
}
