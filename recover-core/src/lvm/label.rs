//! The LVM2 physical-volume label.
//!
//! One of the first four sectors starts with a label header (lvm2
//! lib/label/label.h, struct label_header, little-endian): "LABELONE" at 0,
//! sector_xl 8 (the sector it sits in), crc_xl 16 (LVM's CRC of bytes
//! 20..512, initial value 0xf597a6cf), offset_xl 20 (where the PV header
//! starts in the sector, normally 32), type "LVM2 001" at 24. The PV header
//! (lib/format_text/layout.h, struct pv_header): pv_uuid (32 characters) at
//! 0, device_size_xl 32, then the data-area and metadata-area lists.

use crate::bytes::Bytes;
use crate::checksum::lvm_crc;
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

const INITIAL_CRC: u32 = 0xf597_a6cf;

/// Formats a 32-character LVM id the way LVM prints it: 6-4-4-4-4-4-6.
pub fn format_lvm_uuid(raw: &[u8]) -> String {
    let mut s = String::with_capacity(38);
    let mut at = 0;
    for (i, n) in [6usize, 4, 4, 4, 4, 4, 6].into_iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        s.extend(raw.iter().skip(at).take(n).map(|&c| char::from(c)));
        at += n;
    }
    s
}

/// Identifies an LVM2 label in one of the first four sectors.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let (sector, base) = (0..4usize).find_map(|i| {
        let s = head.get(i * 512..i * 512 + 512)?;
        s.starts_with(b"LABELONE").then_some((s, i * 512))
    })?;
    let b = Bytes(sector);
    let off = base as u64;
    if !b.has(24, b"LVM2 001") {
        return corrupt("LVM2 label", off + 24, "label type is not \"LVM2 001\"");
    }
    let stored = b.le_u32(16)?;
    let computed = lvm_crc(INITIAL_CRC, b.get(20, 512 - 20)?);
    let pv = usize::try_from(b.le_u32(20)?)
        .ok()
        .filter(|&o| o >= 32 && o + 40 <= 512);
    let Some(pv) = pv else {
        return corrupt(
            "LVM2 label",
            off + 20,
            "PV header offset does not fit the sector",
        );
    };
    let mut id = Identified::new("lvm2", Usage::Lvm, off);
    id.checksum("LVM2 label", off + 16, stored, computed);
    id.version = Some("LVM2 001".into());
    id.uuid = Some(format_lvm_uuid(b.get(pv, 32)?));
    let dev_size = b.le_u64(pv + 32)?;
    id.size = (dev_size != 0).then_some(dev_size);
    id.detail("label_sector", Detail::Number(b.le_u64(8)?));
    Some(Ok(id))
}
