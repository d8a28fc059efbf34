//! VMFS, the ESXi datastore: its LVM (device headers, spans over several
//! devices) and its filesystem (VMFS5 and VMFS6, VMFS-L).
//!
//! Layers: a device (partition or LUN) holds an LVM header at 1 MiB
//! ([`lvm`]); the devices of one logical volume are gathered into it
//! ([`span`]); the volume holds the filesystem descriptor at 2 MiB
//! ([`descriptor`]) and the files ([`reader`]).

#![deny(clippy::indexing_slicing)]

pub mod address;
pub mod descriptor;
pub mod dir;
pub mod fd;
pub mod lvm;
pub mod reader;
pub mod resource;
pub mod span;

use crate::ident::{Detail, Identified, ProbeResult, Usage};
use crate::io::{bytes_at, Volume};

/// Identifies a VMFS LVM device header at 1 MiB.
pub fn identify_lvm(_head: &[u8], vol: &dyn Volume) -> ProbeResult {
    if !lvm::present(vol) {
        return None;
    }
    let dev = match lvm::read_device(vol) {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    let mut id = Identified::new("vmfs-lvm", Usage::Lvm, lvm::HEADER_OFFSET);
    id.uuid = Some(dev.uuid.clone());
    id.version = Some(format!("{}.{}", dev.major, dev.minor));
    id.size = Some(dev.total_bytes);
    if let Some(v) = dev.volumes.first() {
        id.label = (!v.name.is_empty()).then(|| v.name.clone());
        id.detail("volume_uuid", Detail::Text(v.uuid.clone()));
        id.detail("volume_size", Detail::Number(v.logical_size));
        id.detail("devices", Detail::Number(u64::from(v.num_devs)));
        id.detail("first_extent", Detail::Number(v.first_pe));
        id.detail("last_extent", Detail::Number(v.last_pe));
    }
    if let Some(d) = &dev.disk_id {
        id.detail("disk_id", Detail::Text(d.clone()));
    }
    Some(Ok(id))
}

/// Identifies a VMFS filesystem descriptor at 2 MiB.
pub fn identify(_head: &[u8], vol: &dyn Volume) -> ProbeResult {
    if vol.len() < descriptor::OFFSET + descriptor::LEN as u64 {
        return None;
    }
    let raw = bytes_at(vol, descriptor::OFFSET, descriptor::LEN).ok()?;
    let d = match descriptor::parse(&raw)? {
        Ok(d) => d,
        Err(e) => return Some(Err(e)),
    };
    let mut id = Identified::new(d.format(), Usage::Filesystem, descriptor::OFFSET);
    id.label = d.label.clone();
    id.uuid = Some(d.uuid.clone());
    id.version = Some(format!("{}.{}", d.major, d.minor));
    id.block_size = u32::try_from(d.file_block_size).ok();
    id.detail("local", Detail::Flag(d.local));
    id.detail(
        "sub_block_size",
        Detail::Number(u64::from(d.sub_block_size)),
    );
    if d.vmfs6() {
        id.detail("md_alignment", Detail::Number(u64::from(d.md_alignment)));
    }
    Some(Ok(id))
}
