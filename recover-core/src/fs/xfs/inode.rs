//! XFS on-disk inodes (v1/v2 cores and the v3 core of v5 filesystems).
//!
//! Layout (XFS Algorithms & Data Structures, "On-disk Inode"; libxfs
//! xfs_format.h `struct xfs_dinode`), big-endian, offsets in bytes:
//!
//! | off | field | | off | field |
//! |----:|-------|-|----:|-------|
//! | 0 | di_magic "IN" u16 | | 56 | di_size u64 (signed) |
//! | 2 | di_mode u16 | | 64 | di_nblocks u64 |
//! | 4 | di_version u8 (1, 2, 3) | | 76 | di_nextents u32 |
//! | 5 | di_format u8 | | 82 | di_forkoff u8 (8-byte units) |
//! | 6 | di_onlink u16 (v1) | | 90 | di_flags u16 |
//! | 8 | di_uid u32 | | 100 | di_crc u32 (v3, little-endian) |
//! | 12 | di_gid u32 | | 120 | di_flags2 u64 (v3) |
//! | 16 | di_nlink u32 (v2+) | | 144 | di_crtime (v3) |
//! | 24 | di_big_nextents u64 (NREXT64) | | 152 | di_ino u64 (v3) |
//! | 32 | di_atime | | 160 | di_uuid [16] (v3) |
//! | 40 | di_mtime | | 48 | di_ctime |
//!
//! The literal area (the data fork, then the attribute fork from
//! `di_forkoff * 8`) starts at 100 for v1/v2 and at 176 for v3.
//!
//! Timestamps are a signed 32-bit seconds field and a 32-bit nanoseconds
//! field, or, with the bigtime flag (di_flags2 bit 3), one 64-bit count of
//! nanoseconds since 1901-12-13T20:45:52Z (the epoch minus 2^31 s).

use crate::bytes::{zeroed, Bytes};
use crate::checksum::crc32c;
use crate::error::{Error, Result};
use crate::fs::Timestamp;

use super::sb::Geometry;

/// di_format values.
pub const FMT_DEV: u8 = 0;
/// Data in the inode.
pub const FMT_LOCAL: u8 = 1;
/// An extent list in the inode.
pub const FMT_EXTENTS: u8 = 2;
/// A bmap btree rooted in the inode.
pub const FMT_BTREE: u8 = 3;

const CORE_V2: usize = 100;
const CORE_V3: usize = 176;
const CRC_OFFSET: usize = 100;
const FLAGS2_BIGTIME: u64 = 1 << 3;
const FLAGS2_NREXT64: u64 = 1 << 4;
const BIGTIME_EPOCH_OFFSET: i64 = 1 << 31;

/// A parsed inode: its core fields and a copy of its data fork.
#[derive(Debug, Clone)]
pub struct Inode {
    /// Its number.
    pub ino: u64,
    /// Byte offset of the inode within the filesystem volume.
    pub offset: u64,
    /// di_mode with the S_IFMT bits.
    pub mode: u16,
    /// di_version.
    pub version: u8,
    /// di_format of the data fork.
    pub format: u8,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Links.
    pub nlink: u32,
    /// di_size (never negative here).
    pub size: u64,
    /// Blocks allocated, metadata and attribute fork included.
    pub nblocks: u64,
    /// Data fork extents (records in the inode, for the extents format).
    pub nextents: u64,
    /// Times.
    pub atime: Timestamp,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change.
    pub ctime: Timestamp,
    /// Creation (v3 only).
    pub crtime: Option<Timestamp>,
    /// The data fork's bytes.
    pub fork: Vec<u8>,
    /// Byte offset of the data fork within the volume.
    pub fork_offset: u64,
    /// False when a v3 inode's CRC does not match.
    pub crc_ok: bool,
}

fn stamp(b: Bytes<'_>, off: usize, bigtime: bool) -> Option<Timestamp> {
    if bigtime {
        let ns = b.be_u64(off)?;
        let secs = (ns / 1_000_000_000) as i64 - BIGTIME_EPOCH_OFFSET; // ok: < 2^35
        Some(Timestamp::new(secs, (ns % 1_000_000_000) as u32))
    } else {
        let secs = b.be_u32(off)? as i32;
        Some(Timestamp::new(i64::from(secs), b.be_u32(off + 4)?))
    }
}

impl Inode {
    /// Parses the inode `ino` from its `g.inode_size` bytes read at
    /// `offset`. Errors name the inode and the byte offset of the bad field.
    pub fn parse(g: &Geometry, ino: u64, offset: u64, raw: &[u8]) -> Result<Inode> {
        let b = Bytes(raw);
        let bad = |at: usize, detail: String| {
            Error::corrupt(
                "XFS inode",
                offset + at as u64,
                format!("inode {ino}: {detail}"),
            )
        };
        let short = || bad(0, "inode is cut short".into());
        if !b.has(0, b"IN") {
            return Err(bad(0, "magic is not IN (not an inode, or damaged)".into()));
        }
        let version = b.u8(4).ok_or_else(short)?;
        let lit = match version {
            1 | 2 if !g.v5 => CORE_V2,
            3 if g.v5 => CORE_V3,
            v => {
                return Err(bad(
                    4,
                    format!(
                        "inode version {v} on a v{} filesystem",
                        if g.v5 { 5 } else { 4 }
                    ),
                ))
            }
        };
        let isize = usize::from(g.inode_size);
        if raw.len() < isize || isize <= lit {
            return Err(short());
        }
        let mut crc_ok = true;
        if version == 3 {
            // raw holds isize > 176 bytes (checked above): the field is there.
            let copy = raw
                .get(..isize)
                .and_then(|r| zeroed(r, CRC_OFFSET, 4))
                .ok_or_else(short)?;
            crc_ok = b.le_u32(CRC_OFFSET) == Some(crc32c(&copy));
            let self_ino = b.be_u64(152).ok_or_else(short)?;
            if self_ino != ino {
                return Err(bad(
                    152,
                    format!(
                        "inode records its number as {self_ino} (a misdirected read or damage)"
                    ),
                ));
            }
        }
        let mode = b.be_u16(2).ok_or_else(short)?;
        let format = b.u8(5).ok_or_else(short)?;
        let flags2 = if version == 3 {
            b.be_u64(120).ok_or_else(short)?
        } else {
            0
        };
        let bigtime = flags2 & FLAGS2_BIGTIME != 0;
        let size = b.be_u64(56).ok_or_else(short)?;
        if size > i64::MAX as u64 {
            return Err(bad(56, format!("size {size:#x} is negative")));
        }
        let nextents = if flags2 & FLAGS2_NREXT64 != 0 {
            b.be_u64(24).ok_or_else(short)?
        } else {
            u64::from(b.be_u32(76).ok_or_else(short)?)
        };
        let forkoff = usize::from(b.u8(82).ok_or_else(short)?) * 8;
        let fork_len = if forkoff == 0 {
            isize - lit
        } else if forkoff < isize - lit {
            forkoff
        } else {
            return Err(bad(
                82,
                format!("attribute fork offset {forkoff} lies past the inode's literal area"),
            ));
        };
        let fork = b.get(lit, fork_len).ok_or_else(short)?.to_vec();
        let nlink = if version == 1 {
            u32::from(b.be_u16(6).ok_or_else(short)?)
        } else {
            b.be_u32(16).ok_or_else(short)?
        };
        Ok(Inode {
            ino,
            offset,
            mode,
            version,
            format,
            uid: b.be_u32(8).ok_or_else(short)?,
            gid: b.be_u32(12).ok_or_else(short)?,
            nlink,
            size,
            nblocks: b.be_u64(64).ok_or_else(short)?,
            nextents,
            atime: stamp(b, 32, bigtime).ok_or_else(short)?,
            mtime: stamp(b, 40, bigtime).ok_or_else(short)?,
            ctime: stamp(b, 48, bigtime).ok_or_else(short)?,
            crtime: if version == 3 {
                Some(stamp(b, 144, bigtime).ok_or_else(short)?)
            } else {
                None
            },
            fork,
            fork_offset: offset + lit as u64,
            crc_ok,
        })
    }

    /// The data fork's local bytes (inline data, short-form directory,
    /// inline symlink target): the first `di_size` bytes of the fork.
    pub fn local_data(&self) -> Result<&[u8]> {
        usize::try_from(self.size)
            .ok()
            .and_then(|n| self.fork.get(..n))
            .ok_or_else(|| {
                Error::corrupt(
                    "XFS inode",
                    self.offset + 56,
                    format!(
                        "inode {}: local data of {} bytes does not fit the {}-byte fork",
                        self.ino,
                        self.size,
                        self.fork.len()
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_both_encodings() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(-5i32).to_be_bytes());
        b[4..].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(stamp(Bytes(&b), 0, false), Some(Timestamp::new(-5, 7)));
        // bigtime: (2^31 + 10) s and 3 ns after the bigtime epoch is 10 s after 1970.
        let ns = ((1u64 << 31) + 10) * 1_000_000_000 + 3;
        assert_eq!(
            stamp(Bytes(&ns.to_be_bytes()), 0, true),
            Some(Timestamp::new(10, 3))
        );
        assert_eq!(
            stamp(Bytes(&u64::MAX.to_be_bytes()), 0, true).map(|t| t.nanos),
            Some(709_551_615)
        );
    }
}
