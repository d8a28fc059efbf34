//! Directory indexes: $INDEX_ROOT and the INDX blocks of
//! $INDEX_ALLOCATION (ntfs-3g's layout.h).
//!
//! Index root value: indexed attribute type 0, collation 4, index block
//! size 8, then an index header at 0x10. Index header: entries offset 0
//! and index length 4 (both from the header), flags 0xC. INDX block: "INDX"
//! 0, update sequence 4/6, VCN 0x10, index header 0x18. Entry: file
//! reference 0 (48-bit record, 16-bit sequence), length 8, key length 0xA,
//! flags 0xC (1 subnode, 2 last), key (a $FILE_NAME) at 0x10.

use super::record::{file_name, FileName};
use crate::bytes::Bytes;

/// One entry of a directory index.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// The record it names.
    pub record: u64,
    /// That record's sequence number, as the entry remembers it.
    pub sequence: u16,
    /// The key.
    pub name: FileName,
}

/// Parses the entries of the index whose header starts at `hdr` in `b`.
/// Returns the entries and, when parsing stopped early, where and why.
pub fn entries(b: &[u8], hdr: usize) -> (Vec<IndexEntry>, Option<(usize, String)>) {
    let bb = Bytes(b);
    let mut out = Vec::new();
    let (Some(eo), Some(il)) = (bb.le_u32(hdr), bb.le_u32(hdr + 4)) else {
        return (out, Some((hdr, "index header past the block".into())));
    };
    let mut pos = hdr.saturating_add(eo as usize);
    let end = hdr.saturating_add(il as usize).min(b.len());
    // `end <= b.len()`, so the entry's bytes are there while the loop runs.
    while let Some(e) = b.get(pos..end).filter(|e| e.len() >= 0x10).map(Bytes) {
        let len = usize::from(e.le_u16(8).unwrap_or(0));
        let key_len = usize::from(e.le_u16(0xA).unwrap_or(0));
        let flags = e.le_u16(0xC).unwrap_or(0);
        if flags & 2 != 0 {
            return (out, None);
        }
        if len < 0x10 || len % 8 != 0 || pos + len > end || 0x10 + key_len > len {
            return (
                out,
                Some((
                    pos,
                    format!("index entry of {len} bytes (key {key_len}) does not fit"),
                )),
            );
        }
        let r = e.le_u64(0).unwrap_or(0);
        match e.get(0x10, key_len).and_then(file_name) {
            Some(name) => out.push(IndexEntry {
                record: r & 0xFFFF_FFFF_FFFF,
                sequence: (r >> 48) as u16, // ok: the top 16 bits
                name,
            }),
            None => {
                return (
                    out,
                    Some((pos + 0x10, "index key is not a file name".into())),
                )
            }
        }
        pos += len;
    }
    (out, Some((pos, "index ends without a last entry".into())))
}
