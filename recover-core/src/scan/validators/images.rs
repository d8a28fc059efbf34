//! VM disk image headers and footers (usually files inside a filesystem):
//! qcow2 (QEMU docs/interop/qcow2.txt), VMDK sparse extents and
//! descriptors (VMware "Virtual Disk Format 1.1"), VHD footers (Microsoft
//! "VHD Image Format Specification"), VHDX (MS-VHDX §2.2.1) and VDI.

use crate::bytes::Bytes;
use crate::scan::finding::{Finding, FindingKind};
use crate::scan::signature::Context;

/// qcow2: "QFI\xfb", version (4, BE) 2 or 3, cluster_bits (20) 9..=21,
/// virtual size (24).
pub fn qcow2(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let version = b.be_u32(4)?;
    let bits = b.be_u32(20)?;
    if !(2..=3).contains(&version) || !(9..=21).contains(&bits) {
        return None;
    }
    let mut f = Finding::new(
        FindingKind::VmImage,
        "qcow2",
        format!("qcow2 v{version} header, virtual size {}", b.be_u64(24)?),
        c.at,
    );
    f.start = Some(c.at);
    f.because("version and cluster size valid", 40);
    Some(f)
}

/// VMDK sparse extent header: "KDMV", version (4, LE) 1..=3, capacity (12)
/// and grain size (20) in sectors.
pub fn vmdk(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let version = b.le_u32(4)?;
    let grain = b.le_u64(20)?;
    if !(1..=3).contains(&version) || grain == 0 || !grain.is_power_of_two() {
        return None;
    }
    let mut f = Finding::new(
        FindingKind::VmImage,
        "vmdk",
        format!(
            "VMDK sparse header v{version}, capacity {} sectors",
            b.le_u64(12)?
        ),
        c.at,
    );
    f.start = Some(c.at);
    f.because("version and grain size valid", 40);
    Some(f)
}

/// A VMDK text descriptor, standing alone or embedded.
pub fn vmdk_descriptor(c: &Context) -> Option<Finding> {
    let text = String::from_utf8_lossy(c.bytes);
    let kind = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("createType="))?
        .trim_matches('"')
        .to_string();
    let mut f = Finding::new(
        FindingKind::VmImage,
        "vmdk",
        format!("VMDK descriptor, createType {kind}"),
        c.at,
    );
    f.start = Some(c.at);
    f.because("descriptor with a createType", 30);
    Some(f)
}

/// VHD footer ("conectix"): at the end of every VHD (and copied to the
/// start of dynamic ones). Its checksum (64) is the complement of the
/// byte sum; a fixed disk's data (current size, 48) ends where it starts.
pub fn vhd(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    let footer = b.get(0, 512)?;
    let stored = b.be_u32(64)?;
    let sum = footer
        .iter()
        .enumerate()
        .filter(|(i, _)| !(64..68).contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    if !sum != stored {
        return None;
    }
    let kind = b.be_u32(60)?;
    let size = b.be_u64(48)?;
    let mut f = Finding::new(
        FindingKind::VmImage,
        "vhd",
        format!("VHD footer, type {kind}, size {size}"),
        c.at,
    );
    f.start = Some(if kind == 2 {
        c.at.checked_sub(size)?
    } else {
        c.at
    });
    f.size = (kind == 2).then_some(size + 512);
    f.because("footer checksum matches", 50);
    Some(f)
}

/// VHDX file identifier ("vhdxfile" at the start of the file).
pub fn vhdx(c: &Context) -> Option<Finding> {
    let mut f = Finding::new(FindingKind::VmImage, "vhdx", "VHDX file identifier", c.at);
    f.start = Some(c.at);
    // The first header follows 64 KiB in ("head" signature).
    if crate::scan::validators::peek(c.vol.as_ref(), c.at + 0x1_0000, 4)
        .is_some_and(|h| h == b"head")
    {
        f.because("header 1 at 64 KiB", 40);
    } else {
        f.despite("no header at 64 KiB", 20);
    }
    Some(f)
}

/// VDI header: the text banner, then signature 0xbeda107f at 0x40 (LE).
pub fn vdi(c: &Context) -> Option<Finding> {
    let b = Bytes(c.bytes);
    if !b.has(0, b"<<< Oracle VM VirtualBox Disk Image >>>")
        && !b.has(0, b"<<< Sun")
        && !b.has(0, b"<<< innotek")
    {
        return None;
    }
    if b.le_u32(0x40)? != 0xbeda_107f {
        return None;
    }
    let mut f = Finding::new(
        FindingKind::VmImage,
        "vdi",
        format!("VDI header v{}.{}", b.le_u16(0x46)?, b.le_u16(0x44)?),
        c.at,
    );
    f.start = Some(c.at);
    f.because("banner and signature", 50);
    Some(f)
}
