//! NTFS identification: the boot sector, and the $Volume record for the label.
//!
//! Boot sector (little-endian; the layout in Microsoft's "NTFS Boot Sector"
//! table and ntfs-3g's layout.h): OEM id "NTFS    " at 3, bytes per sector
//! 0x0B, sectors per cluster 0x0D (values above 0x80 mean 2^(256-v)), total
//! sectors 0x28, $MFT cluster 0x30, $MFTMirr cluster 0x38, clusters per
//! file record 0x40 (negative: 2^-v bytes), serial number 0x48, 55 AA at 0x1FE.
//!
//! An MFT record: "FILE" at 0, update sequence offset 4 and count 6, first
//! attribute offset 0x14. Attributes: type 0, length 4, non-resident flag 8,
//! resident value length 0x10 and offset 0x14. $VOLUME_NAME is type 0x60,
//! $VOLUME_INFORMATION 0x70 (major version at 8, minor at 9).

mod compressed;
pub mod index;
pub mod lznt1;
pub mod reader;
pub mod record;
pub mod runlist;

pub use reader::Ntfs;

use crate::bytes::{utf16le_str, Bytes};
use crate::ident::{corrupt, warn, Detail, Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};

/// MFT record number of $Volume.
const VOLUME_RECORD: u64 = 3;
/// NTFS protects records in 512-byte strides, whatever the sector size.
const FIXUP_STRIDE: usize = 512;

/// The boot sector's geometry.
#[derive(Debug, Clone, Copy)]
pub struct Boot {
    /// Bytes per sector.
    pub sector_size: u64,
    /// Bytes per cluster.
    pub cluster: u64,
    /// Sectors in the volume (the backup boot sector follows).
    pub total_sectors: u64,
    /// First cluster of $MFT.
    pub mft_lcn: u64,
    /// First cluster of $MFTMirr.
    pub mirr_lcn: u64,
    /// Bytes per MFT record.
    pub record_size: u64,
    /// Bytes per index block (0x44, as the record size).
    pub index_size: u64,
    /// Volume serial number.
    pub serial: u64,
}

/// A size byte of the boot sector: positive, clusters; negative, 2^-v bytes.
fn size_byte(v: i8, cluster: u64) -> Option<u64> {
    if v > 0 {
        Some(u64::from(v.unsigned_abs()) * cluster)
    } else {
        match v.unsigned_abs() {
            n @ 8..=16 => Some(1u64 << n),
            _ => None,
        }
    }
}

/// Parses the boot sector; errors give the field's offset and what is wrong.
pub fn parse_boot(head: &[u8]) -> Result<Boot, (u64, String)> {
    let b = Bytes(head);
    let short = || (0u64, "boot sector too short".to_string());
    let bps = u64::from(b.le_u16(0x0B).ok_or_else(short)?);
    if !(256..=4096).contains(&bps) || !bps.is_power_of_two() {
        return Err((
            0x0B,
            format!("bytes per sector {bps} is not a power of two in 256..=4096"),
        ));
    }
    let spc_raw = b.u8(0x0D).ok_or_else(short)?;
    let spc: u64 = match spc_raw {
        0 => return Err((0x0D, "sectors per cluster is zero".into())),
        1..=0x80 if spc_raw.is_power_of_two() => u64::from(spc_raw),
        0xE0..=0xFF => 1u64 << (256 - u32::from(spc_raw)),
        _ => {
            return Err((
                0x0D,
                format!("sectors per cluster byte {spc_raw:#04x} is not valid"),
            ))
        }
    };
    let cluster = bps * spc;
    if cluster > 2 << 20 {
        return Err((0x0D, format!("cluster size {cluster} exceeds 2 MiB")));
    }
    let total = b.le_u64(0x28).ok_or_else(short)?;
    if total == 0 {
        return Err((0x28, "total sector count is zero".into()));
    }
    let rec_raw = b.u8(0x40).ok_or_else(short)? as i8;
    let record_size = size_byte(rec_raw, cluster)
        .filter(|s| (256..=65536).contains(s))
        .ok_or((
            0x40,
            format!("file record size byte {rec_raw} is not valid"),
        ))?;
    let idx_raw = b.u8(0x44).ok_or_else(short)? as i8;
    let index_size = size_byte(idx_raw, cluster)
        .filter(|s| (256..=65536).contains(s))
        .ok_or((
            0x44,
            format!("index block size byte {idx_raw} is not valid"),
        ))?;
    Ok(Boot {
        sector_size: bps,
        cluster,
        total_sectors: total,
        mft_lcn: b.le_u64(0x30).ok_or_else(short)?,
        mirr_lcn: b.le_u64(0x38).ok_or_else(short)?,
        record_size,
        index_size,
        serial: b.le_u64(0x48).ok_or_else(short)?,
    })
}

/// Identifies an NTFS boot sector at offset 0.
pub fn identify(head: &[u8], vol: &dyn Volume) -> ProbeResult {
    let b = Bytes(head);
    if !b.has(3, b"NTFS    ") {
        return None;
    }
    let s = "NTFS boot sector";
    let boot = match parse_boot(head) {
        Ok(x) => x,
        Err((at, why)) => return corrupt(s, at, why),
    };
    let (bps, cluster, total, record_size) = (
        boot.sector_size,
        boot.cluster,
        boot.total_sectors,
        boot.record_size,
    );
    let mut id = Identified::new("ntfs", Usage::Filesystem, 0);
    id.block_size = Some(cluster as u32); // ok: <= 2 MiB
    id.uuid = Some(format!("{:016X}", boot.serial));
    // The volume is `total` sectors; the backup boot sector follows in the
    // partition's last sector, so the filesystem occupies one more.
    id.size = total.checked_add(1).and_then(|n| n.checked_mul(bps));
    if b.get(0x1FE, 2) != Some(&[0x55, 0xAA]) {
        id.problems.push(warn(s, 0x1FE, "no 55 AA boot signature"));
    }
    let mft_lcn = boot.mft_lcn;
    id.detail("mft_cluster", Detail::Number(mft_lcn));
    id.detail("mftmirr_cluster", Detail::Number(boot.mirr_lcn));
    id.detail("record_size", Detail::Number(record_size));
    let rec_off = mft_lcn
        .checked_mul(cluster)
        .and_then(|o| o.checked_add(VOLUME_RECORD * record_size));
    let rec = rec_off.and_then(|o| Some((o, bytes_at(vol, o, record_size as usize).ok()?)));
    match rec {
        Some((o, rec)) => match read_volume_record(&rec) {
            Ok((label, version)) => {
                id.label = label;
                id.version = version;
            }
            Err((at, why)) => id
                .problems
                .push(warn("NTFS $Volume record", o + at as u64, why)),
        },
        None => id.problems.push(warn(
            "NTFS $Volume record",
            rec_off.unwrap_or(0),
            "cannot be read (outside the volume?); no label",
        )),
    }
    Some(Ok(id))
}

/// Applies the update-sequence fixups to an MFT record in place.
pub fn apply_fixups(rec: &mut [u8]) -> Result<(), (usize, String)> {
    let b = Bytes(&*rec);
    let usa_ofs = usize::from(b.le_u16(4).ok_or((4, "record too short".to_string()))?);
    let usa_count = usize::from(b.le_u16(6).ok_or((6, "record too short".to_string()))?);
    if usa_count == 0 || (usa_count - 1) * FIXUP_STRIDE > rec.len() {
        return Err((
            6,
            format!("update sequence of {usa_count} entries does not fit the record"),
        ));
    }
    let usn = Bytes(rec)
        .le_u16(usa_ofs)
        .ok_or((4, "update sequence outside the record".to_string()))?;
    for i in 1..usa_count {
        let fix = Bytes(rec)
            .array::<2>(usa_ofs + 2 * i)
            .ok_or((4, "update sequence outside the record".to_string()))?;
        let end = i * FIXUP_STRIDE - 2;
        if Bytes(rec).le_u16(end) != Some(usn) {
            return Err((
                end,
                "update sequence number mismatch (torn write)".to_string(),
            ));
        }
        // Checked just above: the 2 bytes at `end` are inside the record.
        rec.get_mut(end..end + 2)
            .ok_or((end, "update sequence outside the record".to_string()))?
            .copy_from_slice(&fix);
    }
    Ok(())
}

/// Reads the label and version from the $Volume MFT record.
fn read_volume_record(raw: &[u8]) -> Result<(Option<String>, Option<String>), (usize, String)> {
    if raw.get(..4) != Some(b"FILE") {
        return Err((0, "no FILE signature".into()));
    }
    let mut rec = raw.to_vec();
    apply_fixups(&mut rec)?;
    let b = Bytes(&rec);
    let mut off = usize::from(
        b.le_u16(0x14)
            .ok_or((0x14, "record too short".to_string()))?,
    );
    let (mut label, mut version) = (None, None);
    // Each step moves forward by at least 16 bytes, so this ends.
    while let Some(kind) = b.le_u32(off) {
        if kind == 0xFFFF_FFFF {
            break;
        }
        let len = b.le_u32(off + 4).unwrap_or(0) as usize;
        if len < 16 || len % 8 != 0 || off + len > rec.len() {
            return Err((off + 4, format!("attribute length {len} is not valid")));
        }
        let resident = b.u8(off + 8) == Some(0);
        if resident && (kind == 0x60 || kind == 0x70) {
            let vlen = b.le_u32(off + 0x10).unwrap_or(0) as usize;
            let voff = usize::from(b.le_u16(off + 0x14).unwrap_or(0));
            let value = b
                .get(off + voff, vlen)
                .filter(|_| voff + vlen <= len)
                .ok_or((
                    off + 0x10,
                    "attribute value outside the attribute".to_string(),
                ))?;
            if kind == 0x60 {
                label = Some(utf16le_str(value)).filter(|l| !l.is_empty());
            } else if let (Some(&maj), Some(&min)) = (value.get(8), value.get(9)) {
                version = Some(format!("{maj}.{min}"));
            }
        }
        off += len;
    }
    Ok((label, version))
}
