//! Filesystems and the other things a partition can hold (swap, LVM PV,
//! LUKS, md member), identified by their superblocks.

#![deny(clippy::indexing_slicing)]

pub mod btrfs;
pub mod exfat;
pub mod ext4;
pub mod fat;
pub mod luks;
pub mod ntfs;
pub mod probe;
pub mod swap;
pub mod vmfs;
pub mod xfs;

pub use probe::{Detail, Identified, Usage};
pub mod file;
pub mod filesystem;
pub mod verify;

pub use file::{Extent, ExtentList, FileVolume};
pub use filesystem::{
    lookup, walk, DirEntry, FileId, FileKind, FileSystem, FileSystemRef, Stat, Timestamp,
};
