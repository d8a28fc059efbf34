//! Structures whose array offset is known: what sits at the array's start
//! (a partition table, a filesystem, an LVM label), found on the members
//! to propose data offsets, and checked through an assembled candidate
//! (CRCs that span chunks, the backup GPT at the array's end, filesystem
//! superblocks at partition starts) to tell right geometries from wrong.

use crate::bytes::Bytes;
use crate::fs::ext4;
use crate::io::{bytes_up_to, Volume};
use crate::part::{gpt, mbr};

use super::sample::Sample;

/// What the first bytes of an array can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StartKind {
    /// A GPT (protective MBR and "EFI PART" at 512).
    Gpt,
    /// An MBR partition table.
    Mbr,
    /// An LVM physical volume label.
    Lvm,
    /// A filesystem on the whole array.
    Fs,
}

/// What `head` (the first 4 KiB or so of a would-be array) starts with.
pub fn start_kind(head: &[u8]) -> Option<StartKind> {
    let b = Bytes(head);
    if b.get(512, 8)? == gpt::SIGNATURE {
        return Some(StartKind::Gpt);
    }
    if (0..4).any(|s| b.get(s * 512, 8) == Some(b"LABELONE")) {
        return Some(StartKind::Lvm);
    }
    if b.get(0, 4) == Some(b"XFSB") || b.get(3, 8) == Some(b"NTFS    ") {
        return Some(StartKind::Fs);
    }
    if let Some(Some(Ok(_))) = head.get(1024..2048).map(ext4::parse_superblock) {
        return Some(StartKind::Fs);
    }
    let m = mbr::parse_mbr(head.get(..512)?).ok()?;
    let sane = !m.entries.is_empty()
        && m.entries.iter().all(|e| e.first_lba > 0 && e.kind != 0)
        && head.get(..446)?.iter().any(|&x| x != 0) | m.entries.iter().all(|e| e.first_lba >= 63);
    sane.then_some(StartKind::Mbr)
}

/// Where an array could start: (member, member offset, kind), found at
/// every sector of the sample's head windows (the first 8 MiB, and 128 MiB).
pub fn find_starts(s: &Sample, limit: usize) -> Vec<(usize, u64, StartKind)> {
    let mut out = Vec::new();
    for (m, wins) in s.data.iter().enumerate() {
        for (w, start) in s.starts.iter().enumerate() {
            if *start >= super::sample::HEAD && *start != 128 << 20 {
                continue;
            }
            let Some(win) = wins.get(w) else { continue };
            let mut off = 0usize;
            while off + 512 <= win.len() && out.len() < limit {
                let head = win.get(off..(off + 4096).min(win.len())).unwrap_or(&[]);
                // Cheap prefilter: every kind has a non-zero byte in the first 2 KiB.
                if head.iter().take(2048).any(|&x| x != 0) {
                    if let Some(k) = start_kind(head) {
                        out.push((m, start + off as u64, k));
                    }
                }
                off += 512;
            }
        }
    }
    out
}

/// What checking a candidate's array found.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Evidence points: each check that passed adds by its strength.
    pub points: f64,
    /// What passed (and what failed that should have passed).
    pub evidence: Vec<String>,
    /// The array size a GPT says (its backup header's LBA + 1 sectors).
    pub size_hint: Option<u64>,
}

/// Checks the structures at the start of `vol` (an assembled candidate).
pub fn verify(vol: &dyn Volume) -> Verified {
    let mut v = Verified::default();
    let Ok(head) = bytes_up_to(vol, 0, 4096) else {
        return v;
    };
    let mut parts: Vec<(u64, u64)> = Vec::new();
    match start_kind(&head) {
        Some(StartKind::Gpt) => {
            v.points += 1.0;
            let g = gpt::scan(vol, 512);
            if g.primary.is_intact() {
                v.points += 3.0;
                v.evidence
                    .push("GPT at array offset 0: header and entry array CRCs match".into());
            } else if g.primary.copy().is_some() {
                v.points += 1.0;
                v.evidence.push(
                    "GPT at array offset 0: header CRC matches, entry array CRC does not".into(),
                );
            } else {
                v.points -= 1.0;
                v.evidence
                    .push("GPT signature at 512 but the header CRC does not match".into());
            }
            if let Some(c) = g.primary.copy() {
                v.size_hint = c
                    .header
                    .alternate_lba
                    .checked_add(1)
                    .and_then(|s| s.checked_mul(512));
                parts = c
                    .entries
                    .iter()
                    .take(4)
                    .map(|e| {
                        (
                            e.first_lba * 512,
                            (e.last_lba + 1).saturating_sub(e.first_lba) * 512,
                        )
                    })
                    .collect();
            }
            if g.backup.is_intact() {
                v.points += 2.0;
                v.evidence.push(format!(
                    "backup GPT at the array's end (LBA {}) checks out",
                    g.backup_lba
                ));
            }
        }
        Some(StartKind::Mbr) => {
            v.points += 1.0;
            if let Ok(m) = mbr::parse_mbr(&head[..512]) {
                let fits = m
                    .entries
                    .iter()
                    .all(|e| (u64::from(e.first_lba) + u64::from(e.sectors)) * 512 <= vol.len());
                if fits {
                    v.points += 1.0;
                    v.evidence.push(format!(
                        "MBR at array offset 0, {} partition(s) inside the array",
                        m.entries.len()
                    ));
                }
                parts = m
                    .entries
                    .iter()
                    .take(4)
                    .map(|e| (u64::from(e.first_lba) * 512, u64::from(e.sectors) * 512))
                    .collect();
            }
        }
        Some(k) => {
            v.points += 1.0;
            v.evidence.push(format!("{k:?} at array offset 0"));
            parts.push((0, vol.len()));
        }
        None => {}
    }
    for (start, len) in parts {
        v.points += check_fs(vol, start, len, &mut v.evidence);
    }
    v
}

/// Points for a filesystem at `start` of `vol`: a superblock whose checksum
/// matches and whose size fits the partition.
fn check_fs(vol: &dyn Volume, start: u64, len: u64, ev: &mut Vec<String>) -> f64 {
    let Ok(b) = bytes_up_to(vol, start, 2048) else {
        return 0.0;
    };
    if b.get(..4) == Some(b"XFSB") || b.get(3..11) == Some(b"NTFS    ") {
        ev.push(format!("filesystem signature at array offset {start:#x}"));
        return 1.0;
    }
    match b.get(1024..2048).and_then(ext4::parse_superblock) {
        Some(Ok(sb)) => {
            let mut p = 1.0;
            let mut what = format!("ext superblock at array offset {:#x}", start + 1024);
            if let Some((stored, computed)) = sb.checksum {
                if stored == computed {
                    p += 2.0;
                    what.push_str(", checksum matches");
                } else {
                    p -= 1.0;
                    what.push_str(", checksum does not match");
                }
            }
            if sb.blocks.saturating_mul(u64::from(sb.block_size)) <= len {
                p += 0.5;
            }
            p += check_ext_groups(vol, start, &sb);
            ev.push(what);
            p
        }
        _ => 0.0,
    }
}

/// Points for ext group descriptors whose checksums match (metadata_csum:
/// crc32c of the uuid, the group number and the descriptor), read through
/// `vol`: the descriptor table lies a block after the superblock, often in
/// another chunk.
fn check_ext_groups(vol: &dyn Volume, start: u64, sb: &ext4::Superblock) -> f64 {
    const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
    const INCOMPAT_64BIT: u32 = 0x80;
    if sb.ro_compat & RO_COMPAT_METADATA_CSUM == 0 {
        return 0.0;
    }
    let bs = u64::from(sb.block_size);
    let gdt = if bs == 1024 { 2 * bs } else { bs };
    let desc = if sb.incompat & INCOMPAT_64BIT != 0 {
        64
    } else {
        32
    };
    let Ok(b) = bytes_up_to(vol, start + gdt, 4096) else {
        return 0.0;
    };
    let seed = crate::checksum::crc32c_raw(!0, &sb.uuid);
    let (mut ok, mut bad) = (0u32, 0u32);
    for g in 0..(b.len() / desc).min(64) {
        let Some(d) = b.get(g * desc..(g + 1) * desc) else {
            break;
        };
        if d.iter().all(|&x| x == 0) {
            break;
        }
        let mut c = crate::checksum::crc32c_raw(seed, &(g as u32).to_le_bytes());
        c = crate::checksum::crc32c_raw(c, &d[..0x1E]);
        c = crate::checksum::crc32c_raw(c, &[0, 0]);
        c = crate::checksum::crc32c_raw(c, &d[0x20..]);
        let stored = u16::from_le_bytes([d[0x1E], d[0x1F]]);
        if (c & 0xFFFF) as u16 == stored {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    if ok > 0 && bad == 0 {
        2.0
    } else if bad > 0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_mbr_starts_an_array() {
        let mut s = vec![0u8; 4096];
        s[446] = 0;
        s[446 + 4] = 0x83;
        s[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        s[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(start_kind(&s), Some(StartKind::Mbr));
        s[512..520].copy_from_slice(b"EFI PART");
        assert_eq!(start_kind(&s), Some(StartKind::Gpt));
    }

    proptest! {
        #[test]
        fn start_kind_never_panics(b in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let _ = start_kind(&b);
        }
    }
}
