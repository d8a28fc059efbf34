//! The HighPoint HPT45x metadata block as stored: 48 bytes, little-endian,
//! 11 sectors before the end of every member (dmraid
//! lib/format/ataraid/hpt45x.h, struct hpt45x and HPT45X_CONFIGOFFSET;
//! util-linux libblkid highpoint_raid.c probes the same sector).

use crate::bytes::Bytes;

/// Sectors from the end of the disk to the block.
pub const SECTORS_FROM_END: u64 = 11;
/// Bytes read (the struct is 48; the rest of the sector is unused).
pub const SIZE: usize = 48;
/// Magic of a healthy member (HPT45X_MAGIC_OK).
pub const MAGIC_OK: u32 = 0x5A78_16F3;
/// Magic of a member the BIOS marked broken (HPT45X_MAGIC_BAD).
pub const MAGIC_BAD: u32 = 0x5A78_16FD;
/// type: span.
pub const T_SPAN: u8 = 4;
/// type: RAID0.
pub const T_RAID0: u8 = 5;
/// type: RAID1.
pub const T_RAID1: u8 = 6;

/// The fields of struct hpt45x, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hpt45x {
    /// 0x00 magic.
    pub magic: u32,
    /// 0x04 magic_0: set identifier (0 on a spare).
    pub magic_0: u32,
    /// 0x08 magic_1: (sub-)array identifier.
    pub magic_1: u32,
    /// 0x0C total_secs: array sectors.
    pub total_secs: u32,
    /// 0x10 type: 4 span, 5 RAID0, 6 RAID1.
    pub kind: u8,
    /// 0x11 raid_disks.
    pub raid_disks: u8,
    /// 0x12 disk_number.
    pub disk_number: u8,
    /// 0x13 raid0_shift: log2 of the stripe in sectors.
    pub raid0_shift: u8,
    /// 0x14 dummy[3].
    pub dummy: [u32; 3],
    /// 0x20 raid1_type: [`T_RAID1`] when this stripe set is one half of a RAID 0+1.
    pub raid1_type: u8,
    /// 0x21 raid1_raid_disks.
    pub raid1_raid_disks: u8,
    /// 0x22 raid1_disk_number: which half.
    pub raid1_disk_number: u8,
    /// 0x23 raid1_shift.
    pub raid1_shift: u8,
    /// 0x24 dummy1[3].
    pub dummy1: [u32; 3],
}

impl Hpt45x {
    /// Parses the block; `None` when `b` is shorter than 48 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b);
        let u = |o: usize| b.le_u32(o);
        Some(Hpt45x {
            magic: u(0)?,
            magic_0: u(4)?,
            magic_1: u(8)?,
            total_secs: u(0xC)?,
            kind: b.u8(0x10)?,
            raid_disks: b.u8(0x11)?,
            disk_number: b.u8(0x12)?,
            raid0_shift: b.u8(0x13)?,
            dummy: [u(0x14)?, u(0x18)?, u(0x1C)?],
            raid1_type: b.u8(0x20)?,
            raid1_raid_disks: b.u8(0x21)?,
            raid1_disk_number: b.u8(0x22)?,
            raid1_shift: b.u8(0x23)?,
            dummy1: [u(0x24)?, u(0x28)?, u(0x2C)?],
        })
    }

    /// dmraid's test: a known magic and a disk number below 8.
    pub fn is_member(&self) -> bool {
        (self.magic == MAGIC_OK || self.magic == MAGIC_BAD) && self.disk_number < 8
    }

    /// A RAID0 set that is one half of a RAID 0+1.
    pub fn is_raid01(&self) -> bool {
        self.kind == T_RAID0 && self.raid1_type == T_RAID1
    }
}
