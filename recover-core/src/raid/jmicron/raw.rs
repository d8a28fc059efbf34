//! The JMicron JMB36x metadata block as stored: 128 bytes, little-endian,
//! in the last sector of every member (dmraid lib/format/ataraid/jm.h,
//! struct jm and JM_CONFIGOFFSET; util-linux libblkid jmicron_raid.c).

use crate::bytes::Bytes;

/// Bytes of the block (and of its checksum).
pub const SIZE: usize = 128;
/// Slots in the member table (JM_MEMBERS).
pub const MEMBERS: usize = 8;
/// Slots in the spare table (JM_SPARES).
pub const SPARES: usize = 2;
/// The low four bits of a member word number a segment; the rest name the disk (JM_HDD_MASK).
pub const HDD_MASK: u32 = 0xFFFF_FFF0;

/// The fields of struct jm, at the offsets cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jm {
    /// 0x00 signature "JM".
    pub signature: [u8; 2],
    /// 0x02 version: major in the high byte, minor in the low.
    pub version: u16,
    /// 0x04 checksum: makes the 16-bit sum of the 128 bytes 0 (or 1).
    pub checksum: u16,
    /// 0x10 identity: this disk's member word.
    pub identity: u32,
    /// 0x14 segment.base: data start, sectors.
    pub base: u32,
    /// 0x18 segment.range: data length in units of 65536 sectors.
    pub range: u32,
    /// 0x1C segment.range2: data length remainder, sectors.
    pub range2: u16,
    /// 0x20 name (16 bytes, NUL or space padded).
    pub name: [u8; 16],
    /// 0x30 mode: 0 RAID0, 1 RAID1, 2 RAID0+1, 3 JBOD, 5 RAID5.
    pub mode: u8,
    /// 0x31 block: stripe of 2^(block+1) sectors.
    pub block: u8,
    /// 0x32 attribute bits.
    pub attribute: u16,
    /// 0x38 spare[2].
    pub spare: [u32; SPARES],
    /// 0x40 member[8].
    pub member: [u32; MEMBERS],
}

impl Jm {
    /// Parses the block; `None` when `b` is shorter than 128 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..SIZE)?);
        let mut member = [0u32; MEMBERS];
        for (i, m) in member.iter_mut().enumerate() {
            *m = b.le_u32(0x40 + 4 * i)?;
        }
        Some(Jm {
            signature: b.array(0)?,
            version: b.le_u16(2)?,
            checksum: b.le_u16(4)?,
            identity: b.le_u32(0x10)?,
            base: b.le_u32(0x14)?,
            range: b.le_u32(0x18)?,
            range2: b.le_u16(0x1C)?,
            name: b.array(0x20)?,
            mode: b.u8(0x30)?,
            block: b.u8(0x31)?,
            attribute: b.le_u16(0x32)?,
            spare: [b.le_u32(0x38)?, b.le_u32(0x3C)?],
            member,
        })
    }

    /// The slot whose member word names this disk (the last match, as dmraid).
    pub fn slot(&self) -> Option<usize> {
        let me = self.identity & HDD_MASK;
        self.member.iter().rposition(|&m| m & HDD_MASK == me)
    }

    /// Sectors of data on this member.
    pub fn data_sectors(&self) -> u64 {
        u64::from(self.range) * 65536 + u64::from(self.range2)
    }
}

/// True when the 16-bit sum of the block's words is 0 or 1 (both occur).
pub fn checksum_ok(block: &[u8]) -> bool {
    let s = crate::raid::ataraid::sum_le_u16(block.get(..SIZE).unwrap_or_default());
    s == 0 || s == 1
}
