//! exFAT volume layout from the main boot sector (Microsoft "exFAT file
//! system specification" §3.1, little-endian): FileSystemName "EXFAT   "
//! at 3, VolumeLength 72 (sectors), FatOffset 80 and FatLength 84
//! (sectors), ClusterHeapOffset 88 (sectors), ClusterCount 92,
//! FirstClusterOfRootDirectory 96, VolumeFlags 106 (bit 0 ActiveFat),
//! BytesPerSectorShift 108 (9..=12), SectorsPerClusterShift 109 (cluster
//! at most 32 MiB), NumberOfFats 110 (1 or 2), BootSignature 0xAA55 at
//! 510. Cluster `n` (from 2) starts at ClusterHeapOffset + (n - 2)
//! clusters (§3.1.8).

use crate::bytes::Bytes;
use crate::error::{Error, Result};

/// The layout of an exFAT volume.
#[derive(Debug, Clone)]
pub struct Boot {
    /// Bytes per sector.
    pub sector_size: u64,
    /// Bytes per cluster.
    pub cluster_size: u64,
    /// Byte offset of the FAT in use (the second one when NumberOfFats is
    /// 2 and VolumeFlags.ActiveFat says so).
    pub fat_offset: u64,
    /// Bytes per FAT.
    pub fat_len: u64,
    /// Byte offset of the cluster heap (cluster 2).
    pub heap_offset: u64,
    /// ClusterCount.
    pub cluster_count: u32,
    /// FirstClusterOfRootDirectory.
    pub root_cluster: u32,
}

impl Boot {
    /// Parses the main boot sector `bs`; offsets in errors are within it.
    pub fn parse(bs: &[u8]) -> Result<Boot> {
        let s = "exFAT boot sector";
        let b = Bytes(bs);
        let short = || Error::corrupt(s, 0, "cut short");
        if !b.has(3, b"EXFAT   ") {
            return Err(Error::corrupt(s, 3, "no \"EXFAT   \" file system name"));
        }
        let bps_shift = b.u8(108).ok_or_else(short)?;
        let spc_shift = b.u8(109).ok_or_else(short)?;
        if !(9..=12).contains(&bps_shift) {
            return Err(Error::corrupt(
                s,
                108,
                format!("BytesPerSectorShift {bps_shift} is outside 9..=12"),
            ));
        }
        if u32::from(spc_shift) + u32::from(bps_shift) > 25 {
            return Err(Error::corrupt(
                s,
                109,
                format!("SectorsPerClusterShift {spc_shift} makes clusters over 32 MiB"),
            ));
        }
        let sector = 1u64 << bps_shift;
        let fats = b.u8(110).ok_or_else(short)?;
        if !(1..=2).contains(&fats) {
            return Err(Error::corrupt(
                s,
                110,
                format!("NumberOfFats {fats} is not 1 or 2"),
            ));
        }
        let flags = b.le_u16(106).ok_or_else(short)?;
        let fat_len = u64::from(b.le_u32(84).ok_or_else(short)?) * sector;
        let mut fat_offset = u64::from(b.le_u32(80).ok_or_else(short)?) * sector;
        if fats == 2 && flags & 1 != 0 {
            fat_offset += fat_len;
        }
        let cluster_count = b.le_u32(92).ok_or_else(short)?;
        if cluster_count == 0 || cluster_count > 0xFFFF_FFF5 {
            return Err(Error::corrupt(
                s,
                92,
                format!("ClusterCount {cluster_count} is out of range"),
            ));
        }
        Ok(Boot {
            sector_size: sector,
            cluster_size: sector << spc_shift,
            fat_offset,
            fat_len,
            heap_offset: u64::from(b.le_u32(88).ok_or_else(short)?) * sector,
            cluster_count,
            root_cluster: b.le_u32(96).ok_or_else(short)?,
        })
    }

    /// Byte offset of cluster `c` (>= 2).
    pub fn cluster_offset(&self, c: u32) -> u64 {
        self.heap_offset + u64::from(c).saturating_sub(2) * self.cluster_size
    }
}
