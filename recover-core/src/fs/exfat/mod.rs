//! exFAT identification.
//!
//! Main boot sector (Microsoft "exFAT file system specification" §3.1,
//! little-endian): FileSystemName "EXFAT   " at 3, MustBeZero 11..64,
//! PartitionOffset 64, VolumeLength 72 (sectors), FatOffset 80, FatLength
//! 84, ClusterHeapOffset 88, ClusterCount 92, FirstClusterOfRootDirectory
//! 96, VolumeSerialNumber 100, FileSystemRevision 104 (minor, major),
//! BytesPerSectorShift 108, SectorsPerClusterShift 109, NumberOfFats 110,
//! BootSignature 55 AA at 510. Sector 11 of the boot region repeats the
//! boot checksum (§3.4) of sectors 0..=10. The label is the root
//! directory's Volume Label entry (type 0x83, §7.3).

pub mod boot;
pub mod entry;
pub mod reader;

use crate::bytes::{utf16le_str, Bytes};
use crate::ident::{corrupt, warn, Detail, Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};

/// Identifies an exFAT main boot sector at offset 0.
pub fn identify(head: &[u8], vol: &dyn Volume) -> ProbeResult {
    let b = Bytes(head);
    if !b.has(3, b"EXFAT   ") {
        return None;
    }
    let s = "exFAT boot sector";
    if b.get(11, 53)?.iter().any(|&x| x != 0) {
        return corrupt(s, 11, "the MustBeZero field is not zero");
    }
    let bps_shift = u32::from(b.u8(108)?);
    let spc_shift = u32::from(b.u8(109)?);
    if !(9..=12).contains(&bps_shift) {
        return corrupt(
            s,
            108,
            format!("BytesPerSectorShift {bps_shift} is outside 9..=12"),
        );
    }
    if spc_shift > 25 - bps_shift {
        return corrupt(
            s,
            109,
            format!("SectorsPerClusterShift {spc_shift} makes clusters over 32 MiB"),
        );
    }
    let bps = 1u64 << bps_shift;
    let length = b.le_u64(72)?;
    let mut id = Identified::new("exfat", Usage::Filesystem, 0);
    id.size = length.checked_mul(bps);
    id.block_size = Some(1u32 << (bps_shift + spc_shift));
    let serial = b.le_u32(100)?;
    id.uuid = Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF));
    let (minor, major) = (b.u8(104)?, b.u8(105)?);
    id.version = Some(format!("{major}.{minor}"));
    // Boot checksum over sectors 0..=10, skipping VolumeFlags and PercentInUse.
    let region = (12 * bps) as usize;
    match b.get(0, region) {
        Some(r) => {
            // `r` is 12 sectors: the 11 summed, then the checksum sector.
            let (summed, tail) = r.split_at_checked((11 * bps) as usize)?;
            let sum = boot::boot_checksum(summed);
            let stored = Bytes(tail).le_u32(0)?;
            id.checksum("exFAT boot checksum", 11 * bps, stored, sum);
        }
        None => id
            .problems
            .push(warn(s, 0, "boot region cut short; checksum not checked")),
    }
    let heap = u64::from(b.le_u32(88)?);
    let root = u64::from(b.le_u32(96)?);
    let cluster = 1u64 << (bps_shift + spc_shift);
    if let Some(off) = root
        .checked_sub(2)
        .map(|c| heap * bps + c * cluster)
        .filter(|&o| o < vol.len())
    {
        let len = cluster.min(64 << 10).min(vol.len() - off);
        if let Ok(dir) = bytes_at(vol, off, len as usize) {
            // Each entry as a 32-byte array: the constant indices below are
            // checked at compile time.
            for e in dir.chunks_exact(32).flat_map(<&[u8; 32]>::try_from) {
                match e[0] {
                    0x00 => break,
                    0x83 => {
                        // At most 11 characters: bytes 2..24 of the entry.
                        let n = usize::from(e[1]).min(11);
                        id.label = e
                            .get(2..2 + 2 * n)
                            .map(utf16le_str)
                            .filter(|l| !l.is_empty());
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    id.detail("cluster_count", Detail::Number(u64::from(b.le_u32(92)?)));
    id.detail("partition_offset", Detail::Number(b.le_u64(64)?));
    Some(Ok(id))
}
