//! Thin LVs: virtual blocks mapped to chunks of the pool's data LV through
//! the pool's metadata LV (the kernel's dm-thin metadata, in the
//! persistent-data format: drivers/md/dm-thin-metadata.c and
//! drivers/md/persistent-data/dm-btree*.c, all little-endian, 4 KiB
//! metadata blocks).
//!
//! Superblock (block 0): csum u32 at 0 (CRC-32C of bytes 4..4096, xor
//! 160774), flags 4, blocknr u64 8, uuid 16, magic u64 32 (27022010),
//! version u32 40, time u32 44, trans_id u64 48, held_root u64 56, the
//! space-map roots 64..320, data_mapping_root u64 320, device_details_root
//! u64 328, data_block_size u32 336 (sectors), metadata_block_size u32
//! 340, metadata_nr_blocks u64 344.
//!
//! B-tree node: csum u32 0 (CRC-32C of bytes 4..4096, xor 121107), flags
//! u32 4 (1 internal, 2 leaf), blocknr u64 8, nr_entries u32 16,
//! max_entries u32 20, value_size u32 24; keys (u64) from 32, then values
//! from 32 + 8 * max_entries. Internal values are child block numbers. The
//! data mapping is two levels: thin device id -> root of that device's
//! tree; virtual block -> (data block << 24 | time).

use std::sync::Arc;

use crate::bytes::Bytes;
use crate::checksum::crc32c;
use crate::error::{Error, Result};
use crate::io::{bytes_at, check_range, for_each_block, Gather, Origins, Volume, VolumeRef};

const BLOCK: u64 = 4096;
const MAGIC: u64 = 27_022_010;
const SUPERBLOCK_XOR: u32 = 160_774;
const BTREE_XOR: u32 = 121_107;
const INTERNAL: u32 = 1;
const LEAF: u32 = 2;
/// Deeper than any real tree (a 4 KiB node holds over 250 entries): a
/// path longer than this loops.
const MAX_DEPTH: usize = 12;

/// dm's block checksum: CRC-32C without the final inversion, xored.
fn dm_checksum(block: &[u8], xor: u32) -> u32 {
    !crc32c(block.get(4..).unwrap_or(&[])) ^ xor
}

/// What the pool's superblock says.
#[derive(Debug, Clone)]
pub struct PoolSuperblock {
    /// The pool's transaction id (LVM's metadata records the one it expects).
    pub trans_id: u64,
    /// Root of the two-level data mapping.
    pub data_mapping_root: u64,
    /// Bytes per data chunk.
    pub chunk_size: u64,
    /// Whether the superblock's checksum held (and, after
    /// [`ThinVolume::open`], those of the mapping's root nodes).
    pub checksum_ok: bool,
}

/// Reads the pool's superblock from its metadata LV.
pub fn read_superblock(meta: &dyn Volume) -> Result<PoolSuperblock> {
    let name = meta.describe();
    let bad =
        |at: u64, why: String| Error::corrupt("thin pool superblock", at, why).within(&name, 0);
    let b = bytes_at(meta, 0, BLOCK as usize)
        .map_err(|_| bad(0, "metadata LV is shorter than one block".into()))?;
    let s = Bytes(&b);
    if s.le_u64(32) != Some(MAGIC) {
        return Err(bad(32, "no dm-thin magic".into()));
    }
    let chunk = u64::from(s.le_u32(336).unwrap_or(0)) * 512;
    // dm-thin's limits: 64 KiB to 1 GiB, a multiple of 64 KiB.
    if !(65536..=1 << 30).contains(&chunk) || chunk % 65536 != 0 {
        return Err(bad(336, format!("data block size {chunk} bytes")));
    }
    Ok(PoolSuperblock {
        trans_id: s.le_u64(48).unwrap_or(0),
        data_mapping_root: s.le_u64(320).unwrap_or(0),
        chunk_size: chunk,
        checksum_ok: s.le_u32(0) == Some(dm_checksum(&b, SUPERBLOCK_XOR)),
    })
}

/// Whether b-tree node `block` carries its checksum.
fn node_checksum_ok(meta: &dyn Volume, block: u64) -> bool {
    block
        .checked_mul(BLOCK)
        .and_then(|at| bytes_at(meta, at, BLOCK as usize).ok())
        .is_some_and(|b| Bytes(&b).le_u32(0) == Some(dm_checksum(&b, BTREE_XOR)))
}

/// Looks `key` up in the b-tree rooted at block `root`: its 8-byte value,
/// or `None` when the tree has no such key.
fn lookup(meta: &dyn Volume, root: u64, key: u64) -> Result<Option<u64>> {
    let name = meta.describe();
    let mut block = root;
    for _ in 0..MAX_DEPTH {
        let at = block.checked_mul(BLOCK).ok_or_else(|| {
            Error::corrupt("thin b-tree node", 0, format!("block {block}")).within(&name, 0)
        })?;
        let bad = |off: u64, why: String| {
            Error::corrupt("thin b-tree node", at + off, why).within(&name, 0)
        };
        let b = bytes_at(meta, at, BLOCK as usize).map_err(|_| {
            bad(
                0,
                format!("block {block} lies past the end of the metadata LV"),
            )
        })?;
        let n = Bytes(&b);
        let flags = n.le_u32(4).unwrap_or(0);
        let count = n.le_u32(16).unwrap_or(0) as usize;
        let max = n.le_u32(20).unwrap_or(0) as usize;
        let vsize = n.le_u32(24).unwrap_or(0) as usize;
        if n.le_u64(8) != Some(block) {
            return Err(bad(
                8,
                format!("says it is block {:?}, read as block {block}", n.le_u64(8)),
            ));
        }
        if count > max || 32 + max * (8 + vsize) > BLOCK as usize || vsize != 8 {
            return Err(bad(
                16,
                format!("{count} of {max} entries of {vsize}-byte values do not fit a block"),
            ));
        }
        // The last key <= `key` (keys are sorted).
        let keys = |i: usize| n.le_u64(32 + i * 8).unwrap_or(u64::MAX);
        let idx = {
            let (mut lo, mut hi) = (0usize, count);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if keys(mid) <= key {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo.checked_sub(1)
        };
        let Some(i) = idx else { return Ok(None) };
        let value = n.le_u64(32 + max * 8 + i * 8).unwrap_or(0);
        match flags & 3 {
            LEAF => return Ok((keys(i) == key).then_some(value)),
            INTERNAL => block = value,
            f => return Err(bad(4, format!("node flags {f:#x}"))),
        }
    }
    Err(Error::corrupt(
        "thin b-tree",
        root * BLOCK,
        format!("deeper than {MAX_DEPTH} levels (a loop?)"),
    )
    .with(crate::Damage::Loop)
    .within(&name, 0))
}

/// A thin LV's virtual disk.
#[derive(Debug)]
pub struct ThinVolume {
    meta: VolumeRef,
    data: VolumeRef,
    /// Root of this device's mapping tree.
    root: u64,
    chunk: u64,
    len: u64,
    name: String,
}

impl ThinVolume {
    /// The thin device `device_id` of the pool whose metadata LV is `meta`
    /// and data LV `data`, `len` bytes long.
    pub fn open(
        meta: VolumeRef,
        data: VolumeRef,
        device_id: u64,
        len: u64,
        name: String,
    ) -> Result<(Arc<ThinVolume>, PoolSuperblock)> {
        let sb = read_superblock(meta.as_ref())?;
        let root = lookup(meta.as_ref(), sb.data_mapping_root, device_id)?.ok_or_else(|| {
            Error::corrupt(
                "thin pool data mapping",
                sb.data_mapping_root * BLOCK,
                format!("has no thin device {device_id}"),
            )
            .within(&meta.describe(), 0)
        })?;
        let mut sb = sb;
        // The two roots a read goes through first; deeper nodes are not
        // checked (a read goes on whatever their checksum says).
        sb.checksum_ok &= node_checksum_ok(meta.as_ref(), sb.data_mapping_root)
            && node_checksum_ok(meta.as_ref(), root);
        Ok((
            Arc::new(ThinVolume {
                meta,
                data,
                root,
                chunk: sb.chunk_size,
                len,
                name,
            }),
            sb,
        ))
    }
}

impl Volume for ThinVolume {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        for_each_block(offset, buf, self.chunk, |vblock, within, out| {
            match lookup(self.meta.as_ref(), self.root, vblock)? {
                // Unprovisioned: reads as zeros, as dm-thin serves it.
                None => out.fill(0),
                Some(v) => {
                    let at = (v >> 24)
                        .checked_mul(self.chunk)
                        .and_then(|a| a.checked_add(within))
                        .ok_or_else(|| {
                            Error::corrupt("thin mapping", 0, format!("data block {}", v >> 24))
                                .within(&self.name, 0)
                        })?;
                    self.data.read_at(at, out)?;
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Provisioned blocks carry the data LV's origins. A block whose
    /// mapping cannot be looked up ends the answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len);
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (vblock, within) = (pos / self.chunk, pos % self.chunk);
            let n = (self.chunk - within).min(end - pos);
            match lookup(self.meta.as_ref(), self.root, vblock) {
                Ok(None) => {}
                Ok(Some(v)) => {
                    let at = (v >> 24)
                        .checked_mul(self.chunk)
                        .and_then(|a| a.checked_add(within));
                    let Some(at) = at else { break };
                    g.map(self.data.as_ref(), at, pos, n);
                }
                Err(_) => break,
            }
            pos += n;
        }
        g.finish()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    fn node(blocknr: u64, flags: u32, entries: &[(u64, u64)]) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK as usize];
        let max = 126usize;
        b[4..8].copy_from_slice(&flags.to_le_bytes());
        b[8..16].copy_from_slice(&blocknr.to_le_bytes());
        b[16..20].copy_from_slice(&(entries.len() as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(max as u32).to_le_bytes());
        b[24..28].copy_from_slice(&8u32.to_le_bytes());
        for (i, (k, v)) in entries.iter().enumerate() {
            b[32 + i * 8..40 + i * 8].copy_from_slice(&k.to_le_bytes());
            b[32 + max * 8 + i * 8..40 + max * 8 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        let c = dm_checksum(&b, BTREE_XOR);
        b[..4].copy_from_slice(&c.to_le_bytes());
        b
    }

    /// Metadata with device 1: virtual block 0 -> data block 2, 5 -> 0.
    fn meta(loop_back: bool) -> VolumeRef {
        let mut sb = vec![0u8; BLOCK as usize];
        sb[32..40].copy_from_slice(&MAGIC.to_le_bytes());
        sb[48..56].copy_from_slice(&7u64.to_le_bytes());
        sb[320..328].copy_from_slice(&1u64.to_le_bytes());
        sb[336..340].copy_from_slice(&128u32.to_le_bytes());
        let c = dm_checksum(&sb, SUPERBLOCK_XOR);
        sb[..4].copy_from_slice(&c.to_le_bytes());
        let mut all = sb;
        all.extend(node(1, LEAF, &[(1, 2)]));
        if loop_back {
            all.extend(node(2, INTERNAL, &[(0, 2)]));
        } else {
            all.extend(node(2, INTERNAL, &[(0, 3), (4, 4)]));
        }
        all.extend(node(3, LEAF, &[(0, 2 << 24 | 1)]));
        all.extend(node(4, LEAF, &[(5, 3)]));
        Arc::new(MemVolume::new("tmeta", all))
    }

    #[test]
    fn blocks_map_through_both_levels() {
        let data: VolumeRef = Arc::new(MemVolume::new(
            "tdata",
            (0..3 * 65536u32)
                .map(|i| (i / 65536 + 1) as u8)
                .collect::<Vec<u8>>(),
        ));
        let (t, sb) = ThinVolume::open(meta(false), data, 1, 8 * 65536, "thin".into()).unwrap();
        assert!(sb.checksum_ok);
        assert_eq!(sb.trans_id, 7);
        let mut b = vec![0u8; 8 * 65536];
        t.read_at(0, &mut b).unwrap();
        assert!(b[..65536].iter().all(|&x| x == 3));
        assert!(b[65536..5 * 65536].iter().all(|&x| x == 0));
        assert!(b[5 * 65536..6 * 65536].iter().all(|&x| x == 1));
        assert!(b[6 * 65536..].iter().all(|&x| x == 0));
        let e = ThinVolume::open(meta(false), t.clone(), 9, 65536, "x".into()).unwrap_err();
        assert!(e.to_string().contains("no thin device 9"), "{e}");
    }

    #[test]
    fn provisioned_blocks_carry_the_data_lvs_origins() {
        use crate::io::{Concat, Origin, Zeros};
        // Data blocks 0 and 1 are there, block 2 is on a missing PV.
        let data: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("tdata", vec![1u8; 2 * 65536])),
                Arc::new(Zeros::missing(65536, "gone".into())),
            ],
            "tdata".into(),
        ));
        let (t, _) = ThinVolume::open(meta(false), data, 1, 8 * 65536, "thin".into()).unwrap();
        // Virtual block 0 -> data block 2 (missing), 5 -> 0; the rest unprovisioned.
        assert_eq!(t.origins(0, t.len()).of(Origin::Missing), vec![0..65536]);
        assert_eq!(
            t.origins(1000, 5 * 65536).of(Origin::Missing),
            vec![1000..65536]
        );
        assert!(t.origins(65536, 7 * 65536).is_empty());
        assert!(t.origins(8 * 65536, 10).is_empty());
    }

    #[test]
    fn a_tree_that_loops_is_refused() {
        let data: VolumeRef = Arc::new(MemVolume::new("tdata", vec![0u8; 65536]));
        let (t, _) = ThinVolume::open(meta(true), data, 1, 65536, "thin".into()).unwrap();
        let e = t.read_at(0, &mut [0u8; 16]).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }
}
