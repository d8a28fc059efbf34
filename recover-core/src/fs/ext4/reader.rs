//! Reading files from ext2/3/4: the [`FileSystem`] over the superblock,
//! group descriptors, inodes, extent trees or block maps, and directory
//! blocks. metadata_csum checksums are verified on the way; a mismatch is
//! reported and the data still read.

use std::sync::Arc;

use super::dir::parse_block;
use super::features::*;
use super::geometry::{parse_desc, Geometry, BG_INODE_UNINIT};
use super::inode::{
    self, Inode, FL_APPEND, FL_COMPR, FL_ENCRYPT, FL_EXTENTS, FL_IMMUTABLE, FL_INDEX,
    FL_INLINE_DATA, I_BLOCK_LEN,
};
use super::map::{block_map, extent_map, MapCtx};
use super::{parse_superblock, SUPERBLOCK_OFFSET};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, ExtentList, FileId, FileKind, FileSystem, FileVolume, Stat};
use crate::io::{bytes_at, MemVolume, VolumeRef};
use crate::problem::Problem;

/// Incompatible features that change how files are found, which this
/// reader does not follow: compression (never merged into Linux) and
/// dirdata (Lustre's extra directory entry data).
/// The root directory's inode.
/// Features whose files this reader cannot read.
const INCOMPAT_UNREADABLE: u32 = INCOMPAT_COMPRESSION | INCOMPAT_DIRDATA;
const ROOT_INO: u32 = 2;

/// An ext2/3/4 filesystem opened for reading.
#[derive(Debug)]
pub struct Ext4 {
    vol: VolumeRef,
    geo: Geometry,
    flavour: &'static str,
    problems: ProblemLog,
}

impl Ext4 {
    /// Opens the filesystem on `vol`: checks the superblock and the layout
    /// it describes. Damage found later is reported per file.
    pub fn open(vol: VolumeRef) -> Result<Ext4> {
        let name = vol.describe();
        let at = SUPERBLOCK_OFFSET as u64;
        let raw = bytes_at(vol.as_ref(), at, 1024)?;
        let sb = match parse_superblock(&raw) {
            Some(Ok(sb)) => sb,
            Some(Err(e)) => return Err(e.within(&name, at)),
            None => {
                return Err(
                    Error::corrupt("ext superblock", at + 0x38, "no ext2/3/4 magic 0xef53")
                        .within(&name, 0),
                )
            }
        };
        if sb.incompat & INCOMPAT_JOURNAL_DEV != 0 {
            return Err(Error::Unsupported {
                layer: name,
                what: "reading files from an external ext3/4 journal device (it holds none)".into(),
            });
        }
        if sb.incompat & INCOMPAT_UNREADABLE != 0 {
            return Err(Error::Unsupported {
                layer: name,
                what: format!(
                    "ext4 incompatible features {:#x} (compression, dirdata)",
                    sb.incompat & INCOMPAT_UNREADABLE
                ),
            });
        }
        let geo = Geometry::new(&sb, &raw).map_err(|e| e.within(&name, at))?;
        let fs = Ext4 {
            flavour: match sb.flavour() {
                "ext2" => "ext2",
                "ext3" => "ext3",
                _ => "ext4",
            },
            vol,
            geo,
            problems: ProblemLog::default(),
        };
        if let Some((stored, computed)) = sb.checksum.filter(|(s, c)| s != c) {
            fs.problems.push(Problem::error(
                "ext superblock",
                Some(at + 0x3FC),
                format!("checksum {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        if sb.incompat & INCOMPAT_RECOVER != 0 {
            fs.problems.push(Problem::warning(
                "ext journal",
                Some(at + 0x60),
                "the journal holds changes not yet written in place (needs_recovery): files read as they were before those changes",
            ));
        }
        Ok(fs)
    }

    /// The layout.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The byte offset of inode `id` in the volume (for reports, and for
    /// an analyst who wants to look at it).
    pub fn inode_location(&self, id: FileId) -> Result<u64> {
        self.inode(id).map(|(_, at)| at)
    }

    fn corrupt(&self, structure: &'static str, offset: u64, detail: String) -> Error {
        Error::corrupt(structure, offset, detail).within(&self.vol.describe(), 0)
    }

    fn ino(&self, id: FileId) -> Result<u32> {
        u32::try_from(id)
            .ok()
            .filter(|&i| self.geo.inode_place(i).is_some())
            .ok_or_else(|| {
                // The bound is the superblock's s_inodes_count (offset 0
                // of the superblock): that is the field to blame.
                self.corrupt(
                    "ext4 superblock",
                    SUPERBLOCK_OFFSET as u64,
                    format!(
                        "inode {id} is outside the 1..={} inodes that s_inodes_count allows",
                        self.geo.inodes
                    ),
                )
            })
    }

    /// Inode `ino` and its byte offset.
    fn inode(&self, id: FileId) -> Result<(Inode, u64)> {
        let ino = self.ino(id)?;
        let (group, index) = self.geo.inode_place(ino).unwrap_or((0, 0)); // ok: ino() checked it
        let doff = self.geo.desc_offset(group).ok_or_else(|| {
            self.corrupt(
                "ext4 group descriptor",
                0,
                format!("group {group} has no descriptor"),
            )
        })?;
        let raw = bytes_at(self.vol.as_ref(), doff, self.geo.desc_size as usize)?;
        let desc = parse_desc(&self.geo, group, &raw).ok_or_else(|| {
            self.corrupt(
                "ext4 group descriptor",
                doff,
                format!("group {group} is truncated"),
            )
        })?;
        if let Some((stored, computed)) = desc.checksum.filter(|(s, c)| s != c) {
            self.problems.push(Problem::error(
                "ext4 group descriptor",
                Some(doff + 0x1E),
                format!("group {group}: checksum {stored:#06x}, computed {computed:#06x}"),
            ));
        }
        let csum_groups = self.geo.ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM) != 0;
        if csum_groups && desc.flags & BG_INODE_UNINIT != 0 {
            return Err(self.corrupt(
                "ext4 inode",
                doff + 0x12,
                format!("inode {ino} is in group {group}, whose inode table was never initialized (no file uses it)"),
            ));
        }
        let size = u64::from(self.geo.inode_size);
        let at = desc
            .inode_table
            .checked_mul(self.geo.block_size)
            .and_then(|t| t.checked_add(index * size))
            .filter(|&a| desc.inode_table < self.geo.blocks && a.checked_add(size).is_some())
            .ok_or_else(|| {
                self.corrupt(
                    "ext4 group descriptor",
                    doff + 0x08,
                    format!(
                        "group {group}: inode table at block {} is outside the filesystem",
                        desc.inode_table
                    ),
                )
            })?;
        let raw = bytes_at(self.vol.as_ref(), at, size as usize)?; // ok: inode size <= block size
        let inode = inode::parse(ino, &raw, self.geo.csum_seed)
            .ok_or_else(|| self.corrupt("ext4 inode", at, format!("inode {ino} is truncated")))?;
        if let Some((stored, computed)) = inode.checksum.filter(|(s, c)| s != c) {
            self.problems.push(Problem::error(
                "ext4 inode",
                Some(at + 0x7C),
                format!("inode {ino}: checksum {stored:#x}, computed {computed:#x}"),
            ));
        }
        if inode.mode == 0 {
            return Err(self.corrupt(
                "ext4 inode",
                at,
                format!("inode {ino} is not in use (a deleted file, or a damaged entry)"),
            ));
        }
        Ok((inode, at))
    }

    /// The file's bytes: inline data, or its extent tree or block map.
    fn contents(&self, inode: &Inode, at: u64) -> Result<VolumeRef> {
        let name = format!("{}:inode {}", self.vol.describe(), inode.ino);
        if inode.flags & FL_INLINE_DATA != 0 {
            return self.inline_data(inode, at, name);
        }
        self.extents(inode, at)?
            .build(self.vol.clone(), inode.size, name)
            .map(|f| Arc::new(f) as VolumeRef)
            .map_err(|e| e.within(&self.vol.describe(), 0))
    }

    /// The file's runs, from its extent tree or its block map.
    fn extents(&self, inode: &Inode, at: u64) -> Result<ExtentList> {
        let ctx = MapCtx {
            vol: self.vol.as_ref(),
            geo: &self.geo,
            problems: &self.problems,
            what: format!("inode {}", inode.ino),
            inode_at: at,
        };
        if inode.flags & FL_EXTENTS != 0 {
            let seed = self.geo.csum_seed.map(|s| inode.csum_seed(s));
            extent_map(&ctx, inode, seed)
        } else {
            block_map(&ctx, inode)
        }
    }

    /// Inline data: the first 60 bytes in i_block, the rest in the
    /// system.data attribute (inline_data.rst).
    fn inline_data(&self, inode: &Inode, at: u64, name: String) -> Result<VolumeRef> {
        let mut data = inode.i_block.to_vec();
        data.extend_from_slice(inode.inline_xattr(7, b"data").unwrap_or(&[]));
        let size = usize::try_from(inode.size).unwrap_or(usize::MAX);
        if size > data.len() {
            return Err(self.corrupt(
                "ext4 inline data",
                at + 0x28,
                format!(
                    "inode {}: size {} but {} bytes inline",
                    inode.ino,
                    inode.size,
                    data.len()
                ),
            ));
        }
        data.truncate(size);
        Ok(Arc::new(MemVolume::new(name, data)))
    }

    fn is_kind(&self, inode: &Inode, at: u64, want: FileKind) -> Result<()> {
        let kind = FileKind::from_mode(u32::from(inode.mode));
        if kind != want {
            return Err(self.corrupt(
                "ext4 inode",
                at,
                format!(
                    "inode {} is a {}, not a {}",
                    inode.ino,
                    kind.as_str(),
                    want.as_str()
                ),
            ));
        }
        Ok(())
    }
}

impl FileSystem for Ext4 {
    fn format(&self) -> &'static str {
        self.flavour
    }

    fn root(&self) -> FileId {
        u64::from(ROOT_INO)
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        let (inode, _) = self.inode(id)?;
        let kind = FileKind::from_mode(u32::from(inode.mode));
        let huge = self.geo.ro_compat & 0x8 != 0;
        let allocated = inode.allocated(self.geo.block_size, huge);
        let mut flags = Vec::new();
        for (bit, name) in [
            (FL_INLINE_DATA, "inline"),
            (FL_ENCRYPT, "encrypted"),
            (FL_COMPR, "compressed"),
            (FL_IMMUTABLE, "immutable"),
            (FL_APPEND, "append-only"),
            (FL_INDEX, "indexed"),
        ] {
            if inode.flags & bit != 0 {
                flags.push(name);
            }
        }
        if kind == FileKind::File && inode.flags & FL_INLINE_DATA == 0 && allocated < inode.size {
            flags.push("sparse");
        }
        Ok(Stat {
            id,
            kind: Some(kind),
            size: inode.size,
            allocated: Some(allocated),
            mode: Some(u32::from(inode.mode)),
            uid: Some(inode.uid),
            gid: Some(inode.gid),
            nlink: Some(u32::from(inode.links)),
            mtime: Some(inode.mtime),
            atime: Some(inode.atime),
            ctime: Some(inode.ctime),
            crtime: inode.crtime,
            flags,
            streams: Vec::new(),
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let (inode, at) = self.inode(dir)?;
        self.is_kind(&inode, at, FileKind::Dir)?;
        let filetype = self.geo.incompat & INCOMPAT_FILETYPE != 0;
        let mut raw = Vec::new();
        if inode.flags & FL_INLINE_DATA != 0 {
            // i_block: the parent's inode number, then entries; the
            // system.data attribute goes on with more entries.
            let first = parse_block(inode.i_block.get(4..).unwrap_or(&[]), filetype, None);
            let more = parse_block(
                inode.inline_xattr(7, b"data").unwrap_or(&[]),
                filetype,
                None,
            );
            for (p, off) in [(first, at + 0x28 + 4), (more, at)] {
                if let Some((pos, why)) = p.damage {
                    self.problems.push(Problem::error(
                        "ext4 inline directory",
                        Some(off + pos as u64),
                        format!("inode {}: {why}", inode.ino),
                    ));
                }
                raw.extend(p.entries);
            }
        } else {
            let seed = self.geo.csum_seed.map(|s| inode.csum_seed(s));
            let bs = self.geo.block_size;
            for (logical, physical) in stored_blocks(self, &inode, at)? {
                let len = bs.min(inode.size - logical);
                let block = bytes_at(self.vol.as_ref(), physical, len as usize)?; // ok: <= block size
                let p = parse_block(&block, filetype, seed);
                if let Some((stored, computed)) = p.checksum.filter(|(s, c)| s != c) {
                    self.problems.push(Problem::error(
                        "ext4 directory block",
                        Some(physical + len - 4),
                        format!(
                            "inode {}: checksum {stored:#010x}, computed {computed:#010x}",
                            inode.ino
                        ),
                    ));
                }
                if let Some((pos, why)) = p.damage {
                    self.problems.push(Problem::error(
                        "ext4 directory block",
                        Some(physical + pos as u64),
                        format!(
                            "inode {}: {why}; the rest of this block is skipped",
                            inode.ino
                        ),
                    ));
                }
                raw.extend(p.entries);
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        for e in raw {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            if e.inode > self.geo.inodes {
                self.problems.push(Problem::error(
                    "ext4 directory entry",
                    Some(at),
                    format!(
                        "inode {}: entry {:?} points at inode {}, past the last ({})",
                        inode.ino,
                        String::from_utf8_lossy(&e.name),
                        e.inode,
                        self.geo.inodes
                    ),
                ));
                continue;
            }
            out.push(DirEntry {
                name: e.name,
                id: u64::from(e.inode),
                kind: e.kind,
            });
        }
        Ok(out)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let (inode, at) = self.inode(id)?;
        let kind = FileKind::from_mode(u32::from(inode.mode));
        if matches!(kind, FileKind::Dir | FileKind::File) {
            self.contents(&inode, at)
        } else {
            // Device nodes, fifos and sockets have no contents; a symlink's
            // are its target.
            Err(self.corrupt(
                "ext4 inode",
                at,
                format!(
                    "inode {} is a {}, which has no contents to read",
                    inode.ino,
                    kind.as_str()
                ),
            ))
        }
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        let (inode, at) = self.inode(id)?;
        self.is_kind(&inode, at, FileKind::Symlink)?;
        let ea_blocks = if inode.file_acl != 0 {
            self.geo.block_size / 512
        } else {
            0
        };
        let fast = inode.flags & FL_INLINE_DATA == 0 && inode.blocks.saturating_sub(ea_blocks) == 0;
        if fast {
            // The target in i_block itself (ext4_inode_is_fast_symlink).
            let n = usize::try_from(inode.size).unwrap_or(usize::MAX);
            return Bytes(&inode.i_block)
                .get(0, n)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    self.corrupt(
                        "ext4 symlink",
                        at + 0x28,
                        format!(
                            "inode {}: a {}-byte target cannot be in the {I_BLOCK_LEN}-byte inode",
                            inode.ino, inode.size
                        ),
                    )
                });
        }
        if inode.size > self.geo.block_size {
            return Err(self.corrupt(
                "ext4 symlink",
                at + 0x04,
                format!(
                    "inode {}: a {}-byte target is longer than a block",
                    inode.ino, inode.size
                ),
            ));
        }
        let data = self.contents(&inode, at)?;
        Ok(bytes_at(data.as_ref(), 0, inode.size as usize)?.into_owned()) // ok: <= block size
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}

/// The blocks of a directory that are stored (holes hold no entries):
/// (offset in the directory, offset in the volume), in order.
fn stored_blocks(fs: &Ext4, inode: &Inode, at: u64) -> Result<Vec<(u64, u64)>> {
    let list = fs.extents(inode, at)?;
    let file: FileVolume = list.build(fs.vol.clone(), inode.size, String::new())?;
    let bs = fs.geo.block_size;
    let mut out = Vec::new();
    for e in file.extents() {
        let Some(p) = e.physical else { continue };
        let mut o = 0;
        while o < e.len && e.logical + o < inode.size {
            out.push((e.logical + o, p + o));
            o += bs;
        }
    }
    Ok(out)
}
