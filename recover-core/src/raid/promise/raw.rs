//! The Promise FastTrak metadata block as stored: 2048 bytes (four
//! sectors), little-endian, at one of a list of distances from the end of
//! the disk that depend on the controller generation (dmraid
//! lib/format/ataraid/pdc.h, struct pdc and PDC_CONFIGOFFSETS; util-linux
//! libblkid promise_raid.c tries the same list, plus 951). A disk in more
//! than one array carries up to four blocks, 14 sectors apart
//! (PDC_MAX_META_AREAS, PDC_META_OFFSET).

use crate::bytes::Bytes;

/// Bytes of one block.
pub const SIZE: usize = 2048;
/// The signature at offset 0 (PDC_MAGIC).
pub const SIGNATURE: &[u8; 24] = b"Promise Technology, Inc.";
/// Sectors from the end of the disk to the first block, in the order tried.
pub const SECTORS_FROM_END: [u64; 13] = [
    63, 255, 256, 16, 399, 591, 675, 735, 911, 974, 991, 951, 3087,
];
/// Blocks a disk can carry.
pub const MAX_AREAS: usize = 4;
/// Sectors between consecutive blocks.
pub const AREA_STRIDE: u64 = 14;
/// Disk records in a block (PDC_MAXDISKS).
pub const MAX_DISKS: usize = 8;

/// One disk record (struct pdc_disk, 12 bytes from 0x234).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disk {
    /// +0x00 unknown_0.
    pub unknown_0: u16,
    /// +0x02 channel.
    pub channel: u8,
    /// +0x03 device.
    pub device: u8,
    /// +0x04 magic_0.
    pub magic_0: u32,
    /// +0x08 disk_number.
    pub disk_number: u32,
}

/// The fields of struct pdc, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdc {
    /// 0x18 unknown_0.
    pub unknown_0: u32,
    /// 0x1C magic_0.
    pub magic_0: u32,
    /// 0x20 unknown_1.
    pub unknown_1: u32,
    /// 0x24 magic_1.
    pub magic_1: u32,
    /// 0x28 unknown_2.
    pub unknown_2: u16,
    /// 0x200 raid.flags.
    pub flags: u32,
    /// 0x204 raid.unknown_0.
    pub raid_unknown_0: u8,
    /// 0x205 raid.disk_number: this disk's position.
    pub disk_number: u8,
    /// 0x206 raid.channel.
    pub channel: u8,
    /// 0x207 raid.device.
    pub device: u8,
    /// 0x208 raid.magic_0.
    pub raid_magic_0: u32,
    /// 0x20C raid.unknown_1.
    pub raid_unknown_1: u32,
    /// 0x210 raid.start: data start of this array on the disk, sectors.
    pub start: u32,
    /// 0x214 raid.disk_secs.
    pub disk_secs: u32,
    /// 0x218 raid.unknown_3.
    pub unknown_3: u32,
    /// 0x21C raid.unknown_4.
    pub unknown_4: u16,
    /// 0x21E raid.status.
    pub status: u8,
    /// 0x21F raid.type: 0 RAID0, 1 RAID1, 2 RAID10, 8 span.
    pub kind: u8,
    /// 0x220 raid.total_disks.
    pub total_disks: u8,
    /// 0x221 raid.raid0_shift: log2 of the stripe in sectors.
    pub raid0_shift: u8,
    /// 0x222 raid.raid0_disks.
    pub raid0_disks: u8,
    /// 0x223 raid.array_number.
    pub array_number: u8,
    /// 0x224 raid.total_secs: array sectors.
    pub total_secs: u32,
    /// 0x228 raid.cylinders.
    pub cylinders: u16,
    /// 0x22A raid.heads.
    pub heads: u8,
    /// 0x22B raid.sectors.
    pub sectors: u8,
    /// 0x22C raid.magic_1: the array's identity.
    pub raid_magic_1: u32,
    /// 0x230 raid.unknown_5.
    pub unknown_5: u32,
    /// 0x234 raid.disk[8].
    pub disks: [Disk; MAX_DISKS],
    /// 0x7FC checksum: the 32-bit sum of the 511 dwords before it.
    pub checksum: u32,
}

impl Pdc {
    /// Parses a block; `None` without the signature or when `b` is short.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        if !b.has(0, SIGNATURE) {
            return None;
        }
        let disk = |i: usize| -> Option<Disk> {
            let d = Bytes(b.get(0x234 + 12 * i, 12)?);
            Some(Disk {
                unknown_0: d.le_u16(0)?,
                channel: d.u8(2)?,
                device: d.u8(3)?,
                magic_0: d.le_u32(4)?,
                disk_number: d.le_u32(8)?,
            })
        };
        let mut disks = [disk(0)?; MAX_DISKS];
        for (i, d) in disks.iter_mut().enumerate() {
            *d = disk(i)?;
        }
        Some(Pdc {
            unknown_0: b.le_u32(0x18)?,
            magic_0: b.le_u32(0x1C)?,
            unknown_1: b.le_u32(0x20)?,
            magic_1: b.le_u32(0x24)?,
            unknown_2: b.le_u16(0x28)?,
            flags: b.le_u32(0x200)?,
            raid_unknown_0: b.u8(0x204)?,
            disk_number: b.u8(0x205)?,
            channel: b.u8(0x206)?,
            device: b.u8(0x207)?,
            raid_magic_0: b.le_u32(0x208)?,
            raid_unknown_1: b.le_u32(0x20C)?,
            start: b.le_u32(0x210)?,
            disk_secs: b.le_u32(0x214)?,
            unknown_3: b.le_u32(0x218)?,
            unknown_4: b.le_u16(0x21C)?,
            status: b.u8(0x21E)?,
            kind: b.u8(0x21F)?,
            total_disks: b.u8(0x220)?,
            raid0_shift: b.u8(0x221)?,
            raid0_disks: b.u8(0x222)?,
            array_number: b.u8(0x223)?,
            total_secs: b.le_u32(0x224)?,
            cylinders: b.le_u16(0x228)?,
            heads: b.u8(0x22A)?,
            sectors: b.u8(0x22B)?,
            raid_magic_1: b.le_u32(0x22C)?,
            unknown_5: b.le_u32(0x230)?,
            disks,
            checksum: b.le_u32(0x7FC)?,
        })
    }

    /// RAID10: type 2, or (as dmraid reads it) RAID1 over more than three disks.
    pub fn is_raid10(&self) -> bool {
        self.kind == 2 || (self.kind == 1 && self.total_disks > 3)
    }
}

/// True when the 32-bit sum of the first 511 dwords equals the last.
pub fn checksum_ok(block: &[u8]) -> bool {
    let (Some(body), Some(stored)) = (block.get(..SIZE - 4), Bytes(block).le_u32(SIZE - 4)) else {
        return false;
    };
    crate::raid::ataraid::sum_le_u32(body) == stored
}
