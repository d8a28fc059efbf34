//! Directory contents, as bytes of the directory file.
//!
//! VMFS5 (vmfs3.ko's Fil3_ReaddirVMFS5): an array of 0x8c-byte entries,
//! type 0x00, descriptor address 0x04, generation 0x08, name 0x0c (128
//! bytes, NUL-padded); address 0 marks a free slot.
//!
//! VMFS6 (Fil3_ReaddirVMFS6, as dissect.vmfs documents it): a 64 KiB
//! header block (version 0x00, numEntries 0x04, numAllocationMapBlocks
//! 0x0c, allocationMapBlocks 0x10 (128 u32), the "." entry 0x3b8 and ".."
//! 0x4d8, then the name hash table), then blocks of mdAlignment bytes, each
//! led by a 64-byte header (type 0x02, totalSlots 0x04, a slot bitmap 0x08
//! where a clear bit is a used slot). Allocation map blocks give every
//! block's type in a nibble (high nibble first, type in its low two bits):
//! 1 entries, 2 hash-collision links, 3 allocation maps. Entry blocks hold
//! 0x120-byte entries: type 0x00, address 0x04, generation 0x08, name 0x18
//! (256 bytes).

#![deny(clippy::indexing_slicing)]

use crate::bytes::Bytes;
use crate::error::{Error, Result};

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The descriptor type it names.
    pub kind: u32,
    /// The descriptor's address.
    pub addr: u32,
    /// The name's bytes (up to the first NUL).
    pub name: Vec<u8>,
}

/// Bytes of a VMFS5 entry.
pub const ENTRY5: usize = 0x8c;
/// Bytes of a VMFS6 entry.
const ENTRY6: usize = 0x120;
/// Size of the VMFS6 header block; the other blocks follow it.
pub const HEADER6_BLOCK: u64 = 0x10000;
/// Bytes of the VMFS6 header read.
pub const HEADER6_LEN: usize = 0x5f8;
/// Bytes of a VMFS6 block header.
const BLOCK_HEADER: usize = 0x40;
const VERSIONS: [u32; 2] = [0xF5_0001, 0xFD_C001];
/// Entry-block type in the allocation map.
pub const DIRENT_BLOCK: u8 = 1;

fn name(field: &[u8]) -> Vec<u8> {
    field.split(|&c| c == 0).next().unwrap_or(&[]).to_vec()
}

fn entry(e: Bytes, name_at: usize, name_len: usize) -> Option<RawEntry> {
    Some(RawEntry {
        kind: e.le_u32(0)?,
        addr: e.le_u32(4)?,
        name: name(e.get(name_at, name_len)?),
    })
}

/// The used entries of a VMFS5 directory chunk (whole entries only).
pub fn entries5(buf: &[u8]) -> impl Iterator<Item = RawEntry> + '_ {
    buf.chunks_exact(ENTRY5)
        .filter_map(|c| entry(Bytes(c), 0x0c, 128))
        .filter(|e| e.addr != 0)
}

/// The VMFS6 header: how many entries, and the allocation map blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header6 {
    /// Entries, "." and ".." included.
    pub entries: u32,
    /// Allocation map blocks, by block number.
    pub map_blocks: Vec<u32>,
}

/// Parses the VMFS6 header block's first [`HEADER6_LEN`] bytes.
pub fn header6(b: &[u8]) -> Result<Header6> {
    const S: &str = "VMFS6 directory header";
    let b = Bytes(b);
    let short = || Error::corrupt(S, 0, "cut short");
    let v = b.le_u32(0).ok_or_else(short)?;
    if !VERSIONS.contains(&v) {
        return Err(Error::corrupt(
            S,
            0,
            format!("version {v:#x} is not a directory's"),
        ));
    }
    let n = b.le_u32(0x0c).ok_or_else(short)?;
    if n > 128 {
        return Err(Error::corrupt(
            S,
            0x0c,
            format!("{n} allocation map blocks; at most 128"),
        ));
    }
    let map_blocks = (0..n as usize)
        .map(|i| b.le_u32(0x10 + 4 * i).ok_or_else(short))
        .collect::<Result<_>>()?;
    Ok(Header6 {
        entries: b.le_u32(4).ok_or_else(short)?,
        map_blocks,
    })
}

/// Block types an allocation map block gives, in block order: entry
/// `i` of map block `k` is block `k * per_map + i`, `per_map` being two
/// a byte of the block past its header.
pub fn map_types(block: &[u8]) -> impl Iterator<Item = u8> + '_ {
    block
        .get(BLOCK_HEADER..)
        .unwrap_or(&[])
        .iter()
        .flat_map(|&b| [b >> 4, b & 0xF])
        .map(|n| n & 3)
}

/// Blocks an allocation map block describes.
pub fn per_map(block_size: usize) -> usize {
    2 * block_size.saturating_sub(BLOCK_HEADER)
}

/// The used entries of a VMFS6 entry block.
pub fn entries6(block: &[u8]) -> Vec<RawEntry> {
    let b = Bytes(block);
    let slots = usize::from(b.le_u16(4).unwrap_or(0))
        .min(block.len().saturating_sub(BLOCK_HEADER) / ENTRY6)
        .min(56 * 8);
    (0..slots)
        .filter(|&i| b.u8(8 + i / 8).is_some_and(|m| (m >> (i % 8)) & 1 == 0))
        .filter_map(|i| {
            let at = BLOCK_HEADER + i * ENTRY6;
            entry(Bytes(b.get(at, ENTRY6)?), 0x18, 256)
        })
        .filter(|e| e.addr != 0)
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn vmfs5_entries() {
        let mut buf = vec![0u8; 3 * ENTRY5];
        buf[4..8].copy_from_slice(&0x4u32.to_le_bytes());
        buf[0x0c] = b'.';
        let e = &mut buf[2 * ENTRY5..];
        e[0..4].copy_from_slice(&3u32.to_le_bytes());
        e[4..8].copy_from_slice(&0x400004u32.to_le_bytes());
        e[0x0c..0x11].copy_from_slice(b"small");
        let got: Vec<_> = entries5(&buf).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].name, b"small");
        assert_eq!(got[1].kind, 3);
    }

    #[test]
    fn vmfs6_blocks() {
        let mut blk = vec![0xFFu8; 4096];
        blk[..BLOCK_HEADER].fill(0);
        blk[4..6].copy_from_slice(&13u16.to_le_bytes());
        blk[8..15].fill(0xFF);
        blk[8] = 0b1111_1101; // slot 1 used
        let e = &mut blk[BLOCK_HEADER + ENTRY6..];
        e[0..4].copy_from_slice(&3u32.to_le_bytes());
        e[4..8].copy_from_slice(&0x8004u32.to_le_bytes());
        e[0x18..0x1b].copy_from_slice(b"abc");
        e[0x1b] = 0;
        let got = entries6(&blk);
        assert_eq!(
            got,
            vec![RawEntry {
                kind: 3,
                addr: 0x8004,
                name: b"abc".to_vec()
            }]
        );
        let mut map = vec![0u8; 4096];
        map[BLOCK_HEADER] = 0x31;
        assert_eq!(map_types(&map).take(3).collect::<Vec<_>>(), vec![3, 1, 0]);
        assert_eq!(per_map(4096), 2 * (4096 - 64));
        let mut h = vec![0u8; HEADER6_LEN];
        h[0..4].copy_from_slice(&0xF50001u32.to_le_bytes());
        h[0x0c..0x10].copy_from_slice(&200u32.to_le_bytes());
        assert!(header6(&h).is_err());
        assert!(header6(&[0u8; 8]).is_err());
    }
}
