//! What the BIOS ("fake") RAID formats read by dmraid share: metadata in
//! one sector at a fixed distance from the end of the disk (or, for
//! HighPoint 37x, from its start), 512-byte sectors, simple additive
//! checksums, and dmraid's way of naming sets after numbers.
//!
//! The formats themselves live in `asr`, `hpt37x`, `hpt45x`, `jmicron`,
//! `lsi`, `nvidia`, `promise`, `sil` and `via`; each has a `read(vol)`
//! returning `None` when its signature is absent.

#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;

use crate::bytes::arrays;
use crate::io::{bytes_at, Volume};
use crate::raid::metadata::{
    ArrayInfo, Layout, Level, MemberRole, MemberState, RaidFormat, RaidMetadata,
};

/// Every one of these formats counts 512-byte sectors.
pub const SECTOR: u64 = 512;

/// Byte offset of the sector `n` sectors before the end of `vol` (1: the
/// last sector), counting whole sectors only; `None` when the volume is
/// shorter than that.
pub fn sector_from_end(vol: &dyn Volume, n: u64) -> Option<u64> {
    (vol.len() / SECTOR).checked_sub(n).map(|s| s * SECTOR)
}

/// `len` bytes starting `n` sectors before the end, with their offset;
/// `None` when the volume is too small or the read fails.
pub fn read_from_end(vol: &dyn Volume, n: u64, len: usize) -> Option<(u64, Cow<'_, [u8]>)> {
    let off = sector_from_end(vol, n)?;
    let b = bytes_at(vol, off, len).ok()?;
    Some((off, b))
}

/// Wrapping sum of the bytes.
pub fn sum_u8(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
}

/// Wrapping sum of the little-endian 16-bit words (a trailing odd byte is ignored).
pub fn sum_le_u16(b: &[u8]) -> u16 {
    arrays(b)
        .map(u16::from_le_bytes)
        .fold(0u16, u16::wrapping_add)
}

/// Wrapping sum of the little-endian 32-bit words (trailing bytes ignored).
pub fn sum_le_u32(b: &[u8]) -> u32 {
    arrays(b)
        .map(u32::from_le_bytes)
        .fold(0u32, u32::wrapping_add)
}

/// dmraid names most sets after a number printed in decimal (or hex) with
/// each digit then turned into a letter, '0' to 'a' through '9' to 'j', so
/// "1234" becomes "bcde"; other characters are kept.
pub fn alpha_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from(b'a' + d as u8), // ok: d < 10
            None => c,
        })
        .collect()
}

/// Layout words: the format's own and md's (empty where none applies).
pub fn layout(native: impl Into<String>, neutral: &str) -> Layout {
    Layout {
        native: native.into(),
        neutral: neutral.into(),
    }
}

/// An array description with the fields the formats fill left empty.
pub fn array(format: RaidFormat, id: String, level: Level, raid_disks: u32) -> ArrayInfo {
    ArrayInfo {
        format,
        id,
        container: None,
        name: None,
        level,
        layout: layout(String::new(), ""),
        chunk_size: None,
        raid_disks,
        array_size: None,
        member_size: None,
        secondary: None,
        state: String::new(),
        reshape: None,
        details: Vec::new(),
        slots: Vec::new(),
    }
}

/// This device's role: `slot` (None for spares), data start and length in bytes.
pub fn member(
    slot: Option<u32>,
    data_offset: u64,
    data_size: Option<u64>,
    state: MemberState,
) -> MemberRole {
    MemberRole {
        slot,
        data_offset,
        data_size,
        state,
        recovery_offset: None,
    }
}

/// Metadata of `format` found at byte `offset`, 512-byte sectors, nothing else known yet.
pub fn metadata(format: RaidFormat, version: String, offset: u64) -> RaidMetadata {
    RaidMetadata {
        format,
        version,
        offset,
        sector_size: SECTOR as u32, // ok: 512
        events: 0,
        update_time: None,
        checksum_ok: None,
        device_id: None,
        blkid_uuid: None,
        arrays: Vec::new(),
        details: Vec::new(),
        problems: Vec::new(),
    }
}

/// Sectors to bytes, saturating.
pub fn bytes(sectors: u64) -> u64 {
    sectors.saturating_mul(SECTOR)
}

/// A chunk of `1 << shift` sectors in bytes; `None` for shift 0 (no striping
/// recorded) or an absurd shift.
pub fn chunk_from_shift(shift: u8) -> Option<u64> {
    (1..=24).contains(&shift).then(|| bytes(1u64 << shift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn sums_and_names() {
        assert_eq!(sum_u8(&[200, 100]), 44);
        assert_eq!(sum_le_u16(&[0xFF, 0xFF, 2, 0, 9]), 1);
        assert_eq!(sum_le_u32(&[1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]), 0);
        assert_eq!(alpha_digits("hpt_1234-0"), "hpt_bcde-a");
        assert_eq!(alpha_digits("9ded78c7"), "jdedhich");
    }

    #[test]
    fn end_offsets() {
        let v = MemVolume::new("t", vec![0u8; 4 * 512 + 100]);
        assert_eq!(sector_from_end(&v, 1), Some(3 * 512));
        assert_eq!(sector_from_end(&v, 4), Some(0));
        assert_eq!(sector_from_end(&v, 5), None);
        assert!(read_from_end(&v, 1, 512).is_some());
        assert!(read_from_end(&v, 1, 2048).is_none());
        assert_eq!(chunk_from_shift(7), Some(65536));
        assert_eq!(chunk_from_shift(0), None);
        assert_eq!(chunk_from_shift(200), None);
    }
}
