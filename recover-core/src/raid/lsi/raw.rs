//! The LSI Logic MegaRAID IDE ("$XIDE$") metadata sector as stored:
//! little-endian, in the last sector of every member (dmraid
//! lib/format/ataraid/lsi.h, struct lsi and struct lsi_disk;
//! util-linux libblkid lsi_raid.c checks the same signature). This is the
//! older MegaRAID software-RAID format, not DDF.

use crate::bytes::Bytes;

/// Bytes of the sector.
pub const SIZE: usize = 512;
/// The signature at offset 0 (LSI_MAGIC_NAME).
pub const MAGIC: &[u8; 6] = b"$XIDE$";
/// Disk records dmraid knows (LSI_MAX_DISKS), 16 bytes each from 0x20.
pub const MAX_DISKS: usize = 4;

/// One disk record (struct lsi_disk, 16 bytes at 0x20 + 16 * i).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disk {
    /// +0x00 bits 0-3 raid10_stripe.
    pub raid10_stripe: u8,
    /// +0x00 bits 4-7 raid10_mirror.
    pub raid10_mirror: u8,
    /// +0x01 unknown.
    pub unknown: u8,
    /// +0x02 magic_0.
    pub magic_0: u16,
    /// +0x04 magic_1.
    pub magic_1: u16,
    /// +0x06 disk_number.
    pub disk_number: u8,
    /// +0x07 set_number.
    pub set_number: u8,
    /// +0x08 offline.
    pub offline: u8,
}

/// The fields of struct lsi, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsi {
    /// 0x06 dummy.
    pub dummy: u8,
    /// 0x07 seqno: bumped on every update.
    pub seqno: u8,
    /// 0x08 dummy2.
    pub dummy2: u32,
    /// 0x0C dummy3.
    pub dummy3: u32,
    /// 0x10 type: 1 RAID0, 2 RAID1, 3 RAID10.
    pub kind: u8,
    /// 0x11 dummy4.
    pub dummy4: u8,
    /// 0x12 stride, sectors.
    pub stride: u16,
    /// 0x20 disks[4].
    pub disks: [Disk; MAX_DISKS],
    /// 0x1F0 disk_number (this disk).
    pub disk_number: u8,
    /// 0x1F1 set_number (this disk).
    pub set_number: u8,
    /// 0x1F2 set_id.
    pub set_id: u32,
}

impl Lsi {
    /// Parses the sector; `None` without the signature or when `b` is short.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        if !b.has(0, MAGIC) {
            return None;
        }
        let disk = |i: usize| -> Option<Disk> {
            let d = Bytes(b.get(0x20 + 16 * i, 16)?);
            let bits = d.u8(0)?;
            Some(Disk {
                raid10_stripe: bits & 0x0F,
                raid10_mirror: bits >> 4,
                unknown: d.u8(1)?,
                magic_0: d.le_u16(2)?,
                magic_1: d.le_u16(4)?,
                disk_number: d.u8(6)?,
                set_number: d.u8(7)?,
                offline: d.u8(8)?,
            })
        };
        Some(Lsi {
            dummy: b.u8(6)?,
            seqno: b.u8(7)?,
            dummy2: b.le_u32(8)?,
            dummy3: b.le_u32(0xC)?,
            kind: b.u8(0x10)?,
            dummy4: b.u8(0x11)?,
            stride: b.le_u16(0x12)?,
            disks: [disk(0)?, disk(1)?, disk(2)?, disk(3)?],
            disk_number: b.u8(0x1F0)?,
            set_number: b.u8(0x1F1)?,
            set_id: b.le_u32(0x1F2)?,
        })
    }

    /// Index of this disk's record: set_number * 2 + disk_number (dmraid's get_disk_slot).
    pub fn slot(&self) -> usize {
        usize::from(self.set_number) * 2 + usize::from(self.disk_number)
    }
}
