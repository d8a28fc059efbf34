//! Directory entries (Linux Documentation/filesystems/ext4/directory.rst).
//!
//! Linear entries, little-endian: inode 0 (u32), rec_len 4 (u16), name_len
//! 6 (u8; u16 without the filetype feature), file_type 7 (u8), name 8.
//! An hashed (htree) directory keeps its entries in the same leaf blocks;
//! its index blocks look to a linear reader like one empty entry spanning
//! the block (and the root's ".." entry spans the rest of block 0), so a
//! linear read of every block lists an htree directory completely. With
//! metadata_csum a leaf block ends in a 12-byte entry (inode 0, rec_len
//! 12, name_len 0, file_type 0xDE) whose last 4 bytes are the crc32c of the
//! block before it.

use crate::bytes::Bytes;
use crate::checksum::crc32c_raw;
use crate::fs::FileKind;

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// Inode number (never 0 here: unused entries are skipped).
    pub inode: u32,
    /// The name bytes.
    pub name: Vec<u8>,
    /// The kind from file_type, when the filesystem records it.
    pub kind: FileKind,
}

/// What a block of entries held.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The entries, "." and ".." included.
    pub entries: Vec<RawEntry>,
    /// Where parsing stopped early, and why (offset within the block).
    pub damage: Option<(usize, String)>,
    /// The checksum tail: stored and computed.
    pub checksum: Option<(u32, u32)>,
}

fn kind(ft: u8) -> FileKind {
    match ft {
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

/// rec_len as stored: 64 KiB blocks need 17 bits, so the low two bits
/// (always 0 in a multiple of 4) carry bits 16-17, and 65535 or 0 mean a
/// whole 64 KiB block (ext4_rec_len_from_disk).
fn rec_len(raw: u16, block_size: usize) -> usize {
    if block_size >= 65536 && (raw == 0xFFFF || raw == 0) {
        return block_size;
    }
    usize::from(raw & 0xFFFC) | (usize::from(raw & 3) << 16)
}

/// Parses the entries in `block`. `filetype`: the filesystem records
/// file types (name_len is then one byte). `seed`: the directory inode's
/// checksum seed, to check a checksum tail when there is one.
pub fn parse_block(block: &[u8], filetype: bool, seed: Option<u32>) -> Parsed {
    let b = Bytes(block);
    let mut out = Parsed::default();
    let n = block.len();
    let mut end = n;
    if n >= 12
        && b.le_u32(n - 12) == Some(0)
        && b.le_u16(n - 8) == Some(12)
        && b.u8(n - 5) == Some(0xDE)
    {
        end = n - 12;
        if let (Some(seed), Some(covered)) = (seed, block.get(..end)) {
            out.checksum = Some((b.le_u32(n - 4).unwrap_or(0), crc32c_raw(seed, covered)));
        }
    }
    let mut pos = 0usize;
    while pos + 8 <= end {
        let inode = b.le_u32(pos).unwrap_or(0);
        let len = rec_len(b.le_u16(pos + 4).unwrap_or(0), n);
        let (name_len, ft) = if filetype {
            (
                usize::from(b.u8(pos + 6).unwrap_or(0)),
                b.u8(pos + 7).unwrap_or(0),
            )
        } else {
            (usize::from(b.le_u16(pos + 6).unwrap_or(0)), 0)
        };
        if len < 8 || len % 4 != 0 || pos + len > end {
            out.damage = Some((
                pos,
                format!("entry length {len} at {pos:#x} does not fit the block"),
            ));
            break;
        }
        if inode != 0 && name_len > 0 {
            match b.get(pos + 8, name_len) {
                Some(name) if 8 + name_len <= len => out.entries.push(RawEntry {
                    inode,
                    name: name.to_vec(),
                    kind: kind(ft),
                }),
                _ => {
                    out.damage = Some((
                        pos,
                        format!("name of {name_len} bytes overruns its entry of {len}"),
                    ));
                    break;
                }
            }
        }
        pos += len;
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn entry(buf: &mut Vec<u8>, ino: u32, name: &[u8], ft: u8, len: usize) {
        let start = buf.len();
        buf.extend_from_slice(&ino.to_le_bytes());
        buf.extend_from_slice(&(len as u16).to_le_bytes());
        buf.push(name.len() as u8);
        buf.push(ft);
        buf.extend_from_slice(name);
        buf.resize(start + len, 0);
    }

    #[test]
    fn entries_tail_and_damage() {
        let mut blk = Vec::new();
        entry(&mut blk, 2, b".", 2, 12);
        entry(&mut blk, 2, b"..", 2, 12);
        entry(&mut blk, 0, b"gone", 1, 16);
        entry(&mut blk, 12, b"file", 1, 1024 - 40 - 12);
        entry(&mut blk, 0, b"", 0xDE, 12);
        let seed = 77;
        let c = crc32c_raw(seed, &blk[..1012]);
        blk[1020..1024].copy_from_slice(&c.to_le_bytes());
        let p = parse_block(&blk, true, Some(seed));
        let names: Vec<_> = p.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"file".to_vec()]);
        assert_eq!(p.checksum, Some((c, c)));
        assert!(p.damage.is_none());
        // A rec_len that runs past the block stops the block, keeps what came before.
        blk[28..30].copy_from_slice(&4000u16.to_le_bytes());
        let p = parse_block(&blk, true, None);
        assert_eq!(p.entries.len(), 2);
        assert!(p.damage.is_some());
        assert!(parse_block(&[0xFF; 7], true, None).entries.is_empty());
        assert_eq!(rec_len(0xFFFF, 65536), 65536);
        assert_eq!(rec_len(0x0001, 65536), 65536);
    }
}
