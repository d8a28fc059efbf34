//! Btrfs: superblock identification, and the reader of its files.
//!
//! The reader is split by job: [`csum`] (checksum types), [`sb`] (the
//! superblock copies), [`devices`] (a filesystem's devices gathered by
//! fsid and devid), [`chunk`] (profiles and stripe math), [`space`]
//! (logical addresses read from devices, degraded), [`rebuild`] (RAID5/6
//! elements from parity), [`tree`] (nodes and leaves),
//! [`items`] (the item payloads), [`lzo`] and [`compress`] (extent
//! decompression), [`file`] (a file as a volume), [`reader`] (the
//! [`FileSystem`](crate::fs::FileSystem) implementation).
//!
//! Identification reads only the primary superblock.
//! The primary superblock is at 64 KiB, 4096 bytes, little-endian
//! (btrfs_tree.h, struct btrfs_super_block): csum 0x00 (crc32c of bytes
//! 0x20..0x1000 when csum_type is 0), fsid 0x20, bytenr 0x30, magic
//! "_BHRfS_M" 0x40, generation 0x48, total_bytes 0x70, bytes_used 0x78,
//! num_devices 0x88, sectorsize 0x90, nodesize 0x94, csum_type 0xC4,
//! dev_item 0xC9 (devid +0, total_bytes +8, uuid +66), label 0x12B (256).

#![deny(clippy::indexing_slicing)]

pub mod chunk;
pub mod compress;
pub mod csum;
pub mod devices;
pub mod file;
pub mod items;
pub mod lzo;
pub mod reader;
pub mod rebuild;
pub mod sb;
pub mod space;
pub mod tree;

use crate::bytes::{padded_str, uuid_str, Bytes};
use crate::checksum::crc32c;
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

/// Byte offset of the primary superblock.
pub const SUPERBLOCK_OFFSET: usize = 0x10000;
const DEV_ITEM: usize = 0xC9;

/// Identifies the primary Btrfs superblock.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let sb = Bytes(head.get(SUPERBLOCK_OFFSET..)?);
    if !sb.has(0x40, b"_BHRfS_M") {
        return None;
    }
    let s = "Btrfs superblock";
    let off = SUPERBLOCK_OFFSET as u64;
    if sb.len() < 0x1000 {
        return corrupt(s, off, "superblock cut short by the end of the volume");
    }
    let bytenr = sb.le_u64(0x30)?;
    if bytenr != off {
        return corrupt(
            s,
            off + 0x30,
            format!("says it is at byte {bytenr:#x}, not {off:#x}"),
        );
    }
    let sectorsize = sb.le_u32(0x90)?;
    if !(512..=65536).contains(&sectorsize) || !sectorsize.is_power_of_two() {
        return corrupt(
            s,
            off + 0x90,
            format!("sector size {sectorsize} is not a power of two in 512..=65536"),
        );
    }
    let mut id = Identified::new("btrfs", Usage::Filesystem, off);
    id.uuid = Some(uuid_str(&sb.array(0x20)?));
    id.label = padded_str(sb.get(0x12B, 256)?);
    id.block_size = Some(sectorsize);
    id.size = Some(sb.le_u64(DEV_ITEM + 8)?);
    if sb.le_u16(0xC4)? == 0 {
        let stored = sb.le_u32(0)?;
        id.checksum(s, off, stored, crc32c(sb.get(0x20, 0x1000 - 0x20)?));
    }
    id.detail(
        "uuid_sub",
        Detail::Text(uuid_str(&sb.array(DEV_ITEM + 66)?)),
    );
    id.detail("devid", Detail::Number(sb.le_u64(DEV_ITEM)?));
    id.detail("num_devices", Detail::Number(sb.le_u64(0x88)?));
    id.detail("total_bytes", Detail::Number(sb.le_u64(0x70)?));
    id.detail("generation", Detail::Number(sb.le_u64(0x48)?));
    id.detail("nodesize", Detail::Number(u64::from(sb.le_u32(0x94)?)));
    Some(Ok(id))
}
