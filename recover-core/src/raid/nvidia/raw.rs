//! The NVIDIA MediaShield metadata block as stored: 120 bytes (30 dwords),
//! little-endian, two sectors before the end of every member (dmraid
//! lib/format/ataraid/nv.h, struct nv and struct nv_array_base,
//! NV_CONFIGOFFSET; util-linux libblkid nvidia_raid.c).

use crate::bytes::Bytes;

/// Sectors from the end of the disk to the block.
pub const SECTORS_FROM_END: u64 = 2;
/// Bytes of the block.
pub const SIZE: usize = 120;
/// The vendor string at offset 0 (blkid compares all eight bytes).
pub const VENDOR: &[u8; 8] = b"NVIDIA  ";

/// The fields of struct nv, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nv {
    /// 0x08 size: dwords in the block (30).
    pub size: u32,
    /// 0x0C chksum: makes the 32-bit sum of the `size` dwords zero.
    pub chksum: u32,
    /// 0x10 version (100).
    pub version: u16,
    /// 0x12 unitNumber: this disk's index in the array.
    pub unit_number: u8,
    /// 0x13 reserved.
    pub reserved: u8,
    /// 0x14 capacity: array sectors.
    pub capacity: u32,
    /// 0x18 sectorSize.
    pub sector_size: u32,
    /// 0x1C productID (16 bytes).
    pub product_id: [u8; 16],
    /// 0x2C productRevision (4 bytes).
    pub product_revision: [u8; 4],
    /// 0x30 unitFlags.
    pub unit_flags: u32,
    /// 0x34 array.version.
    pub array_version: u32,
    /// 0x38 array.signature[4]: the array's identity.
    pub signature: [u32; 4],
    /// 0x48 raidJobCode: 0 idle, 2 init, 3 rebuild, 4 upgrade (morph), 5 sync.
    pub raid_job_code: u8,
    /// 0x49 stripeWidth: data disks.
    pub stripe_width: u8,
    /// 0x4A totalVolumes: disks including spares.
    pub total_volumes: u8,
    /// 0x4B originalWidth: stripe width before a morph.
    pub original_width: u8,
    /// 0x4C raidLevel.
    pub raid_level: u32,
    /// 0x50 stripeBlockSize, sectors.
    pub stripe_block_size: u32,
    /// 0x54 stripeBlockByteSize.
    pub stripe_block_byte_size: u32,
    /// 0x58 stripeBlockPower.
    pub stripe_block_power: u32,
    /// 0x5C stripeMask.
    pub stripe_mask: u32,
    /// 0x60 stripeSize: sectors in a full stripe.
    pub stripe_size: u32,
    /// 0x64 stripeByteSize.
    pub stripe_byte_size: u32,
    /// 0x68 raidJobMark: where a running job has got to (LBA).
    pub raid_job_mark: u32,
    /// 0x6C originalLevel.
    pub original_level: u32,
    /// 0x70 originalCapacity.
    pub original_capacity: u32,
    /// 0x74 flags: bit 0 boot, bit 1 error (degraded or offline), bit 2 parity valid.
    pub flags: u32,
}

impl Nv {
    /// Parses the block; `None` without the vendor string or when `b` is short.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        if !b.has(0, VENDOR) {
            return None;
        }
        let u = |o: usize| b.le_u32(o);
        Some(Nv {
            size: u(8)?,
            chksum: u(0xC)?,
            version: b.le_u16(0x10)?,
            unit_number: b.u8(0x12)?,
            reserved: b.u8(0x13)?,
            capacity: u(0x14)?,
            sector_size: u(0x18)?,
            product_id: b.array(0x1C)?,
            product_revision: b.array(0x2C)?,
            unit_flags: u(0x30)?,
            array_version: u(0x34)?,
            signature: [u(0x38)?, u(0x3C)?, u(0x40)?, u(0x44)?],
            raid_job_code: b.u8(0x48)?,
            stripe_width: b.u8(0x49)?,
            total_volumes: b.u8(0x4A)?,
            original_width: b.u8(0x4B)?,
            raid_level: u(0x4C)?,
            stripe_block_size: u(0x50)?,
            stripe_block_byte_size: u(0x54)?,
            stripe_block_power: u(0x58)?,
            stripe_mask: u(0x5C)?,
            stripe_size: u(0x60)?,
            stripe_byte_size: u(0x64)?,
            raid_job_mark: u(0x68)?,
            original_level: u(0x6C)?,
            original_capacity: u(0x70)?,
            flags: u(0x74)?,
        })
    }
}

/// True when the 32-bit sum of the block's 30 dwords (the checksum
/// included) is zero.
pub fn checksum_ok(block: &[u8]) -> bool {
    crate::raid::ataraid::sum_le_u32(block.get(..SIZE).unwrap_or_default()) == 0
}
