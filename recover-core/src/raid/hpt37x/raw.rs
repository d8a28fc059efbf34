//! The HighPoint HPT37x metadata block as stored: 512 bytes, little-endian,
//! in sector 9 of every member (dmraid lib/format/ataraid/hpt37x.h, struct
//! hpt37x; util-linux libblkid highpoint_raid.c looks for the magic at
//! byte 0x1220 of the disk, which is offset 0x20 here).

use crate::bytes::Bytes;

/// Byte offset of the block on the disk (sector 9).
pub const OFFSET: u64 = 9 * 512;
/// Bytes read.
pub const SIZE: usize = 512;
/// Magic of a healthy member (hpt37x.h: HPT37X_MAGIC_OK).
pub const MAGIC_OK: u32 = 0x5A78_16F0;
/// Magic the BIOS writes on a member it considers broken (HPT37X_MAGIC_BAD).
pub const MAGIC_BAD: u32 = 0x5A78_16FD;
/// Error log slots (HPT37X_MAX_ERRORLOG).
pub const MAX_ERRORLOG: usize = 32;
/// Data starts this many sectors in on every member but the first (HPT37X_DATAOFFSET).
pub const DATA_OFFSET_SECTORS: u64 = 10;

/// One error log entry (12 bytes from 0x44).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLog {
    /// 0x00 timestamp.
    pub timestamp: u32,
    /// 0x04 reason (0xFE removed, 0xFF broken).
    pub reason: u8,
    /// 0x05 disk.
    pub disk: u8,
    /// 0x06 status.
    pub status: u8,
    /// 0x07 sectors.
    pub sectors: u8,
    /// 0x08 lba.
    pub lba: u32,
}

/// The fields of struct hpt37x, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hpt37x {
    /// 0x20 magic: [`MAGIC_OK`] or [`MAGIC_BAD`].
    pub magic: u32,
    /// 0x24 magic_0: set identifier (0 on a spare).
    pub magic_0: u32,
    /// 0x28 magic_1: array identifier (ties the halves of a RAID 0+1).
    pub magic_1: u32,
    /// 0x2C order: bit 0 mirror, bit 1 stripe, bit 2 ok.
    pub order: u32,
    /// 0x30 raid_disks.
    pub raid_disks: u8,
    /// 0x31 raid0_shift: log2 of the stripe in sectors.
    pub raid0_shift: u8,
    /// 0x32 type: 0 RAID0, 1 RAID1, 2 RAID0 half of 0+1, 3 span, 4 RAID3,
    /// 5 RAID5, 6 single disk, 7 RAID1 half of 0+1.
    pub kind: u8,
    /// 0x33 disk_number: position in the set.
    pub disk_number: u8,
    /// 0x34 total_secs: array sectors.
    pub total_secs: u32,
    /// 0x38 disk_mode.
    pub disk_mode: u32,
    /// 0x3C boot_mode.
    pub boot_mode: u32,
    /// 0x40 boot_disk.
    pub boot_disk: u8,
    /// 0x41 boot_protect.
    pub boot_protect: u8,
    /// 0x42 error_log_entries.
    pub error_log_entries: u8,
    /// 0x43 error_log_index.
    pub error_log_index: u8,
    /// 0x44 the error log up to its first zero timestamp (at most 32).
    pub errorlog: Vec<ErrorLog>,
}

impl Hpt37x {
    /// Parses the block; `None` when `b` is shorter than the fields.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b);
        let mut errorlog = Vec::new();
        for i in 0..MAX_ERRORLOG {
            let e = Bytes(b.get(0x44 + 12 * i, 12)?);
            let timestamp = e.le_u32(0)?;
            if timestamp == 0 {
                break;
            }
            errorlog.push(ErrorLog {
                timestamp,
                reason: e.u8(4)?,
                disk: e.u8(5)?,
                status: e.u8(6)?,
                sectors: e.u8(7)?,
                lba: e.le_u32(8)?,
            });
        }
        Some(Hpt37x {
            magic: b.le_u32(0x20)?,
            magic_0: b.le_u32(0x24)?,
            magic_1: b.le_u32(0x28)?,
            order: b.le_u32(0x2C)?,
            raid_disks: b.u8(0x30)?,
            raid0_shift: b.u8(0x31)?,
            kind: b.u8(0x32)?,
            disk_number: b.u8(0x33)?,
            total_secs: b.le_u32(0x34)?,
            disk_mode: b.le_u32(0x38)?,
            boot_mode: b.le_u32(0x3C)?,
            boot_disk: b.u8(0x40)?,
            boot_protect: b.u8(0x41)?,
            error_log_entries: b.u8(0x42)?,
            error_log_index: b.u8(0x43)?,
            errorlog,
        })
    }

    /// dmraid's test: a known magic and a disk number below 8.
    pub fn is_member(&self) -> bool {
        (self.magic == MAGIC_OK || self.magic == MAGIC_BAD) && self.disk_number < 8
    }
}
