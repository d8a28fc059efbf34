//! VM disk images, each opened as the virtual disk it holds, found by
//! content (magic), never by file name.

#![deny(clippy::indexing_slicing)]

pub mod check;
pub mod qcow2;
pub mod siblings;
pub mod vdi;
pub mod vhd;
pub mod vhdx;
pub mod vmdk;

pub use siblings::{Chain, Siblings};

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::{bytes_at, bytes_up_to, Volume, VolumeRef};
use crate::problem::Problem;

/// What a VM image node reports.
#[derive(Debug, Clone)]
pub struct VmImageInfo {
    /// qcow2, ...
    pub format: &'static str,
    /// The variant, in words: "v3 (compat 1.1), zstd, extended L2".
    pub subformat: String,
    /// Bytes of the virtual disk.
    pub virtual_size: u64,
    /// Bytes of the image file.
    pub file_size: u64,
    /// Bytes of the image that hold guest data, where known.
    pub allocated: Option<u64>,
    /// The backing file the image names (its unallocated clusters are that
    /// file's).
    pub backing_file: Option<String>,
    /// The backing file's format, as the image says.
    pub backing_format: Option<String>,
    /// How the guest data is encrypted, when it is.
    pub encryption: Option<&'static str>,
    /// Internal snapshots.
    pub snapshots: Vec<qcow2::Snapshot>,
}

/// A VM image found on a volume: what it is, its virtual disk (when it
/// can be read), and what is wrong.
pub type Detected = (VmImageInfo, Option<VolumeRef>, Vec<Problem>);

/// Looks for a VM image at the start of `vol`: `None` when there is none.
/// Files the image names (backing files, parents, extents) are opened
/// through `chain`.
pub fn detect(vol: &VolumeRef, chain: &Chain) -> Option<Result<Detected>> {
    let head = match bytes_up_to(vol.as_ref(), 0, 4096) {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    if crate::io::ewf::is_ewf(&head) {
        return Some(detect_ewf(vol, chain));
    }
    if head.get(..4) == Some(b"QFI\xfb") {
        return Some(detect_qcow2(vol, chain));
    }
    if head.get(..8) == Some(vhdx::header::IDENTIFIER) {
        return Some(detect_vhdx(vol, chain));
    }
    if vdi::is_vdi(&head) {
        return Some(detect_vdi(vol));
    }
    if vmdk::is_vmdk(&head, vol.len()) {
        return Some(detect_vmdk(vol, chain));
    }
    // VHD: a dynamic disk starts with a footer copy; a fixed disk has its
    // footer only in the last sector.
    let tail = vol
        .len()
        .checked_sub(512)
        .and_then(|at| bytes_at(vol.as_ref(), at, 512).ok());
    let fixed = tail
        .as_deref()
        .and_then(vhd::parse_footer)
        .is_some_and(|f| f.is_ok_and(|f| f.disk_type == vhd::DiskType::Fixed && f.checksum_ok));
    if head.get(..8) == Some(b"conectix") || fixed {
        return Some(detect_vhd(vol, chain));
    }
    None
}

fn info(
    format: &'static str,
    subformat: String,
    virtual_size: u64,
    vol: &VolumeRef,
) -> VmImageInfo {
    VmImageInfo {
        format,
        subformat,
        virtual_size,
        file_size: vol.len(),
        allocated: None,
        backing_file: None,
        backing_format: None,
        encryption: None,
        snapshots: Vec::new(),
    }
}

fn detect_vdi(vol: &VolumeRef) -> Result<Detected> {
    let v = vdi::Vdi::open(vol.clone())?;
    let mut i = info("vdi", v.kind.to_string(), v.len(), vol);
    i.allocated = Some(v.allocated());
    Ok((i, Some(v as VolumeRef), Vec::new()))
}

fn detect_vmdk(vol: &VolumeRef, chain: &Chain) -> Result<Detected> {
    let v = vmdk::open(vol.clone(), chain)?;
    let mut i = info("vmdk", v.create_type, v.disk.len(), vol);
    i.allocated = v.allocated;
    i.backing_file = v.parent;
    Ok((i, Some(v.disk), v.problems))
}

/// Opens the file an image names as its backing file or parent (`what`),
/// as the disk it holds: an image's virtual disk, or the file itself when
/// it is raw. The problems are those of the backing image (its own backing
/// file missing, say).
pub fn open_backing(chain: &Chain, name: &str, what: &str) -> Result<(VolumeRef, Vec<Problem>)> {
    let (vol, next) = chain.open(name, what)?;
    match detect(&vol, &next) {
        None => Ok((vol, Vec::new())),
        Some(Ok((_, Some(disk), problems))) => Ok((disk, problems)),
        Some(Ok((info, None, _))) => Err(Error::Unsupported {
            layer: vol.describe(),
            what: format!("reading the {} image named as {what}", info.format),
        }),
        Some(Err(e)) => Err(e),
    }
}

/// Opens a backing file or parent if the image names one: the volume, or
/// `None` with a problem saying why unallocated parts read as zeros.
fn backing_or_problem(
    chain: &Chain,
    name: Option<&str>,
    what: &str,
    structure: &'static str,
    at: Option<u64>,
    problems: &mut Vec<Problem>,
) -> Option<VolumeRef> {
    let name = name?;
    match open_backing(chain, name, what) {
        Ok((v, inner)) => {
            problems.extend(inner.into_iter().map(|mut p| {
                p.detail = format!("{what} {name:?}: {}", p.detail);
                p
            }));
            Some(v)
        }
        Err(e) => {
            problems.push(Problem::error(
                structure,
                at,
                format!("{what} {name:?} cannot be read ({e}): what this image does not hold reads as zeros"),
            ));
            None
        }
    }
}

fn detect_vhd(vol: &VolumeRef, chain: &Chain) -> Result<Detected> {
    let (footer, plain, parent) = vhd::Vhd::open(vol.clone(), None)?;
    let mut problems = Vec::new();
    let parent_vol = backing_or_problem(
        chain,
        parent.as_deref(),
        "parent",
        "VHD dynamic header",
        None,
        &mut problems,
    );
    // Opened again only to read through a parent that was found.
    let disk = match parent_vol {
        Some(p) => vhd::Vhd::open(vol.clone(), Some(p))?.1,
        None => plain,
    };
    if !footer.checksum_ok {
        problems.push(Problem::warning(
            "VHD footer",
            Some(vol.len().saturating_sub(512) + 0x40),
            "checksum mismatch; the footer is used anyway",
        ));
    }
    let mut i = info(
        "vhd",
        footer.disk_type.as_str().to_string(),
        footer.size,
        vol,
    );
    i.backing_file = parent;
    Ok((i, Some(disk), problems))
}

fn detect_qcow2(vol: &VolumeRef, chain: &Chain) -> Result<Detected> {
    let name = vol.describe();
    let head = bytes_up_to(vol.as_ref(), 0, 1 << 21)?;
    let h = match qcow2::header::parse(&head) {
        Some(Ok(h)) => h,
        Some(Err((at, why))) => {
            return Err(Error::corrupt("qcow2 header", at, why).within(&name, 0))
        }
        None => return Err(Error::corrupt("qcow2 header", 0, "no magic").within(&name, 0)),
    };
    let mut sub = vec![match h.version {
        2 => "v2 (compat 0.10)".to_string(),
        v => format!("v{v} (compat 1.1)"),
    }];
    sub.push(format!("{} KiB clusters", h.cluster_size() / 1024));
    if h.compression == qcow2::Compression::Zstd {
        sub.push("zstd".into());
    }
    if h.incompatible & qcow2::header::INCOMPAT_EXTENDED_L2 != 0 {
        sub.push("extended L2".into());
    }
    let mut problems = Vec::new();
    if h.incompatible & qcow2::header::INCOMPAT_DIRTY != 0 {
        problems.push(Problem::warning("qcow2 header", Some(72), "marked dirty: QEMU did not close it (refcounts may be stale; the data mapping is read as it is)"));
    }
    if h.incompatible & qcow2::header::INCOMPAT_CORRUPT != 0 {
        problems.push(Problem::error(
            "qcow2 header",
            Some(72),
            "marked corrupt by QEMU",
        ));
    }
    let mut info = info("qcow2", sub.join(", "), h.size, vol);
    info.backing_file = h.backing_file.clone();
    info.backing_format = h.backing_format.clone();
    info.encryption = h.encryption();
    let backing = if h.encryption().is_none() {
        backing_or_problem(
            chain,
            h.backing_file.as_deref(),
            "backing file",
            "qcow2 header",
            Some(8),
            &mut problems,
        )
    } else {
        None
    };
    // An external data file holds the guest clusters; it is raw, found
    // like a backing file.
    let data = match (
        &h.data_file,
        h.incompatible & qcow2::header::INCOMPAT_EXTERNAL_DATA != 0,
    ) {
        (Some(name), true) => match chain.open(name, "external data file") {
            Ok((v, _)) => Some(v),
            Err(e) => {
                problems.push(Problem::error(
                    "qcow2 header",
                    None,
                    format!("external data file {name:?} cannot be read ({e})"),
                ));
                None
            }
        },
        _ => None,
    };
    if let (true, Some(name)) = (data.is_some(), &h.data_file) {
        info.subformat
            .push_str(&format!(", external data file {name:?}"));
    }
    let disk = match qcow2::Qcow2::open_with_data(vol.clone(), backing, data) {
        Ok(q) => {
            match q.snapshots() {
                Ok(s) => info.snapshots = s,
                Err(e) => problems.push(Problem::from_error(
                    crate::Severity::Error,
                    "qcow2 snapshot table",
                    &e,
                )),
            }
            info.allocated = q.allocated().ok();
            Some(Arc::new(q) as VolumeRef)
        }
        Err(e) => {
            problems.push(Problem::from_error(crate::Severity::Error, "qcow2", &e));
            None
        }
    };
    Ok((info, disk, problems))
}

fn detect_vhdx(vol: &VolumeRef, chain: &Chain) -> Result<Detected> {
    let (v, mut problems) = vhdx::Vhdx::open(vol.clone())?;
    let names = v.parent_names();
    let mut i = info("vhdx", v.subformat().to_string(), v.len(), vol);
    i.allocated = Some(v.allocated());
    let parent = if v.metadata().has_parent {
        i.backing_file = names.first().cloned();
        i.backing_format = Some("vhdx".into());
        vhdx::open_parent(chain, &names, &mut problems)
    } else {
        None
    };
    Ok((
        i,
        Some(Arc::new(v.with_parent(parent)) as VolumeRef),
        problems,
    ))
}

/// An EWF image found as a file (inside a filesystem, say): its later
/// segments are looked for beside it by name, through `chain`.
fn detect_ewf(vol: &VolumeRef, chain: &Chain) -> Result<Detected> {
    // The file's own name: the chain's identity of it (a host path, or a
    // filesystem node and the path in it), else what the volume says.
    let described = chain.seen.last().cloned().unwrap_or_else(|| vol.describe());
    let own = described
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(&described)
        .to_string();
    let opener = |name: &str| -> Result<Option<VolumeRef>> {
        Ok(chain
            .open(siblings::base_name(name), "EWF segment")
            .ok()
            .map(|(v, _)| v))
    };
    let e = crate::io::ewf::open(vol.clone(), &own, &opener)?;
    let mut sub = format!("{}, {} segments", e.info.variant, e.info.segments.len());
    if let Some(h) = &e.info.md5 {
        sub.push_str(&format!(", md5 {h}"));
    }
    let i = info("ewf", sub, e.info.media_size, vol);
    Ok((i, Some(e.volume as VolumeRef), e.info.problems))
}
