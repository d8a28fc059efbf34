//! ext2/3/4 superblock identification.
//!
//! The superblock sits 1024 bytes into the filesystem and is 1024 bytes
//! long; fields little-endian (Linux Documentation/filesystems/ext4/
//! super.rst): s_blocks_count_lo 0x04, s_log_block_size 0x18, s_magic 0xEF53
//! at 0x38, s_state 0x3A, s_rev_level 0x4C, s_minor_rev_level 0x3E,
//! s_feature_compat 0x5C, s_feature_incompat 0x60, s_feature_ro_compat 0x64,
//! s_uuid 0x68, s_volume_name 0x78, s_blocks_count_hi 0x150, s_checksum 0x3FC.

pub mod dir;
pub(crate) mod features;
pub mod geometry;
pub mod inode;
mod map;
pub mod reader;

pub use reader::Ext4;

use features::*;

use crate::bytes::{padded_str, uuid_str, Bytes};
use crate::checksum::crc32c_raw;
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

/// Byte offset of the superblock in the filesystem.
pub const SUPERBLOCK_OFFSET: usize = 1024;
const MAGIC: u16 = 0xEF53;

/// The superblock fields identification needs.
#[derive(Debug, Clone)]
pub struct Superblock {
    /// Blocks in the filesystem.
    pub blocks: u64,
    /// Bytes per block.
    pub block_size: u32,
    /// s_rev_level.
    pub rev_level: u32,
    /// s_minor_rev_level.
    pub minor_rev_level: u16,
    /// s_state (1 = cleanly unmounted).
    pub state: u16,
    /// Feature sets.
    pub compat: u32,
    /// Incompatible features.
    pub incompat: u32,
    /// Read-only compatible features.
    pub ro_compat: u32,
    /// Filesystem UUID.
    pub uuid: [u8; 16],
    /// Volume label.
    pub label: Option<String>,
    /// s_checksum and the value computed over the superblock, when metadata_csum is on.
    pub checksum: Option<(u32, u32)>,
}

/// Parses the 1024-byte superblock `sb`. Offsets in errors are within `sb`.
pub fn parse_superblock(sb: &[u8]) -> Option<crate::Result<Superblock>> {
    let b = Bytes(sb);
    if b.le_u16(0x38)? != MAGIC {
        return None;
    }
    let s = "ext superblock";
    let err = |off: u64, d: String| Some(Err(crate::Error::corrupt(s, off, d)));
    // From here `sb` is a `&[u8; 1024]`: constant ranges within it are
    // checked at compile time.
    let Some(sb) = sb.first_chunk::<1024>() else {
        return err(0, format!("only {} bytes", sb.len()));
    };
    let log = b.le_u32(0x18)?;
    if log > 6 {
        return err(0x18, format!("block size 2^(10+{log}) is beyond 64 KiB"));
    }
    let block_size = 1024u32 << log;
    let incompat = b.le_u32(0x60)?;
    let lo = u64::from(b.le_u32(0x04)?);
    let hi = if incompat & INCOMPAT_64BIT != 0 {
        u64::from(b.le_u32(0x150)?)
    } else {
        0
    };
    let blocks = lo | hi << 32;
    if blocks == 0 {
        return err(0x04, "block count is zero".into());
    }
    let ro_compat = b.le_u32(0x64)?;
    let checksum = (ro_compat & RO_COMPAT_METADATA_CSUM != 0).then(|| {
        // ext4 stores the raw crc32c register (seed !0, no final inversion).
        (b.le_u32(0x3FC).unwrap_or(0), crc32c_raw(!0, &sb[..0x3FC]))
    });
    Some(Ok(Superblock {
        blocks,
        block_size,
        rev_level: b.le_u32(0x4C)?,
        minor_rev_level: b.le_u16(0x3E)?,
        state: b.le_u16(0x3A)?,
        compat: b.le_u32(0x5C)?,
        incompat,
        ro_compat,
        uuid: b.array(0x68)?,
        label: padded_str(b.get(0x78, 16)?),
        checksum,
    }))
}

impl Superblock {
    /// ext2, ext3, ext4 or jbd (an external journal), the way blkid tells
    /// them apart: by the features each generation introduced.
    pub fn flavour(&self) -> &'static str {
        if self.incompat & INCOMPAT_JOURNAL_DEV != 0 {
            return "jbd";
        }
        let ext3_incompat = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG;
        let ext3_ro = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;
        let beyond_ext3 = self.incompat & !ext3_incompat != 0 || self.ro_compat & !ext3_ro != 0;
        match (beyond_ext3, self.compat & COMPAT_HAS_JOURNAL != 0) {
            (true, _) => "ext4",
            (false, true) => "ext3",
            (false, false) => "ext2",
        }
    }
}

/// Identifies an ext2/3/4 superblock at offset 1024.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let sb = head.get(SUPERBLOCK_OFFSET..)?;
    let sb = match parse_superblock(sb.get(..1024).unwrap_or(sb))? {
        Ok(s) => s,
        Err(e) => return Some(Err(e.within("", SUPERBLOCK_OFFSET as u64))),
    };
    let off = SUPERBLOCK_OFFSET as u64;
    let mut id = Identified::new(sb.flavour(), Usage::Filesystem, off);
    id.label = sb.label.clone();
    id.uuid = Some(uuid_str(&sb.uuid));
    id.block_size = Some(sb.block_size);
    id.version = Some(format!("{}.{}", sb.rev_level, sb.minor_rev_level));
    id.size = sb.blocks.checked_mul(u64::from(sb.block_size));
    if id.size.is_none() {
        return corrupt(
            "ext superblock",
            off + 4,
            "block count times block size overflows",
        );
    }
    if let Some((stored, computed)) = sb.checksum {
        id.checksum("ext superblock", off + 0x3FC, stored, computed);
    }
    id.detail("blocks", Detail::Number(sb.blocks));
    id.detail("feature_compat", Detail::Number(u64::from(sb.compat)));
    id.detail("feature_incompat", Detail::Number(u64::from(sb.incompat)));
    id.detail("feature_ro_compat", Detail::Number(u64::from(sb.ro_compat)));
    id.detail("clean", Detail::Flag(sb.state & 1 != 0));
    Some(Ok(id))
}
