//! Adaptec HostRAID (dmraid "asr"): a big-endian reserved block in the
//! last sector of every member, holding this disk's identity (drivemagic)
//! and the sector of a RAID configuration table. The table lists logical
//! lines (arrays) each followed by physical lines (their disks); this
//! disk's line is the one whose raidmagic equals drivemagic, and its array
//! is the nearest logical line before it. Data starts at sector 0 (dmraid
//! asr.h: ASR_DATAOFFSET).
//!
//! The table pointer is an absolute sector. On an image of only the end
//! of a disk (or a disk that was resized) it points outside the volume;
//! the table normally fills the 16 sectors right before the reserved
//! block, so it is looked for there next, and the move is reported.

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes, SECTOR};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::{Line, ReservedBlock, TableHeader};

const S_BLOCK: &str = "ASR reserved block";
const S_TABLE: &str = "ASR RAID table";

fn name_of(l: &Line) -> String {
    String::from_utf8_lossy(&l.name)
        .trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

fn array_state(s: u8) -> &'static str {
    match s {
        0x00 => "optimal",
        0x01 => "degraded",
        0x02 => "rebuilding",
        0x03 => "morphing",
        0x04 => "dead",
        0x05 => "warning",
        0x0A => "verifying",
        0x0B => "building",
        0x54 => "created",
        0xFD => "diagnosing",
        _ => "unknown",
    }
}

/// Finds the table: at the sector the reserved block names, else right
/// before the reserved block. Returns its offset and header.
fn find_table(
    vol: &dyn Volume,
    rb: &ReservedBlock,
    block_off: u64,
    problems: &mut Vec<Problem>,
) -> Result<(u64, TableHeader)> {
    let at = |off: u64| -> Option<TableHeader> {
        let b = bytes_at(vol, off, SECTOR as usize).ok()?;
        TableHeader::parse(&b).filter(|h| h.ridcode == raw::TABLE_MAGIC)
    };
    let named = u64::from(rb.raidtbl) * SECTOR;
    if let Some(h) = at(named) {
        return Ok((named, h));
    }
    if let Some(off) = ataraid::sector_from_end(vol, raw::TABLE_SECTORS_FROM_END) {
        if let Some(h) = at(off) {
            problems.push(Problem::warning(
                S_BLOCK,
                Some(block_off + 0x104),
                format!(
                    "raidtbl names sector {}, which {}; the table was read {} sectors from the end instead (where it sits on a disk of {} sectors)",
                    rb.raidtbl,
                    if named >= vol.len() { "is past the end of this volume" } else { "holds no table" },
                    raw::TABLE_SECTORS_FROM_END,
                    u64::from(rb.raidtbl) + raw::TABLE_SECTORS_FROM_END,
                ),
            ));
            return Ok((off, h));
        }
    }
    Err(Error::corrupt(
        S_BLOCK,
        block_off + 0x104,
        format!(
            "no RAID table (ridcode {:#010x}) at the sector raidtbl names ({}) nor right before the reserved block",
            raw::TABLE_MAGIC,
            rb.raidtbl
        ),
    ))
}

/// Reads the reserved block and the table from `vol`, the block being at `off`.
fn read_at(vol: &dyn Volume, off: u64, rb: &ReservedBlock) -> Result<RaidMetadata> {
    let mut m = ataraid::metadata(RaidFormat::Bios("asr"), rb.resver.to_string(), off);
    if rb.resver != raw::RBLOCK_VERSION {
        m.problems.push(Problem::warning(
            S_BLOCK,
            Some(off + 0x3F),
            format!(
                "reserved block version {}; only version 8 is documented",
                rb.resver
            ),
        ));
    }
    let (tbl, h) = find_table(vol, rb, off, &mut m.problems)?;
    if usize::from(h.elmsize) != raw::LINE_SIZE {
        return Err(Error::corrupt(
            S_TABLE,
            tbl + 0xC,
            format!("line size {}, expected {}", h.elmsize, raw::LINE_SIZE),
        ));
    }
    let count = usize::from(h.elmcnt);
    if count == 0 || count >= usize::from(h.maxelm) || count > raw::MAX_LINES {
        return Err(Error::corrupt(
            S_TABLE,
            tbl + 0xA,
            format!(
                "{count} lines in use, outside 1..{} (maxelm {})",
                usize::from(h.maxelm).min(raw::MAX_LINES + 1),
                h.maxelm
            ),
        ));
    }
    let body = bytes_at(vol, tbl + raw::LINES_AT as u64, count * raw::LINE_SIZE).map_err(|_| {
        Error::corrupt(
            S_TABLE,
            tbl + 0xA,
            format!("{count} lines run past the end of the volume"),
        )
    })?;
    let computed = raw::checksum(&body);
    let sum_ok = computed == h.rchksum;
    m.checksum_ok = Some(sum_ok);
    if !sum_ok {
        let msg = format!(
            "checksum {:#06x}, computed {computed:#06x}; fields still used",
            h.rchksum
        );
        m.problems.push(if h.rversion < 2 {
            Problem::error(S_TABLE, Some(tbl + 0xE), msg)
        } else {
            Problem::warning(
                S_TABLE,
                Some(tbl + 0xE),
                format!(
                    "{msg} (table version {} firmware may not keep it)",
                    h.rversion
                ),
            )
        });
    }
    let lines: Vec<Line> = body
        .chunks_exact(raw::LINE_SIZE)
        .filter_map(Line::parse)
        .collect();
    let first_name = lines.first().map(name_of).unwrap_or_default();
    let name = |l: &Line| {
        let n = name_of(l);
        if n.is_empty() {
            first_name.clone()
        } else {
            n
        }
    };
    let me = lines.iter().rposition(|l| l.raidmagic == rb.drivemagic);
    // This disk's line, and the lines above it.
    let (before, this) = me
        .and_then(|me| Some((lines.get(..me)?, lines.get(me)?)))
        .ok_or_else(|| {
            Error::corrupt(
                S_BLOCK,
                off + 0x40,
                format!(
                    "drivemagic {:#010x} is in none of the {count} table lines",
                    rb.drivemagic
                ),
            )
        })?;
    // The logical line this disk belongs to: the last one above its own.
    let logical_at = before
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| l.raidlevel == raw::FWL);
    let top = lines.iter().find(|l| l.raidlevel == raw::FWL_2);
    m.events = u64::from(logical_at.map_or(this.raidseq, |(_, l)| l.raidseq));
    m.device_id = Some(format!("{:08x}", rb.drivemagic));
    let spare = this.raidtype == 0xFE || logical_at.is_none();
    let (logical, members) = match logical_at {
        Some((i, l)) => {
            let mut members: Vec<&Line> = lines
                .iter()
                .skip(i + 1)
                .take_while(|x| x.raidlevel == raw::FWP)
                .collect();
            members.sort_by_key(|x| x.position_key());
            (l, members)
        }
        None => (this, vec![this]),
    };
    let (level, native) = match (top.is_some(), logical.raidtype) {
        (true, _) => (Level::Raid10, "RAID10 (RAID1 over RAID0 sets)"),
        (_, 0) => (Level::Raid0, "RAID0"),
        (_, 1) => (Level::Raid1, "RAID1"),
        (_, 4) => (Level::Raid4, "RAID4"),
        (_, 5) => (Level::Raid5, "RAID5"),
        (_, 0xFE) => (Level::Other(0xFE), "spare"),
        (_, n) => (Level::Other(i32::from(n)), "unknown"),
    };
    let id = top.unwrap_or(logical).raidmagic;
    let mut a = ataraid::array(
        RaidFormat::Bios("asr"),
        format!("{id:08x}"),
        level,
        u32::from(logical.raidcnt),
    );
    let set = name(logical);
    a.name = Some(set.clone());
    a.layout = ataraid::layout(format!("raidtype {} ({native})", logical.raidtype), "");
    if matches!(
        level,
        Level::Raid0 | Level::Raid10 | Level::Raid4 | Level::Raid5
    ) && this.strpsize != 0
    {
        a.chunk_size = Some(bytes(u64::from(this.strpsize)));
    }
    a.array_size = (logical.lcapcty != 0).then(|| bytes(u64::from(logical.lcapcty)));
    a.member_size = (this.lcapcty != 0).then(|| bytes(u64::from(this.lcapcty)));
    a.state = array_state(logical.raidstate).into();
    a.slots = members
        .iter()
        .map(|x| Some(format!("{:08x}", x.raidmagic)))
        .collect();
    a.details = vec![
        ("raidlevel", Detail::Number(u64::from(logical.raidlevel))),
        ("raidseq", Detail::Number(u64::from(logical.raidseq))),
        ("strpsize", Detail::Number(u64::from(logical.strpsize))),
        ("raidstate", Detail::Number(u64::from(logical.raidstate))),
        ("dmraid_set", Detail::Text(format!("asr_{set}"))),
    ];
    let slot = members.iter().position(|x| x.raidmagic == rb.drivemagic);
    let state = if spare {
        MemberState::Spare
    } else {
        match this.raidstate {
            0x00 | 0x02 | 0x0A => MemberState::Active,
            0x01 | 0x03 => MemberState::Faulty,
            _ => MemberState::Rebuilding,
        }
    };
    let role = ataraid::member(
        if spare { None } else { slot.map(|s| s as u32) }, // ok: < 127
        0,
        a.member_size,
        state,
    );
    m.arrays.push((a, role));
    let lines_text = lines
        .iter()
        .map(|l| {
            format!(
                "{:08x} {:?} level={} type={} state={} cnt={} seq={} hba/ch/lun/id={}/{}/{}/{} offset={} capacity={} strpsize={}",
                l.raidmagic,
                name(l),
                l.raidlevel,
                l.raidtype,
                l.raidstate,
                l.raidcnt,
                l.raidseq,
                l.raidhba,
                l.raidchnl,
                l.raidlun,
                l.raidid,
                l.loffset,
                l.lcapcty,
                l.strpsize
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    m.details = vec![
        (
            "drivemagic",
            Detail::Text(format!("{:#010x}", rb.drivemagic)),
        ),
        ("raidtbl", Detail::Number(u64::from(rb.raidtbl))),
        ("table_offset", Detail::Number(tbl)),
        ("sb0flags", Detail::Text(format!("{:#x}", rb.sb0flags))),
        ("jbodEnable", Detail::Number(u64::from(rb.jbod_enable))),
        ("biosInfo", Detail::Text(format!("{:#x}", rb.bios_info))),
        (
            "svBlockStorageTid",
            Detail::Text(format!("{:#x}", rb.sv_block_storage_tid)),
        ),
        ("svtid", Detail::Text(format!("{:#x}", rb.svtid))),
        ("fstrsvrb", Detail::Number(u64::from(rb.fstrsvrb))),
        ("rversion", Detail::Number(u64::from(h.rversion))),
        ("maxelm", Detail::Number(u64::from(h.maxelm))),
        ("elmcnt", Detail::Number(u64::from(h.elmcnt))),
        ("rchksum", Detail::Text(format!("{:#06x}", h.rchksum))),
        ("raidFlags", Detail::Text(format!("{:#x}", h.raid_flags))),
        ("timestamp", Detail::Text(format!("{:#x}", h.timestamp))),
        ("irocFlags", Detail::Number(u64::from(h.iroc_flags))),
        ("dirty", Detail::Number(u64::from(h.dirty))),
        (
            "actionPriority",
            Detail::Number(u64::from(h.action_priority)),
        ),
        ("spareid", Detail::Number(u64::from(h.spareid))),
        (
            "sparedrivemagic",
            Detail::Text(format!("{:#x}", h.sparedrivemagic)),
        ),
        ("raidmagic", Detail::Text(format!("{:#x}", h.raidmagic))),
        ("lines", Detail::Text(lines_text)),
    ];
    Ok(m)
}

/// Reads the ASR reserved block in the last sector and the table it names:
/// `None` without both magics; an error when the table cannot be found or
/// does not list this disk.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, 1, raw::BLOCK_SIZE)?;
    let rb = ReservedBlock::parse(&b)?;
    if !rb.has_magic() {
        return None;
    }
    Some(read_at(vol, off, &rb))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const SECTORS: usize = 40;
    const RB: usize = (SECTORS - 1) * 512;
    const TBL: usize = (SECTORS - 17) * 512;

    fn line(d: &mut [u8], i: usize, magic: u32, level: u8, id: u32, cap: u32, strp: u16) {
        let at = TBL + 0x40 + 64 * i;
        let l = &mut d[at..at + 64];
        l[0..2].copy_from_slice(&(if level == raw::FWL { 2u16 } else { 0 }).to_be_bytes());
        l[2..4].copy_from_slice(&1u16.to_be_bytes());
        l[4..8].copy_from_slice(&magic.to_be_bytes());
        l[8] = level;
        l[0x10..0x14].copy_from_slice(&id.to_be_bytes());
        l[0x18..0x1C].copy_from_slice(&cap.to_be_bytes());
        l[0x1C..0x1E].copy_from_slice(&strp.to_be_bytes());
        l[0x30..0x40].copy_from_slice(b"ZERO            ");
    }

    fn seal(d: &mut [u8]) {
        let n = usize::from(u16::from_be_bytes([d[TBL + 0xA], d[TBL + 0xB]]));
        let s = raw::checksum(&d[TBL + 0x40..TBL + 0x40 + 64 * n]);
        d[TBL + 0xE..TBL + 0x10].copy_from_slice(&s.to_be_bytes());
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; SECTORS * 512];
        let rb = &mut d[RB..];
        rb[0..4].copy_from_slice(&raw::B0_MAGIC.to_be_bytes());
        rb[0x3F] = 8;
        rb[0x40..0x44].copy_from_slice(&0xBBBBu32.to_be_bytes());
        rb[0x100..0x104].copy_from_slice(&raw::S_MAGIC.to_be_bytes());
        rb[0x104..0x108].copy_from_slice(&((SECTORS - 17) as u32).to_be_bytes());
        let t = &mut d[TBL..];
        t[0..4].copy_from_slice(&raw::TABLE_MAGIC.to_be_bytes());
        t[4..8].copy_from_slice(&2u32.to_be_bytes());
        t[8..10].copy_from_slice(&127u16.to_be_bytes());
        t[0xA..0xC].copy_from_slice(&3u16.to_be_bytes());
        t[0xC..0xE].copy_from_slice(&64u16.to_be_bytes());
        line(&mut d, 0, 0x2CA5_856A, raw::FWL, 0, 4000, 256);
        line(&mut d, 1, 0xBBBB, raw::FWP, 4, 2000, 128);
        line(&mut d, 2, 0xAAAA, raw::FWP, 1, 2000, 128);
        seal(&mut d);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.version, "8");
        assert_eq!(m.checksum_ok, Some(true));
        assert_eq!(m.events, 1);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let (a, r) = &m.arrays[0];
        assert_eq!(a.id, "2ca5856a");
        assert_eq!(a.name.as_deref(), Some("ZERO"));
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.raid_disks, 2);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.array_size, Some(4000 * 512));
        // sorted by SCSI id: 0xAAAA (id 1) first, this disk (id 4) second
        assert_eq!(r.slot, Some(1));
        assert_eq!(
            a.slots,
            vec![Some("0000aaaa".into()), Some("0000bbbb".into())]
        );
    }

    #[test]
    fn table_pointer_past_the_end_falls_back() {
        let mut d = golden();
        d[RB + 0x104..RB + 0x108].copy_from_slice(&1_000_000u32.to_be_bytes());
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.problems.len(), 1);
        assert_eq!(m.problems[0].offset, Some(RB as u64 + 0x104));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[RB + 0x100] = 0;
        assert!(read_bytes(d).is_none(), "second magic");
        let mut d = golden();
        d[TBL] = 0;
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(RB as u64 + 0x104));
        let mut d = golden();
        d[TBL + 0x40 + 64 + 0x18] ^= 1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(TBL as u64 + 0xE));
        let mut d = golden();
        d[TBL + 0xA..TBL + 0xC].copy_from_slice(&0xFFFFu16.to_be_bytes());
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(TBL as u64 + 0xA));
        let mut d = golden();
        d[TBL + 8..TBL + 0xA].copy_from_slice(&0xFFFFu16.to_be_bytes());
        d[TBL + 0xA..TBL + 0xC].copy_from_slice(&0x2000u16.to_be_bytes());
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(TBL as u64 + 0xA), "count clamped to 127");
        let mut d = golden();
        d[RB + 0x40] = 0x77;
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(RB as u64 + 0x40));
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 511, 512, 17 * 512, 17 * 512 + 100, 30 * 512] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
