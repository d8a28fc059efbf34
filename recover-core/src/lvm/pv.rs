//! A physical volume's on-disk headers: the PV header behind the label,
//! its metadata areas, and the metadata texts they hold.
//!
//! PV header (lvm2 lib/format_text/layout.h, struct pv_header, all
//! little-endian), at the label's offset_xl (20) within the label sector:
//! pv_uuid (32 characters) at 0, device_size_xl at 32, then two lists of
//! disk_locn {offset u64, size u64}, each ended by an all-zero entry: the
//! data areas (size 0 means "to the end of the device"), then the metadata
//! areas. A pv_header_extension {version u32, flags u32, bootloader
//! areas} may follow.
//!
//! Metadata area header (struct mda_header, 512 bytes at the area's start):
//! checksum_xl u32 at 0 (LVM's CRC of bytes 4..512), magic " LVM2 x[5A%r0N*>"
//! at 4, version u32 at 20, start u64 at 24 (the area's own offset on the
//! device), size u64 at 32, then raw_locn entries {offset u64 (from the
//! area's start), size u64, checksum u32 (of the text), flags u32 (1 =
//! ignored)} from 40, ended by an all-zero entry. The first is the
//! committed metadata. Texts are written into the area after the header as
//! a ring: one that reaches the end goes on at offset 512.

use crate::bytes::Bytes;
use crate::checksum::lvm_crc;
use crate::error::{Error, Result};
use crate::io::{bytes_at, bytes_up_to, Volume};

use super::label::format_lvm_uuid;

/// LVM's CRC seed (lib/misc/crc.h INITIAL_CRC).
pub const INITIAL_CRC: u32 = 0xf597_a6cf;
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const MDA_HEADER: u64 = 512;
/// Metadata areas larger than this are not read whole (LVM's default is
/// 1 MiB; `--metadatasize` rarely goes past a few).
const MAX_MDA: u64 = 256 << 20;
/// A list of areas longer than this in one 512-byte sector is corrupt.
const MAX_AREAS: usize = 16;

/// The label and PV header.
#[derive(Debug, Clone)]
pub struct PvHeader {
    /// Byte offset of the label sector.
    pub label_offset: u64,
    /// The PV's UUID as LVM prints it.
    pub uuid: String,
    /// Bytes of the device as pvcreate saw it (0 when not recorded).
    pub device_size: u64,
    /// Data areas: (offset, size); size 0 runs to the end.
    pub data_areas: Vec<(u64, u64)>,
    /// Metadata areas: (offset, size).
    pub metadata_areas: Vec<(u64, u64)>,
}

/// Reads the label and PV header: `Ok(None)` when there is no label.
pub fn read_header(vol: &dyn Volume) -> Result<Option<PvHeader>> {
    let name = vol.describe();
    let head = bytes_up_to(vol, 0, 2048)?;
    let Some((base, sector)) = (0..4usize).find_map(|i| {
        head.get(i * 512..i * 512 + 512)
            .filter(|s| s.starts_with(b"LABELONE"))
            .map(|s| (i, Bytes(s)))
    }) else {
        return Ok(None);
    };
    let off = (base * 512) as u64;
    let bad = |at: usize, why: &str| {
        Error::corrupt("LVM2 PV header", off + at as u64, why).within(&name, 0)
    };
    let pv = sector
        .le_u32(20)
        .and_then(|o| usize::try_from(o).ok())
        .filter(|&o| o >= 32 && o + 40 <= 512)
        .ok_or_else(|| bad(20, "PV header offset does not fit the sector"))?;
    let uuid = format_lvm_uuid(sector.get(pv, 32).unwrap_or(&[]));
    let device_size = sector.le_u64(pv + 32).unwrap_or(0);
    let mut at = pv + 40;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        loop {
            let (Some(o), Some(s)) = (sector.le_u64(at), sector.le_u64(at + 8)) else {
                return Err(bad(at, "area list runs past the label sector"));
            };
            at += 16;
            if o == 0 && s == 0 {
                break;
            }
            if list.len() >= MAX_AREAS {
                return Err(bad(at - 16, "more than 16 areas in one list"));
            }
            list.push((o, s));
        }
    }
    let [data_areas, metadata_areas] = lists;
    Ok(Some(PvHeader {
        label_offset: off,
        uuid,
        device_size,
        data_areas,
        metadata_areas,
    }))
}

/// One metadata text in a metadata area.
#[derive(Debug, Clone)]
pub struct MetadataText {
    /// Byte offset of the area's header on the PV.
    pub area: u64,
    /// Byte offset of the text's first byte on the PV.
    pub offset: u64,
    /// Its length in bytes.
    pub size: u64,
    /// The committed text (the header's first entry); the others are older
    /// versions still in the ring.
    pub committed: bool,
    /// Whether its checksum matched the header's (committed text only; an
    /// older text has no checksum left to check).
    pub checksum_ok: Option<bool>,
    /// The text.
    pub text: Vec<u8>,
}

/// What a metadata area holds.
#[derive(Debug, Clone, Default)]
pub struct AreaRead {
    /// Its texts: the committed one first, then older ones found in the ring.
    pub texts: Vec<MetadataText>,
    /// What is wrong with it: (byte offset, what).
    pub problems: Vec<(u64, String)>,
}

/// Reads the metadata area at `offset` (of `size` bytes): the committed
/// text, and the older texts still in its ring (each a whole earlier
/// version of the metadata, so a removed LV can still be found).
pub fn read_area(vol: &dyn Volume, offset: u64, size: u64) -> Result<AreaRead> {
    let name = vol.describe();
    let bad = |at: u64, why: String| {
        Error::corrupt("LVM2 metadata area header", at, why).within(&name, 0)
    };
    if size <= MDA_HEADER {
        return Err(bad(offset, format!("area of {size} bytes")));
    }
    let hdr = bytes_at(vol, offset, MDA_HEADER as usize)
        .map_err(|_| bad(offset, "lies past the end of the device".into()))?;
    let h = Bytes(&hdr);
    if !h.has(4, MDA_MAGIC) {
        return Err(bad(offset + 4, "no metadata area magic".into()));
    }
    let mut out = AreaRead::default();
    let stored = h.le_u32(0).unwrap_or(0);
    let computed = lvm_crc(INITIAL_CRC, h.get(4, 508).unwrap_or(&[]));
    if stored != computed {
        out.problems.push((
            offset,
            format!("header checksum {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    let hsize = h.le_u64(32).unwrap_or(0);
    if hsize != size {
        out.problems.push((
            offset + 32,
            format!("header says {hsize} bytes, the PV header {size}"),
        ));
    }
    // The ring: what the area holds after its header.
    let ring_len = size
        .min(MAX_MDA)
        .min(vol.len().saturating_sub(offset))
        .saturating_sub(MDA_HEADER);
    let ring = bytes_at(vol, offset + MDA_HEADER, ring_len as usize)?; // ok: <= 256 MiB, in range
    let ring_at = |rel: u64| offset + rel; // `rel` from the area's start
                                           // The committed text.
    let mut committed_span = None;
    if let (Some(o), Some(s), Some(crc), Some(flags)) =
        (h.le_u64(40), h.le_u64(48), h.le_u32(56), h.le_u32(60))
    {
        if (o, s) != (0, 0) {
            if flags & 1 != 0 {
                out.problems.push((
                    offset + 60,
                    "the committed metadata is marked ignored (pvchange --metadataignore)".into(),
                ));
            }
            match ring_text(&ring, o, s) {
                Some(text) => {
                    let sum = lvm_crc(INITIAL_CRC, &text);
                    if sum != crc {
                        out.problems.push((
                            ring_at(o),
                            format!("metadata text checksum {crc:#010x}, computed {sum:#010x}"),
                        ));
                    }
                    committed_span = Some(o);
                    out.texts.push(MetadataText {
                        area: offset,
                        offset: ring_at(o),
                        size: s,
                        committed: true,
                        checksum_ok: Some(sum == crc),
                        text,
                    });
                }
                None => out.problems.push((
                    offset + 40,
                    format!(
                        "committed text at {o:#x} ({s} bytes) lies outside the {size}-byte area"
                    ),
                )),
            }
        }
    }
    // Older texts: each starts a 512-byte-aligned block with "NAME {\nid = ".
    let mut rel = 0usize;
    while let Some(here) = ring.get(rel..).filter(|h| !h.is_empty()) {
        if looks_like_text_start(here) && committed_span != Some(rel as u64 + MDA_HEADER) {
            // `split` yields at least one piece: the text before the first NUL.
            let text = here.split(|&b| b == 0).next().unwrap_or_default();
            let end = text.len();
            out.texts.push(MetadataText {
                area: offset,
                offset: ring_at(rel as u64 + MDA_HEADER),
                size: end as u64,
                committed: false,
                checksum_ok: None,
                text: text.to_vec(),
            });
            rel += end.div_ceil(512).max(1) * 512;
        } else {
            rel += 512;
        }
    }
    Ok(out)
}

/// The text at `rel` (from the area's start) of `size` bytes, going on at
/// the ring's start when it reaches the end; `None` when it cannot fit.
fn ring_text(ring: &[u8], rel: u64, size: u64) -> Option<Vec<u8>> {
    let start = usize::try_from(rel.checked_sub(MDA_HEADER)?).ok()?;
    let size = usize::try_from(size).ok()?;
    if start >= ring.len() || size > ring.len() {
        return None;
    }
    let tail = ring.get(start..)?;
    let first = size.min(tail.len());
    let mut text = tail.get(..first)?.to_vec();
    text.extend_from_slice(ring.get(..size - first)?);
    Some(text)
}

/// Whether `b` starts like a metadata text: `NAME {` then `id = "`.
fn looks_like_text_start(b: &[u8]) -> bool {
    let n = b
        .iter()
        .take(128)
        .position(|&c| !(c.is_ascii_alphanumeric() || b"_-+.".contains(&c)))
        .unwrap_or(0);
    n > 0 && b.get(n..n + 8).is_some_and(|t| t == b" {\nid = ")
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_wraps_is_joined() {
        let ring: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
        let t = ring_text(&ring, 512 + 2000, 100).unwrap();
        assert_eq!(&t[..48], &ring[2000..]);
        assert_eq!(&t[48..], &ring[..52]);
        assert!(ring_text(&ring, 100, 10).is_none());
        assert!(ring_text(&ring, 512, 4096).is_none());
        assert!(ring_text(&ring, u64::MAX, 1).is_none());
    }

    #[test]
    fn text_starts_are_recognized() {
        assert!(looks_like_text_start(b"vg0 {\nid = \"x\""));
        assert!(looks_like_text_start(b"pve-1 {\nid = \"x\""));
        assert!(!looks_like_text_start(b" {\nid = "));
        assert!(!looks_like_text_start(b"vg0 {\nseqno = 1"));
    }
}
