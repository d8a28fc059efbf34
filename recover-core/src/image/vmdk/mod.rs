//! VMDK disks (VMware "Virtual Disk Format 5.0"; facts checked against
//! QEMU's block/vmdk.c) as the virtual disk they hold.
//!
//! A disk is a descriptor and the extents it lists, laid end to end. The
//! descriptor is a small text file (monolithicFlat, twoGbMaxExtentSparse,
//! twoGbMaxExtentFlat, vmfs, ...) naming extent files beside it, or it is
//! embedded in a single sparse extent (monolithicSparse, streamOptimized).
//! Extents are flat (the bytes as they are, from an offset of their file),
//! sparse (grain directory and tables: hosted [`sparse`] extents, and
//! ESXi's snapshot deltas, VMFSSPARSE [`cowd`] and [`sesparse`]) or zero.
//! A sparse extent is read as what its header says it is, whatever type
//! the descriptor gives it. A delta disk names its parent
//! (`parentFileNameHint`): the grains it does not hold are the parent's.
//!
//! Extent files are opened through [`Chain`] (beside the descriptor, on
//! the host or in its filesystem). One that cannot be opened or read does
//! not stop the disk: its range reads as zeros and an error problem says
//! so.

pub mod cowd;
pub mod descriptor;
pub mod layer;
pub mod sesparse;
pub mod sparse;

use std::sync::Arc;

pub use cowd::{CowdExtent, CowdHeader};
pub use descriptor::{Descriptor, ExtentLine, ExtentType};
pub use layer::{Delta, Grain, GrainMap};
pub use sesparse::{SeSparseExtent, SeSparseHeader};
pub use sparse::{SparseExtent, SparseHeader};

use super::Chain;
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{bytes_at, check_range, Concat, Origins, Volume, VolumeRef};
use crate::problem::{Problem, Severity};

/// A VMDK disk opened: what it is, its virtual disk, what is wrong.
#[derive(Debug)]
pub struct Opened {
    /// The descriptor's createType ("monolithicSparse", "vmfs", ...), or
    /// "sparse extent" for a sparse extent without a descriptor.
    pub create_type: String,
    /// The descriptor, standalone or embedded, when there is one.
    pub descriptor: Option<Descriptor>,
    /// The virtual disk.
    pub disk: VolumeRef,
    /// Bytes of the extents that hold guest data, where known.
    pub allocated: Option<u64>,
    /// The parent named by a delta disk.
    pub parent: Option<String>,
    /// Problems found: missing extents, a parent that cannot be read, ...
    pub problems: Vec<Problem>,
}

/// True when `head`, the start of a `len`-byte volume, is a VMDK: a sparse
/// extent header (hosted, COWD or SESPARSE) or a standalone descriptor.
pub fn is_vmdk(head: &[u8], len: u64) -> bool {
    SparseKind::of(head).is_some() || descriptor::is_descriptor(head, len)
}

/// What a sparse extent file holds, by its header's magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparseKind {
    /// A hosted sparse extent ("KDMV").
    Hosted,
    /// An ESXi host sparse extent ("COWD", VMFSSPARSE).
    Cowd,
    /// A space-efficient sparse extent (SESPARSE).
    SeSparse,
}

impl SparseKind {
    /// The kind of sparse extent `head` (at least its first 16 bytes)
    /// starts, if any.
    pub fn of(head: &[u8]) -> Option<SparseKind> {
        if head.get(..4) == Some(sparse::MAGIC) {
            Some(SparseKind::Hosted)
        } else if cowd::is_cowd(head) {
            Some(SparseKind::Cowd)
        } else if sesparse::is_sesparse(head) {
            Some(SparseKind::SeSparse)
        } else {
            None
        }
    }

    /// The extent type a descriptor gives this kind.
    pub fn extent_type(self) -> ExtentType {
        match self {
            SparseKind::Hosted => ExtentType::Sparse,
            SparseKind::Cowd => ExtentType::VmfsSparse,
            SparseKind::SeSparse => ExtentType::SeSparse,
        }
    }

    fn header_name(self) -> &'static str {
        match self {
            SparseKind::Hosted => "hosted sparse (KDMV)",
            SparseKind::Cowd => "COWD",
            SparseKind::SeSparse => "SESPARSE",
        }
    }
}

/// Opens the VMDK in `file` (a sparse extent, or a descriptor); the files
/// it names (extents, the parent) through `chain`.
pub fn open(file: VolumeRef, chain: &Chain) -> Result<Opened> {
    let head = crate::io::bytes_up_to(file.as_ref(), 0, 16)?;
    match SparseKind::of(&head) {
        Some(SparseKind::Hosted) => open_sparse(file, chain),
        Some(kind) => open_delta_alone(file, kind),
        None => open_descriptor(file, chain),
    }
}

/// A sparse extent opened as (a part of) a disk.
struct SparsePart {
    disk: VolumeRef,
    /// The extent's capacity, in sectors.
    capacity: u64,
    allocated: Option<u64>,
    problems: Vec<Problem>,
}

/// Opens the sparse extent of `kind` in `file` as `len` bytes of the disk
/// (its capacity, without a length), named `name`, from `start` of the
/// disk on, over `backing`.
fn open_sparse_part(
    kind: SparseKind,
    file: VolumeRef,
    len: Option<u64>,
    backing: Option<VolumeRef>,
    start: u64,
    name: String,
) -> Result<SparsePart> {
    // The same for each kind: its header's capacity and size, its
    // allocation, the extent placed.
    macro_rules! part {
        ($opened:expr) => {{
            let (ext, problems) = $opened?;
            let capacity = ext.header().capacity;
            let allocated = ext.allocated().ok();
            let len = len.unwrap_or(ext.header().size());
            SparsePart {
                disk: Arc::new(ext.placed(len, backing, start, name)),
                capacity,
                allocated,
                problems,
            }
        }};
    }
    Ok(match kind {
        SparseKind::Hosted => part!(SparseExtent::open(file)),
        SparseKind::Cowd => part!(CowdExtent::open(file)),
        SparseKind::SeSparse => part!(SeSparseExtent::open(file)),
    })
}

/// An ESXi delta extent (COWD or SESPARSE) found without its descriptor:
/// what it holds, over zeros (its parent is named only in the
/// descriptor).
fn open_delta_alone(file: VolumeRef, kind: SparseKind) -> Result<Opened> {
    let name = format!("{}:vmdk", file.describe());
    let mut part = open_sparse_part(kind, file, None, None, 0, name)?;
    part.problems.push(Problem::warning(
        format!("VMDK {} header", kind.header_name()),
        Some(0),
        "a snapshot delta read without its descriptor, which names its parent: the grains it does not hold read as zeros",
    ));
    Ok(Opened {
        create_type: match kind {
            SparseKind::SeSparse => "seSparse extent",
            _ => "vmfsSparse extent",
        }
        .into(),
        descriptor: None,
        disk: part.disk,
        allocated: part.allocated,
        parent: None,
        problems: part.problems,
    })
}

/// A single sparse extent, its descriptor (if any) embedded.
fn open_sparse(file: VolumeRef, chain: &Chain) -> Result<Opened> {
    let name = file.describe();
    let (ext, mut problems) = SparseExtent::open(file.clone())?;
    let desc = match ext.embedded_descriptor() {
        Ok(Some(text)) => match descriptor::parse(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(Problem::from_error(
                    crate::Severity::Warning,
                    "VMDK descriptor",
                    &e.within(&name, ext.header().descriptor_offset.saturating_mul(512)),
                ));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(Problem::from_error(
                crate::Severity::Warning,
                "VMDK descriptor",
                &e,
            ));
            None
        }
    };
    let parent_name = desc.as_ref().and_then(|d| d.parent()).map(str::to_string);
    let backing = super::backing_or_problem(
        chain,
        parent_name.as_deref(),
        "parent",
        "VMDK descriptor",
        Some(ext.header().descriptor_offset.saturating_mul(512)),
        &mut problems,
    );
    let len = ext.header().size();
    let allocated = ext.allocated().ok();
    let disk = ext.placed(len, backing, 0, format!("{name}:vmdk"));
    Ok(Opened {
        create_type: desc
            .as_ref()
            .and_then(|d| d.create_type.clone())
            .unwrap_or_else(|| "sparse extent".into()),
        descriptor: desc,
        disk: Arc::new(disk),
        allocated,
        parent: parent_name,
        problems,
    })
}

/// A standalone descriptor and the extents it names.
fn open_descriptor(file: VolumeRef, chain: &Chain) -> Result<Opened> {
    let name = file.describe();
    if file.len() > descriptor::MAX_DESCRIPTOR as u64 {
        return Err(Error::corrupt(
            "VMDK descriptor",
            0,
            format!(
                "{} bytes (a descriptor is at most {} bytes)",
                file.len(),
                descriptor::MAX_DESCRIPTOR
            ),
        )
        .within(&name, 0));
    }
    let raw = bytes_at(file.as_ref(), 0, file.len() as usize)?; // ok: <= 1 MiB
    let desc = descriptor::parse(&descriptor::text(&raw)).map_err(|e| e.within(&name, 0))?;
    if desc.extents.is_empty() {
        return Err(Error::corrupt("VMDK descriptor", 0, "names no extents").within(&name, 0));
    }
    let mut problems = Vec::new();
    let parent_name = desc.parent().map(str::to_string);
    let backing = super::backing_or_problem(
        chain,
        parent_name.as_deref(),
        "parent",
        "VMDK descriptor",
        Some(0),
        &mut problems,
    );
    let mut parts: Vec<VolumeRef> = Vec::with_capacity(desc.extents.len());
    let mut allocated = 0u64;
    let mut start = 0u64;
    for (i, e) in desc.extents.iter().enumerate() {
        let len = e.sectors * 512; // ok: the sum was checked by parse
        let zeros_as = |severity, why: String, problems: &mut Vec<Problem>| -> VolumeRef {
            problems.push(Problem {
                severity,
                ..Problem::error(
                    "VMDK extent",
                    None,
                    format!(
                        "extent {i} ({:?}) {why}: its {len} bytes at {start:#x} of the disk read as zeros",
                        e.file.as_deref().unwrap_or("")
                    ),
                )
            });
            Arc::new(crate::io::Zeros::missing(len, format!("vmdk extent {i}")))
        };
        let zeros =
            |why: String, problems: &mut Vec<Problem>| zeros_as(Severity::Error, why, problems);
        let part: VolumeRef = match (e.kind, e.file.as_deref()) {
            (ExtentType::Zero, _) => Arc::new(Zeros(len)),
            (_, _) if e.access == descriptor::Access::NoAccess => Arc::new(Zeros(len)),
            (kind, Some(f)) if kind.is_flat() || kind.is_sparse() => {
                match chain.open(f, "extent") {
                    // A raw device mapping (VMFS): the extent's data is on
                    // another disk, by design, not lost from these.
                    Err(err @ Error::Unsupported { .. }) => zeros_as(
                        Severity::Warning,
                        format!("is not here ({err})"),
                        &mut problems,
                    ),
                    Err(err) => zeros(format!("cannot be opened ({err})"), &mut problems),
                    Ok((vol, _)) if kind.is_sparse() => {
                        let head =
                            crate::io::bytes_up_to(vol.as_ref(), 0, 16).map(|h| SparseKind::of(&h));
                        let n = format!("{}:vmdk-extent", vol.describe());
                        match head {
                            Err(err) => zeros(format!("cannot be read ({err})"), &mut problems),
                            Ok(None) => zeros(
                                "is not a readable sparse extent (no KDMV, COWD or SESPARSE header)".into(),
                                &mut problems,
                            ),
                            Ok(Some(sk)) => match open_sparse_part(sk, vol, Some(len), backing.clone(), start, n) {
                                Ok(part) => {
                                    if sk.extent_type() != kind {
                                        problems.push(Problem::warning(
                                            "VMDK extent",
                                            None,
                                            format!("extent {f:?} is given as {} but holds a {} header: read as what it holds", kind.as_str(), sk.header_name()),
                                        ));
                                    }
                                    problems.extend(part.problems.into_iter().map(|mut p| {
                                        p.detail = format!("extent {f:?}: {}", p.detail);
                                        p
                                    }));
                                    if part.capacity != e.sectors {
                                        problems.push(Problem::warning(
                                            "VMDK extent",
                                            None,
                                            format!("extent {f:?} holds {} sectors; the descriptor gives it {} (the difference reads as zeros or is cut)", part.capacity, e.sectors),
                                        ));
                                    }
                                    allocated = allocated.saturating_add(part.allocated.unwrap_or(0));
                                    part.disk
                                }
                                Err(err) => zeros(
                                    format!("is not a readable sparse extent ({err})"),
                                    &mut problems,
                                ),
                            },
                        }
                    }
                    Ok((vol, _)) => {
                        let offset = e.offset.saturating_mul(512);
                        let have = vol.len().saturating_sub(offset).min(len);
                        if have < len {
                            problems.push(Problem::error(
                                "VMDK extent",
                                None,
                                format!("extent {f:?} holds {have} of its {len} bytes (from {offset:#x}); the rest reads as zeros"),
                            ));
                        }
                        allocated = allocated.saturating_add(have);
                        Arc::new(Flat {
                            name: format!("{}:vmdk-extent", vol.describe()),
                            file: vol,
                            offset,
                            len,
                        })
                    }
                }
            }
            (kind, _) => zeros(
                format!("is of type {}, which is not read", kind.as_str()),
                &mut problems,
            ),
        };
        parts.push(part);
        start += len;
    }
    Ok(Opened {
        create_type: desc
            .create_type
            .clone()
            .unwrap_or_else(|| "descriptor without createType".into()),
        parent: parent_name,
        descriptor: Some(desc),
        disk: Arc::new(Concat::new(parts, format!("{name}:vmdk"))),
        allocated: Some(allocated),
        problems,
    })
}

/// A flat extent: `len` bytes of `file` from `offset`; what the file does
/// not hold reads as zeros.
#[derive(Debug)]
struct Flat {
    file: VolumeRef,
    offset: u64,
    len: u64,
    name: String,
}

impl Volume for Flat {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        read_padded(
            Some(self.file.as_ref()),
            self.offset.saturating_add(offset),
            buf,
        )
    }

    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        if offset.checked_add(len)? > self.len {
            return None;
        }
        self.file.slice_at(self.offset.checked_add(offset)?, len)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// The file's holes (a thin `-flat.vmdk` in a datastore), and what
    /// lies past its end.
    fn hole_at(&self, offset: u64) -> u64 {
        let left = self.len.saturating_sub(offset);
        let at = self.offset.saturating_add(offset);
        if at >= self.file.len() {
            return left;
        }
        let h = self.file.hole_at(at);
        // A hole that reaches the file's end goes on to the extent's.
        if at.saturating_add(h) >= self.file.len() {
            return left;
        }
        h.min(left)
    }

    /// The file's origins; what it does not hold reads as zeros.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let at = self.offset.saturating_add(offset);
        let len = len
            .min(self.len.saturating_sub(offset))
            .min(self.file.len().saturating_sub(at));
        let mut o = Origins::new();
        o.add_shifted(self.file.origins(at, len), at, offset);
        o
    }
}

/// An extent of zeros.
#[derive(Debug)]
struct Zeros(u64);

impl Volume for Zeros {
    fn len(&self) -> u64 {
        self.0
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        buf.fill(0);
        Ok(())
    }

    fn describe(&self) -> String {
        "vmdk zero extent".into()
    }

    fn hole_at(&self, offset: u64) -> u64 {
        self.0.saturating_sub(offset)
    }
}

/// Structural check of a VMDK file (see [`crate::image::check`]): a
/// hosted sparse extent's grain directories, tables and grains
/// ([`sparse::check`]). A descriptor file and ESXi extents have no
/// structure checked here.
pub fn check(file: &dyn crate::io::Volume) -> crate::error::Result<crate::image::check::Findings> {
    let head = crate::io::bytes_up_to(file, 0, 512)?;
    if head.get(..4) == Some(sparse::MAGIC) {
        return sparse::check(file);
    }
    Ok(Default::default())
}
