//! Identification: the words every format uses to say what a volume holds
//! (a superblock found, what it is for, its facts and its damage). Every
//! format module depends on this one, and this one on none of them, so the
//! top-level modules import one way: formats -> ident, never back.

#![deny(clippy::indexing_slicing)]

pub mod raid;

use crate::error::{Error, Result};
use crate::io::Volume;
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
    pub raid: Option<Box<raid::RaidMetadata>>,
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

/// A format's probe: the volume's first [`HEAD_BYTES`] bytes (fewer on a
/// smaller volume), and the volume to read more from.
pub type ProbeFn = fn(&[u8], &dyn Volume) -> ProbeResult;

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

/// A corruption error for a probe (offsets within the bytes it was given).
pub fn corrupt(structure: &'static str, offset: u64, detail: impl Into<String>) -> ProbeResult {
    Some(Err(Error::corrupt(structure, offset, detail)))
}

/// Severity helper so probes read naturally.
pub fn warn(structure: &str, offset: u64, detail: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        structure: structure.into(),
        offset: Some(offset),
        detail: detail.into(),
    }
}
