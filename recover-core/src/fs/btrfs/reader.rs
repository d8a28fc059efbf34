//! Reading files from Btrfs: the [`FileSystem`] implementation over the
//! superblock, chunk map, trees and items of the sibling modules.
//!
//! A file is named by its tree (the top-level FS_TREE, 5, or a subvolume
//! or snapshot, 256 on) and its inode number in that tree:
//! `tree << 40 | inode`. A subvolume shows as a directory where a
//! DIR_INDEX entry of its parent names it (location key type ROOT_ITEM)
//! and a ROOT_REF of the parent tree confirms the place, as the kernel
//! shows it; a snapshot's copy of an entry whose subvolume lives elsewhere
//! is an empty directory, as the kernel shows that.
//!
//! Damage stays local: a leaf that fails its checks fails only the
//! lookups that need it; data checksum mismatches are reported through
//! [`FileSystem::problems`] and do not stop a read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, Extent, ExtentList, FileId, FileKind, FileSystem, FileSystemRef, Stat};
use crate::io::VolumeRef;
use crate::problem::Problem;

use super::chunk::{parse_sys_array, shift, Chunk};
use super::compress::{decompress, MAX_COMPRESSED, MAX_UNCOMPRESSED};
use super::devices::{gather, DeviceSet, Member};
use super::file::{BtrfsFile, Data, Run, Source};
use super::items::*;
use super::sb::{Superblock, MAX_LEVEL};
use super::space::Space;
use super::tree::Trees;

/// Bits of a [`FileId`] that hold the inode number.
const INO_BITS: u32 = 40;
/// Tree ids at or above this cannot be named in a [`FileId`].
const MAX_TREE: u64 = 1 << (63 - INO_BITS);
/// The longest symlink target read (PATH_MAX).
const MAX_LINK: u64 = 4096;

/// A Btrfs filesystem opened for reading.
#[derive(Debug)]
pub struct Btrfs {
    sb: Superblock,
    trees: Arc<Trees>,
    data: Arc<Data>,
    root_dir: FileId,
    roots: Mutex<HashMap<u64, RootItem>>,
    layer: String,
    problems: Arc<ProblemLog>,
    devices: Vec<DeviceInfo>,
}

/// Opens the btrfs filesystem on `vol`: one device, or a gathered
/// [`DeviceSet`] (the node of a multi-device filesystem) as its devices.
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    let set = vol
        .as_any()
        .and_then(|a| a.downcast_ref::<DeviceSet>())
        .map(|d| d.devices().iter().map(|(_, v)| v.clone()).collect());
    match set {
        Some(devs) => Btrfs::open_devices(devs),
        None => Btrfs::open(vol),
    }
    .map(|b| Arc::new(b) as FileSystemRef)
}

/// A device of the filesystem, as the chunk tree's DEV_ITEMs list them
/// (or, where those cannot be read, as the superblocks found say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// devid.
    pub devid: u64,
    /// The device's uuid (dev_item.uuid), where known.
    pub uuid: Option<[u8; 16]>,
    /// Where it was found (the volume's description); `None` when missing.
    pub found: Option<String>,
}

/// The FileId of inode `ino` of tree `tree`.
pub fn file_id(tree: u64, ino: u64) -> Option<FileId> {
    (tree < MAX_TREE && ino < 1 << INO_BITS).then_some(tree << INO_BITS | ino)
}

/// The tree and inode of a FileId.
pub fn split_id(id: FileId) -> (u64, u64) {
    (id >> INO_BITS, id & ((1 << INO_BITS) - 1))
}

/// (devid, uuid) of a DEV_ITEM (btrfs_tree.h, struct btrfs_dev_item:
/// devid u64 0, uuid [16] 66; 98 bytes).
fn parse_dev_item(b: &[u8]) -> Option<(u64, [u8; 16])> {
    let r = crate::bytes::Bytes(b);
    Some((r.le_u64(0)?, r.array(66)?))
}

/// The devices the chunk tree lists (or, without that list, those found),
/// each marked found or missing.
fn device_list(listed: &[(u64, [u8; 16])], found: &BTreeMap<u64, Member>) -> Vec<DeviceInfo> {
    let mut out: BTreeMap<u64, DeviceInfo> = listed
        .iter()
        .map(|&(devid, uuid)| {
            (
                devid,
                DeviceInfo {
                    devid,
                    uuid: Some(uuid),
                    found: None,
                },
            )
        })
        .collect();
    for (devid, m) in found {
        let e = out.entry(*devid).or_insert(DeviceInfo {
            devid: *devid,
            uuid: Some(m.sb.dev_uuid),
            found: None,
        });
        e.found = Some(m.vol.describe());
    }
    out.into_values().collect()
}

fn kind_of(ftype: u8) -> FileKind {
    match ftype {
        1 => FileKind::File,
        2 => FileKind::Dir,
        3 => FileKind::CharDevice,
        4 => FileKind::BlockDevice,
        5 => FileKind::Fifo,
        6 => FileKind::Socket,
        7 => FileKind::Symlink,
        _ => FileKind::Unknown,
    }
}

impl Btrfs {
    /// Reads the superblock, the chunk map and the roots of the
    /// filesystem on `vol` alone.
    pub fn open(vol: VolumeRef) -> Result<Btrfs> {
        Btrfs::open_devices(vec![vol])
    }

    /// Reads the filesystem whose devices are among `vols` (see
    /// [`gather`]): data on devices not given is read from its other
    /// copies or rebuilt from parity where the profile keeps them.
    pub fn open_devices(vols: Vec<VolumeRef>) -> Result<Btrfs> {
        let problems = Arc::new(ProblemLog::default());
        let g = gather(&vols, &problems).map_err(|e| match vols.as_slice() {
            [one] => e.within(&one.describe(), 0),
            _ => e,
        })?;
        let sb = g.sb;
        let layer = match g.members.values().collect::<Vec<_>>().as_slice() {
            [one] if vols.len() == 1 => one.vol.describe(),
            _ => format!("btrfs {}", crate::bytes::uuid_str(&sb.fsid)),
        };
        let devices: HashMap<u64, VolumeRef> =
            g.members.iter().map(|(d, m)| (*d, m.vol.clone())).collect();
        let mut space = Space::new(devices);
        let sys = parse_sys_array(&sb.sys_chunk_array)
            .map_err(|e| shift(e, sb.offset + 0x32B).within(&layer, 0))?;
        for c in sys {
            space.insert(c);
        }
        // The chunk tree, read through the system chunks.
        let boot = Trees::new(
            space,
            sb.nodesize,
            sb.header_fsid,
            sb.csum,
            problems.clone(),
        );
        let mut chunks = Vec::new();
        boot.range(
            sb.chunk_root,
            Key::new(FIRST_CHUNK_TREE, CHUNK_ITEM, 0),
            Key::new(FIRST_CHUNK_TREE, CHUNK_ITEM, u64::MAX),
            &mut |it| {
                match Chunk::parse(it.data, it.key.offset) {
                    Ok((c, _)) => chunks.push(c),
                    Err(e) => problems.push(Problem::from_error(
                        crate::problem::Severity::Error,
                        "Btrfs chunk item",
                        &shift(e, it.physical),
                    )),
                }
                Ok(chunks.len() < super::space::MAX_CHUNKS)
            },
        )
        .map_err(|e| e.within(&layer, 0))?;
        // The devices the filesystem has (DEV_ITEMs of the chunk tree).
        let mut listed: Vec<(u64, [u8; 16])> = Vec::new();
        let dev_items = boot.range(
            sb.chunk_root,
            Key::new(DEV_ITEMS_OBJECTID, DEV_ITEM, 0),
            Key::new(DEV_ITEMS_OBJECTID, DEV_ITEM, u64::MAX),
            &mut |it| {
                if let Some(d) = parse_dev_item(it.data) {
                    listed.push(d);
                }
                Ok(listed.len() < super::devices::MAX_DEVICES)
            },
        );
        if let Err(e) = dev_items {
            problems.push(Problem::from_error(
                crate::problem::Severity::Warning,
                "Btrfs device item",
                &e,
            ));
        }
        let mut space = boot.space;
        for c in chunks {
            if !space.insert(c.clone()) {
                problems.push(Problem::error(
                    "Btrfs chunk item",
                    None,
                    format!(
                        "chunk at logical {:#x} overlaps another; left out",
                        c.logical
                    ),
                ));
            }
        }
        let devices = device_list(&listed, &g.members);
        let missing: Vec<&DeviceInfo> = devices.iter().filter(|d| d.found.is_none()).collect();
        if !missing.is_empty() || (listed.is_empty() && (g.members.len() as u64) < sb.num_devices) {
            let names: Vec<String> = missing
                .iter()
                .map(|d| match d.uuid {
                    Some(u) => format!("devid {} (uuid {})", d.devid, crate::bytes::uuid_str(&u)),
                    None => format!("devid {}", d.devid),
                })
                .collect();
            problems.push(Problem::warning(
                "Btrfs superblock",
                Some(sb.offset + 0x88),
                format!(
                    "the filesystem has {} devices, {} here; missing: {}: data with no \
                     copy or parity elsewhere cannot be read",
                    sb.num_devices,
                    g.members.len(),
                    if names.is_empty() {
                        "unknown".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        }
        let trees = Arc::new(Trees::new(
            space,
            sb.nodesize,
            sb.header_fsid,
            sb.csum,
            problems.clone(),
        ));
        let mut fs = Btrfs {
            data: Arc::new(Data::new(
                trees.clone(),
                None,
                sb.sectorsize,
                problems.clone(),
                format!("{layer}/btrfs-logical"),
            )),
            sb,
            trees,
            root_dir: 0,
            roots: Mutex::new(HashMap::new()),
            layer,
            problems,
            devices,
        };
        let top = fs.root_item(FS_TREE)?;
        fs.root_dir = file_id(FS_TREE, top.root_dirid).ok_or_else(|| {
            fs.err(
                "Btrfs root item",
                0,
                format!("root directory {}", top.root_dirid),
            )
        })?;
        let csum_root = match fs.root_item(CSUM_TREE) {
            Ok(r) => Some((r.bytenr, r.level)),
            Err(e) => {
                fs.problems.push(Problem::from_error(
                    crate::problem::Severity::Warning,
                    "Btrfs csum tree",
                    &e,
                ));
                None
            }
        };
        fs.data = Arc::new(Data::new(
            fs.trees.clone(),
            csum_root,
            fs.sb.sectorsize,
            fs.problems.clone(),
            format!("{}/btrfs-logical", fs.layer),
        ));
        Ok(fs)
    }

    /// The superblock in use.
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    /// The filesystem's devices in devid order, found or missing.
    pub fn devices(&self) -> &[DeviceInfo] {
        &self.devices
    }

    /// Where way `mirror` of logical address `logical` is read from
    /// ("devid D offset 0x.."), for tests and tools that damage one copy.
    pub fn position(&self, logical: u64, mirror: usize) -> String {
        self.trees.space.position(logical, mirror)
    }

    /// The devid and device offset of copy `mirror` of `logical`.
    pub fn locate(&self, logical: u64, mirror: usize) -> Result<(u64, u64)> {
        self.trees
            .space
            .locate_dev(logical, mirror)
            .map(|(d, _, off, _)| (d, off))
    }

    /// The logical address of byte `offset` of the regular file `id`, when
    /// it is stored plainly (not inline, compressed or a hole).
    pub fn logical_of(&self, id: FileId, offset: u64) -> Result<Option<u64>> {
        let i = self.inode(id)?;
        let runs = self.runs(id, i.size)?;
        Ok(runs.iter().find_map(|r| match r.src {
            Source::Plain(l) if r.at <= offset && offset - r.at < r.len => {
                Some(l.saturating_add(offset - r.at))
            }
            _ => None,
        }))
    }

    /// The leaf holding the item at or before `key` in `tree`: its logical
    /// address and the device offsets of its copies (for tests and tools
    /// that damage or inspect one).
    pub fn leaf_of(&self, tree: u64, key: Key) -> Result<(u64, Vec<u64>)> {
        let (mut at, mut level) = self.tree_root(tree)?;
        while level > 0 {
            let node = self.trees.node(at, level)?;
            let mut child = None;
            for i in 0..node.len() {
                match node.ptr(i) {
                    Some((k, c)) if k <= key || child.is_none() => child = Some(c),
                    _ => break,
                }
            }
            at = child.ok_or_else(|| node.corrupt(0x60, "empty node"))?;
            level -= 1;
        }
        let copies = (0..self.trees.space.mirrors(at))
            .filter_map(|m| self.trees.space.locate(at, m).ok().map(|(_, p, _)| p))
            .collect();
        Ok((at, copies))
    }

    fn err(&self, s: &'static str, at: u64, d: String) -> Error {
        Error::corrupt(s, at, d).within(&self.layer, 0)
    }

    fn root_tree(&self) -> (u64, u8) {
        self.sb.root
    }

    /// The root item of tree `id` (the newest, for a snapshot's keys).
    pub fn root_item(&self, id: u64) -> Result<RootItem> {
        if let Some(r) = self
            .roots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(*r);
        }
        let found = self
            .trees
            .floor(self.root_tree(), Key::new(id, ROOT_ITEM, u64::MAX))
            .map_err(|e| e.within(&self.layer, 0))?;
        let (key, data, phys) = found
            .filter(|(k, _, _)| k.objectid == id && k.typ == ROOT_ITEM)
            .ok_or_else(|| self.err("Btrfs root tree", 0, format!("no root item for tree {id}")))?;
        let r = RootItem::parse(&data)
            .filter(|r| r.level <= MAX_LEVEL)
            .ok_or_else(|| {
                self.err(
                    "Btrfs root item",
                    phys,
                    format!("root item {key:?} of {} bytes is damaged", data.len()),
                )
            })?;
        self.roots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, r);
        Ok(r)
    }

    fn tree_root(&self, tree: u64) -> Result<(u64, u8)> {
        self.root_item(tree).map(|r| (r.bytenr, r.level))
    }

    fn inode(&self, id: FileId) -> Result<InodeItem> {
        let (tree, ino) = split_id(id);
        let root = self.tree_root(tree)?;
        let (data, phys) = self
            .trees
            .get(root, Key::new(ino, INODE_ITEM, 0))
            .map_err(|e| e.within(&self.layer, 0))?
            .ok_or_else(|| Error::NotFound {
                path: format!("{}: tree {tree} inode {ino}", self.layer),
            })?;
        InodeItem::parse(&data).ok_or_else(|| {
            self.err(
                "Btrfs inode item",
                phys,
                format!("tree {tree} inode {ino}: item of {} bytes", data.len()),
            )
        })
    }

    /// The items of `ino` of `typ` in `tree`, as (key, data, device offset).
    fn items(&self, tree: u64, ino: u64, typ: u8) -> Result<Vec<(Key, Vec<u8>, u64)>> {
        let root = self.tree_root(tree)?;
        let mut out = Vec::new();
        self.trees
            .range(
                root,
                Key::new(ino, typ, 0),
                Key::new(ino, typ, u64::MAX),
                &mut |it| {
                    out.push((it.key, it.data.to_vec(), it.physical));
                    Ok(out.len() < crate::fs::file::MAX_EXTENTS)
                },
            )
            .map_err(|e| e.within(&self.layer, 0))?;
        Ok(out)
    }

    /// Where a directory entry naming subvolume `child` leads.
    fn subvol_entry(&self, tree: u64, dir: u64, name: &[u8], child: u64) -> FileId {
        let placeholder = file_id(child, EMPTY_SUBVOL_DIR).unwrap_or(0);
        if child == tree || child < FIRST_FREE && child != FS_TREE {
            return placeholder;
        }
        let linked = self
            .trees
            .get(self.root_tree(), Key::new(tree, ROOT_REF, child))
            .ok()
            .flatten()
            .and_then(|(d, _)| RootRef::parse(&d))
            .is_some_and(|r| r.dirid == dir && r.name == name);
        if !linked {
            return placeholder;
        }
        match self.root_item(child) {
            Ok(r) => file_id(child, r.root_dirid).unwrap_or(placeholder),
            Err(e) => {
                self.problems.push(Problem::from_error(
                    crate::problem::Severity::Error,
                    "Btrfs root item",
                    &e,
                ));
                placeholder
            }
        }
    }

    /// The runs of a regular file or symlink.
    fn runs(&self, id: FileId, size: u64) -> Result<Vec<Run>> {
        let (tree, ino) = split_id(id);
        let mut runs: Vec<Run> = Vec::new();
        let mut end = 0u64;
        for (key, data, phys) in self.items(tree, ino, EXTENT_DATA)? {
            let bad = |at: usize, d: String| {
                self.err(
                    "Btrfs file extent item",
                    phys.saturating_add(at as u64),
                    format!(
                        "tree {tree} inode {ino} at file offset {:#x}: {d}",
                        key.offset
                    ),
                )
            };
            let ext = FileExtent::parse(&data).map_err(|(at, d)| bad(at, d))?;
            let (len, src) = match ext {
                FileExtent::Inline {
                    ram_bytes,
                    compression,
                    data,
                } => {
                    let bytes = if compression == Compression::None {
                        data
                    } else {
                        if ram_bytes > u64::from(self.sb.sectorsize).max(4096) {
                            return Err(bad(8, format!("inline extent of {ram_bytes} bytes")));
                        }
                        decompress(
                            compression,
                            &data,
                            ram_bytes as usize, // ok: <= sectorsize
                            self.sb.sectorsize as usize,
                        )
                        .map_err(|d| bad(21, d))?
                    };
                    (bytes.len() as u64, Source::Bytes(Arc::new(bytes)))
                }
                FileExtent::Regular {
                    prealloc,
                    compression,
                    disk_bytenr,
                    disk_num_bytes,
                    offset,
                    num_bytes,
                    ram_bytes,
                } => {
                    let src = if prealloc || disk_bytenr == 0 {
                        Source::Zero
                    } else if compression == Compression::None {
                        Source::Plain(
                            disk_bytenr
                                .checked_add(offset)
                                .ok_or_else(|| bad(37, "address overflows".into()))?,
                        )
                    } else {
                        if disk_num_bytes > MAX_COMPRESSED
                            || ram_bytes > MAX_UNCOMPRESSED
                            || offset.saturating_add(num_bytes) > ram_bytes
                        {
                            return Err(bad(
                                29,
                                format!(
                                    "compressed extent of {disk_num_bytes} bytes to \
                                     {ram_bytes}, {num_bytes} used from {offset}"
                                ),
                            ));
                        }
                        Source::Compressed {
                            bytenr: disk_bytenr,
                            disk_len: disk_num_bytes,
                            ram: ram_bytes,
                            algo: compression,
                            skip: offset,
                        }
                    };
                    (num_bytes, src)
                }
            };
            if key.offset < end {
                return Err(bad(
                    0,
                    format!("overlaps the extent before (ending at {end:#x})"),
                ));
            }
            end = key
                .offset
                .checked_add(len)
                .ok_or_else(|| bad(45, "length overflows".into()))?;
            if len > 0 && key.offset < size {
                runs.push(Run {
                    at: key.offset,
                    len,
                    src,
                });
            }
        }
        Ok(runs)
    }

    fn volume(&self, id: FileId, size: u64, runs: Vec<Run>) -> Result<VolumeRef> {
        let (tree, ino) = split_id(id);
        let name = format!("{}/btrfs-{tree}-{ino}", self.layer);
        if runs
            .iter()
            .all(|r| matches!(r.src, Source::Zero | Source::Plain(_)))
        {
            let mut list = ExtentList::new();
            for r in &runs {
                let physical = match r.src {
                    Source::Plain(l) => Some(l),
                    _ => None,
                };
                if !list.push(Extent {
                    logical: r.at,
                    len: r.len,
                    physical,
                }) {
                    return Err(self.err("Btrfs file", 0, format!("{name}: too many extents")));
                }
            }
            let base: VolumeRef = self.data.clone();
            return list
                .build(base, size, name)
                .map(|f| f.into_ref())
                .map_err(|e| e.within(&self.layer, 0));
        }
        Ok(Arc::new(BtrfsFile::new(
            self.data.clone(),
            size,
            runs,
            self.sb.sectorsize,
            name,
        )))
    }
}

impl FileSystem for Btrfs {
    fn format(&self) -> &'static str {
        "btrfs"
    }

    fn root(&self) -> FileId {
        self.root_dir
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        if split_id(id).1 == EMPTY_SUBVOL_DIR {
            return Ok(Stat {
                id,
                kind: Some(FileKind::Dir),
                mode: Some(0o040755),
                nlink: Some(1),
                ..Stat::default()
            });
        }
        let i = self.inode(id)?;
        let kind = FileKind::from_mode(i.mode);
        let mut flags = Vec::new();
        // BTRFS_INODE_NODATASUM 0x1, NODATACOW 0x2, COMPRESS 0x800.
        if i.flags & 0x800 != 0 {
            flags.push("compress");
        }
        if i.flags & 0x2 != 0 {
            flags.push("nodatacow");
        }
        let (tree, ino) = split_id(id);
        if kind == FileKind::Dir
            && tree != FS_TREE
            && Some(ino) == self.root_item(tree).ok().map(|r| r.root_dirid)
        {
            flags.push("subvolume");
        }
        Ok(Stat {
            id,
            kind: Some(kind),
            size: i.size,
            allocated: Some(i.nbytes),
            mode: Some(i.mode),
            uid: Some(i.uid),
            gid: Some(i.gid),
            nlink: Some(i.nlink),
            mtime: Some(i.mtime),
            atime: Some(i.atime),
            ctime: Some(i.ctime),
            crtime: Some(i.otime),
            flags,
            streams: Vec::new(),
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let (tree, ino) = split_id(dir);
        if ino == EMPTY_SUBVOL_DIR {
            return Ok(Vec::new());
        }
        let i = self.inode(dir)?;
        if FileKind::from_mode(i.mode) != FileKind::Dir {
            return Err(self.err(
                "Btrfs inode item",
                0,
                format!(
                    "tree {tree} inode {ino} is not a directory (mode {:o})",
                    i.mode
                ),
            ));
        }
        let mut out = Vec::new();
        for (_, data, phys) in self.items(tree, ino, DIR_INDEX)? {
            let entries = DirItem::parse_all(&data).map_err(|at| {
                self.err(
                    "Btrfs dir index item",
                    phys.saturating_add(at as u64),
                    format!("directory {ino} of tree {tree}: entry cut short"),
                )
            })?;
            for d in entries {
                let id = match d.location.typ {
                    INODE_ITEM => file_id(tree, d.location.objectid),
                    ROOT_ITEM => Some(self.subvol_entry(tree, ino, &d.name, d.location.objectid)),
                    _ => None,
                };
                let Some(id) = id else {
                    self.problems.push(Problem::error(
                        "Btrfs dir index item",
                        Some(phys),
                        format!(
                            "directory {ino} of tree {tree}: entry {:?} names {:?}",
                            String::from_utf8_lossy(&d.name),
                            d.location
                        ),
                    ));
                    continue;
                };
                out.push(DirEntry {
                    name: d.name,
                    id,
                    kind: kind_of(d.ftype),
                });
            }
        }
        Ok(out)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let i = self.inode(id)?;
        if FileKind::from_mode(i.mode) != FileKind::File {
            return Err(Error::Unsupported {
                layer: self.layer.clone(),
                what: format!(
                    "opening a Btrfs inode of mode {:o} (not a regular file)",
                    i.mode
                ),
            });
        }
        let runs = self.runs(id, i.size)?;
        self.volume(id, i.size, runs)
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        let i = self.inode(id)?;
        let (tree, ino) = split_id(id);
        if FileKind::from_mode(i.mode) != FileKind::Symlink {
            return Err(self.err(
                "Btrfs inode item",
                0,
                format!(
                    "tree {tree} inode {ino} is not a symbolic link (mode {:o})",
                    i.mode
                ),
            ));
        }
        if i.size == 0 || i.size > MAX_LINK {
            return Err(self.err(
                "Btrfs inode item",
                0,
                format!(
                    "tree {tree} inode {ino}: symlink target of {} bytes",
                    i.size
                ),
            ));
        }
        let runs = self.runs(id, i.size)?;
        let v = self.volume(id, i.size, runs)?;
        let mut buf = vec![0u8; i.size as usize]; // ok: <= MAX_LINK
        v.read_at(0, &mut buf)?;
        Ok(buf)
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}
