//! Filesystem structures: superblocks and their backups, boot sectors and
//! their backups. Offsets of the fields are cited in crate::fs's parsers,
//! which these reuse; what is added here is where each copy sits in its
//! filesystem, so the filesystem's start can be computed from any copy.

use std::sync::Arc;

use super::peek;
use crate::bytes::{padded_str, uuid_str, Bytes};
use crate::checksum::crc32c;
use crate::fs;
use crate::io::{Slice, Volume, VolumeRef};
use crate::scan::finding::{Finding, FindingKind};
use crate::scan::signature::Context;

/// Groups that hold a backup superblock under sparse_super: 0, 1 and the
/// powers of 3, 5 and 7.
fn sparse_backup_group(g: u64) -> bool {
    if g <= 1 {
        return true;
    }
    [3u64, 5, 7].iter().any(|&b| {
        let mut x = b;
        while x < g {
            x *= b;
        }
        x == g
    })
}

/// ext2/3/4 superblock (primary or a backup). The superblock's group
/// number (s_block_group_nr, 0x5A), first data block (0x14) and blocks per
/// group (0x20) say where this copy sits in its filesystem.
pub fn ext(c: &Context) -> Option<Finding> {
    let sb = c.bytes.get(..1024)?;
    let s = fs::ext4::parse_superblock(sb)?.ok()?;
    let b = Bytes(sb);
    let bs = u64::from(s.block_size);
    let group = u64::from(b.le_u16(0x5A)?);
    let first_data = u64::from(b.le_u32(0x14)?);
    let per_group = u64::from(b.le_u32(0x20)?);
    let inodes_per_group = u64::from(b.le_u32(0x28)?);
    if per_group == 0 || per_group > 8 * bs || inodes_per_group == 0 || inodes_per_group > 8 * bs {
        return None;
    }
    if first_data != u64::from(bs == 1024) {
        return None;
    }
    let groups = s.blocks.saturating_sub(first_data).div_ceil(per_group);
    if group >= groups.max(1) {
        return None;
    }
    let offset_in_fs = if group == 0 {
        1024
    } else {
        (first_data + group * per_group) * bs
    };
    let mut f = Finding::new(
        FindingKind::Filesystem,
        s.flavour(),
        if group == 0 {
            "primary superblock".to_string()
        } else {
            format!("backup superblock (group {group})")
        },
        c.at,
    );
    f.start = Some(c.at.checked_sub(offset_in_fs)?);
    f.size = s.blocks.checked_mul(bs);
    f.label = s.label.clone();
    f.uuid = Some(uuid_str(&s.uuid));
    f.because("magic 0xEF53, block size, group geometry consistent", 15);
    match s.checksum {
        Some((stored, computed)) if stored == computed => {
            f.because("superblock checksum (crc32c) matches", 30)
        }
        Some(_) => f.despite("superblock checksum mismatch", 30),
        None => {}
    }
    if group > 0 && s.ro_compat & crate::fs::ext4::features::RO_COMPAT_SPARSE_SUPER != 0 {
        if sparse_backup_group(group) {
            f.because("group number is one sparse_super keeps backups in", 5);
        } else {
            f.despite("sparse_super keeps no backup in this group", 30);
        }
    }
    Some(f)
}

/// XFS superblock (AG 0's, or another AG's copy). The AG header sector
/// after it (AGF, "XAGF", seqno at 8) names the AG, and so the start.
pub fn xfs(c: &Context) -> Option<Finding> {
    let raw = crate::fs::xfs::sb::RawSuperblock::read(c.bytes)?;
    let bs = u64::from(raw.block_size);
    let sect = u64::from(raw.sect_size);
    let dblocks = raw.dblocks;
    let agblocks = u64::from(raw.ag_blocks);
    let agcount = u64::from(raw.ag_count);
    if !(512..=65536).contains(&bs)
        || !bs.is_power_of_two()
        || !(512..=32768).contains(&sect)
        || !sect.is_power_of_two()
    {
        return None;
    }
    if dblocks == 0 || agblocks == 0 || agcount == 0 || agblocks.checked_mul(agcount)? < dblocks {
        return None;
    }
    let agf = peek(c.vol.as_ref(), c.at + sect, 512);
    let ag = agf
        .as_deref()
        .filter(|a| a.starts_with(b"XAGF"))
        .and_then(|a| Bytes(a).be_u32(8))
        .map(u64::from);
    let mut f = Finding::new(
        FindingKind::Filesystem,
        "xfs",
        match ag {
            Some(0) | None => "primary superblock".to_string(),
            Some(n) => format!("superblock of AG {n}"),
        },
        c.at,
    );
    f.start =
        c.at.checked_sub(ag.unwrap_or(0).checked_mul(agblocks)?.checked_mul(bs)?);
    f.size = dblocks.checked_mul(bs);
    f.uuid = Some(uuid_str(&raw.uuid));
    f.label = padded_str(&raw.fname);
    f.because("XFSB with sane block, sector and AG geometry", 15);
    match ag {
        Some(n) if n < agcount => f.because(format!("AGF follows, naming AG {n}"), 15),
        Some(_) => return None,
        None => f.despite("no AGF after it: taken as AG 0", 10),
    }
    match raw.crc {
        Some((stored, computed)) if stored == computed => {
            f.because("superblock CRC (v5) matches", 30)
        }
        Some(_) => f.despite("superblock CRC (v5) mismatch", 30),
        None => {}
    }
    Some(f)
}

/// Btrfs superblock: the primary at 64 KiB or a mirror at 64 MiB or 256
/// GiB; its bytenr field (0x30) is its own offset in the filesystem.
pub fn btrfs(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let bytenr = b.le_u64(0x30)?;
    let what = match bytenr {
        0x1_0000 => "primary superblock",
        0x400_0000 => "mirror superblock (64 MiB)",
        0x40_0000_0000 => "mirror superblock (256 GiB)",
        _ => return None,
    };
    let mut f = Finding::new(FindingKind::Filesystem, "btrfs", what, c.at);
    f.start = Some(c.at.checked_sub(bytenr)?);
    f.size = Some(b.le_u64(0xC9 + 8)?);
    f.uuid = Some(uuid_str(&b.array(0x20)?));
    f.label = padded_str(b.get(0x12B, 256)?);
    f.because("magic _BHRfS_M and its own offset recorded", 20);
    if b.le_u16(0xC4)? == 0 {
        if b.le_u32(0)? == crc32c(b.get(0x20, 0x1000 - 0x20)?) {
            f.because("superblock checksum (crc32c) matches", 30);
        } else {
            f.despite("superblock checksum mismatch", 30);
        }
    }
    Some(f)
}

/// A slice of the scanned volume, for reusing the identification probes
/// on a hypothetical filesystem start.
fn at_start(vol: &VolumeRef, start: u64, len: u64) -> VolumeRef {
    Arc::new(Slice::new(
        vol.clone(),
        start,
        len,
        format!("{} @ {start:#x}", vol.describe()),
    ))
}

/// NTFS boot sector, at the start or (its backup) in the volume's last
/// sector. Which one it is: the one whose $MFT ("FILE") is where it says.
pub fn ntfs(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let bps = u64::from(b.le_u16(0x0B)?);
    // Above 0x80 the field is a negative exponent: 2^(256 - v) sectors.
    let spc = match b.u8(0x0D)? {
        v @ 1..=0x80 if v.is_power_of_two() => u64::from(v),
        v @ 0xE0..=0xFF => 1u64 << (256 - u32::from(v)),
        _ => return None,
    };
    let total = b.le_u64(0x28)?;
    let mft = b.le_u64(0x30)?;
    if !(256..=4096).contains(&bps) || !bps.is_power_of_two() || total == 0 {
        return None;
    }
    let cluster = bps * spc;
    let mft_at = |start: u64| {
        peek(
            c.vol.as_ref(),
            start.checked_add(mft.checked_mul(cluster)?)?,
            4,
        )
    };
    let fs_len = total.checked_add(1)?.checked_mul(bps)?;
    let backup_start = c.at.checked_sub(total.checked_mul(bps)?);
    let primary_ok = mft_at(c.at).is_some_and(|m| m == b"FILE");
    let backup_ok = backup_start.and_then(mft_at).is_some_and(|m| m == b"FILE");
    let (start, what) = if !primary_ok && backup_ok {
        (backup_start?, "backup boot sector")
    } else {
        (c.at, "boot sector")
    };
    let mut f = Finding::new(FindingKind::Filesystem, "ntfs", what, c.at);
    f.start = Some(start);
    f.size = Some(fs_len);
    f.uuid = Some(format!("{:016X}", b.le_u64(0x48)?));
    f.because("OEM id NTFS and a sane BIOS parameter block", 15);
    if primary_ok || backup_ok {
        f.because("$MFT record found where the boot sector says", 30);
        // The label, from $Volume.
        let vol = at_start(c.vol, start, fs_len);
        if let Some(Ok(id)) = fs::ntfs::identify(c.bytes, vol.as_ref()) {
            f.label = id.label;
        }
    } else {
        f.despite("no $MFT record where the boot sector says", 20);
    }
    Some(f)
}

/// Checks that a FAT (12/16/32) begins at `at`: its first entry holds the
/// media byte, the second all ones (FAT32: 0x0FFFFFFF).
fn fat_table_at(vol: &dyn Volume, at: u64, media: u8) -> bool {
    peek(vol, at, 4).is_some_and(|t| t.starts_with(&[media, 0xFF, 0xFF]))
}

/// FAT12/16/32 boot sector; FAT32 keeps a backup (BPB_BkBootSec, 0x32,
/// usually 6 sectors in). Which copy it is: the one whose FAT follows
/// where the BPB says.
pub fn fat(c: &Context) -> Option<Finding> {
    let bpb = fs::fat::parse_bpb(c.bytes)?.ok()?;
    let b = Bytes(c.bytes);
    let bps = u64::from(bpb.bytes_per_sector);
    let media = b.u8(21)?;
    let fat_off = u64::from(bpb.reserved) * bps;
    let backup_sec = if bpb.bits == 32 {
        u64::from(b.le_u16(0x32)?)
    } else {
        0
    };
    let primary_ok = fat_table_at(c.vol.as_ref(), c.at + fat_off, media);
    let backup_start = (backup_sec > 0 && backup_sec < u64::from(bpb.reserved))
        .then(|| c.at.checked_sub(backup_sec * bps))
        .flatten();
    let backup_ok = backup_start.is_some_and(|s| fat_table_at(c.vol.as_ref(), s + fat_off, media));
    let (start, what) = if !primary_ok && backup_ok {
        (backup_start?, "backup boot sector")
    } else {
        (c.at, "boot sector")
    };
    let format = match bpb.bits {
        12 => "fat12",
        16 => "fat16",
        _ => "fat32",
    };
    let mut f = Finding::new(FindingKind::Filesystem, format, what, c.at);
    f.start = Some(start);
    f.size = bpb.total_sectors.checked_mul(bps);
    f.uuid =
        (bpb.serial != 0).then(|| format!("{:04X}-{:04X}", bpb.serial >> 16, bpb.serial & 0xFFFF));
    f.label = bpb.boot_label.clone();
    f.because("a valid BIOS parameter block", 10);
    if primary_ok || backup_ok {
        f.because("the FAT starts with the media byte where the BPB says", 35);
    } else {
        f.despite("no FAT where the BPB says", 25);
    }
    Some(f)
}

/// exFAT main or backup boot region (the backup is 12 sectors after the
/// main). The boot checksum sector (11) must match; the copy 12 sectors
/// earlier, when it is an identical boot sector, makes this the backup.
pub fn exfat(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    if b.get(11, 53)?.iter().any(|&x| x != 0) {
        return None;
    }
    let shift = u32::from(b.u8(108)?);
    if !(9..=12).contains(&shift) {
        return None;
    }
    let bps = 1u64 << shift;
    let len = b.le_u64(72)?;
    let serial = b.le_u32(100)?;
    let fat_offset = u64::from(b.le_u32(80)?) * bps;
    // The FAT's first two entries: the media descriptor and end of chain.
    let fat_at = |start: u64| {
        start
            .checked_add(fat_offset)
            .and_then(|o| peek(c.vol.as_ref(), o, 8))
            .is_some_and(|t| t == [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    };
    let earlier_start = c.at.checked_sub(12 * bps);
    let earlier = earlier_start.and_then(|p| peek(c.vol.as_ref(), p, 512));
    let copy_before = earlier.is_some_and(|e| {
        Bytes(&e).has(3, b"EXFAT   ")
            && Bytes(&e).le_u32(100) == Some(serial)
            && Bytes(&e).le_u64(72) == Some(len)
    });
    let is_backup = copy_before || (!fat_at(c.at) && earlier_start.is_some_and(fat_at));
    let mut f = Finding::new(
        FindingKind::Filesystem,
        "exfat",
        if is_backup {
            "backup boot region"
        } else {
            "boot region"
        },
        c.at,
    );
    f.start = Some(if is_backup { c.at - 12 * bps } else { c.at });
    f.size = len.checked_mul(bps);
    f.uuid = Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF));
    f.because("EXFAT   with MustBeZero clear", 15);
    let region = peek(c.vol.as_ref(), c.at, (12 * bps) as usize)?;
    let mut sum = 0u32;
    // The first 11 of the region's 12 sectors.
    for (i, &x) in region.iter().take((11 * bps) as usize).enumerate() {
        if !matches!(i, 106 | 107 | 112) {
            sum = sum.rotate_right(1).wrapping_add(u32::from(x));
        }
    }
    if Bytes(&region).le_u32((11 * bps) as usize) == Some(sum) {
        f.because("boot checksum matches", 35);
    } else {
        f.despite("boot checksum mismatch", 25);
    }
    Some(f)
}

/// Linux swap: the signature in the last 10 bytes of the first page; the
/// version-1 header (version 1 at 1024, last_page at 1028) says the size.
pub fn swap(c: &Context) -> Option<Finding> {
    for page in [4096u64, 8192, 16384, 32768, 65536] {
        let Some(start) = (c.at + 512).checked_sub(page) else {
            continue;
        };
        let Some(h) = peek(c.vol.as_ref(), start + 1024, 48) else {
            continue;
        };
        let hb = Bytes(&h);
        let (le, last) = match hb.le_u32(0)? {
            1 => (true, hb.le_u32(4)?),
            v if v.swap_bytes() == 1 => (false, hb.be_u32(4)?),
            _ => continue,
        };
        if last == 0 {
            continue;
        }
        let mut f = Finding::new(
            FindingKind::Filesystem,
            "swap",
            format!("swap header ({page}-byte pages)"),
            c.at,
        );
        f.start = Some(start);
        f.size = (u64::from(last) + 1).checked_mul(page);
        let uuid: [u8; 16] = hb.array(12)?;
        f.uuid = (uuid != [0; 16]).then(|| uuid_str(&uuid));
        f.label = padded_str(hb.get(28, 16)?);
        f.because(
            format!(
                "SWAPSPACE2 with a version-1 header ({})",
                if le { "little-endian" } else { "big-endian" }
            ),
            40,
        );
        return Some(f);
    }
    None
}
