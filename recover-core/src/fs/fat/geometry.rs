//! Where things are in a FAT12/16/32 volume, from the BIOS parameter block
//! ([`super::parse_bpb`] checks the fields; fatgen103 "Boot Sector and BPB"
//! and "FAT Data Structure" give the layout):
//!
//! - reserved region: `BPB_RsvdSecCnt` (offset 14) sectors from sector 0;
//! - `BPB_NumFATs` (16) copies of the FAT, `BPB_FATSz16` (22) or
//!   `BPB_FATSz32` (36) sectors each;
//! - FAT12/16 only: the fixed root directory, `BPB_RootEntCnt` (17)
//!   entries of 32 bytes;
//! - the data region, cluster 2 first, `BPB_SecPerClus` (13) sectors of
//!   `BPB_BytsPerSec` (11) bytes per cluster. The FAT32 root directory is
//!   the cluster chain from `BPB_RootClus` (44).
//!
//! The FAT type follows from the cluster count (fatgen103 "FAT Type
//! Determination"), except that a BPB with a zero 16-bit FAT size is laid
//! out as FAT32 whatever its cluster count, as Linux and mkfs.fat do.

use super::table::FatKind;
use super::Bpb;
use crate::error::{Error, Result};

/// Where the root directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// FAT12/16: a fixed region of `len` bytes at `offset`.
    Fixed {
        /// Byte offset within the volume.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
    /// FAT32: a cluster chain.
    Cluster(u32),
}

/// The layout of a FAT volume.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// Entry width.
    pub kind: FatKind,
    /// Bytes per cluster.
    pub cluster_size: u64,
    /// Byte offset of the first FAT.
    pub fat_offset: u64,
    /// Bytes per FAT copy.
    pub fat_len: u64,
    /// Number of FAT copies.
    pub fats: u32,
    /// The root directory.
    pub root: Root,
    /// Byte offset of cluster 2.
    pub data_offset: u64,
    /// Highest data cluster number by the volume size (the FAT may hold
    /// fewer: [`super::table::FatTable`] clamps).
    pub max_cluster: u64,
}

impl Geometry {
    /// The layout from a checked BPB.
    pub fn new(bpb: &Bpb) -> Result<Geometry> {
        let bps = u64::from(bpb.bytes_per_sector);
        let kind = match bpb.bits {
            12 => FatKind::Fat12,
            16 => FatKind::Fat16,
            _ => FatKind::Fat32,
        };
        let fat_offset = u64::from(bpb.reserved) * bps;
        let fat_len = u64::from(bpb.fat_sectors) * bps;
        let data_offset = bpb.first_data_sector() * bps;
        let root = if kind == FatKind::Fat32 {
            Root::Cluster(bpb.root_cluster)
        } else {
            if bpb.root_entries == 0 {
                return Err(Error::corrupt(
                    "FAT boot sector",
                    17,
                    "FAT12/16 with no root directory entries",
                ));
            }
            Root::Fixed {
                offset: fat_offset + u64::from(bpb.fats) * fat_len,
                len: u64::from(bpb.root_entries) * 32,
            }
        };
        Ok(Geometry {
            kind,
            cluster_size: u64::from(bpb.sectors_per_cluster) * bps,
            fat_offset,
            fat_len,
            fats: bpb.fats,
            root,
            data_offset,
            max_cluster: bpb.clusters.saturating_add(1),
        })
    }

    /// Byte offset of data cluster `c` (>= 2).
    pub fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset + u64::from(c).saturating_sub(2) * self.cluster_size
    }
}
