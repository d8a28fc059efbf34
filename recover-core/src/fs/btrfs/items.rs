//! Item keys and the payloads of the items the reader uses.
//!
//! Key types and object ids are those of btrfs-progs
//! kernel-shared/uapi/btrfs_tree.h; payload layouts are its structs,
//! little-endian, offsets in bytes as cited on each parser.

use crate::bytes::Bytes;
use crate::fs::Timestamp;

/// INODE_ITEM_KEY.
pub const INODE_ITEM: u8 = 1;
/// INODE_REF_KEY.
pub const INODE_REF: u8 = 12;
/// XATTR_ITEM_KEY.
pub const XATTR_ITEM: u8 = 24;
/// DIR_ITEM_KEY.
pub const DIR_ITEM: u8 = 84;
/// DIR_INDEX_KEY.
pub const DIR_INDEX: u8 = 96;
/// EXTENT_DATA_KEY.
pub const EXTENT_DATA: u8 = 108;
/// EXTENT_CSUM_KEY.
pub const EXTENT_CSUM: u8 = 128;
/// ROOT_ITEM_KEY.
pub const ROOT_ITEM: u8 = 132;
/// ROOT_BACKREF_KEY.
pub const ROOT_BACKREF: u8 = 144;
/// ROOT_REF_KEY.
pub const ROOT_REF: u8 = 156;
/// CHUNK_ITEM_KEY.
pub const CHUNK_ITEM: u8 = 228;

/// The root tree's id.
pub const ROOT_TREE: u64 = 1;
/// The chunk tree's id.
pub const CHUNK_TREE: u64 = 3;
/// The checksum tree's id.
pub const CSUM_TREE: u64 = 7;
/// The top-level filesystem tree's id (FS_TREE_OBJECTID).
pub const FS_TREE: u64 = 5;
/// The first id of a subvolume or snapshot tree.
pub const FIRST_FREE: u64 = 256;
/// Key type of a device item in the chunk tree (BTRFS_DEV_ITEM_KEY).
pub const DEV_ITEM: u8 = 216;
/// The objectid of device items (BTRFS_DEV_ITEMS_OBJECTID).
pub const DEV_ITEMS_OBJECTID: u64 = 1;
/// The objectid of chunk items (FIRST_CHUNK_TREE_OBJECTID).
pub const FIRST_CHUNK_TREE: u64 = 256;
/// The objectid of checksum items (EXTENT_CSUM_OBJECTID, -10).
pub const EXTENT_CSUM_OBJECTID: u64 = -10i64 as u64;
/// The inode number the kernel gives the empty directory it shows for a
/// subvolume it cannot reach (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID).
pub const EMPTY_SUBVOL_DIR: u64 = 2;

/// A key (struct btrfs_disk_key: objectid u64 0, type u8 8, offset u64 9;
/// 17 bytes), ordered as the trees order it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// objectid.
    pub objectid: u64,
    /// type.
    pub typ: u8,
    /// offset.
    pub offset: u64,
}

impl Key {
    /// Bytes of a disk key.
    pub const SIZE: usize = 17;

    /// A key.
    pub const fn new(objectid: u64, typ: u8, offset: u64) -> Key {
        Key {
            objectid,
            typ,
            offset,
        }
    }

    /// The key at `off` of `b`.
    pub fn read(b: &[u8], off: usize) -> Option<Key> {
        let r = Bytes(b);
        Some(Key {
            objectid: r.le_u64(off)?,
            typ: r.u8(off + 8)?,
            offset: r.le_u64(off + 9)?,
        })
    }
}

/// struct btrfs_timespec: sec u64 0, nsec u32 8.
fn timespec(r: Bytes, off: usize) -> Option<Timestamp> {
    Some(Timestamp::new(r.le_u64(off)? as i64, r.le_u32(off + 8)?)) // ok: the on-disk seconds are a signed count stored unsigned
}

/// struct btrfs_inode_item (160 bytes): generation 0, transid 8, size 16,
/// nbytes 24, block_group 32, nlink u32 40, uid u32 44, gid u32 48, mode
/// u32 52, rdev 56, flags 64, sequence 72, reserved 80..112, atime 112,
/// ctime 124, mtime 136, otime 148.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InodeItem {
    /// size.
    pub size: u64,
    /// nbytes (bytes allocated).
    pub nbytes: u64,
    /// nlink.
    pub nlink: u32,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// mode.
    pub mode: u32,
    /// flags (BTRFS_INODE_*).
    pub flags: u64,
    /// atime.
    pub atime: Timestamp,
    /// ctime.
    pub ctime: Timestamp,
    /// mtime.
    pub mtime: Timestamp,
    /// otime (creation).
    pub otime: Timestamp,
}

impl InodeItem {
    /// Bytes of an inode item.
    pub const SIZE: usize = 160;

    /// Parses `b`; `None` when it is shorter than an inode item.
    pub fn parse(b: &[u8]) -> Option<InodeItem> {
        let r = Bytes(b);
        Some(InodeItem {
            size: r.le_u64(16)?,
            nbytes: r.le_u64(24)?,
            nlink: r.le_u32(40)?,
            uid: r.le_u32(44)?,
            gid: r.le_u32(48)?,
            mode: r.le_u32(52)?,
            flags: r.le_u64(64)?,
            atime: timespec(r, 112)?,
            ctime: timespec(r, 124)?,
            mtime: timespec(r, 136)?,
            otime: timespec(r, 148)?,
        })
    }
}

/// One entry of a DIR_ITEM or DIR_INDEX (struct btrfs_dir_item: location
/// key 0, transid u64 17, data_len u16 25, name_len u16 27, type u8 29;
/// name at 30, then data_len bytes of data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirItem {
    /// What it names: an inode (INODE_ITEM) or a subvolume (ROOT_ITEM).
    pub location: Key,
    /// BTRFS_FT_*: 1 file, 2 dir, 3 chr, 4 blk, 5 fifo, 6 sock, 7 symlink, 8 xattr.
    pub ftype: u8,
    /// The name.
    pub name: Vec<u8>,
    /// The data (an xattr's value).
    pub data: Vec<u8>,
}

impl DirItem {
    /// The entries packed in `b` (a DIR_ITEM may hold several whose names
    /// share a hash; a DIR_INDEX holds one). `Err` with the byte offset
    /// within `b` of an entry that does not fit.
    pub fn parse_all(b: &[u8]) -> Result<Vec<DirItem>, usize> {
        let mut out = Vec::new();
        let mut at = 0usize;
        while at < b.len() {
            let r = Bytes(b);
            let head = (|| {
                let location = Key::read(b, at)?;
                let data_len = usize::from(r.le_u16(at + 25)?);
                let name_len = usize::from(r.le_u16(at + 27)?);
                let ftype = r.u8(at + 29)?;
                let name = r.get(at + 30, name_len)?.to_vec();
                let data = r.get(at + 30 + name_len, data_len)?.to_vec();
                Some((
                    DirItem {
                        location,
                        ftype,
                        name,
                        data,
                    },
                    30 + name_len + data_len,
                ))
            })();
            let (d, used) = head.ok_or(at)?;
            out.push(d);
            at += used;
        }
        Ok(out)
    }
}

/// The compression of an extent (btrfs_compression_type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None.
    None,
    /// zlib (1).
    Zlib,
    /// LZO (2), in Btrfs's segment framing.
    Lzo,
    /// zstd (3).
    Zstd,
}

impl Compression {
    /// From its byte; `None` for a value Btrfs does not define.
    pub fn from_raw(v: u8) -> Option<Compression> {
        match v {
            0 => Some(Compression::None),
            1 => Some(Compression::Zlib),
            2 => Some(Compression::Lzo),
            3 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// What an EXTENT_DATA item holds (struct btrfs_file_extent_item:
/// generation u64 0, ram_bytes u64 8, compression u8 16, encryption u8 17,
/// other_encoding u16 18, type u8 20 (0 inline, 1 regular, 2 prealloc);
/// inline data from 21; else disk_bytenr u64 21, disk_num_bytes u64 29,
/// offset u64 37, num_bytes u64 45).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileExtent {
    /// Data in the item, `ram_bytes` long once decompressed.
    Inline {
        /// Decompressed length.
        ram_bytes: u64,
        /// Its compression.
        compression: Compression,
        /// The bytes as stored.
        data: Vec<u8>,
    },
    /// Data in an extent on disk (or a hole, when `disk_bytenr` is 0), or
    /// preallocated space (reads as zeros).
    Regular {
        /// Preallocated (type 2).
        prealloc: bool,
        /// Its compression.
        compression: Compression,
        /// Logical address of the extent; 0 is a hole.
        disk_bytenr: u64,
        /// Bytes of the extent on disk.
        disk_num_bytes: u64,
        /// Where the file's bytes start within the (decompressed) extent.
        offset: u64,
        /// Bytes of the file this item covers.
        num_bytes: u64,
        /// Decompressed length of the whole extent.
        ram_bytes: u64,
    },
}

impl FileExtent {
    /// Parses `b`; `Err` with the offset and what is wrong.
    pub fn parse(b: &[u8]) -> Result<FileExtent, (usize, String)> {
        let r = Bytes(b);
        let short = |at: usize| {
            (
                at,
                format!("file extent item of {} bytes is cut short", b.len()),
            )
        };
        let ram_bytes = r.le_u64(8).ok_or_else(|| short(8))?;
        let comp = r.u8(16).ok_or_else(|| short(16))?;
        let compression = Compression::from_raw(comp)
            .ok_or_else(|| (16, format!("unknown compression {comp}")))?;
        let enc = r.u8(17).ok_or_else(|| short(17))?;
        let other = r.le_u16(18).ok_or_else(|| short(18))?;
        if enc != 0 || other != 0 {
            return Err((
                17,
                format!("encryption {enc} / encoding {other} not supported"),
            ));
        }
        match r.u8(20).ok_or_else(|| short(20))? {
            0 => Ok(FileExtent::Inline {
                ram_bytes,
                compression,
                data: b.get(21..).unwrap_or_default().to_vec(),
            }),
            t @ (1 | 2) => Ok(FileExtent::Regular {
                prealloc: t == 2,
                compression,
                disk_bytenr: r.le_u64(21).ok_or_else(|| short(21))?,
                disk_num_bytes: r.le_u64(29).ok_or_else(|| short(29))?,
                offset: r.le_u64(37).ok_or_else(|| short(37))?,
                num_bytes: r.le_u64(45).ok_or_else(|| short(45))?,
                ram_bytes,
            }),
            t => Err((20, format!("unknown extent type {t}"))),
        }
    }
}

/// The fields of struct btrfs_root_item the reader uses: it starts with
/// an inode item (160 bytes), then generation u64 160, root_dirid u64 168,
/// bytenr u64 176, byte_limit 184, bytes_used 192, last_snapshot 200,
/// flags 208, refs u32 216, drop_progress key 220, drop_level u8 237,
/// level u8 238.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootItem {
    /// The tree's root node.
    pub bytenr: u64,
    /// Its level.
    pub level: u8,
    /// The tree's top directory inode.
    pub root_dirid: u64,
}

impl RootItem {
    /// Parses `b`.
    pub fn parse(b: &[u8]) -> Option<RootItem> {
        let r = Bytes(b);
        Some(RootItem {
            root_dirid: r.le_u64(168)?,
            bytenr: r.le_u64(176)?,
            level: r.u8(238)?,
        })
    }
}

/// struct btrfs_root_ref (ROOT_REF and ROOT_BACKREF): dirid u64 0,
/// sequence u64 8, name_len u16 16, name at 18.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRef {
    /// The directory (in the parent tree) holding the entry.
    pub dirid: u64,
    /// The entry's name.
    pub name: Vec<u8>,
}

impl RootRef {
    /// Parses `b`.
    pub fn parse(b: &[u8]) -> Option<RootRef> {
        let r = Bytes(b);
        let len = usize::from(r.le_u16(16)?);
        Some(RootRef {
            dirid: r.le_u64(0)?,
            name: r.get(18, len)?.to_vec(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn dir_items_pack_and_fail_cleanly() {
        let mut b = Vec::new();
        for (name, t) in [(&b"a"[..], 1u8), (b"bc", 2)] {
            b.extend_from_slice(&257u64.to_le_bytes());
            b.push(INODE_ITEM);
            b.extend_from_slice(&0u64.to_le_bytes());
            b.extend_from_slice(&7u64.to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.push(t);
            b.extend_from_slice(name);
        }
        let d = DirItem::parse_all(&b).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].name, b"bc");
        assert_eq!(d[1].ftype, 2);
        assert_eq!(DirItem::parse_all(&b[..b.len() - 1]), Err(31));
        assert!(FileExtent::parse(&[0; 10]).is_err());
        assert!(InodeItem::parse(&[0; 159]).is_none());
    }
}
