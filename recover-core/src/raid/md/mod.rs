//! Linux md superblocks: version 1.x (1.0 at the end, 1.1 at the start,
//! 1.2 at 4 KiB) and 0.90 (at the end, in the writer's byte order).

#![deny(clippy::indexing_slicing)]

pub mod layout;
pub mod v090;
pub mod v1;

use crate::ident::{Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};
use crate::raid::metadata::{Level, RaidMetadata};

pub use v1::MAGIC;

/// Bytes of array data given each member's used bytes, the way md sizes
/// an array; `None` for linear and RAID0, whose members may differ in size
/// (their arrays are sized when the members are gathered).
pub fn array_bytes(level: Level, layout_code: u32, raid_disks: u32, member: u64) -> Option<u64> {
    let disks = u64::from(raid_disks);
    match level {
        Level::Raid1 => Some(member),
        Level::Raid4 | Level::Raid5 => member.checked_mul(disks.checked_sub(1)?),
        Level::Raid6 => member.checked_mul(disks.checked_sub(2)?),
        Level::Raid10 => {
            let copies = u64::from((layout_code & 0xff) * ((layout_code >> 8) & 0xff));
            member.checked_mul(disks)?.checked_div(copies)
        }
        _ => None,
    }
}

/// The first md superblock on the volume: 1.1, 1.2, 1.0, then 0.90 (mdadm
/// reads all versions and the newest ctime wins; a device with two live
/// superblocks of different versions is rare enough to report, not to
/// guess about).
pub fn find(head: &[u8], vol: &dyn Volume) -> Option<crate::Result<RaidMetadata>> {
    for (at, _) in v1::locations(vol.len()) {
        let sb = match head.get(at as usize..at as usize + 4096) {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => match bytes_at(vol, at, vol.len().saturating_sub(at).min(4096) as usize) {
                Ok(s) => s,
                Err(_) => continue,
            },
        };
        if let Some(r) = v1::parse(&sb, at) {
            return Some(r.map_err(|e| e.within("", at)));
        }
    }
    let at = v090::location(vol.len())?;
    let sb = bytes_at(vol, at, v090::SIZE).ok()?;
    v090::parse(&sb, at).map(|r| r.map_err(|e| e.within("", at)))
}

/// A RAID member's metadata as an identification result.
pub fn identified(meta: RaidMetadata, format: &'static str) -> Identified {
    let mut id = Identified::new(format, Usage::Raid, meta.offset);
    if let Some((a, _)) = meta.arrays.first() {
        id.label = a.name.clone();
        id.size = None;
    }
    id.uuid = meta.blkid_uuid.clone();
    id.version = Some(meta.version.clone());
    id.checksum_ok = meta.checksum_ok;
    id.details = meta.details.clone();
    if let Some(dev) = &meta.device_id {
        if meta.format == crate::raid::metadata::RaidFormat::Md {
            id.details
                .push(("uuid_sub", crate::ident::Detail::Text(blkid_form(dev))));
        }
    }
    id.problems = meta.problems.clone();
    id.raid = Some(Box::new(meta));
    id
}

/// mdadm's colon-grouped hex as blkid's 8-4-4-4-12.
fn blkid_form(mdadm: &str) -> String {
    let h: Vec<u8> = mdadm.bytes().filter(|c| *c != b':').collect();
    let mut raw = [0u8; 16];
    for (i, pair) in h.chunks(2).enumerate() {
        match (
            raw.get_mut(i),
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok()),
        ) {
            (Some(b), Some(v)) if h.len() == 32 => *b = v,
            _ => return mdadm.to_string(),
        }
    }
    crate::bytes::uuid_str(&raw)
}

/// Identifies an md member.
pub fn identify(head: &[u8], vol: &dyn Volume) -> ProbeResult {
    Some(find(head, vol)?.map(|m| identified(m, "md")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn find_on_a_volume_shorter_than_the_1_2_location() {
        // 1.2 sits at 4 KiB: a shorter volume must not underflow.
        for len in [0, 100, 4095] {
            let data = vec![0u8; len];
            let vol = MemVolume::new("t", data.clone());
            assert!(find(&data, &vol).is_none());
        }
    }
}
