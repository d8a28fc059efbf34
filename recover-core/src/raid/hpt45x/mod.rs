//! HighPoint HPT45x (RocketRAID 4xx BIOS RAID): one 48-byte block 11
//! sectors before the end of every member, no checksum. Members share
//! magic_0; RAID 0+1 is two RAID0 sets (raid1_type 6) mirrored. Data starts
//! at sector 0 (dmraid hpt45x.h: HPT45X_DATAOFFSET).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::Result;
use crate::ident::Detail;
use crate::io::Volume;
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Hpt45x;

/// dmraid's set name: "hpt45x_" and magic_0 in decimal, digits as letters.
pub fn set_name(h: &Hpt45x) -> String {
    if h.magic_0 == 0 {
        return "hpt45x_SPARE".into();
    }
    format!("hpt45x_{}", ataraid::alpha_digits(&h.magic_0.to_string()))
}

/// Builds the neutral description from a parsed block found at `offset`.
pub fn describe(h: &Hpt45x, offset: u64) -> RaidMetadata {
    let mut m = ataraid::metadata(RaidFormat::Bios("hpt45x"), String::new(), offset);
    let spare = h.magic_0 == 0;
    let (level, native) = match h.kind {
        raw::T_SPAN => (Level::Linear, "span"),
        raw::T_RAID0 if h.is_raid01() => (Level::Raid10, "RAID0+1 (mirrored stripe sets)"),
        raw::T_RAID0 => (Level::Raid0, "RAID0"),
        raw::T_RAID1 => (Level::Raid1, "RAID1"),
        n => (Level::Other(i32::from(n)), "unknown"),
    };
    let mut a = ataraid::array(
        RaidFormat::Bios("hpt45x"),
        format!("{:08x}", h.magic_0),
        level,
        u32::from(h.raid_disks),
    );
    a.name = Some(set_name(h));
    a.layout = ataraid::layout(format!("type {} ({native})", h.kind), "");
    if matches!(level, Level::Raid0 | Level::Raid10) {
        a.chunk_size = ataraid::chunk_from_shift(h.raid0_shift);
    }
    a.array_size = (h.total_secs != 0).then(|| bytes(u64::from(h.total_secs)));
    let per_member = match h.kind {
        raw::T_RAID0 => Some(u64::from(h.total_secs) / u64::from(h.raid_disks.max(1))),
        raw::T_RAID1 => Some(u64::from(h.total_secs)),
        _ => None,
    };
    a.member_size = per_member.map(bytes);
    let broken = h.magic == raw::MAGIC_BAD;
    a.state = if broken { "broken" } else { "ok" }.into();
    a.details = vec![
        ("magic_1", Detail::Text(format!("{:#010x}", h.magic_1))),
        ("raid0_shift", Detail::Number(u64::from(h.raid0_shift))),
        ("total_secs", Detail::Number(u64::from(h.total_secs))),
        ("raid1_type", Detail::Number(u64::from(h.raid1_type))),
        (
            "raid1_raid_disks",
            Detail::Number(u64::from(h.raid1_raid_disks)),
        ),
        (
            "raid1_disk_number",
            Detail::Number(u64::from(h.raid1_disk_number)),
        ),
        ("raid1_shift", Detail::Number(u64::from(h.raid1_shift))),
    ];
    let role = ataraid::member(
        (!spare).then_some(u32::from(h.disk_number)),
        0,
        per_member.map(bytes),
        if spare {
            MemberState::Spare
        } else if broken {
            MemberState::Faulty
        } else {
            MemberState::Active
        },
    );
    m.arrays.push((a, role));
    let words = |w: &[u32; 3]| format!("{:#x} {:#x} {:#x}", w[0], w[1], w[2]);
    m.details = vec![
        ("magic", Detail::Text(format!("{:#010x}", h.magic))),
        ("magic_0", Detail::Text(format!("{:#010x}", h.magic_0))),
        ("disk_number", Detail::Number(u64::from(h.disk_number))),
        ("dummy", Detail::Text(words(&h.dummy))),
        ("dummy1", Detail::Text(words(&h.dummy1))),
    ];
    m
}

/// Reads the HPT45x block 11 sectors from the end: `None` when its magic
/// is not there.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, raw::SECTORS_FROM_END, raw::SIZE)?;
    let h = Hpt45x::parse(&b)?;
    if !h.is_member() {
        return None;
    }
    Some(Ok(describe(&h, off)))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const AT: usize = 5 * 512; // 16 sectors, block at 16 - 11

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 16 * 512];
        let b = &mut d[AT..];
        b[0..4].copy_from_slice(&raw::MAGIC_OK.to_le_bytes());
        b[4..8].copy_from_slice(&0x01DA_01DAu32.to_le_bytes());
        b[0xC..0x10].copy_from_slice(&2000u32.to_le_bytes());
        b[0x10] = raw::T_RAID0;
        b[0x11] = 2;
        b[0x12] = 1;
        b[0x13] = 7;
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.offset, AT as u64);
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.member_size, Some(1000 * 512));
        assert_eq!(a.name.as_deref(), Some("hpt45x_dbagefdi"));
        assert_eq!(r.slot, Some(1));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT] ^= 0x80;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x12] = 200;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x20] = raw::T_RAID1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays[0].0.level, Level::Raid10);
        let mut d = golden();
        d[AT + 0x11] = 0;
        assert!(read_bytes(d).unwrap().is_ok());
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 511, 512, 5000, 6000] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
