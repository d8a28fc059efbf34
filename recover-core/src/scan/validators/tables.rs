//! Partition table sectors: an MBR or EBR (a disk, an extended partition,
//! or a disk image inside a filesystem starts there), and GPT headers,
//! whose MyLBA field says where their disk starts.

use super::peek;
use crate::bytes::Bytes;
use crate::part::{gpt, mbr};
use crate::scan::finding::{Finding, FindingKind};
use crate::scan::signature::Context;

/// An MBR or EBR: a valid 55 AA sector with sane entries that is not a
/// FAT, NTFS or exFAT boot sector.
pub fn mbr(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    if b.has(3, b"NTFS    ")
        || b.has(3, b"EXFAT   ")
        || crate::fs::fat::parse_bpb(c.bytes).is_some_and(|r| r.is_ok())
    {
        return None;
    }
    let m = mbr::parse_mbr(c.bytes).ok()?;
    if m.entries.is_empty() || m.entries.iter().any(|e| e.kind == 0) {
        return None;
    }
    let mut f = Finding::new(FindingKind::PartitionTable, "mbr", "MBR or EBR", c.at);
    f.start = Some(c.at);
    let extended_only = m
        .entries
        .iter()
        .all(|e| crate::part::types::is_extended(e.kind) || e.slot < 2);
    let list: Vec<String> = m
        .entries
        .iter()
        .map(|e| format!("{:x}@{}+{}", e.kind, e.first_lba, e.sectors))
        .collect();
    f.because(
        format!(
            "boot signature and {} sane entries: {}",
            m.entries.len(),
            list.join(" ")
        ),
        10,
    );
    if m.entries.iter().any(|e| e.kind == 0xee) {
        f.because("protective MBR (GPT)", 20);
    } else if extended_only {
        f.because("entries fit an EBR", 5);
    }
    Some(f)
}

/// A GPT header (primary or backup): MyLBA (24) is its own LBA, so the disk
/// starts MyLBA sectors before it; the sector size is the one under which
/// the entry array's CRC matches.
pub fn gpt(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let my = b.le_u64(24)?;
    let h = gpt::parse_header(c.bytes, my).ok()?;
    for ss in [512u64, 4096] {
        let Some(start) = my.checked_mul(ss).and_then(|o| c.at.checked_sub(o)) else {
            continue;
        };
        let arr = start.checked_add(h.entries_lba.checked_mul(ss)?)?;
        let ok = peek(c.vol.as_ref(), arr, h.entry_array_bytes() as usize)
            .is_some_and(|a| crc32fast::hash(&a) == h.entries_crc32);
        if !ok {
            continue;
        }
        let what = if my == 1 {
            "GPT primary header"
        } else {
            "GPT backup header"
        };
        let mut f = Finding::new(FindingKind::PartitionTable, "gpt", what, c.at);
        f.start = Some(start);
        let last = if my == 1 { h.alternate_lba } else { my };
        f.size = last.checked_add(1).and_then(|n| n.checked_mul(ss));
        f.uuid = Some(h.disk_guid.to_string());
        f.because(
            format!("header and entry array CRCs match with {ss}-byte sectors"),
            50,
        );
        return Some(f);
    }
    let mut f = Finding::new(
        FindingKind::PartitionTable,
        "gpt",
        "GPT header (entries not found)",
        c.at,
    );
    f.start = c.at.checked_sub(my.checked_mul(512)?);
    f.uuid = Some(h.disk_guid.to_string());
    f.because("header CRC matches", 20);
    f.despite("no entry array with a matching CRC where it says", 10);
    Some(f)
}
