//! MFT records and their attributes (ntfs-3g's layout.h; the Linux-NTFS
//! project's NTFS documentation).
//!
//! Record header: "FILE" 0, update sequence offset 4 and count 6, sequence
//! number 0x10, link count 0x12, first attribute 0x14, flags 0x16 (1 in use,
//! 2 directory), bytes in use 0x18, base record reference 0x20.
//! Attribute header: type 0, length 4, non-resident 8, name length 9
//! (UTF-16 units) and offset 0x0A, flags 0x0C (1 compressed, 0x4000
//! encrypted, 0x8000 sparse), id 0x0E. Resident: value length 0x10, value
//! offset 0x14. Non-resident: lowest VCN 0x10, highest VCN 0x18, mapping
//! pairs offset 0x20, compression unit 0x22 (log2 clusters), allocated size
//! 0x28, data size 0x30, initialized size 0x38.

use super::apply_fixups;
use crate::bytes::{utf16le_str, utf16le_units, Bytes};
use crate::fs::Timestamp;

pub(crate) const AT_STANDARD_INFORMATION: u32 = 0x10;
pub(crate) const AT_ATTRIBUTE_LIST: u32 = 0x20;
pub(crate) const AT_FILE_NAME: u32 = 0x30;
pub(crate) const AT_DATA: u32 = 0x80;
pub(crate) const AT_INDEX_ROOT: u32 = 0x90;
pub(crate) const AT_INDEX_ALLOCATION: u32 = 0xA0;
pub(crate) const AT_BITMAP: u32 = 0xB0;
pub(crate) const AT_REPARSE_POINT: u32 = 0xC0;

pub(crate) const ATTR_COMPRESSED: u16 = 0x0001;
pub(crate) const ATTR_ENCRYPTED: u16 = 0x4000;

/// Attributes per record beyond which the record is damage (a 4 KiB record
/// holds at most 170 of the smallest attributes).
const MAX_ATTRIBUTES: usize = 512;

/// A record's header fields.
#[derive(Debug, Clone)]
pub struct Header {
    /// Sequence number (reused records get a new one).
    pub sequence: u16,
    /// Hard links (names).
    pub links: u16,
    /// In use (not deleted).
    pub in_use: bool,
    /// A directory.
    pub directory: bool,
    /// The base record, for an extension record (0 for a base record).
    pub base: u64,
}

/// An attribute as stored in one record.
#[derive(Debug, Clone)]
pub struct Attr {
    /// Type code.
    pub kind: u32,
    /// Name (empty for the unnamed stream).
    pub name: String,
    /// Header flags.
    pub flags: u16,
    /// Attribute id.
    pub id: u16,
    /// Byte offset of the attribute within its record.
    pub at: usize,
    /// The value or the non-resident description.
    pub body: Body,
}

/// Where an attribute's value is.
#[derive(Debug, Clone)]
pub enum Body {
    /// In the record.
    Resident(Vec<u8>),
    /// In clusters.
    NonResident(NonResident),
}

/// A non-resident attribute's segment.
#[derive(Debug, Clone)]
pub struct NonResident {
    /// First VCN this segment maps.
    pub lowest_vcn: u64,
    /// The mapping pairs bytes.
    pub pairs: Vec<u8>,
    /// Offset of the mapping pairs within the record.
    pub pairs_at: usize,
    /// log2 of clusters per compression unit (0: not compressed).
    pub compression_unit: u8,
    /// Bytes allocated (valid in the lowest segment).
    pub allocated: u64,
    /// Bytes of data.
    pub size: u64,
    /// Bytes written (beyond: zeros).
    pub initialized: u64,
    /// Bytes actually stored, for compressed or sparse attributes.
    pub compressed: Option<u64>,
}

/// A record, fixed up and parsed. Errors give the offset within the
/// record and what is wrong.
pub fn parse(raw: &[u8]) -> Result<(Header, Vec<Attr>), (usize, String)> {
    match raw.get(..4) {
        Some(b"FILE") => {}
        Some(b"BAAD") => return Err((0, "marked bad (BAAD) by chkdsk".into())),
        _ => return Err((0, "no FILE signature".into())),
    }
    let mut rec = raw.to_vec();
    apply_fixups(&mut rec)?;
    let b = Bytes(&rec);
    let flags = b.le_u16(0x16).unwrap_or(0);
    let header = Header {
        sequence: b.le_u16(0x10).unwrap_or(0),
        links: b.le_u16(0x12).unwrap_or(0),
        in_use: flags & 1 != 0,
        directory: flags & 2 != 0,
        base: b.le_u64(0x20).unwrap_or(0) & 0xFFFF_FFFF_FFFF,
    };
    let used = (b.le_u32(0x18).unwrap_or(0) as usize).min(rec.len());
    let mut off = usize::from(b.le_u16(0x14).unwrap_or(0));
    let mut attrs = Vec::new();
    while off + 8 <= used {
        let kind = b.le_u32(off).unwrap_or(0xFFFF_FFFF);
        if kind == 0xFFFF_FFFF {
            break;
        }
        let len = b.le_u32(off + 4).unwrap_or(0) as usize;
        let attr = rec
            .get(off..off + len)
            .filter(|_| len >= 0x18 && len % 8 == 0 && off + len <= used);
        let Some(attr) = attr else {
            return Err((
                off + 4,
                format!("attribute {kind:#x} length {len} is not valid"),
            ));
        };
        if attrs.len() >= MAX_ATTRIBUTES {
            return Err((off, "too many attributes".into()));
        }
        let a = Bytes(attr);
        let name_len = usize::from(a.u8(9).unwrap_or(0));
        let name_off = usize::from(a.le_u16(0x0A).unwrap_or(0));
        let name = match a.get(name_off, name_len * 2) {
            Some(n) if name_len > 0 => utf16le_str(n),
            None if name_len > 0 => {
                return Err((off + 9, "attribute name past the attribute".into()))
            }
            _ => String::new(),
        };
        let body = if a.u8(8) == Some(0) {
            let vlen = a.le_u32(0x10).unwrap_or(0) as usize;
            let voff = usize::from(a.le_u16(0x14).unwrap_or(0));
            let v = a.get(voff, vlen).ok_or((
                off + 0x10,
                format!("resident value of {vlen} bytes at {voff} past the attribute"),
            ))?;
            Body::Resident(v.to_vec())
        } else {
            if len < 0x40 {
                return Err((off + 4, format!("non-resident attribute of {len} bytes")));
            }
            let pairs_off = usize::from(a.le_u16(0x20).unwrap_or(0));
            let pairs = a.0.get(pairs_off..).filter(|_| pairs_off >= 0x40).ok_or((
                off + 0x20,
                format!("mapping pairs at {pairs_off} outside the attribute"),
            ))?;
            let cu = a.u8(0x22).unwrap_or(0);
            let flags = a.le_u16(0x0C).unwrap_or(0);
            Body::NonResident(NonResident {
                lowest_vcn: a.le_u64(0x10).unwrap_or(0),
                pairs: pairs.to_vec(),
                pairs_at: off + pairs_off,
                compression_unit: cu,
                allocated: a.le_u64(0x28).unwrap_or(0),
                size: a.le_u64(0x30).unwrap_or(0),
                initialized: a.le_u64(0x38).unwrap_or(0),
                compressed: (flags & (ATTR_COMPRESSED | 0x8000) != 0 && pairs_off >= 0x48)
                    .then(|| a.le_u64(0x40))
                    .flatten(),
            })
        };
        attrs.push(Attr {
            kind,
            name,
            flags: a.le_u16(0x0C).unwrap_or(0),
            id: a.le_u16(0x0E).unwrap_or(0),
            at: off,
            body,
        });
        off += len;
    }
    Ok((header, attrs))
}

/// A Windows FILETIME (100 ns since 1601-01-01 UTC) as a Unix time.
pub fn filetime(ft: u64) -> Timestamp {
    const EPOCH_DIFF: i64 = 11_644_473_600;
    let secs = (ft / 10_000_000) as i64 - EPOCH_DIFF; // ok: u64 / 1e7 fits i64
    Timestamp::new(secs, ((ft % 10_000_000) * 100) as u32) // ok: < 1e9
}

/// $STANDARD_INFORMATION: creation 0, modification 8, MFT change 0x10,
/// access 0x18, file attributes 0x20.
#[derive(Debug, Clone, Copy)]
pub struct StandardInfo {
    /// Creation.
    pub created: Timestamp,
    /// Data modification.
    pub modified: Timestamp,
    /// Record change.
    pub changed: Timestamp,
    /// Access.
    pub accessed: Timestamp,
    /// FILE_ATTRIBUTE_* bits.
    pub attributes: u32,
}

/// Parses a $STANDARD_INFORMATION value.
pub fn standard_info(v: &[u8]) -> Option<StandardInfo> {
    let b = Bytes(v);
    Some(StandardInfo {
        created: filetime(b.le_u64(0)?),
        modified: filetime(b.le_u64(8)?),
        changed: filetime(b.le_u64(0x10)?),
        accessed: filetime(b.le_u64(0x18)?),
        attributes: b.le_u32(0x20)?,
    })
}

/// A $FILE_NAME value (also the key of a directory index entry): parent
/// reference 0, data size 0x30, file attributes 0x38, name length 0x40
/// (UTF-16 units), namespace 0x41 (0 POSIX, 1 Win32, 2 DOS, 3 both), name 0x42.
#[derive(Debug, Clone)]
pub struct FileName {
    /// The parent directory's record.
    pub parent: u64,
    /// The name.
    pub name: String,
    /// Its namespace.
    pub namespace: u8,
    /// FILE_ATTRIBUTE_* bits as the index saw them (0x10000000: a directory).
    pub attributes: u32,
}

/// Parses a $FILE_NAME value.
pub fn file_name(v: &[u8]) -> Option<FileName> {
    let b = Bytes(v);
    let n = usize::from(b.u8(0x40)?);
    Some(FileName {
        parent: b.le_u64(0)? & 0xFFFF_FFFF_FFFF,
        name: utf16le_str_exact(b.get(0x42, n * 2)?),
        namespace: b.u8(0x41)?,
        attributes: b.le_u32(0x38)?,
    })
}

/// UTF-16LE to text without stopping at NULs (NTFS names are counted).
fn utf16le_str_exact(field: &[u8]) -> String {
    char::decode_utf16(utf16le_units(field))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn filetimes() {
        assert_eq!(filetime(116_444_736_000_000_000), Timestamp::new(0, 0));
        assert_eq!(filetime(116_444_736_000_000_001), Timestamp::new(0, 100));
        assert_eq!(filetime(0).secs, -11_644_473_600);
        let _ = filetime(u64::MAX);
    }

    #[test]
    fn bad_records() {
        assert!(parse(b"FIL").is_err());
        assert!(parse(&[0u8; 1024]).is_err());
        let mut r = vec![0u8; 1024];
        r[..4].copy_from_slice(b"FILE");
        r[4] = 0x30;
        r[6] = 3;
        // USN 1 at 0x30; both sector ends hold it.
        r[0x30] = 1;
        r[510] = 1;
        r[1022] = 1;
        r[0x14] = 0x38;
        r[0x18] = 0x00;
        r[0x19] = 0x04;
        // An attribute whose length runs past the record.
        r[0x38] = 0x10;
        r[0x3C..0x40].copy_from_slice(&0x1000u32.to_le_bytes());
        assert!(parse(&r).unwrap_err().1.contains("length"));
        // The end marker: no attributes.
        r[0x38..0x3C].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        assert!(parse(&r).unwrap().1.is_empty());
    }
}
