//! The VIA V-RAID metadata block as stored: 51 bytes, little-endian, in
//! the last sector of every member (dmraid lib/format/ataraid/via.h,
//! struct via, struct array and the struct disk bit fields;
//! util-linux libblkid via_raid.c).

use crate::bytes::Bytes;

/// Bytes of the block.
pub const SIZE: usize = 51;
/// signature at 0 (VIA_SIGNATURE).
pub const SIGNATURE: u16 = 0xAA55;
/// Bytes the checksum at 0x32 covers.
pub const CHECKSUM_LEN: usize = 50;
/// Members a set can have (VIA_MAX_DISKS).
pub const MAX_DISKS: usize = 8;

/// The fields of struct via, at the offsets cited; the 16-bit disk word
/// at 0x03 is split into its bit fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// 0x02 version_number.
    pub version: u8,
    /// 0x03 bit 0 bootable.
    pub bootable: bool,
    /// 0x03 bit 1 enable_enhanced.
    pub enable_enhanced: bool,
    /// 0x03 bit 2 in_disk_array: used (else spare or free).
    pub in_disk_array: bool,
    /// 0x03 bits 3-6 raid_type: 0 RAID0, 1 RAID1, 8 span, 9 RAID0+1.
    pub raid_type: u8,
    /// 0x03 bits 7-9 array_index.
    pub array_index: u8,
    /// 0x03 bits 10-14 raid_type_info: position (bits 0-2), RAID1 role
    /// (bits 0-1: 0 source, 1 spare, 2 mirror), dirty, 0+1 mirror half (bit 3).
    pub raid_type_info: u8,
    /// 0x03 bit 15 tolerance: set when the array is broken.
    pub tolerance: bool,
    /// 0x05 disk_array_ex: disks in bits 0-2, broken bit 3, stripe 8 << (bits 4-7) sectors.
    pub disk_array_ex: u8,
    /// 0x06 capacity_low, 0x0A capacity_high: array sectors.
    pub capacity: u64,
    /// 0x0E serial_checksum: this disk's.
    pub serial_checksum: u32,
    /// 0x12 serial_checksum[8]: every member's.
    pub serial_checksums: [u32; MAX_DISKS],
    /// 0x32 checksum: the 8-bit sum of bytes 0..50.
    pub checksum: u8,
}

impl Via {
    /// Parses the block; `None` without the signature or when `b` is short.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        if b.le_u16(0)? != SIGNATURE {
            return None;
        }
        let w = b.le_u16(3)?;
        let mut serial_checksums = [0u32; MAX_DISKS];
        for (i, s) in serial_checksums.iter_mut().enumerate() {
            *s = b.le_u32(0x12 + 4 * i)?;
        }
        Some(Via {
            version: b.u8(2)?,
            bootable: w & 1 != 0,
            enable_enhanced: w & 2 != 0,
            in_disk_array: w & 4 != 0,
            raid_type: ((w >> 3) & 0xF) as u8,        // ok: 4 bits
            array_index: ((w >> 7) & 0x7) as u8,      // ok: 3 bits
            raid_type_info: ((w >> 10) & 0x1F) as u8, // ok: 5 bits
            tolerance: w & 0x8000 != 0,
            disk_array_ex: b.u8(5)?,
            capacity: u64::from(b.le_u32(6)?) | u64::from(b.le_u32(0xA)?) << 32,
            serial_checksum: b.le_u32(0xE)?,
            serial_checksums,
            checksum: b.u8(0x32)?,
        })
    }

    /// Members of the set (disk_array_ex bits 0-2).
    pub fn raid_disks(&self) -> u8 {
        self.disk_array_ex & 7
    }

    /// Stripe in sectors: 8 << (disk_array_ex bits 4-7).
    pub fn stride_sectors(&self) -> u64 {
        8u64 << (self.disk_array_ex >> 4)
    }
}

/// True when the 8-bit sum of bytes 0..50 equals the byte at 0x32.
pub fn checksum_ok(block: &[u8]) -> bool {
    match (block.get(..CHECKSUM_LEN), block.get(CHECKSUM_LEN)) {
        (Some(b), Some(&c)) => crate::raid::ataraid::sum_u8(b) == c,
        _ => false,
    }
}
