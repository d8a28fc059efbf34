//! exFAT directory entry sets (Microsoft "exFAT file system
//! specification" §6 and §7).
//!
//! Every entry is 32 bytes; EntryType at 0 (§6.2.1): 0x00 ends the
//! directory, bit 7 (InUse) clear marks a deleted or unused entry.
//! Primary entries kept by this reader: File 0x85. Skipped in listings:
//! Allocation Bitmap 0x81 (§7.1), Up-case Table 0x82 (§7.2), Volume Label
//! 0x83 (§7.3), Volume GUID 0xA0, TexFAT padding 0xA1, and secondaries
//! outside a set.
//!
//! File entry (§7.4): SecondaryCount 1 (2..=18), SetChecksum 2,
//! FileAttributes 4, CreateTimestamp 8, LastModifiedTimestamp 12,
//! LastAccessedTimestamp 16, Create10msIncrement 20,
//! LastModified10msIncrement 21, CreateUtcOffset 22,
//! LastModifiedUtcOffset 23, LastAccessedUtcOffset 24.
//!
//! Stream Extension 0xC0 (§7.6), the first secondary:
//! GeneralSecondaryFlags 1 (bit 0 AllocationPossible, bit 1 NoFatChain),
//! NameLength 3, NameHash 4, ValidDataLength 8, FirstCluster 20,
//! DataLength 24. File Name 0xC1 (§7.7): FileName 2 (15 UTF-16 units),
//! as many as NameLength needs, right after the stream entry.
//!
//! SetChecksum (§6.3.3): over every byte of the set except bytes 2 and 3
//! of the File entry, a 16-bit rotate-right-then-add.
//!
//! Timestamps (§7.4.8): DoubleSeconds bits 0-4, Minute 5-10, Hour 11-15,
//! Day 16-20, Month 21-24, Year 25-31 (from 1980), local time; the
//! 10 ms increment (0..=199) adds to it; the UTC offset byte (§7.4.10)
//! holds a signed 7-bit count of 15-minute steps in bits 0-6 and, in bit 7,
//! whether it is valid.

use crate::bytes::Bytes;
use crate::fs::fat::dirent::days_from_civil;
use crate::fs::Timestamp;

/// Entry size.
pub const ENTRY: usize = 32;
/// File directory entry type.
pub const FILE: u8 = 0x85;
/// Stream extension entry type.
pub const STREAM: u8 = 0xC0;
/// File name entry type.
pub const NAME: u8 = 0xC1;
/// FileAttributes.Directory.
pub const ATTR_DIRECTORY: u16 = 0x10;

/// A File entry set, checked and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet {
    /// Entries in the set (SecondaryCount + 1).
    pub entries: usize,
    /// FileAttributes.
    pub attr: u16,
    /// CreateTimestamp with its 10 ms and offset.
    pub created: Option<Timestamp>,
    /// LastModifiedTimestamp with its 10 ms and offset.
    pub modified: Option<Timestamp>,
    /// LastAccessedTimestamp with its offset.
    pub accessed: Option<Timestamp>,
    /// GeneralSecondaryFlags of the stream extension.
    pub flags: u8,
    /// ValidDataLength.
    pub valid_len: u64,
    /// FirstCluster.
    pub first_cluster: u32,
    /// DataLength.
    pub data_len: u64,
    /// The name.
    pub name: String,
    /// SetChecksum as stored.
    pub stored_checksum: u16,
    /// SetChecksum as computed.
    pub checksum: u16,
}

impl FileSet {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }

    /// Clusters are allocated (AllocationPossible).
    pub fn alloc_possible(&self) -> bool {
        self.flags & 1 != 0
    }

    /// Clusters are contiguous and the FAT is not used (NoFatChain).
    pub fn no_fat_chain(&self) -> bool {
        self.flags & 2 != 0
    }

    /// The stored checksum matches.
    pub fn checksum_ok(&self) -> bool {
        self.stored_checksum == self.checksum
    }
}

/// The SetChecksum of `set` (whole entries; the first is the primary).
pub fn set_checksum(set: &[u8]) -> u16 {
    set.iter()
        .enumerate()
        .filter(|&(i, _)| i != 2 && i != 3)
        .fold(0u16, |sum, (_, &b)| {
            sum.rotate_right(1).wrapping_add(u16::from(b))
        })
}

/// A timestamp field as UTC: the offset applied when it is marked valid,
/// the local time read as UTC otherwise. `None` for an impossible date.
pub fn timestamp(stamp: u32, ms10: u8, utc_offset: u8) -> Option<Timestamp> {
    let day = (stamp >> 16) & 0x1F;
    let month = (stamp >> 21) & 0x0F;
    let year = 1980 + i64::from(stamp >> 25);
    if day == 0 || !(1..=12).contains(&month) {
        return None;
    }
    let secs = i64::from(stamp & 0x1F) * 2
        + i64::from((stamp >> 5) & 0x3F) * 60
        + i64::from((stamp >> 11) & 0x1F) * 3600;
    let ms10 = u32::from(ms10.min(199));
    let mut t = days_from_civil(year, month, day) * 86_400 + secs + i64::from(ms10 / 100);
    if utc_offset & 0x80 != 0 {
        // Sign-extend the 7-bit count of 15-minute steps.
        let steps = i64::from(((utc_offset << 1) as i8) >> 1);
        t -= steps * 900;
    }
    Some(Timestamp::new(t, (ms10 % 100) * 10_000_000))
}

/// Parses the File entry set in `set` (exactly SecondaryCount + 1
/// entries, the File entry first). An error says what is wrong and at
/// which byte of `set`.
pub fn parse_set(set: &[u8]) -> Result<FileSet, (usize, String)> {
    let b = Bytes(set);
    let short = |at: usize| (at, "entry set cut short".to_string());
    if b.u8(0) != Some(FILE) {
        return Err((0, "not a File directory entry".into()));
    }
    let sc = usize::from(b.u8(1).ok_or_else(|| short(1))?);
    if !(2..=18).contains(&sc) {
        return Err((1, format!("SecondaryCount {sc} is outside 2..=18")));
    }
    let entries = sc + 1;
    let set = b
        .get(0, entries * ENTRY)
        .ok_or_else(|| short(entries * ENTRY))?;
    let b = Bytes(set);
    let s = ENTRY; // the stream extension
    if b.u8(s) != Some(STREAM) {
        return Err((
            s,
            "the first secondary entry is not a Stream Extension".into(),
        ));
    }
    let name_len = usize::from(b.u8(s + 3).ok_or_else(|| short(s))?);
    if name_len == 0 {
        return Err((s + 3, "NameLength is zero".into()));
    }
    let name_entries = name_len.div_ceil(15);
    if 1 + name_entries > sc {
        return Err((
            1,
            format!("SecondaryCount {sc} leaves no room for a {name_len}-character name"),
        ));
    }
    let mut units = Vec::with_capacity(name_entries * 15);
    for k in 0..name_entries {
        let at = (2 + k) * ENTRY;
        if b.u8(at) != Some(NAME) {
            return Err((
                at,
                format!("entry {} of the set is not a File Name entry", k + 2),
            ));
        }
        for j in 0..15 {
            units.push(b.le_u16(at + 2 + 2 * j).ok_or_else(|| short(at))?);
        }
    }
    units.truncate(name_len);
    let name: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let f = |o: usize| b.le_u32(o).unwrap_or(0);
    let u = |o: usize| b.u8(o).unwrap_or(0);
    Ok(FileSet {
        entries,
        attr: b.le_u16(4).unwrap_or(0),
        created: timestamp(f(8), u(20), u(22)),
        modified: timestamp(f(12), u(21), u(23)),
        accessed: timestamp(f(16), 0, u(24)),
        flags: u(s + 1),
        valid_len: b.le_u64(s + 8).unwrap_or(0),
        first_cluster: f(s + 20),
        data_len: b.le_u64(s + 24).unwrap_or(0),
        name,
        stored_checksum: b.le_u16(2).unwrap_or(0),
        checksum: set_checksum(set),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A set for `name` with a correct checksum.
    pub(crate) fn make_set(name: &str, flags: u8, first: u32, len: u64) -> Vec<u8> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let n = units.len().div_ceil(15);
        let mut set = vec![0u8; (2 + n) * ENTRY];
        set[0] = FILE;
        set[1] = (1 + n) as u8;
        set[4] = 0x20;
        // 2021-03-04 05:06:08, +0.07 s, UTC+1 marked valid.
        let stamp: u32 = (41 << 25) | (3 << 21) | (4 << 16) | (5 << 11) | (6 << 5) | 4;
        set[12..16].copy_from_slice(&stamp.to_le_bytes());
        set[21] = 7;
        set[23] = 0x80 | 4;
        set[ENTRY] = STREAM;
        set[ENTRY + 1] = flags;
        set[ENTRY + 3] = units.len() as u8;
        set[ENTRY + 8..ENTRY + 16].copy_from_slice(&len.to_le_bytes());
        set[ENTRY + 20..ENTRY + 24].copy_from_slice(&first.to_le_bytes());
        set[ENTRY + 24..ENTRY + 32].copy_from_slice(&len.to_le_bytes());
        for (k, chunk) in units.chunks(15).enumerate() {
            let at = (2 + k) * ENTRY;
            set[at] = NAME;
            for (j, u) in chunk.iter().enumerate() {
                set[at + 2 + 2 * j..at + 4 + 2 * j].copy_from_slice(&u.to_le_bytes());
            }
        }
        let sum = set_checksum(&set);
        set[2..4].copy_from_slice(&sum.to_le_bytes());
        set
    }

    #[test]
    fn a_set_round_trips() {
        let name = "a name longer than fifteen units, 😀";
        let set = make_set(name, 3, 5, 1234);
        let f = parse_set(&set).unwrap();
        assert_eq!(f.name, name);
        assert!(f.checksum_ok() && f.no_fat_chain() && f.alloc_possible());
        assert_eq!((f.first_cluster, f.data_len, f.valid_len), (5, 1234, 1234));
        // 05:06:08.07 at UTC+1 is 04:06:08.07 UTC.
        let m = f.modified.unwrap();
        assert_eq!((m.secs, m.nanos), (1_614_834_368 - 3600, 70_000_000));
        let mut bad = set.clone();
        bad[ENTRY + 24] ^= 1;
        assert!(!parse_set(&bad).unwrap().checksum_ok());
        assert!(parse_set(&set[..ENTRY * 2]).is_err());
        let mut short = set.clone();
        short[1] = 1;
        assert!(parse_set(&short).is_err());
    }

    #[test]
    fn negative_offsets() {
        let stamp: u32 = (41 << 25) | (3 << 21) | (4 << 16);
        // -8 steps: UTC-2.
        let t = timestamp(stamp, 0, 0x80 | (0x80 - 8)).unwrap();
        let base = timestamp(stamp, 0, 0).unwrap();
        assert_eq!(t.secs - base.secs, 7200);
        assert_eq!(timestamp(0, 0, 0), None);
    }
}
