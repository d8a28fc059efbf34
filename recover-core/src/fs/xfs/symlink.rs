//! Symbolic link targets: inline in the inode (local format), or in
//! remote blocks (extents format). On v5 each remote block starts with a
//! header (`xfs_dsymlink_hdr`, XFS Algorithms & Data Structures "Symbolic
//! Links"): magic "XSLM" u32 at 0, offset u32 at 4, bytes u32 at 8, crc u32
//! at 12, uuid at 16, owner u64 at 32, blkno u64 at 40, lsn u64 at 48: 56
//! bytes, then that block's part of the target.

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;

use super::bmap::BmapRec;
use super::sb::Geometry;

/// The longest target XFS stores (XFS_SYMLINK_MAXLEN).
pub const MAX_LEN: u64 = 1024;
const V5_HEADER: usize = 56;
/// Blocks read for one target at most.
const MAX_BLOCKS: u32 = 8;

/// Reads a remote target of `size` bytes from the blocks `recs` map.
pub fn read_remote(
    vol: &dyn Volume,
    g: &Geometry,
    ino: u64,
    size: u64,
    recs: &[BmapRec],
    problems: &ProblemLog,
) -> Result<Vec<u8>> {
    let mut recs = recs.to_vec();
    recs.sort_by_key(|r| r.startoff);
    let size = size as usize; // ok: caller checks size <= MAX_LEN
    let mut out = Vec::with_capacity(size);
    let bs = g.block_size as usize;
    let mut visited = 0;
    'outer: for r in &recs {
        for k in 0..r.blockcount {
            // A target of at most 1 KiB spans at most 3 blocks of 512 bytes
            // or more (v5 headers included): blocks that give no bytes stop
            // here, not after 2^21 reads.
            visited += 1;
            if out.len() >= size || visited > MAX_BLOCKS {
                break 'outer;
            }
            let fsb = r.startblock.saturating_add(k);
            let off = g.fsb_offset(fsb).ok_or_else(|| {
                Error::corrupt(
                    "XFS symlink block",
                    0,
                    format!("symlink inode {ino}: block {fsb:#x} lies outside the filesystem"),
                )
            })?;
            let raw = bytes_at(vol, off, bs)?;
            let b = Bytes(&raw);
            let mut data = &raw[..];
            if g.v5 {
                if b.has(0, b"XSLM") {
                    let n = b.be_u32(8).unwrap_or(0) as usize;
                    data = b.get(V5_HEADER, n.min(bs - V5_HEADER)).unwrap_or_default();
                } else {
                    // mkfs.xfs -p (xfsprogs 6.1) writes remote targets on v5
                    // without the header: take the block as the target.
                    problems.push(Problem::warning(
                        "XFS symlink block",
                        Some(off),
                        format!(
                            "symlink inode {ino}: no XSLM header; block read as the bare target"
                        ),
                    ));
                }
            }
            out.extend(data.iter().take(size - out.len()));
        }
    }
    if out.len() < size {
        return Err(Error::corrupt(
            "XFS inode",
            0,
            format!(
                "symlink inode {ino}: blocks hold {} of its {size} bytes",
                out.len()
            ),
        ));
    }
    Ok(out)
}
