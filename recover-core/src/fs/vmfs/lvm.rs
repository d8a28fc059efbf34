//! The VMFS LVM device header: the volume manager under every VMFS
//! datastore. Each device (a partition, usually the third of an ESXi boot
//! disk or the only one of a datastore LUN) carries, at 1 MiB, a header
//! naming the logical volume it belongs to and a table of physical extents
//! mapping ranges of the device into that volume. A datastore spanned over
//! several devices is gathered from all of them ([`super::span`]).
//!
//! Layout (little-endian; field offsets as VMware's lvmdriver uses them,
//! documented by dissect.vmfs's `c_lvm.py`):
//! - device metadata at 0x100000: magic 0xC001D00D 0x00, majorVersion
//!   0x04 (5 for VMFS5 and earlier, 6 for VMFS6), minorVersion 0x08,
//!   SCSI disk id 0x0c (type 0x0c, len 0x0d, vendor 0x12, model 0x1a,
//!   revision 0x2a, id 0x2e), diskBlockSize 0x5a, totalBytes 0x5e,
//!   numVolumes 0x66, numPEs 0x6a, lastPEIndex 0x6e, generation 0x72,
//!   dataOffset 0x7a, devID 0x82, numPEMaps 0xbe, extDevMetadataOffset
//!   0xc2, mdAlignment 0xca (LVM6), numPEs (LVM6, in volume units) 0xce;
//! - the volume table right after the metadata (512 bytes in; LVM6:
//!   mdAlignment bytes in), 512 entries (LVM6: one) of 512 bytes:
//!   logicalSize 0x00, generation 0x08, state 0x10, name 0x14 (64 bytes),
//!   LV UUID 0x54, snapID 0x64, creationTimeUS 0x68, volumeID 0x70,
//!   numPEs 0x74, firstPE 0x78, lastPE 0x80, modTimeUS 0x88, numDevs 0x90;
//! - a reserved area, then 32 device-name entries of 256 bytes (on the
//!   first device only), then pairs of a PE bitmap (1024 bytes; LVM6:
//!   max(mdAlignment, 1024)) and a PE table of 8192 entries of 128 bytes:
//!   used 0x00, peID 0x01, volumeID 0x05, pOffset 0x09, lOffset 0x11,
//!   length 0x19, version 0x21. Each further map's extents start 2 TiB
//!   further on the device. Extended metadata (magic 0x00, numPEMaps 0x04,
//!   dataOffset 0x08, nextOffset 0x10) continues the maps elsewhere.

#![deny(clippy::indexing_slicing)]

use crate::bytes::{padded_str, Bytes};
use crate::error::{Error, Result};
use crate::io::{bytes_at, Volume};

/// Where the device header sits on a device.
pub const HEADER_OFFSET: u64 = 0x10_0000;
/// The device metadata's magic.
pub const MAGIC: u32 = 0xC001_D00D;

const STRUCTURE: &str = "VMFS LVM device header";
const VOL_ENTRY: usize = 512;
const SD_ENTRY: usize = 256;
const SD_ENTRIES: usize = 32;
const PE_ENTRY: usize = 128;
const PES_PER_MAP: u64 = 8192;
const LVM5_BITMAP: usize = 1024;
/// Physical extents are read from at most this many maps (8 per metadata
/// region, chained): 64 maps of 8192 extents cover 128 PiB of 256 MiB
/// extents, far past any datastore (64 TiB).
const MAX_MAPS: u64 = 64;
/// Extended metadata regions followed at most.
const MAX_EXT: usize = 16;

/// One logical volume as a device describes it (its share of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeEntry {
    /// Its size in bytes (the whole volume, over all devices).
    pub logical_size: u64,
    /// Its generation.
    pub generation: u64,
    /// 1 when in normal use; 2 and 3 during a resignature.
    pub state: u32,
    /// Its name (ESXi writes the datastore's VMFS UUID here).
    pub name: String,
    /// Its UUID, as ESXi prints UUIDs.
    pub uuid: String,
    /// Snapshot id (a resignatured copy differs here).
    pub snap_id: u32,
    /// Its index on this device; physical extents name it.
    pub volume_id: u32,
    /// The volume's extents this device holds: first and last, counted
    /// over all devices in order.
    pub first_pe: u64,
    /// See `first_pe`.
    pub last_pe: u64,
    /// Devices the volume spans.
    pub num_devs: u32,
}

/// A physical extent: `len` bytes at `physical` on the device are bytes
/// `logical..` of volume `volume_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// The volume it belongs to.
    pub volume_id: u32,
    /// Byte offset on the device.
    pub physical: u64,
    /// Byte offset in the volume.
    pub logical: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A device's header, its volumes and its physical extents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// LVM major version: 5 (VMFS3 and 5) or 6 (VMFS6).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// The device's UUID.
    pub uuid: String,
    /// Its size as the header says.
    pub total_bytes: u64,
    /// The SCSI model and id ESXi saw (which LUN this was).
    pub disk_id: Option<String>,
    /// Its generation (bumped on every change; the newest copy of a device
    /// seen twice wins).
    pub generation: u64,
    /// The volumes it holds part of (one, in practice).
    pub volumes: Vec<VolumeEntry>,
    /// The device names of the volume's members, as the first device
    /// lists them (`t10.ATA_____...:1`); empty on the others.
    pub device_names: Vec<String>,
    /// Its physical extents, in table order.
    pub extents: Vec<Extent>,
}

/// ESXi's UUID text: time low, time high, random, MAC (`5f1c...-...`).
pub fn vmfs_uuid(b: &[u8; 16]) -> String {
    let [t0, t1, t2, t3, h0, h1, h2, h3, r0, r1, mac @ ..] = *b;
    let mac: String = mac.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{:08x}-{:08x}-{:04x}-{mac}",
        u32::from_le_bytes([t0, t1, t2, t3]),
        u32::from_le_bytes([h0, h1, h2, h3]),
        u16::from_le_bytes([r0, r1])
    )
}

fn bad(offset: usize, detail: impl Into<String>) -> Error {
    Error::corrupt(STRUCTURE, HEADER_OFFSET + offset as u64, detail)
}

/// True when the device header's magic is at 1 MiB of `head` (a probe's
/// first bytes do not reach it: `vol` is read).
pub fn present(vol: &dyn Volume) -> bool {
    vol.len() >= HEADER_OFFSET + 512
        && bytes_at(vol, HEADER_OFFSET, 4).is_ok_and(|b| Bytes(&b).le_u32(0) == Some(MAGIC))
}

/// Where the tables sit, from the version and alignment.
struct Layout {
    vol_table: usize,
    max_volumes: usize,
    sd_table: usize,
    pe_bitmap: usize,
    bitmap_size: usize,
}

fn layout(major: u32, md_alignment: u32) -> Result<Layout> {
    let (meta, max_volumes, bitmap_size) = if major >= 6 {
        let a = md_alignment as usize;
        if !(512..=0x10_0000).contains(&a) || !a.is_power_of_two() {
            return Err(bad(
                0xca,
                format!("metadata alignment {a} is not a power of two in 512..=1 MiB"),
            ));
        }
        (a, 1, a.max(LVM5_BITMAP))
    } else {
        (512, 512, LVM5_BITMAP)
    };
    // The area between the volume table and the device names: what is left
    // of 1024 sectors after one sector a volume, less the names.
    let reserved = (1024 - max_volumes) * 512 - SD_ENTRY * SD_ENTRIES;
    let sd_table = meta + max_volumes * VOL_ENTRY + reserved;
    Ok(Layout {
        vol_table: meta,
        max_volumes,
        sd_table,
        pe_bitmap: sd_table + SD_ENTRY * SD_ENTRIES,
        bitmap_size,
    })
}

fn volume_entry(e: Bytes) -> Option<VolumeEntry> {
    Some(VolumeEntry {
        logical_size: e.le_u64(0x00)?,
        generation: e.le_u64(0x08)?,
        state: e.le_u32(0x10)?,
        name: padded_str(e.get(0x14, 64)?).unwrap_or_default(),
        uuid: vmfs_uuid(&e.array(0x54)?),
        snap_id: e.le_u32(0x64)?,
        volume_id: e.le_u32(0x70)?,
        first_pe: e.le_u64(0x78)?,
        last_pe: e.le_u64(0x80)?,
        num_devs: e.le_u32(0x90)?,
    })
}

/// Reads the device header of `vol` and its physical extents. Errors name
/// the field and its offset on the device.
pub fn read_device(vol: &dyn Volume) -> Result<Device> {
    let head_len = 0x2000usize.min(vol.len().saturating_sub(HEADER_OFFSET) as usize); // ok: min with a small constant
    let raw = bytes_at(vol, HEADER_OFFSET, head_len)?;
    let b = Bytes(&raw);
    let short = || bad(0, "the header is cut short");
    if b.le_u32(0) != Some(MAGIC) {
        return Err(bad(0, "no 0xC001D00D magic"));
    }
    let major = b.le_u32(0x04).ok_or_else(short)?;
    if !(3..=6).contains(&major) {
        return Err(bad(4, format!("major version {major} is not 3 to 6")));
    }
    let md_alignment = b.le_u32(0xca).ok_or_else(short)?;
    let lay = layout(major, md_alignment)?;
    let num_volumes = b.le_u32(0x66).ok_or_else(short)? as usize;
    if num_volumes > lay.max_volumes {
        return Err(bad(
            0x66,
            format!(
                "{num_volumes} volumes; a device holds at most {}",
                lay.max_volumes
            ),
        ));
    }
    let disk_id = {
        let model = b.get(0x1a, 16).and_then(padded_str);
        let id = b.get(0x2e, 44).and_then(padded_str);
        match (model, id) {
            (Some(m), Some(i)) => Some(format!("{m} {i}")),
            (m, i) => m.or(i),
        }
    };
    let mut dev = Device {
        major,
        minor: b.le_u32(0x08).ok_or_else(short)?,
        uuid: vmfs_uuid(&b.array(0x82).ok_or_else(short)?),
        total_bytes: b.le_u64(0x5e).ok_or_else(short)?,
        disk_id,
        generation: b.le_u64(0x72).ok_or_else(short)?,
        volumes: Vec::new(),
        device_names: Vec::new(),
        extents: Vec::new(),
    };
    // The volume table: up to 512 entries of 512 bytes, read as needed.
    let table = bytes_at(
        vol,
        HEADER_OFFSET + lay.vol_table as u64,
        num_volumes * VOL_ENTRY,
    )?;
    for (i, e) in table.chunks_exact(VOL_ENTRY).enumerate() {
        let v = volume_entry(Bytes(e))
            .ok_or_else(|| bad(lay.vol_table + i * VOL_ENTRY, "volume entry cut short"))?;
        dev.volumes.push(v);
    }
    // Device names, on the device holding the volume's first extent.
    if major >= 5 && dev.volumes.iter().any(|v| v.first_pe == 0) {
        let names = bytes_at(
            vol,
            HEADER_OFFSET + lay.sd_table as u64,
            SD_ENTRY * SD_ENTRIES,
        )?;
        dev.device_names = names.chunks_exact(SD_ENTRY).map_while(padded_str).collect();
    }
    dev.extents = read_extents(vol, &b, &lay)?;
    Ok(dev)
}

/// The physical extents of every map, the chained extended regions'
/// included, up to numPEs entries; unused entries left out.
fn read_extents(vol: &dyn Volume, b: &Bytes, lay: &Layout) -> Result<Vec<Extent>> {
    let short = || bad(0, "the header is cut short");
    let num_pes = u64::from(b.le_u32(0x6a).ok_or_else(short)?);
    if num_pes > MAX_MAPS * PES_PER_MAP {
        return Err(bad(
            0x6a,
            format!("{num_pes} physical extents is past any datastore"),
        ));
    }
    let map_bytes = (lay.bitmap_size + PES_PER_MAP as usize * PE_ENTRY) as u64;
    // (where the maps of a region start on the device, how many maps)
    let mut regions = vec![(
        HEADER_OFFSET,
        u64::from(b.le_u32(0xbe).ok_or_else(short)?.max(1)),
    )];
    let mut next = b.le_u64(0xc2).ok_or_else(short)?;
    while next != 0 && regions.len() <= MAX_EXT {
        let ext = bytes_at(vol, next, 0x18).map_err(|_| {
            bad(
                0xc2,
                format!("extended metadata at {next:#x} is past the device"),
            )
        })?;
        let e = Bytes(&ext);
        if e.le_u32(0) != Some(MAGIC) {
            return Err(Error::corrupt(
                "VMFS LVM extended metadata",
                next,
                "no 0xC001D00D magic",
            ));
        }
        regions.push((next, u64::from(e.le_u32(4).unwrap_or(0))));
        next = e.le_u64(0x10).unwrap_or(0);
    }
    let mut out = Vec::new();
    let mut seen = 0u64;
    'regions: for (base, maps) in regions {
        for m in 0..maps.min(MAX_MAPS) {
            if seen >= num_pes {
                break 'regions;
            }
            let n = (num_pes - seen).min(PES_PER_MAP);
            let at = base + lay.pe_bitmap as u64 + m * map_bytes + lay.bitmap_size as u64;
            let table = bytes_at(vol, at, (n as usize) * PE_ENTRY).map_err(|_| {
                Error::corrupt("VMFS LVM extent table", at, "past the end of the device")
            })?;
            for e in table.chunks_exact(PE_ENTRY) {
                let e = Bytes(e);
                if e.u8(0) == Some(1) {
                    out.push(Extent {
                        volume_id: e.le_u32(0x05).unwrap_or(u32::MAX),
                        physical: e.le_u64(0x09).unwrap_or(0),
                        logical: e.le_u64(0x11).unwrap_or(0),
                        len: e.le_u64(0x19).unwrap_or(0),
                    });
                }
            }
            seen += n;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&0x6862_6efcu32.to_le_bytes());
        b[4..8].copy_from_slice(&0x23ce_1cd0u32.to_le_bytes());
        b[8..10].copy_from_slice(&0x1f8bu16.to_le_bytes());
        b[10..].copy_from_slice(&[0xbc, 0x24, 0x11, 0xb1, 0x7e, 0x28]);
        assert_eq!(vmfs_uuid(&b), "68626efc-23ce1cd0-1f8b-bc2411b17e28");
    }

    #[test]
    fn table_offsets() {
        let l5 = layout(5, 0).unwrap();
        assert_eq!(l5.vol_table, 512);
        // 512 volume entries, then 512 sectors less the names.
        assert_eq!(l5.sd_table, 512 + 512 * 512 + 512 * 512 - 256 * 32);
        let l6 = layout(6, 4096).unwrap();
        assert_eq!(l6.vol_table, 4096);
        assert_eq!(l6.bitmap_size, 4096);
        assert!(layout(6, 3000).is_err());
    }
}
