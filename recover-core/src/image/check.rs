//! Consistency checks of VM image files, as `qemu-img check` makes them:
//! qcow2's refcounts against every reference to a cluster
//! ([`qcow2::check`](super::qcow2::check)), and the structures of VHD,
//! VHDX, VMDK and VDI (checksums, allocation tables inside the file and
//! not overlapping). Each check reads the image file (not the virtual
//! disk) and returns findings with the byte offsets of the structures at
//! fault; it never writes.

use crate::error::Result;
use crate::io::{bytes_at, bytes_up_to, Volume, VolumeRef};

use super::{qcow2, vdi, vhd, vhdx, vmdk};

/// Findings listed per image; more are counted in `unlisted`.
pub const MAX_LISTED: usize = 1000;

/// What a finding is, in `qemu-img check`'s words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A structure is wrong (qcow2: also a refcount lower than the
    /// references counted, which risks data being overwritten).
    Corruption,
    /// A cluster is counted as used but nothing references it: space lost,
    /// no data.
    Leak,
    /// The check itself could not go on (an unreadable table, a limit).
    CheckError,
}

impl Kind {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Corruption => "corruption",
            Kind::Leak => "leak",
            Kind::CheckError => "check_error",
        }
    }
}

/// One thing wrong, at a byte offset of the image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// Where in the image file (the entry at fault, or the cluster).
    pub offset: u64,
    /// What is wrong, in words.
    pub detail: String,
}

/// Findings gathered up to [`MAX_LISTED`], the rest counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// The first ones.
    pub list: Vec<Finding>,
    /// How many more there were.
    pub unlisted: u64,
}

impl Findings {
    /// Adds one.
    pub fn push(&mut self, kind: Kind, offset: u64, detail: impl Into<String>) {
        if self.list.len() < MAX_LISTED {
            self.list.push(Finding {
                kind,
                offset,
                detail: detail.into(),
            });
        } else {
            self.unlisted += 1;
        }
    }

    /// Adds a corruption.
    pub fn corrupt(&mut self, offset: u64, detail: impl Into<String>) {
        self.push(Kind::Corruption, offset, detail);
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.unlisted == 0
    }
}

/// One image file checked.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    /// qcow2, vhd, vhdx, vmdk, vdi.
    pub format: &'static str,
    /// What is wrong.
    pub findings: Findings,
    /// qcow2's counts, comparable with `qemu-img check --output=json`.
    pub qcow2: Option<qcow2::check::Counts>,
}

impl ImageCheck {
    /// True when nothing is wrong, leaks included.
    pub fn consistent(&self) -> bool {
        self.findings.is_empty()
            && self
                .qcow2
                .is_none_or(|c| c.corruptions == 0 && c.leaks == 0 && c.check_errors == 0)
    }
}

/// The VM image format of `file`, by its magic (never its name): qcow2,
/// vhdx, vdi, vmdk (a sparse extent or a descriptor), vhd; `None` for
/// anything else.
pub fn format_of(file: &dyn Volume) -> Option<&'static str> {
    let head = bytes_up_to(file, 0, 4096).ok()?;
    if head.get(..4) == Some(b"QFI\xfb") {
        return Some("qcow2");
    }
    if head.get(..8) == Some(vhdx::header::IDENTIFIER) {
        return Some("vhdx");
    }
    if vdi::is_vdi(&head) {
        return Some("vdi");
    }
    if vmdk::is_vmdk(&head, file.len()) {
        return Some("vmdk");
    }
    let tail = file
        .len()
        .checked_sub(512)
        .and_then(|at| bytes_at(file, at, 512).ok());
    let fixed = tail
        .as_deref()
        .and_then(vhd::parse_footer)
        .is_some_and(|f| f.is_ok_and(|f| f.disk_type == vhd::DiskType::Fixed));
    if head.get(..8) == Some(b"conectix") || fixed {
        return Some("vhd");
    }
    None
}

/// Checks the VM image file `file` when it is one (by its magic): `None`
/// for anything else. An error means the image could not be checked at
/// all (its header is unreadable or refused, as QEMU would refuse to
/// open it).
pub fn check(file: &VolumeRef) -> Option<Result<ImageCheck>> {
    let format = format_of(file.as_ref())?;
    let with = |r: Result<Findings>| {
        r.map(|findings| ImageCheck {
            format,
            findings,
            qcow2: None,
        })
    };
    Some(match format {
        "qcow2" => qcow2::check::check(file.as_ref()).map(|r| ImageCheck {
            format,
            findings: r.findings,
            qcow2: Some(r.counts),
        }),
        "vhdx" => with(vhdx::check(file)),
        "vdi" => with(vdi::check(file.as_ref())),
        "vmdk" => with(vmdk::check(file.as_ref())),
        _ => with(vhd::check(file.as_ref())),
    })
}
