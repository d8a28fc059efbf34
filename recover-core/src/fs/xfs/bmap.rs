//! Block maps: where a fork's logical blocks lie, from an extent list in
//! the inode or from a bmap btree rooted in it.
//!
//! An extent record (`xfs_bmbt_rec`, XFS Algorithms & Data Structures
//! "Data Extents") is 128 bits, big-endian, read as two u64 `l0`, `l1`:
//! bit 63 of l0 marks an unwritten extent; l0 bits 62..9 are the logical
//! block (54 bits); l0 bits 8..0 and l1 bits 63..21 the filesystem block
//! (52 bits); l1 bits 20..0 the block count (21 bits).
//!
//! The btree root in the inode (`xfs_bmdr_block`): bb_level u16 at 0,
//! bb_numrecs u16 at 2, keys (u64 logical block) from 4, pointers (u64
//! fsblock) from 4 + 8 * maxrecs, where maxrecs = (fork size - 4) / 16.
//!
//! A btree block (`xfs_btree_block`, long form): magic u32 at 0 ("BMAP",
//! or "BMA3" on v5), bb_level u16 at 4, bb_numrecs u16 at 6, leftsib u64
//! at 8, rightsib u64 at 16; v5 adds blkno u64 at 24, lsn u64 at 32,
//! uuid at 40, owner u64 at 56, crc u32 at 64 (little-endian, crc32c of
//! the block with it zeroed), pad to 72. Leaves hold records after the
//! header; nodes hold keys after it and pointers from header + 8 *
//! maxrecs, maxrecs = (block size - header) / 16.

use std::collections::HashSet;

use crate::bytes::{zeroed, Bytes};
use crate::checksum::crc32c;
use crate::error::{Error, Result};
use crate::fs::file::MAX_EXTENTS;
use crate::fs::filesystem::ProblemLog;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;

use super::inode::{Inode, FMT_BTREE, FMT_EXTENTS};
use super::sb::Geometry;

/// Deeper bmap btrees than this are damage (real ones stay under 10).
pub const MAX_DEPTH: u16 = 10;

/// One extent of a fork, in filesystem blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BmapRec {
    /// First logical block.
    pub startoff: u64,
    /// First filesystem block (AG-packed).
    pub startblock: u64,
    /// Length in blocks.
    pub blockcount: u64,
    /// Allocated but never written: reads as zeros.
    pub unwritten: bool,
}

impl BmapRec {
    /// Decodes a packed 16-byte record.
    pub fn decode(l0: u64, l1: u64) -> BmapRec {
        BmapRec {
            unwritten: l0 >> 63 != 0,
            startoff: (l0 & ((1 << 63) - 1)) >> 9,
            startblock: ((l0 & 0x1ff) << 43) | (l1 >> 21),
            blockcount: l1 & ((1 << 21) - 1),
        }
    }
}

/// Reads the data fork's extent records of `ino` (extents or btree format).
pub fn data_extents(
    vol: &dyn Volume,
    g: &Geometry,
    problems: &ProblemLog,
    ino: &Inode,
) -> Result<Vec<BmapRec>> {
    let fork = Bytes(&ino.fork);
    match ino.format {
        FMT_EXTENTS => {
            let n = ino.nextents;
            if n.checked_mul(16).is_none_or(|b| b > ino.fork.len() as u64) {
                return Err(Error::corrupt(
                    "XFS inode",
                    ino.offset + 76,
                    format!(
                        "inode {}: {n} extents do not fit the {}-byte data fork",
                        ino.ino,
                        ino.fork.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(n as usize); // ok: <= fork / 16
            for i in 0..n as usize {
                out.push(rec_at(fork, i * 16).expect("in the fork")); // ok: n * 16 <= fork length, checked above
            }
            Ok(out)
        }
        FMT_BTREE => btree_extents(vol, g, problems, ino),
        f => Err(Error::corrupt(
            "XFS inode",
            ino.offset + 5,
            format!("inode {}: data fork format {f} has no block map", ino.ino),
        )),
    }
}

fn rec_at(b: Bytes<'_>, off: usize) -> Option<BmapRec> {
    Some(BmapRec::decode(b.be_u64(off)?, b.be_u64(off + 8)?))
}

fn btree_extents(
    vol: &dyn Volume,
    g: &Geometry,
    problems: &ProblemLog,
    ino: &Inode,
) -> Result<Vec<BmapRec>> {
    let fork = Bytes(&ino.fork);
    let bad_root = |at: usize, detail: String| {
        Error::corrupt(
            "XFS bmap btree root",
            ino.fork_offset + at as u64,
            format!("inode {}: {detail}", ino.ino),
        )
    };
    let level = fork
        .be_u16(0)
        .ok_or_else(|| bad_root(0, "cut short".into()))?;
    let numrecs = usize::from(
        fork.be_u16(2)
            .ok_or_else(|| bad_root(2, "cut short".into()))?,
    );
    let maxrecs = ino.fork.len().saturating_sub(4) / 16;
    if level == 0 || level > MAX_DEPTH {
        return Err(bad_root(
            0,
            format!("level {level} is not in 1..={MAX_DEPTH}"),
        ));
    }
    if numrecs == 0 || numrecs > maxrecs {
        return Err(bad_root(
            2,
            format!("{numrecs} records where 1..={maxrecs} fit"),
        ));
    }
    let mut walk = Walk {
        vol,
        g,
        problems,
        ino,
        seen: HashSet::new(),
        out: Vec::new(),
    };
    for i in 0..numrecs {
        let at = 4 + 8 * maxrecs + 8 * i;
        let ptr = fork
            .be_u64(at)
            .ok_or_else(|| bad_root(at, "cut short".into()))?;
        walk.block(ptr, level - 1, ino.fork_offset + at as u64)?;
    }
    Ok(walk.out)
}

struct Walk<'a> {
    vol: &'a dyn Volume,
    g: &'a Geometry,
    problems: &'a ProblemLog,
    ino: &'a Inode,
    seen: HashSet<u64>,
    out: Vec<BmapRec>,
}

impl Walk<'_> {
    /// Reads the btree block `fsb` (named by the pointer at `from`), which
    /// must be at `level`, and everything under it.
    fn block(&mut self, fsb: u64, level: u16, from: u64) -> Result<()> {
        let ino = self.ino.ino;
        let Some(off) = self.g.fsb_offset(fsb) else {
            return Err(Error::corrupt(
                "XFS bmap btree pointer",
                from,
                format!("inode {ino}: block {fsb:#x} lies outside the filesystem"),
            ));
        };
        if !self.seen.insert(fsb) {
            return Err(Error::corrupt(
                "XFS bmap btree pointer",
                from,
                format!("inode {ino}: block {fsb:#x} is reached twice (a loop)"),
            )
            .with(crate::Damage::Loop));
        }
        let bs = self.g.block_size as usize;
        let raw = bytes_at(self.vol, off, bs)?;
        let b = Bytes(&raw);
        let bad = |at: usize, detail: String| {
            Error::corrupt(
                "XFS bmap btree block",
                off + at as u64,
                format!("inode {ino}: {detail}"),
            )
        };
        let (magic, hdr): (&[u8], usize) = if self.g.v5 {
            (b"BMA3", 72)
        } else {
            (b"BMAP", 24)
        };
        if !b.has(0, magic) {
            return Err(bad(
                0,
                format!(
                    "magic is not {} (block {fsb:#x})",
                    String::from_utf8_lossy(magic)
                ),
            ));
        }
        let got_level = b.be_u16(4).ok_or_else(|| bad(4, "cut short".into()))?;
        if got_level != level {
            return Err(bad(
                4,
                format!("level {got_level} where {level} was expected"),
            ));
        }
        let maxrecs = (bs - hdr) / 16;
        let numrecs = usize::from(b.be_u16(6).ok_or_else(|| bad(6, "cut short".into()))?);
        if numrecs > maxrecs {
            return Err(bad(
                6,
                format!("{numrecs} records where at most {maxrecs} fit"),
            ));
        }
        if self.g.v5 {
            let copy = zeroed(&raw, 64, 4).ok_or_else(|| bad(64, "cut short".into()))?;
            if b.le_u32(64) != Some(crc32c(&copy)) {
                self.problems.push(Problem::error(
                    "XFS bmap btree block",
                    Some(off + 64),
                    format!("inode {ino}: CRC mismatch in block {fsb:#x}"),
                ));
            }
            if b.be_u64(56) != Some(ino) {
                self.problems.push(Problem::error(
                    "XFS bmap btree block",
                    Some(off + 56),
                    format!("inode {ino}: block {fsb:#x} names another owner"),
                ));
            }
        }
        if level == 0 {
            for i in 0..numrecs {
                if self.out.len() >= MAX_EXTENTS {
                    return Err(bad(0, format!("more than {MAX_EXTENTS} extents")));
                }
                let r = rec_at(b, hdr + 16 * i).expect("in the block: numrecs <= maxrecs"); // ok: numrecs <= maxrecs, which fits the block
                self.out.push(r);
            }
            return Ok(());
        }
        let ptrs: Vec<u64> = (0..numrecs)
            .map(|i| b.be_u64(hdr + 8 * maxrecs + 8 * i).unwrap_or(0))
            .collect();
        drop(raw);
        for (i, p) in ptrs.into_iter().enumerate() {
            self.block(p, level - 1, off + (hdr + 8 * maxrecs + 8 * i) as u64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_bit_packing() {
        // startoff 0x12345, startblock 0x1_2345_6789, count 0x1abcd, unwritten.
        let (off, blk, cnt) = (0x12345u64, 0x1_2345_6789u64, 0x1abcdu64);
        let l0 = (1 << 63) | (off << 9) | (blk >> 43);
        let l1 = ((blk & ((1 << 43) - 1)) << 21) | cnt;
        assert_eq!(
            BmapRec::decode(l0, l1),
            BmapRec {
                startoff: off,
                startblock: blk,
                blockcount: cnt,
                unwritten: true
            }
        );
        let top = BmapRec::decode(u64::MAX, u64::MAX);
        assert_eq!(top.startoff, (1 << 54) - 1);
        assert_eq!(top.startblock, (1 << 52) - 1);
        assert_eq!(top.blockcount, (1 << 21) - 1);
    }
}
