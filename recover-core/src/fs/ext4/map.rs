//! Where a file's blocks are: the extent tree (ext4) or the block map of
//! direct and indirect blocks (ext2/3), as an [`ExtentList`].
//!
//! Extent tree (Linux Documentation/filesystems/ext4/ifork.rst), every
//! node little-endian: a 12-byte header (eh_magic 0xF30A at 0, eh_entries
//! 2, eh_max 4, eh_depth 6), then 12-byte entries. Leaves (depth 0): ee_block
//! 0, ee_len 4 (above 32768: unwritten, length minus 32768), ee_start_hi 6,
//! ee_start_lo 8. Index entries: ei_block 0, ei_leaf_lo 4, ei_leaf_hi 8.
//! A tree block ends, after eh_max entries, with a crc32c of what precedes
//! it (metadata_csum).

use std::collections::HashSet;

use super::geometry::Geometry;
use super::inode::Inode;
use crate::bytes::Bytes;
use crate::checksum::crc32c_raw;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{Extent, ExtentList};
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;

const EXTENT_MAGIC: u16 = 0xF30A;
/// The deepest tree the kernel builds (ext4_ext_check: depth <= 5).
const MAX_DEPTH: u16 = 5;
/// Logical block numbers are 32-bit.
const MAX_LOGICAL_BLOCKS: u64 = 1 << 32;

/// What a map walk reads from, and reports to.
pub struct MapCtx<'a> {
    /// The filesystem's volume.
    pub vol: &'a dyn Volume,
    /// Its layout.
    pub geo: &'a Geometry,
    /// Where checksum mismatches go.
    pub problems: &'a ProblemLog,
    /// The file, for messages ("inode 12").
    pub what: String,
    /// Byte offset of the inode in the volume (i_block is at +0x28).
    pub inode_at: u64,
}

impl MapCtx<'_> {
    fn corrupt(&self, structure: &'static str, offset: u64, detail: String) -> Error {
        Error::corrupt(structure, offset, format!("{}: {detail}", self.what))
            .within(&self.vol.describe(), 0)
    }

    /// Blocks of the file up to its size: entries past it are never read.
    fn size_blocks(&self, inode: &Inode) -> u64 {
        inode
            .size
            .div_ceil(self.geo.block_size)
            .min(MAX_LOGICAL_BLOCKS)
    }

    /// Checks that `n` blocks from `start` lie inside the filesystem.
    fn check_run(&self, structure: &'static str, at: u64, start: u64, n: u64) -> Result<()> {
        if start < self.geo.first_data_block
            || start.checked_add(n).is_none_or(|e| e > self.geo.blocks)
        {
            return Err(self.corrupt(
                structure,
                at,
                format!(
                    "blocks {start}..+{n} lie outside the filesystem ({} blocks)",
                    self.geo.blocks
                ),
            ));
        }
        Ok(())
    }

    fn read_block(&self, block: u64) -> Result<Vec<u8>> {
        let bs = self.geo.block_size;
        let at = block
            .checked_mul(bs)
            .ok_or_else(|| self.corrupt("ext4 block", 0, format!("block {block} overflows")))?;
        Ok(bytes_at(self.vol, at, bs as usize)?.into_owned()) // ok: block size <= 64 KiB
    }
}

/// The extent tree rooted in `inode`'s i_block. `seed` is the inode's
/// checksum seed, with metadata_csum.
pub fn extent_map(ctx: &MapCtx, inode: &Inode, seed: Option<u32>) -> Result<ExtentList> {
    let mut list = ExtentList::new();
    let mut visited = HashSet::new();
    let limit = ctx.size_blocks(inode);
    walk(
        ctx,
        &inode.i_block,
        None,
        None,
        &mut visited,
        &mut list,
        limit,
        seed,
    )?;
    Ok(list)
}

/// One node: `node` is i_block (`at` None) or a tree block at byte `at`.
#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &MapCtx,
    node: &[u8],
    at: Option<u64>,
    want_depth: Option<u16>,
    visited: &mut HashSet<u64>,
    list: &mut ExtentList,
    limit: u64,
    seed: Option<u32>,
) -> Result<()> {
    let b = Bytes(node);
    let off = at.unwrap_or(ctx.inode_at + 0x28);
    let h = |f: usize| b.le_u16(f).unwrap_or(0);
    if h(0) != EXTENT_MAGIC {
        return Err(ctx.corrupt(
            "ext4 extent header",
            off,
            format!("magic {:#06x}, not 0xf30a", h(0)),
        ));
    }
    let (entries, max, depth) = (usize::from(h(2)), usize::from(h(4)), h(6));
    if entries > max || 12 + max * 12 > node.len() {
        return Err(ctx.corrupt(
            "ext4 extent header",
            off,
            format!(
                "{entries} of {max} entries do not fit in {} bytes",
                node.len()
            ),
        ));
    }
    if depth > MAX_DEPTH || want_depth.is_some_and(|d| d != depth) {
        return Err(ctx.corrupt(
            "ext4 extent header",
            off + 6,
            format!("depth {depth} (expected {want_depth:?}, at most {MAX_DEPTH})"),
        ));
    }
    if let (Some(at), Some(seed)) = (at, seed) {
        let tail = 12 + max * 12;
        if let (Some(stored), Some(covered)) = (b.le_u32(tail), node.get(..tail)) {
            let computed = crc32c_raw(seed, covered);
            if stored != computed {
                ctx.problems.push(Problem::error(
                    "ext4 extent block",
                    Some(at + tail as u64),
                    format!(
                        "{}: checksum {stored:#010x}, computed {computed:#010x}",
                        ctx.what
                    ),
                ));
            }
        }
    }
    let bs = ctx.geo.block_size;
    for i in 0..entries {
        let e = 12 + i * 12;
        let eoff = off + e as u64;
        let logical = u64::from(b.le_u32(e).unwrap_or(0));
        if depth == 0 {
            let raw_len = u64::from(b.le_u16(e + 4).unwrap_or(0));
            let (len, unwritten) = if raw_len > 32768 {
                (raw_len - 32768, true)
            } else {
                (raw_len, false)
            };
            let start = u64::from(b.le_u16(e + 6).unwrap_or(0)) << 32
                | u64::from(b.le_u32(e + 8).unwrap_or(0));
            if logical >= limit || len == 0 {
                continue;
            }
            ctx.check_run("ext4 extent", eoff, start, len)?;
            let ext = Extent {
                logical: logical * bs,
                len: len * bs,
                physical: (!unwritten).then_some(start * bs),
            };
            if !list.push(ext) {
                return Err(ctx.corrupt("ext4 extent", eoff, "too many extents".into()));
            }
        } else {
            let child = u64::from(b.le_u16(e + 8).unwrap_or(0)) << 32
                | u64::from(b.le_u32(e + 4).unwrap_or(0));
            if logical >= limit {
                continue;
            }
            ctx.check_run("ext4 extent index", eoff, child, 1)?;
            if !visited.insert(child) {
                return Err(ctx.corrupt(
                    "ext4 extent index",
                    eoff,
                    format!("block {child} is reached twice (a loop)"),
                ));
            }
            let block = ctx.read_block(child)?;
            walk(
                ctx,
                &block,
                Some(child * bs),
                Some(depth - 1),
                visited,
                list,
                limit,
                seed,
            )?;
        }
    }
    Ok(())
}

/// The ext2/3 block map: 12 direct pointers, then single, double and
/// triple indirect blocks (blockmap.rst); 0 is a hole.
pub fn block_map(ctx: &MapCtx, inode: &Inode) -> Result<ExtentList> {
    let mut list = ExtentList::new();
    let limit = ctx.size_blocks(inode);
    let b = Bytes(&inode.i_block);
    let per = ctx.geo.block_size / 4;
    let mut logical = 0u64;
    for slot in 0..15usize {
        if logical >= limit {
            break;
        }
        let ptr = u64::from(b.le_u32(slot * 4).unwrap_or(0));
        // Direct slots cover one block; slot 12 covers per, 13 per^2, 14 per^3.
        let level = slot.saturating_sub(11) as u32; // ok: 0..=3
        let span = per.pow(level);
        if ptr != 0 {
            let at = ctx.inode_at + 0x28 + slot as u64 * 4;
            indirect(ctx, ptr, level, logical, at, limit, &mut list)?;
        }
        logical += span;
    }
    Ok(list)
}

/// Pointer `ptr` covering `per^level` blocks from `logical`.
fn indirect(
    ctx: &MapCtx,
    ptr: u64,
    level: u32,
    logical: u64,
    at: u64,
    limit: u64,
    list: &mut ExtentList,
) -> Result<()> {
    let bs = ctx.geo.block_size;
    ctx.check_run("ext2 block map", at, ptr, 1)?;
    if level == 0 {
        if !list.push(Extent {
            logical: logical * bs,
            len: bs,
            physical: Some(ptr * bs),
        }) {
            return Err(ctx.corrupt("ext2 block map", at, "too many extents".into()));
        }
        return Ok(());
    }
    let block = ctx.read_block(ptr)?;
    let b = Bytes(&block);
    let per = bs / 4;
    let span = per.pow(level - 1);
    for j in 0..per {
        let l = logical + j * span;
        if l >= limit {
            break;
        }
        let child = u64::from(b.le_u32(j as usize * 4).unwrap_or(0)); // ok: j < per <= 16384
        if child != 0 {
            indirect(ctx, child, level - 1, l, ptr * bs + j * 4, limit, list)?;
        }
    }
    Ok(())
}
