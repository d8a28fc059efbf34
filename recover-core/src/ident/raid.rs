//! What RAID metadata says, in words common to md, DDF and IMSM: the arrays
//! a device belongs to, its role in each, and how fresh its copy is.
//!
//! One device can carry several arrays (a DDF container with several
//! virtual disks, IMSM "matrix RAID"), so a device's metadata is a list of
//! (array, role) pairs plus what the container says about itself.

use super::Detail;
use crate::problem::Problem;

/// Which metadata family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RaidFormat {
    /// Linux md (0.90 and 1.x superblocks).
    Md,
    /// SNIA DDF (Dell PERC, LSI/Broadcom MegaRAID, Adaptec, mdadm).
    Ddf,
    /// Intel Matrix Storage Manager / Rapid Storage Technology.
    Imsm,
    /// A BIOS ("fake") RAID format of the dmraid family, by its registry
    /// name: asr, hpt37x, hpt45x, jmicron, lsi, nvidia, promise, sil, via.
    /// Adding one takes its folder and a registry line, not a variant.
    Bios(&'static str),
}

impl RaidFormat {
    /// "md", "ddf", "imsm", or one of the BIOS RAID names: "asr", "hpt37x",
    /// "hpt45x", "jmicron", "lsi", "nvidia", "promise", "sil", "via".
    pub fn as_str(self) -> &'static str {
        match self {
            RaidFormat::Md => "md",
            RaidFormat::Ddf => "ddf",
            RaidFormat::Imsm => "imsm",
            RaidFormat::Bios(name) => name,
        }
    }
}

/// A RAID level, whichever format named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Members end to end (md linear, DDF CONCAT).
    Linear,
    /// Striping.
    Raid0,
    /// Mirroring.
    Raid1,
    /// Dedicated parity (DDF also RAID3, which places data the same way per strip).
    Raid4,
    /// Rotating parity.
    Raid5,
    /// Rotating P and Q.
    Raid6,
    /// md RAID10 (near/far/offset copies), IMSM RAID10.
    Raid10,
    /// DDF RAID1E (striped mirroring over any number of disks).
    Raid1E,
    /// A single disk exported as is (DDF JBOD).
    Jbod,
    /// md multipath and other levels with no data layout of their own.
    Other(i32),
}

impl Level {
    /// The neutral name: linear, raid0, raid1, raid4, raid5, raid6, raid10, raid1e, jbod.
    pub fn as_str(self) -> String {
        match self {
            Level::Linear => "linear".into(),
            Level::Raid0 => "raid0".into(),
            Level::Raid1 => "raid1".into(),
            Level::Raid4 => "raid4".into(),
            Level::Raid5 => "raid5".into(),
            Level::Raid6 => "raid6".into(),
            Level::Raid10 => "raid10".into(),
            Level::Raid1E => "raid1e".into(),
            Level::Jbod => "jbod".into(),
            Level::Other(n) => format!("level{n}"),
        }
    }

    /// The level a user names: `linear` (or `concat`), `0`, `1`, `4`, `5`,
    /// `6`, `10`, `1e`, each with or without `raid` before it, any case.
    pub fn from_name(name: &str) -> Option<Level> {
        let t = name.trim().to_ascii_lowercase();
        let t = t.strip_prefix("raid").unwrap_or(&t);
        Some(match t {
            "linear" | "concat" => Level::Linear,
            "0" => Level::Raid0,
            "1" => Level::Raid1,
            "4" => Level::Raid4,
            "5" => Level::Raid5,
            "6" => Level::Raid6,
            "10" => Level::Raid10,
            "1e" => Level::Raid1E,
            _ => return None,
        })
    }

    /// How many members may be missing before data is lost for certain
    /// (mirrors: all but one; RAID10 depends on which, see `group`).
    pub fn parity_tolerance(self) -> Option<u32> {
        match self {
            Level::Linear | Level::Raid0 | Level::Jbod => Some(0),
            Level::Raid4 | Level::Raid5 => Some(1),
            Level::Raid6 => Some(2),
            _ => None,
        }
    }
}

/// A layout in the format's own words and in neutral words (md's names,
/// since the md driver is the reference implementation of the placements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// As the format stores it, e.g. "left-symmetric (2)" or "PRL 0x05 RLQ 0x03".
    pub native: String,
    /// md vocabulary: left-asymmetric, right-asymmetric, left-symmetric,
    /// right-symmetric, parity-first, parity-last, ddf-zero-restart,
    /// ddf-N-restart, ddf-N-continue, the -6 variants; near=N, far=N,
    /// offset=N for RAID10; empty where the level has no layout.
    pub neutral: String,
}

/// The secondary level of a DDF virtual disk made of several basic
/// virtual disks (RAID10, RAID50, RAID60 as spans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secondary {
    /// striped, mirrored, concat or spanned.
    pub level: String,
    /// Number of basic virtual disks (spans).
    pub count: u32,
    /// Which span this member's configuration record describes.
    pub index: u32,
}

/// One array as one member's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayInfo {
    /// md, ddf or imsm.
    pub format: RaidFormat,
    /// What identifies the array across its members: md array UUID, DDF
    /// virtual disk GUID, IMSM family number and volume index.
    pub id: String,
    /// The container it lives in (DDF header GUID, IMSM family), if any.
    pub container: Option<String>,
    /// Array name.
    pub name: Option<String>,
    /// RAID level (the primary level for DDF spans).
    pub level: Level,
    /// Layout.
    pub layout: Layout,
    /// Chunk (strip) size in bytes, where the level stripes.
    pub chunk_size: Option<u64>,
    /// Members in a complete array (for DDF spans: in all spans).
    pub raid_disks: u32,
    /// Array size in bytes.
    pub array_size: Option<u64>,
    /// Bytes of each member the array uses.
    pub member_size: Option<u64>,
    /// DDF secondary level.
    pub secondary: Option<Secondary>,
    /// The array's own state in the format's words (clean, active, Optimal, normal, ...).
    pub state: String,
    /// A reshape or migration in progress, described.
    pub reshape: Option<String>,
    /// Format-specific facts about the array, for the report.
    pub details: Vec<(&'static str, Detail)>,
    /// Who should fill each slot, where the metadata names the disks of
    /// the whole array (DDF PD references, IMSM serials); empty for md,
    /// whose members name only themselves.
    pub slots: Vec<Option<String>>,
}

/// What a device is in an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// An in-sync member holding a slot.
    Active,
    /// Holds a slot but is being rebuilt (data valid only up to a point).
    Rebuilding,
    /// A spare: no slot.
    Spare,
    /// Marked failed by the metadata.
    Faulty,
    /// An md RAID5 journal device.
    Journal,
    /// A member whose slot the metadata cannot tell: IMSM writes the same
    /// metadata to every disk and names disks by serial number only.
    Unidentified,
}

impl MemberState {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Active => "active",
            MemberState::Rebuilding => "rebuilding",
            MemberState::Spare => "spare",
            MemberState::Faulty => "faulty",
            MemberState::Journal => "journal",
            MemberState::Unidentified => "unidentified",
        }
    }
}

/// A device's place in one array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    /// Slot (RaidDevice) in the array; `None` for spares.
    pub slot: Option<u32>,
    /// Where the array's data starts on the device, in bytes.
    pub data_offset: u64,
    /// Bytes of array data on the device.
    pub data_size: Option<u64>,
    /// Active, spare, ...
    pub state: MemberState,
    /// For a rebuilding member, bytes from data_offset known to be in sync.
    pub recovery_offset: Option<u64>,
}

/// Everything one device's RAID metadata says.
#[derive(Debug, Clone)]
pub struct RaidMetadata {
    /// Format.
    pub format: RaidFormat,
    /// Format version ("1.2", "0.90", "01.02.00", "1.3.00").
    pub version: String,
    /// Byte offset of the (authoritative copy of the) metadata on the device.
    pub offset: u64,
    /// Sector size the metadata's LBAs count in.
    pub sector_size: u32,
    /// The freshness counter: md events, DDF header sequence, IMSM generation.
    pub events: u64,
    /// Last update, Unix seconds.
    pub update_time: Option<i64>,
    /// Whether the metadata's checksum matched (None: not checked).
    pub checksum_ok: Option<bool>,
    /// This device's own identity: md device UUID, DDF PD GUID, IMSM serial.
    pub device_id: Option<String>,
    /// The array or container UUID as blkid prints it, where blkid has one.
    pub blkid_uuid: Option<String>,
    /// The arrays the device belongs to and its role in each.
    pub arrays: Vec<(ArrayInfo, MemberRole)>,
    /// Format-specific facts, for the report.
    pub details: Vec<(&'static str, Detail)>,
    /// What is wrong with this copy.
    pub problems: Vec<Problem>,
}

impl RaidMetadata {
    /// A member's metadata as what identification found on the volume:
    /// a RAID member of the array it names first.
    pub fn identified(self) -> super::Identified {
        let mut id = super::Identified::new(self.format.as_str(), super::Usage::Raid, self.offset);
        if let Some((a, _)) = self.arrays.first() {
            id.label = a.name.clone();
        }
        id.uuid = self.blkid_uuid.clone();
        id.version = (!self.version.is_empty()).then(|| self.version.clone());
        id.checksum_ok = self.checksum_ok;
        id.details = self.details.clone();
        id.problems = self.problems.clone();
        id.raid = Some(Box::new(self));
        id
    }
}

/// Unix time from md's 1.x 64-bit time fields: the low 40 bits are seconds.
pub fn md_time(v: u64) -> i64 {
    (v & 0xFF_FFFF_FFFF) as i64 // ok: 40 bits fit
}

/// Metadata the unit tests build by hand.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// An md array of `level` with `n` slots and md's `layout` name.
    pub fn md_info(level: Level, n: u32, layout: &str) -> ArrayInfo {
        ArrayInfo {
            format: RaidFormat::Md,
            id: "x".into(),
            container: None,
            name: None,
            level,
            layout: Layout {
                native: String::new(),
                neutral: layout.into(),
            },
            chunk_size: Some(65536),
            raid_disks: n,
            array_size: None,
            member_size: None,
            secondary: None,
            state: String::new(),
            reshape: None,
            details: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// An md 1.1 member in slot 0 of `info`.
    pub fn md_member(info: ArrayInfo) -> RaidMetadata {
        let role = MemberRole {
            slot: Some(0),
            data_offset: 0,
            data_size: None,
            state: MemberState::Active,
            recovery_offset: None,
        };
        RaidMetadata {
            format: RaidFormat::Md,
            version: "1.1".into(),
            offset: 0,
            sector_size: 512,
            events: 1,
            update_time: None,
            checksum_ok: None,
            blkid_uuid: None,
            device_id: None,
            arrays: vec![(info, role)],
            details: Vec::new(),
            problems: Vec::new(),
        }
    }
}
