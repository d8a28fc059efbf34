//! The one list of the formats `recover` identifies by their superblocks:
//! for each, the name the JSON and the CLI use, what family it belongs to,
//! the structure its probe looks for, and the probe. Discovery identifies a
//! volume by walking this list; a new format is its folder and one line
//! here.

use crate::error::Result;
use crate::ident::{Identified, ProbeFn, HEAD_BYTES};
use crate::io::{bytes_up_to, Volume};

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

/// One format in the registry.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// The JSON `format` string (for formats whose probe names several,
    /// such as ext2/3/4 or fat12/16/32, the family's first).
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// The structure the probe looks for, for messages.
    pub structure: &'static str,
    /// The probe: `None` when the structure is not there, `Some(Err)` when
    /// it is there but damaged.
    pub probe: ProbeFn,
}

const fn format(
    name: &'static str,
    family: Family,
    structure: &'static str,
    probe: ProbeFn,
) -> Format {
    Format {
        name,
        family,
        structure,
        probe,
    }
}

/// Every format, in priority order: RAID and container metadata first (an
/// md 1.0 or 0.90 member of a RAID1 also shows its filesystem at the
/// start, and the member is what it is), then filesystems.
pub const FORMATS: &[Format] = &[
    format(
        "md",
        Family::RaidMetadata,
        "md superblock",
        crate::raid::md::identify,
    ),
    format(
        "ddf",
        Family::RaidMetadata,
        "DDF anchor",
        crate::raid::ddf::identify,
    ),
    format(
        "imsm",
        Family::RaidMetadata,
        "IMSM MPB",
        crate::raid::imsm::identify,
    ),
    format(
        "luks",
        Family::Crypto,
        "LUKS header",
        crate::fs::luks::identify,
    ),
    format(
        "lvm2",
        Family::VolumeManager,
        "LVM2 label",
        crate::lvm::label::identify,
    ),
    format(
        "ext4",
        Family::Filesystem,
        "ext superblock",
        crate::fs::ext4::identify,
    ),
    format(
        "xfs",
        Family::Filesystem,
        "XFS superblock",
        crate::fs::xfs::identify,
    ),
    format(
        "btrfs",
        Family::Filesystem,
        "Btrfs superblock",
        crate::fs::btrfs::identify,
    ),
    format(
        "ntfs",
        Family::Filesystem,
        "NTFS boot sector",
        crate::fs::ntfs::identify,
    ),
    format(
        "exfat",
        Family::Filesystem,
        "exFAT boot sector",
        crate::fs::exfat::identify,
    ),
    format(
        "fat32",
        Family::Filesystem,
        "FAT boot sector",
        crate::fs::fat::identify,
    ),
    format(
        "swap",
        Family::Swap,
        "swap header",
        crate::fs::swap::identify,
    ),
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
    FORMATS
        .iter()
        .filter_map(|f| (f.probe)(&head, vol))
        .map(|r| r.map_err(|e| e.within(&layer, 0)))
        .collect()
}
