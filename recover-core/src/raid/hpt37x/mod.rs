//! HighPoint HPT37x (RocketRAID 1xx/ HPT370-374 BIOS RAID): one metadata
//! block in sector 9 of every member, no checksum. Members of a set share
//! magic_0; the two halves of a RAID 0+1 share magic_1. Data starts at
//! sector 0 on the first disk of a set and at sector 10 on the others
//! (dmraid hpt37x.c: HPT37X_DATAOFFSET, applied when disk_number != 0).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::Result;
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Hpt37x;

/// Level, native words and md's layout name for a type byte.
fn level_of(kind: u8) -> (Level, &'static str) {
    match kind {
        0 => (Level::Raid0, "RAID0"),
        1 => (Level::Raid1, "RAID1"),
        2 => (
            Level::Raid10,
            "RAID0+1, striped half (mirrored stripe sets)",
        ),
        3 => (Level::Linear, "span"),
        4 => (Level::Raid4, "RAID3"),
        5 => (Level::Raid5, "RAID5"),
        6 => (Level::Jbod, "single disk"),
        7 => (
            Level::Raid10,
            "RAID0+1, mirrored half (mirrored stripe sets)",
        ),
        n => (Level::Other(i32::from(n)), "unknown"),
    }
}

/// dmraid's set name: "hpt37x_" and the identifier in decimal, digits as letters.
pub fn set_name(h: &Hpt37x) -> String {
    if h.magic_0 == 0 {
        return "hpt37x_SPARE".into();
    }
    let id = if h.magic_1 != 0 { h.magic_1 } else { h.magic_0 };
    format!("hpt37x_{}", ataraid::alpha_digits(&id.to_string()))
}

/// Builds the neutral description from a parsed block found at `offset`.
pub fn describe(h: &Hpt37x, offset: u64) -> RaidMetadata {
    let mut m = ataraid::metadata(RaidFormat::Bios("hpt37x"), String::new(), offset);
    let spare = h.magic_0 == 0;
    let (level, native) = level_of(h.kind);
    let id = if h.magic_1 != 0 { h.magic_1 } else { h.magic_0 };
    let mut a = ataraid::array(
        RaidFormat::Bios("hpt37x"),
        format!("{id:08x}"),
        level,
        u32::from(h.raid_disks),
    );
    a.name = Some(set_name(h));
    a.layout = ataraid::layout(format!("type {} ({native})", h.kind), "");
    a.chunk_size = match level {
        Level::Raid0 | Level::Raid10 | Level::Raid4 | Level::Raid5 => {
            ataraid::chunk_from_shift(h.raid0_shift)
        }
        _ => None,
    };
    a.array_size = (h.total_secs != 0).then(|| bytes(u64::from(h.total_secs)));
    let per_member = match level {
        Level::Raid0 => Some(u64::from(h.total_secs) / u64::from(h.raid_disks.max(1))),
        Level::Raid1 => Some(u64::from(h.total_secs)),
        _ => None,
    };
    a.member_size = per_member.map(bytes);
    let broken = h.magic == raw::MAGIC_BAD;
    a.state = if broken { "broken" } else { "ok" }.into();
    a.details = vec![
        ("magic_0", Detail::Text(format!("{:#010x}", h.magic_0))),
        ("magic_1", Detail::Text(format!("{:#010x}", h.magic_1))),
        ("order", Detail::Number(u64::from(h.order))),
        ("raid0_shift", Detail::Number(u64::from(h.raid0_shift))),
        ("total_secs", Detail::Number(u64::from(h.total_secs))),
    ];
    let data_offset = if h.disk_number != 0 {
        bytes(raw::DATA_OFFSET_SECTORS)
    } else {
        0
    };
    let role = ataraid::member(
        (!spare).then_some(u32::from(h.disk_number)),
        data_offset,
        per_member.map(|s| bytes(s).saturating_sub(data_offset)),
        if spare {
            MemberState::Spare
        } else if broken {
            MemberState::Faulty
        } else {
            MemberState::Active
        },
    );
    m.arrays.push((a, role));
    m.details = vec![
        ("magic", Detail::Text(format!("{:#010x}", h.magic))),
        ("disk_number", Detail::Number(u64::from(h.disk_number))),
        ("disk_mode", Detail::Text(format!("{:#x}", h.disk_mode))),
        ("boot_mode", Detail::Text(format!("{:#x}", h.boot_mode))),
        ("boot_disk", Detail::Number(u64::from(h.boot_disk))),
        ("boot_protect", Detail::Number(u64::from(h.boot_protect))),
        (
            "error_log_entries",
            Detail::Number(u64::from(h.error_log_entries)),
        ),
        (
            "error_log_index",
            Detail::Number(u64::from(h.error_log_index)),
        ),
    ];
    if !h.errorlog.is_empty() {
        let log = h
            .errorlog
            .iter()
            .map(|e| {
                format!(
                    "t={} reason={:#x} disk={} status={} sectors={} lba={}",
                    e.timestamp, e.reason, e.disk, e.status, e.sectors, e.lba
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        m.details.push(("error_log", Detail::Text(log)));
    }
    m
}

/// Reads the HPT37x block in sector 9: `None` when its magic is not there.
/// The format has no checksum and nothing to contradict, so a block with
/// the magic always describes a member.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let b = bytes_at(vol, raw::OFFSET, raw::SIZE).ok()?;
    let h = Hpt37x::parse(&b)?;
    if !h.is_member() {
        return None;
    }
    Some(Ok(describe(&h, raw::OFFSET)))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 16 * 512];
        let b = &mut d[raw::OFFSET as usize..];
        b[0x20..0x24].copy_from_slice(&raw::MAGIC_OK.to_le_bytes());
        b[0x24..0x28].copy_from_slice(&0xCEB2_06B2u32.to_le_bytes());
        b[0x2C..0x30].copy_from_slice(&4u32.to_le_bytes());
        b[0x30] = 2;
        b[0x31] = 7;
        b[0x32] = 0;
        b[0x33] = 1;
        b[0x34..0x38].copy_from_slice(&1000u32.to_le_bytes());
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.raid_disks, 2);
        assert_eq!(a.id, "ceb206b2");
        assert_eq!(a.name.as_deref(), Some("hpt37x_deghhhdgbi"));
        assert_eq!(a.member_size, Some(500 * 512));
        assert_eq!(r.slot, Some(1));
        assert_eq!(r.data_offset, 10 * 512);
        assert_eq!(r.data_size, Some(490 * 512));
        assert_eq!(m.checksum_ok, None);
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[raw::OFFSET as usize + 0x20] ^= 1;
        assert!(read_bytes(d).is_none(), "bad magic");
        let mut d = golden();
        d[raw::OFFSET as usize + 0x33] = 9;
        assert!(read_bytes(d).is_none(), "disk number out of range");
        let mut d = golden();
        d[raw::OFFSET as usize + 0x20..raw::OFFSET as usize + 0x24]
            .copy_from_slice(&raw::MAGIC_BAD.to_le_bytes());
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays[0].0.state, "broken");
        assert_eq!(m.arrays[0].1.state, MemberState::Faulty);
        let mut d = golden();
        d[raw::OFFSET as usize + 0x24..raw::OFFSET as usize + 0x28].fill(0);
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays[0].1.state, MemberState::Spare);
        // A full error log is read up to its 32 slots, no further.
        let mut d = golden();
        for i in 0..40 {
            let at = raw::OFFSET as usize + 0x44 + 12 * i;
            if at + 4 <= raw::OFFSET as usize + 512 {
                d[at] = 1;
            }
        }
        let m = read_bytes(d).unwrap().unwrap();
        assert!(m.details.iter().any(|(k, _)| *k == "error_log"));
        // Zero raid_disks does not divide by zero.
        let mut d = golden();
        d[raw::OFFSET as usize + 0x30] = 0;
        assert!(read_bytes(d).unwrap().is_ok());
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 100, 4608, 4640, 4700, 5119] {
            let _ = read_bytes(d[..len].to_vec());
        }
    }
}
