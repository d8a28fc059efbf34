//! The md version 1.x superblock (linux/raid/md_p.h, struct
//! mdp_superblock_1; all fields little-endian).
//!
//! Offsets: magic 0, major_version 4, feature_map 8, pad0 12, set_uuid 16,
//! set_name 32, ctime 64, level 72, layout 76, size 80 (sectors), chunksize
//! 88 (sectors), raid_disks 92, bitmap_offset 96 (signed sectors from the
//! superblock), new_level 100, reshape_position 104, delta_disks 112,
//! new_layout 116, new_chunk 120, new_offset 124, data_offset 128,
//! data_size 136, super_offset 144, recovery_offset 152, dev_number 160,
//! cnt_corrected_read 164, device_uuid 168, devflags 184, bblog_shift 185,
//! bblog_size 186, bblog_offset 188, utime 192, events 200, resync_offset
//! 208, sb_csum 216, max_dev 220, pad3 224, dev_roles 256 (u16 each).

use super::layout;
use crate::bytes::{arrays, padded_str, Bytes};
use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::problem::Problem;
use crate::raid::metadata::{
    md_time, ArrayInfo, MemberRole, MemberState, RaidFormat, RaidMetadata,
};

/// The magic every md superblock starts with.
pub const MAGIC: u32 = 0xa92b_4efc;
/// Most roles a 1.x superblock holds: 4 KiB less the 256-byte header.
pub const MAX_DEV: u32 = (4096 - 256) / 2;

/// feature_map bits (md_p.h MD_FEATURE_*).
pub mod feature {
    /// An internal write-intent bitmap at bitmap_offset.
    pub const BITMAP_OFFSET: u32 = 1;
    /// recovery_offset is valid: the device is being rebuilt.
    pub const RECOVERY_OFFSET: u32 = 2;
    /// A reshape is in progress.
    pub const RESHAPE_ACTIVE: u32 = 4;
    /// The bad-block log has entries.
    pub const BAD_BLOCKS: u32 = 8;
    /// This device replaces another in the same role.
    pub const REPLACEMENT: u32 = 16;
    /// The reshape runs backwards.
    pub const RESHAPE_BACKWARDS: u32 = 32;
    /// new_offset is valid.
    pub const NEW_OFFSET: u32 = 64;
    /// A RAID5 journal.
    pub const JOURNAL: u32 = 512;
    /// Partial parity log.
    pub const PPL: u32 = 1024;
    /// The RAID0 layout field is meaningful.
    pub const RAID0_LAYOUT: u32 = 4096;
}

/// dev_roles values that are not slots.
const ROLE_SPARE: u16 = 0xffff;
const ROLE_FAULTY: u16 = 0xfffe;
const ROLE_JOURNAL: u16 = 0xfffd;

/// Where each 1.x minor version puts the superblock on a device of `len`
/// bytes: 1.1 at 0, 1.2 at 4 KiB, 1.0 at ((sectors - 16) & !7) sectors.
pub fn locations(len: u64) -> Vec<(u64, &'static str)> {
    let mut v = vec![(0, "1.1"), (4096, "1.2")];
    if let Some(s) = (len / 512).checked_sub(16) {
        v.push(((s & !7) * 512, "1.0"));
    }
    v
}

/// The 1.x checksum: little-endian words summed over 256 + 2*max_dev
/// bytes with sb_csum as zero, a trailing u16 added, folded to 32 bits.
pub fn checksum(sb: &[u8], max_dev: u32) -> Option<u32> {
    let bytes = sb.get(..256 + 2 * max_dev as usize)?;
    let mut sum: u64 = 0;
    let mut words = bytes.chunks_exact(4);
    // Every chunk is 4 bytes: the conversion cannot fail.
    for (i, w) in words.by_ref().flat_map(<[u8; 4]>::try_from).enumerate() {
        if i != 216 / 4 {
            sum += u64::from(u32::from_le_bytes(w));
        }
    }
    if let [a, b] = words.remainder() {
        sum += u64::from(u16::from_le_bytes([*a, *b]));
    }
    Some(((sum & 0xffff_ffff) + (sum >> 32)) as u32) // ok: one carry fits
}

/// mdadm's way of printing a 16-byte UUID: four groups of 8 hex digits.
pub fn mdadm_uuid(b: &[u8; 16]) -> String {
    let h = crate::bytes::hex(b);
    format!("{}:{}:{}:{}", &h[0..8], &h[8..16], &h[16..24], &h[24..32])
}

/// Parses a 1.x superblock read at byte `at` of its device. `None` when the
/// magic or major version is not there, or the superblock says it belongs
/// somewhere else (it is then part of something nested or stale).
pub fn parse(sb: &[u8], at: u64) -> Option<Result<RaidMetadata>> {
    let b = Bytes(sb);
    if b.le_u32(0)? != MAGIC || b.le_u32(4)? != 1 {
        return None;
    }
    if b.le_u64(144)?.checked_mul(512) != Some(at) {
        return None;
    }
    let s = "md superblock";
    let version = match at {
        0 => "1.1",
        4096 => "1.2",
        _ => "1.0",
    };
    let max_dev = b.le_u32(220)?;
    if max_dev > MAX_DEV {
        return Some(Err(Error::corrupt(
            s,
            220,
            format!("max_dev {max_dev} exceeds {MAX_DEV}"),
        )));
    }
    let Some(roles) = b.get(256, 2 * max_dev as usize) else {
        return Some(Err(Error::corrupt(
            s,
            256,
            "the role table runs past the 4 KiB superblock",
        )));
    };
    let feature = b.le_u32(8)?;
    let lvl = b.le_u32(72)? as i32;
    let layout_code = b.le_u32(76)?;
    let raid_disks = b.le_u32(92)?;
    let chunk_sectors = u64::from(b.le_u32(88)?);
    let size = b.le_u64(80)?;
    let data_offset = b.le_u64(128)?;
    let data_size = b.le_u64(136)?;
    let dev_number = b.le_u32(160)?;
    let events = b.le_u64(200)?;
    let resync = b.le_u64(208)?;
    let stored = b.le_u32(216)?;
    let computed = checksum(sb, max_dev)?;
    let role = Bytes(roles)
        .le_u16(2 * dev_number as usize)
        .unwrap_or(ROLE_SPARE);
    let recovering = feature & feature::RECOVERY_OFFSET != 0;
    let (slot, state) = match role {
        ROLE_SPARE => (None, MemberState::Spare),
        ROLE_FAULTY => (None, MemberState::Faulty),
        ROLE_JOURNAL => (None, MemberState::Journal),
        r if recovering => (Some(u32::from(r)), MemberState::Rebuilding),
        r => (Some(u32::from(r)), MemberState::Active),
    };
    let level = layout::level(lvl);
    let array_size = super::array_bytes(level, layout_code, raid_disks, size.saturating_mul(512));
    let reshape = (feature & feature::RESHAPE_ACTIVE != 0).then(|| {
        format!(
            "reshape to level {} layout {} chunk {} KiB, {:+} disks, at array sector {}{}",
            b.le_u32(100).unwrap_or(0) as i32,
            b.le_u32(116).unwrap_or(0),
            b.le_u32(120).unwrap_or(0) / 2,
            b.le_u32(112).unwrap_or(0) as i32,
            b.le_u64(104).unwrap_or(0),
            if feature & feature::RESHAPE_BACKWARDS != 0 {
                ", backwards"
            } else {
                ""
            },
        )
    });
    let uuid: [u8; 16] = b.array(16)?;
    let device_uuid: [u8; 16] = b.array(168)?;
    let info = ArrayInfo {
        format: RaidFormat::Md,
        id: mdadm_uuid(&uuid),
        container: None,
        name: padded_str(b.get(32, 32)?),
        level,
        layout: layout::layout(lvl, layout_code),
        chunk_size: matches!(lvl, 0 | 4 | 5 | 6 | 10).then_some(chunk_sectors * 512),
        raid_disks,
        array_size,
        member_size: (size != 0).then_some(size.saturating_mul(512)),
        secondary: None,
        state: if resync == u64::MAX {
            "clean".into()
        } else {
            "active".into()
        },
        reshape,
        details: Vec::new(),
        slots: Vec::new(),
    };
    let member = MemberRole {
        slot,
        data_offset: data_offset.saturating_mul(512),
        data_size: Some(data_size.saturating_mul(512)),
        state,
        recovery_offset: recovering.then(|| b.le_u64(152).unwrap_or(0).saturating_mul(512)),
    };
    let mut problems = Vec::new();
    if stored != computed {
        problems.push(Problem::error(
            s,
            Some(at + 216),
            format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}; fields still used"),
        ));
    }
    let mut details: Vec<(&'static str, Detail)> = vec![
        ("feature_map", Detail::Number(u64::from(feature))),
        ("level", Detail::Text(layout::level_name(lvl))),
        ("layout_code", Detail::Number(u64::from(layout_code))),
        ("raid_disks", Detail::Number(u64::from(raid_disks))),
        ("dev_number", Detail::Number(u64::from(dev_number))),
        ("role", Detail::Text(role_text(role))),
        ("events", Detail::Number(events)),
        (
            "data_offset",
            Detail::Number(data_offset.saturating_mul(512)),
        ),
        ("data_size", Detail::Number(data_size.saturating_mul(512))),
        ("super_offset", Detail::Number(at)),
        ("ctime", Detail::Number(md_time(b.le_u64(64)?) as u64)),
        ("utime", Detail::Number(md_time(b.le_u64(192)?) as u64)),
        ("array_uuid", Detail::Text(mdadm_uuid(&uuid))),
        ("device_uuid", Detail::Text(mdadm_uuid(&device_uuid))),
        ("array_state", Detail::Text(array_state(roles, raid_disks))),
        (
            "bitmap",
            Detail::Flag(feature & feature::BITMAP_OFFSET != 0),
        ),
    ];
    if feature & feature::BITMAP_OFFSET != 0 {
        let off = b.le_u32(96)? as i32;
        details.push(("bitmap_offset_sectors", Detail::Text(off.to_string())));
    }
    let bblog = b.le_u16(186)?;
    if bblog != 0 {
        details.push(("bad_block_log_sectors", Detail::Number(u64::from(bblog))));
        details.push((
            "bad_blocks_present",
            Detail::Flag(feature & feature::BAD_BLOCKS != 0),
        ));
    }
    if recovering {
        details.push((
            "recovery_offset",
            Detail::Number(b.le_u64(152)?.saturating_mul(512)),
        ));
    }
    Some(Ok(RaidMetadata {
        format: RaidFormat::Md,
        version: version.into(),
        offset: at,
        sector_size: 512,
        events,
        update_time: Some(md_time(b.le_u64(192)?)),
        checksum_ok: Some(stored == computed),
        blkid_uuid: Some(crate::bytes::uuid_str(&uuid)),
        device_id: Some(mdadm_uuid(&device_uuid)),
        arrays: vec![(info, member)],
        details,
        problems,
    }))
}

fn role_text(role: u16) -> String {
    match role {
        ROLE_SPARE => "spare".into(),
        ROLE_FAULTY => "faulty".into(),
        ROLE_JOURNAL => "journal".into(),
        r => format!("active device {r}"),
    }
}

/// mdadm's "Array State" string: per slot, 'A' when one device holds it,
/// 'R' when two do (a replacement), '.' when none.
fn array_state(roles: &[u8], raid_disks: u32) -> String {
    let mut count = vec![0u32; raid_disks.min(MAX_DEV) as usize];
    for r in arrays(roles) {
        let r = u16::from_le_bytes(r) as usize;
        if let Some(c) = count.get_mut(r) {
            *c += 1;
        }
    }
    count
        .iter()
        .map(|&c| match c {
            0 => '.',
            1 => 'A',
            2 => 'R',
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sector_fields_near_u64_max_do_not_overflow() {
        // A 1.1 superblock with no roles whose data offset, data size and
        // recovery offset are beyond what 512-byte sectors can address.
        let mut sb = vec![0u8; 256];
        sb[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        sb[4..8].copy_from_slice(&1u32.to_le_bytes());
        sb[8..12].copy_from_slice(&feature::RECOVERY_OFFSET.to_le_bytes());
        for off in [128, 136, 152] {
            sb[off..off + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        }
        let meta = parse(&sb, 0).expect("superblock").expect("parsed");
        assert_eq!(meta.arrays[0].1.data_offset, u64::MAX);
    }
}
