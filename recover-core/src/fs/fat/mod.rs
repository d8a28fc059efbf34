//! FAT12/16/32 identification.
//!
//! BIOS parameter block (Microsoft "FAT: General Overview of On-Disk
//! Format" v1.03, little-endian): jump 0, OEM 3, bytes per sector 11,
//! sectors per cluster 13, reserved sectors 14, FAT count 16, root entries
//! 17, total sectors (16-bit) 19, media 21, FAT size (16-bit) 22, total
//! sectors (32-bit) 32. FAT12/16: serial 39, label 43, type string 54.
//! FAT32: FAT size 36, root cluster 44, serial 67, label 71, type string 82.
//! FAT has no magic number; the type follows from the cluster count alone
//! (< 4085 FAT12, < 65525 FAT16, else FAT32), as the spec says.

pub mod dirent;
pub mod geometry;
pub mod reader;
pub mod table;

use crate::bytes::Bytes;
use crate::ident::{corrupt, warn, Detail, Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};

/// Root directory bytes read for the volume label; it is the first entry in
/// every real FAT, so one cluster's worth is plenty.
const LABEL_SCAN_BYTES: u64 = 64 << 10;

/// The fields of a boot sector that checked out.
#[derive(Debug, Clone)]
pub struct Bpb {
    /// Bytes per sector.
    pub bytes_per_sector: u32,
    /// Sectors per cluster.
    pub sectors_per_cluster: u32,
    /// Reserved sectors before the first FAT.
    pub reserved: u32,
    /// Number of FATs.
    pub fats: u32,
    /// Root directory entries (FAT12/16).
    pub root_entries: u32,
    /// Sectors in the volume.
    pub total_sectors: u64,
    /// Sectors per FAT.
    pub fat_sectors: u32,
    /// Data clusters.
    pub clusters: u64,
    /// 12, 16 or 32.
    pub bits: u8,
    /// FAT32 root directory cluster.
    pub root_cluster: u32,
    /// Volume serial number.
    pub serial: u32,
    /// Label in the boot sector.
    pub boot_label: Option<String>,
}

impl Bpb {
    /// First sector of the data area (cluster 2).
    pub fn first_data_sector(&self) -> u64 {
        let root_dir_sectors =
            (u64::from(self.root_entries) * 32).div_ceil(u64::from(self.bytes_per_sector));
        u64::from(self.reserved)
            + u64::from(self.fats) * u64::from(self.fat_sectors)
            + root_dir_sectors
    }
}

/// Parses a FAT boot sector; `None` when the sector is not one.
pub fn parse_bpb(bs: &[u8]) -> Option<crate::Result<Bpb>> {
    let b = Bytes(bs);
    let jump_ok = matches!((b.u8(0)?, b.u8(2)?), (0xEB, 0x90) | (0xE9, _));
    let typed = [b.get(54, 8)?, b.get(82, 8)?]
        .iter()
        .any(|t| t.starts_with(b"FAT1") || t.starts_with(b"FAT3"));
    let bps = u32::from(b.le_u16(11)?);
    let spc = u32::from(b.u8(13)?);
    let reserved = u32::from(b.le_u16(14)?);
    let fats = u32::from(b.u8(16)?);
    let root_entries = u32::from(b.le_u16(17)?);
    let media = b.u8(21)?;
    let tot16 = u64::from(b.le_u16(19)?);
    let tot32 = u64::from(b.le_u32(32)?);
    let fat16 = u32::from(b.le_u16(22)?);
    let fat32 = b.le_u32(36)?;
    let total = if tot16 != 0 { tot16 } else { tot32 };
    let fat_sectors = if fat16 != 0 { fat16 } else { fat32 };
    let plausible = jump_ok
        && matches!(bps, 512 | 1024 | 2048 | 4096)
        && spc.is_power_of_two()
        && spc <= 128
        && reserved >= 1
        && (1..=4).contains(&fats)
        && (media == 0xF0 || media >= 0xF8)
        && total > 0
        && fat_sectors > 0;
    if !plausible {
        // Without a type string, a sector that does not look like a BPB is
        // simply not FAT; with one, it is a damaged FAT boot sector.
        return typed.then(|| {
            Err(crate::Error::corrupt(
                "FAT boot sector",
                11,
                "a FAT type string, but the BIOS parameter block is not valid",
            ))
        });
    }
    let mut bpb = Bpb {
        bytes_per_sector: bps,
        sectors_per_cluster: spc,
        reserved,
        fats,
        root_entries,
        total_sectors: total,
        fat_sectors,
        clusters: 0,
        bits: 0,
        root_cluster: 0,
        serial: 0,
        boot_label: None,
    };
    let data_start = bpb.first_data_sector();
    if data_start >= total {
        return Some(Err(crate::Error::corrupt(
            "FAT boot sector",
            14,
            format!("the data area would start at sector {data_start}, past the volume's {total} sectors"),
        )));
    }
    bpb.clusters = (total - data_start) / u64::from(spc);
    // The spec decides by cluster count alone; Linux (and blkid, and
    // mkfs.fat -F 32 on small volumes) call it FAT32 whenever the 16-bit FAT
    // size is zero, and that is the layout the writer used. Follow Linux.
    bpb.bits = if fat16 == 0 {
        32
    } else if bpb.clusters < 4085 {
        12
    } else {
        16
    };
    let (serial_at, label_at) = if bpb.bits == 32 {
        if root_entries != 0 {
            return Some(Err(crate::Error::corrupt(
                "FAT boot sector",
                17,
                "FAT32 (no 16-bit FAT size), but the root entry count is set",
            )));
        }
        bpb.root_cluster = b.le_u32(44)?;
        (67, 71)
    } else {
        (39, 43)
    };
    // The extended boot signature 0x29 (or 0x28, serial only) says the serial and label are there.
    let ext_sig = b.u8(serial_at - 1)?;
    if ext_sig == 0x29 || ext_sig == 0x28 {
        bpb.serial = b.le_u32(serial_at)?;
    }
    if ext_sig == 0x29 {
        bpb.boot_label = label_text(b.get(label_at, 11)?);
    }
    Some(Ok(bpb))
}

/// A FAT 8.3-style label: trailing spaces dropped, "NO NAME" meaning none.
fn label_text(raw: &[u8]) -> Option<String> {
    let s: String = raw.iter().map(|&c| char::from(c)).collect();
    let s = s.trim_end_matches([' ', '\0']);
    (!s.is_empty() && s != "NO NAME").then(|| s.to_string())
}

/// Finds the volume-label entry in directory bytes.
fn dir_label(dir: &[u8]) -> Option<String> {
    // Each entry as a 32-byte array: the constant indices below are checked
    // at compile time.
    for e in dir.chunks_exact(32).flat_map(<&[u8; 32]>::try_from) {
        match e[0] {
            0x00 => break,
            0xE5 => continue,
            _ => {}
        }
        let attr = e[11];
        if attr & 0x0F != 0x0F && attr & 0x08 != 0 && attr & 0x10 == 0 {
            return label_text(&e[..11]);
        }
    }
    None
}

/// Identifies a FAT boot sector at offset 0.
pub fn identify(head: &[u8], vol: &dyn Volume) -> ProbeResult {
    let bpb = match parse_bpb(head)? {
        Ok(b) => b,
        Err(e) => return Some(Err(e)),
    };
    let format = match bpb.bits {
        12 => "fat12",
        16 => "fat16",
        _ => "fat32",
    };
    let bps = u64::from(bpb.bytes_per_sector);
    let mut id = Identified::new(format, Usage::Filesystem, 0);
    let Some(size) = bpb.total_sectors.checked_mul(bps) else {
        return corrupt("FAT boot sector", 19, "total sectors overflow");
    };
    id.size = Some(size);
    id.block_size = Some(bpb.bytes_per_sector * bpb.sectors_per_cluster);
    id.uuid =
        (bpb.serial != 0).then(|| format!("{:04X}-{:04X}", bpb.serial >> 16, bpb.serial & 0xFFFF));
    let root = if bpb.bits == 32 {
        u64::from(bpb.root_cluster)
            .checked_sub(2)
            .map(|c| (bpb.first_data_sector() + c * u64::from(bpb.sectors_per_cluster)) * bps)
            .map(|o| (o, u64::from(bpb.sectors_per_cluster) * bps))
    } else {
        let o = (u64::from(bpb.reserved) + u64::from(bpb.fats) * u64::from(bpb.fat_sectors)) * bps;
        Some((o, u64::from(bpb.root_entries) * 32))
    };
    let mut label = None;
    match root {
        Some((off, len)) => {
            let len = len.min(LABEL_SCAN_BYTES).min(vol.len().saturating_sub(off));
            match bytes_at(vol, off, len as usize) {
                Ok(dir) => label = dir_label(&dir),
                Err(_) => id.problems.push(warn(
                    "FAT root directory",
                    off,
                    "cannot be read; label from the boot sector",
                )),
            }
        }
        None => id.problems.push(warn(
            "FAT boot sector",
            44,
            format!(
                "root directory cluster {} is not a data cluster",
                bpb.root_cluster
            ),
        )),
    }
    id.label = label.or(bpb.boot_label.clone());
    if bpb.bits == 32 && bpb.clusters < 65525 {
        id.problems.push(warn(
            "FAT boot sector",
            22,
            format!(
                "FAT32 with {} clusters, fewer than the 65525 the FAT spec requires; read as FAT32, as Linux does",
                bpb.clusters
            ),
        ));
    }
    id.detail("clusters", Detail::Number(bpb.clusters));
    id.detail("bytes_per_sector", Detail::Number(bps));
    id.detail("fats", Detail::Number(u64::from(bpb.fats)));
    if bpb.bits == 32 {
        id.detail("root_cluster", Detail::Number(u64::from(bpb.root_cluster)));
    }
    Some(Ok(id))
}
