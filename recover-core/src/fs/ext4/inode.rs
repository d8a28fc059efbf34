//! The on-disk inode (Linux Documentation/filesystems/ext4/inodes.rst),
//! little-endian: i_mode 0x00, i_uid 0x02, i_size_lo 0x04, i_atime 0x08,
//! i_ctime 0x0C, i_mtime 0x10, i_gid 0x18, i_links_count 0x1A,
//! i_blocks_lo 0x1C, i_flags 0x20, i_block 0x28 (60 bytes), i_generation
//! 0x64, i_file_acl_lo 0x68, i_size_high 0x6C, l_i_blocks_high 0x74,
//! l_i_file_acl_high 0x76, l_i_uid_high 0x78, l_i_gid_high 0x7A,
//! l_i_checksum_lo 0x7C; past 128 bytes: i_extra_isize 0x80,
//! i_checksum_hi 0x82, i_ctime_extra 0x84, i_mtime_extra 0x88,
//! i_atime_extra 0x8C, i_crtime 0x90, i_crtime_extra 0x94, then in-inode
//! extended attributes (attributes.rst).

use crate::bytes::{zero_field, Bytes};
use crate::checksum::crc32c_raw;
use crate::fs::Timestamp;

/// i_flags bits.
pub(crate) const FL_COMPR: u32 = 0x4;
pub(crate) const FL_IMMUTABLE: u32 = 0x10;
pub(crate) const FL_APPEND: u32 = 0x20;
pub(crate) const FL_ENCRYPT: u32 = 0x800;
pub(crate) const FL_INDEX: u32 = 0x1000;
pub(crate) const FL_HUGE_FILE: u32 = 0x4_0000;
pub(crate) const FL_EXTENTS: u32 = 0x8_0000;
pub(crate) const FL_INLINE_DATA: u32 = 0x1000_0000;

/// Bytes of i_block.
pub const I_BLOCK_LEN: usize = 60;

/// A parsed inode.
#[derive(Debug, Clone)]
pub struct Inode {
    /// Its number.
    pub ino: u32,
    /// i_mode.
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Length in bytes.
    pub size: u64,
    /// Hard links.
    pub links: u16,
    /// Blocks held, in 512-byte units (fs blocks with huge_file).
    pub blocks: u64,
    /// i_flags.
    pub flags: u32,
    /// i_block: the extent tree root, the block map, a fast symlink's
    /// target or the start of inline data.
    pub i_block: [u8; I_BLOCK_LEN],
    /// i_generation (part of the checksum seed of the inode's blocks).
    pub generation: u32,
    /// Block of the external extended-attribute block, 0 for none.
    pub file_acl: u64,
    /// Access, change, modification, creation.
    pub atime: Timestamp,
    /// Status change.
    pub ctime: Timestamp,
    /// Modification.
    pub mtime: Timestamp,
    /// Creation, when the inode is large enough to hold it.
    pub crtime: Option<Timestamp>,
    /// The whole on-disk inode (for in-inode attributes).
    pub raw: Vec<u8>,
    /// Stored and computed checksum (16 bits when the inode holds only the
    /// low half), with metadata_csum.
    pub checksum: Option<(u32, u32)>,
}

/// A time from its 32-bit seconds and, where the inode has it, the
/// `_extra` word: 2 epoch bits above bit 31 of the seconds, then 30 bits
/// of nanoseconds (inodes.rst, "Inode Timestamps").
fn time(secs: u32, extra: Option<u32>) -> Timestamp {
    let base = i64::from(secs as i32); // ok: the on-disk field is signed
    match extra {
        Some(x) => Timestamp::new(base + (i64::from(x & 3) << 32), x >> 2),
        None => Timestamp::new(base, 0),
    }
}

/// Parses inode `ino` from its `raw` bytes (s_inode_size long). `seed` is
/// the filesystem's metadata_csum seed. `None` when `raw` is too short.
pub fn parse(ino: u32, raw: &[u8], seed: Option<u32>) -> Option<Inode> {
    if raw.len() < 128 {
        return None;
    }
    let b = Bytes(raw);
    // An i_extra_isize that does not fit the inode (the kernel calls it
    // corruption) leaves only the 128-byte core trustworthy.
    let extra_isize = match usize::from(b.le_u16(0x80).unwrap_or(0)) {
        x if raw.len() > 128 && 128 + x <= raw.len() && x % 4 == 0 => x,
        _ => 0,
    };
    // A field past 128 bytes exists when i_extra_isize covers it.
    let has = |off: usize, len: usize| {
        raw.len() > 128 && off + len <= 128 + extra_isize && off + len <= raw.len()
    };
    let extra = |off: usize| if has(off, 4) { b.le_u32(off) } else { None };
    let generation = b.le_u32(0x64)?;
    let checksum = seed.and_then(|seed| {
        let c = crc32c_raw(seed, &ino.to_le_bytes());
        let c = crc32c_raw(c, &generation.to_le_bytes());
        let hi = has(0x82, 2);
        let mut copy = raw.to_vec();
        zero_field(&mut copy, 0x7C, 2)?; // raw is at least 128 bytes
        if hi {
            zero_field(&mut copy, 0x82, 2)?; // has() checked the bounds
        }
        let c = crc32c_raw(c, &copy);
        let lo = u32::from(b.le_u16(0x7C).unwrap_or(0));
        Some(if hi {
            (lo | u32::from(b.le_u16(0x82).unwrap_or(0)) << 16, c)
        } else {
            (lo, c & 0xFFFF)
        })
    });
    let flags = b.le_u32(0x20)?;
    let blocks = u64::from(b.le_u32(0x1C)?) | u64::from(b.le_u16(0x74)?) << 32;
    Some(Inode {
        ino,
        mode: b.le_u16(0x00)?,
        uid: u32::from(b.le_u16(0x02)?) | u32::from(b.le_u16(0x78)?) << 16,
        gid: u32::from(b.le_u16(0x18)?) | u32::from(b.le_u16(0x7A)?) << 16,
        size: u64::from(b.le_u32(0x04)?) | u64::from(b.le_u32(0x6C)?) << 32,
        links: b.le_u16(0x1A)?,
        blocks,
        flags,
        i_block: b.array(0x28)?,
        generation,
        file_acl: u64::from(b.le_u32(0x68)?) | u64::from(b.le_u16(0x76)?) << 32,
        atime: time(b.le_u32(0x08)?, extra(0x8C)),
        ctime: time(b.le_u32(0x0C)?, extra(0x84)),
        mtime: time(b.le_u32(0x10)?, extra(0x88)),
        crtime: extra(0x90).map(|s| time(s, extra(0x94))),
        raw: raw.to_vec(),
        checksum,
    })
}

impl Inode {
    /// Bytes allocated on disk.
    pub fn allocated(&self, block_size: u64, huge_file: bool) -> u64 {
        if huge_file && self.flags & FL_HUGE_FILE != 0 {
            self.blocks.saturating_mul(block_size)
        } else {
            self.blocks.saturating_mul(512)
        }
    }

    /// The seed of the checksums of this inode's extent and directory
    /// blocks: the filesystem seed over the inode number and generation.
    pub fn csum_seed(&self, fs_seed: u32) -> u32 {
        let c = crc32c_raw(fs_seed, &self.ino.to_le_bytes());
        crc32c_raw(c, &self.generation.to_le_bytes())
    }

    /// The value of the in-inode extended attribute `index`.`name` (index
    /// 7 is "system."; inline data lives in system.data). The attribute
    /// area follows i_extra_isize: a 4-byte magic 0xEA020000, then entries
    /// of e_name_len (u8), e_name_index (u8), e_value_offs (u16, from the
    /// first entry), e_value_inum (u32), e_value_size (u32), e_hash (u32)
    /// and the name, padded to 4 bytes, ended by 4 zero bytes.
    pub fn inline_xattr(&self, index: u8, name: &[u8]) -> Option<&[u8]> {
        let b = Bytes(&self.raw);
        let extra_isize = usize::from(b.le_u16(0x80)?);
        let start = 128usize.checked_add(extra_isize)?;
        if b.le_u32(start)? != 0xEA02_0000 {
            return None;
        }
        let first = start + 4;
        let mut pos = first;
        // Each entry is at least 16 bytes: the walk ends within the inode.
        while pos + 16 <= self.raw.len() {
            if b.le_u32(pos)? == 0 {
                break;
            }
            let name_len = usize::from(b.u8(pos)?);
            let value_offs = usize::from(b.le_u16(pos + 2)?);
            let value_inum = b.le_u32(pos + 4)?;
            let value_size = b.le_u32(pos + 8)? as usize; // ok: u32 fits usize on 32/64-bit
            if b.u8(pos + 1)? == index && b.get(pos + 16, name_len)? == name && value_inum == 0 {
                return b.get(first.checked_add(value_offs)?, value_size);
            }
            pos += (16 + name_len + 3) & !3;
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn times_with_epoch_bits() {
        assert_eq!(time(u32::MAX, None), Timestamp::new(-1, 0));
        // 0x7fffffff + 1 with epoch bit 1 set: 2038 and after.
        let t = time(0x8000_0000, Some(1 | (5 << 2)));
        assert_eq!(t, Timestamp::new(0x8000_0000, 5));
    }

    #[test]
    fn short_and_odd_inodes_do_not_panic() {
        assert!(parse(1, &[0u8; 100], Some(1)).is_none());
        let mut raw = vec![0u8; 256];
        raw[0x80] = 0xFF; // i_extra_isize past the inode
        raw[0x81] = 0xFF;
        let i = parse(5, &raw, Some(0)).unwrap();
        assert!(i.crtime.is_none());
        assert!(i.inline_xattr(7, b"data").is_none());
        let mut raw = vec![0u8; 256];
        raw[0x80] = 32;
        raw[160..164].copy_from_slice(&0xEA02_0000u32.to_le_bytes());
        // An entry whose value lies past the inode.
        raw[164] = 4;
        raw[165] = 7;
        raw[166..168].copy_from_slice(&0xFFF0u16.to_le_bytes());
        raw[172..176].copy_from_slice(&60u32.to_le_bytes());
        raw[180..184].copy_from_slice(b"data");
        let i = parse(5, &raw, None).unwrap();
        assert!(i.inline_xattr(7, b"data").is_none());
        raw[166..168].copy_from_slice(&8u16.to_le_bytes());
        raw[172..176].copy_from_slice(&4u32.to_le_bytes());
        let i = parse(5, &raw, None).unwrap();
        assert_eq!(i.inline_xattr(7, b"data"), Some(&raw[172..176]));
    }
}
