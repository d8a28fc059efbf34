//! XFS version 2 directories, every format: short form in the inode, and
//! the data blocks that block, leaf, node and btree-format directories
//! share (XFS Algorithms & Data Structures, "Directories"; libxfs
//! xfs_da_format.h).
//!
//! Short form (`xfs_dir2_sf_hdr`): count u8 at 0, i8count u8 at 1, parent
//! inode at 2 (4 bytes, or 8 when i8count is not zero). Each entry:
//! namelen u8, offset u16, the name, a file type byte when the ftype
//! feature is on, then the inode number (4 or 8 bytes, big-endian).
//!
//! Data blocks sit below directory offset 32 GiB (XFS_DIR2_LEAF_OFFSET);
//! leaf and free-index blocks above it are only indexes and are not read.
//! A data block starts with magic "XD2B" (single-block directory) or
//! "XD2D", then three bestfree pairs: 16 bytes. On v5 the header is
//! "XDB3"/"XDD3" u32 at 0, crc u32 at 4 (little-endian, crc32c of the
//! directory block with it zeroed), blkno u64 at 8, lsn u64 at 16, uuid at
//! 24, owner u64 at 40, bestfree at 48, pad: 64 bytes. A single-block
//! directory ends with its leaf array and a tail (count u32, stale u32) in
//! the last 8 bytes: entries stop before 8 * count + 8 bytes from the end.
//!
//! Entries are 8-byte aligned: inumber u64, namelen u8, name, a file type
//! byte when the feature is on, padding, and a tag u16 (the entry's offset)
//! in the last two bytes. Free space is freetag 0xffff u16, length u16,
//! ..., tag.

use crate::bytes::Bytes;
use crate::checksum::crc32c;
use crate::error::{Error, Result};
use crate::fs::{DirEntry, FileKind};

use super::sb::Geometry;

/// Directory offsets from here on hold leaf blocks, not data.
pub const LEAF_OFFSET: u64 = 1 << 35;

/// How a directory is stored, as the format names its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirFormat {
    /// Entries in the inode.
    ShortForm,
    /// One directory block holding entries and their hash index.
    Block,
    /// Data blocks and one leaf block.
    Leaf,
    /// Data blocks, a leaf btree and free-index blocks.
    Node,
}

/// The kind a directory entry's file type byte names.
pub fn ftype_kind(t: u8) -> FileKind {
    match t {
        1 => FileKind::File,
        2 => FileKind::Dir,
        3 => FileKind::CharDevice,
        4 => FileKind::BlockDevice,
        5 => FileKind::Fifo,
        6 => FileKind::Socket,
        7 => FileKind::Symlink,
        _ => FileKind::Unknown,
    }
}

/// Parses a short-form directory (`data`: the first di_size bytes of the
/// fork, which begins at `base` in the volume).
pub fn parse_short_form(g: &Geometry, ino: u64, data: &[u8], base: u64) -> Result<Vec<DirEntry>> {
    let b = Bytes(data);
    let bad = |at: usize, detail: String| {
        Error::corrupt(
            "XFS short-form directory",
            base + at as u64,
            format!("directory inode {ino}: {detail}"),
        )
    };
    let count = b.u8(0).ok_or_else(|| bad(0, "header cut short".into()))?;
    let i8count = b.u8(1).ok_or_else(|| bad(1, "header cut short".into()))?;
    let isz = if i8count == 0 { 4 } else { 8 };
    let mut pos = 2 + isz;
    if pos > data.len() {
        return Err(bad(0, "header cut short".into()));
    }
    let mut out = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let namelen = usize::from(
            b.u8(pos)
                .ok_or_else(|| bad(pos, format!("entry {i} of {count} lies past di_size")))?,
        );
        if namelen == 0 {
            return Err(bad(pos, format!("entry {i} has an empty name")));
        }
        let name = b
            .get(pos + 3, namelen)
            .ok_or_else(|| bad(pos, format!("entry {i}'s name runs past di_size")))?;
        let mut at = pos + 3 + namelen;
        let kind = if g.ftype {
            let t = b
                .u8(at)
                .ok_or_else(|| bad(at, "file type cut short".into()))?;
            at += 1;
            ftype_kind(t)
        } else {
            FileKind::Unknown
        };
        let id = if isz == 8 {
            b.be_u64(at)
        } else {
            b.be_u32(at).map(u64::from)
        }
        .ok_or_else(|| bad(at, format!("entry {i}'s inode number runs past di_size")))?;
        out.push(DirEntry {
            name: name.to_vec(),
            id,
            kind,
        });
        pos = at + isz;
    }
    Ok(out)
}

/// Where a data block's entries are and what it is.
fn data_header(g: &Geometry, b: Bytes<'_>) -> Option<(usize, bool)> {
    // (header length, single-block directory)
    let m = b.get(0, 4)?;
    match (g.v5, m) {
        (false, b"XD2B") => Some((16, true)),
        (false, b"XD2D") => Some((16, false)),
        (true, b"XDB3") => Some((64, true)),
        (true, b"XDD3") => Some((64, false)),
        _ => None,
    }
}

/// What checking a data block found short of failing: a CRC or owner
/// mismatch (offset within the block, description).
pub type Soft = Vec<(usize, String)>;

/// Parses one directory data block (`block` holds all of it) of directory
/// `ino`, appending its entries other than "." and "..". Errors carry
/// offsets within the block; the caller places them.
pub fn parse_data_block(
    g: &Geometry,
    ino: u64,
    block: &[u8],
    out: &mut Vec<DirEntry>,
) -> Result<Soft> {
    let b = Bytes(block);
    let bad = |at: usize, detail: String| {
        Error::corrupt(
            "XFS directory data block",
            at as u64,
            format!("directory inode {ino}: {detail}"),
        )
    };
    let Some((hdr, single)) = data_header(g, b) else {
        return Err(bad(
            0,
            format!(
                "magic {:02x?} is not a {} directory data block",
                b.get(0, 4).unwrap_or(&[]),
                if g.v5 { "v5" } else { "v4" }
            ),
        ));
    };
    let mut soft = Soft::new();
    if g.v5 {
        let mut copy = block.to_vec();
        if let Some(c) = copy.get_mut(4..8) {
            c.fill(0);
        }
        if b.le_u32(4) != Some(crc32c(&copy)) {
            soft.push((4, "CRC mismatch".into()));
        }
        if b.be_u64(40) != Some(ino) {
            soft.push((40, format!("block names owner {:?}", b.be_u64(40))));
        }
    }
    let mut end = block.len();
    if single {
        let count = b
            .be_u32(end.saturating_sub(8))
            .ok_or_else(|| bad(0, "block cut short".into()))?;
        let room = (end.saturating_sub(hdr + 8) / 8) as u64;
        if u64::from(count) > room {
            return Err(bad(
                end - 8,
                format!("leaf count {count} does not fit the block"),
            ));
        }
        end -= 8 + 8 * count as usize; // ok: count <= room
    }
    let mut pos = hdr;
    while pos < end {
        if b.be_u16(pos) == Some(0xffff) {
            let len = usize::from(b.be_u16(pos + 2).unwrap_or(0));
            if len == 0 || len % 8 != 0 || pos + len > end {
                return Err(bad(
                    pos + 2,
                    format!("free space of {len} bytes does not fit"),
                ));
            }
            pos += len;
            continue;
        }
        let id = b
            .be_u64(pos)
            .ok_or_else(|| bad(pos, "entry cut short".into()))?;
        let namelen = usize::from(b.u8(pos + 8).unwrap_or(0));
        if namelen == 0 {
            return Err(bad(pos + 8, "entry with an empty name".into()));
        }
        let ft = usize::from(g.ftype);
        let size = (8 + 1 + namelen + ft + 2).div_ceil(8) * 8;
        if pos + size > end {
            return Err(bad(
                pos,
                format!("entry of {size} bytes runs past the data"),
            ));
        }
        let name = b.get(pos + 9, namelen).expect("inside: pos + size <= end"); // ok: the entry's size was checked against the block end
        let kind = if g.ftype {
            ftype_kind(b.u8(pos + 9 + namelen).unwrap_or(0))
        } else {
            FileKind::Unknown
        };
        if name != b"." && name != b".." {
            out.push(DirEntry {
                name: name.to_vec(),
                id,
                kind,
            });
        }
        pos += size;
    }
    Ok(soft)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn geo(v5: bool, ftype: bool) -> Geometry {
        Geometry {
            block_size: 4096,
            block_log: 12,
            dblocks: 1 << 16,
            inode_size: 512,
            inopb_log: 3,
            ag_blocks: 1 << 14,
            ag_count: 4,
            agblk_log: 14,
            dir_block_log: 0,
            root_ino: 128,
            v5,
            ftype,
            bigtime: false,
            nrext64: false,
        }
    }

    #[test]
    fn short_form_both_inode_widths() {
        // count 1, i8count 0, parent 128, "ab" offset 0x30, ftype 1, inode 0x1234.
        let d = [
            1, 0, 0, 0, 0, 128, 2, 0, 0x30, b'a', b'b', 1, 0, 0, 0x12, 0x34,
        ];
        let e = parse_short_form(&geo(true, true), 128, &d, 0).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].name.as_slice(), e[0].id), (&b"ab"[..], 0x1234));
        assert_eq!(e[0].kind, FileKind::File);
        // i8count set: 8-byte inode numbers, no ftype.
        let mut d = vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 128, 1, 0, 0x30, b'z'];
        d.extend_from_slice(&0x1_0000_0001u64.to_be_bytes());
        let e = parse_short_form(&geo(false, false), 128, &d, 0).unwrap();
        assert_eq!(e[0].id, 0x1_0000_0001);
        // Cut anywhere: an error, never a panic.
        for n in 0..d.len() {
            assert!(parse_short_form(&geo(false, false), 128, &d[..n], 0).is_err());
        }
    }

    #[test]
    fn data_block_skips_free_space_and_dots() {
        let g = geo(false, true);
        let mut blk = vec![0u8; 4096];
        blk[..4].copy_from_slice(b"XD2D");
        let mut pos = 16;
        for (name, id) in [(&b"."[..], 128u64), (b"..", 128), (b"file", 130)] {
            blk[pos..pos + 8].copy_from_slice(&id.to_be_bytes());
            blk[pos + 8] = name.len() as u8;
            blk[pos + 9..pos + 9 + name.len()].copy_from_slice(name);
            blk[pos + 9 + name.len()] = 1;
            pos += (12 + name.len()).div_ceil(8) * 8;
        }
        blk[pos..pos + 2].copy_from_slice(&0xffffu16.to_be_bytes());
        blk[pos + 2..pos + 4].copy_from_slice(&((4096 - pos) as u16).to_be_bytes());
        let mut out = Vec::new();
        parse_data_block(&g, 128, &blk, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, b"file");
        // Free space of a bad length is an error at its offset.
        blk[pos + 2..pos + 4].copy_from_slice(&3u16.to_be_bytes());
        let e = parse_data_block(&g, 128, &blk, &mut Vec::new()).unwrap_err();
        assert_eq!(e.offset(), Some(pos as u64 + 2));
        blk[..4].copy_from_slice(b"XD2X");
        assert_eq!(
            parse_data_block(&g, 128, &blk, &mut Vec::new())
                .unwrap_err()
                .offset(),
            Some(0)
        );
    }
}
