//! Silicon Image Medley BIOS RAID (SiI 3112/3114/3512/680): a 512-byte
//! sector at the end of every member, with copies 512, 1024 and 1536
//! sectors earlier, and a 16-bit checksum. Sets are named after their
//! creation time; disk_number is this disk's place. Data starts at sector
//! 0 (dmraid sil.h: SIL_DATAOFFSET).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::bytes::padded_str;
use crate::error::Result;
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;
use crate::raid::ataraid::{self, bytes, SECTOR};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Sil;

/// dmraid's top-level set name: "sil_" and the creation stamp, digits as letters.
pub fn set_name(s: &Sil) -> String {
    format!("sil_{}", ataraid::alpha_digits(&s.stamp()))
}

/// Builds the neutral description from the sector found at `offset`;
/// `areas` lists which of the four copies (1 = last sector) are valid,
/// `vol_sectors` is the size of the volume read.
pub fn describe(
    s: &Sil,
    offset: u64,
    checksum_ok: bool,
    areas: &[u64],
    vol_sectors: u64,
) -> RaidMetadata {
    let version = format!("{}.{}", s.major_ver, s.minor_ver);
    let mut m = ataraid::metadata(RaidFormat::Bios("sil"), version, offset);
    m.events = u64::from(s.incarnation_no);
    m.checksum_ok = Some(checksum_ok);
    if !checksum_ok {
        m.problems.push(Problem::error(
            "Silicon Image metadata",
            Some(offset + raw::CHECKSUM1 as u64),
            format!(
                "checksum1 {:#06x} is not the negated sum of the words before it; fields still used",
                s.checksum1
            ),
        ));
    }
    if u64::from(s.thisdisk_sectors) > vol_sectors {
        m.problems.push(Problem::warning(
            "Silicon Image metadata",
            Some(offset + 0x78),
            format!(
                "the metadata describes a disk of {} sectors, this volume has {vol_sectors}: an image of the disk's tail, or a disk that was resized",
                s.thisdisk_sectors
            ),
        ));
    }
    let (level, native, neutral, disks) = match s.kind {
        0 => (Level::Raid0, "RAID0", "", s.drives_per_striped_set),
        1 => (Level::Raid1, "RAID1", "", s.drives_per_mirrored_set),
        2 => (
            Level::Raid10,
            "RAID10 (mirrored stripe sets)",
            "",
            s.drives_per_striped_set,
        ),
        3 => (Level::Other(3), "spare", "", 0),
        16 => (
            Level::Raid5,
            "RAID5",
            "left-symmetric",
            s.drives_per_striped_set,
        ),
        255 => (Level::Linear, "JBOD", "", s.drives_per_striped_set),
        n => (Level::Other(i32::from(n)), "unknown", "", 0),
    };
    let spare = s.kind == 3;
    let mut a = ataraid::array(
        RaidFormat::Bios("sil"),
        s.stamp(),
        level,
        u32::try_from(disks).unwrap_or(0),
    );
    a.name = Some(set_name(s));
    a.layout = ataraid::layout(format!("type {} ({native})", s.kind), neutral);
    if matches!(level, Level::Raid0 | Level::Raid10 | Level::Raid5) && s.raid0_stride != 0 {
        a.chunk_size = Some(bytes(u64::from(s.raid0_stride)));
    }
    a.array_size = (s.array_sectors != 0).then(|| bytes(s.array_sectors));
    // sil.h names mirrored_set_state 1 "not in sync", but dmraid's own
    // lookup always ends at its first entry (SIL_OK is 0) and so reports
    // every member ok. A member is taken as rebuilding only when its
    // rebuild pointer says a rebuild has got somewhere.
    let (state, member_state) = match s.mirrored_set_state {
        0 | 2 => ("ok", MemberState::Active),
        1 if s.rebuild_ptr != 0 => ("nosync", MemberState::Rebuilding),
        1 => ("nosync", MemberState::Active),
        _ => ("broken", MemberState::Faulty),
    };
    a.state = state.into();
    let subset = if s.kind == 1 {
        s.mirrored_set_number
    } else {
        s.striped_set_number
    };
    a.details = vec![
        ("raid0_stride", Detail::Number(u64::from(s.raid0_stride))),
        (
            "drives_per_striped_set",
            Detail::Text(s.drives_per_striped_set.to_string()),
        ),
        (
            "striped_set_number",
            Detail::Text(s.striped_set_number.to_string()),
        ),
        (
            "drives_per_mirrored_set",
            Detail::Text(s.drives_per_mirrored_set.to_string()),
        ),
        (
            "mirrored_set_number",
            Detail::Text(s.mirrored_set_number.to_string()),
        ),
        (
            "mirrored_set_state",
            Detail::Number(u64::from(s.mirrored_set_state)),
        ),
        (
            "dmraid_subset",
            Detail::Text(format!("{}-{subset}", set_name(s))),
        ),
    ];
    let mut role = ataraid::member(
        (!spare).then_some(u32::from(s.disk_number)),
        0,
        None,
        if spare {
            MemberState::Spare
        } else {
            member_state
        },
    );
    if role.state == MemberState::Rebuilding {
        role.recovery_offset = Some(bytes(s.rebuild_ptr));
    }
    m.arrays.push((a, role));
    let [sec, min, hour, day, month, year] = s.created;
    m.details = vec![
        (
            "ascii_version",
            Detail::Text(padded_str(&s.ascii_version).unwrap_or_default()),
        ),
        (
            "diskname",
            Detail::Text(padded_str(&s.diskname).unwrap_or_default()),
        ),
        ("magic", Detail::Text(format!("{:#010x}", s.magic))),
        (
            "thisdisk_sectors",
            Detail::Number(u64::from(s.thisdisk_sectors)),
        ),
        ("product_id", Detail::Number(u64::from(s.product_id))),
        ("vendor_id", Detail::Number(u64::from(s.vendor_id))),
        (
            "created",
            Detail::Text(format!(
                "20{year:02}-{month:02}-{day:02} {hour:02}:{:02}:{:02}",
                min % 60,
                sec % 60
            )),
        ),
        ("disk_number", Detail::Number(u64::from(s.disk_number))),
        ("type", Detail::Number(u64::from(s.kind))),
        ("rebuild_ptr", Detail::Number(s.rebuild_ptr)),
        (
            "incarnation_no",
            Detail::Number(u64::from(s.incarnation_no)),
        ),
        ("member_status", Detail::Number(u64::from(s.member_status))),
        (
            "reported_device_location",
            Detail::Number(u64::from(s.reported_device_location)),
        ),
        ("idechannel", Detail::Number(u64::from(s.idechannel))),
        ("auto_rebuild", Detail::Number(u64::from(s.auto_rebuild))),
        (
            "text_type",
            Detail::Text(padded_str(&s.text_type).unwrap_or_default()),
        ),
        ("checksum1", Detail::Number(u64::from(s.checksum1))),
        ("checksum2", Detail::Number(u64::from(s.checksum2))),
        (
            "valid_areas",
            Detail::Text(
                areas
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
    ];
    m
}

/// Reads the Silicon Image sectors: the first of the four copies (last
/// sector first) with the magic is used; `None` when none has it.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let sectors = vol.len() / SECTOR;
    let mut found = None;
    let mut valid = Vec::new();
    for area in 0..raw::AREAS {
        let Some(n) = sectors.checked_sub(1 + area * raw::AREA_STRIDE) else {
            break;
        };
        let off = n * SECTOR;
        let Ok(b) = bytes_at(vol, off, raw::SIZE) else {
            continue;
        };
        let Some(s) = Sil::parse(&b) else {
            continue;
        };
        if !s.is_member() {
            continue;
        }
        valid.push(area + 1);
        let ok = raw::checksum1(&b) == s.checksum1;
        if found.is_none() {
            found = Some((s, off, ok));
        }
    }
    let (s, off, ok) = found?;
    let mut m = describe(&s, off, ok, &valid, sectors);
    if valid.len() < raw::AREAS as usize {
        m.problems.push(Problem::warning(
            "Silicon Image metadata",
            Some(off),
            format!("{} of the 4 copies found (areas {valid:?})", valid.len()),
        ));
    }
    Some(Ok(m))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const SECTORS: usize = 1600;
    const AT: usize = (SECTORS - 1) * 512;

    fn seal(d: &mut [u8], at: usize) {
        let c = raw::checksum1(&d[at..at + 512]);
        d[at + 0x13E..at + 0x140].copy_from_slice(&c.to_le_bytes());
    }

    fn block(d: &mut [u8], at: usize) {
        let b = &mut d[at..];
        b[0x60..0x64].copy_from_slice(&0x2F00_0000u32.to_le_bytes());
        b[0x6C..0x70].copy_from_slice(&2000u32.to_le_bytes());
        b[0x78..0x7C].copy_from_slice(&(SECTORS as u32).to_le_bytes());
        b[0x108] = 3;
        b[0x10A] = 2;
        b[0x10C..0x112].copy_from_slice(&[0x53, 0x31, 20, 18, 7, 5]);
        b[0x112] = 128;
        b[0x116] = 1;
        b[0x117] = 0;
        b[0x118] = 2;
        b[0x124] = 9;
        seal(d, at);
    }

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; SECTORS * 512];
        block(&mut d, AT);
        block(&mut d, AT - 512 * 512);
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.version, "2.3");
        assert_eq!(m.events, 9);
        assert_eq!(m.checksum_ok, Some(true));
        let (a, r) = &m.arrays[0];
        assert_eq!(a.name.as_deref(), Some("sil_afahbicaejcd"));
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.raid_disks, 2);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(r.slot, Some(1));
        assert!(m
            .details
            .contains(&("valid_areas", Detail::Text("1,2".into()))));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT + 0x63] = 0;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(
            m.offset,
            (AT - 512 * 512) as u64,
            "falls back to the second copy"
        );
        let mut d = golden();
        d[AT + 0x63] = 0;
        d[AT - 512 * 512 + 0x63] = 0;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x112] = 64;
        let m = read_bytes(d).unwrap().unwrap();
        assert_eq!(m.checksum_ok, Some(false));
        assert_eq!(m.problems[0].offset, Some(AT as u64 + 0x13E));
        let mut d = golden();
        d[AT + 0x118] = 0xFF;
        seal(&mut d, AT);
        assert_eq!(read_bytes(d).unwrap().unwrap().arrays[0].0.raid_disks, 0);
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 511, 512, 513 * 512, 1100 * 512] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
