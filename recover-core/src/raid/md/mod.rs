//! Linux md superblocks.
//!
//! Version 1.x (linux/raid/md_p.h, struct mdp_superblock_1, little-endian):
//! magic 0xa92b4efc at 0, major_version 4, feature_map 8, set_uuid 16,
//! set_name 32, ctime 64, level 72, layout 76, size 80, chunksize 88,
//! raid_disks 92, data_offset 128, data_size 136, super_offset 144,
//! dev_number 160, device_uuid 168, events 200, sb_csum 216, max_dev 220,
//! dev_roles 256. Version 1.1 sits at byte 0, 1.2 at 4 KiB, 1.0 at
//! ((sectors - 16) & ~7) sectors: 8 to 12 KiB from the end, 4 KiB aligned.
//!
//! Version 0.90 (struct mdp_superblock_s, the writer's byte order): magic 0,
//! major 4, minor 8, patch 12, set_uuid0 20, ctime 24, level 28, size 32,
//! nr_disks 36, raid_disks 40, set_uuid1..3 52..64; it sits in the last
//! 64 KiB-aligned 64 KiB of the device.

use crate::bytes::{padded_str, uuid_str, Bytes};
use crate::fs::probe::{Detail, Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};

/// The md superblock magic.
pub const MAGIC: u32 = 0xa92b_4efc;
/// Largest max_dev a 1.x superblock can have (4 KiB of roles).
const MAX_DEV: u32 = (4096 - 256) / 2;

/// Where a 1.0 superblock sits on a device of `len` bytes.
pub fn v1_0_offset(len: u64) -> Option<u64> {
    let sectors = len / 512;
    sectors.checked_sub(16).map(|s| (s & !7) * 512)
}

/// Where a 0.90 superblock sits on a device of `len` bytes.
pub fn v0_90_offset(len: u64) -> Option<u64> {
    (len & !0xFFFF).checked_sub(0x10000)
}

/// The 1.x superblock checksum: the sum of its little-endian words over
/// 256 + 2 * max_dev bytes, with sb_csum taken as zero, folded to 32 bits.
pub fn v1_checksum(sb: &[u8], max_dev: u32) -> Option<u32> {
    let size = 256 + 2 * max_dev as usize;
    let bytes = sb.get(..size)?;
    let mut sum: u64 = 0;
    let mut words = bytes.chunks_exact(4);
    for (i, w) in words.by_ref().enumerate() {
        if i != 216 / 4 {
            sum += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    if let [a, b] = words.remainder() {
        sum += u64::from(u16::from_le_bytes([*a, *b]));
    }
    Some(((sum & 0xffff_ffff) + (sum >> 32)) as u32) // ok: the fold fits after one carry
}

fn parse_v1(sb: &[u8], at: u64, version: &'static str) -> Option<Identified> {
    let b = Bytes(sb);
    if b.le_u32(0)? != MAGIC || b.le_u32(4)? != 1 {
        return None;
    }
    let super_offset = b.le_u64(144)?;
    if super_offset.checked_mul(512) != Some(at) {
        // A 1.x superblock records where it belongs; one found elsewhere is a
        // member of something nested inside (or a stale copy): not ours.
        return None;
    }
    let mut id = Identified::new("md", Usage::Raid, at);
    id.version = Some(version.into());
    id.uuid = Some(uuid_str(&b.array(16)?));
    id.label = padded_str(b.get(32, 32)?);
    let max_dev = b.le_u32(220)?;
    if max_dev <= MAX_DEV {
        if let Some(c) = v1_checksum(sb, max_dev) {
            id.checksum("md superblock", at + 216, b.le_u32(216)?, c);
        }
    }
    id.detail("level", Detail::Text((b.le_u32(72)? as i32).to_string()));
    id.detail("raid_disks", Detail::Number(u64::from(b.le_u32(92)?)));
    id.detail("dev_number", Detail::Number(u64::from(b.le_u32(160)?)));
    id.detail("events", Detail::Number(b.le_u64(200)?));
    id.detail(
        "data_offset",
        Detail::Number(b.le_u64(128)?.saturating_mul(512)),
    );
    id.detail("uuid_sub", Detail::Text(uuid_str(&b.array(168)?)));
    Some(id)
}

fn parse_v0_90(sb: &[u8], at: u64) -> Option<Identified> {
    let b = Bytes(sb);
    let le = match b.le_u32(0)? {
        MAGIC => true,
        m if m.swap_bytes() == MAGIC => false,
        _ => return None,
    };
    let word = |off: usize| if le { b.le_u32(off) } else { b.be_u32(off) };
    if word(4)? != 0 || word(8)? != 90 {
        return None;
    }
    let mut uuid = [0u8; 16];
    uuid[..4].copy_from_slice(b.get(20, 4)?);
    uuid[4..].copy_from_slice(b.get(52, 12)?);
    let mut id = Identified::new("md", Usage::Raid, at);
    id.version = Some("0.90".into());
    id.uuid = Some(uuid_str(&uuid));
    id.detail("level", Detail::Text((word(28)? as i32).to_string()));
    id.detail("raid_disks", Detail::Number(u64::from(word(40)?)));
    id.detail(
        "byte_order",
        Detail::Text(if le { "little" } else { "big" }.into()),
    );
    Some(id)
}

/// Identifies an md member: 1.1 and 1.2 at the start, 1.0 and 0.90 at the end.
pub fn identify(head: &[u8], vol: &dyn Volume) -> ProbeResult {
    for (at, version) in [(0u64, "1.1"), (4096, "1.2")] {
        if let Some(id) = head
            .get(at as usize..)
            .and_then(|sb| parse_v1(sb, at, version))
        {
            return Some(Ok(id));
        }
    }
    let len = vol.len();
    if let Some(at) = v1_0_offset(len) {
        if let Ok(sb) = bytes_at(vol, at, (len - at).min(4096) as usize) {
            if let Some(id) = parse_v1(&sb, at, "1.0") {
                return Some(Ok(id));
            }
        }
    }
    if let Some(at) = v0_90_offset(len) {
        if let Ok(sb) = bytes_at(vol, at, 4096) {
            if let Some(id) = parse_v0_90(&sb, at) {
                return Some(Ok(id));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    /// Fuzzer find (fs_probe): a 1.x superblock whose super_offset times 512
    /// overflowed u64, and one whose data_offset did.
    #[test]
    fn huge_offsets_do_not_overflow() {
        let mut sb = vec![0u8; 152];
        sb[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        sb[4] = 1;
        sb[144..152].copy_from_slice(&0x016a_c23f_6300_0000u64.to_le_bytes());
        assert!(identify(&sb, &MemVolume::new("m", sb.clone())).is_none());

        let mut sb = vec![0u8; 4096];
        sb[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        sb[4] = 1;
        sb[128..136].copy_from_slice(&u64::MAX.to_le_bytes());
        let id = identify(&sb, &MemVolume::new("m", sb.clone()))
            .unwrap()
            .unwrap();
        assert!(id
            .details
            .contains(&("data_offset", Detail::Number(u64::MAX))));
    }
}
