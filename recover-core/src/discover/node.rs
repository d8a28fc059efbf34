//! The node tree: what was found, where, and how to read it.

use std::ops::Range;

use crate::fs::Identified;
use crate::io::{SourceKind, VolumeRef};
use crate::part::{Partition, PartitionTable};
use crate::problem::{Problem, Severity};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A source: image file, split image or block device.
    Disk,
    /// An MBR or GPT.
    PartitionTable,
    /// A partition.
    Partition,
    /// A filesystem or another identified content (swap, LVM PV, LUKS, md member).
    Filesystem,
    /// A RAID array gathered from its members.
    Array,
    /// A file inside a filesystem, looked into as a disk.
    File,
    /// A VM disk image (qcow2, ...), its virtual disk below it.
    VmImage,
    /// An LVM volume group gathered from its PVs.
    VolumeGroup,
    /// An LVM logical volume.
    LogicalVolume,
}

impl NodeKind {
    /// The contract's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Disk => "disk",
            NodeKind::PartitionTable => "partition_table",
            NodeKind::Partition => "partition",
            NodeKind::Filesystem => "filesystem",
            NodeKind::Array => "array",
            NodeKind::File => "file",
            NodeKind::VmImage => "vm_image",
            NodeKind::VolumeGroup => "volume_group",
            NodeKind::LogicalVolume => "logical_volume",
        }
    }
}

/// Facts about a disk node.
#[derive(Debug, Clone)]
pub struct DiskInfo {
    /// The path the user gave.
    pub source: String,
    /// How it is read.
    pub source_kind: SourceKind,
    /// Logical sector size from the kernel (block devices).
    pub device_sector_size: Option<u32>,
    /// Ranges that could not be read and were zero-filled.
    pub bad_ranges: Vec<Range<u64>>,
}

/// Kind-specific facts of a node.
#[derive(Debug, Clone)]
pub enum NodeInfo {
    /// A disk.
    Disk(DiskInfo),
    /// A partition table (its partitions are the node's children).
    Table(Box<PartitionTable>),
    /// A partition and the sector size its LBAs are in.
    Partition(Box<Partition>, u64),
    /// An identified filesystem or container.
    Filesystem(Box<Identified>),
    /// A RAID array and its members.
    Array(Box<crate::raid::group::Array>),
    /// An array inferred from its members' data (no metadata).
    Inferred(Box<super::inferred::InferredArray>),
    /// A partition the deep scan found, and what found it.
    Recovered(Box<Partition>, Box<crate::scan::Candidate>),
    /// The "recovered" table: what a deep scan searched and found.
    Search(Box<SearchInfo>),
    /// A VM disk image.
    VmImage(Box<crate::image::VmImageInfo>),
    /// An LVM volume group.
    VolumeGroup(Box<crate::lvm::VolumeGroup>),
    /// An LVM logical volume.
    LogicalVolume(Box<crate::lvm::LvInfo>),
}

/// What a deep scan of a volume searched and found.
#[derive(Debug, Clone)]
pub struct SearchInfo {
    /// The byte range searched.
    pub range: Range<u64>,
    /// False when the scan jumped past each filesystem it found (their
    /// interiors were not searched).
    pub thorough: bool,
    /// Every structure found, in offset order: those behind the recovered
    /// partitions, and the rest (partition tables, RAID metadata, VM
    /// images, superblocks of filesystems overlapped by stronger ones).
    pub findings: Vec<crate::scan::Finding>,
}

/// One thing found.
#[derive(Debug, Clone)]
pub struct Node {
    /// The path `--at` accepts.
    pub path: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its format: raw, gpt, mbr, ext4, ...
    pub format: String,
    /// Byte offset within the parent node's volume.
    pub offset: u64,
    /// Size in bytes, as the structure claims it.
    pub size: u64,
    /// Kind-specific facts.
    pub info: NodeInfo,
    /// What is wrong here.
    pub problems: Vec<Problem>,
    /// What is inside.
    pub children: Vec<Node>,
    /// The bytes of this node, for extraction and for layers above; `None`
    /// where they cannot be read yet (an array before it is assembled).
    pub volume: Option<VolumeRef>,
}

impl Node {
    /// Every node of the subtree, depth first, this one included.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }

    /// The worst severity in the subtree.
    pub fn worst(&self) -> Option<Severity> {
        self.walk()
            .iter()
            .flat_map(|n| n.problems.iter().map(|p| p.severity))
            .max()
    }
}

/// Finds the node with `path` in a forest.
pub fn find<'a>(nodes: &'a [Node], path: &str) -> Option<&'a Node> {
    let path = path.trim_end_matches('/');
    for n in nodes {
        if n.path == path {
            return Some(n);
        }
        if path.starts_with(&format!("{}/", n.path)) {
            if let Some(found) = find(&n.children, path) {
                return Some(found);
            }
        }
    }
    None
}

/// Finds the node with `path` in a forest, to change it.
pub fn find_mut<'a>(nodes: &'a mut [Node], path: &str) -> Option<&'a mut Node> {
    for n in nodes {
        if n.path == path {
            return Some(n);
        }
        if path.starts_with(&format!("{}/", n.path)) {
            if let Some(found) = find_mut(&mut n.children, path) {
                return Some(found);
            }
        }
    }
    None
}
