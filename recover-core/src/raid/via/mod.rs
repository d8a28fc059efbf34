//! VIA V-RAID BIOS RAID: a 51-byte block in the last sector of every
//! member with an 8-bit checksum. The set is identified by the serial
//! checksums of its members, which every member lists. Data starts at
//! sector 0 (dmraid via.h: VIA_DATAOFFSET).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::Result;
use crate::ident::Detail;
use crate::io::Volume;
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Via;

/// The sum dmraid names sets after: disk_array_ex plus every serial checksum.
fn set_sum(v: &Via) -> u32 {
    v.serial_checksums
        .iter()
        .fold(u32::from(v.disk_array_ex), |s, &c| s.wrapping_add(c))
}

/// dmraid's set name: "via_" and [`set_sum`] in decimal, digits as letters.
pub fn set_name(v: &Via) -> String {
    format!("via_{}", ataraid::alpha_digits(&set_sum(v).to_string()))
}

/// Builds the neutral description from a parsed block found at `offset`.
pub fn describe(v: &Via, offset: u64, checksum_ok: bool) -> RaidMetadata {
    let mut m = ataraid::metadata(RaidFormat::Bios("via"), v.version.to_string(), offset);
    m.checksum_ok = Some(checksum_ok);
    if !checksum_ok {
        m.problems.push(Problem::error(
            "VIA metadata",
            Some(offset + 0x32),
            format!(
                "checksum {:#04x} is not the sum of bytes 0..50; fields still used",
                v.checksum
            ),
        ));
    }
    if v.version > 2 {
        m.problems.push(Problem::warning(
            "VIA metadata",
            Some(offset + 2),
            format!("version {} is newer than any known (0 to 2)", v.version),
        ));
    }
    let (level, native) = match v.raid_type {
        0 => (Level::Raid0, "RAID0"),
        1 => (Level::Raid1, "RAID1"),
        8 => (Level::Linear, "span"),
        9 => (Level::Raid10, "RAID0+1 (mirrored stripe sets)"),
        n => (Level::Other(i32::from(n)), "unknown"),
    };
    let disks = v.raid_disks();
    let mut a = ataraid::array(
        RaidFormat::Bios("via"),
        format!("{:08x}", set_sum(v)),
        level,
        u32::from(disks),
    );
    a.name = Some(set_name(v));
    a.layout = ataraid::layout(format!("raid_type {} ({native})", v.raid_type), "");
    if matches!(level, Level::Raid0 | Level::Raid10) {
        a.chunk_size = Some(bytes(v.stride_sectors()));
    }
    a.array_size = (v.capacity != 0).then(|| bytes(v.capacity));
    a.member_size = match level {
        Level::Raid0 => Some(bytes(v.capacity / u64::from(disks.max(1)))),
        Level::Raid1 => Some(bytes(v.capacity)),
        _ => None,
    };
    let broken = v.tolerance || v.disk_array_ex & 8 != 0;
    a.state = if broken { "broken" } else { "ok" }.into();
    a.slots = v
        .serial_checksums
        .iter()
        .take(usize::from(disks))
        .map(|&c| (c != 0).then(|| format!("{c:08x}")))
        .collect();
    let info = v.raid_type_info;
    a.details = vec![
        ("raid_type_info", Detail::Number(u64::from(info))),
        ("array_index", Detail::Number(u64::from(v.array_index))),
        (
            "disk_array_ex",
            Detail::Text(format!("{:#x}", v.disk_array_ex)),
        ),
    ];
    let (slot, state) = if !v.in_disk_array {
        (None, MemberState::Spare)
    } else if level == Level::Raid1 {
        match info & 3 {
            0 => (Some(0), MemberState::Active),
            2 => (Some(1), MemberState::Active),
            _ => (None, MemberState::Spare),
        }
    } else {
        (Some(u32::from(info & 7)), MemberState::Active)
    };
    let state = if broken && state == MemberState::Active {
        MemberState::Faulty
    } else {
        state
    };
    if level == Level::Raid10 {
        a.details
            .push(("mirror_half", Detail::Number(u64::from(info >> 3 & 1))));
    }
    m.arrays.push((a, ataraid::member(slot, 0, None, state)));
    m.device_id = Some(format!("{:08x}", v.serial_checksum));
    m.details = vec![
        ("bootable", Detail::Flag(v.bootable)),
        ("enable_enhanced", Detail::Flag(v.enable_enhanced)),
        ("in_disk_array", Detail::Flag(v.in_disk_array)),
        ("tolerance", Detail::Flag(v.tolerance)),
        ("capacity", Detail::Number(v.capacity)),
        ("checksum", Detail::Number(u64::from(v.checksum))),
    ];
    m
}

/// Reads the VIA block in the last sector. Its signature is two bytes, so
/// a block whose checksum fails is taken only when its fields are ones
/// VIA writes (a known RAID type, 1 to 8 disks, a capacity, this disk's
/// serial checksum among the members'); otherwise `None`.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, 1, raw::SIZE)?;
    let v = Via::parse(&b)?;
    let ok = raw::checksum_ok(&b);
    if !ok {
        let plausible = matches!(v.raid_type, 0 | 1 | 8 | 9)
            && (1..=8).contains(&v.raid_disks())
            && v.capacity != 0
            && v.version <= 2
            && v.serial_checksum != 0
            && v.serial_checksums.contains(&v.serial_checksum);
        if !plausible {
            return None;
        }
    }
    Some(Ok(describe(&v, off, ok)))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const AT: usize = 512;

    fn seal(d: &mut [u8]) {
        let s = ataraid::sum_u8(&d[AT..AT + 50]);
        d[AT + 0x32] = s;
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 2 * 512];
        let b = &mut d[AT..];
        b[0..2].copy_from_slice(&raw::SIGNATURE.to_le_bytes());
        b[2] = 1;
        // in_disk_array, RAID0, position 1
        b[3..5].copy_from_slice(&(4u16 | 1 << 10).to_le_bytes());
        b[5] = 0x42;
        b[6..10].copy_from_slice(&1000u32.to_le_bytes());
        b[0xE..0x12].copy_from_slice(&0xBBu32.to_le_bytes());
        b[0x12..0x16].copy_from_slice(&0xAAu32.to_le_bytes());
        b[0x16..0x1A].copy_from_slice(&0xBBu32.to_le_bytes());
        seal(&mut d);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.version, "1");
        assert_eq!(m.checksum_ok, Some(true));
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.raid_disks, 2);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.member_size, Some(500 * 512));
        assert_eq!(r.slot, Some(1));
        assert_eq!(m.device_id.as_deref(), Some("000000bb"));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT] = 0;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 6] ^= 1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(AT as u64 + 0x32));
        let mut d = golden();
        d[AT + 0xE] = 0xCC;
        assert!(
            read_bytes(d).is_none(),
            "bad checksum and a stranger's serial"
        );
        let mut d = golden();
        d[AT + 5] = 0xF7;
        seal(&mut d);
        assert!(read_bytes(d).unwrap().is_ok(), "largest stride, 7 disks");
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 50, 511, 512, 600] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
