//! The one list of the formats `recover` identifies by their superblocks:
//! for each, the names the JSON and the CLI use, what family it belongs to,
//! the structure its probe looks for, the probe, and how its files are
//! opened; and the partition types that suit each content. Discovery
//! identifies a volume by walking this list and opens filesystems through
//! it; a new format is its folder and one line here.

use std::sync::Arc;

use crate::error::Result;
use crate::fs::FileSystemRef;
use crate::ident::raid::RaidMetadata;
use crate::ident::{Identified, ProbeFn, HEAD_BYTES};
use crate::io::{bytes_up_to, Volume, VolumeRef};

/// What kind of thing a format is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RAID or container metadata on a member disk (md, DDF, IMSM, the
    /// BIOS RAID formats).
    RaidMetadata,
    /// A volume manager's physical volume (LVM2).
    VolumeManager,
    /// An encrypted container (LUKS).
    Crypto,
    /// A filesystem with files.
    Filesystem,
    /// Swap space.
    Swap,
}

/// How a format is found on a volume. Either answers `None` when the
/// structure is not there, `Some(Err)` when it is there but damaged.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// From the volume's first [`HEAD_BYTES`] (and more read from it).
    Head(ProbeFn),
    /// RAID member metadata read from wherever the format keeps it (the
    /// BIOS RAID formats: the last sectors), described in neutral words.
    Member(fn(&dyn Volume) -> Option<Result<RaidMetadata>>),
}

/// Opens the files of a filesystem on a volume.
pub type OpenFn = fn(VolumeRef) -> Result<FileSystemRef>;

/// One format in the registry.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// The JSON `format` strings its probe may give (ext2, ext3, ext4 and
    /// jbd from one superblock; fat12, fat16 and fat32 from one boot
    /// sector); the first names the entry.
    pub names: &'static [&'static str],
    /// Its family.
    pub family: Family,
    /// The structure the probe looks for, for messages.
    pub structure: &'static str,
    /// How it is found.
    pub probe: Probe,
    /// How its files are read, for a filesystem whose reader exists.
    pub open: Option<OpenFn>,
}

const fn format(
    names: &'static [&'static str],
    family: Family,
    structure: &'static str,
    probe: Probe,
    open: Option<OpenFn>,
) -> Format {
    Format {
        names,
        family,
        structure,
        probe,
        open,
    }
}

use Family::{Crypto, Filesystem, RaidMetadata as Raid, Swap, VolumeManager};
use Probe::{Head, Member};

fn ext4(v: VolumeRef) -> Result<FileSystemRef> {
    crate::fs::ext4::Ext4::open(v).map(|f| Arc::new(f) as FileSystemRef)
}

fn ntfs(v: VolumeRef) -> Result<FileSystemRef> {
    crate::fs::ntfs::Ntfs::open(v).map(|f| Arc::new(f) as FileSystemRef)
}

/// Every format, in priority order: RAID and container metadata first (an
/// md 1.0 or 0.90 member of a RAID1 also shows its filesystem at the
/// start, and the member is what it is), then filesystems, then the BIOS
/// RAID formats, whose metadata sits in the last sectors of a member whose
/// first sectors hold the array's own start. One line a format.
#[rustfmt::skip]
pub const FORMATS: &[Format] = &[
    format(&["md"], Raid, "md superblock", Head(crate::raid::md::identify), None),
    format(&["ddf"], Raid, "DDF anchor", Head(crate::raid::ddf::identify), None),
    format(&["imsm"], Raid, "IMSM MPB", Head(crate::raid::imsm::identify), None),
    format(&["luks"], Crypto, "LUKS header", Head(crate::fs::luks::identify), None),
    format(&["lvm2"], VolumeManager, "LVM2 label", Head(crate::lvm::label::identify), None),
    format(&["vmfs-lvm"], VolumeManager, "VMFS LVM device header", Head(crate::fs::vmfs::identify_lvm), None),
    format(&["ext4", "ext3", "ext2", "jbd"], Filesystem, "ext superblock", Head(crate::fs::ext4::identify), Some(ext4)),
    format(&["xfs"], Filesystem, "XFS superblock", Head(crate::fs::xfs::identify), Some(crate::fs::xfs::reader::open)),
    format(&["btrfs"], Filesystem, "Btrfs superblock", Head(crate::fs::btrfs::identify), Some(crate::fs::btrfs::reader::open)),
    format(&["ntfs"], Filesystem, "NTFS boot sector", Head(crate::fs::ntfs::identify), Some(ntfs)),
    format(&["vmfs6", "vmfs5"], Filesystem, "VMFS descriptor", Head(crate::fs::vmfs::identify), Some(crate::fs::vmfs::reader::open)),
    format(&["exfat"], Filesystem, "exFAT boot sector", Head(crate::fs::exfat::identify), Some(crate::fs::exfat::reader::open)),
    format(&["fat32", "fat16", "fat12"], Filesystem, "FAT boot sector", Head(crate::fs::fat::identify), Some(crate::fs::fat::reader::open)),
    format(&["swap"], Swap, "swap header", Head(crate::fs::swap::identify), None),
    format(&["asr"], Raid, "Adaptec HostRAID metadata", Member(crate::raid::asr::read), None),
    format(&["hpt37x"], Raid, "HighPoint 37x metadata", Member(crate::raid::hpt37x::read), None),
    format(&["hpt45x"], Raid, "HighPoint 45x metadata", Member(crate::raid::hpt45x::read), None),
    format(&["jmicron"], Raid, "JMicron metadata", Member(crate::raid::jmicron::read), None),
    format(&["lsi"], Raid, "LSI MegaRAID metadata", Member(crate::raid::lsi::read), None),
    format(&["nvidia"], Raid, "NVIDIA MediaShield metadata", Member(crate::raid::nvidia::read), None),
    format(&["promise"], Raid, "Promise FastTrak metadata", Member(crate::raid::promise::read), None),
    format(&["sil"], Raid, "Silicon Image Medley metadata", Member(crate::raid::sil::read), None),
    format(&["via"], Raid, "VIA V-RAID metadata", Member(crate::raid::via::read), None),
];

/// The registry entry whose probe gives the JSON format `name`.
pub fn find(name: &str) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.names.contains(&name))
}

/// Opens the files of the filesystem `format` (as identification names it)
/// on `vol`; `None` when no reader handles the format (the ext journal
/// device `jbd` holds no files).
pub fn open_filesystem(format: &str, vol: VolumeRef) -> Option<Result<FileSystemRef>> {
    if format == "jbd" {
        return None;
    }
    find(format).and_then(|f| f.open).map(|open| open(vol))
}

/// Every superblock the volume carries, best first. A magic found with a
/// damaged structure around it comes back as an `Err` naming the structure
/// and offset; discovery reports it and goes on.
pub fn identify(vol: &dyn Volume) -> Vec<Result<Identified>> {
    let head = match bytes_up_to(vol, 0, HEAD_BYTES) {
        Ok(h) => h,
        Err(e) => return vec![Err(e)],
    };
    let layer = vol.describe();
    FORMATS
        .iter()
        .filter_map(|f| match f.probe {
            Head(probe) => probe(&head, vol),
            Member(read) => read(vol).map(|r| r.map(RaidMetadata::identified)),
        })
        .map(|r| r.map_err(|e| e.within(&layer, 0)))
        .collect()
}

/// The partition type that suits a content, for partitions the deep scan
/// recovers (their MBR type byte, and the sfdisk script's types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionHint {
    /// The MBR type byte.
    pub mbr: u8,
    /// The GPT partition type GUID, upper case as sfdisk writes it.
    pub gpt: &'static str,
}

const LINUX: PartitionHint = PartitionHint {
    mbr: 0x83,
    gpt: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
};
const BASIC_DATA: &str = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

/// The partition type for a content by its JSON format name (fat12, fat16
/// and fat32 differ in MBR type; everything not named is a Linux
/// filesystem).
#[rustfmt::skip]
const PARTITION_HINTS: &[(&str, PartitionHint)] = &[
    ("ntfs", PartitionHint { mbr: 0x07, gpt: BASIC_DATA }),
    ("exfat", PartitionHint { mbr: 0x07, gpt: BASIC_DATA }),
    ("fat12", PartitionHint { mbr: 0x01, gpt: BASIC_DATA }),
    ("fat16", PartitionHint { mbr: 0x06, gpt: BASIC_DATA }),
    ("fat32", PartitionHint { mbr: 0x0c, gpt: BASIC_DATA }),
    ("swap", PartitionHint { mbr: 0x82, gpt: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" }),
    ("lvm2", PartitionHint { mbr: 0x8e, gpt: "E6D6D379-F507-44C2-A23C-238F2A3DF928" }),
    ("md", PartitionHint { mbr: 0xfd, gpt: "A19D880F-05FC-4D3B-A006-743F0F84911E" }),
    ("vmfs-lvm", PartitionHint { mbr: 0xfb, gpt: "AA31E02A-400F-11DB-9590-000C2911D1B8" }),
];

/// The partition type that suits content of `format`.
pub fn partition_hint(format: &str) -> PartitionHint {
    PARTITION_HINTS
        .iter()
        .find(|(f, _)| *f == format)
        .map_or(LINUX, |(_, h)| *h)
}
