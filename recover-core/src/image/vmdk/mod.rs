//! VMDK disks (VMware "Virtual Disk Format 5.0"; facts checked against
//! QEMU's block/vmdk.c) as the virtual disk they hold.
//!
//! A disk is a descriptor and the extents it lists, laid end to end. The
//! descriptor is a small text file (monolithicFlat, twoGbMaxExtentSparse,
//! twoGbMaxExtentFlat, vmfs, ...) naming extent files beside it, or it is
//! embedded in a single sparse extent (monolithicSparse, streamOptimized).
//! Extents are flat (the bytes as they are, from an offset of their file),
//! sparse (grain directory and tables: [`sparse`]) or zero. A delta disk
//! names its parent (`parentFileNameHint`): the grains it does not hold
//! are the parent's.
//!
//! Extent files are opened through [`Chain`] (beside the descriptor, on
//! the host or in its filesystem). One that cannot be opened or read does
//! not stop the disk: its range reads as zeros and an error problem says
//! so.

pub mod descriptor;
pub mod sparse;

use std::sync::Arc;

pub use descriptor::{Descriptor, ExtentLine, ExtentType};
pub use sparse::{SparseExtent, SparseHeader};

use super::Chain;
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{bytes_at, check_range, Concat, Volume, VolumeRef};
use crate::problem::Problem;

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
/// extent header or a standalone descriptor.
pub fn is_vmdk(head: &[u8], len: u64) -> bool {
    head.get(..4) == Some(sparse::MAGIC) || descriptor::is_descriptor(head, len)
}

/// Opens the VMDK in `file` (a sparse extent, or a descriptor); the files
/// it names (extents, the parent) through `chain`.
pub fn open(file: VolumeRef, chain: &Chain) -> Result<Opened> {
    let head = crate::io::bytes_up_to(file.as_ref(), 0, 4)?;
    if head.as_ref() == sparse::MAGIC {
        open_sparse(file, chain)
    } else {
        open_descriptor(file, chain)
    }
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
        let zeros = |why: String, problems: &mut Vec<Problem>| -> VolumeRef {
            problems.push(Problem::error(
                "VMDK extent",
                None,
                format!(
                    "extent {i} ({:?}) {why}: its {len} bytes at {start:#x} of the disk read as zeros",
                    e.file.as_deref().unwrap_or("")
                ),
            ));
            Arc::new(Zeros(len))
        };
        let part: VolumeRef = match (e.kind, e.file.as_deref()) {
            (ExtentType::Zero, _) => Arc::new(Zeros(len)),
            (_, _) if e.access == descriptor::Access::NoAccess => Arc::new(Zeros(len)),
            (kind, Some(f)) if kind.is_flat() || kind == ExtentType::Sparse => {
                match chain.open(f, "extent") {
                    Err(err) => zeros(format!("cannot be opened ({err})"), &mut problems),
                    Ok((vol, _)) if kind == ExtentType::Sparse => {
                        match SparseExtent::open(vol.clone()) {
                            Ok((ext, inner)) => {
                                problems.extend(inner.into_iter().map(|mut p| {
                                    p.detail = format!("extent {f:?}: {}", p.detail);
                                    p
                                }));
                                if ext.header().capacity != e.sectors {
                                    problems.push(Problem::warning(
                                        "VMDK extent",
                                        None,
                                        format!("extent {f:?} holds {} sectors; the descriptor gives it {} (the difference reads as zeros or is cut)", ext.header().capacity, e.sectors),
                                    ));
                                }
                                allocated = allocated.saturating_add(ext.allocated().unwrap_or(0));
                                let n = format!("{}:vmdk-extent", vol.describe());
                                Arc::new(ext.placed(len, backing.clone(), start, n))
                            }
                            Err(err) => zeros(
                                format!("is not a readable sparse extent ({err})"),
                                &mut problems,
                            ),
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
}
