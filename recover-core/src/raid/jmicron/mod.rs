//! JMicron JMB36x BIOS RAID: a 128-byte block in the last sector of every
//! member with a 16-bit checksum, the array name, the mode and a table of
//! up to eight member words (the member whose word matches `identity` is
//! this disk). Data starts at segment.base.

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::bytes::padded_str;
use crate::error::Result;
use crate::ident::Detail;
use crate::io::Volume;
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Jm;

/// Attribute bits dmraid knows (mount, bootable, bad sector, active,
/// unsync, newest: together 0x07); any other bit marks the set broken.
const KNOWN_ATTRIBUTES: u16 = 0x07;

/// Builds the neutral description from a parsed block found at `offset`.
pub fn describe(j: &Jm, offset: u64, checksum_ok: bool) -> RaidMetadata {
    let version = format!("{}.{}", j.version >> 8, j.version & 0xFF);
    let mut m = ataraid::metadata(RaidFormat::Bios("jmicron"), version, offset);
    m.checksum_ok = Some(checksum_ok);
    if !checksum_ok {
        m.problems.push(Problem::error(
            "JMicron metadata",
            Some(offset + 4),
            format!(
                "checksum {:#06x} does not bring the 16-bit sum to 0 or 1; fields still used",
                j.checksum
            ),
        ));
    }
    let (level, native, neutral) = match j.mode {
        0 => (Level::Raid0, "RAID0", ""),
        1 => (Level::Raid1, "RAID1", ""),
        2 => (Level::Raid10, "RAID0+1 (striped, mirrors underneath)", ""),
        3 => (Level::Linear, "JBOD", ""),
        5 => (Level::Raid5, "RAID5", ""),
        n => (Level::Other(i32::from(n)), "unknown", ""),
    };
    let members: Vec<u32> = j.member.iter().copied().filter(|&w| w != 0).collect();
    let name = padded_str(&j.name);
    let mut a = ataraid::array(
        RaidFormat::Bios("jmicron"),
        members
            .iter()
            .map(|w| format!("{w:08x}"))
            .collect::<Vec<_>>()
            .join(":"),
        level,
        members.len() as u32, // ok: at most 8
    );
    a.name = name.clone();
    a.layout = ataraid::layout(format!("mode {} ({native})", j.mode), neutral);
    if matches!(level, Level::Raid0 | Level::Raid10 | Level::Raid5) {
        a.chunk_size = ataraid::chunk_from_shift(j.block.saturating_add(1));
    }
    a.member_size = Some(bytes(j.data_sectors()));
    let broken = j.attribute & !KNOWN_ATTRIBUTES != 0;
    a.state = if broken { "broken" } else { "ok" }.into();
    a.slots = j
        .member
        .iter()
        .map(|&w| (w != 0).then(|| format!("{w:08x}")))
        .collect();
    a.details = vec![
        ("mode", Detail::Number(u64::from(j.mode))),
        ("block", Detail::Number(u64::from(j.block))),
        ("attribute", Detail::Text(format!("{:#06x}", j.attribute))),
        (
            "dmraid_set",
            Detail::Text(format!("jmicron_{}", name.unwrap_or_default())),
        ),
    ];
    let slot = j.slot();
    if slot.is_none() {
        m.problems.push(Problem::warning(
            "JMicron metadata",
            Some(offset + 0x10),
            format!("identity {:#010x} is not in the member table", j.identity),
        ));
    }
    let role = ataraid::member(
        slot.map(|s| s as u32), // ok: < 8
        bytes(u64::from(j.base)),
        Some(bytes(j.data_sectors())),
        if broken {
            MemberState::Faulty
        } else {
            MemberState::Active
        },
    );
    m.arrays.push((a, role));
    m.device_id = Some(format!("{:08x}", j.identity));
    m.details = vec![
        ("checksum", Detail::Number(u64::from(j.checksum))),
        ("identity", Detail::Text(format!("{:#x}", j.identity))),
        ("base", Detail::Number(u64::from(j.base))),
        ("range", Detail::Number(u64::from(j.range))),
        ("range2", Detail::Number(u64::from(j.range2))),
        (
            "spare",
            Detail::Text(format!("{:#x} {:#x}", j.spare[0], j.spare[1])),
        ),
    ];
    m
}

/// Reads the JMicron block in the last sector. "JM" is only two bytes, so
/// the block must also pass its checksum, or, failing that, look like a
/// member (a known mode, this disk in its member table): otherwise `None`.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, 1, raw::SIZE)?;
    let j = Jm::parse(&b)?;
    if &j.signature != b"JM" {
        return None;
    }
    let ok = raw::checksum_ok(&b);
    if !ok && (j.mode > 5 || j.identity == 0 || j.slot().is_none()) {
        return None;
    }
    Some(Ok(describe(&j, off, ok)))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const AT: usize = 7 * 512;

    fn seal(d: &mut [u8]) {
        let b = &mut d[AT..AT + raw::SIZE];
        b[4..6].fill(0);
        let s = ataraid::sum_le_u16(b);
        b[4..6].copy_from_slice(&0u16.wrapping_sub(s).to_le_bytes());
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 8 * 512];
        let b = &mut d[AT..];
        b[0..2].copy_from_slice(b"JM");
        b[2..4].copy_from_slice(&1u16.to_le_bytes());
        b[0x10..0x14].copy_from_slice(&0x4CF0u32.to_le_bytes());
        b[0x18..0x1C].copy_from_slice(&2u32.to_le_bytes());
        b[0x1C..0x1E].copy_from_slice(&5u16.to_le_bytes());
        b[0x20..0x25].copy_from_slice(b"raid0");
        b[0x31] = 7;
        b[0x32] = 3;
        b[0x40..0x44].copy_from_slice(&0x37D0u32.to_le_bytes());
        b[0x44..0x48].copy_from_slice(&0x4CF0u32.to_le_bytes());
        seal(&mut d);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.version, "0.1");
        assert_eq!(m.checksum_ok, Some(true));
        let (a, r) = &m.arrays[0];
        assert_eq!(a.name.as_deref(), Some("raid0"));
        assert_eq!(a.chunk_size, Some(128 * 1024));
        assert_eq!(a.raid_disks, 2);
        assert_eq!(r.slot, Some(1));
        assert_eq!(r.data_size, Some((2 * 65536 + 5) * 512));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT] = b'X';
        assert!(read_bytes(d).is_none(), "bad signature");
        let mut d = golden();
        d[AT + 0x31] ^= 1;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(AT as u64 + 4));
        let mut d = golden();
        d[AT + 0x30] = 9;
        assert!(read_bytes(d).is_none(), "bad checksum and unknown mode");
        let mut d = golden();
        d[AT + 0x31] = 250;
        seal(&mut d);
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.arrays[0].0.chunk_size, None, "absurd stripe dropped");
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 64, 511, 512, 600] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
