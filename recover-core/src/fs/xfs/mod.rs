//! XFS superblock identification.
//!
//! The superblock is the first sector of allocation group 0, big-endian
//! (xfs_format.h, struct xfs_dsb): sb_magicnum "XFSB" at 0, sb_blocksize 4,
//! sb_dblocks 8, sb_uuid 32, sb_versionnum 100, sb_sectsize 102,
//! sb_inodesize 104, sb_fname[12] 108, sb_agblocks 84, sb_agcount 88,
//! sb_crc 224 (v5 only, crc32c over sb_sectsize bytes with the field zeroed).

pub mod bmap;
pub mod dir;
pub mod inode;
pub mod reader;
pub mod sb;
pub mod symlink;

use crate::bytes::{padded_str, uuid_str};
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

/// Identifies an XFS superblock at offset 0.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let raw = sb::RawSuperblock::read(head)?;
    let s = "XFS superblock";
    let bs = raw.block_size;
    if !(512..=65536).contains(&bs) || !bs.is_power_of_two() {
        return corrupt(
            s,
            4,
            format!("block size {bs} is not a power of two in 512..=65536"),
        );
    }
    let sect = u32::from(raw.sect_size);
    if !(512..=32768).contains(&sect) || !sect.is_power_of_two() {
        return corrupt(
            s,
            102,
            format!("sector size {sect} is not a power of two in 512..=32768"),
        );
    }
    if raw.dblocks == 0 {
        return corrupt(s, 8, "data block count is zero");
    }
    let mut id = Identified::new("xfs", Usage::Filesystem, 0);
    id.block_size = Some(bs);
    id.version = Some(raw.version().to_string());
    id.uuid = Some(uuid_str(&raw.uuid));
    id.label = padded_str(&raw.fname);
    id.size = match raw.dblocks.checked_mul(u64::from(bs)) {
        Some(n) => Some(n),
        None => return corrupt(s, 8, "data blocks times block size overflows"),
    };
    if let Some((stored, computed)) = raw.crc {
        id.checksum(s, sb::CRC_OFFSET as u64, stored, computed);
    }
    id.detail("agcount", Detail::Number(u64::from(raw.ag_count)));
    id.detail("agblocks", Detail::Number(u64::from(raw.ag_blocks)));
    id.detail("sector_size", Detail::Number(u64::from(sect)));
    id.detail("inode_size", Detail::Number(u64::from(raw.inode_size)));
    Some(Ok(id))
}
