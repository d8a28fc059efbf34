//! The GUID partition table (UEFI 2.10 §5.3).
//!
//! Header (table 5-5), little-endian: signature "EFI PART" at 0, revision
//! at 8, header size at 12, header CRC32 at 16 (computed with the field
//! zeroed), reserved at 20, MyLBA at 24, AlternateLBA at 32, FirstUsableLBA
//! at 40, LastUsableLBA at 48, DiskGUID at 56, PartitionEntryLBA at 72,
//! NumberOfPartitionEntries at 80, SizeOfPartitionEntry at 84,
//! PartitionEntryArrayCRC32 at 88; 92 bytes in all.
//!
//! Entry (table 5-6): PartitionTypeGUID at 0, UniquePartitionGUID at 16,
//! StartingLBA at 32, EndingLBA at 40 (inclusive), Attributes at 48,
//! PartitionName (36 UTF-16LE code units) at 56; 128 bytes, though an entry
//! may be larger (128 x 2^n).
//!
//! The primary header sits at LBA 1, the backup at the disk's last LBA; both
//! are kept apart here because forensics needs to know which one said what.

use std::io::Cursor;

use binrw::BinRead;

use super::guid::Guid;
use crate::bytes::utf16le_str;
use crate::error::{Damage, Error, Result};
use crate::io::{bytes_at, Volume};

/// The header signature.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The smallest header the spec allows.
pub const MIN_HEADER_SIZE: u32 = 92;
/// The smallest entry the spec allows.
pub const MIN_ENTRY_SIZE: u32 = 128;
/// No real GPT has an entry array this large (the usual one is 16 KiB); the
/// cap keeps a hostile header from making us allocate gigabytes.
pub const MAX_ENTRY_ARRAY_BYTES: u64 = 16 << 20;

#[derive(BinRead, Debug)]
#[br(little, magic = b"EFI PART")]
struct RawHeader {
    revision: u32,
    header_size: u32,
    header_crc32: u32,
    _reserved: u32,
    my_lba: u64,
    alternate_lba: u64,
    first_usable_lba: u64,
    last_usable_lba: u64,
    disk_guid: [u8; 16],
    entries_lba: u64,
    num_entries: u32,
    entry_size: u32,
    entries_crc32: u32,
}

#[derive(BinRead, Debug)]
#[br(little)]
struct RawEntry {
    type_guid: [u8; 16],
    unique_guid: [u8; 16],
    first_lba: u64,
    last_lba: u64,
    attributes: u64,
    name: [u8; 72],
}

/// A GPT header whose signature, size and CRC check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptHeader {
    /// Revision, 0x00010000 for every GPT in the wild.
    pub revision: u32,
    /// Bytes covered by the header CRC.
    pub header_size: u32,
    /// The stored header CRC32.
    pub header_crc32: u32,
    /// Where this header says it is.
    pub my_lba: u64,
    /// Where this header says the other copy is.
    pub alternate_lba: u64,
    /// First sector partitions may use.
    pub first_usable_lba: u64,
    /// Last sector partitions may use (inclusive).
    pub last_usable_lba: u64,
    /// The disk's GUID.
    pub disk_guid: Guid,
    /// Where the entry array starts.
    pub entries_lba: u64,
    /// Number of entries in the array.
    pub num_entries: u32,
    /// Size of one entry.
    pub entry_size: u32,
    /// The stored entry-array CRC32.
    pub entries_crc32: u32,
}

impl GptHeader {
    /// Bytes in the entry array, already checked against
    /// [`MAX_ENTRY_ARRAY_BYTES`] by [`parse_header`].
    pub fn entry_array_bytes(&self) -> u64 {
        u64::from(self.num_entries) * u64::from(self.entry_size)
    }
}

/// A used GPT entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    /// Index in the entry array (partition number - 1).
    pub index: u32,
    /// Partition type.
    pub type_guid: Guid,
    /// This partition's own GUID.
    pub unique_guid: Guid,
    /// First sector.
    pub first_lba: u64,
    /// Last sector (inclusive).
    pub last_lba: u64,
    /// Attribute bits (bit 0 required, bit 2 legacy BIOS bootable, 48..63 type-specific).
    pub attributes: u64,
    /// The name, decoded from UTF-16LE.
    pub name: String,
}

/// Parses and checks the header in `sector` (the whole logical sector read
/// at `lba`). Offsets in errors are within `sector`.
pub fn parse_header(sector: &[u8], lba: u64) -> Result<GptHeader> {
    const S: &str = "GPT header";
    if sector.len() < MIN_HEADER_SIZE as usize {
        return Err(
            Error::corrupt(S, 0, "sector shorter than a GPT header").with(Damage::Truncated)
        );
    }
    if sector.get(..8) != Some(SIGNATURE.as_slice()) {
        return Err(Error::corrupt(S, 0, "no \"EFI PART\" signature"));
    }
    let raw = RawHeader::read(&mut Cursor::new(sector))
        .map_err(|e| Error::corrupt(S, 0, e.to_string()))?;
    let size_error = || {
        Error::corrupt(
            S,
            12,
            format!(
                "header size {} is outside {MIN_HEADER_SIZE}..={}",
                raw.header_size,
                sector.len()
            ),
        )
    };
    let header = sector
        .get(..raw.header_size as usize)
        .filter(|_| raw.header_size >= MIN_HEADER_SIZE)
        .ok_or_else(size_error)?;
    // The CRC covers the header with its own field (16..20) zeroed; a size of
    // at least MIN_HEADER_SIZE holds that field.
    let mut copy = header.to_vec();
    copy.get_mut(16..20).ok_or_else(size_error)?.fill(0);
    let crc = crc32fast::hash(&copy);
    if crc != raw.header_crc32 {
        return Err(Error::corrupt(
            S,
            16,
            format!(
                "header CRC32 mismatch: stored {:#010x}, computed {crc:#010x}",
                raw.header_crc32
            ),
        )
        .with(Damage::Checksum));
    }
    if raw.my_lba != lba {
        return Err(Error::corrupt(
            S,
            24,
            format!("header read at LBA {lba} says it is at LBA {}", raw.my_lba),
        )
        .with(Damage::Misplaced));
    }
    if raw.entry_size < MIN_ENTRY_SIZE || raw.entry_size % 8 != 0 {
        return Err(Error::corrupt(
            S,
            84,
            format!(
                "entry size {} is not a multiple of 8 of at least {MIN_ENTRY_SIZE}",
                raw.entry_size
            ),
        ));
    }
    let array = u64::from(raw.num_entries) * u64::from(raw.entry_size);
    if array > MAX_ENTRY_ARRAY_BYTES {
        return Err(Error::corrupt(
            S,
            80,
            format!(
                "{} entries of {} bytes ({array} bytes) exceed the {MAX_ENTRY_ARRAY_BYTES}-byte limit",
                raw.num_entries, raw.entry_size
            ),
        ));
    }
    if raw.first_usable_lba > raw.last_usable_lba.saturating_add(1) {
        return Err(Error::corrupt(
            S,
            40,
            format!(
                "first usable LBA {} is after last usable LBA {}",
                raw.first_usable_lba, raw.last_usable_lba
            ),
        ));
    }
    Ok(GptHeader {
        revision: raw.revision,
        header_size: raw.header_size,
        header_crc32: raw.header_crc32,
        my_lba: raw.my_lba,
        alternate_lba: raw.alternate_lba,
        first_usable_lba: raw.first_usable_lba,
        last_usable_lba: raw.last_usable_lba,
        disk_guid: Guid(raw.disk_guid),
        entries_lba: raw.entries_lba,
        num_entries: raw.num_entries,
        entry_size: raw.entry_size,
        entries_crc32: raw.entries_crc32,
    })
}

/// Parses the used entries of an entry array (`array` holds exactly
/// `hdr.entry_array_bytes()` bytes). The CRC is checked by the caller,
/// which decides what a mismatch means.
pub fn parse_entries(array: &[u8], hdr: &GptHeader) -> Vec<GptEntry> {
    let mut out = Vec::new();
    for (index, chunk) in array.chunks_exact(hdr.entry_size as usize).enumerate() {
        let Ok(raw) = RawEntry::read(&mut Cursor::new(chunk)) else {
            continue; // ok: chunks are >= 128 bytes, so this cannot fail
        };
        if raw.type_guid == [0; 16] {
            continue;
        }
        out.push(GptEntry {
            index: index as u32, // ok: index < num_entries, a u32
            type_guid: Guid(raw.type_guid),
            unique_guid: Guid(raw.unique_guid),
            first_lba: raw.first_lba,
            last_lba: raw.last_lba,
            attributes: raw.attributes,
            name: utf16le_str(&raw.name),
        });
    }
    out
}

/// One copy of the GPT (primary or backup) as read from a volume.
#[derive(Debug)]
pub struct GptCopy {
    /// The checked header.
    pub header: GptHeader,
    /// Byte offset of the header.
    pub header_offset: u64,
    /// The used entries.
    pub entries: Vec<GptEntry>,
    /// `None` when the entry array CRC matched, or what was wrong with the array.
    pub entries_error: Option<Error>,
}

/// What was found at one of the two places a GPT header lives.
#[derive(Debug)]
pub enum CopyState {
    /// No "EFI PART" signature there.
    Absent,
    /// A header that checks out (its entry array may still be damaged).
    Found(Box<GptCopy>),
    /// A signature, but the header is damaged.
    Damaged(Error),
}

impl CopyState {
    /// The copy, when its header checks out.
    pub fn copy(&self) -> Option<&GptCopy> {
        match self {
            CopyState::Found(c) => Some(c),
            _ => None,
        }
    }

    /// True when header and entry array both check out.
    pub fn is_intact(&self) -> bool {
        self.copy().is_some_and(|c| c.entries_error.is_none())
    }
}

/// Reads the header at `lba` and, when it checks out, its entry array.
pub fn read_copy(vol: &dyn Volume, ss: u64, lba: u64) -> CopyState {
    let layer = vol.describe();
    let Some(off) = lba
        .checked_mul(ss)
        .filter(|o| o.saturating_add(ss) <= vol.len())
    else {
        return CopyState::Absent;
    };
    let sector = match bytes_at(vol, off, ss as usize) {
        Ok(s) => s,
        Err(e) => return CopyState::Damaged(e),
    };
    if sector.get(..8) != Some(SIGNATURE.as_slice()) {
        return CopyState::Absent;
    }
    let header = match parse_header(&sector, lba) {
        Ok(h) => h,
        // A sound header that says it lives elsewhere is not this volume's:
        // the array's backup GPT in the last sector of an md 1.2 member, a
        // partition's own table seen through its disk.
        Err(e) if e.damage() == Some(Damage::Misplaced) => return CopyState::Absent,
        Err(e) => return CopyState::Damaged(e.within(&layer, off)),
    };
    let len = header.entry_array_bytes();
    let arr_off = header.entries_lba.saturating_mul(ss);
    let (entries, entries_error) = match bytes_at(vol, arr_off, len as usize) {
        Err(e) => (
            Vec::new(),
            Some(match e {
                Error::OutOfRange { .. } => Error::Corrupt {
                    layer: layer.clone(),
                    structure: "GPT entry array",
                    offset: arr_off,
                    detail: format!(
                        "{len} bytes at LBA {} run past the end of the disk",
                        header.entries_lba
                    ),
                    kind: Damage::Bounds,
                },
                other => other,
            }),
        ),
        Ok(array) => {
            let crc = crc32fast::hash(&array);
            let err = (crc != header.entries_crc32).then(|| Error::Corrupt {
                layer: layer.clone(),
                structure: "GPT entry array",
                offset: arr_off,
                detail: format!(
                    "entry array CRC32 mismatch: stored {:#010x}, computed {crc:#010x}",
                    header.entries_crc32
                ),
                kind: Damage::Checksum,
            });
            (parse_entries(&array, &header), err)
        }
    };
    CopyState::Found(Box::new(GptCopy {
        header,
        header_offset: off,
        entries,
        entries_error,
    }))
}

/// Both copies of a GPT on a volume read with one sector size.
#[derive(Debug)]
pub struct GptScan {
    /// Logical sector size used.
    pub sector_size: u64,
    /// The header at LBA 1.
    pub primary: CopyState,
    /// Where the backup was looked for (the primary's AlternateLBA, else the last sector).
    pub backup_lba: u64,
    /// The header found there.
    pub backup: CopyState,
}

impl GptScan {
    /// True when either copy shows a signature.
    pub fn present(&self) -> bool {
        !matches!(
            (&self.primary, &self.backup),
            (CopyState::Absent, CopyState::Absent)
        )
    }

    /// The copy to believe: an intact primary, else an intact backup, else
    /// whichever has a good header (its entries flagged).
    pub fn chosen(&self) -> Option<(&GptCopy, Which)> {
        if self.primary.is_intact() {
            return self.primary.copy().map(|c| (c, Which::Primary));
        }
        if self.backup.is_intact() {
            return self.backup.copy().map(|c| (c, Which::Backup));
        }
        self.primary
            .copy()
            .map(|c| (c, Which::Primary))
            .or_else(|| self.backup.copy().map(|c| (c, Which::Backup)))
    }
}

/// Which copy of the GPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The header at LBA 1.
    Primary,
    /// The header at the end of the disk.
    Backup,
}

impl Which {
    /// "primary" or "backup".
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Primary => "primary",
            Which::Backup => "backup",
        }
    }
}

/// Reads both GPT copies with sector size `ss`.
pub fn scan(vol: &dyn Volume, ss: u64) -> GptScan {
    let ss = ss.max(512);
    let last = (vol.len() / ss).saturating_sub(1);
    let primary = read_copy(vol, ss, 1);
    let mut backup_lba = last;
    let mut backup = CopyState::Absent;
    if let Some(c) = primary.copy() {
        let alt = c.header.alternate_lba;
        if alt != last && alt > 1 {
            backup_lba = alt;
            backup = read_copy(vol, ss, alt);
        }
    }
    if matches!(backup, CopyState::Absent) {
        backup_lba = last;
        backup = read_copy(vol, ss, last);
    }
    GptScan {
        sector_size: ss,
        primary,
        backup_lba,
        backup,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::io::MemVolume;

    /// Builds a GPT disk of `sectors` sectors of `ss` bytes with the given
    /// entries (type, first, last, name), both copies consistent.
    pub(crate) fn build_gpt(ss: usize, sectors: u64, parts: &[(Guid, u64, u64, &str)]) -> Vec<u8> {
        let mut d = vec![0u8; ss * sectors as usize];
        let n = 128u32;
        let es = 128u32;
        let arr_sectors = (n * es) as u64 / ss as u64;
        let mut arr = vec![0u8; (n * es) as usize];
        for (i, (t, first, last, name)) in parts.iter().enumerate() {
            let e = &mut arr[i * 128..(i + 1) * 128];
            e[0..16].copy_from_slice(&t.0);
            e[16..32].copy_from_slice(&[i as u8 + 1; 16]);
            e[32..40].copy_from_slice(&first.to_le_bytes());
            e[40..48].copy_from_slice(&last.to_le_bytes());
            for (j, u) in name.encode_utf16().enumerate() {
                e[56 + 2 * j..58 + 2 * j].copy_from_slice(&u.to_le_bytes());
            }
        }
        let arr_crc = crc32fast::hash(&arr);
        let last = sectors - 1;
        let mk = |my: u64, alt: u64, entries: u64| {
            let mut h = vec![0u8; 92];
            h[..8].copy_from_slice(SIGNATURE);
            h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&my.to_le_bytes());
            h[32..40].copy_from_slice(&alt.to_le_bytes());
            h[40..48].copy_from_slice(&(2 + arr_sectors).to_le_bytes());
            h[48..56].copy_from_slice(&(last - 1 - arr_sectors).to_le_bytes());
            h[56..72].copy_from_slice(&[0xAB; 16]);
            h[72..80].copy_from_slice(&entries.to_le_bytes());
            h[80..84].copy_from_slice(&n.to_le_bytes());
            h[84..88].copy_from_slice(&es.to_le_bytes());
            h[88..92].copy_from_slice(&arr_crc.to_le_bytes());
            let crc = crc32fast::hash(&h);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            h
        };
        let p = mk(1, last, 2);
        d[ss..ss + 92].copy_from_slice(&p);
        d[2 * ss..2 * ss + arr.len()].copy_from_slice(&arr);
        let b = mk(last, 1, last - arr_sectors);
        let bo = last as usize * ss;
        d[bo..bo + 92].copy_from_slice(&b);
        let ao = (last - arr_sectors) as usize * ss;
        d[ao..ao + arr.len()].copy_from_slice(&arr);
        // Protective MBR.
        crate::part::mbr::tests::put_entry(&mut d[..512], 0, 0, 0xee, 1, (sectors - 1) as u32);
        d
    }

    fn linux() -> Guid {
        Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap()
    }

    #[test]
    fn both_copies_read() {
        for ss in [512usize, 4096] {
            let d = build_gpt(
                ss,
                200,
                &[(linux(), 40, 99, "root"), (linux(), 100, 150, "däta")],
            );
            let v = MemVolume::new("d", d);
            let s = scan(&v, ss as u64);
            assert!(s.primary.is_intact() && s.backup.is_intact(), "{s:?}");
            let (c, w) = s.chosen().unwrap();
            assert_eq!(w, Which::Primary);
            assert_eq!(c.entries.len(), 2);
            assert_eq!(c.entries[1].name, "däta");
            assert_eq!(c.entries[1].first_lba, 100);
        }
    }

    /// Flips each header field of a golden header and checks which error
    /// comes back and where it points.
    #[test]
    fn golden_header_mutations() {
        let d = build_gpt(512, 200, &[(linux(), 40, 99, "root")]);
        let golden = d[512..1024].to_vec();
        assert!(parse_header(&golden, 1).is_ok());
        let resign = |h: &mut Vec<u8>| {
            h[16..20].fill(0);
            let crc = crc32fast::hash(&h[..92]);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
        };
        let cases: &[(usize, &[u8], u64)] = &[
            (12, &91u32.to_le_bytes(), 12),
            (12, &600u32.to_le_bytes(), 12),
            (24, &7u64.to_le_bytes(), 24),
            (84, &0u32.to_le_bytes(), 84),
            (84, &130u32.to_le_bytes(), 84),
            (80, &u32::MAX.to_le_bytes(), 80),
            (40, &500u64.to_le_bytes(), 40),
        ];
        for &(at, val, want) in cases {
            let mut h = golden.clone();
            h[at..at + val.len()].copy_from_slice(val);
            resign(&mut h);
            match parse_header(&h, 1) {
                Err(Error::Corrupt { offset, .. }) => assert_eq!(offset, want, "field at {at}"),
                other => panic!("field at {at}: {other:?}"),
            }
        }
        // A flipped bit without a new CRC is a CRC error.
        let mut h = golden.clone();
        h[60] ^= 1;
        assert!(matches!(
            parse_header(&h, 1),
            Err(Error::Corrupt { offset: 16, .. })
        ));
        // The 2^32-1 entries of size 0 case.
        let mut h = golden;
        h[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
        h[84..88].copy_from_slice(&0u32.to_le_bytes());
        resign(&mut h);
        assert!(matches!(
            parse_header(&h, 1),
            Err(Error::Corrupt { offset: 84, .. })
        ));
    }

    #[test]
    fn damaged_primary_falls_back_to_backup() {
        let mut d = build_gpt(512, 200, &[(linux(), 40, 99, "root")]);
        d[512 + 60] ^= 0xff; // header CRC now wrong
        let v = MemVolume::new("d", d.clone());
        let s = scan(&v, 512);
        assert!(matches!(
            s.primary,
            CopyState::Damaged(Error::Corrupt { offset: 0x210, .. })
        ));
        let (c, w) = s.chosen().unwrap();
        assert_eq!((w, c.entries.len()), (Which::Backup, 1));
        // Damaged entries only: header fine, array CRC wrong.
        let mut d2 = build_gpt(512, 200, &[(linux(), 40, 99, "root")]);
        d2[1024 + 40] ^= 1;
        let v = MemVolume::new("d", d2);
        let s = scan(&v, 512);
        assert!(!s.primary.is_intact());
        assert!(s.primary.copy().unwrap().entries_error.is_some());
        assert_eq!(s.chosen().unwrap().1, Which::Backup);
    }
}
