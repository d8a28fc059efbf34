//! The VHDX structures ahead of the data ([MS-VHDX] v1.0 §2.1 to §2.2 and
//! §2.6), parsed from bytes. All fields are little-endian; GUIDs are in the
//! Windows layout (data1 u32 LE, data2 u16 LE, data3 u16 LE, data4 as
//! stored).
//!
//! The header section fills the first MiB: the file type identifier at 0
//! (§2.2.1), header 1 at 64 KiB and header 2 at 128 KiB (§2.2.2), region
//! table 1 at 192 KiB and its copy at 256 KiB (§2.2.3).
//!
//! Errors are `(offset, why)` with the offset from the start of the file,
//! for the caller to name the structure and the layer.

use crate::bytes::{utf16le_str, Bytes};

/// "vhdxfile", the file type identifier's signature at 0 (§2.2.1).
pub const IDENTIFIER: &[u8; 8] = b"vhdxfile";
/// Where the two headers sit (§2.1).
pub const HEADERS: [u64; 2] = [0x1_0000, 0x2_0000];
/// Bytes a header's checksum covers (§2.2.2).
pub const HEADER_SIZE: usize = 4096;
/// Where the region table and its copy sit (§2.1).
pub const REGION_TABLES: [u64; 2] = [0x3_0000, 0x4_0000];
/// Bytes a region table (and a metadata table) fills, checksum over all (§2.2.3, §2.6.1).
pub const TABLE_SIZE: usize = 0x1_0000;
/// Largest entry count of a region or metadata table (§2.2.3.1, §2.6.1.1).
const MAX_ENTRIES: usize = 2047;
/// Largest metadata item (§2.6.1.2: Length at most 1 MiB).
const MAX_ITEM: u32 = 1 << 20;
/// Largest virtual disk (§2.6.2.2: 64 TiB).
pub const MAX_VIRTUAL_SIZE: u64 = 64 << 40;

/// A GUID from its textual parts, in the on-disk byte order.
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

/// BAT region, 2DC27766-F623-4200-9D64-115E9BFD4A08 (§2.2.3.2).
pub const BAT_REGION: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
/// Metadata region, 8B7CA206-4790-4B9A-B8FE-575F050F886E (§2.2.3.2).
pub const METADATA_REGION: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
/// File Parameters, CAA16737-FA36-4D43-B3B6-33F0AA44E76B (§2.6.2.1).
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
/// Virtual Disk Size, 2FA54224-CD1B-4876-B211-5DBED83BF4B8 (§2.6.2.2).
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
/// Virtual Disk ID (page 83 data), BECA12AB-B2E6-4523-93EF-C309E000C746 (§2.6.2.3).
const VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
/// Logical Sector Size, 8141BF1D-A96F-4709-BA47-F233A8FAAB5F (§2.6.2.4).
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
/// Physical Sector Size, CDA348C7-445D-4471-9CC9-E9885251C556 (§2.6.2.5).
const PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
/// Parent Locator, A8D35F2D-B30B-454D-ABF7-D3D84834AB0C (§2.6.2.6).
const PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);

/// A parse failure: the byte offset in the file, and why.
pub type Bad = (u64, String);

/// A header (§2.2.2): signature "head" 0, checksum 4 (CRC-32C of the 4 KiB
/// with the field zeroed), sequence number 8, file write GUID 16, data
/// write GUID 32, log GUID 48, log version 64, version 66 (1), log length
/// 68, log offset 72.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Which header (0 or 1).
    pub index: usize,
    /// The higher of two valid headers is the current one.
    pub sequence: u64,
    /// Non-zero when the log holds updates not yet written in place.
    pub log_guid: [u8; 16],
    /// The log's format version (0).
    pub log_version: u16,
    /// Bytes of the log.
    pub log_length: u32,
    /// Where the log is.
    pub log_offset: u64,
}

impl Header {
    /// True when the log must be replayed before the file reads right.
    pub fn log_pending(&self) -> bool {
        self.log_guid != [0; 16]
    }
}

/// CRC-32C of `b` with the four bytes at `at` taken as zero.
pub fn crc_without(b: &[u8], at: usize) -> u32 {
    let mut c = !0u32;
    // Both split points are clamped to the length: the splits cannot fail.
    let (head, rest) = b.split_at(at.min(b.len()));
    let (field, tail) = rest.split_at(rest.len().min(4));
    c = crate::checksum::crc32c_raw(c, head);
    for _ in field {
        c = crate::checksum::crc32c_raw(c, &[0]);
    }
    c = crate::checksum::crc32c_raw(c, tail);
    !c
}

/// Parses header `index` from its 4 KiB at `base`.
pub fn parse_header(b: &[u8], index: usize, base: u64) -> Result<Header, Bad> {
    let h = Bytes(b);
    if b.len() < HEADER_SIZE {
        return Err((base, "truncated".into()));
    }
    if !h.has(0, b"head") {
        return Err((base, "no \"head\" signature".into()));
    }
    let stored = h.le_u32(4).unwrap_or(0);
    let crc = crc_without(b.get(..HEADER_SIZE).unwrap_or(b), 4);
    if stored != crc {
        return Err((
            base + 4,
            format!("checksum {stored:#010x}, computed {crc:#010x}"),
        ));
    }
    let version = h.le_u16(66).unwrap_or(0);
    if version != 1 {
        return Err((base + 66, format!("version {version} (1 is read)")));
    }
    Ok(Header {
        index,
        sequence: h.le_u64(8).unwrap_or(0),
        log_guid: h.array(48).unwrap_or([0; 16]),
        log_version: h.le_u16(64).unwrap_or(0),
        log_length: h.le_u32(68).unwrap_or(0),
        log_offset: h.le_u64(72).unwrap_or(0),
    })
}

/// The current header (§2.2.2.1: the valid one with the higher sequence
/// number), and the other's failure when only one is valid.
pub fn current_header(
    h1: Result<Header, Bad>,
    h2: Result<Header, Bad>,
) -> Result<(Header, Option<Bad>), Bad> {
    match (h1, h2) {
        (Ok(a), Ok(b)) => Ok((if b.sequence > a.sequence { b } else { a }, None)),
        (Ok(a), Err(e)) | (Err(e), Ok(a)) => Ok((a, Some(e))),
        (Err((o1, w1)), Err((o2, w2))) => Err((
            o1,
            format!(
                "neither header is valid (header 1 at {o1:#x}: {w1}; header 2 at {o2:#x}: {w2})"
            ),
        )),
    }
}

/// Where a region lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Its file offset.
    pub offset: u64,
    /// Its length.
    pub length: u32,
}

/// The regions the reader needs (§2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regions {
    /// The block allocation table.
    pub bat: Region,
    /// The metadata region.
    pub metadata: Region,
}

/// Parses a region table (§2.2.3.1: signature "regi" 0, checksum 4 over
/// the 64 KiB, entry count 8, at most 2047; §2.2.3.2: entries of 32 bytes
/// from 16, GUID 0, file offset 16, length 24, required flag bit 0 of 28)
/// read at `base` from a file of `file_len` bytes.
pub fn parse_region_table(b: &[u8], base: u64, file_len: u64) -> Result<Regions, Bad> {
    let t = Bytes(b);
    if b.len() < TABLE_SIZE {
        return Err((base, "truncated".into()));
    }
    if !t.has(0, b"regi") {
        return Err((base, "no \"regi\" signature".into()));
    }
    let stored = t.le_u32(4).unwrap_or(0);
    let crc = crc_without(b.get(..TABLE_SIZE).unwrap_or(b), 4);
    if stored != crc {
        return Err((
            base + 4,
            format!("checksum {stored:#010x}, computed {crc:#010x}"),
        ));
    }
    let count = t.le_u32(8).unwrap_or(0) as usize;
    if count > MAX_ENTRIES {
        return Err((base + 8, format!("{count} entries (at most {MAX_ENTRIES})")));
    }
    let (mut bat, mut metadata) = (None, None);
    for i in 0..count {
        let at = 16 + i * 32;
        let e = t
            .get(at, 32)
            .map(Bytes)
            .ok_or((base, "truncated".to_string()))?;
        let id: [u8; 16] = e.array(0).unwrap_or([0; 16]);
        let r = Region {
            offset: e.le_u64(16).unwrap_or(0),
            length: e.le_u32(24).unwrap_or(0),
        };
        let required = e.le_u32(28).unwrap_or(0) & 1 != 0;
        let fits = r.offset >= 0x10_0000
            && r.length > 0
            && r.offset
                .checked_add(u64::from(r.length))
                .is_some_and(|end| end <= file_len);
        let slot = if id == BAT_REGION {
            &mut bat
        } else if id == METADATA_REGION {
            &mut metadata
        } else if required {
            return Err((
                base + at as u64,
                format!("required region {} is not known", guid_str(&id)),
            ));
        } else {
            continue;
        };
        if !fits {
            return Err((
                base + at as u64 + 16,
                format!(
                    "region of {} bytes at {:#x} does not lie in the {file_len}-byte file after the header section",
                    r.length, r.offset
                ),
            ));
        }
        if slot.replace(r).is_some() {
            return Err((base + at as u64, "region listed twice".into()));
        }
    }
    match (bat, metadata) {
        (Some(bat), Some(metadata)) => {
            let overlap = bat.offset < metadata.offset + u64::from(metadata.length)
                && metadata.offset < bat.offset + u64::from(bat.length);
            if overlap {
                return Err((base + 16, "BAT and metadata regions overlap".into()));
            }
            Ok(Regions { bat, metadata })
        }
        (None, _) => Err((base + 8, "no BAT region".into())),
        (_, None) => Err((base + 8, "no metadata region".into())),
    }
}

/// A GUID in its textual form.
pub fn guid_str(g: &[u8; 16]) -> String {
    let b = Bytes(g);
    format!(
        "{:08X}-{:04X}-{:04X}-{}-{}",
        b.le_u32(0).unwrap_or(0),
        b.le_u16(4).unwrap_or(0),
        b.le_u16(6).unwrap_or(0),
        crate::bytes::hex(g.get(8..10).unwrap_or(&[])).to_uppercase(),
        crate::bytes::hex(g.get(10..).unwrap_or(&[])).to_uppercase()
    )
}

/// A metadata item's place (§2.6.1.2: item GUID 0, offset 16 from the
/// region's start, at least 64 KiB; length 20; flags 24: bit 2 required).
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// Which item.
    pub id: [u8; 16],
    /// File offset of its bytes.
    pub offset: u64,
    /// Its length.
    pub length: u32,
    /// Whether a reader that does not know it must refuse the file.
    pub required: bool,
}

/// Parses the metadata table (§2.6.1.1: signature "metadata" 0, entry
/// count 10, at most 2047; entries of 32 bytes from 32) at the start of
/// `region`: where each item is, checked to lie in the region.
pub fn parse_metadata_table(b: &[u8], region: Region) -> Result<Vec<Item>, Bad> {
    let base = region.offset;
    let t = Bytes(b);
    if !t.has(0, b"metadata") {
        return Err((base, "no \"metadata\" signature".into()));
    }
    let count = usize::from(t.le_u16(10).unwrap_or(0));
    if count > MAX_ENTRIES {
        return Err((
            base + 10,
            format!("{count} entries (at most {MAX_ENTRIES})"),
        ));
    }
    let mut items = Vec::with_capacity(count); // ok: <= 2047
    for i in 0..count {
        let at = 32 + i * 32;
        let e = t
            .get(at, 32)
            .map(Bytes)
            .ok_or((base, "truncated".to_string()))?;
        let off = e.le_u32(16).unwrap_or(0);
        let length = e.le_u32(20).unwrap_or(0);
        let fits = length == 0
            || (off as usize >= TABLE_SIZE
                && length <= MAX_ITEM
                && u64::from(off) + u64::from(length) <= u64::from(region.length));
        if !fits {
            return Err((
                base + at as u64 + 16,
                format!(
                    "item of {length} bytes at {off:#x} does not lie in the {}-byte region",
                    region.length
                ),
            ));
        }
        items.push(Item {
            id: e.array(0).unwrap_or([0; 16]),
            offset: base + u64::from(off),
            length,
            required: e.le_u32(24).unwrap_or(0) & 4 != 0,
        });
    }
    Ok(items)
}

/// The known metadata items, validated (§2.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Bytes of a payload block (§2.6.2.1 BlockSize at 0: a power of two,
    /// 1 MiB to 256 MiB).
    pub block_size: u64,
    /// Blocks stay allocated (flag bit 0 at 4): a fixed disk.
    pub leave_blocks_allocated: bool,
    /// A differencing disk (flag bit 1 at 4).
    pub has_parent: bool,
    /// Bytes of the virtual disk (§2.6.2.2), at most 64 TiB.
    pub virtual_size: u64,
    /// 512 or 4096 (§2.6.2.4).
    pub logical_sector: u64,
    /// 512 or 4096 (§2.6.2.5).
    pub physical_sector: u64,
    /// The page 83 data: the disk's GUID (§2.6.2.3).
    pub disk_id: Option<[u8; 16]>,
    /// The parent locator's key/value pairs (§2.6.2.6), for a differencing disk.
    pub parent_locator: Vec<(String, String)>,
}

impl Metadata {
    /// The value of parent locator key `key`.
    pub fn locator(&self, key: &str) -> Option<&str> {
        self.parent_locator
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Reads the known items from `items` (listed by the metadata table at
/// `table_at`), whose bytes `read(offset, len)` returns.
pub fn parse_metadata(
    table_at: u64,
    items: &[Item],
    mut read: impl FnMut(u64, usize) -> Option<Vec<u8>>,
) -> Result<Metadata, Bad> {
    let mut get = |id: &[u8; 16], min: u32, what: &str| -> Result<Option<(Vec<u8>, u64)>, Bad> {
        let Some(it) = items.iter().find(|i| &i.id == id) else {
            return Ok(None);
        };
        if it.length < min {
            return Err((it.offset, format!("{what} item of {} bytes", it.length)));
        }
        let b = read(it.offset, it.length as usize) // ok: <= 1 MiB, checked in the table
            .ok_or_else(|| (it.offset, format!("{what} item cannot be read")))?;
        Ok(Some((b, it.offset)))
    };
    let (fp, fp_at) = get(&FILE_PARAMETERS, 8, "file parameters")?
        .ok_or((table_at, "no file parameters item".to_string()))?;
    let fp = Bytes(&fp);
    let block_size = u64::from(fp.le_u32(0).unwrap_or(0));
    if !block_size.is_power_of_two() || !(1 << 20..=256 << 20).contains(&block_size) {
        return Err((
            fp_at,
            format!("block size {block_size} (a power of two from 1 MiB to 256 MiB)"),
        ));
    }
    let flags = fp.le_u32(4).unwrap_or(0);
    let (vs, vs_at) = get(&VIRTUAL_DISK_SIZE, 8, "virtual disk size")?
        .ok_or((table_at, "no virtual disk size item".to_string()))?;
    let virtual_size = Bytes(&vs).le_u64(0).unwrap_or(0);
    if virtual_size > MAX_VIRTUAL_SIZE {
        return Err((
            vs_at,
            format!("virtual disk size {virtual_size} (at most 64 TiB)"),
        ));
    }
    let mut sector = |id: &[u8; 16], what: &str| -> Result<u64, Bad> {
        let Some((s, at)) = get(id, 4, what)? else {
            return Err((table_at, format!("no {what} item")));
        };
        match Bytes(&s).le_u32(0).unwrap_or(0) {
            n @ (512 | 4096) => Ok(u64::from(n)),
            n => Err((at, format!("{what} {n} (512 or 4096)"))),
        }
    };
    let logical_sector = sector(&LOGICAL_SECTOR_SIZE, "logical sector size")?;
    // The physical sector size does not change how the disk reads: a
    // missing one is taken to be the logical one.
    let physical_sector = if items.iter().any(|i| i.id == PHYSICAL_SECTOR_SIZE) {
        sector(&PHYSICAL_SECTOR_SIZE, "physical sector size")?
    } else {
        logical_sector
    };
    if virtual_size % logical_sector != 0 {
        return Err((
            vs_at,
            format!("virtual disk size {virtual_size} is not a whole number of {logical_sector}-byte sectors"),
        ));
    }
    let disk_id =
        get(&VIRTUAL_DISK_ID, 16, "virtual disk ID")?.and_then(|(b, _)| Bytes(&b).array::<16>(0));
    let has_parent = flags & 2 != 0;
    let parent_locator = match get(&PARENT_LOCATOR, 20, "parent locator")? {
        Some((b, at)) if has_parent => parse_parent_locator(&b, at)?,
        _ => Vec::new(),
    };
    let known = [
        FILE_PARAMETERS,
        VIRTUAL_DISK_SIZE,
        VIRTUAL_DISK_ID,
        LOGICAL_SECTOR_SIZE,
        PHYSICAL_SECTOR_SIZE,
        PARENT_LOCATOR,
    ];
    if let Some(it) = items.iter().find(|i| i.required && !known.contains(&i.id)) {
        return Err((
            it.offset,
            format!("required metadata item {} is not known", guid_str(&it.id)),
        ));
    }
    Ok(Metadata {
        block_size,
        leave_blocks_allocated: flags & 1 != 0,
        has_parent,
        virtual_size,
        logical_sector,
        physical_sector,
        disk_id,
        parent_locator,
    })
}

/// Parses a parent locator (§2.6.2.6: locator type GUID 0, key/value count
/// 18; entries of 12 bytes from 20: key offset 0, value offset 4, key
/// length 8, value length 10, offsets from the item's start, UTF-16LE
/// text) at file offset `at`.
pub fn parse_parent_locator(b: &[u8], at: u64) -> Result<Vec<(String, String)>, Bad> {
    let l = Bytes(b);
    let count = usize::from(l.le_u16(18).unwrap_or(0));
    let mut out = Vec::with_capacity(count.min(b.len() / 12)); // ok: bounded by the item
    for i in 0..count {
        let e = 20 + i * 12;
        let field = |o: usize, n: usize| -> Result<String, Bad> {
            let off = l.le_u32(e + o).unwrap_or(u32::MAX) as usize;
            let len = usize::from(l.le_u16(e + n).unwrap_or(0));
            l.get(off, len).map(utf16le_str).ok_or_else(|| {
                (
                    at + e as u64,
                    format!("parent locator entry {i} lies outside the item"),
                )
            })
        };
        out.push((field(0, 8)?, field(4, 10)?));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::checksum::crc32c;

    #[test]
    fn guids_in_disk_order() {
        assert_eq!(
            BAT_REGION,
            [
                0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD,
                0x4A, 0x08
            ]
        );
        assert_eq!(
            guid_str(&METADATA_REGION),
            "8B7CA206-4790-4B9A-B8FE-575F050F886E"
        );
    }

    #[test]
    fn crc_skips_the_field() {
        let mut b = vec![7u8; 64];
        let want = {
            let mut z = b.clone();
            z[4..8].fill(0);
            crc32c(&z)
        };
        b[4..8].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(crc_without(&b, 4), want);
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// A parent locator built by hand as Hyper-V writes one: keys and
    /// values packed after the entries.
    pub(crate) fn locator(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut b = vec![0u8; 20 + 12 * pairs.len()];
        b[..16].copy_from_slice(&guid(
            0xB04A_EFB7,
            0xD19E,
            0x4A81,
            [0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13],
        ));
        b[18..20].copy_from_slice(&(pairs.len() as u16).to_le_bytes());
        for (i, (k, v)) in pairs.iter().enumerate() {
            let (k, v) = (utf16(k), utf16(v));
            let e = 20 + 12 * i;
            let ko = b.len() as u32;
            b.extend_from_slice(&k);
            let vo = b.len() as u32;
            b.extend_from_slice(&v);
            b[e..e + 4].copy_from_slice(&ko.to_le_bytes());
            b[e + 4..e + 8].copy_from_slice(&vo.to_le_bytes());
            b[e + 8..e + 10].copy_from_slice(&(k.len() as u16).to_le_bytes());
            b[e + 10..e + 12].copy_from_slice(&(v.len() as u16).to_le_bytes());
        }
        b
    }

    #[test]
    fn parent_locator_pairs() {
        let b = locator(&[
            ("parent_linkage", "{83ba7bd1-4a3c-4b6b-b0c1-3e1e4a8b6f2a}"),
            ("relative_path", r"..\base\base.vhdx"),
            ("absolute_win32_path", r"C:\VMs\base.vhdx"),
            ("volume_path", r"\\?\Volume{1234}\VMs\base.vhdx"),
        ]);
        let kv = parse_parent_locator(&b, 0x1000).unwrap();
        assert_eq!(kv.len(), 4);
        assert_eq!(kv[1], ("relative_path".into(), r"..\base\base.vhdx".into()));
        assert_eq!(kv[2].1, r"C:\VMs\base.vhdx");
        // An entry pointing outside the item is an error, not a panic.
        let mut bad = b.clone();
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        let (at, why) = parse_parent_locator(&bad, 0x1000).unwrap_err();
        assert_eq!(at, 0x1000 + 20);
        assert!(why.contains("outside"), "{why}");
        // A count far past the item stops at the first bad entry.
        let mut many = b;
        many[18..20].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(parse_parent_locator(&many, 0).is_err());
    }
}
