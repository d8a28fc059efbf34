//! From sources to a tree of nodes: disks, partition tables, partitions,
//! filesystems (and, in later layers, arrays, volume groups, VM images).
//!
//! Every node has a path (`d0`, `d0/gpt`, `d0/gpt/p2`, `d0/gpt/p2/ext4`)
//! that `--at` resolves back to the node and its volume. Damage found on
//! the way becomes [`Problem`]s on the node it concerns; discovery itself
//! never fails, so one bad structure hides nothing else.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::{self, Identified, Usage};
use crate::image::siblings::HostDirs;
use crate::image::Chain;
use crate::io::{MapPolicy, Slice, Source, SourceKind, Volume, VolumeRef};
use crate::part::{self, PartRole, Partition, PartitionTable, SectorSizeSource};
use crate::problem::{Problem, Severity};

/// How deep volumes may nest (a partition inside a partition inside ...),
/// so a crafted image cannot recurse without end.
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// How many partitions of one source (at all levels of nesting) are looked
/// into: tables whose partitions hold tables again (or the same table)
/// would otherwise multiply the nodes and the work at every level.
pub const MAX_PARTITIONS: usize = 1024;

/// How many times volume groups are gathered again from PVs found inside
/// the LVs of the last ones (VM disks holding a guest's LVM).
const MAX_LVM_ROUNDS: usize = 4;

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

/// Discovery settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Nesting cap.
    pub max_depth: usize,
    /// Drive serial numbers by source name, as the user gives them (IMSM
    /// names its members by serial; an image file does not carry one).
    pub serials: BTreeMap<String, String>,
    /// Directories where files that images name (backing files, parents,
    /// extents) are looked for, after the image's own directory.
    pub backing_dirs: Vec<PathBuf>,
    /// How those files are opened.
    pub map_policy: MapPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: DEFAULT_MAX_DEPTH,
            serials: BTreeMap::new(),
            backing_dirs: Vec::new(),
            map_policy: MapPolicy::Auto,
        }
    }
}

impl Options {
    /// The chain for an image that is not a file of its own (inside a
    /// partition or an array): only the user's directories are searched.
    fn inner_chain(&self, path: &str) -> Chain {
        Chain::new(
            path.to_string(),
            Arc::new(HostDirs::new(
                None,
                self.backing_dirs.clone(),
                self.map_policy,
            )),
        )
    }

    /// The chain for a host file or device opened as a source: named files
    /// are looked for beside it, then in the user's directories.
    pub fn host_chain(&self, src: &Source) -> Chain {
        let path = Path::new(&src.name);
        let identity = std::fs::canonicalize(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| src.name.clone());
        Chain::new(
            identity,
            Arc::new(HostDirs::for_source(
                path,
                self.backing_dirs.clone(),
                self.map_policy,
            )),
        )
    }
}

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
            SourceKind::MappedFile | SourceKind::File => "raw",
        }
        .to_string(),
        offset: 0,
        size: len,
        info: NodeInfo::Disk(DiskInfo {
            source: src.name.clone(),
            source_kind: src.kind,
            device_sector_size: vol.device_sector_size(),
            bad_ranges,
        }),
        problems,
        children,
        volume: Some(vol),
    }
}

/// Builds the node tree of every source (paths `d{index}`, the index being
/// the source's position on the command line), then the arrays their RAID
/// members form, across sources and partitions (paths `md0`, `ddf0`,
/// `imsm0`, ...).
pub fn discover(sources: &[(usize, Source)], opts: &Options) -> Vec<Node> {
    let mut nodes: Vec<Node> = sources
        .iter()
        .map(|(i, s)| discover_source(s, *i, opts))
        .collect();
    let arrays = {
        let mut cands = Vec::new();
        for (root, (_, src)) in nodes.iter().zip(sources) {
            let serial = opts.serials.get(&src.name).cloned().or_else(|| {
                (src.kind == SourceKind::BlockDevice)
                    .then(|| crate::io::device::block_serial(std::path::Path::new(&src.name)))
                    .flatten()
            });
            for n in root.walk() {
                if let (NodeInfo::Filesystem(id), Some(vol)) = (&n.info, &n.volume) {
                    if let Some(meta) = &id.raid {
                        cands.push(crate::raid::group::Candidate {
                            path: n.path.clone(),
                            source: src.name.clone(),
                            serial: serial.clone(),
                            meta,
                            volume: vol.clone(),
                        });
                    }
                }
            }
        }
        crate::raid::group::gather(&cands)
    };
    let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
    for a in arrays {
        let prefix = a.info.format.as_str();
        let n = counters.entry(prefix).or_default();
        let path = format!("{prefix}{n}");
        *n += 1;
        let mut problems = a.problems.clone();
        if a.state == crate::raid::group::ArrayState::Failed && a.order_known {
            problems.push(Problem::error(
                "array",
                None,
                format!(
                    "too many members missing to read all of it (missing slots {:?})",
                    a.missing
                ),
            ));
        }
        // Assemble what can be read, and look inside.
        let mut children = Vec::new();
        let mut size = a.info.array_size.unwrap_or(0);
        let volume = match crate::raid::model::ArrayModel::from_array(&a)
            .and_then(|m| crate::raid::volume::ArrayVolume::new(path.clone(), m, false))
        {
            Ok(v) => {
                size = v.len();
                let v: VolumeRef = Arc::new(v);
                let mut budget = MAX_PARTITIONS;
                children = explore(
                    &v,
                    &path,
                    1,
                    opts,
                    &opts.inner_chain(&path),
                    &mut problems,
                    &mut budget,
                );
                Some(v)
            }
            Err(e) => {
                // A failed array and members in an unknown order are reported already.
                if a.state != crate::raid::group::ArrayState::Failed && a.order_known {
                    problems.push(Problem::error(
                        "array",
                        None,
                        format!("cannot be assembled: {e}"),
                    ));
                }
                None
            }
        };
        nodes.push(Node {
            path,
            kind: NodeKind::Array,
            format: prefix.to_string(),
            offset: 0,
            size,
            info: NodeInfo::Array(Box::new(a)),
            problems,
            children,
            volume,
        });
    }
    let groups = volume_groups(&mut nodes, opts);
    nodes.extend(groups);
    nodes
}

/// The volume groups whose PVs are among `nodes` (on sources, partitions
/// or arrays), each with its LVs (paths `lvm/VG` and `lvm/VG/LV`).
fn volume_groups(nodes: &mut [Node], opts: &Options) -> Vec<Node> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut out: Vec<Node> = Vec::new();
    // PVs inside LVs (a guest's VG on a VM disk that is an LV) make VGs of
    // their own: gather again over what the last round found, a few times.
    for _ in 0..MAX_LVM_ROUNDS {
        let mut found = Vec::new();
        for root in nodes.iter().chain(out.iter()) {
            let on_array = root.kind == NodeKind::Array;
            for n in root.walk() {
                if n.kind != NodeKind::Filesystem || n.format != "lvm2" || used.contains(&n.path) {
                    continue;
                }
                used.insert(n.path.clone());
                if let Some(v) = &n.volume {
                    found.extend(crate::lvm::read_pv(&n.path, v.clone(), on_array));
                }
            }
        }
        if found.is_empty() {
            break;
        }
        for g in crate::lvm::gather(&found) {
            let name = g.metadata.name.clone();
            // Each PV node says which VG it is in, and as which PV.
            for pv in &g.pvs {
                let Some(at) = &pv.found_at else { continue };
                let n = find_mut(nodes, at).or_else(|| find_mut(&mut out, at));
                if let Some(Node {
                    info: NodeInfo::Filesystem(id),
                    ..
                }) = n
                {
                    id.detail("vg", fs::Detail::Text(name.clone()));
                    id.detail("vg_uuid", fs::Detail::Text(g.metadata.id.clone()));
                    id.detail("pv", fs::Detail::Text(pv.key.clone()));
                }
            }
            let k = names.entry(name.clone()).or_default();
            // Two VGs of one name (disks from two hosts, both "pve"): the
            // second is told apart by its UUID.
            let path = if *k == 0 {
                format!("lvm/{name}")
            } else {
                format!("lvm/{name}@{}", g.metadata.id)
            };
            *k += 1;
            out.push(vg_node(g, path, opts));
        }
        // PV-level damage (an area header that does not check) goes on the
        // PV's own node.
        for f in found {
            if let Some(n) = find_mut(nodes, &f.path).or_else(|| find_mut(&mut out, &f.path)) {
                n.problems.extend(f.problems);
            }
        }
    }
    out
}

fn find_mut<'a>(nodes: &'a mut [Node], path: &str) -> Option<&'a mut Node> {
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

fn vg_node(mut g: crate::lvm::VolumeGroup, path: String, opts: &Options) -> Node {
    let md = &g.metadata;
    let mut problems = std::mem::take(&mut g.problems);
    let mut builder = crate::lvm::volume::Builder::new(md, &g.pv_volumes, path.clone());
    let mut children = Vec::new();
    // Visible LVs first, then the hidden sub-LVs (images, pool data and
    // metadata), which are listed but not looked into.
    let mut lvs: Vec<&crate::lvm::LogicalVolume> = md.lvs.iter().collect();
    lvs.sort_by_key(|l| !l.visible);
    for lv in lvs {
        let lpath = format!("{path}/{}", lv.name);
        let before = builder.gaps.len();
        let warned = builder.warnings.len();
        let built = builder.build(&lv.name);
        let mut lproblems: Vec<Problem> = builder.gaps[before..]
            .iter()
            .map(|g| {
                Problem::error(
                    "LVM2 LV",
                    Some(g.range.start),
                    format!("bytes {:#x}..{:#x} {}", g.range.start, g.range.end, g.why),
                )
            })
            .collect();
        lproblems.extend(
            builder.warnings[warned..]
                .iter()
                .map(|(_, w)| Problem::warning("LVM2 LV", None, w.clone())),
        );
        let size = lv.extents().saturating_mul(md.extent_size);
        let (volume, kids) = match built {
            crate::lvm::volume::Built::Volume(v) => {
                let kids = if lv.visible {
                    let mut budget = MAX_PARTITIONS;
                    explore(
                        &v,
                        &lpath,
                        1,
                        opts,
                        &opts.inner_chain(&lpath),
                        &mut lproblems,
                        &mut budget,
                    )
                } else {
                    Vec::new()
                };
                (Some(v), kids)
            }
            crate::lvm::volume::Built::Unreadable(why) => {
                // A thin pool is read through its thin LVs: nothing is wrong.
                let pool = lv
                    .segments
                    .iter()
                    .any(|s| matches!(s.kind, crate::lvm::metadata::SegmentKind::ThinPool { .. }));
                if !pool {
                    lproblems.push(Problem::warning(
                        "LVM2 LV",
                        None,
                        format!("not read: {why}"),
                    ));
                }
                (None, Vec::new())
            }
        };
        children.push(Node {
            path: lpath,
            kind: NodeKind::LogicalVolume,
            format: lv.kind_name(),
            offset: 0,
            size,
            info: NodeInfo::LogicalVolume(Box::new(crate::lvm::LvInfo {
                vg: md.name.clone(),
                extent_size: md.extent_size,
                lv: lv.clone(),
            })),
            problems: lproblems,
            children: kids,
            volume,
        });
    }
    for pv in &g.pvs {
        if !pv.duplicates.is_empty() {
            problems.push(Problem::warning(
                "LVM2 PV",
                None,
                format!(
                    "{} ({}) is seen on {} and also on {}; {} is used",
                    pv.key,
                    pv.id,
                    pv.found_at.as_deref().unwrap_or("?"),
                    pv.duplicates.join(", "),
                    pv.found_at.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    let size = md
        .pvs
        .iter()
        .map(|p| p.pe_count.saturating_mul(md.extent_size))
        .fold(0u64, u64::saturating_add);
    Node {
        path,
        kind: NodeKind::VolumeGroup,
        format: "lvm2".into(),
        offset: 0,
        size,
        info: NodeInfo::VolumeGroup(Box::new(g)),
        problems,
        children,
        volume: None,
    }
}

/// The MBR type byte that suits a recovered partition's content.
pub fn mbr_type_for(format: &str) -> u8 {
    match format {
        "ntfs" | "exfat" => 0x07,
        "fat12" => 0x01,
        "fat16" => 0x06,
        "fat32" => 0x0c,
        "swap" => 0x82,
        "lvm2" => 0x8e,
        "md" => 0xfd,
        _ => 0x83,
    }
}

/// The "recovered" table of a volume the deep scan searched (`search`)
/// and found `cands` in: one partition per candidate, each explored like
/// any partition; where only backups of a filesystem survive (so
/// identification finds nothing at its start), the candidate itself is the
/// filesystem node.
pub fn recovered_table(
    vol: &VolumeRef,
    parent: &str,
    cands: &[crate::scan::Candidate],
    search: SearchInfo,
    opts: &Options,
) -> Node {
    let path = format!("{parent}/recovered");
    let mut budget = MAX_PARTITIONS;
    let children = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // A container that does not record its size (LUKS) runs up to
            // the next one found, or to the end.
            let next = cands
                .get(i + 1)
                .map_or(vol.len(), |n| n.start.min(vol.len()));
            let size = c.size.unwrap_or_else(|| next.saturating_sub(c.start));
            let p = Partition {
                number: i as u32 + 1,
                start_lba: c.start / 512,
                sectors: size.div_ceil(512),
                ptype: part::PartType::Mbr(mbr_type_for(c.format)),
                name: None,
                guid: None,
                bootable: false,
                attributes: None,
                role: PartRole::Primary,
                table_lba: None,
                problems: Vec::new(),
            };
            let ppath = format!("{path}/p{}", p.number);
            let slice: VolumeRef = Arc::new(Slice::new(
                vol.clone(),
                c.start,
                size,
                format!("{} → {ppath}", vol.describe()),
            ));
            let mut problems = Vec::new();
            let mut kids = explore(
                &slice,
                &ppath,
                1,
                opts,
                &opts.inner_chain(&ppath),
                &mut problems,
                &mut budget,
            );
            if kids.is_empty() {
                let mut id = Identified::new(
                    c.format,
                    if c.kind == crate::scan::FindingKind::Container {
                        Usage::Lvm
                    } else {
                        Usage::Filesystem
                    },
                    0,
                );
                id.label = c.label.clone();
                id.uuid = c.uuid.clone();
                id.size = c.size;
                let copies: Vec<String> = c
                    .evidence
                    .iter()
                    .map(|(w, at)| format!("{w} at {at:#x}"))
                    .collect();
                id.problems.push(Problem::warning(
                    c.format,
                    None,
                    format!("not found at its start; known from {}", copies.join(", ")),
                ));
                kids.push(fs_node(&slice, &ppath, id));
            }
            if size.saturating_add(c.start) > vol.len() {
                problems.push(Problem::warning(
                    "recovered partition",
                    None,
                    "runs past the end of the volume",
                ));
            }
            Node {
                path: ppath,
                kind: NodeKind::Partition,
                format: "recovered".into(),
                offset: c.start,
                size,
                info: NodeInfo::Recovered(Box::new(p), Box::new(c.clone())),
                problems,
                children: kids,
                volume: Some(slice),
            }
        })
        .collect();
    Node {
        path,
        kind: NodeKind::PartitionTable,
        format: "recovered".into(),
        offset: 0,
        size: vol.len(),
        info: NodeInfo::Search(Box::new(search)),
        problems: Vec::new(),
        children,
        volume: Some(vol.clone()),
    }
}

/// The problem for a source where nothing at all was recognized, saying
/// what was looked for and why sector 0 is not an MBR.
fn nothing_recognized(vol: &dyn crate::io::Volume) -> Problem {
    let why = match part::probe_tables(vol).mbr {
        Err(crate::Error::Corrupt { offset, detail, .. }) => {
            format!("MBR at {offset:#x}: {detail}")
        }
        Err(e) => e.to_string(),
        Ok(_) => "the MBR has no partitions".to_string(),
    };
    Problem::error(
        "content",
        Some(0),
        format!(
            "no partition table or filesystem recognized ({why}; no GPT header at LBA 1 or the last LBA with 512- or 4096-byte sectors; no known superblock)"
        ),
    )
}

fn is_boot_sector_fs(id: &Identified) -> bool {
    id.superblock_offset == 0 && matches!(id.format, "fat12" | "fat16" | "fat32" | "ntfs" | "exfat")
}

/// What a volume (disk or partition) holds: partition tables and/or
/// identified contents. Problems that concern the volume itself go to `problems`.
fn explore(
    vol: &VolumeRef,
    path: &str,
    depth: usize,
    opts: &Options,
    chain: &Chain,
    problems: &mut Vec<Problem>,
    budget: &mut usize,
) -> Vec<Node> {
    if depth >= opts.max_depth {
        problems.push(Problem::warning(
            "volume",
            None,
            format!("nested {depth} levels deep; not looking further"),
        ));
        return Vec::new();
    }
    if *budget == 0 {
        problems.push(Problem::warning(
            "volume",
            None,
            format!(
                "{MAX_PARTITIONS} partitions of this source already looked into; not looking further"
            ),
        ));
        return Vec::new();
    }
    // A VM image: its virtual disk is what holds tables and filesystems.
    if let Some(found) = crate::image::detect(vol, chain) {
        return match found {
            Ok((info, disk, mut found_problems)) => {
                let path = format!("{path}/{}", info.format);
                let mut inner = Vec::new();
                let children = match &disk {
                    Some(d) => explore(
                        d,
                        &path,
                        depth + 1,
                        opts,
                        &opts.inner_chain(&path),
                        &mut inner,
                        budget,
                    ),
                    None => Vec::new(),
                };
                found_problems.extend(inner);
                vec![Node {
                    path,
                    kind: NodeKind::VmImage,
                    format: info.format.to_string(),
                    offset: 0,
                    size: info.virtual_size,
                    info: NodeInfo::VmImage(Box::new(info)),
                    problems: found_problems,
                    children,
                    volume: disk,
                }]
            }
            Err(e) => {
                problems.push(Problem::from_error(Severity::Error, "VM image", &e));
                Vec::new()
            }
        };
    }
    let mut ids = crate::registry::identify(vol.as_ref());
    // Firmware (PERC, LSI) puts the DDF anchor anywhere in the last 32 MiB
    // of a whole disk; the cheap probes only look at the usual places.
    if depth == 0
        && !ids
            .iter()
            .any(|r| r.as_ref().is_ok_and(|id| id.format == "ddf"))
    {
        if let Some(anchor) = crate::raid::ddf::find_anchor(vol.as_ref(), true) {
            let found = crate::raid::ddf::identified(vol.as_ref(), &anchor);
            ids.insert(0, found.map_err(|e| e.within(&vol.describe(), 0)));
        }
    }
    // A RAID member whose array data starts at its offset 0 (md 0.90 and
    // 1.0, DDF, IMSM) shows the array's first chunk there: a partition table
    // or filesystem at the start is the array's, not this device's.
    let array_at_start = ids.iter().filter_map(|r| r.as_ref().ok()).find_map(|id| {
        let m = id.raid.as_ref()?;
        let (info, _) = m.arrays.iter().find(|(_, role)| role.data_offset == 0)?;
        Some(format!(
            "{} {}",
            info.format.as_str(),
            info.name.clone().unwrap_or_else(|| info.id.clone())
        ))
    });
    let boot_fs = ids.iter().any(|r| r.as_ref().is_ok_and(is_boot_sector_fs));
    let probe = part::probe_tables(vol.as_ref());
    let gpt_present = probe.gpt.as_ref().is_some_and(|g| g.present());
    let tables = if (boot_fs && !gpt_present) || array_at_start.is_some() {
        Vec::new()
    } else {
        let mbr_ss = mbr_sector_size(vol, &probe);
        part::tables(vol.as_ref(), &probe, mbr_ss)
    };
    if let Some(array) = &array_at_start {
        let mbr_ok = probe.mbr.as_ref().is_ok_and(|m| !m.entries.is_empty());
        if gpt_present || mbr_ok {
            problems.push(Problem::warning(
                "partition table",
                Some(0),
                format!("the partition table at the start belongs to array {array}, whose data starts at offset 0 of this member"),
            ));
        }
    }
    let mut children: Vec<Node> = tables
        .into_iter()
        .map(|t| table_node(vol, path, t, depth, opts, budget))
        .collect();
    let mut first = true;
    for r in ids {
        match r {
            Ok(id) => {
                let as_node = if id.usage == Usage::Raid {
                    true
                } else if array_at_start.is_some() {
                    false
                } else if children.is_empty() {
                    first
                } else {
                    false
                };
                if as_node {
                    first = first && id.usage == Usage::Raid;
                    children.push(fs_node(vol, path, id));
                } else {
                    let detail = match &array_at_start {
                        Some(array) => format!(
                            "a {} signature here belongs to array {array}, whose data starts at offset 0 of this member",
                            id.format
                        ),
                        None => format!(
                            "a {} signature also stands here; it or what is shown instead is stale",
                            id.format
                        ),
                    };
                    problems.push(Problem::warning(
                        id.format,
                        Some(id.superblock_offset),
                        detail,
                    ));
                }
            }
            Err(e) => problems.push(Problem::from_error(Severity::Error, "superblock", &e)),
        }
    }
    children
}

/// The sector size to read a classic MBR with: the device's, else the GPT's,
/// else the one under which more partitions start with a recognized
/// filesystem (a 4Kn disk imaged to a file keeps its 4096-byte LBAs), else 512.
fn mbr_sector_size(vol: &VolumeRef, probe: &part::TableProbe) -> (u64, SectorSizeSource) {
    if let Some(d) = vol.device_sector_size() {
        return (u64::from(d), SectorSizeSource::Device);
    }
    if let Some(g) = probe.gpt.as_ref().filter(|g| g.present()) {
        return (g.sector_size, SectorSizeSource::GptHeader);
    }
    let Ok(m) = &probe.mbr else {
        return (512, SectorSizeSource::Default);
    };
    let score = |ss: u64| {
        m.entries
            .iter()
            .filter(|e| !part::types::is_extended(e.kind))
            .filter(|e| {
                let off = u64::from(e.first_lba) * ss;
                let len = u64::from(e.sectors) * ss;
                off.saturating_add(len) <= vol.len() && {
                    let s = Slice::new(vol.clone(), off, len, String::new());
                    crate::registry::identify(&s).iter().any(|r| r.is_ok())
                }
            })
            .count()
    };
    if score(4096) > score(512) {
        (4096, SectorSizeSource::Filesystems)
    } else {
        (512, SectorSizeSource::Default)
    }
}

fn table_node(
    vol: &VolumeRef,
    parent: &str,
    mut t: PartitionTable,
    depth: usize,
    opts: &Options,
    budget: &mut usize,
) -> Node {
    let path = format!("{parent}/{}", t.format.as_str());
    let ss = t.sector_size;
    let parts = std::mem::take(&mut t.partitions);
    let children = parts
        .into_iter()
        .map(|p| partition_node(vol, &path, p, ss, depth, opts, budget))
        .collect();
    Node {
        path,
        kind: NodeKind::PartitionTable,
        format: t.format.as_str().to_string(),
        offset: 0,
        size: vol.len(),
        problems: std::mem::take(&mut t.problems),
        info: NodeInfo::Table(Box::new(t)),
        children,
        volume: Some(vol.clone()),
    }
}

fn partition_node(
    vol: &VolumeRef,
    parent: &str,
    mut p: Partition,
    ss: u64,
    depth: usize,
    opts: &Options,
    budget: &mut usize,
) -> Node {
    let path = format!("{parent}/p{}", p.number);
    let offset = p.start_lba.saturating_mul(ss);
    let size = p.sectors.saturating_mul(ss);
    let slice: VolumeRef = Arc::new(Slice::new(
        vol.clone(),
        offset,
        size,
        format!("{} → p{}", vol.describe(), p.number),
    ));
    let mut problems = std::mem::take(&mut p.problems);
    *budget = budget.saturating_sub(1);
    // A partition over the sector of its own table would show that table
    // again, and so on down: stop at the first such level, once.
    let own_table = p
        .table_lba
        .filter(|&t| t >= p.start_lba && t - p.start_lba < p.sectors);
    if let Some(t) = own_table {
        // An isohybrid CD image's MBR has a partition from LBA 0 over the
        // whole image by design; anywhere else this is damage.
        let severity = if t == 0 && p.role == PartRole::Primary {
            Severity::Warning
        } else {
            Severity::Error
        };
        problems.push(Problem {
            severity,
            ..Problem::error(
            "partition table",
            Some(t.saturating_mul(ss)),
            format!(
                "partition {} (LBA {}, {} sectors) covers the sector of the table that describes it (LBA {t}); what it holds is that table again, so it is not looked into",
                p.number, p.start_lba, p.sectors
            ),
        )});
    }
    let children = if p.role == PartRole::Extended || slice.len() < 512 || own_table.is_some() {
        Vec::new()
    } else {
        explore(
            &slice,
            &path,
            depth + 1,
            opts,
            &opts.inner_chain(&path),
            &mut problems,
            budget,
        )
    };
    Node {
        path,
        kind: NodeKind::Partition,
        format: match p.ptype {
            part::PartType::Gpt(_) => "gpt",
            part::PartType::Mbr(_) => "mbr",
        }
        .to_string(),
        offset,
        size,
        info: NodeInfo::Partition(Box::new(p), ss),
        problems,
        children,
        volume: Some(slice),
    }
}

fn fs_node(vol: &VolumeRef, parent: &str, mut id: Identified) -> Node {
    fs::probe::check_fits(&mut id, vol.len());
    // A superblock that identifies is not yet a filesystem that reads: the
    // reader itself opens it and lists its root, as `ls` would, so what
    // `ls` rejects or reports the scan reports (one validation, the
    // reader's), damage it noticed on the way included.
    let opened = fs::filesystem::open(id.format, vol.clone()).map(|r| {
        r.and_then(|f| {
            let listed = f.read_dir(f.root()).map(|_| ());
            for p in f.problems() {
                if !id.problems.contains(&p) {
                    id.problems.push(p);
                }
            }
            listed
        })
    });
    match opened {
        Some(Err(e @ crate::Error::Unsupported { .. })) => {
            id.problems
                .push(Problem::from_error(Severity::Warning, "filesystem", &e))
        }
        Some(Err(e)) => {
            let mut p = Problem::from_error(Severity::Error, "filesystem", &e);
            p.detail = format!("{}; its files cannot be read", p.detail);
            id.problems.push(p);
        }
        Some(Ok(())) | None => {}
    }
    Node {
        path: format!("{parent}/{}", id.format),
        kind: NodeKind::Filesystem,
        format: id.format.to_string(),
        offset: 0,
        size: id.size.unwrap_or(vol.len()),
        problems: std::mem::take(&mut id.problems),
        info: NodeInfo::Filesystem(Box::new(id)),
        children: Vec::new(),
        volume: Some(vol.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use crate::part::mbr::tests::put_entry;

    /// Fuzzer find (discover, a timeout): partitions that hold the table
    /// that describes them again. Here each of 12 sectors is an MBR with
    /// three entries and an extended partition at LBA 1, so every level
    /// also walks the following sectors as an EBR chain: millions of nodes
    /// (a minute) within the depth limit, from 6 KiB.
    #[test]
    fn nested_tables_do_not_multiply_without_bound() {
        let mut d = vec![0u8; 512 * 64];
        for k in 0..12 {
            let s = &mut d[k * 512..(k + 1) * 512];
            for slot in 0..3 {
                put_entry(s, slot, 0, 0x83, 1, 60 - (k + slot) as u32);
            }
            put_entry(s, 3, 0, 0x05, 1, 60 - k as u32);
        }
        let src = Source {
            name: "nested".into(),
            volume: Arc::new(MemVolume::new("nested", d)),
            kind: SourceKind::File,
        };
        let root = discover_source(&src, 0, &Options::default());
        let nodes = root.walk();
        let parts = nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Partition)
            .count();
        // Past the budget, only the tables already being read are listed.
        assert!(
            parts <= MAX_PARTITIONS + DEFAULT_MAX_DEPTH * 40,
            "{parts} partitions"
        );
        assert!(nodes.iter().any(|n| n
            .problems
            .iter()
            .any(|p| p.detail.contains("already looked into"))));
    }
}
