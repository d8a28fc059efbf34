//! exFAT volume layout from the main boot sector (Microsoft "exFAT file
//! system specification" §3.1, little-endian): FileSystemName "EXFAT   "
//! at 3, VolumeLength 72 (sectors), FatOffset 80 and FatLength 84
//! (sectors), ClusterHeapOffset 88 (sectors), ClusterCount 92,
//! FirstClusterOfRootDirectory 96, VolumeFlags 106 (bit 0 ActiveFat),
//! BytesPerSectorShift 108 (9..=12), SectorsPerClusterShift 109 (cluster
//! at most 32 MiB), NumberOfFats 110 (1 or 2), BootSignature 0xAA55 at
//! 510. Cluster `n` (from 2) starts at ClusterHeapOffset + (n - 2)
//! clusters (§3.1.8). The backup boot region starts at sector 12 (§3.2);
//! sector 11 of each region holds the boot checksum repeated (§3.4).

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

/// The boot checksum (§3.4) of a boot region's first 11 sectors `region`:
/// a 32-bit rotate-right-then-add over every byte but VolumeFlags (106,
/// 107) and PercentInUse (112), which change while mounted.
pub fn boot_checksum(region: &[u8]) -> u32 {
    region
        .iter()
        .enumerate()
        .filter(|&(i, _)| !matches!(i, 106 | 107 | 112))
        .fold(0u32, |sum, (_, &b)| {
            sum.rotate_right(1).wrapping_add(u32::from(b))
        })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A plausible main boot sector: 512-byte sectors, 4 KiB clusters.
    fn golden() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0..3].copy_from_slice(&[0xEB, 0x76, 0x90]);
        b[3..11].copy_from_slice(b"EXFAT   ");
        b[72..80].copy_from_slice(&2048u64.to_le_bytes());
        b[80..84].copy_from_slice(&128u32.to_le_bytes());
        b[84..88].copy_from_slice(&8u32.to_le_bytes());
        b[88..92].copy_from_slice(&256u32.to_le_bytes());
        b[92..96].copy_from_slice(&224u32.to_le_bytes());
        b[96..100].copy_from_slice(&4u32.to_le_bytes());
        b[108] = 9;
        b[109] = 3;
        b[110] = 1;
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    fn offset_of_error(b: &[u8]) -> Option<u64> {
        Boot::parse(b).err().and_then(|e| e.offset())
    }

    #[test]
    fn golden_parses() {
        let g = Boot::parse(&golden()).unwrap();
        assert_eq!(
            (g.cluster_size, g.fat_offset, g.heap_offset, g.root_cluster),
            (4096, 128 * 512, 256 * 512, 4)
        );
        assert_eq!(g.cluster_offset(2), 256 * 512);
        assert_eq!(g.cluster_offset(4), 256 * 512 + 8192);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: &[(usize, u8, u64)] = &[
            (3, b'X', 3),
            (108, 8, 108),
            (108, 13, 108),
            (109, 17, 109),
            (110, 0, 110),
            (110, 3, 110),
        ];
        for &(at, v, want) in cases {
            let mut b = golden();
            b[at] = v;
            assert_eq!(offset_of_error(&b), Some(want), "byte {at} = {v}");
        }
        let mut b = golden();
        b[92..96].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(offset_of_error(&b), Some(92));
        // The second FAT when ActiveFat says so.
        let mut b = golden();
        b[110] = 2;
        b[106] = 1;
        assert_eq!(Boot::parse(&b).unwrap().fat_offset, 136 * 512);
        // Cut short: an error, never a panic.
        for n in [0, 11, 100, 109] {
            assert!(Boot::parse(&golden()[..n]).is_err());
        }
    }
}
