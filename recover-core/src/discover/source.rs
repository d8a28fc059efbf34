//! A source (or a file looked into as a disk) as the root of a tree.

use super::*;
use crate::image::Chain;
use crate::io::{Source, SourceKind};
use crate::part::{self};
use crate::problem::Problem;

/// Builds the node tree of one source, whose path is `d{index}`.
pub fn discover_source(src: &Source, index: usize, opts: &Options) -> Node {
    discover_named(src, format!("d{index}"), opts)
}

/// Builds the node tree of a host source whose node path is `path`.
pub fn discover_named(src: &Source, path: String, opts: &Options) -> Node {
    discover_in(src, path, opts, &opts.host_chain(src))
}

/// Builds the node tree of a volume whose node path is `path`: a source,
/// or a file inside a filesystem (`d0/gpt/p2/ext4:/images/vm.img`), whose
/// tree then goes on from that path. Files an image there names are
/// opened through `chain`.
pub fn discover_in(src: &Source, path: String, opts: &Options, chain: &Chain) -> Node {
    let vol = src.volume.clone();
    let mut problems = Vec::new();
    let len = vol.len();
    // A VMDK descriptor (ESXi writes them in a few hundred bytes) is the
    // one source shorter than a sector that holds a disk.
    let descriptor = len < 512
        && crate::io::bytes_up_to(vol.as_ref(), 0, 512)
            .is_ok_and(|h| crate::image::vmdk::descriptor::is_descriptor(&h, len));
    let children = if len == 0 {
        problems.push(Problem::error("source", Some(0), "is empty (0 bytes)"));
        Vec::new()
    } else if len < 512 && !descriptor {
        problems.push(Problem::error(
            "source",
            Some(0),
            format!(
                "is {len} bytes, smaller than one 512-byte sector: nothing can be read from it"
            ),
        ));
        Vec::new()
    } else {
        let mut budget = MAX_PARTITIONS;
        let found = explore(&vol, &path, 0, opts, chain, &mut problems, &mut budget);
        if found.is_empty() && problems.is_empty() {
            problems.push(nothing_recognized(vol.as_ref()));
        }
        found
    };
    if let SourceKind::Ewf(e) = &src.kind {
        problems.extend(e.problems.iter().cloned());
    }
    let bad_ranges = vol.bad_ranges();
    for r in &bad_ranges {
        problems.push(Problem::error(
            "medium",
            Some(r.start),
            format!(
                "{} bytes at {:#x}..{:#x} could not be read and were read as zeros",
                r.end - r.start,
                r.start,
                r.end
            ),
        ));
    }
    Node {
        path,
        kind: NodeKind::Disk,
        format: match src.kind {
            SourceKind::BlockDevice => "block_device",
            SourceKind::Split { .. } => "split_raw",
            SourceKind::Ewf(_) => "ewf",
            SourceKind::MappedFile | SourceKind::File => "raw",
        }
        .to_string(),
        offset: 0,
        size: len,
        info: NodeInfo::Disk(DiskInfo {
            source: src.name.clone(),
            source_kind: src.kind.clone(),
            device_sector_size: vol.device_sector_size(),
            bad_ranges,
        }),
        problems,
        children,
        volume: Some(vol),
    }
}

/// The problem for a source where nothing at all was recognized, saying
/// The structure named by the problem of a source where nothing was
/// recognized (a member of an array whose metadata is gone shows it).
pub(super) const NOTHING_RECOGNIZED: &str = "content";

/// what was looked for and why sector 0 is not an MBR.
pub(super) fn nothing_recognized(vol: &dyn crate::io::Volume) -> Problem {
    let why = match part::probe_tables(vol).mbr {
        Err(crate::Error::Corrupt { offset, detail, .. }) => {
            format!("MBR at {offset:#x}: {detail}")
        }
        Err(e) => e.to_string(),
        Ok(_) => "the MBR has no partitions".to_string(),
    };
    Problem::error(
        NOTHING_RECOGNIZED,
        Some(0),
        format!(
            "no partition table or filesystem recognized ({why}; no GPT header at LBA 1 or the last LBA with 512- or 4096-byte sectors; no known superblock)"
        ),
    )
}
