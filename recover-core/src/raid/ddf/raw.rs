//! SNIA DDF on-disk structures ("Common RAID Disk Data Format" 1.2 and
//! 2.0, as mdadm's super-ddf.c, FreeBSD's md_ddf.h and dissect.volume read
//! them). Integers are big-endian, except on Adaptec controllers, which
//! write the same layout little-endian; every reader here takes the byte
//! order found at the header's signature. All LBAs and lengths count the
//! disk's logical sectors.
//!
//! Header (512 bytes): Signature 0xDE11DE11 at 0, CRC 4, DDF_Header_GUID 8
//! (24 bytes), DDF_rev 0x20 (8 chars), Sequence_Number 0x28, TimeStamp
//! 0x2C (seconds since 1980), Open_Flag 0x30, Foreign_Flag 0x31,
//! Primary_Header_LBA 0x60, Secondary_Header_LBA 0x68, Header_Type 0x70
//! (0 anchor, 1 primary, 2 secondary), WorkSpace_Length 0x74,
//! WorkSpace_LBA 0x78, Max_PD_Entries 0x80, Max_VD_Entries 0x82,
//! Max_Partitions 0x84, Configuration_Record_Length 0x86,
//! Max_Primary_Element_Entries 0x88, then eight (offset, length) u32 pairs
//! from 0xC0: controller data, physical disk records, virtual disk
//! records, configuration records, physical disk data, BBM log, diagnostic
//! space, vendor logs; offsets count sectors from the header's own LBA.

use crate::bytes::{arrays, Bytes};
use crate::checksum::lvm_crc;

/// DDF_HEADER_MAGIC.
pub const HEADER_MAGIC: u32 = 0xDE11_DE11;
/// Controller data section magic.
pub const CONTROLLER_MAGIC: u32 = 0xAD11_1111;
/// Physical disk records magic.
pub const PHYS_MAGIC: u32 = 0x2222_2222;
/// Physical disk data (this disk) magic.
pub const DISK_DATA_MAGIC: u32 = 0x3333_3333;
/// Virtual disk records magic.
pub const VIRT_MAGIC: u32 = 0xDDDD_DDDD;
/// Virtual disk configuration record magic.
pub const VD_CONFIG_MAGIC: u32 = 0xEEEE_EEEE;
/// Spare assignment record magic.
pub const SPARE_MAGIC: u32 = 0x5555_5555;

/// A view of a structure in its writer's byte order.
#[derive(Clone, Copy, Debug)]
pub struct Be<'a> {
    /// The bytes.
    pub b: Bytes<'a>,
    /// Little-endian (Adaptec) instead of the standard big-endian.
    pub le: bool,
}

impl<'a> Be<'a> {
    /// A view of `bytes`.
    pub fn new(bytes: &'a [u8], le: bool) -> Self {
        Be {
            b: Bytes(bytes),
            le,
        }
    }
    /// u16 at `off`.
    pub fn u16(&self, off: usize) -> Option<u16> {
        if self.le {
            self.b.le_u16(off)
        } else {
            self.b.be_u16(off)
        }
    }
    /// u32 at `off`.
    pub fn u32(&self, off: usize) -> Option<u32> {
        if self.le {
            self.b.le_u32(off)
        } else {
            self.b.be_u32(off)
        }
    }
    /// u64 at `off`.
    pub fn u64(&self, off: usize) -> Option<u64> {
        if self.le {
            self.b.le_u64(off)
        } else {
            self.b.be_u64(off)
        }
    }
    /// Byte at `off`.
    pub fn u8(&self, off: usize) -> Option<u8> {
        self.b.u8(off)
    }
    /// 24-byte GUID at `off`.
    pub fn guid(&self, off: usize) -> Option<[u8; 24]> {
        self.b.array(off)
    }
}

/// Which CRC-32 variant a structure's CRC matched. Both use the reflected
/// polynomial 0xEDB88320 over the structure with its CRC field set to
/// 0xFFFFFFFF; mdadm (and, by mdadm's reading of LSI and PERC metadata,
/// their firmware) starts the register at 0 with no final inversion, while
/// FreeBSD and dmraid use the standard initial and final inversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcVariant {
    /// Register from 0, no final inversion (mdadm).
    Raw,
    /// Standard CRC-32.
    Standard,
}

/// Checks the CRC at offset 4 of `data` (its whole length): which variant
/// matched, or `Err((stored, raw, standard))`.
pub fn check_crc(data: &[u8], le: bool) -> Result<CrcVariant, (u32, u32, u32)> {
    let mut copy = data.to_vec();
    let stored = Be::new(data, le).u32(4).unwrap_or(0);
    if let Some(f) = copy.get_mut(4..8) {
        f.fill(0xFF);
    }
    let raw = lvm_crc(0, &copy);
    let standard = crc32fast::hash(&copy);
    if stored == raw {
        Ok(CrcVariant::Raw)
    } else if stored == standard {
        Ok(CrcVariant::Standard)
    } else {
        Err((stored, raw, standard))
    }
}

/// The sections a header points at, in header order.
pub const SECTION_NAMES: [&str; 8] = [
    "controller data",
    "physical disk records",
    "virtual disk records",
    "configuration records",
    "physical disk data",
    "BBM log",
    "diagnostic space",
    "vendor logs",
];

/// A DDF header (anchor, primary or secondary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Little-endian (Adaptec).
    pub le: bool,
    /// DDF_Header_GUID: the container's identity.
    pub guid: [u8; 24],
    /// DDF_rev, such as "01.02.00".
    pub revision: String,
    /// Sequence_Number: bumped on every configuration change.
    pub seq: u32,
    /// TimeStamp, seconds since 1980-01-01.
    pub timestamp: u32,
    /// Open_Flag (0 closed, 0x01-0x0F open, 0xFF for the anchor).
    pub open_flag: u8,
    /// Primary_Header_LBA.
    pub primary_lba: u64,
    /// Secondary_Header_LBA (all ones: none).
    pub secondary_lba: u64,
    /// Header_Type: 0 anchor, 1 primary, 2 secondary.
    pub header_type: u8,
    /// WorkSpace_LBA.
    pub workspace_lba: u64,
    /// WorkSpace_Length.
    pub workspace_len: u32,
    /// Max_PD_Entries.
    pub max_pd_entries: u16,
    /// Max_VD_Entries.
    pub max_vd_entries: u16,
    /// Max_Partitions: configuration records per disk.
    pub max_partitions: u16,
    /// Configuration_Record_Length, sectors.
    pub config_record_len: u16,
    /// Max_Primary_Element_Entries: the size of each record's member arrays.
    pub max_primary_elements: u16,
    /// (offset, length) in sectors of each section, see [`SECTION_NAMES`].
    pub sections: [(u32, u32); 8],
}

/// Parses a header from the first 512 bytes of `sector`. `None` when the
/// signature is not there in either byte order.
pub fn parse_header(sector: &[u8]) -> Option<Header> {
    let b = Bytes(sector);
    let le = match b.be_u32(0)? {
        HEADER_MAGIC => false,
        m if m.swap_bytes() == HEADER_MAGIC => true,
        _ => return None,
    };
    let h = Be::new(sector.get(..512)?, le);
    let mut sections = [(0u32, 0u32); 8];
    for (i, s) in sections.iter_mut().enumerate() {
        *s = (h.u32(0xC0 + 8 * i)?, h.u32(0xC4 + 8 * i)?);
    }
    Some(Header {
        le,
        guid: h.guid(8)?,
        revision: String::from_utf8_lossy(b.get(0x20, 8)?)
            .trim_end_matches(['\0', ' '])
            .to_string(),
        seq: h.u32(0x28)?,
        timestamp: h.u32(0x2C)?,
        open_flag: h.u8(0x30)?,
        primary_lba: h.u64(0x60)?,
        secondary_lba: h.u64(0x68)?,
        header_type: h.u8(0x70)?,
        workspace_len: h.u32(0x74)?,
        workspace_lba: h.u64(0x78)?,
        max_pd_entries: h.u16(0x80)?,
        max_vd_entries: h.u16(0x82)?,
        max_partitions: h.u16(0x84)?,
        config_record_len: h.u16(0x86)?,
        max_primary_elements: h.u16(0x88)?,
        sections,
    })
}

/// Controller data (512 bytes): magic 0, CRC 4, Controller_GUID 8 (24),
/// PCI vendor 0x20, device 0x22, subvendor 0x24, subdevice 0x26,
/// Product_ID 0x28 (16 chars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// Controller_GUID.
    pub guid: [u8; 24],
    /// PCI vendor, device, subsystem vendor, subsystem device.
    pub pci: [u16; 4],
    /// Product_ID.
    pub product: String,
}

/// Parses the controller data section.
pub fn parse_controller(data: &[u8], le: bool) -> Option<Controller> {
    let c = Be::new(data, le);
    if c.u32(0)? != CONTROLLER_MAGIC {
        return None;
    }
    Some(Controller {
        guid: c.guid(8)?,
        pci: [c.u16(0x20)?, c.u16(0x22)?, c.u16(0x24)?, c.u16(0x26)?],
        product: String::from_utf8_lossy(c.b.get(0x28, 16)?)
            .trim_end_matches(['\0', ' '])
            .to_string(),
    })
}

/// A physical disk entry (64 bytes): PD_GUID 0 (24), PD_Reference 24,
/// PD_Type 28, PD_State 30, Configured_Size 32 (sectors), Path 40.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysDisk {
    /// Index in the table.
    pub index: usize,
    /// PD_GUID.
    pub guid: [u8; 24],
    /// PD_Reference: how configuration records name the disk.
    pub refnum: u32,
    /// PD_Type bits: 0x02 active in a VD, 0x04 global spare, 0x08 spare, 0x10 foreign, 0x20 legacy.
    pub pd_type: u16,
    /// PD_State bits: 0x01 online, 0x02 failed, 0x04 rebuilding, 0x08 transition, 0x10 SMART errors, 0x20 read errors, 0x40 missing.
    pub state: u16,
    /// Configured_Size: sectors usable for data.
    pub config_size: u64,
}

/// Parses the physical disk records: header (magic 0, CRC 4, Populated_PDEs
/// 8, Max_PDE_Supported 10) then 64-byte entries from byte 64. Unused
/// entries (refnum or GUID all ones) are skipped.
pub fn parse_phys(data: &[u8], le: bool) -> Option<Vec<PhysDisk>> {
    let p = Be::new(data, le);
    if p.u32(0)? != PHYS_MAGIC {
        return None;
    }
    let max = usize::from(p.u16(10)?);
    let mut out = Vec::new();
    for index in 0..max {
        let Some(e) = data.get(64 + 64 * index..128 + 64 * index) else {
            break;
        };
        let e = Be::new(e, le);
        let guid = e.guid(0)?;
        let refnum = e.u32(24)?;
        if refnum == u32::MAX || guid == [0xFF; 24] {
            continue;
        }
        out.push(PhysDisk {
            index,
            guid,
            refnum,
            pd_type: e.u16(28)?,
            state: e.u16(30)?,
            config_size: e.u64(32)?,
        });
    }
    Some(out)
}

/// A virtual disk entry (64 bytes): VD_GUID 0 (24), VD_Number 24, VD_Type 30
/// (bit 2: Unicode name), VD_State 32, Init_State 33, VD_Name 48 (16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtDisk {
    /// Index in the table.
    pub index: usize,
    /// VD_GUID.
    pub guid: [u8; 24],
    /// VD_Number.
    pub unit: u16,
    /// VD_State: low 3 bits 0 optimal, 1 degraded, 2 deleted, 3 missing,
    /// 4 failed, 5 partially optimal; 0x08 morphing; 0x10 not consistent.
    pub state: u8,
    /// Init_State: bits 0-1 initialisation, bits 6-7 access.
    pub init_state: u8,
    /// VD_Name.
    pub name: String,
}

/// Parses the virtual disk records: header as for physical disks
/// (Populated_VDEs 8, Max_VDE_Supported 10), 64-byte entries from 64.
pub fn parse_virt(data: &[u8], le: bool) -> Option<Vec<VirtDisk>> {
    let v = Be::new(data, le);
    if v.u32(0)? != VIRT_MAGIC {
        return None;
    }
    let max = usize::from(v.u16(10)?);
    let mut out = Vec::new();
    for index in 0..max {
        let Some(e) = data.get(64 + 64 * index..128 + 64 * index) else {
            break;
        };
        let e = Be::new(e, le);
        let guid = e.guid(0)?;
        if guid == [0xFF; 24] {
            continue;
        }
        let unicode = e.u16(30)? & 0x4 != 0;
        let raw = e.b.get(48, 16)?;
        let name = if unicode {
            // Big-endian UTF-16 in a big-endian structure.
            let units: Vec<u16> = arrays(raw)
                .map(|c| {
                    if le {
                        u16::from_le_bytes(c)
                    } else {
                        u16::from_be_bytes(c)
                    }
                })
                .take_while(|&u| u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            String::from_utf8_lossy(raw)
                .trim_end_matches(['\0', ' '])
                .to_string()
        };
        out.push(VirtDisk {
            index,
            guid,
            unit: e.u16(24)?,
            state: e.u8(32)?,
            init_state: e.u8(33)?,
            name,
        });
    }
    Some(out)
}

/// A virtual disk configuration record: magic 0, CRC 4, VD_GUID 8,
/// TimeStamp 0x20, Sequence_Number 0x24, Primary_Element_Count 0x40,
/// Strip_Size 0x42 (2^n blocks), Primary_RAID_Level 0x43,
/// RAID_Level_Qualifier 0x44, Secondary_Element_Count 0x45,
/// Secondary_Element_Seq 0x46, Secondary_RAID_Level 0x47, Block_Count 0x48
/// (sectors per member), VD_Size 0x50, then from 0x200 the
/// Physical_Disk_Sequence (u32 x Max_Primary_Element_Entries) followed by
/// Starting_Block (u64 x the same count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdConfig {
    /// Which record slot it came from.
    pub slot: usize,
    /// VD_GUID.
    pub guid: [u8; 24],
    /// Sequence_Number.
    pub seq: u32,
    /// TimeStamp.
    pub timestamp: u32,
    /// Primary_Element_Count: members of this basic virtual disk.
    pub prim_count: u16,
    /// Strip_Size exponent.
    pub chunk_shift: u8,
    /// Primary_RAID_Level.
    pub prl: u8,
    /// RAID_Level_Qualifier.
    pub rlq: u8,
    /// Secondary_Element_Count.
    pub sec_count: u8,
    /// Secondary_Element_Seq.
    pub sec_seq: u8,
    /// Secondary_RAID_Level.
    pub srl: u8,
    /// Block_Count: sectors of each member this VD uses.
    pub blocks: u64,
    /// VD_Size.
    pub array_blocks: u64,
    /// (PD_Reference, Starting_Block) per member position; holes (all ones) kept as `None`.
    pub members: Vec<Option<(u32, u64)>>,
    /// Which CRC variant matched, if any.
    pub crc: Option<CrcVariant>,
}

/// Parses one configuration record `rec` (config_record_len sectors) with
/// `mppe` entries per member array. `None` for records that are not VD
/// configurations (spare assignments, vendor records, empty slots).
pub fn parse_vd_config(rec: &[u8], le: bool, mppe: usize, slot: usize) -> Option<VdConfig> {
    let c = Be::new(rec, le);
    if c.u32(0)? != VD_CONFIG_MAGIC {
        return None;
    }
    let mut members = Vec::with_capacity(mppe.min(4096));
    for i in 0..mppe {
        let r = c.u32(0x200 + 4 * i)?;
        let lba = c.u64(0x200 + 4 * mppe + 8 * i)?;
        members.push((r != u32::MAX).then_some((r, lba)));
    }
    Some(VdConfig {
        slot,
        guid: c.guid(8)?,
        seq: c.u32(0x24)?,
        timestamp: c.u32(0x20)?,
        prim_count: c.u16(0x40)?,
        chunk_shift: c.u8(0x42)?,
        prl: c.u8(0x43)?,
        rlq: c.u8(0x44)?,
        sec_count: c.u8(0x45)?,
        sec_seq: c.u8(0x46)?,
        srl: c.u8(0x47)?,
        blocks: c.u64(0x48)?,
        array_blocks: c.u64(0x50)?,
        members,
        crc: check_crc(rec, le).ok(),
    })
}

/// Physical disk data (this disk): magic 0, CRC 4, PD_GUID 8, PD_Reference 32.
pub fn parse_disk_data(data: &[u8], le: bool) -> Option<([u8; 24], u32)> {
    let d = Be::new(data, le);
    (d.u32(0)? == DISK_DATA_MAGIC).then_some(())?;
    Some((d.guid(8)?, d.u32(32)?))
}

/// A GUID as mdadm prints it: six groups of 8 hex digits.
pub fn guid_hex(g: &[u8; 24]) -> String {
    g.chunks(4)
        .map(|c| c.iter().map(|b| format!("{b:02X}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(":")
}
