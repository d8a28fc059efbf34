//! VM disk images, each opened as the virtual disk it holds, found by
//! content (magic), never by file name.

pub mod qcow2;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::{bytes_up_to, VolumeRef};
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
pub fn detect(vol: &VolumeRef) -> Option<Result<Detected>> {
    let head = match bytes_up_to(vol.as_ref(), 0, 4096) {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    if head.get(..4) == Some(b"QFI\xfb") {
        return Some(detect_qcow2(vol));
    }
    None
}

fn detect_qcow2(vol: &VolumeRef) -> Result<Detected> {
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
    let mut info = VmImageInfo {
        format: "qcow2",
        subformat: sub.join(", "),
        virtual_size: h.size,
        file_size: vol.len(),
        allocated: None,
        backing_file: h.backing_file.clone(),
        backing_format: h.backing_format.clone(),
        encryption: h.encryption(),
        snapshots: Vec::new(),
    };
    let disk = match qcow2::Qcow2::open(vol.clone(), None) {
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
            if let Some(b) = &h.backing_file {
                problems.push(Problem::warning(
                    "qcow2 header",
                    Some(8),
                    format!("backed by {b:?}, which is not read here: clusters this image does not hold read as zeros"),
                ));
            }
            Some(Arc::new(q) as VolumeRef)
        }
        Err(e) => {
            problems.push(Problem::from_error(crate::Severity::Error, "qcow2", &e));
            None
        }
    };
    Ok((info, disk, problems))
}
