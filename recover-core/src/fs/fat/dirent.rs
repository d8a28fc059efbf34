//! FAT directory entries: the 32-byte short (8.3) entry, VFAT long-name
//! entries, names and DOS times.
//!
//! Short entry (fatgen103 "FAT Directory Structure"): DIR_Name 0 (11
//! bytes, 8 + 3, space padded; first byte 0xE5 free, 0x00 free and last,
//! 0x05 stands for a real 0xE5), DIR_Attr 11, DIR_NTRes 12 (Windows NT:
//! bit 3 base name in lower case, bit 4 extension in lower case),
//! DIR_CrtTimeTenth 13 (0..=199 units of 10 ms), DIR_CrtTime 14,
//! DIR_CrtDate 16, DIR_LstAccDate 18, DIR_FstClusHI 20 (FAT32 only),
//! DIR_WrtTime 22, DIR_WrtDate 24, DIR_FstClusLO 26, DIR_FileSize 28.
//!
//! Long entry (fatgen103 "FAT Long Directory Entries"): LDIR_Ord 0 (1..=20,
//! 0x40 on the last, which is stored first), LDIR_Name1 1 (5 UTF-16
//! units), LDIR_Attr 11 (0x0F), LDIR_Type 12, LDIR_Chksum 13 (of the
//! short name), LDIR_Name2 14 (6 units), LDIR_FstClusLO 26 (0),
//! LDIR_Name3 28 (2 units). A name ends with 0x0000, then 0xFFFF padding.
//!
//! Date (fatgen103 "Date and Time Formats"): bits 0-4 day, 5-8 month, 9-15
//! years from 1980. Time: bits 0-4 two-second count, 5-10 minutes, 11-15
//! hours. FAT stores local time with no zone.

use crate::bytes::Bytes;
use crate::fs::Timestamp;

/// Size of every directory entry.
pub const ENTRY: usize = 32;

/// Attribute bits (DIR_Attr).
pub const ATTR_READ_ONLY: u8 = 0x01;
/// Hidden.
pub const ATTR_HIDDEN: u8 = 0x02;
/// System.
pub const ATTR_SYSTEM: u8 = 0x04;
/// Volume label.
pub const ATTR_VOLUME_ID: u8 = 0x08;
/// Directory.
pub const ATTR_DIRECTORY: u8 = 0x10;
/// Archive.
pub const ATTR_ARCHIVE: u8 = 0x20;
/// The four low bits together mark a long-name entry.
pub const ATTR_LONG_NAME: u8 = 0x0F;

/// The `Stat.flags` names of attribute bits (FAT and exFAT share them).
pub fn attr_flags(attr: u16) -> Vec<&'static str> {
    [
        (ATTR_READ_ONLY, "readonly"),
        (ATTR_HIDDEN, "hidden"),
        (ATTR_SYSTEM, "system"),
        (ATTR_ARCHIVE, "archive"),
    ]
    .iter()
    .filter(|(bit, _)| attr & u16::from(*bit) != 0)
    .map(|&(_, n)| n)
    .collect()
}

/// A short directory entry, fields as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortEntry {
    /// DIR_Name.
    pub name: [u8; 11],
    /// DIR_Attr.
    pub attr: u8,
    /// DIR_NTRes.
    pub nt_res: u8,
    /// DIR_CrtTimeTenth.
    pub crt_tenth: u8,
    /// DIR_CrtTime.
    pub crt_time: u16,
    /// DIR_CrtDate.
    pub crt_date: u16,
    /// DIR_LstAccDate.
    pub acc_date: u16,
    /// DIR_FstClusHI.
    pub cluster_hi: u16,
    /// DIR_WrtTime.
    pub wrt_time: u16,
    /// DIR_WrtDate.
    pub wrt_date: u16,
    /// DIR_FstClusLO.
    pub cluster_lo: u16,
    /// DIR_FileSize.
    pub size: u32,
}

impl ShortEntry {
    /// Parses 32 bytes (`None` when fewer).
    pub fn parse(e: &[u8]) -> Option<ShortEntry> {
        let b = Bytes(e);
        Some(ShortEntry {
            name: b.array(0)?,
            attr: b.u8(11)?,
            nt_res: b.u8(12)?,
            crt_tenth: b.u8(13)?,
            crt_time: b.le_u16(14)?,
            crt_date: b.le_u16(16)?,
            acc_date: b.le_u16(18)?,
            cluster_hi: b.le_u16(20)?,
            wrt_time: b.le_u16(22)?,
            wrt_date: b.le_u16(24)?,
            cluster_lo: b.le_u16(26)?,
            size: b.le_u32(28)?,
        })
    }

    /// True for a long-name entry.
    pub fn is_long(&self) -> bool {
        self.attr & 0x3F == ATTR_LONG_NAME
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }

    /// The first cluster; the high half only on FAT32 (FAT12/16 keep other
    /// things there).
    pub fn first_cluster(&self, fat32: bool) -> u32 {
        let hi = if fat32 { u32::from(self.cluster_hi) } else { 0 };
        (hi << 16) | u32::from(self.cluster_lo)
    }

    /// True for "." and "..".
    pub fn is_dot(&self) -> bool {
        &self.name == b".          " || &self.name == b"..         "
    }

    /// The 8.3 name as text: 0x05 read as 0xE5, padding dropped, the NT
    /// lower-case bits applied, OEM bytes read as code page 437.
    pub fn short_name(&self) -> String {
        let mut n = self.name;
        if n[0] == 0x05 {
            n[0] = 0xE5;
        }
        let base = trim_spaces(&n[..8]);
        let ext = trim_spaces(&n[8..]);
        let mut s = oem_text(base, self.nt_res & 0x08 != 0);
        if !ext.is_empty() {
            s.push('.');
            s.push_str(&oem_text(ext, self.nt_res & 0x10 != 0));
        }
        s
    }

    /// Last modification.
    pub fn mtime(&self) -> Option<Timestamp> {
        dos_time(self.wrt_date, self.wrt_time, 0)
    }

    /// Creation, with its 10 ms count.
    pub fn crtime(&self) -> Option<Timestamp> {
        dos_time(self.crt_date, self.crt_time, self.crt_tenth)
    }

    /// Last access (a date only).
    pub fn atime(&self) -> Option<Timestamp> {
        dos_time(self.acc_date, 0, 0)
    }
}

fn trim_spaces(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' '] = b {
        b = rest;
    }
    b
}

/// Code page 437, bytes 0x80..=0xFF.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

fn oem_text(b: &[u8], lower: bool) -> String {
    b.iter()
        .map(|&c| {
            if c < 0x80 {
                let ch = char::from(c);
                if lower {
                    ch.to_ascii_lowercase()
                } else {
                    ch
                }
            } else {
                CP437_HIGH
                    .chars()
                    .nth(usize::from(c - 0x80))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            }
        })
        .collect()
}

/// The checksum of an 11-byte short name that its long-name entries carry
/// (fatgen103 "FAT Long Directory Entries", ChkSum): rotate right by one,
/// add the next byte, modulo 256.
pub fn lfn_checksum(name: &[u8; 11]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &c| sum.rotate_right(1).wrapping_add(c))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DOS date and time (+ 10 ms units) as a timestamp, the local time read
/// as UTC (FAT records no zone). `None` for a zero or impossible date.
pub fn dos_time(date: u16, time: u16, tenths: u8) -> Option<Timestamp> {
    let day = u32::from(date & 0x1F);
    let month = u32::from((date >> 5) & 0x0F);
    let year = 1980 + i64::from(date >> 9);
    if day == 0 || !(1..=12).contains(&month) {
        return None;
    }
    let secs = i64::from(time & 0x1F) * 2
        + i64::from((time >> 5) & 0x3F) * 60
        + i64::from(time >> 11) * 3600;
    let tenths = u32::from(tenths.min(199));
    let days = days_from_civil(year, month, day);
    Some(Timestamp::new(
        days * 86_400 + secs + i64::from(tenths / 100),
        (tenths % 100) * 10_000_000,
    ))
}

/// Long-name entries gathered before the short entry they belong to.
#[derive(Debug, Default)]
pub struct LongName {
    /// 13 units per entry, slot `ord - 1`.
    parts: Vec<[u16; 13]>,
    /// The ordinal expected next (counting down to 1); 0 when complete.
    expect: u8,
    /// The checksum every entry of the set carries.
    checksum: u8,
    /// Offset of the set's first entry, for problems.
    start: u64,
}

/// What went wrong with a long name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongNameProblem {
    /// Offset of the long-name entry at fault (or of the set).
    pub offset: u64,
    /// What.
    pub detail: String,
}

impl LongName {
    /// True while entries are gathered.
    pub fn active(&self) -> bool {
        !self.parts.is_empty()
    }

    /// Drops a partial set; a problem when there was one.
    pub fn reset(&mut self, why: &str) -> Option<LongNameProblem> {
        let p = self.active().then(|| LongNameProblem {
            offset: self.start,
            detail: format!("long-name entries with no short entry after them ({why}); ignored"),
        });
        self.parts.clear();
        self.expect = 0;
        p
    }

    /// Takes one long-name entry at `offset`.
    pub fn push(&mut self, e: &[u8], offset: u64) -> Option<LongNameProblem> {
        let b = Bytes(e);
        let (Some(ord), Some(sum)) = (b.u8(0), b.u8(13)) else {
            return None;
        };
        let n = ord & 0x3F;
        let mut problem = None;
        if ord & 0x40 != 0 {
            problem = self.reset("a new set began");
            if n == 0 || n > 20 {
                return problem.or(Some(LongNameProblem {
                    offset,
                    detail: format!("long-name entry with ordinal {n}; ignored"),
                }));
            }
            self.parts = vec![[0xFFFF; 13]; usize::from(n)];
            self.expect = n;
            self.checksum = sum;
            self.start = offset;
        } else if !self.active() || n == 0 || n != self.expect || sum != self.checksum {
            let p = self.reset("the sequence broke");
            return p.or(Some(LongNameProblem {
                offset,
                detail: format!("long-name entry {n} out of sequence; ignored"),
            }));
        }
        let mut units = [0u16; 13];
        let at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
        for (u, &o) in units.iter_mut().zip(at.iter()) {
            *u = b.le_u16(o).unwrap_or(0);
        }
        if let Some(slot) = self.parts.get_mut(usize::from(n) - 1) {
            *slot = units;
        }
        self.expect = n - 1;
        problem
    }

    /// The name for the short entry whose 8.3 name is `short`, when a
    /// complete set with its checksum was gathered. Problems for a set
    /// that does not match.
    pub fn take(&mut self, short: &[u8; 11]) -> (Option<String>, Option<LongNameProblem>) {
        if !self.active() {
            return (None, None);
        }
        let sum = lfn_checksum(short);
        let r = if self.expect != 0 {
            (
                None,
                Some(LongNameProblem {
                    offset: self.start,
                    detail: "long name incomplete; the short name is used".into(),
                }),
            )
        } else if self.checksum != sum {
            (
                None,
                Some(LongNameProblem {
                    offset: self.start,
                    detail: format!(
                        "long-name checksum {:#04x} does not match the short name's {sum:#04x}; the short name is used",
                        self.checksum
                    ),
                }),
            )
        } else {
            let units: Vec<u16> = self
                .parts
                .iter()
                .flatten()
                .copied()
                .take_while(|&u| u != 0)
                .collect();
            let name: String = char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            (Some(name), None)
        };
        self.parts.clear();
        self.expect = 0;
        r
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(b"README  TXT");
        e[12] = 0x18;
        let s = ShortEntry::parse(&e).unwrap();
        assert_eq!(s.short_name(), "readme.txt");
        e[..11].copy_from_slice(b"\x05BC        ");
        e[12] = 0;
        assert_eq!(ShortEntry::parse(&e).unwrap().short_name(), "σBC");
        assert_eq!(CP437_HIGH.chars().count(), 128);
    }

    /// The long-name entries of `name` for the short name `short`, in
    /// disk order (last part first).
    fn lfn(name: &str, short: &[u8; 11]) -> Vec<[u8; 32]> {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        if units.len() % 13 != 0 {
            units.push(0);
        }
        while units.len() % 13 != 0 {
            units.push(0xFFFF);
        }
        let n = units.len() / 13;
        let at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
        (0..n)
            .rev()
            .map(|k| {
                let mut e = [0u8; 32];
                e[0] = (k + 1) as u8 | if k + 1 == n { 0x40 } else { 0 };
                e[11] = ATTR_LONG_NAME;
                e[13] = lfn_checksum(short);
                for (j, &o) in at.iter().enumerate() {
                    e[o..o + 2].copy_from_slice(&units[k * 13 + j].to_le_bytes());
                }
                e
            })
            .collect()
    }

    #[test]
    fn long_names_and_their_damage() {
        let short = b"LONGNA~1TXT";
        let name = "a long name, twenty-seven+.txt";
        let set = lfn(name, short);
        assert_eq!(set.len(), 3);
        let mut l = LongName::default();
        for (i, e) in set.iter().enumerate() {
            assert_eq!(l.push(e, i as u64 * 32), None);
        }
        assert_eq!(l.take(short), (Some(name.to_string()), None));
        // A checksum for another short name: the short name is used.
        for e in &set {
            l.push(e, 0);
        }
        let (n, p) = l.take(b"OTHER   TXT");
        assert!(n.is_none() && p.unwrap().detail.contains("checksum"));
        // A part missing: the sequence breaks, and nothing is taken.
        assert_eq!(l.push(&set[0], 0), None);
        assert!(l.push(&set[2], 64).is_some());
        assert_eq!(l.take(short), (None, None));
        // A set left without its short entry.
        l.push(&set[0], 0);
        assert!(l.reset("end").is_some());
        // Ordinal 0 or past 20: ignored with a problem.
        let mut bad = set[0];
        bad[0] = 0x40;
        assert!(l.push(&bad, 0).is_some());
        bad[0] = 0x40 | 21;
        assert!(l.push(&bad, 0).is_some());
        assert!(!l.active());
    }

    #[test]
    fn checksum_and_times() {
        // fatgen103's example algorithm on a known name: computed by hand.
        assert_eq!(lfn_checksum(b"FILE    TXT"), {
            let mut s = 0u8;
            for c in b"FILE    TXT" {
                s = (if s & 1 != 0 { 0x80u8 } else { 0 })
                    .wrapping_add(s >> 1)
                    .wrapping_add(*c);
            }
            s
        });
        // 2021-03-04 05:06:06 → 1614834366.
        let date = ((2021 - 1980) << 9) | (3 << 5) | 4;
        let time = (5 << 11) | (6 << 5) | 3;
        assert_eq!(dos_time(date, time, 0).unwrap().secs, 1_614_834_366);
        let t = dos_time(date, time, 155).unwrap();
        assert_eq!((t.secs, t.nanos), (1_614_834_367, 550_000_000));
        assert_eq!(dos_time(0, 0, 0), None);
        assert_eq!(dos_time(0xFFFF, 0xFFFF, 0xFF), None);
    }
}
