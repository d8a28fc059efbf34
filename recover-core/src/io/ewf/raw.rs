//! EWF1 on-disk structures (EnCase `.E01`, SMART `.s01`), parsed from bytes.
//!
//! Field offsets follow libewf's "Expert Witness Compression Format (EWF)"
//! document (libyal/libewf, documentation/), section by section as cited
//! above each parser. Every parser takes the bytes of one structure and
//! reports offsets within them; the caller adds where they were read from.

use crate::bytes::Bytes;

/// "EVF\x09\x0d\x0a\xff\x00": the file header signature of EWF-E01 and
/// EWF-S01 (document: "File header", offset 0, 8 bytes).
pub const SIGNATURE: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
/// The logical evidence variant (EWF-L01), recognised only to say so.
pub const SIGNATURE_L01: &[u8; 8] = b"LVF\x09\x0d\x0a\xff\x00";
/// EWF2's signature (the EWF2 document, "File header").
pub const SIGNATURE_EWF2: &[u8; 8] = b"EVF2\x0d\x0a\x81\x00";
/// Bytes of the file header.
pub const FILE_HEADER_LEN: u64 = 13;
/// Bytes of a section descriptor.
pub const DESCRIPTOR_LEN: u64 = 76;

/// Adler-32 as EWF uses it (initial value 1).
pub fn adler32(data: &[u8]) -> u32 {
    adler2::adler32_slice(data)
}

/// The file header ("File header", EWF-E01 and EWF-S01): signature at 0,
/// 0x01 at 8, the segment number (u16) at 9, 0x0000 at 11. `None` when the
/// signature is not EWF1's.
pub fn file_header(b: &[u8]) -> Option<u16> {
    let b = Bytes(b);
    if !b.has(0, SIGNATURE) {
        return None;
    }
    b.le_u16(9)
}

/// A section descriptor ("Section descriptor"): the type string at 0 (16
/// bytes, NUL padded), the next section's offset in the segment at 16, the
/// section's size at 24, padding to 72, the Adler-32 of bytes 0..72 at 72.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// "header", "volume", "table", ...
    pub kind: String,
    /// Where the next section starts in the segment file.
    pub next: u64,
    /// Bytes of the section, descriptor included (0 in some writers).
    pub size: u64,
    /// Whether the stored Adler-32 matches.
    pub checksum_ok: bool,
}

/// Parses a section descriptor from its 76 bytes.
pub fn descriptor(b: &[u8]) -> Option<Descriptor> {
    let b = Bytes(b);
    let name = b.get(0, 16)?;
    let kind: String = name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' })
        .collect();
    let stored = b.le_u32(72)?;
    Some(Descriptor {
        kind,
        next: b.le_u64(16)?,
        size: b.le_u64(24)?,
        checksum_ok: adler32(b.get(0, 72)?) == stored,
    })
}

/// The media geometry of a volume (or disk, or data) section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSection {
    /// Media type byte (0 removable, 1 fixed, 3 optical, 0x0e logical, 0x10 memory).
    pub media_type: u8,
    /// Chunks the image holds.
    pub chunk_count: u32,
    /// Sectors in a chunk.
    pub sectors_per_chunk: u32,
    /// Bytes in a sector.
    pub bytes_per_sector: u32,
    /// Sectors of the media.
    pub sector_count: u64,
    /// Media flags byte (E01 layout only).
    pub media_flags: u8,
    /// Compression level byte (0 none, 1 good, 2 best; E01 layout only).
    pub compression: Option<u8>,
    /// The segment file set identifier (E01 layout, EnCase 5 and later).
    pub set_identifier: Option<[u8; 16]>,
    /// True for the 94-byte layout of the EWF specification and SMART.
    pub smart_layout: bool,
    /// Whether the stored Adler-32 matches.
    pub checksum_ok: bool,
}

/// Parses the data of a volume section ("Volume section"). The 1052-byte
/// layout (FTK Imager, EnCase, linen): media type at 0, chunk count at 4,
/// sectors per chunk at 8, bytes per sector at 12, sector count (u64) at 16,
/// media flags at 36, compression level at 52, set identifier at 64,
/// Adler-32 of 0..1048 at 1048. The 94-byte layout (EWF specification,
/// SMART): the same first four fields, the sector count as a u32 at 16,
/// Adler-32 of 0..90 at 90.
pub fn volume(b: &[u8]) -> Option<VolumeSection> {
    let v = Bytes(b);
    let smart_layout = b.len() < 1052;
    let (sector_count, sum_at) = if smart_layout {
        (u64::from(v.le_u32(16)?), 90)
    } else {
        (v.le_u64(16)?, 1048)
    };
    let checksum_ok = adler32(v.get(0, sum_at)?) == v.le_u32(sum_at)?;
    Some(VolumeSection {
        media_type: v.u8(0)?,
        chunk_count: v.le_u32(4)?,
        sectors_per_chunk: v.le_u32(8)?,
        bytes_per_sector: v.le_u32(12)?,
        sector_count,
        media_flags: if smart_layout { 0 } else { v.u8(36)? },
        compression: if smart_layout { None } else { v.u8(52) },
        set_identifier: if smart_layout {
            None
        } else {
            v.array(64).filter(|g: &[u8; 16]| g.iter().any(|&c| c != 0))
        },
        smart_layout,
        checksum_ok,
    })
}

/// One chunk's place as a table entry gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Offset of the stored chunk in its segment file.
    pub offset: u64,
    /// Whether it is zlib-compressed (the entry's top bit).
    pub compressed: bool,
}

/// A table (or table2) section's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The entries, in chunk order.
    pub entries: Vec<Entry>,
    /// Whether the header's Adler-32 matches.
    pub header_ok: bool,
    /// Whether the entry array's Adler-32 (the footer) matches; `None`
    /// when the section has no room for a footer (SMART, EWF).
    pub entries_ok: Option<bool>,
}

/// Parses a table section's data ("Table section"). The header is 24 bytes:
/// the entry count at 0, the table base offset (EnCase 6 and later; zero
/// padding before) at 8, the Adler-32 of 0..20 at 20. Then one 4-byte entry
/// per chunk: the top bit says compressed, the rest is the chunk's offset
/// from the base. Then, in EnCase 1 and later, a footer: the Adler-32 of the
/// entry array; SMART and the EWF specification put the first chunk there
/// instead (`at` is where `b` lies in its segment, to tell). The count is
/// capped by what fits in `b`.
pub fn table(b: &[u8], at: u64) -> Option<Table> {
    let t = Bytes(b);
    let count = t.le_u32(0)? as usize;
    let base = t.le_u64(8)?;
    let header_ok = adler32(t.get(0, 20)?) == t.le_u32(20)?;
    let room = b.len().saturating_sub(24) / 4;
    let count = count.min(room);
    let array = t.get(24, count * 4)?; // ok: count <= room, so in bounds
    let entries: Vec<Entry> = crate::bytes::arrays::<4>(array)
        .map(|e| {
            let v = u32::from_le_bytes(e);
            Entry {
                offset: base.saturating_add(u64::from(v & 0x7fff_ffff)),
                compressed: v & 0x8000_0000 != 0,
            }
        })
        .collect();
    let after = at.saturating_add(24 + 4 * count as u64);
    let entries_ok = if entries.iter().any(|e| e.offset == after) {
        None
    } else {
        t.le_u32(24 + count * 4).map(|sum| adler32(array) == sum)
    };
    Some(Table {
        entries,
        header_ok,
        entries_ok,
    })
}

/// The MD5 of a hash section ("Hash section"): MD5 at 0, 16 unknown bytes,
/// the Adler-32 of 0..32 at 32. With whether the checksum matches.
pub fn hash(b: &[u8]) -> Option<([u8; 16], bool)> {
    let h = Bytes(b);
    Some((h.array(0)?, adler32(h.get(0, 32)?) == h.le_u32(32)?))
}

/// The MD5 and SHA-1 of a digest section ("Digest section"): MD5 at 0,
/// SHA-1 at 16, padding, the Adler-32 of 0..76 at 76.
pub fn digest(b: &[u8]) -> Option<([u8; 16], [u8; 20], bool)> {
    let h = Bytes(b);
    Some((
        h.array(0)?,
        h.array(16)?,
        adler32(h.get(0, 76)?) == h.le_u32(76)?,
    ))
}

/// The sector runs of an error2 section ("Error2 section"): a 520-byte
/// header (entry count at 0, Adler-32 of 0..516 at 516), then 8-byte
/// entries (first sector at 0, sector count at 4). The count is capped by
/// what fits in `b`.
pub fn error2(b: &[u8]) -> Option<(Vec<(u64, u64)>, bool)> {
    let h = Bytes(b);
    let count = h.le_u32(0)? as usize;
    let ok = adler32(h.get(0, 516)?) == h.le_u32(516)?;
    let count = count.min(b.len().saturating_sub(520) / 8);
    let runs = crate::bytes::arrays::<8>(h.get(520, count * 8)?) // ok: count bounded above
        .map(|e| {
            let [a, b, c, d, e2, f, g, hh] = e;
            (
                u64::from(u32::from_le_bytes([a, b, c, d])),
                u64::from(u32::from_le_bytes([e2, f, g, hh])),
            )
        })
        .collect();
    Some((runs, ok))
}

/// Largest header text inflated: real ones are a few hundred bytes.
pub const MAX_HEADER_TEXT: usize = 1 << 20;

/// Inflates a header or header2 section's zlib data ("Header section",
/// "Header2 section"), at most [`MAX_HEADER_TEXT`] bytes.
pub fn inflate_text(b: &[u8]) -> Option<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(b, MAX_HEADER_TEXT).ok()
}

/// The text of the element `<tag>` in the XML of an xhash or xheader
/// section (libewf's EWF-X: "Xhash", "Xheader"), trimmed.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&format!("</{tag}>"))?;
    Some(xml.get(start..start + len)?.trim().to_string())
}

/// The text of a header (ASCII or Latin-1) or header2 (UTF-16 with a byte
/// order mark) section, once inflated.
pub fn header_text(b: &[u8]) -> String {
    match b {
        [0xff, 0xfe, rest @ ..] => crate::bytes::utf16le_str(rest),
        [0xfe, 0xff, rest @ ..] => {
            let units: Vec<u16> = crate::bytes::arrays::<2>(rest)
                .map(u16::from_be_bytes)
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => b.iter().map(|&c| c as char).collect(),
    }
}

/// The identifier/value pairs of the "main" category of a header text
/// ("Header section": line 2 "main", line 3 the tab-separated identifiers,
/// line 4 their values; header2 of EnCase 5 to 7 the same).
pub fn header_values(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let Some(main) = lines.iter().position(|l| *l == "main") else {
        return Vec::new();
    };
    let (Some(ids), Some(vals)) = (lines.get(main + 1), lines.get(main + 2)) else {
        return Vec::new();
    };
    ids.split('\t')
        .zip(vals.split('\t'))
        .map(|(i, v)| (i.to_string(), v.to_string()))
        .collect()
}

/// The extension of segment `n` (1-based) of a set whose first segment's
/// extension starts with `letter` (`E`, `e`, `s`, ...): `E01`..`E99`, then
/// `EAA`..`EZZ`, `FAA`.. up to `ZZZ` ("Segment file extensions"). `None`
/// past the last name.
pub fn segment_extension(letter: char, n: u32) -> Option<String> {
    if n == 0 {
        return None;
    }
    if n < 100 {
        return Some(format!("{letter}{n:02}"));
    }
    let (a, z) = if letter.is_ascii_uppercase() {
        (b'A', b'Z')
    } else {
        (b'a', b'z')
    };
    let i = n - 100;
    let first = u32::from(letter as u8).checked_add(i / 676)?;
    if first > u32::from(z) || !letter.is_ascii_alphabetic() {
        return None;
    }
    let c = |v: u32| char::from(a + (v % 26) as u8); // ok: v % 26 < 26
    Some(format!("{}{}{}", char::from_u32(first)?, c(i / 26), c(i)))
}

/// For a file name `stem.X01` (X a letter), the stem and X; `None` when
/// the name is not the first segment of an EWF1 set.
pub fn first_segment_name(name: &str) -> Option<(&str, char)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let mut c = ext.chars();
    let letter = c.next()?;
    (letter.is_ascii_alphabetic() && c.as_str() == "01").then_some((stem, letter))
}

/// A POSIX time as `YYYY-MM-DDTHH:MM:SSZ` (header2's dates are seconds
/// since 1970 as decimal text).
pub fn iso_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index what they built
mod tests {
    use super::*;

    #[test]
    fn segment_names() {
        assert_eq!(segment_extension('E', 1).unwrap(), "E01");
        assert_eq!(segment_extension('E', 99).unwrap(), "E99");
        assert_eq!(segment_extension('E', 100).unwrap(), "EAA");
        assert_eq!(segment_extension('E', 101).unwrap(), "EAB");
        assert_eq!(segment_extension('E', 126).unwrap(), "EBA");
        assert_eq!(segment_extension('E', 775).unwrap(), "EZZ");
        assert_eq!(segment_extension('E', 776).unwrap(), "FAA");
        assert_eq!(segment_extension('s', 100).unwrap(), "saa");
        assert!(segment_extension('Z', 776).is_none());
        assert_eq!(first_segment_name("disk.E01"), Some(("disk", 'E')));
        assert_eq!(first_segment_name("disk.s01"), Some(("disk", 's')));
        assert_eq!(first_segment_name("disk.E02"), None);
        assert_eq!(first_segment_name("disk.001"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(1_142_163_845), "2006-03-12T11:44:05Z");
    }

    #[test]
    fn descriptor_checksum_and_fields() {
        let mut d = [0u8; 76];
        d[..5].copy_from_slice(b"table");
        d[16..24].copy_from_slice(&1234u64.to_le_bytes());
        d[24..32].copy_from_slice(&500u64.to_le_bytes());
        let s = adler32(&d[..72]);
        d[72..].copy_from_slice(&s.to_le_bytes());
        let p = descriptor(&d).unwrap();
        assert_eq!((p.kind.as_str(), p.next, p.size), ("table", 1234, 500));
        assert!(p.checksum_ok);
        d[20] ^= 1;
        assert!(!descriptor(&d).unwrap().checksum_ok);
    }

    #[test]
    fn table_count_is_capped_by_its_bytes() {
        let mut t = vec![0u8; 24 + 8];
        t[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        t[24..28].copy_from_slice(&(0x8000_0010u32).to_le_bytes());
        let p = table(&t, 0).unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(
            p.entries[0],
            Entry {
                offset: 0x10,
                compressed: true
            }
        );
        assert!(!p.header_ok);
        assert_eq!(p.entries_ok, None);
    }

    #[test]
    fn header_lines() {
        let t = "1\nmain\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\tr\ncase\tev\tdesc\tex\tnotes\t20140813\tLinux\t2024 1 2 3 4 5\t2024 1 2 3 4 5\t0\tb\n\n";
        let v = header_values(t);
        assert_eq!(v[0], ("c".into(), "case".into()));
        assert_eq!(v[4], ("t".into(), "notes".into()));
        assert_eq!(v.len(), 11);
    }
}
