//! The MBR (DOS) partition table and its chain of extended boot records.
//!
//! Layout of sector 0 (the classic IBM PC layout, as in the UEFI 2.10 spec
//! §5.2.1 table 5-1): boot code 0..440, disk signature at 440 (u32 LE), four
//! 16-byte partition entries at 446, boot signature 0x55 0xAA at 510. An
//! entry: status (0x00 or 0x80 = bootable) at 0, CHS start at 1, type at 4,
//! CHS end at 5, starting LBA at 8 (u32 LE), size in sectors at 12 (u32 LE).

use std::collections::HashSet;
use std::io::Cursor;

use binrw::BinRead;

use super::types::is_extended;
use crate::error::{Error, Result};
use crate::io::Volume;
use crate::problem::Problem;

/// Where the entries start in the sector.
pub const ENTRIES_OFFSET: usize = 446;
/// Where the disk signature sits.
pub const DISK_SIGNATURE_OFFSET: usize = 440;

/// A partition entry as stored (16 bytes).
#[derive(BinRead, Debug, Clone, Copy)]
#[br(little)]
struct RawEntry {
    status: u8,
    _chs_first: [u8; 3],
    kind: u8,
    _chs_last: [u8; 3],
    first_lba: u32,
    sectors: u32,
}

/// A used partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbrEntry {
    /// Position in its table, 0..4.
    pub slot: u8,
    /// 0x80 = bootable, 0x00 = not.
    pub status: u8,
    /// The partition type byte.
    pub kind: u8,
    /// First sector, relative to the table's base (0 for the MBR; the EBR
    /// or extended partition for logical entries).
    pub first_lba: u32,
    /// Length in sectors.
    pub sectors: u32,
}

impl MbrEntry {
    /// True when the bootable flag is set.
    pub fn bootable(&self) -> bool {
        self.status == 0x80
    }
}

/// A parsed MBR or EBR sector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mbr {
    /// The 32-bit disk signature (Windows' disk ID, sfdisk's label-id).
    pub disk_signature: u32,
    /// The used entries (size not zero), in slot order.
    pub entries: Vec<MbrEntry>,
}

/// What a sector 0 with entries is, from the GPT point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MbrRole {
    /// A plain DOS partition table.
    Classic,
    /// A single 0xEE entry guarding a GPT.
    Protective,
    /// A 0xEE entry plus other entries that mirror GPT partitions (macOS
    /// Boot Camp, `sgdisk -h`): two tables describe the same disk.
    Hybrid,
}

impl Mbr {
    /// Classic, protective or hybrid.
    pub fn role(&self) -> MbrRole {
        let ee = self.entries.iter().filter(|e| e.kind == 0xee).count();
        match (ee, self.entries.len()) {
            (0, _) => MbrRole::Classic,
            (n, total) if n == total => MbrRole::Protective,
            _ => MbrRole::Hybrid,
        }
    }
}

/// Parses an MBR or EBR from the first 512 bytes of `sector`.
pub fn parse_mbr(sector: &[u8]) -> Result<Mbr> {
    let Some(sector) = sector.first_chunk::<512>() else {
        return Err(Error::corrupt(
            "MBR",
            0,
            format!("only {} bytes, a sector holds 512", sector.len()),
        ));
    };
    // From here `sector` is a `&[u8; 512]`: constant indices below 512 are
    // checked at compile time.
    if sector[510..512] != [0x55, 0xAA] {
        return Err(Error::corrupt(
            "MBR",
            510,
            format!(
                "boot signature is {:02x} {:02x}, not 55 aa",
                sector[510], sector[511]
            ),
        ));
    }
    let disk_signature = u32::from_le_bytes([sector[440], sector[441], sector[442], sector[443]]);
    let mut entries = Vec::new();
    let table = sector[ENTRIES_OFFSET..510].chunks_exact(16);
    for (slot, bytes) in (0..4u8).zip(table) {
        let off = ENTRIES_OFFSET + 16 * usize::from(slot);
        let raw = RawEntry::read(&mut Cursor::new(bytes))
            .map_err(|e| Error::corrupt("MBR partition entry", off as u64, e.to_string()))?;
        if raw.status != 0 && raw.status != 0x80 {
            return Err(Error::corrupt(
                "MBR partition entry",
                off as u64,
                format!("status byte {:#04x} is neither 0x00 nor 0x80", raw.status),
            ));
        }
        if raw.sectors == 0 {
            continue;
        }
        entries.push(MbrEntry {
            slot,
            status: raw.status,
            kind: raw.kind,
            first_lba: raw.first_lba,
            sectors: raw.sectors,
        });
    }
    Ok(Mbr {
        disk_signature,
        entries,
    })
}

/// A logical partition found in the EBR chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logical {
    /// The EBR that describes it.
    pub ebr_lba: u64,
    /// Absolute first sector.
    pub start_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// Partition type byte.
    pub kind: u8,
    /// Status byte (0x80 = bootable).
    pub status: u8,
}

/// What the chain walk found: the logicals read before anything went wrong,
/// and what went wrong.
#[derive(Debug, Default)]
pub struct EbrChain {
    /// Logical partitions in chain order.
    pub logicals: Vec<Logical>,
    /// Broken or looping links, unreadable EBRs.
    pub problems: Vec<Problem>,
}

/// More logical partitions than Linux will ever number (DISK_MAX_PARTS).
pub const MAX_LOGICALS: usize = 256;

/// Walks the EBR chain of the extended partition `ext_start..+ext_sectors`
/// (in sectors of `ss` bytes). Each EBR's data entry is relative to the EBR
/// itself; its link entry is relative to the extended partition's start
/// (the convention Linux and DOS share). A link that loops, leaves the
/// extended partition or the disk ends the walk with a problem; what was read
/// before it is kept.
pub fn walk_ebr_chain(vol: &dyn Volume, ss: u64, ext_start: u64, ext_sectors: u64) -> EbrChain {
    let mut out = EbrChain::default();
    if ss == 0 {
        return out;
    }
    let disk_sectors = vol.len() / ss;
    let ext_end = ext_start.saturating_add(ext_sectors);
    let mut seen = HashSet::new();
    let mut cur = ext_start;
    let mut from: Option<u64> = None;
    let mut sector = vec![0u8; 512];
    loop {
        let off = cur.saturating_mul(ss);
        let link_desc = match from {
            Some(prev) => format!("link from the EBR at LBA {prev}"),
            None => "extended partition start".to_string(),
        };
        if !seen.insert(cur) {
            out.problems.push(Problem::error(
                "EBR chain",
                from.map(|p| p * ss + ENTRIES_OFFSET as u64 + 16),
                format!("{link_desc} loops back to the EBR at LBA {cur}; chain cut there"),
            ));
            break;
        }
        if cur >= disk_sectors {
            out.problems.push(Problem::error(
                "EBR chain",
                from.map(|p| p * ss + ENTRIES_OFFSET as u64 + 16),
                format!("{link_desc} points to LBA {cur}, past the end of the disk ({disk_sectors} sectors)"),
            ));
            break;
        }
        if out.logicals.len() >= MAX_LOGICALS || seen.len() > 4 * MAX_LOGICALS {
            out.problems.push(Problem::error(
                "EBR chain",
                Some(off),
                format!(
                    "more than {MAX_LOGICALS} logical partitions (or {} EBRs); chain cut there",
                    4 * MAX_LOGICALS
                ),
            ));
            break;
        }
        if let Err(e) = vol.read_at(off, &mut sector) {
            out.problems
                .push(Problem::from_error(crate::Severity::Error, "EBR", &e));
            break;
        }
        let ebr = match parse_mbr(&sector) {
            Ok(m) => m,
            Err(e) => {
                let mut p = Problem::from_error(crate::Severity::Error, "EBR", &e.within("", off));
                p.structure = "EBR".into();
                out.problems.push(p);
                break;
            }
        };
        let mut next = None;
        for e in &ebr.entries {
            if is_extended(e.kind) {
                if next.is_none() {
                    next = Some(ext_start.saturating_add(u64::from(e.first_lba)));
                }
                continue;
            }
            let start = cur.saturating_add(u64::from(e.first_lba));
            let l = Logical {
                ebr_lba: cur,
                start_lba: start,
                sectors: u64::from(e.sectors),
                kind: e.kind,
                status: e.status,
            };
            if start < ext_start || start.saturating_add(l.sectors) > ext_end {
                out.problems.push(Problem::warning(
                    "EBR",
                    Some(off + ENTRIES_OFFSET as u64 + 16 * u64::from(e.slot)),
                    format!(
                        "logical partition at LBA {start} (+{} sectors) lies outside the extended partition (LBA {ext_start}..{ext_end})",
                        l.sectors
                    ),
                ));
            }
            if out.logicals.len() < MAX_LOGICALS {
                out.logicals.push(l);
            }
        }
        match next {
            Some(n) if n < ext_start || n >= ext_end => {
                out.problems.push(Problem::error(
                    "EBR chain",
                    Some(off + ENTRIES_OFFSET as u64 + 16),
                    format!("link from the EBR at LBA {cur} points to LBA {n}, outside the extended partition (LBA {ext_start}..{ext_end}); chain cut there"),
                ));
                break;
            }
            Some(n) => {
                from = Some(cur);
                cur = n;
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::io::MemVolume;

    /// Writes a 16-byte entry into `sector` at `slot`.
    pub(crate) fn put_entry(
        sector: &mut [u8],
        slot: usize,
        status: u8,
        kind: u8,
        lba: u32,
        n: u32,
    ) {
        let o = ENTRIES_OFFSET + 16 * slot;
        sector[o] = status;
        sector[o + 4] = kind;
        sector[o + 8..o + 12].copy_from_slice(&lba.to_le_bytes());
        sector[o + 12..o + 16].copy_from_slice(&n.to_le_bytes());
        sector[510] = 0x55;
        sector[511] = 0xAA;
    }

    #[test]
    fn roles() {
        let mut s = vec![0u8; 512];
        put_entry(&mut s, 0, 0, 0xee, 1, 1000);
        assert_eq!(parse_mbr(&s).unwrap().role(), MbrRole::Protective);
        put_entry(&mut s, 1, 0x80, 0x0c, 2048, 1000);
        let m = parse_mbr(&s).unwrap();
        assert_eq!(m.role(), MbrRole::Hybrid);
        assert!(m.entries[1].bootable());
        s[510] = 0;
        assert!(matches!(
            parse_mbr(&s),
            Err(Error::Corrupt { offset: 510, .. })
        ));
        s[510] = 0x55;
        s[446] = 0x12;
        assert!(matches!(
            parse_mbr(&s),
            Err(Error::Corrupt { offset: 446, .. })
        ));
        assert!(parse_mbr(&s[..100]).is_err());
    }

    fn disk_with_chain(links: &[(u64, u32)]) -> MemVolume {
        // Extended partition at LBA 100..1100; EBR i at links[i].0 with a
        // data partition 10 sectors after it, linking to links[i].1.
        let mut d = vec![0u8; 2000 * 512];
        put_entry(&mut d[..512], 0, 0, 0x05, 100, 1000);
        for &(at, next) in links {
            let s = &mut d[at as usize * 512..at as usize * 512 + 512];
            put_entry(s, 0, 0, 0x83, 10, 20);
            if next != 0 {
                put_entry(s, 1, 0, 0x05, next, 50);
            }
        }
        MemVolume::new("disk", d)
    }

    #[test]
    fn chain_in_order() {
        let v = disk_with_chain(&[(100, 100), (200, 200), (300, 0)]);
        let c = walk_ebr_chain(&v, 512, 100, 1000);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let starts: Vec<u64> = c.logicals.iter().map(|l| l.start_lba).collect();
        assert_eq!(starts, vec![110, 210, 310]);
    }

    #[test]
    fn chain_that_loops_keeps_what_was_read() {
        // 100 -> 200 -> 100 again.
        let v = disk_with_chain(&[(100, 100), (200, 0)]);
        let mut d = v.as_bytes().unwrap().to_vec();
        put_entry(&mut d[200 * 512..201 * 512], 1, 0, 0x05, 0, 50);
        let v = MemVolume::new("disk", d);
        let c = walk_ebr_chain(&v, 512, 100, 1000);
        assert_eq!(c.logicals.len(), 2);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].detail.contains("loops back"),
            "{}",
            c.problems[0]
        );
    }

    #[test]
    fn chain_that_leaves_the_disk() {
        let v = disk_with_chain(&[(100, 900), (1000, 0)]);
        let mut d = v.as_bytes().unwrap().to_vec();
        put_entry(&mut d[1000 * 512..1001 * 512], 1, 0, 0x05, 50_000, 50);
        let v = MemVolume::new("disk", d);
        let c = walk_ebr_chain(&v, 512, 100, 1000);
        assert_eq!(c.logicals.len(), 2);
        assert!(
            c.problems[0].detail.contains("outside the extended"),
            "{}",
            c.problems[0]
        );
        // And a walk that starts past the end of the disk.
        let c = walk_ebr_chain(&v, 512, 5000, 1000);
        assert!(c.logicals.is_empty());
        assert!(c.problems[0].detail.contains("past the end"));
    }
}
