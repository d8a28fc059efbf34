//! Containers that fill a partition or a disk: LUKS, LVM2 PVs, md members,
//! and the whole-disk RAID metadata of DDF and IMSM.

use super::peek;
use crate::bytes::{padded_str, Bytes};
use crate::checksum::lvm_crc;
use crate::raid::{ddf, imsm, md};
use crate::scan::finding::{Finding, FindingKind};
use crate::scan::signature::Context;

/// LUKS1/2 primary header at the start, or LUKS2's second header, whose
/// hdr_offset field (256, big-endian) is its own offset.
pub fn luks(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let version = b.be_u16(6)?;
    let second = b.has(0, b"SKUL\xba\xbe");
    // LUKS2 headers record their own offset: 0 for the first, > 0 for the second.
    let offset = match (version, second) {
        (1, false) => 0,
        (2, false) => b.be_u64(256).filter(|&o| o == 0)?,
        (2, true) => b.be_u64(256).filter(|&o| o > 0)?,
        _ => return None,
    };
    let mut f = Finding::new(
        FindingKind::Container,
        "luks",
        if second {
            "LUKS2 second header"
        } else {
            "LUKS header"
        },
        c.at,
    );
    f.start = Some(c.at.checked_sub(offset)?);
    f.uuid = padded_str(b.get(168, 40)?);
    if version == 2 {
        f.label = padded_str(b.get(24, 48)?);
    }
    let uuid_ok = f
        .uuid
        .as_deref()
        .is_some_and(|u| u.len() == 36 && u.bytes().all(|x| x.is_ascii_hexdigit() || x == b'-'));
    if uuid_ok {
        f.because(format!("LUKS{version} magic and a well-formed UUID"), 40);
    } else {
        f.despite("UUID field is not a UUID", 20);
    }
    Some(f)
}

/// LVM2 PV label: sector_xl (8) is the label's own sector in the PV, the
/// label CRC (16) covers bytes 20..512 with LVM's initial value.
pub fn lvm(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    if !b.has(24, b"LVM2 001") {
        return None;
    }
    let sector = b.le_u64(8)?;
    if sector > 3 {
        return None;
    }
    let mut f = Finding::new(FindingKind::Container, "lvm2", "PV label", c.at);
    f.start = Some(c.at.checked_sub(sector * 512)?);
    let pv = usize::try_from(b.le_u32(20)?)
        .ok()
        .filter(|&o| (32..=472).contains(&o))?;
    f.uuid = Some(crate::lvm::label::format_lvm_uuid(b.get(pv, 32)?));
    f.size = b.le_u64(pv + 32).filter(|&s| s != 0);
    if lvm_crc(0xf597_a6cf, b.get(20, 492)?) == b.le_u32(16)? {
        f.because("label CRC matches", 50);
    } else {
        f.despite("label CRC mismatch", 20);
    }
    Some(f)
}

/// md superblock: 1.x records its own offset (super_offset, 144), 0.90
/// sits in the last 64 KiB-aligned 64 KiB of its device, whose size its
/// size field (KiB) nearly gives.
pub fn md(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let v1 = b.le_u32(0)? == md::MAGIC && b.le_u32(4)? == 1;
    if v1 {
        let own = b.le_u64(144)?.checked_mul(512)?;
        let start = c.at.checked_sub(own)?;
        let meta = md::v1::parse(c.bytes, own)?.ok()?;
        let (info, role) = meta.arrays.first()?;
        let mut f = Finding::new(
            FindingKind::Container,
            "md",
            format!("md {} superblock", meta.version),
            c.at,
        );
        f.start = Some(start);
        f.size = role
            .data_size
            .and_then(|d| d.checked_add(role.data_offset))
            .map(|s| s.max(own + 4096));
        f.uuid = Some(info.id.clone());
        f.label = info.name.clone();
        if meta.checksum_ok == Some(true) {
            f.because("superblock checksum matches", 45);
        } else {
            f.despite("superblock checksum mismatch", 20);
        }
        return Some(f);
    }
    // 0.90: the data runs from the device start up to the superblock.
    let meta = md::v090::parse(c.bytes, c.at)?.ok()?;
    let (info, _) = meta.arrays.first()?;
    let data = info.member_size?;
    let mut f = Finding::new(FindingKind::Container, "md", "md 0.90 superblock", c.at);
    f.start = c.at.checked_sub(data);
    f.size = Some(data + 0x10000);
    f.uuid = Some(info.id.clone());
    f.because(
        "0.90 magic; start estimated from the member size it records",
        20,
    );
    if meta.checksum_ok == Some(true) {
        f.because("superblock checksum matches", 25);
    }
    Some(f)
}

/// A DDF header: the anchor (type 0) ends its disk; the primary and
/// secondary headers (types 1, 2) sit at the LBAs the header records.
pub fn ddf(c: &Context) -> Option<Finding> {
    let h = ddf::raw::parse_header(c.bytes)?;
    let (what, lba) = match h.header_type {
        0 => ("DDF anchor header", None),
        1 => ("DDF primary header", Some(h.primary_lba)),
        2 => ("DDF secondary header", Some(h.secondary_lba)),
        _ => return None,
    };
    let mut f = Finding::new(FindingKind::DiskMetadata, "ddf", what, c.at);
    f.uuid = Some(ddf::raw::guid_hex(&h.guid));
    match lba {
        Some(l) => f.start = c.at.checked_sub(l.checked_mul(512)?),
        None => f.size = Some(c.at + 512),
    }
    if ddf::raw::check_crc(c.bytes.get(..512)?, h.le).is_ok() {
        f.because("header CRC matches", 45);
    } else {
        f.despite("header CRC mismatch", 20);
    }
    Some(f)
}

/// An IMSM MPB: two sectors from the end of its disk; its checksum covers
/// mpb_size bytes (extended sectors precede it, not read here).
pub fn imsm(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let size = usize::try_from(b.le_u32(0x24)?)
        .ok()
        .filter(|&s| (0xD8..=2210 * 512).contains(&s))?;
    let mut f = Finding::new(FindingKind::DiskMetadata, "imsm", "IMSM MPB", c.at);
    f.size = Some(c.at + 1024);
    f.uuid = Some(format!("{:08x}", b.le_u32(0x28)?));
    if size <= 512 {
        if imsm::checksum(b.get(0, size)?) == b.le_u32(0x20)? {
            f.because("MPB checksum matches", 45);
        } else {
            f.despite("MPB checksum mismatch", 20);
        }
    } else if peek(c.vol.as_ref(), c.at, 512).is_some() {
        f.because("extended MPB (checksum not checked here)", 20);
    }
    Some(f)
}

/// A VMFS LVM device header, 1 MiB into its partition (the datastore
/// device of an ESXi host): the major version, the disk block size and a
/// first physical extent past the header area (`fs::vmfs::lvm` gives the
/// offsets).
pub fn vmfs_lvm(c: &Context) -> Option<Finding> {
    use crate::fs::vmfs::lvm;
    let b = Bytes(c.bytes);
    let major = b.le_u32(4)?;
    if !(3..=6).contains(&major) || !matches!(b.le_u32(0x5a)?, 512 | 4096) {
        return None;
    }
    let total = b.le_u64(0x5e)?;
    let data = b.le_u64(0x7a)?;
    if total <= lvm::HEADER_OFFSET || data >= total {
        return None;
    }
    let mut f = Finding::new(
        FindingKind::Container,
        "vmfs-lvm",
        "VMFS LVM device header",
        c.at,
    );
    f.start = Some(c.at.checked_sub(lvm::HEADER_OFFSET)?);
    f.size = Some(total);
    f.uuid = Some(lvm::vmfs_uuid(&b.array(0x82)?));
    let volumes = b.le_u32(0x66)?;
    let max = if major >= 6 { 1 } else { 512 };
    if (1..=max).contains(&volumes) && data >= 0x110_0000 {
        f.because(
            format!(
                "LVM {major} header with {volumes} volume(s) and its extents past the metadata"
            ),
            45,
        );
    } else {
        f.despite("volume count or data offset unlike ESXi's", 15);
    }
    Some(f)
}
