//! Intel IMSM / RST metadata: the MPB ("Intel Raid ISM Cfg Sig. ") two
//! sectors from the end of every member, its disk table and its volumes
//! (mdadm super-intel.c; all fields little-endian).
//!
//! MPB header (struct imsm_super): sig 0 (24 bytes, then the version
//! string), check_sum 0x20, mpb_size 0x24, family_num 0x28,
//! generation_num 0x2C, error_log_size 0x30, attributes 0x34, num_disks
//! 0x38, num_raid_devs 0x39, orig_family_num 0x40, bbm_log_size 0x48,
//! creation_time 0x50, disk table from 0xD8 (48 bytes each: serial 0 (16),
//! total_blocks_lo 0x10, scsi_id 0x14, status 0x18, owner_cfg_num 0x1C,
//! total_blocks_hi 0x20), then the volumes back to back.
//!
//! A volume (struct imsm_dev): name 0 (16), size_low 0x10, size_high 0x14,
//! status 0x18, reserved_blocks 0x1C, my_vol_raid_dev_num 0x28,
//! rwh_policy 0x32, then struct imsm_vol at 0x50 (curr_migr_unit 0x50,
//! migr_state 0x58, migr_type 0x59, dirty 0x5A) and its map at 0x70: a
//! second map follows while migrating. A map (struct imsm_map):
//! pba_of_lba0_lo 0, blocks_per_member_lo 4, num_data_stripes_lo 8,
//! blocks_per_strip 0xC (u16), map_state 0xE, raid_level 0xF, num_members
//! 0x10, num_domains 0x11, failed_disk_num 0x12, pba_of_lba0_hi 0x14,
//! blocks_per_member_hi 0x18, num_data_stripes_hi 0x1C, disk_ord_tbl 0x30
//! (u32 per slot: disk index in bits 0-23, 0x01000000 = rebuilding).
//!
//! The MPB is the same on every member: it names disks by serial number,
//! not by position, so which disk an image is must come from elsewhere.
//! On 4Kn disks every size and LBA counts 4096-byte sectors.

#![deny(clippy::indexing_slicing)]

use sha1::{Digest, Sha1};

use crate::bytes::{arrays, padded_str, Bytes};
use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;
use crate::raid::metadata::{
    ArrayInfo, Layout, Level, MemberRole, MemberState, RaidFormat, RaidMetadata,
};

/// The signature at the start of the MPB.
pub const SIGNATURE: &[u8; 24] = b"Intel Raid ISM Cfg Sig. ";
/// The most sectors mdadm lets an MPB span (MPB_SECTOR_CNT).
const MAX_MPB_SECTORS: u64 = 2210;
const DISK_TABLE: usize = 0xD8;
const DISK_SIZE: usize = 48;
const ATTR_2TB_DISK: u32 = 0x0400_0000;
const ORD_REBUILD: u32 = 0x0100_0000;

/// Where the MPB's first sector is, if it is there: two sectors from the
/// end, with the disk's sector size (the device's first, else 512 then 4096).
pub fn find(vol: &dyn Volume) -> Option<(u64, u64)> {
    let sizes: &[u64] = match vol.device_sector_size() {
        Some(4096) => &[4096, 512],
        _ => &[512, 4096],
    };
    sizes.iter().find_map(|&ss| {
        let off = vol.len().checked_sub(2 * ss)?;
        let head = bytes_at(vol, off, 32).ok()?;
        head.starts_with(SIGNATURE).then_some((off, ss))
    })
}

/// mdadm's UUID for an IMSM container or volume: SHA-1 over the signature,
/// the original family number (the family number when that is zero) and,
/// for a volume, its index (u32 LE) and 16-byte name; the first 16 bytes
/// printed as four little-endian words.
pub fn mdadm_uuid(mpb: &[u8], volume: Option<(u32, &[u8])>) -> String {
    let b = Bytes(mpb);
    let mut h = Sha1::new();
    h.update(mpb.get(..24).unwrap_or(mpb));
    let orig = b.le_u32(0x40).unwrap_or(0);
    let fam = if orig == 0 {
        b.get(0x28, 4)
    } else {
        b.get(0x40, 4)
    };
    h.update(fam.unwrap_or(&[0; 4]));
    if let Some((i, name)) = volume {
        h.update(i.to_le_bytes());
        h.update(name);
    }
    let d = h.finalize();
    // The first 16 of SHA-1's 20 bytes, as four little-endian words.
    arrays(&d)
        .take(4)
        .map(|w| format!("{:08x}", u32::from_le_bytes(w)))
        .collect::<Vec<_>>()
        .join(":")
}

/// One entry of the MPB's disk table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The drive's serial number as the firmware (or mdadm) read it.
    pub serial: String,
    /// Size in sectors.
    pub total_blocks: u64,
    /// Status bits: 0x01 spare, 0x02 configured, 0x04 failed, 0x02000000 journal.
    pub status: u32,
}

/// Reads the whole MPB starting at `off` (first sector) with sector size `ss`.
fn read_mpb(vol: &dyn Volume, off: u64, ss: u64) -> Result<Vec<u8>> {
    let first = bytes_at(vol, off, ss as usize)?;
    let size = u64::from(Bytes(&first).le_u32(0x24).unwrap_or(0));
    let s = "IMSM MPB";
    if size < DISK_TABLE as u64 || size > MAX_MPB_SECTORS * 512 {
        return Err(Error::corrupt(
            s,
            off + 0x24,
            format!(
                "mpb_size {size} is outside {DISK_TABLE}..={}",
                MAX_MPB_SECTORS * 512
            ),
        ));
    }
    let mut mpb = first.into_owned();
    let extra = size.div_ceil(ss).saturating_sub(1);
    if extra > 0 {
        // The sectors after the first precede it on disk, in order.
        let start = off.checked_sub(extra * ss).ok_or_else(|| {
            Error::corrupt(
                s,
                off + 0x24,
                format!("mpb_size {size} reaches before the start of the disk"),
            )
        })?;
        mpb.extend_from_slice(&bytes_at(vol, start, (extra * ss) as usize)?);
    }
    mpb.truncate(size as usize);
    Ok(mpb)
}

/// The MPB checksum: the 32-bit sum of every word but check_sum.
pub fn checksum(mpb: &[u8]) -> u32 {
    let stored = Bytes(mpb).le_u32(0x20).unwrap_or(0);
    let sum = arrays(mpb)
        .map(u32::from_le_bytes)
        .fold(0u32, u32::wrapping_add);
    sum.wrapping_sub(stored)
}

fn level_of(raid_level: u8, members: u8) -> (Level, Layout) {
    let (level, neutral) = match (raid_level, members) {
        (0, _) => (Level::Raid0, ""),
        (1, 2) => (Level::Raid1, ""),
        (1, _) | (2, _) => (Level::Raid10, "near=2"),
        (5, _) => (Level::Raid5, "left-asymmetric"),
        (n, _) => (Level::Other(i32::from(n)), ""),
    };
    (
        level,
        Layout {
            native: format!("raid_level {raid_level}, {members} members"),
            neutral: neutral.into(),
        },
    )
}

fn map_state(s: u8) -> &'static str {
    match s {
        0 => "normal",
        1 => "uninitialized",
        2 => "degraded",
        3 => "failed",
        _ => "unknown",
    }
}

/// Identifies an IMSM member by its MPB.
pub fn identify(_head: &[u8], vol: &dyn Volume) -> crate::ident::ProbeResult {
    let (off, ss) = find(vol)?;
    Some(read(vol, off, ss).map(|m| crate::raid::md::identified(m, "imsm")))
}

/// Reads the MPB found at `off` (see [`find`]). Every volume is listed with
/// the slot this device holds unknown ([`MemberState::Unidentified`]):
/// the MPB does not say which disk it was read from; grouping fills it in
/// from the serial numbers.
pub fn read(vol: &dyn Volume, off: u64, ss: u64) -> Result<RaidMetadata> {
    let mpb = read_mpb(vol, off, ss)?;
    let b = Bytes(&mpb);
    let s = "IMSM MPB";
    let stored = b.le_u32(0x20).unwrap_or(0);
    let computed = checksum(&mpb);
    let mut problems = Vec::new();
    if stored != computed {
        problems.push(Problem::error(s, Some(off + 0x20), format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}; fields still used")));
    }
    let too_short = |at: usize| Error::corrupt(s, off + at as u64, "table runs past mpb_size");
    let attributes = b.le_u32(0x34).ok_or_else(|| too_short(0x34))?;
    let hi_ok = attributes & ATTR_2TB_DISK != 0;
    let num_disks = usize::from(b.u8(0x38).ok_or_else(|| too_short(0x38))?);
    let num_devs = usize::from(b.u8(0x39).ok_or_else(|| too_short(0x39))?);
    let mut disks = Vec::with_capacity(num_disks);
    for i in 0..num_disks {
        let d = DISK_TABLE + DISK_SIZE * i;
        let e = Bytes(b.get(d, DISK_SIZE).ok_or_else(|| too_short(d))?);
        let hi = if hi_ok {
            u64::from(e.le_u32(0x20).unwrap_or(0))
        } else {
            0
        };
        disks.push(Disk {
            serial: padded_str(e.get(0, 16).unwrap_or_default()).unwrap_or_default(),
            total_blocks: u64::from(e.le_u32(0x10).unwrap_or(0)) | hi << 32,
            status: e.le_u32(0x18).unwrap_or(0),
        });
    }
    let container = mdadm_uuid(&mpb, None);
    let mut arrays = Vec::new();
    let mut at = DISK_TABLE + DISK_SIZE * num_disks;
    for index in 0..num_devs {
        let dev = Bytes(b.get(at, 0x70).ok_or_else(|| too_short(at))?);
        let map_at = at + 0x70;
        let map = Bytes(b.get(map_at, 0x30).ok_or_else(|| too_short(map_at))?);
        let members = map.u8(0x10).unwrap_or(0);
        let map_len = 0x30 + 4 * usize::from(members);
        let ord = b
            .get(map_at + 0x30, 4 * usize::from(members))
            .ok_or_else(|| too_short(map_at + 0x30))?;
        let migrating = dev.u8(0x58).unwrap_or(0) != 0;
        let lohi = |lo: usize, hi: usize| {
            let h = if hi_ok {
                u64::from(map.le_u32(hi).unwrap_or(0))
            } else {
                0
            };
            u64::from(map.le_u32(lo).unwrap_or(0)) | h << 32
        };
        let pba = lohi(0, 0x14);
        let per_member = lohi(4, 0x18);
        let stripes = lohi(8, 0x1C);
        let strip = u64::from(map.le_u16(0xC).unwrap_or(0));
        let raid_level = map.u8(0xF).unwrap_or(0);
        let name_raw = dev.get(0, 16).unwrap_or_default();
        let size = u64::from(dev.le_u32(0x10).unwrap_or(0))
            | u64::from(dev.le_u32(0x14).unwrap_or(0)) << 32;
        let (level, layout) = level_of(raid_level, members);
        let mut slots = Vec::new();
        let mut rebuilding = Vec::new();
        for (slot, v) in crate::bytes::arrays(ord)
            .map(u32::from_le_bytes)
            .enumerate()
        {
            slots.push(
                disks
                    .get((v & 0x00FF_FFFF) as usize)
                    .map(|d| d.serial.clone()),
            );
            if v & ORD_REBUILD != 0 {
                rebuilding.push(slot);
            }
        }
        let mut state = map_state(map.u8(0xE).unwrap_or(0)).to_string();
        if dev.u8(0x5A).unwrap_or(0) & 1 != 0 {
            state.push_str(", dirty");
        }
        let reshape = migrating.then(|| {
            let prev = Bytes(b.get(map_at + map_len, 0x30).unwrap_or_default());
            format!(
                "migration type {} at unit {}: from raid_level {} with {} members, {} KiB strips, map state {}",
                dev.u8(0x59).unwrap_or(0),
                dev.le_u32(0x50).unwrap_or(0),
                prev.u8(0xF).unwrap_or(0),
                prev.u8(0x10).unwrap_or(0),
                u64::from(prev.le_u16(0xC).unwrap_or(0)) * ss / 1024,
                map_state(prev.u8(0xE).unwrap_or(0)),
            )
        });
        let info = ArrayInfo {
            format: RaidFormat::Imsm,
            id: mdadm_uuid(&mpb, Some((index as u32, name_raw))), // ok: index < 256
            container: Some(container.clone()),
            name: padded_str(name_raw),
            level,
            layout,
            chunk_size: Some(strip * ss),
            raid_disks: u32::from(members),
            array_size: size.checked_mul(ss),
            member_size: per_member.checked_mul(ss),
            secondary: None,
            state,
            reshape,
            details: vec![
                ("num_stripes", Detail::Number(stripes)),
                (
                    "volume_id",
                    Detail::Number(u64::from(dev.le_u16(0x28).unwrap_or(0))),
                ),
                (
                    "reserved_blocks",
                    Detail::Number(u64::from(dev.le_u32(0x1C).unwrap_or(0))),
                ),
                (
                    "migr_state",
                    Detail::Number(u64::from(dev.u8(0x58).unwrap_or(0))),
                ),
                (
                    "failed_disk_num",
                    Detail::Number(u64::from(map.u8(0x12).unwrap_or(0xFF))),
                ),
                (
                    "rwh_policy",
                    Detail::Number(u64::from(dev.u8(0x32).unwrap_or(0))),
                ),
            ],
            slots,
        };
        let role = MemberRole {
            slot: None,
            data_offset: pba.saturating_mul(ss),
            data_size: per_member.checked_mul(ss),
            state: MemberState::Unidentified,
            recovery_offset: None,
        };
        if !rebuilding.is_empty() {
            problems.push(Problem::warning(
                "IMSM map",
                Some(off + map_at as u64),
                format!("volume {index}: slots {rebuilding:?} are out of sync (rebuilding)"),
            ));
        }
        arrays.push((info, role));
        at = map_at
            + map_len
            + if migrating {
                0x30 + 4 * usize::from(
                    Bytes(b.get(map_at + map_len, 0x30).unwrap_or_default())
                        .u8(0x10)
                        .unwrap_or(0),
                )
            } else {
                0
            };
    }
    let version = String::from_utf8_lossy(b.get(24, 8).unwrap_or_default())
        .trim_end_matches('\0')
        .to_string();
    let details = vec![
        (
            "family",
            Detail::Text(format!("{:08x}", b.le_u32(0x28).unwrap_or(0))),
        ),
        (
            "orig_family",
            Detail::Text(format!("{:08x}", b.le_u32(0x40).unwrap_or(0))),
        ),
        (
            "generation",
            Detail::Number(u64::from(b.le_u32(0x2C).unwrap_or(0))),
        ),
        ("attributes", Detail::Text(format!("{attributes:#010x}"))),
        ("container_uuid", Detail::Text(container)),
        ("mpb_size", Detail::Number(mpb.len() as u64)),
        (
            "mpb_sectors",
            Detail::Number((mpb.len() as u64).div_ceil(ss)),
        ),
        ("disks", Detail::Number(num_disks as u64)),
        ("raid_devices", Detail::Number(num_devs as u64)),
        (
            "disk_table",
            Detail::Text(
                disks
                    .iter()
                    .map(|d| {
                        format!(
                            "{} {} sectors status={:#x}",
                            d.serial, d.total_blocks, d.status
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
    ];
    let created = b.le_u64(0x50).unwrap_or(0);
    Ok(RaidMetadata {
        format: RaidFormat::Imsm,
        version,
        offset: off,
        sector_size: ss as u32, // ok: 512 or 4096
        events: u64::from(b.le_u32(0x2C).unwrap_or(0)),
        update_time: (created != 0).then_some(created as i64),
        checksum_ok: Some(stored == computed),
        blkid_uuid: None,
        device_id: None,
        arrays,
        details,
        problems,
    })
}
