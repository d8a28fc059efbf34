//! What a validator reports about one structure.

/// What kind of thing a structure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A filesystem (or swap).
    Filesystem,
    /// A container that can fill a partition: LUKS, an LVM PV, an md member.
    Container,
    /// Metadata of a whole disk: DDF, IMSM.
    DiskMetadata,
    /// A partition table sector: MBR, EBR, GPT header.
    PartitionTable,
    /// A VM disk image's header or footer (usually a file inside a filesystem).
    VmImage,
}

impl FindingKind {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Filesystem => "filesystem",
            FindingKind::Container => "container",
            FindingKind::DiskMetadata => "disk_metadata",
            FindingKind::PartitionTable => "partition_table",
            FindingKind::VmImage => "vm_image",
        }
    }
}

/// One structure found and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it belongs to.
    pub kind: FindingKind,
    /// Its format: ext4, ntfs, fat32, gpt, mbr, qcow2, ...
    pub format: &'static str,
    /// Which structure: "primary superblock", "backup superblock 3",
    /// "backup boot sector", "GPT backup header", ...
    pub what: String,
    /// Byte offset of the structure in the scanned volume.
    pub at: u64,
    /// Where the filesystem (partition, disk, image) it belongs to starts,
    /// as the structure says.
    pub start: Option<u64>,
    /// That thing's size in bytes, as the structure says.
    pub size: Option<u64>,
    /// Label.
    pub label: Option<String>,
    /// UUID, serial or other identity, as blkid or the format prints it.
    pub uuid: Option<String>,
    /// How sure, 0 to 100.
    pub confidence: u8,
    /// Why: the checks that passed (and failed).
    pub reasons: Vec<String>,
}

impl Finding {
    /// A finding of `kind` and `format` for the structure at `at`.
    pub fn new(kind: FindingKind, format: &'static str, what: impl Into<String>, at: u64) -> Self {
        Finding {
            kind,
            format,
            what: what.into(),
            at,
            start: None,
            size: None,
            label: None,
            uuid: None,
            confidence: 50,
            reasons: Vec::new(),
        }
    }

    /// Records a passed check and raises the confidence by `gain`.
    pub fn because(&mut self, reason: impl Into<String>, gain: u8) {
        self.reasons.push(reason.into());
        self.confidence = self.confidence.saturating_add(gain).min(100);
    }

    /// True for the structure that sits at its filesystem's start (or, for
    /// ext and Btrfs, the primary superblock): what a wiped table leaves
    /// intact and a reformat overwrites.
    pub fn is_primary(&self) -> bool {
        let w = self.what.as_str();
        w.starts_with("primary")
            || w == "boot sector"
            || w == "boot region"
            || w.starts_with("LUKS header")
            || w == "PV label"
            || w.starts_with("md ")
            || w.starts_with("swap header")
    }

    /// Where a scan may resume to skip what this finding locates: the end
    /// of its filesystem or container, when this is the primary structure,
    /// its confidence is high (90 or more), and that end lies past the
    /// structure and within a volume of `len` bytes. Backups and weak
    /// structures never move the scan; a strong but stale superblock can
    /// (an old filesystem under a newer layout), which is why skipping is
    /// a choice the caller makes.
    pub fn skip_end(&self, len: u64) -> Option<u64> {
        if !matches!(self.kind, FindingKind::Filesystem | FindingKind::Container)
            || !self.is_primary()
            || self.confidence < 90
        {
            return None;
        }
        let end = self.start?.checked_add(self.size?)?;
        (end > self.at && end <= len).then_some(end)
    }

    /// Records a failed or missing check and lowers the confidence by `loss`.
    pub fn despite(&mut self, reason: impl Into<String>, loss: u8) {
        self.reasons.push(reason.into());
        self.confidence = self.confidence.saturating_sub(loss);
    }
}
