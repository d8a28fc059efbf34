//! Promise FastTrak BIOS RAID: 2048-byte blocks near the end of every
//! member with a 32-bit checksum, one per array the disk belongs to.
//! raid.magic_1 identifies the array; raid.disk_number is this disk's
//! place. Data of the first array starts at sector 0 (dmraid pdc.h:
//! PDC_DATAOFFSET); dmraid places further arrays at raid.start.

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes, SECTOR};
use crate::raid::metadata::{ArrayInfo, Level, MemberRole, MemberState, RaidFormat, RaidMetadata};

pub use raw::Pdc;

/// dmraid's set name: "pdc_" and raid.magic_1 in decimal, digits as letters.
pub fn set_name(p: &Pdc) -> String {
    format!("pdc_{}", ataraid::alpha_digits(&p.raid_magic_1.to_string()))
}

/// Where the first block is: its byte offset, if a signature is at one of
/// the known distances from the end.
pub fn find(vol: &dyn Volume) -> Option<u64> {
    let sectors = vol.len() / SECTOR;
    raw::SECTORS_FROM_END.iter().find_map(|&s| {
        let off = sectors.checked_sub(s)? * SECTOR;
        let b = bytes_at(vol, off, raw::SIGNATURE.len()).ok()?;
        (*b == raw::SIGNATURE[..]).then_some(off)
    })
}

/// The array one block describes, and this disk's role in it.
fn array_of(p: &Pdc, index: usize) -> (ArrayInfo, MemberRole) {
    let raid10 = p.is_raid10();
    let (level, native) = match p.kind {
        _ if raid10 => (Level::Raid10, "RAID10 (mirrored stripe sets)"),
        0 => (Level::Raid0, "RAID0"),
        1 => (Level::Raid1, "RAID1"),
        8 => (Level::Linear, "span"),
        n => (Level::Other(i32::from(n)), "unknown"),
    };
    let disks = u64::from(p.total_disks.max(1));
    let per_member = match level {
        Level::Raid0 => Some(u64::from(p.total_secs) / disks),
        Level::Raid1 => Some(u64::from(p.total_secs)),
        Level::Raid10 => Some(u64::from(p.total_secs) / (disks / 2).max(1)),
        _ => None,
    };
    let mut a = ataraid::array(
        RaidFormat::Bios("promise"),
        format!("{:08x}", p.raid_magic_1),
        level,
        u32::from(p.total_disks),
    );
    a.name = Some(set_name(p));
    a.layout = ataraid::layout(format!("type {} ({native})", p.kind), "");
    if matches!(level, Level::Raid0 | Level::Raid10) {
        a.chunk_size = ataraid::chunk_from_shift(p.raid0_shift);
    }
    a.array_size = (p.total_secs != 0).then(|| bytes(u64::from(p.total_secs)));
    a.member_size = per_member.map(bytes);
    a.state = "ok".into();
    a.slots = p
        .disks
        .iter()
        .take(usize::from(p.total_disks))
        .map(|d| Some(format!("{:08x}/{}", d.magic_0, d.disk_number)))
        .collect();
    a.details = vec![
        ("array_number", Detail::Number(u64::from(p.array_number))),
        ("raid0_shift", Detail::Number(u64::from(p.raid0_shift))),
        ("raid0_disks", Detail::Number(u64::from(p.raid0_disks))),
        ("total_secs", Detail::Number(u64::from(p.total_secs))),
        ("status", Detail::Text(format!("{:#x}", p.status))),
        ("start", Detail::Number(u64::from(p.start))),
        ("disk_secs", Detail::Number(u64::from(p.disk_secs))),
        (
            "geometry",
            Detail::Text(format!("{}/{}/{}", p.cylinders, p.heads, p.sectors)),
        ),
    ];
    let data_offset = if index == 0 {
        0
    } else {
        bytes(u64::from(p.start))
    };
    let role = ataraid::member(
        Some(u32::from(p.disk_number)),
        data_offset,
        per_member.map(bytes),
        MemberState::Active,
    );
    (a, role)
}

/// Reads the Promise blocks: `None` without a signature at any known
/// place, an error when the first block's disk count is impossible.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let first = find(vol)?;
    let mut m = ataraid::metadata(RaidFormat::Bios("promise"), String::new(), first);
    let mut all_ok = true;
    for i in 0..raw::MAX_AREAS {
        let off = first + i as u64 * raw::AREA_STRIDE * SECTOR; // ok: i < 4
        let Ok(b) = bytes_at(vol, off, raw::SIZE) else {
            break;
        };
        let Some(p) = Pdc::parse(&b) else {
            break;
        };
        if p.total_disks == 0 || usize::from(p.total_disks) >= raw::MAX_DISKS {
            let e = Error::corrupt(
                "Promise metadata",
                off + 0x220,
                format!(
                    "total_disks {} is outside 1..{}",
                    p.total_disks,
                    raw::MAX_DISKS
                ),
            );
            if i == 0 {
                return Some(Err(e));
            }
            m.problems.push(Problem::from_error(
                crate::problem::Severity::Error,
                "Promise metadata",
                &e,
            ));
            continue;
        }
        let ok = raw::checksum_ok(&b);
        if !ok {
            all_ok = false;
            m.problems.push(Problem::error(
                "Promise metadata",
                Some(off + 0x7FC),
                format!(
                    "area {i}: checksum {:#010x} is not the sum of the 511 dwords before it; fields still used",
                    p.checksum
                ),
            ));
        }
        if i == 0 {
            m.details = vec![
                ("magic_0", Detail::Text(format!("{:#010x}", p.magic_0))),
                ("magic_1", Detail::Text(format!("{:#010x}", p.magic_1))),
                ("unknown_0", Detail::Text(format!("{:#x}", p.unknown_0))),
                ("unknown_1", Detail::Text(format!("{:#x}", p.unknown_1))),
                ("unknown_2", Detail::Text(format!("{:#x}", p.unknown_2))),
                ("flags", Detail::Text(format!("{:#x}", p.flags))),
                ("disk_number", Detail::Number(u64::from(p.disk_number))),
                ("channel", Detail::Number(u64::from(p.channel))),
                ("device", Detail::Number(u64::from(p.device))),
                (
                    "raid_magic_0",
                    Detail::Text(format!("{:#010x}", p.raid_magic_0)),
                ),
                ("checksum", Detail::Text(format!("{:#010x}", p.checksum))),
                (
                    "sectors_from_end",
                    Detail::Number(vol.len() / SECTOR - first / SECTOR),
                ),
            ];
            m.device_id = Some(format!("{:08x}", p.raid_magic_0));
        }
        m.arrays.push(array_of(&p, i));
    }
    m.details
        .push(("areas", Detail::Number(m.arrays.len() as u64)));
    m.checksum_ok = Some(all_ok);
    Some(Ok(m))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const SECTORS: usize = 80;
    const AT: usize = (SECTORS - 63) * 512;

    fn seal(d: &mut [u8], at: usize) {
        let s = ataraid::sum_le_u32(&d[at..at + raw::SIZE - 4]);
        d[at + raw::SIZE - 4..at + raw::SIZE].copy_from_slice(&s.to_le_bytes());
    }

    fn block(d: &mut [u8], at: usize, magic: u32) {
        let b = &mut d[at..];
        b[..24].copy_from_slice(raw::SIGNATURE);
        b[0x205] = 1;
        b[0x21F] = 0;
        b[0x220] = 2;
        b[0x221] = 7;
        b[0x224..0x228].copy_from_slice(&1000u32.to_le_bytes());
        b[0x22C..0x230].copy_from_slice(&magic.to_le_bytes());
        seal(d, at);
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; SECTORS * 512];
        block(&mut d, AT, 0x747F_0521);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.offset, AT as u64);
        assert_eq!(m.checksum_ok, Some(true));
        assert_eq!(m.arrays.len(), 1);
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.member_size, Some(500 * 512));
        assert_eq!(a.name.as_deref(), Some("pdc_bjfeeibeeb"));
        assert_eq!(r.slot, Some(1));
    }

    #[test]
    fn second_area() {
        let mut d = golden();
        block(&mut d, AT + 14 * 512, 5);
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays.len(), 2);
        assert_eq!(m.arrays[1].0.id, "00000005");
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT + 3] = 0;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x224] ^= 1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(AT as u64 + 0x7FC));
        let mut d = golden();
        d[AT + 0x220] = 200;
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(AT as u64 + 0x220));
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 24, 63 * 512, 63 * 512 + 100, 70 * 512] {
            let _ = read_bytes(d[d.len() - len.min(d.len())..].to_vec());
        }
    }
}
