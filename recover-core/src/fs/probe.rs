//! Identification: which superblocks a volume carries, best first.
//!
//! Each format's `identify` looks at the first bytes of the volume (and may
//! read more, such as the NTFS $Volume record or a FAT root directory for the
//! label) and answers `None` (not this format), `Some(Err)` (its magic is
//! there but the structure is damaged) or `Some(Ok)`.

use crate::error::{Error, Result};
use crate::io::{bytes_up_to, Volume};
use crate::problem::{Problem, Severity};

/// How many leading bytes every probe gets: enough for the Btrfs superblock
/// at 64 KiB and a swap header on 64 KiB pages.
pub const HEAD_BYTES: usize = 0x10000 + 0x1000;

/// What the content is for, as blkid's USAGE says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A filesystem with files.
    Filesystem,
    /// Swap space (or a hibernation image in it).
    Swap,
    /// A member of a RAID array.
    Raid,
    /// A member of an LVM volume group.
    Lvm,
    /// An encrypted container.
    Crypto,
}

impl Usage {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Filesystem => "filesystem",
            Usage::Swap => "swap",
            Usage::Raid => "raid",
            Usage::Lvm => "lvm",
            Usage::Crypto => "crypto",
        }
    }
}

/// A format-specific fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Text.
    Text(String),
    /// A number.
    Number(u64),
    /// Yes or no.
    Flag(bool),
}

/// A recognized superblock.
#[derive(Debug, Clone)]
pub struct Identified {
    /// Format name: ext2, ext3, ext4, jbd, xfs, btrfs, ntfs, fat12, fat16,
    /// fat32, exfat, swap, lvm2, luks, md.
    pub format: &'static str,
    /// What it is for.
    pub usage: Usage,
    /// Byte offset of the superblock (or label) within the volume.
    pub superblock_offset: u64,
    /// Volume label.
    pub label: Option<String>,
    /// UUID or serial, formatted as blkid prints it.
    pub uuid: Option<String>,
    /// Bytes the format says it occupies.
    pub size: Option<u64>,
    /// Block or cluster size.
    pub block_size: Option<u32>,
    /// Format version.
    pub version: Option<String>,
    /// Whether the superblock checksum matched: `None` when the format (or
    /// this instance) has no checksum.
    pub checksum_ok: Option<bool>,
    /// Other facts, in a fixed order per format.
    pub details: Vec<(&'static str, Detail)>,
    /// What is wrong.
    pub problems: Vec<Problem>,
    /// For RAID members, everything the metadata says.
    pub raid: Option<Box<crate::raid::metadata::RaidMetadata>>,
}

impl Identified {
    /// A blank result for `format` at `offset`.
    pub fn new(format: &'static str, usage: Usage, superblock_offset: u64) -> Self {
        Identified {
            format,
            usage,
            superblock_offset,
            label: None,
            uuid: None,
            size: None,
            block_size: None,
            version: None,
            checksum_ok: None,
            details: Vec::new(),
            problems: Vec::new(),
            raid: None,
        }
    }

    /// Adds a detail.
    pub fn detail(&mut self, key: &'static str, d: Detail) {
        self.details.push((key, d));
    }

    /// Records a checksum result, and a problem when it failed.
    pub fn checksum(&mut self, structure: &str, offset: u64, stored: u32, computed: u32) {
        let ok = stored == computed;
        self.checksum_ok = Some(ok);
        if !ok {
            self.problems.push(Problem::error(
                structure,
                Some(offset),
                format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
    }
}

/// What one format's probe answers.
pub type ProbeResult = Option<Result<Identified>>;

type ProbeFn = fn(&[u8], &dyn Volume) -> ProbeResult;

/// The probes in priority order: RAID and container signatures first (an
/// md 1.0 or 0.90 member of a RAID1 also shows its filesystem at the start,
/// and the member is what it is), then filesystems.
const PROBES: &[(&str, ProbeFn)] = &[
    ("md superblock", crate::raid::md::identify),
    ("DDF anchor", crate::raid::ddf::identify),
    ("IMSM MPB", crate::raid::imsm::identify),
    ("LUKS header", super::luks::identify),
    ("LVM2 label", crate::lvm::label::identify),
    ("ext superblock", super::ext4::identify),
    ("XFS superblock", super::xfs::identify),
    ("Btrfs superblock", super::btrfs::identify),
    ("NTFS boot sector", super::ntfs::identify),
    ("exFAT boot sector", super::exfat::identify),
    ("FAT boot sector", super::fat::identify),
    ("swap header", super::swap::identify),
];

/// Every superblock the volume carries, best first. A magic found with a
/// damaged structure around it comes back as an `Err` naming the structure
/// and offset; discovery reports it and goes on.
pub fn identify(vol: &dyn Volume) -> Vec<Result<Identified>> {
    let head = match bytes_up_to(vol, 0, HEAD_BYTES) {
        Ok(h) => h,
        Err(e) => return vec![Err(e)],
    };
    let layer = vol.describe();
    PROBES
        .iter()
        .filter_map(|(_, probe)| probe(&head, vol))
        .map(|r| r.map_err(|e| e.within(&layer, 0)))
        .collect()
}

/// The filesystems that own sector 0 with a boot sector (FAT, NTFS, exFAT).
/// When one of these is at offset 0, the 0x55AA there is the boot sector's,
/// not an MBR's.
pub fn boot_sector_filesystem(vol: &dyn Volume) -> Option<Identified> {
    let head = bytes_up_to(vol, 0, 4096).ok()?;
    for probe in [
        super::ntfs::identify as ProbeFn,
        super::exfat::identify,
        super::fat::identify,
    ] {
        if let Some(Ok(id)) = probe(&head, vol) {
            return Some(id);
        }
    }
    None
}

/// Adds a problem when the format claims more bytes than the volume has.
pub fn check_fits(id: &mut Identified, vol_len: u64) {
    if let Some(size) = id.size {
        if size > vol_len {
            id.problems.push(Problem::error(
                id.format,
                Some(id.superblock_offset),
                format!(
                    "the {} claims {size} bytes but its volume has {vol_len}: truncated, or the partition is too small",
                    id.format
                ),
            ));
        }
    }
}

/// A corruption error for a probe.
pub(crate) fn corrupt(
    structure: &'static str,
    offset: u64,
    detail: impl Into<String>,
) -> ProbeResult {
    Some(Err(Error::corrupt(structure, offset, detail)))
}

/// Severity helper so probes read naturally.
pub(crate) fn warn(structure: &str, offset: u64, detail: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        structure: structure.into(),
        offset: Some(offset),
        detail: detail.into(),
    }
}
