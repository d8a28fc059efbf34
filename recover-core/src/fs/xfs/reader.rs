//! Reading files from XFS (v4 and v5): the [`FileSystem`] implementation
//! over the superblock geometry, inodes, block maps, directories and
//! symlinks of the sibling modules.
//!
//! Damage stays local: a bad inode fails only calls on that file; a bad
//! directory data block is skipped (and reported) when others of the same
//! directory read; CRC mismatches are reported through
//! [`FileSystem::problems`] and do not stop a read.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::bytes::{zeroed, Bytes};
use crate::checksum::crc32c;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, Extent, ExtentList, FileId, FileKind, FileSystem, FileSystemRef, Stat};
use crate::io::{bytes_at, bytes_up_to, MemVolume, VolumeRef};
use crate::problem::Problem;

use super::bmap::{data_extents, BmapRec};
use super::dir::{parse_data_block, parse_short_form, DirFormat, LEAF_OFFSET};
use super::inode::{Inode, FMT_BTREE, FMT_EXTENTS, FMT_LOCAL};
use super::sb::Geometry;
use super::symlink;

/// More directory data blocks than this (8 GiB of 4 KiB blocks) is damage.
const MAX_DIR_BLOCKS: usize = 1 << 21;
/// Free-index blocks of node directories start here (XFS_DIR2_FREE_OFFSET).
const FREE_OFFSET: u64 = 2 * LEAF_OFFSET;

/// An XFS filesystem opened for reading.
#[derive(Debug)]
pub struct Xfs {
    vol: VolumeRef,
    geo: Geometry,
    layer: String,
    problems: ProblemLog,
}

/// Opens the xfs filesystem on `vol`.
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    Xfs::open(vol).map(|x| Arc::new(x) as FileSystemRef)
}

impl Xfs {
    /// Reads and checks the superblock.
    pub fn open(vol: VolumeRef) -> Result<Xfs> {
        let layer = vol.describe();
        let head = bytes_up_to(vol.as_ref(), 0, 512)?;
        let geo = Geometry::parse(&head).map_err(|e| e.within(&layer, 0))?;
        drop(head);
        let problems = ProblemLog::default();
        let want = geo.dblocks.saturating_mul(u64::from(geo.block_size));
        if vol.len() < want {
            problems.push(Problem::warning(
                "XFS superblock",
                Some(8),
                format!(
                    "the filesystem spans {want:#x} bytes but its volume ends at {:#x}: \
                     files past the end cannot be read",
                    vol.len()
                ),
            ));
        }
        if geo.v5 {
            // The superblock CRC covers sb_sectsize bytes (at offset 102).
            let sect = bytes_up_to(vol.as_ref(), 102, 2)?;
            let sect = Bytes(&sect)
                .be_u16(0)
                .map_or(512, usize::from)
                .clamp(512, 32768);
            let sb = bytes_up_to(vol.as_ref(), 0, sect)?;
            // A whole sector (sect >= 512) holds the CRC field at 224.
            let stored = Bytes(&sb).le_u32(224);
            if let (true, Some(stored), Some(copy)) =
                (sb.len() == sect, stored, zeroed(&sb, 224, 4))
            {
                if stored != crc32c(&copy) {
                    problems.push(Problem::error("XFS superblock", Some(224), "CRC mismatch"));
                }
            }
        }
        Ok(Xfs {
            vol,
            geo,
            layer,
            problems,
        })
    }

    /// The superblock's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// Byte offset of inode `ino` within the volume.
    pub fn inode_offset(&self, ino: u64) -> Result<u64> {
        self.geo.ino_offset(ino).ok_or_else(|| {
            Error::corrupt(
                "XFS inode number",
                0,
                format!("inode {ino} names an allocation group or block that does not exist"),
            )
            .within(&self.layer, 0)
        })
    }

    /// Reads and parses inode `ino`; a CRC mismatch is reported, not fatal.
    pub fn inode(&self, ino: u64) -> Result<Inode> {
        let off = self.inode_offset(ino)?;
        let raw = bytes_at(self.vol.as_ref(), off, usize::from(self.geo.inode_size))?;
        let i = Inode::parse(&self.geo, ino, off, &raw).map_err(|e| e.within(&self.layer, 0))?;
        if !i.crc_ok {
            self.problems.push(Problem::error(
                "XFS inode",
                Some(off + 100),
                format!("inode {ino}: CRC mismatch"),
            ));
        }
        Ok(i)
    }

    fn extents(&self, i: &Inode) -> Result<Vec<BmapRec>> {
        data_extents(self.vol.as_ref(), &self.geo, &self.problems, i)
            .map_err(|e| e.within(&self.layer, 0))
    }

    fn dir_inode(&self, ino: u64) -> Result<Inode> {
        let i = self.inode(ino)?;
        if FileKind::from_mode(u32::from(i.mode)) != FileKind::Dir {
            return Err(Error::corrupt(
                "XFS inode",
                i.offset + 2,
                format!("inode {ino} is not a directory (mode {:o})", i.mode),
            )
            .within(&self.layer, 0));
        }
        Ok(i)
    }

    /// How directory `ino` is stored: its layout, and whether its block
    /// map is a btree (true) rather than a list in the inode.
    pub fn dir_format(&self, ino: u64) -> Result<(DirFormat, bool)> {
        let i = self.dir_inode(ino)?;
        match i.format {
            FMT_LOCAL => Ok((DirFormat::ShortForm, false)),
            FMT_EXTENTS | FMT_BTREE => {
                let leaf = LEAF_OFFSET >> self.geo.block_log;
                let free = FREE_OFFSET >> self.geo.block_log;
                let ends = |r: &BmapRec| r.startoff.saturating_add(r.blockcount);
                let recs = self.extents(&i)?;
                let f = if recs.iter().all(|r| ends(r) <= leaf) {
                    DirFormat::Block
                } else if recs.iter().all(|r| ends(r) <= free) {
                    DirFormat::Leaf
                } else {
                    DirFormat::Node
                };
                Ok((f, i.format == FMT_BTREE))
            }
            f => Err(Error::corrupt(
                "XFS inode",
                i.offset + 5,
                format!("directory inode {ino} has data fork format {f}"),
            )
            .within(&self.layer, 0)),
        }
    }

    /// The data fork's extent records of inode `ino` (extents or btree
    /// format), in on-disk order.
    pub fn data_map(&self, ino: u64) -> Result<Vec<BmapRec>> {
        let i = self.inode(ino)?;
        self.extents(&i)
    }

    /// The byte offset of logical block `lblk` of a fork mapped by `recs`
    /// (sorted by startoff); `None` for a hole.
    fn map_block(&self, recs: &[BmapRec], lblk: u64) -> Option<u64> {
        let i = recs
            .partition_point(|r| r.startoff <= lblk)
            .checked_sub(1)?;
        let r = recs.get(i)?;
        let k = lblk - r.startoff;
        if k >= r.blockcount || r.unwritten {
            return None;
        }
        self.geo.fsb_offset(r.startblock.checked_add(k)?)
    }

    fn read_data_blocks(&self, i: &Inode) -> Result<Vec<DirEntry>> {
        let mut recs = self.extents(i)?;
        recs.sort_by_key(|r| r.startoff);
        let g = &self.geo;
        let dbl = u32::from(g.dir_block_log);
        let per = 1u64 << dbl;
        let leaf = LEAF_OFFSET >> g.block_log;
        // Each data block needs blocks of its own on the volume: more than
        // the volume holds is damage (and would be slow to find out one
        // failed read at a time).
        let cap = usize::try_from(self.vol.len() / u64::from(g.dir_block_size()))
            .unwrap_or(usize::MAX)
            .clamp(1, MAX_DIR_BLOCKS);
        let mut blocks = BTreeSet::new();
        for r in &recs {
            let end = r.startoff.saturating_add(r.blockcount).min(leaf);
            let mut db = r.startoff >> dbl;
            while db << dbl < end {
                if blocks.len() >= cap {
                    return Err(Error::corrupt(
                        "XFS inode",
                        i.fork_offset,
                        format!(
                            "directory inode {}: its block map names more than {cap} data \
                             blocks, more than the volume holds",
                            i.ino
                        ),
                    )
                    .within(&self.layer, 0));
                }
                blocks.insert(db);
                db += 1;
            }
        }
        let bs = g.block_size as usize;
        let mut out = Vec::new();
        let mut first_err = None;
        let mut good = 0usize;
        for db in blocks {
            let mut buf = Vec::with_capacity(g.dir_block_size() as usize);
            let mut phys = Vec::with_capacity(per as usize);
            let mut missing = false;
            for k in 0..per {
                match self.map_block(&recs, (db << dbl) + k) {
                    Some(p) => {
                        match bytes_at(self.vol.as_ref(), p, bs) {
                            Ok(b) => buf.extend_from_slice(&b),
                            Err(e) => {
                                first_err.get_or_insert(e);
                                missing = true;
                                break;
                            }
                        }
                        phys.push(p);
                    }
                    None => {
                        missing = true;
                        break;
                    }
                }
            }
            if missing {
                continue;
            }
            // An offset within the directory block, as a volume offset.
            // `phys` holds `per` >= 1 blocks (none was missing).
            let Some(&first) = phys.first() else {
                continue;
            };
            let place = |o: u64| {
                phys.get((o / bs as u64) as usize)
                    .map_or(first, |p| p + o % bs as u64)
            };
            let before = out.len();
            match parse_data_block(g, i.ino, &buf, &mut out) {
                Ok(soft) => {
                    good += 1;
                    for (o, what) in soft {
                        self.problems.push(Problem::error(
                            "XFS directory data block",
                            Some(place(o as u64)),
                            format!("directory inode {}: {what}", i.ino),
                        ));
                    }
                }
                Err(e) => {
                    out.truncate(before);
                    let off = e.offset().unwrap_or(0);
                    let e = match e {
                        Error::Corrupt {
                            structure, detail, ..
                        } => Error::corrupt(structure, place(off), detail),
                        e => e,
                    }
                    .within(&self.layer, 0);
                    self.problems.push(Problem::from_error(
                        crate::problem::Severity::Error,
                        "XFS directory data block",
                        &e,
                    ));
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) if good == 0 => Err(e),
            _ => Ok(out),
        }
    }

    fn file_extents(&self, i: &Inode, recs: &[BmapRec]) -> Result<ExtentList> {
        let bl = u32::from(self.geo.block_log);
        let mut list = ExtentList::new();
        for r in recs {
            let bad = |what: &str| {
                Error::corrupt(
                    "XFS extent",
                    i.fork_offset,
                    format!("inode {}: extent at block {:#x} {what}", i.ino, r.startoff),
                )
                .within(&self.layer, 0)
            };
            let logical = r
                .startoff
                .checked_shl(bl)
                .filter(|l| l >> bl == r.startoff)
                .ok_or_else(|| bad("lies past 2^64 bytes"))?;
            let len = r.blockcount << bl; // ok: < 2^21 * 2^16
            let physical = if r.unwritten {
                None
            } else {
                Some(self.geo.fsb_offset(r.startblock).ok_or_else(|| {
                    bad(&format!(
                        "names block {:#x} outside the filesystem",
                        r.startblock
                    ))
                })?)
            };
            if !list.push(Extent {
                logical,
                len,
                physical,
            }) {
                return Err(bad("is one too many"));
            }
        }
        Ok(list)
    }
}

impl FileSystem for Xfs {
    fn format(&self) -> &'static str {
        "xfs"
    }

    fn root(&self) -> FileId {
        self.geo.root_ino
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        let i = self.inode(id)?;
        let kind = FileKind::from_mode(u32::from(i.mode));
        let mut flags = Vec::new();
        if kind == FileKind::File {
            match i.format {
                FMT_LOCAL => flags.push("inline"),
                FMT_EXTENTS | FMT_BTREE => {
                    if let Ok(recs) = self.extents(&i) {
                        let bl = u32::from(self.geo.block_log);
                        let mut covered = 0u64;
                        let mut unwritten = false;
                        for r in &recs {
                            let start = r.startoff.saturating_mul(1 << bl);
                            if start >= i.size {
                                continue;
                            }
                            let len = (r.blockcount << bl).min(i.size - start);
                            covered = covered.saturating_add(len);
                            unwritten |= r.unwritten;
                        }
                        if covered < i.size {
                            flags.push("sparse");
                        }
                        if unwritten {
                            flags.push("unwritten");
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Stat {
            id,
            kind: Some(kind),
            size: i.size,
            allocated: Some(i.nblocks.saturating_mul(u64::from(self.geo.block_size))),
            mode: Some(u32::from(i.mode)),
            uid: Some(i.uid),
            gid: Some(i.gid),
            nlink: Some(i.nlink),
            mtime: Some(i.mtime),
            atime: Some(i.atime),
            ctime: Some(i.ctime),
            crtime: i.crtime,
            flags,
            streams: Vec::new(),
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let i = self.dir_inode(dir)?;
        match i.format {
            FMT_LOCAL => {
                let data = i.local_data().map_err(|e| e.within(&self.layer, 0))?;
                parse_short_form(&self.geo, dir, data, i.fork_offset)
                    .map_err(|e| e.within(&self.layer, 0))
            }
            FMT_EXTENTS | FMT_BTREE => self.read_data_blocks(&i),
            f => Err(Error::corrupt(
                "XFS inode",
                i.offset + 5,
                format!("directory inode {dir} has data fork format {f}"),
            )
            .within(&self.layer, 0)),
        }
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let i = self.inode(id)?;
        let name = format!("{}/xfs-inode-{id}", self.layer);
        if FileKind::from_mode(u32::from(i.mode)) != FileKind::File {
            return Err(Error::Unsupported {
                layer: self.layer.clone(),
                what: format!("opening inode {id} (mode {:o}, not a regular file)", i.mode),
            });
        }
        match i.format {
            FMT_LOCAL => {
                let data = i.local_data().map_err(|e| e.within(&self.layer, 0))?;
                Ok(Arc::new(MemVolume::new(name, data.to_vec())))
            }
            FMT_EXTENTS | FMT_BTREE => {
                let recs = self.extents(&i)?;
                let list = self.file_extents(&i, &recs)?;
                list.build(self.vol.clone(), i.size, name)
                    .map(|f| f.into_ref())
                    .map_err(|e| e.within(&self.layer, 0))
            }
            f => Err(Error::corrupt(
                "XFS inode",
                i.offset + 5,
                format!("inode {id}: a regular file with data fork format {f}"),
            )
            .within(&self.layer, 0)),
        }
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        let i = self.inode(id)?;
        let bad = |at: u64, detail: String| {
            Error::corrupt("XFS inode", i.offset + at, format!("inode {id}: {detail}"))
                .within(&self.layer, 0)
        };
        if FileKind::from_mode(u32::from(i.mode)) != FileKind::Symlink {
            return Err(bad(2, format!("not a symbolic link (mode {:o})", i.mode)));
        }
        if i.size == 0 || i.size > symlink::MAX_LEN {
            return Err(bad(
                56,
                format!(
                    "symlink target of {} bytes (1..={})",
                    i.size,
                    symlink::MAX_LEN
                ),
            ));
        }
        match i.format {
            FMT_LOCAL => Ok(i
                .local_data()
                .map_err(|e| e.within(&self.layer, 0))?
                .to_vec()),
            FMT_EXTENTS | FMT_BTREE => {
                let recs = self.extents(&i)?;
                symlink::read_remote(
                    self.vol.as_ref(),
                    &self.geo,
                    id,
                    i.size,
                    &recs,
                    &self.problems,
                )
                .map_err(|e| e.within(&self.layer, 0))
            }
            f => Err(bad(5, format!("a symlink with data fork format {f}"))),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}
