//! The Silicon Image Medley metadata sector as stored: 512 bytes,
//! little-endian, in the last sector of every member and again 512, 1024
//! and 1536 sectors before it (dmraid lib/format/ataraid/sil.h, struct
//! sil, and sil.c's four metadata areas; util-linux libblkid
//! silicon_raid.c reads the last sector).

use crate::bytes::Bytes;

/// Bytes of the sector.
pub const SIZE: usize = 512;
/// Copies of the sector.
pub const AREAS: u64 = 4;
/// Sectors between copies, going back from the last sector.
pub const AREA_STRIDE: u64 = 512;
/// The magic's low 26 bits (dmraid SIL_MAGIC_OK masks with 0x3FFFFFF).
pub const MAGIC: u32 = 0x0300_0000;
/// Mask applied to the magic word before comparing.
pub const MAGIC_MASK: u32 = 0x03FF_FFFF;
/// Offset of checksum1; the words before it are what it covers.
pub const CHECKSUM1: usize = 0x13E;

/// The fields of struct sil, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sil {
    /// 0x2E ascii_version (8 bytes).
    pub ascii_version: [u8; 8],
    /// 0x36 diskname (32 bytes): the drive model.
    pub diskname: [u8; 32],
    /// 0x60 magic.
    pub magic: u32,
    /// 0x6C array_sectors_low, 0x70 array_sectors_high.
    pub array_sectors: u64,
    /// 0x78 thisdisk_sectors.
    pub thisdisk_sectors: u32,
    /// 0x104 product_id.
    pub product_id: u16,
    /// 0x106 vendor_id.
    pub vendor_id: u16,
    /// 0x108 minor_ver.
    pub minor_ver: u16,
    /// 0x10A major_ver.
    pub major_ver: u16,
    /// 0x10C seconds, 0x10D minutes, 0x10E hour, 0x10F day, 0x110 month,
    /// 0x111 year (since 2000): the set's creation time.
    pub created: [u8; 6],
    /// 0x112 raid0_stride, sectors.
    pub raid0_stride: u16,
    /// 0x116 disk_number.
    pub disk_number: u8,
    /// 0x117 type: 0 RAID0, 1 RAID1, 2 RAID10, 3 spare, 16 RAID5, 255 JBOD.
    pub kind: u8,
    /// 0x118 drives_per_striped_set.
    pub drives_per_striped_set: i8,
    /// 0x119 striped_set_number.
    pub striped_set_number: i8,
    /// 0x11A drives_per_mirrored_set.
    pub drives_per_mirrored_set: i8,
    /// 0x11B mirrored_set_number.
    pub mirrored_set_number: i8,
    /// 0x11C rebuild_ptr_low, 0x120 rebuild_ptr_high: sectors rebuilt.
    pub rebuild_ptr: u64,
    /// 0x124 incarnation_no: bumped on every update.
    pub incarnation_no: u32,
    /// 0x128 member_status.
    pub member_status: u8,
    /// 0x129 mirrored_set_state: 0 ok, 1 not in sync, 2 in sync.
    pub mirrored_set_state: u8,
    /// 0x12A reported_device_location.
    pub reported_device_location: u8,
    /// 0x12B idechannel.
    pub idechannel: u8,
    /// 0x12C auto_rebuild.
    pub auto_rebuild: u8,
    /// 0x12E text_type (16 bytes).
    pub text_type: [u8; 16],
    /// 0x13E checksum1.
    pub checksum1: u16,
    /// 0x1FE checksum2.
    pub checksum2: u16,
}

impl Sil {
    /// Parses the sector; `None` when `b` is shorter than 512 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        Some(Sil {
            ascii_version: b.array(0x2E)?,
            diskname: b.array(0x36)?,
            magic: b.le_u32(0x60)?,
            array_sectors: u64::from(b.le_u32(0x6C)?) | u64::from(b.le_u32(0x70)?) << 32,
            thisdisk_sectors: b.le_u32(0x78)?,
            product_id: b.le_u16(0x104)?,
            vendor_id: b.le_u16(0x106)?,
            minor_ver: b.le_u16(0x108)?,
            major_ver: b.le_u16(0x10A)?,
            created: b.array(0x10C)?,
            raid0_stride: b.le_u16(0x112)?,
            disk_number: b.u8(0x116)?,
            kind: b.u8(0x117)?,
            drives_per_striped_set: b.u8(0x118)? as i8,
            striped_set_number: b.u8(0x119)? as i8,
            drives_per_mirrored_set: b.u8(0x11A)? as i8,
            mirrored_set_number: b.u8(0x11B)? as i8,
            rebuild_ptr: u64::from(b.le_u32(0x11C)?) | u64::from(b.le_u32(0x120)?) << 32,
            incarnation_no: b.le_u32(0x124)?,
            member_status: b.u8(0x128)?,
            mirrored_set_state: b.u8(0x129)?,
            reported_device_location: b.u8(0x12A)?,
            idechannel: b.u8(0x12B)?,
            auto_rebuild: b.u8(0x12C)?,
            text_type: b.array(0x12E)?,
            checksum1: b.le_u16(CHECKSUM1)?,
            checksum2: b.le_u16(0x1FE)?,
        })
    }

    /// dmraid's test: the magic under its mask and a disk number below 8.
    pub fn is_member(&self) -> bool {
        self.magic & MAGIC_MASK == MAGIC && self.disk_number < 8
    }

    /// The creation time as dmraid prints it in set names: year, month,
    /// day, hour, minutes mod 60, seconds mod 60, two decimal digits each.
    pub fn stamp(&self) -> String {
        let [s, mi, h, d, mo, y] = self.created;
        format!("{y:02}{mo:02}{d:02}{h:02}{:02}{:02}", mi % 60, s % 60)
    }
}

/// checksum1: the negated 16-bit sum of the words before it.
pub fn checksum1(block: &[u8]) -> u16 {
    0u16.wrapping_sub(crate::raid::ataraid::sum_le_u16(
        block.get(..CHECKSUM1).unwrap_or_default(),
    ))
}
