//! NVIDIA MediaShield (nForce) BIOS RAID: a 120-byte block two sectors
//! before the end of every member, with a 32-bit checksum. The four
//! signature words identify the array; unitNumber is this disk's place.
//! Data starts at sector 0 (dmraid nv.h: NV_DATAOFFSET).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::bytes::padded_str;
use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::Volume;
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Nv;

/// raidLevel: JBOD (spanning).
pub const LEVEL_JBOD: u32 = 0xFF;
/// raidLevel: RAID0.
pub const LEVEL_0: u32 = 0x80;
/// raidLevel: RAID1.
pub const LEVEL_1: u32 = 0x81;
/// raidLevel: RAID3.
pub const LEVEL_3: u32 = 0x83;
/// raidLevel: RAID5 (asymmetric; dmraid notes it is not used).
pub const LEVEL_5: u32 = 0x85;
/// raidLevel: RAID10.
pub const LEVEL_10: u32 = 0x8A;
/// raidLevel: RAID5 symmetric (0x85 with flag 0x10).
pub const LEVEL_5_SYM: u32 = 0x95;
/// raidLevel: RAID 1+0, a mirror of two stripe sets.
pub const LEVEL_1_0: u32 = 0x8180;

/// dmraid's set name: "nvidia_" and the 32-bit sum of the signature words
/// in eight hex digits, decimal digits as letters.
pub fn set_name(n: &Nv) -> String {
    let sum = n.signature.iter().fold(0u32, |s, &w| s.wrapping_add(w));
    format!("nvidia_{}", ataraid::alpha_digits(&format!("{sum:08x}")))
}

/// Disks holding data and redundancy (not spares), as dmraid counts them.
fn width(n: &Nv) -> u32 {
    let w = u32::from(n.stripe_width);
    match n.raid_level {
        LEVEL_1 | LEVEL_10 | LEVEL_1_0 => w * 2,
        LEVEL_5_SYM => w + 1,
        _ => w,
    }
}

/// Builds the neutral description from a parsed block found at `offset`.
pub fn describe(n: &Nv, offset: u64, checksum_ok: bool) -> RaidMetadata {
    let mut m = ataraid::metadata(RaidFormat::Bios("nvidia"), n.version.to_string(), offset);
    m.checksum_ok = Some(checksum_ok);
    if !checksum_ok {
        m.problems.push(Problem::error(
            "NVIDIA metadata",
            Some(offset + 0xC),
            "checksum does not bring the sum of the 30 dwords to zero; fields still used",
        ));
    }
    let (level, native, neutral) = match n.raid_level {
        LEVEL_JBOD => (Level::Linear, "JBOD (span)", ""),
        LEVEL_0 => (Level::Raid0, "RAID0", ""),
        LEVEL_1 => (Level::Raid1, "RAID1", ""),
        LEVEL_3 => (Level::Raid4, "RAID3", ""),
        LEVEL_5 => (Level::Raid5, "RAID5 asymmetric", "left-asymmetric"),
        LEVEL_5_SYM => (Level::Raid5, "RAID5 symmetric", "left-symmetric"),
        LEVEL_10 => (Level::Raid10, "RAID10", ""),
        LEVEL_1_0 => (Level::Raid10, "RAID1+0 (mirror of two stripe sets)", ""),
        0 => (Level::Other(0), "unknown (spare)", ""),
        x => (Level::Other(x as i32), "unknown", ""), // ok: report only
    };
    let w = width(n);
    let spare =
        n.raid_level == 0 || (u32::from(n.unit_number) >= w && u32::from(n.total_volumes) >= w);
    let sig = n
        .signature
        .iter()
        .map(|s| format!("{s:08x}"))
        .collect::<Vec<_>>()
        .join(":");
    let mut a = ataraid::array(RaidFormat::Bios("nvidia"), sig, level, w);
    a.name = Some(set_name(n));
    a.layout = ataraid::layout(format!("raidLevel {:#x} ({native})", n.raid_level), neutral);
    if matches!(
        level,
        Level::Raid0 | Level::Raid4 | Level::Raid5 | Level::Raid10
    ) && n.stripe_block_size != 0
    {
        a.chunk_size = Some(bytes(u64::from(n.stripe_block_size)));
    }
    a.array_size = (n.capacity != 0).then(|| bytes(u64::from(n.capacity)));
    let data_disks = u64::from(n.stripe_width.max(1));
    a.member_size = match level {
        Level::Raid1 => Some(bytes(u64::from(n.capacity))),
        Level::Raid0 | Level::Raid4 | Level::Raid5 | Level::Raid10 => {
            Some(bytes(u64::from(n.capacity) / data_disks))
        }
        _ => None,
    };
    let error = n.flags & 2 != 0;
    a.state = if error {
        "broken".into()
    } else {
        match n.raid_job_code {
            0 => "ok",
            2 => "initializing (nosync)",
            3 => "rebuilding",
            4 => "upgrading (morph)",
            5 => "syncing",
            _ => "unknown job",
        }
        .into()
    };
    if n.raid_job_code == 4 {
        a.reshape = Some(format!(
            "morph from raidLevel {:#x}, width {}, capacity {} sectors; done up to LBA {}",
            n.original_level, n.original_width, n.original_capacity, n.raid_job_mark
        ));
    }
    a.details = vec![
        ("raidLevel", Detail::Text(format!("{:#x}", n.raid_level))),
        ("stripeWidth", Detail::Number(u64::from(n.stripe_width))),
        ("totalVolumes", Detail::Number(u64::from(n.total_volumes))),
        ("originalWidth", Detail::Number(u64::from(n.original_width))),
        ("raidJobCode", Detail::Number(u64::from(n.raid_job_code))),
        ("raidJobMark", Detail::Number(u64::from(n.raid_job_mark))),
        (
            "stripeBlockSize",
            Detail::Number(u64::from(n.stripe_block_size)),
        ),
        ("stripeSize", Detail::Number(u64::from(n.stripe_size))),
        (
            "originalLevel",
            Detail::Text(format!("{:#x}", n.original_level)),
        ),
        (
            "originalCapacity",
            Detail::Number(u64::from(n.original_capacity)),
        ),
        ("flags", Detail::Text(format!("{:#x}", n.flags))),
    ];
    let role = ataraid::member(
        (!spare).then_some(u32::from(n.unit_number)),
        0,
        None,
        if spare {
            MemberState::Spare
        } else if error {
            MemberState::Faulty
        } else {
            MemberState::Active
        },
    );
    m.arrays.push((a, role));
    m.details = vec![
        ("unitNumber", Detail::Number(u64::from(n.unit_number))),
        ("capacity", Detail::Number(u64::from(n.capacity))),
        ("sectorSize", Detail::Number(u64::from(n.sector_size))),
        (
            "productID",
            Detail::Text(padded_str(&n.product_id).unwrap_or_default()),
        ),
        (
            "productRevision",
            Detail::Text(padded_str(&n.product_revision).unwrap_or_default()),
        ),
        ("unitFlags", Detail::Text(format!("{:#x}", n.unit_flags))),
        ("array_version", Detail::Number(u64::from(n.array_version))),
        ("chksum", Detail::Text(format!("{:#010x}", n.chksum))),
    ];
    m
}

/// Reads the NVIDIA block two sectors from the end: `None` without the
/// vendor string, an error when its size is not the 30 dwords every
/// version writes (the checksum then covers an unknown length).
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, raw::SECTORS_FROM_END, raw::SIZE)?;
    let n = Nv::parse(&b)?;
    if n.size as usize != raw::SIZE / 4 {
        return Some(Err(Error::corrupt(
            "NVIDIA metadata",
            off + 8,
            format!("size {} dwords, expected {}", n.size, raw::SIZE / 4),
        )));
    }
    Some(Ok(describe(&n, off, raw::checksum_ok(&b))))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const AT: usize = 2 * 512;

    fn seal(d: &mut [u8]) {
        let b = &mut d[AT..AT + raw::SIZE];
        b[0xC..0x10].fill(0);
        let s = ataraid::sum_le_u32(b);
        b[0xC..0x10].copy_from_slice(&0u32.wrapping_sub(s).to_le_bytes());
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 4 * 512];
        let b = &mut d[AT..];
        b[..8].copy_from_slice(raw::VENDOR);
        b[8..12].copy_from_slice(&30u32.to_le_bytes());
        b[0x10..0x12].copy_from_slice(&100u16.to_le_bytes());
        b[0x12] = 1;
        b[0x14..0x18].copy_from_slice(&4000u32.to_le_bytes());
        b[0x38..0x3C].copy_from_slice(&7u32.to_le_bytes());
        b[0x49] = 2;
        b[0x4A] = 2;
        b[0x4C..0x50].copy_from_slice(&LEVEL_0.to_le_bytes());
        b[0x50..0x54].copy_from_slice(&128u32.to_le_bytes());
        seal(&mut d);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.version, "100");
        assert_eq!(m.offset, AT as u64);
        assert_eq!(m.checksum_ok, Some(true));
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.raid_disks, 2);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.member_size, Some(2000 * 512));
        assert_eq!(r.slot, Some(1));
        assert_eq!(a.name.as_deref(), Some("nvidia_aaaaaaah"));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT] = b'n';
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x14] ^= 1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(AT as u64 + 0xC));
        let mut d = golden();
        d[AT + 8] = 0xFF;
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(AT as u64 + 8));
        let mut d = golden();
        d[AT + 0x12] = 9;
        seal(&mut d);
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays[0].1.state, MemberState::Spare);
        let mut d = golden();
        d[AT + 0x49] = 0;
        seal(&mut d);
        assert!(read_bytes(d).unwrap().is_ok());
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 100, 511, 512, 1024, 1100] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
