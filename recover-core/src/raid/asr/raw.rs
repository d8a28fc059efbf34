//! Adaptec HostRAID ("ASR") metadata as stored, big-endian: a reserved
//! block in the last sector of every member pointing at a RAID
//! configuration table of up to 127 64-byte lines (dmraid
//! lib/format/ataraid/asr.h: struct asr_reservedblock, struct
//! asr_raidtable, struct asr_raid_configline; util-linux libblkid
//! adaptec_raid.c checks the reserved block's two magics and prints resver
//! as the version).

use crate::bytes::Bytes;

/// Bytes of the reserved block.
pub const BLOCK_SIZE: usize = 512;
/// b0idcode at 0x00 (B0RESRVD).
pub const B0_MAGIC: u32 = 0x37FC_4D1E;
/// smagic at 0x100: "DPTM" (SVALID).
pub const S_MAGIC: u32 = 0x4450_544D;
/// ridcode at the start of the table (RVALID2).
pub const TABLE_MAGIC: u32 = 0x9007_65C4;
/// Offset of the first line in the table.
pub const LINES_AT: usize = 0x40;
/// Bytes of a line.
pub const LINE_SIZE: usize = 64;
/// Lines a table can hold (RCTBL_MAX_ENTRIES).
pub const MAX_LINES: usize = 127;
/// The reserved block version dmraid reads (RBLOCK_VER).
pub const RBLOCK_VERSION: u8 = 8;
/// Sectors from the end of the disk to the table when it sits right
/// before the reserved block (16 table sectors, RTBLBLOCKS, then the block).
pub const TABLE_SECTORS_FROM_END: u64 = 17;

/// raidlevel of a line: firmware physical (a disk).
pub const FWP: u8 = 0;
/// raidlevel: firmware logical (an array).
pub const FWL: u8 = 1;
/// raidlevel: dual level (an array of arrays, RAID10).
pub const FWL_2: u8 = 3;

/// The reserved block (struct asr_reservedblock), the fields dmraid uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedBlock {
    /// 0x00 b0idcode.
    pub b0idcode: u32,
    /// 0x12 sb0flags.
    pub sb0flags: u8,
    /// 0x13 jbodEnable.
    pub jbod_enable: u8,
    /// 0x16 biosInfo.
    pub bios_info: u16,
    /// 0x34 fstrsvrb: first block reserved by Storage Manager.
    pub fstrsvrb: u32,
    /// 0x38 svBlockStorageTid.
    pub sv_block_storage_tid: u16,
    /// 0x3A svtid.
    pub svtid: u16,
    /// 0x3F resver: the block's version (8).
    pub resver: u8,
    /// 0x40 drivemagic: this disk's identity in the table.
    pub drivemagic: u32,
    /// 0x100 smagic.
    pub smagic: u32,
    /// 0x104 raidtbl: the table's first sector.
    pub raidtbl: u32,
    /// 0x108 raidline.
    pub raidline: u16,
}

impl ReservedBlock {
    /// Parses the block; `None` when `b` is shorter than 512 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..BLOCK_SIZE)?);
        Some(ReservedBlock {
            b0idcode: b.be_u32(0)?,
            sb0flags: b.u8(0x12)?,
            jbod_enable: b.u8(0x13)?,
            bios_info: b.be_u16(0x16)?,
            fstrsvrb: b.be_u32(0x34)?,
            sv_block_storage_tid: b.be_u16(0x38)?,
            svtid: b.be_u16(0x3A)?,
            resver: b.u8(0x3F)?,
            drivemagic: b.be_u32(0x40)?,
            smagic: b.be_u32(0x100)?,
            raidtbl: b.be_u32(0x104)?,
            raidline: b.be_u16(0x108)?,
        })
    }

    /// Both magics present.
    pub fn has_magic(&self) -> bool {
        self.b0idcode == B0_MAGIC && self.smagic == S_MAGIC
    }
}

/// The table header (struct asr_raidtable up to its lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableHeader {
    /// 0x00 ridcode.
    pub ridcode: u32,
    /// 0x04 rversion.
    pub rversion: u32,
    /// 0x08 maxelm.
    pub maxelm: u16,
    /// 0x0A elmcnt: lines in use.
    pub elmcnt: u16,
    /// 0x0C elmsize: bytes per line (64).
    pub elmsize: u16,
    /// 0x0E rchksum: 16-bit sum of the bytes of the lines in use.
    pub rchksum: u16,
    /// 0x18 raidFlags.
    pub raid_flags: u32,
    /// 0x1C timestamp.
    pub timestamp: u32,
    /// 0x20 irocFlags.
    pub iroc_flags: u8,
    /// 0x21 dirty.
    pub dirty: u8,
    /// 0x22 actionPriority.
    pub action_priority: u8,
    /// 0x23 spareid.
    pub spareid: u8,
    /// 0x24 sparedrivemagic.
    pub sparedrivemagic: u32,
    /// 0x28 raidmagic.
    pub raidmagic: u32,
    /// 0x2C verifyDate.
    pub verify_date: u32,
    /// 0x30 recreateDate.
    pub recreate_date: u32,
}

impl TableHeader {
    /// Parses the header; `None` when `b` is shorter than 0x40 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..LINES_AT)?);
        Some(TableHeader {
            ridcode: b.be_u32(0)?,
            rversion: b.be_u32(4)?,
            maxelm: b.be_u16(8)?,
            elmcnt: b.be_u16(0xA)?,
            elmsize: b.be_u16(0xC)?,
            rchksum: b.be_u16(0xE)?,
            raid_flags: b.be_u32(0x18)?,
            timestamp: b.be_u32(0x1C)?,
            iroc_flags: b.u8(0x20)?,
            dirty: b.u8(0x21)?,
            action_priority: b.u8(0x22)?,
            spareid: b.u8(0x23)?,
            sparedrivemagic: b.be_u32(0x24)?,
            raidmagic: b.be_u32(0x28)?,
            verify_date: b.be_u32(0x2C)?,
            recreate_date: b.be_u32(0x30)?,
        })
    }
}

/// One configuration line (struct asr_raid_configline, 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 0x00 raidcnt: members of a logical line.
    pub raidcnt: u16,
    /// 0x02 raidseq: bumped on every update.
    pub raidseq: u16,
    /// 0x04 raidmagic: the array's or disk's identity.
    pub raidmagic: u32,
    /// 0x08 raidlevel: [`FWP`], [`FWL`], 2 OSI, [`FWL_2`].
    pub raidlevel: u8,
    /// 0x09 raidtype: 0 RAID0, 1 RAID1, 4 RAID4, 5 RAID5, 0xFE spare, 0xFF redirect.
    pub raidtype: u8,
    /// 0x0A raidstate.
    pub raidstate: u8,
    /// 0x0B flags.
    pub flags: u8,
    /// 0x0C refcnt.
    pub refcnt: u8,
    /// 0x0D raidhba.
    pub raidhba: u8,
    /// 0x0E raidchnl.
    pub raidchnl: u8,
    /// 0x0F raidlun.
    pub raidlun: u8,
    /// 0x10 raidid: SCSI id.
    pub raidid: u32,
    /// 0x14 loffset: the component's data offset in the array.
    pub loffset: u32,
    /// 0x18 lcapcty: array capacity (logical) or space used (physical), sectors.
    pub lcapcty: u32,
    /// 0x1C strpsize: stripe, sectors.
    pub strpsize: u16,
    /// 0x1E biosInfo.
    pub bios_info: u16,
    /// 0x20 lsu.
    pub lsu: u32,
    /// 0x24 addedDrives.
    pub added_drives: u8,
    /// 0x25 appSleepRate.
    pub app_sleep_rate: u8,
    /// 0x26 blockStorageTid.
    pub block_storage_tid: u16,
    /// 0x28 curAppBlock.
    pub cur_app_block: u32,
    /// 0x2C appBurstCount.
    pub app_burst_count: u32,
    /// 0x30 name (16 bytes, space padded).
    pub name: [u8; 16],
}

impl Line {
    /// Parses a line; `None` when `b` is shorter than 64 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = Bytes(b.get(..LINE_SIZE)?);
        Some(Line {
            raidcnt: b.be_u16(0)?,
            raidseq: b.be_u16(2)?,
            raidmagic: b.be_u32(4)?,
            raidlevel: b.u8(8)?,
            raidtype: b.u8(9)?,
            raidstate: b.u8(0xA)?,
            flags: b.u8(0xB)?,
            refcnt: b.u8(0xC)?,
            raidhba: b.u8(0xD)?,
            raidchnl: b.u8(0xE)?,
            raidlun: b.u8(0xF)?,
            raidid: b.be_u32(0x10)?,
            loffset: b.be_u32(0x14)?,
            lcapcty: b.be_u32(0x18)?,
            strpsize: b.be_u16(0x1C)?,
            bios_info: b.be_u16(0x1E)?,
            lsu: b.be_u32(0x20)?,
            added_drives: b.u8(0x24)?,
            app_sleep_rate: b.u8(0x25)?,
            block_storage_tid: b.be_u16(0x26)?,
            cur_app_block: b.be_u32(0x28)?,
            app_burst_count: b.be_u32(0x2C)?,
            name: b.array(0x30)?,
        })
    }

    /// The order dmraid sorts members in: host adapter, channel, LUN, SCSI id.
    pub fn position_key(&self) -> u64 {
        u64::from(self.raidhba) << 48
            | u64::from(self.raidchnl) << 40
            | u64::from(self.raidlun) << 32
            | u64::from(self.raidid)
    }
}

/// The table checksum: 16-bit sum of the bytes of the lines in use.
pub fn checksum(lines: &[u8]) -> u16 {
    lines
        .iter()
        .fold(0u16, |s, &b| s.wrapping_add(u16::from(b)))
}
