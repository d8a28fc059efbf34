//! SNIA DDF containers: finding the anchor, choosing the header copy to
//! believe, and reading what each virtual disk asks of this member.
//!
//! The spec puts the anchor header in the disk's last sector. Dell PERC
//! and LSI firmware put it elsewhere in the last 32 MiB, and Adaptec 257
//! sectors from the end (and little-endian); on whole disks all three are
//! looked for. 4Kn disks count every LBA in 4096-byte sectors.

#![deny(clippy::indexing_slicing)]

pub mod raw;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::{bytes_at, Volume};
use crate::problem::Problem;
use crate::raid::metadata::{
    ArrayInfo, Layout, Level, MemberRole, MemberState, RaidFormat, RaidMetadata, Secondary,
};
use raw::{CrcVariant, Header, VdConfig};

/// How far from the end firmware puts DDF structures (the spec's reserved area).
pub const SEARCH_BYTES: u64 = 32 << 20;
/// Seconds from the Unix epoch to DDF's (1980-01-01).
const DDF_EPOCH: i64 = 315_532_800;
/// The largest section read (mdadm's limit of 1024 sectors, at 4 KiB sectors).
const MAX_SECTION_BYTES: u64 = 4 << 20;
/// The most entries a configuration record's member arrays may have.
const MAX_PRIMARY_ELEMENTS: usize = 4096;

/// An anchor header and where it was found.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Byte offset of the anchor.
    pub offset: u64,
    /// Logical sector size the LBAs count in.
    pub sector_size: u64,
    /// The parsed anchor.
    pub header: Header,
    /// How it was found: "last sector", "Adaptec position" or "search".
    pub how: &'static str,
}

fn sector_sizes(vol: &dyn Volume) -> Vec<u64> {
    match vol.device_sector_size() {
        Some(4096) => vec![4096, 512],
        _ => vec![512, 4096],
    }
}

/// Does the header at `lba` (with sector size `ss`) belong to `anchor`'s
/// container and have type `want`?
fn header_at(vol: &dyn Volume, ss: u64, lba: u64, guid: &[u8; 24], want: u8) -> Option<Header> {
    let off = lba.checked_mul(ss)?;
    let sector = bytes_at(vol, off, 512).ok()?;
    let h = raw::parse_header(&sector)?;
    (h.guid == *guid && h.header_type == want).then_some(h)
}

/// The sector size under which `h`'s primary (or, failing that, secondary)
/// header is where it says.
fn confirm_sector_size(vol: &dyn Volume, h: &Header, candidates: &[u64]) -> Option<u64> {
    candidates.iter().copied().find(|&ss| {
        header_at(vol, ss, h.primary_lba, &h.guid, 1).is_some()
            || (h.secondary_lba != u64::MAX
                && header_at(vol, ss, h.secondary_lba, &h.guid, 2).is_some())
    })
}

/// Looks for the anchor: in the last sector (512 or 4096 bytes), at
/// Adaptec's position, and, with `search`, anywhere in the last 32 MiB
/// (the nearest the end wins). A found anchor is trusted only when its
/// primary header is where it says.
pub fn find_anchor(vol: &dyn Volume, search: bool) -> Option<Anchor> {
    let len = vol.len();
    let sizes = sector_sizes(vol);
    for &ss in &sizes {
        let Some(off) = len.checked_sub(ss) else {
            continue;
        };
        let Ok(sector) = bytes_at(vol, off, 512) else {
            continue;
        };
        if let Some(h) = raw::parse_header(&sector).filter(|h| h.header_type == 0) {
            // An anchor whose headers are not where it says belongs to an
            // enclosing volume (a partition that ends where its disk ends).
            if let Some(ss) = confirm_sector_size(vol, &h, &[ss]) {
                return Some(Anchor {
                    offset: off,
                    sector_size: ss,
                    header: h,
                    how: "last sector",
                });
            }
        }
    }
    if let Some(off) = len.checked_sub(257 * 512) {
        if let Some(h) = bytes_at(vol, off, 512)
            .ok()
            .and_then(|s| raw::parse_header(&s))
            .filter(|h| h.header_type == 0)
        {
            if let Some(ss) = confirm_sector_size(vol, &h, &sizes) {
                return Some(Anchor {
                    offset: off,
                    sector_size: ss,
                    header: h,
                    how: "Adaptec position",
                });
            }
        }
    }
    if !search {
        return None;
    }
    let start = len.saturating_sub(SEARCH_BYTES) & !511;
    for off in search_magic(vol, start, len) {
        let Ok(sector) = bytes_at(vol, off, 512) else {
            continue;
        };
        let Some(h) = raw::parse_header(&sector).filter(|h| h.header_type == 0) else {
            continue;
        };
        if let Some(ss) = confirm_sector_size(vol, &h, &sizes) {
            return Some(Anchor {
                offset: off,
                sector_size: ss,
                header: h,
                how: "search",
            });
        }
    }
    None
}

/// 512-byte-aligned offsets in `start..end` that begin with the DDF header
/// magic in either byte order, nearest the end first.
fn search_magic(vol: &dyn Volume, start: u64, end: u64) -> Vec<u64> {
    const BE: [u8; 4] = raw::HEADER_MAGIC.to_be_bytes();
    const LE: [u8; 4] = raw::HEADER_MAGIC.to_le_bytes();
    let mut hits = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut pos = start;
    while pos < end {
        let n = (end - pos).min(chunk.len() as u64) as usize;
        let n = n & !511;
        if n == 0 {
            break;
        }
        let data: std::borrow::Cow<[u8]> = match vol.as_bytes() {
            Some(all) => match usize::try_from(pos).ok().and_then(|p| all.get(p..p + n)) {
                Some(s) => std::borrow::Cow::Borrowed(s),
                None => break,
            },
            None => {
                // n <= chunk.len(): the get cannot fail.
                let Some(buf) = chunk.get_mut(..n) else {
                    break;
                };
                if vol.read_at(pos, buf).is_err() {
                    pos += n as u64;
                    continue;
                }
                std::borrow::Cow::Borrowed(&*buf)
            }
        };
        for (i, s) in data.chunks_exact(512).enumerate() {
            if s.starts_with(&BE) || s.starts_with(&LE) {
                hits.push(pos + 512 * i as u64);
            }
        }
        pos += n as u64;
    }
    // Searched: out of the process (every source is searched, and 32 MiB
    // of each mapped in would make a scan of many disks look as large).
    vol.release(start, end - start);
    hits.reverse();
    hits
}

/// Checks a header's CRC over the first 512 bytes, or over the whole
/// logical sector (the 4Kn convention of FreeBSD's reader).
fn header_crc(
    vol: &dyn Volume,
    off: u64,
    ss: u64,
    le: bool,
) -> std::result::Result<CrcVariant, String> {
    let mut last = String::new();
    for len in [512u64, ss] {
        let Ok(bytes) = bytes_at(vol, off, len as usize) else {
            continue;
        };
        match raw::check_crc(&bytes, le) {
            Ok(v) => return Ok(v),
            Err((stored, r, s)) => {
                last = format!("CRC mismatch: stored {stored:#010x}, computed {r:#010x} (mdadm/LSI) or {s:#010x} (standard)");
            }
        }
    }
    Err(last)
}

/// Reads a section of the active header: `(offset, length)` sectors from the header's LBA.
fn section(
    vol: &dyn Volume,
    base_lba: u64,
    ss: u64,
    (off, len): (u32, u32),
    name: &'static str,
) -> Result<Option<(u64, Vec<u8>)>> {
    if off == u32::MAX || len == 0 {
        return Ok(None);
    }
    let at = base_lba
        .checked_add(u64::from(off))
        .and_then(|l| l.checked_mul(ss))
        .ok_or_else(|| Error::corrupt("DDF header", 0xC0, format!("{name} offset overflows")))?;
    let bytes = u64::from(len) * ss;
    if bytes > MAX_SECTION_BYTES {
        return Err(Error::corrupt(
            "DDF header",
            0xC0,
            format!("{name} section of {len} sectors exceeds the {MAX_SECTION_BYTES}-byte limit"),
        ));
    }
    Ok(Some((at, bytes_at(vol, at, bytes as usize)?.into_owned())))
}

/// The level, layout and secondary level of a configuration record, in
/// neutral terms (mdadm's layout_ddf2md for the mappings md can serve).
pub fn level_of(c: &VdConfig) -> (Level, Layout, Option<Secondary>) {
    let native = format!("PRL {:#04x} RLQ {:#04x}", c.prl, c.rlq);
    let (level, neutral, name) = match (c.prl, c.rlq) {
        (0x00, _) => (Level::Raid0, "", "RAID0"),
        (0x01, _) => (Level::Raid1, "", "RAID1"),
        (0x03, 0) => (Level::Raid4, "parity-first", "RAID3"),
        (0x03, _) => (Level::Raid4, "parity-last", "RAID3"),
        (0x04, 0) => (Level::Raid4, "parity-first", "RAID4"),
        (0x04, _) => (Level::Raid4, "parity-last", "RAID4"),
        (0x05, 0) => (Level::Raid5, "right-asymmetric", "RAID5"),
        (0x05, 2) => (Level::Raid5, "left-asymmetric", "RAID5"),
        (0x05, 3) => (Level::Raid5, "left-symmetric", "RAID5"),
        (0x05, _) => (Level::Raid5, "", "RAID5"),
        (0x06, 1) => (Level::Raid6, "ddf-zero-restart", "RAID6"),
        (0x06, 2) => (Level::Raid6, "ddf-N-restart", "RAID6"),
        (0x06, 3) => (Level::Raid6, "ddf-N-continue", "RAID6"),
        (0x06, _) => (Level::Raid6, "", "RAID6"),
        (0x11, 0) => (Level::Raid1E, "near=2", "RAID1E"),
        (0x11, _) => (Level::Raid1E, "far=2", "RAID1E"),
        (0x0F, _) => (Level::Jbod, "", "JBOD"),
        (0x1F, _) => (Level::Linear, "", "CONCAT"),
        (p, _) => (Level::Other(i32::from(p)), "", "unknown"),
    };
    let secondary = (c.sec_count > 1).then(|| Secondary {
        level: match c.srl {
            0 => "striped",
            1 => "mirrored",
            2 => "concat",
            3 => "spanned",
            _ => "unknown",
        }
        .to_string(),
        count: u32::from(c.sec_count),
        index: u32::from(c.sec_seq),
    });
    // RAID1 spans are what md calls RAID10 (mdadm assembles them as near=N).
    let (level, neutral) = match (&secondary, level) {
        (Some(_), Level::Raid1) => (Level::Raid10, format!("near={}", c.prim_count)),
        (_, l) => (l, neutral.to_string()),
    };
    (
        level,
        Layout {
            native: format!("{native} ({name})"),
            neutral,
        },
        secondary,
    )
}

fn vd_state(state: u8) -> String {
    let base = match state & 7 {
        0 => "Optimal",
        1 => "Degraded",
        2 => "Deleted",
        3 => "Missing",
        4 => "Failed",
        5 => "Partially Optimal",
        6 => "Offline",
        _ => "-reserved-",
    };
    let mut s = base.to_string();
    if state & 0x08 != 0 {
        s.push_str(", Morphing");
    }
    s.push_str(if state & 0x10 != 0 {
        ", Not Consistent"
    } else {
        ", Consistent"
    });
    s
}

/// Identifies a DDF member by an anchor in the last sector or at Adaptec's
/// position (the search of the last 32 MiB is left to whole disks, see
/// [`find_anchor`]).
pub fn identify(_head: &[u8], vol: &dyn Volume) -> crate::ident::ProbeResult {
    let anchor = find_anchor(vol, false)?;
    Some(identified(vol, &anchor))
}

/// The identification result for a found anchor.
pub fn identified(vol: &dyn Volume, anchor: &Anchor) -> Result<crate::ident::Identified> {
    let meta = read(vol, anchor).map_err(|e| e.within("", 0))?;
    let mut id = crate::raid::md::identified(meta, "ddf");
    id.uuid = Some(raw::guid_hex(&anchor.header.guid));
    Ok(id)
}

/// Reads the DDF metadata of a member whose anchor was found.
pub fn read(vol: &dyn Volume, anchor: &Anchor) -> Result<RaidMetadata> {
    let ss = anchor.sector_size;
    let a = &anchor.header;
    let mut problems = Vec::new();
    let mut details: Vec<(&'static str, Detail)> = Vec::new();
    if anchor.how != "last sector" {
        problems.push(Problem::warning(
            "DDF anchor",
            Some(anchor.offset),
            format!(
                "found by {} {} bytes before the end, not in the last sector",
                anchor.how,
                vol.len() - anchor.offset
            ),
        ));
    }
    let anchor_crc = header_crc(vol, anchor.offset, ss, a.le);
    if let Err(e) = &anchor_crc {
        problems.push(Problem::error("DDF anchor", Some(anchor.offset), e.clone()));
    }
    // The two header copies; mdadm's rule for which to believe.
    let mut copies = Vec::new();
    for (lba, want, name) in [
        (a.primary_lba, 1u8, "primary"),
        (a.secondary_lba, 2u8, "secondary"),
    ] {
        if lba == u64::MAX {
            continue;
        }
        let off = lba.saturating_mul(ss);
        match header_at(vol, ss, lba, &a.guid, want) {
            None => problems.push(Problem::error(
                format!("DDF {name} header"),
                Some(off),
                "missing or not of this container (wrong signature, type or GUID)",
            )),
            Some(h) => match header_crc(vol, off, ss, h.le) {
                Ok(_) => copies.push((name, lba, h)),
                Err(e) => problems.push(Problem::error(format!("DDF {name} header"), Some(off), e)),
            },
        }
    }
    let active = match copies.as_slice() {
        [] => {
            return Err(Error::corrupt(
                "DDF headers",
                anchor.offset,
                "neither the primary nor the secondary header is usable",
            ))
        }
        [only] => only,
        [p, s, ..] => {
            let prefer_secondary = (p.2.seq < s.2.seq && s.2.open_flag == 0)
                || (p.2.seq == s.2.seq && p.2.open_flag != 0 && s.2.open_flag == 0);
            if prefer_secondary {
                s
            } else {
                p
            }
        }
    };
    let (active_name, base, h) = (active.0, active.1, &active.2);
    if h.seq != a.seq && a.seq != u32::MAX {
        details.push(("anchor_seq", Detail::Number(u64::from(a.seq))));
    }
    let le = h.le;
    let layer = vol.describe();
    // Called with the constants 0..=4 below; both tables have 8 entries.
    let sec = |i: usize| match (h.sections.get(i), raw::SECTION_NAMES.get(i)) {
        (Some(&place), Some(&name)) => {
            section(vol, base, ss, place, name).map_err(|e| e.within(&layer, base * ss))
        }
        _ => Ok(None),
    };
    let mut crc_problems = Vec::new();
    // A section's CRC covers its whole length; a one-sector structure on a
    // 4Kn disk may also have been summed over its first 512 bytes only.
    let mut crc_check = |name: &'static str, at: u64, data: &[u8]| {
        let short = data.get(..512).filter(|_| data.len() > 512);
        let second = || short.and_then(|s| raw::check_crc(s, le).ok());
        if let Err((stored, r, s)) = raw::check_crc(data, le).or_else(|e| second().ok_or(e)) {
            crc_problems.push(Problem::error(
                format!("DDF {name}"),
                Some(at),
                format!("CRC mismatch: stored {stored:#010x}, computed {r:#010x} or {s:#010x}"),
            ));
        }
    };
    let controller = match sec(0)? {
        Some((at, d)) => {
            crc_check("controller data", at, &d);
            raw::parse_controller(&d, le)
        }
        None => None,
    };
    let phys = match sec(1)? {
        Some((at, d)) => {
            crc_check("physical disk records", at, &d);
            raw::parse_phys(&d, le).unwrap_or_default()
        }
        None => Vec::new(),
    };
    let virt = match sec(2)? {
        Some((at, d)) => {
            crc_check("virtual disk records", at, &d);
            raw::parse_virt(&d, le).unwrap_or_default()
        }
        None => Vec::new(),
    };
    let this = match sec(4)? {
        Some((at, d)) => {
            crc_check("physical disk data", at, &d);
            raw::parse_disk_data(&d, le)
        }
        None => None,
    };
    let Some((this_guid, this_ref)) = this else {
        return Err(Error::corrupt(
            "DDF physical disk data",
            base * ss,
            "missing: this member's PD reference is unknown",
        ));
    };
    // Configuration records: keep the newest per (VD, span).
    let mut configs: BTreeMap<([u8; 24], u8), VdConfig> = BTreeMap::new();
    if let Some((at, d)) = sec(3)? {
        let rec_len = usize::from(h.config_record_len) * ss as usize;
        let mut mppe = usize::from(h.max_primary_elements);
        if rec_len < 512 {
            problems.push(Problem::error(
                "DDF header",
                Some(base * ss + 0x86),
                "configuration record length is zero",
            ));
        } else {
            if mppe == 0xFFFF || mppe > MAX_PRIMARY_ELEMENTS || 512 + 12 * mppe > rec_len {
                // Adaptec writes 0xFFFF; take what fits the record.
                mppe = ((rec_len - 512) / 12)
                    .min(usize::from(h.max_pd_entries))
                    .min(MAX_PRIMARY_ELEMENTS);
            }
            for (slot, rec) in d.chunks_exact(rec_len).enumerate() {
                if let Some(c) = raw::parse_vd_config(rec, le, mppe, slot) {
                    if c.crc.is_none() {
                        crc_check("configuration record", at + (slot * rec_len) as u64, rec);
                    }
                    let key = (c.guid, c.sec_seq);
                    if configs.get(&key).is_none_or(|old| c.seq > old.seq) {
                        configs.insert(key, c);
                    }
                }
            }
        }
    }
    problems.extend(crc_problems);
    let this_pd = phys.iter().find(|p| p.refnum == this_ref);
    let mut arrays = Vec::new();
    for c in configs.values() {
        let Some((pos, start)) = c.members.iter().enumerate().find_map(|(pos, m)| match m {
            Some((r, lba)) if *r == this_ref => Some((pos, *lba)),
            _ => None,
        }) else {
            continue;
        };
        let j = c.members.iter().take(pos).filter(|m| m.is_some()).count() as u32;
        let (level, layout, secondary) = level_of(c);
        let vd = virt.iter().find(|v| v.guid == c.guid);
        let state = match this_pd.map_or(0, |p| p.state) {
            s if s & 0x02 != 0 => MemberState::Faulty,
            s if s & 0x04 != 0 => MemberState::Rebuilding,
            _ => MemberState::Active,
        };
        let info = ArrayInfo {
            format: RaidFormat::Ddf,
            id: raw::guid_hex(&c.guid),
            container: Some(raw::guid_hex(&a.guid)),
            name: vd.map(|v| v.name.clone()).filter(|n| !n.is_empty()),
            level,
            layout,
            chunk_size: (c.chunk_shift != 0xFF && c.chunk_shift < 32).then(|| ss << c.chunk_shift),
            raid_disks: u32::from(c.prim_count) * u32::from(c.sec_count.max(1)),
            array_size: c.array_blocks.checked_mul(ss),
            member_size: c.blocks.checked_mul(ss),
            secondary,
            state: vd.map_or_else(|| "no virtual disk record".into(), |v| vd_state(v.state)),
            reshape: vd
                .filter(|v| v.state & 0x08 != 0)
                .map(|_| "morphing (migration in progress)".into()),
            details: Vec::new(),
            slots: c
                .members
                .iter()
                .flatten()
                .map(|(r, _)| Some(format!("{r:08x}")))
                .collect(),
        };
        let role = MemberRole {
            slot: Some(u32::from(c.sec_seq) * u32::from(c.prim_count) + j),
            data_offset: start.saturating_mul(ss),
            data_size: c.blocks.checked_mul(ss),
            state,
            recovery_offset: None,
        };
        arrays.push((info, role));
    }
    details.push(("container_guid", Detail::Text(raw::guid_hex(&a.guid))));
    if let Some(c) = &controller {
        details.push(("controller_guid", Detail::Text(raw::guid_hex(&c.guid))));
        details.push(("controller_product", Detail::Text(c.product.clone())));
        details.push((
            "controller_pci",
            Detail::Text(format!(
                "{:04x}:{:04x} {:04x}:{:04x}",
                c.pci[0], c.pci[1], c.pci[2], c.pci[3]
            )),
        ));
    }
    details.push(("seq", Detail::Number(u64::from(h.seq))));
    details.push(("active_header", Detail::Text(active_name.into())));
    details.push(("redundant_header", Detail::Flag(copies.len() > 1)));
    details.push(("anchor_offset", Detail::Number(anchor.offset)));
    details.push(("anchor_found_by", Detail::Text(anchor.how.into())));
    details.push((
        "byte_order",
        Detail::Text(if le { "little" } else { "big" }.into()),
    ));
    if let Ok(v) = &anchor_crc {
        details.push((
            "crc_variant",
            Detail::Text(
                match v {
                    CrcVariant::Raw => "mdadm",
                    CrcVariant::Standard => "standard",
                }
                .into(),
            ),
        ));
    }
    details.push(("virtual_disks", Detail::Number(virt.len() as u64)));
    details.push(("physical_disks", Detail::Number(phys.len() as u64)));
    details.push(("this_refnum", Detail::Text(format!("{this_ref:08x}"))));
    details.push((
        "pd_table",
        Detail::Text(
            phys.iter()
                .map(|p| {
                    format!(
                        "{:08x} {}K type={:#x} state={:#x}",
                        p.refnum,
                        p.config_size.saturating_mul(ss) / 1024,
                        p.pd_type,
                        p.state
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    ));
    if arrays.is_empty() {
        let spare = this_pd.is_some_and(|p| p.pd_type & 0x0C != 0);
        details.push((
            "role",
            Detail::Text(if spare {
                "spare".into()
            } else {
                "unconfigured".into()
            }),
        ));
    }
    Ok(RaidMetadata {
        format: RaidFormat::Ddf,
        version: h.revision.clone(),
        offset: anchor.offset,
        sector_size: ss as u32, // ok: 512 or 4096
        events: u64::from(h.seq),
        update_time: Some(i64::from(h.timestamp) + DDF_EPOCH),
        checksum_ok: Some(anchor_crc.is_ok()),
        blkid_uuid: None,
        device_id: Some(raw::guid_hex(&this_guid)),
        arrays,
        details,
        problems,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    fn put32(b: &mut [u8], o: usize, v: u32) {
        b[o..o + 4].copy_from_slice(&v.to_be_bytes());
    }
    fn put64(b: &mut [u8], o: usize, v: u64) {
        b[o..o + 8].copy_from_slice(&v.to_be_bytes());
    }
    /// A header sector of type `ty` with a standard CRC.
    fn header(ty: u8, sections: &[(usize, u32, u32)]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        put32(&mut h, 0, raw::HEADER_MAGIC);
        h[8..32].fill(0xAB);
        put64(&mut h, 0x60, 0);
        put64(&mut h, 0x68, u64::MAX);
        h[0x70] = ty;
        for &(i, off, len) in sections {
            put32(&mut h, 0xC0 + 8 * i, off);
            put32(&mut h, 0xC4 + 8 * i, len);
        }
        h[4..8].fill(0xFF);
        let crc = crc32fast::hash(&h);
        put32(&mut h, 4, crc);
        h
    }

    #[test]
    fn huge_configured_size_does_not_overflow() {
        // LBA 0 primary header, 1 physical disk records, 2 this disk's
        // data, 3 the anchor; the one PD claims u64::MAX sectors.
        let mut img = header(1, &[(1, 1, 1), (4, 2, 1)]);
        let mut phys = vec![0u8; 512];
        put32(&mut phys, 0, raw::PHYS_MAGIC);
        phys[10..12].copy_from_slice(&1u16.to_be_bytes());
        put32(&mut phys, 64 + 24, 1);
        put64(&mut phys, 64 + 32, u64::MAX);
        img.extend_from_slice(&phys);
        let mut data = vec![0u8; 512];
        put32(&mut data, 0, raw::DISK_DATA_MAGIC);
        put32(&mut data, 32, 1);
        img.extend_from_slice(&data);
        img.extend_from_slice(&header(0, &[]));
        let vol = MemVolume::new("t", img);
        let anchor = find_anchor(&vol, false).expect("anchor");
        let meta = read(&vol, &anchor).expect("metadata");
        assert_eq!(
            meta.details
                .iter()
                .find(|d| d.0 == "physical_disks")
                .map(|d| &d.1),
            Some(&Detail::Number(1))
        );
    }
}
