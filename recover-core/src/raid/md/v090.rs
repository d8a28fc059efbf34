//! The md version 0.90 superblock (linux/raid/md_p.h, struct
//! mdp_superblock_s): 1024 32-bit words in the byte order of the machine
//! that wrote it, in the last 64 KiB-aligned 64 KiB of the device.
//!
//! Word offsets (bytes): md_magic 0, major 4, minor 8, patch 12,
//! set_uuid0 0x14, ctime 0x18, level 0x1C, size 0x20 (KiB), nr_disks 0x24,
//! raid_disks 0x28, md_minor 0x2C, set_uuid1..3 0x34..0x40, utime 0x80,
//! state 0x84, active/working/failed/spare disks 0x88..0x94, sb_csum 0x98,
//! events 0x9C (a native u64), reshape_position 0xB0, new_level 0xB8,
//! delta_disks 0xBC, new_layout 0xC0, new_chunk 0xC4, layout 0x100,
//! chunk_size 0x104 (bytes), disks[27] of 128 bytes from 0x200, this_disk
//! at 0xF80. A disk descriptor: number 0, major 4, minor 8, raid_disk 12,
//! state 16 (bits: faulty 0, active 1, sync 2, removed 3).

use super::layout;
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::problem::Problem;
use crate::raid::metadata::{ArrayInfo, MemberRole, MemberState, RaidFormat, RaidMetadata};

/// The superblock's size.
pub const SIZE: usize = 4096;
const THIS_DISK: usize = 0xF80;

/// Where a 0.90 superblock sits on a device of `len` bytes: the device size
/// rounded down to 64 KiB, less 64 KiB.
pub fn location(len: u64) -> Option<u64> {
    (len & !0xFFFF).checked_sub(0x10000)
}

/// A reader of the superblock's words in its own byte order.
struct Words<'a> {
    b: Bytes<'a>,
    le: bool,
}

impl Words<'_> {
    fn u32(&self, off: usize) -> Option<u32> {
        if self.le {
            self.b.le_u32(off)
        } else {
            self.b.be_u32(off)
        }
    }

    /// A u64 stored as the writer's native 64-bit value.
    fn u64(&self, off: usize) -> Option<u64> {
        if self.le {
            self.b.le_u64(off)
        } else {
            self.b.be_u64(off)
        }
    }
}

/// The 0.90 checksum: the sum of all 1024 words (in the superblock's byte
/// order) with sb_csum as zero, folded once to 32 bits.
fn checksum(w: &Words) -> Option<u32> {
    let mut sum: u64 = 0;
    for i in 0..SIZE / 4 {
        if i != 0x98 / 4 {
            sum += u64::from(w.u32(i * 4)?);
        }
    }
    Some(((sum & 0xffff_ffff) + (sum >> 32)) as u32) // ok: one carry fits
}

/// Parses a 0.90 superblock read at byte `at`.
pub fn parse(sb: &[u8], at: u64) -> Option<Result<RaidMetadata>> {
    let b = Bytes(sb);
    let le = match b.le_u32(0)? {
        super::v1::MAGIC => true,
        m if m.swap_bytes() == super::v1::MAGIC => false,
        _ => return None,
    };
    let w = Words { b, le };
    if w.u32(4)? != 0 {
        return None;
    }
    let s = "md 0.90 superblock";
    if sb.len() < SIZE {
        return Some(Err(Error::corrupt(
            s,
            0,
            "cut short by the end of the device",
        )));
    }
    let minor = w.u32(8)?;
    let lvl = w.u32(0x1C)? as i32;
    let size_kib = u64::from(w.u32(0x20)?);
    let raid_disks = w.u32(0x28)?;
    let layout_code = w.u32(0x100)?;
    let chunk = u64::from(w.u32(0x104)?);
    let events = w.u64(0x9C)?;
    let state = w.u32(0x84)?;
    let stored = w.u32(0x98)?;
    let computed = checksum(&w)?;
    let uuid = [w.u32(0x14)?, w.u32(0x34)?, w.u32(0x38)?, w.u32(0x3C)?];
    let id = format!(
        "{:08x}:{:08x}:{:08x}:{:08x}",
        uuid[0], uuid[1], uuid[2], uuid[3]
    );
    let this_number = w.u32(THIS_DISK)?;
    let this_raid_disk = w.u32(THIS_DISK + 12)?;
    let this_state = w.u32(THIS_DISK + 16)?;
    let (slot, mstate) = if this_state & 1 != 0 {
        (None, MemberState::Faulty)
    } else if this_state & 0b110 == 0b110 {
        (Some(this_raid_disk), MemberState::Active)
    } else if this_state & 0b10 != 0 {
        (Some(this_raid_disk), MemberState::Rebuilding)
    } else {
        (None, MemberState::Spare)
    };
    let level = layout::level(lvl);
    let reshape = (minor > 90).then(|| {
        format!(
            "reshape to level {} layout {} chunk {} KiB, {:+} disks, at array sector {}",
            w.u32(0xB8).unwrap_or(0) as i32,
            w.u32(0xC0).unwrap_or(0),
            w.u32(0xC4).unwrap_or(0) / 1024,
            w.u32(0xBC).unwrap_or(0) as i32,
            w.u64(0xB0).unwrap_or(0),
        )
    });
    let info = ArrayInfo {
        format: RaidFormat::Md,
        id: id.clone(),
        container: None,
        name: None,
        level,
        layout: layout::layout(lvl, layout_code),
        chunk_size: matches!(lvl, 0 | 4 | 5 | 6 | 10).then_some(chunk),
        raid_disks,
        array_size: super::array_bytes(level, layout_code, raid_disks, size_kib * 1024),
        member_size: (size_kib != 0).then_some(size_kib * 1024),
        secondary: None,
        state: if state & 1 != 0 {
            "clean".into()
        } else {
            "active".into()
        },
        reshape,
        details: Vec::new(),
        slots: Vec::new(),
    };
    // The data is at the start of the device and may run up to the superblock.
    let member = MemberRole {
        slot,
        data_offset: 0,
        data_size: Some(at),
        state: mstate,
        recovery_offset: None,
    };
    let mut problems = Vec::new();
    if stored != computed {
        problems.push(Problem::error(
            s,
            Some(at + 0x98),
            format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}; fields still used"),
        ));
    }
    let details = vec![
        ("level", Detail::Text(layout::level_name(lvl))),
        ("layout_code", Detail::Number(u64::from(layout_code))),
        ("raid_disks", Detail::Number(u64::from(raid_disks))),
        ("total_disks", Detail::Number(u64::from(w.u32(0x24)?))),
        ("preferred_minor", Detail::Number(u64::from(w.u32(0x2C)?))),
        ("this_number", Detail::Number(u64::from(this_number))),
        ("this_raid_disk", Detail::Number(u64::from(this_raid_disk))),
        ("this_state", Detail::Number(u64::from(this_state))),
        ("events", Detail::Number(events)),
        ("ctime", Detail::Number(u64::from(w.u32(0x18)?))),
        ("utime", Detail::Number(u64::from(w.u32(0x80)?))),
        ("array_uuid", Detail::Text(id)),
        (
            "byte_order",
            Detail::Text(if le { "little" } else { "big" }.into()),
        ),
        ("bitmap", Detail::Flag(state & (1 << 8) != 0)),
        ("active_disks", Detail::Number(u64::from(w.u32(0x88)?))),
        ("working_disks", Detail::Number(u64::from(w.u32(0x8C)?))),
        ("failed_disks", Detail::Number(u64::from(w.u32(0x90)?))),
        ("spare_disks", Detail::Number(u64::from(w.u32(0x94)?))),
    ];
    Some(Ok(RaidMetadata {
        format: RaidFormat::Md,
        version: format!("0.{minor}"),
        offset: at,
        sector_size: 512,
        events,
        update_time: Some(i64::from(w.u32(0x80)?)),
        checksum_ok: Some(stored == computed),
        blkid_uuid: Some(crate::bytes::uuid_str(&{
            let mut raw = [0u8; 16];
            for (word, u) in raw.chunks_exact_mut(4).zip(&uuid) {
                word.copy_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            raw
        })),
        device_id: None,
        arrays: vec![(info, member)],
        details,
        problems,
    }))
}
