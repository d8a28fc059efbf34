//! The signature table: for each structure the deep scan looks for, its
//! magic, where the magic sits in the structure, and the validator that
//! checks what surrounds it.
//!
//! Every structure here starts on a 512-byte boundary of the volume (a
//! sector: filesystems and tables start on sectors, and their superblocks
//! and backups sit at sector multiples inside them), so the scanner looks
//! at each sector once, at the few offsets where magics sit.

use super::finding::Finding;
use super::validators::{containers, filesystems, images, tables};
use crate::io::VolumeRef;

/// What a validator gets: the volume, where the structure starts, and the
/// bytes from there (as many as the signature asked for, fewer at the end
/// of the volume). A validator may read more from the volume.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The volume being scanned.
    pub vol: &'a VolumeRef,
    /// Byte offset of the structure.
    pub at: u64,
    /// The structure's bytes.
    pub bytes: &'a [u8],
}

/// Checks a structure; `None` when it is not one.
pub type Validator = fn(&Context) -> Option<Finding>;

/// One entry of the table.
#[derive(Clone, Copy)]
pub struct Signature {
    /// What it finds.
    pub name: &'static str,
    /// The magic bytes.
    pub magic: &'static [u8],
    /// Where the magic sits, from the start of the structure's sector.
    pub magic_offset: usize,
    /// Bytes of the structure the validator wants in one piece.
    pub need: usize,
    /// The validator.
    pub validate: Validator,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context(at {:#x}, {} bytes)", self.at, self.bytes.len())
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", self.name)
    }
}

/// Structures start on this boundary.
pub const SECTOR: u64 = 512;

/// Every signature the deep scan knows.
pub const SIGNATURES: &[Signature] = &[
    Signature {
        name: "ext superblock",
        magic: &[0x53, 0xEF],
        magic_offset: 0x38,
        need: 1024,
        validate: filesystems::ext,
    },
    Signature {
        name: "XFS superblock",
        magic: b"XFSB",
        magic_offset: 0,
        need: 1024,
        validate: filesystems::xfs,
    },
    Signature {
        name: "Btrfs superblock",
        magic: b"_BHRfS_M",
        magic_offset: 0x40,
        need: 4096,
        validate: filesystems::btrfs,
    },
    Signature {
        name: "NTFS boot sector",
        magic: b"NTFS    ",
        magic_offset: 3,
        need: 512,
        validate: filesystems::ntfs,
    },
    Signature {
        name: "exFAT boot sector",
        magic: b"EXFAT   ",
        magic_offset: 3,
        need: 512 * 12,
        validate: filesystems::exfat,
    },
    Signature {
        name: "FAT boot sector",
        magic: &[0x55, 0xAA],
        magic_offset: 510,
        need: 512,
        validate: filesystems::fat,
    },
    Signature {
        name: "swap signature",
        magic: b"SWAPSPACE2",
        magic_offset: 502,
        need: 512,
        validate: filesystems::swap,
    },
    Signature {
        name: "LUKS header",
        magic: b"LUKS\xba\xbe",
        magic_offset: 0,
        need: 512,
        validate: containers::luks,
    },
    Signature {
        name: "LUKS2 second header",
        magic: b"SKUL\xba\xbe",
        magic_offset: 0,
        need: 512,
        validate: containers::luks,
    },
    Signature {
        name: "LVM2 label",
        magic: b"LABELONE",
        magic_offset: 0,
        need: 512,
        validate: containers::lvm,
    },
    Signature {
        name: "VMFS LVM device header",
        magic: &[0x0D, 0xD0, 0x01, 0xC0],
        magic_offset: 0,
        need: 512,
        validate: containers::vmfs_lvm,
    },
    Signature {
        name: "md superblock",
        magic: &[0xFC, 0x4E, 0x2B, 0xA9],
        magic_offset: 0,
        need: 4096,
        validate: containers::md,
    },
    Signature {
        name: "md 0.90 superblock (big-endian)",
        magic: &[0xA9, 0x2B, 0x4E, 0xFC],
        magic_offset: 0,
        need: 4096,
        validate: containers::md,
    },
    Signature {
        name: "DDF header",
        magic: &[0xDE, 0x11, 0xDE, 0x11],
        magic_offset: 0,
        need: 512,
        validate: containers::ddf,
    },
    Signature {
        name: "DDF header (little-endian)",
        magic: &[0x11, 0xDE, 0x11, 0xDE],
        magic_offset: 0,
        need: 512,
        validate: containers::ddf,
    },
    Signature {
        name: "IMSM MPB",
        magic: b"Intel Raid ISM Cfg Sig. ",
        magic_offset: 0,
        need: 512,
        validate: containers::imsm,
    },
    Signature {
        name: "MBR or EBR",
        magic: &[0x55, 0xAA],
        magic_offset: 510,
        need: 512,
        validate: tables::mbr,
    },
    Signature {
        name: "GPT header",
        magic: b"EFI PART",
        magic_offset: 0,
        need: 512,
        validate: tables::gpt,
    },
    Signature {
        name: "qcow2 header",
        magic: b"QFI\xfb",
        magic_offset: 0,
        need: 512,
        validate: images::qcow2,
    },
    Signature {
        name: "VMDK sparse header",
        magic: b"KDMV",
        magic_offset: 0,
        need: 512,
        validate: images::vmdk,
    },
    Signature {
        name: "VMDK descriptor",
        magic: b"# Disk DescriptorFile",
        magic_offset: 0,
        need: 512,
        validate: images::vmdk_descriptor,
    },
    Signature {
        name: "VHD footer",
        magic: b"conectix",
        magic_offset: 0,
        need: 512,
        validate: images::vhd,
    },
    Signature {
        name: "VHDX file identifier",
        magic: b"vhdxfile",
        magic_offset: 0,
        need: 512,
        validate: images::vhdx,
    },
    Signature {
        name: "VDI header",
        magic: b"<<< ",
        magic_offset: 0,
        need: 512,
        validate: images::vdi,
    },
];

/// The longest piece any validator wants: how far scan blocks overlap.
pub fn longest() -> usize {
    SIGNATURES
        .iter()
        .map(|s| s.need)
        .max()
        .unwrap_or(SECTOR as usize)
}
