//! Reading a VMFS5 or VMFS6 filesystem: the system files found from the
//! descriptor, file descriptors through `.fdc.sf`, file data through the
//! pointer array in every address mode, directories.
//!
//! Nothing is read ahead: a file's bytes are found block by block when
//! asked for, so a 42 TiB thin disk costs what is read of it, and a broken
//! pointer block fails only the reads that need it.

#![deny(clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::fs::filesystem::{
    DirEntry, FileId, FileKind, FileSystem, FileSystemRef, ProblemLog, Stat, Timestamp,
};
use crate::io::{bytes_at, check_range, Gather, Origins, Volume, VolumeRef};
use crate::problem::Problem;

use super::address::{self, Kind};
use super::descriptor::{self, Descriptor, Geometry};
use super::dir;
use super::fd::{self, types, Fd, Zla};
use super::resource::{self, ResourceMeta};

/// The root directory's descriptor address.
pub const ROOT: u32 = 0x4;
/// Pointer blocks reached through more pointer blocks than this are a
/// loop in damaged metadata.
const MAX_DEPTH: u32 = 6;
/// Blocks a hole query looks at before it answers.
const HOLE_STEPS: usize = 1 << 16;
/// Pointer blocks kept for sequential reads.
const PB_CACHE: usize = 32;
/// A directory larger than this is damage (VMFS6 allows 16001 hashed
/// names and their blocks; VMFS5 entries are 140 bytes).
const MAX_DIR: u64 = 1 << 30;

/// The system files: where each one's descriptor is, its name, and the
/// slot of [`Inner::res`] its resources fill (the address kind).
const FBB: u32 = 0x0040_0004;
const FDC: u32 = 0x0080_0004;
const PBC: u32 = 0x00C0_0004;
const SBC: u32 = 0x0100_0004;
const PB2: u32 = 0x0180_0004;
const JBC: u32 = 0x0200_0004;

/// The resource files by address kind, for messages.
const RES_NAMES: [&str; 8] = [
    "(none)", ".fbb.sf", ".sbc.sf", ".pbc.sf", ".fdc.sf", ".pb2.sf", ".jbc.sf", ".fbb.sf",
];

/// A resource file: its descriptor and layout.
#[derive(Debug)]
struct Res {
    fd: Fd,
    meta: ResourceMeta,
    name: &'static str,
}

#[derive(Debug)]
struct Inner {
    vol: VolumeRef,
    d: Descriptor,
    g: Geometry,
    /// Resource files by address kind (1 file blocks, 2 sub-blocks, 3
    /// pointer blocks, 4 descriptors, 5 pointer blocks 2, 6 journal, 7
    /// large file blocks).
    res: [Option<Res>; 8],
    /// Why a resource file could not be opened, by kind.
    missing: [Option<String>; 8],
    pbs: Mutex<Vec<(u64, Arc<Vec<u8>>)>>,
    problems: ProblemLog,
}

/// A VMFS filesystem, open for reading.
#[derive(Debug, Clone)]
pub struct Vmfs {
    inner: Arc<Inner>,
}

/// Opens the VMFS on `vol` (an LVM volume, or a dump of one).
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    Vmfs::open(vol).map(|f| Arc::new(f) as FileSystemRef)
}

fn slot(k: Kind) -> usize {
    match k {
        Kind::Null => 0,
        Kind::FileBlock => 1,
        Kind::SubBlock => 2,
        Kind::PointerBlock => 3,
        Kind::FileDescriptor => 4,
        Kind::PointerBlock2 => 5,
        Kind::JournalBlock => 6,
        Kind::LargeFileBlock => 7,
    }
}

/// A run of a file: `len` bytes at `at` on the volume, or zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    at: Option<u64>,
    len: u64,
}

impl Vmfs {
    /// Opens the filesystem: the descriptor, then each system file from
    /// where the descriptor says it is.
    pub fn open(vol: VolumeRef) -> Result<Self> {
        let layer = vol.describe();
        let raw = bytes_at(vol.as_ref(), descriptor::OFFSET, descriptor::LEN)?;
        let d = descriptor::parse(&raw)
            .ok_or_else(|| Error::corrupt("VMFS descriptor", descriptor::OFFSET, "no VMFS magic"))?
            .map_err(|e| e.within(&layer, 0))?;
        let g = d.geometry();
        let mut inner = Inner {
            vol,
            d,
            g,
            res: Default::default(),
            missing: Default::default(),
            pbs: Mutex::new(Vec::new()),
            problems: ProblemLog::default(),
        };
        // Each system file is read with the ones opened before it; the
        // order is vmfs3.ko's.
        let six = inner.d.vmfs6();
        let pb2_addr = if six { PB2 } else { inner.d.pb2_fd_addr };
        if inner.d.pb2_vol_addr != 0 {
            inner.open_res(5, pb2_addr, ".pb2.sf", 0);
        }
        inner.open_res(3, PBC, ".pbc.sf", 0);
        if six {
            inner.open_res(7, FBB, ".fbb.sf", 0);
            if let Some(child) = inner.res[7].as_ref().map(|r| r.meta.child_offset) {
                inner.open_res(1, FBB, ".fbb.sf", child);
            }
        } else {
            inner.open_res(1, FBB, ".fbb.sf", 0);
        }
        inner.open_res(4, FDC, ".fdc.sf", 0);
        inner.open_res(2, SBC, ".sbc.sf", 0);
        if six {
            inner.open_res(6, JBC, ".jbc.sf", 0);
        }
        if inner.res[4].is_none() {
            let why = inner.missing[4].take().unwrap_or_default();
            return Err(Error::corrupt(
                "VMFS .fdc.sf",
                0,
                format!("the file descriptors cannot be read: {why}"),
            )
            .within(&layer, 0));
        }
        Ok(Vmfs {
            inner: Arc::new(inner),
        })
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.inner.d
    }

    /// The descriptor of the file at `addr`.
    pub fn fd(&self, addr: FileId) -> Result<Fd> {
        self.inner.read_fd(addr)
    }

    /// Where byte `offset` of file `id` is on the volume: `None` for a
    /// hole, a block to be zeroed, or data kept in the descriptor.
    pub fn locate(&self, id: FileId, offset: u64) -> Result<Option<u64>> {
        let fd = self.inner.read_fd(id)?;
        if fd.zla == Some(Zla::Resident) || offset >= fd.size {
            return Ok(None);
        }
        Ok(self.inner.run_at(&fd, offset, 0)?.at)
    }
}

impl Inner {
    fn layer(&self) -> String {
        self.vol.describe()
    }

    /// Opens the resource file of kind slot `k` whose descriptor is at
    /// `addr`, its header at `meta_at` in it; a failure is kept to name
    /// when something needs it.
    fn open_res(&mut self, k: usize, addr: u32, name: &'static str, meta_at: u64) {
        match self.read_res(addr, name, meta_at) {
            Ok(r) => {
                if let Some(s) = self.res.get_mut(k) {
                    *s = Some(r);
                }
            }
            Err(e) => {
                self.problems.push(Problem::from_error(
                    crate::problem::Severity::Error,
                    name,
                    &e,
                ));
                if let Some(s) = self.missing.get_mut(k) {
                    *s = Some(e.to_string());
                }
            }
        }
    }

    fn read_res(&self, addr: u32, name: &'static str, meta_at: u64) -> Result<Res> {
        let (_, resource) = address::fd_parts(u64::from(addr));
        let at = self.d.system_fd_offset(addr, resource).ok_or_else(|| {
            Error::corrupt(
                "VMFS descriptor",
                descriptor::OFFSET,
                format!("{name}'s place overflows"),
            )
        })?;
        let layer = self.layer();
        let raw = bytes_at(self.vol.as_ref(), at, self.g.fd_size)?;
        let fd = fd::parse(&raw, addr, &self.g).map_err(|e| e.within(&layer, at))?;
        if fd.kind != types::SYSFILE {
            return Err(Error::corrupt(
                "VMFS file descriptor",
                at,
                format!(
                    "{name}'s descriptor has type {}, not a system file's",
                    fd.kind
                ),
            )
            .within(&layer, 0));
        }
        let mut head = [0u8; resource::LEN];
        self.read_file(&fd, meta_at, &mut head, 1)?;
        let meta = resource::parse(&head, name, self.g.vmfs6)
            .map_err(|e| e.within(&format!("{layer}:/{name}"), meta_at))?;
        Ok(Res { fd, meta, name })
    }

    fn res(&self, k: usize) -> Result<&Res> {
        match self.res.get(k).and_then(Option::as_ref) {
            Some(r) => Ok(r),
            None => {
                let why = self
                    .missing
                    .get(k)
                    .and_then(Option::clone)
                    .unwrap_or_else(|| "not present".into());
                let name = RES_NAMES.get(k).copied().unwrap_or("resource file");
                Err(Error::corrupt(
                    "VMFS resource file",
                    0,
                    format!("{name}, which this address needs, could not be opened: {why}"),
                ))
            }
        }
    }

    /// The volume offset of `len` bytes of resource `(cluster, resource)`
    /// of resource file `k`, when they lie in one run.
    fn resource_at(&self, k: usize, c: u64, r: u64, depth: u32) -> Result<u64> {
        let res = self.res(k)?;
        let off = res
            .meta
            .offset(self.g.cluster_header, c, r)
            .ok_or_else(|| Error::corrupt(res.name, 0, format!("resource {c}/{r} overflows")))?;
        let run = self.run_at(&res.fd, off, depth + 1)?;
        match run.at {
            Some(at) if run.len >= res.meta.resource_size.min(self.g.sub_block) => Ok(at),
            _ => Err(Error::corrupt(
                res.name,
                off,
                format!("resource {c}/{r} is not in one allocated run"),
            )),
        }
    }

    /// Reads `buf.len()` bytes of the file described by `fd` at `offset`.
    fn read_file(&self, fd: &Fd, offset: u64, buf: &mut [u8], depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(
                "VMFS pointer block",
                0,
                "pointer blocks nest too deep (a loop)",
            ));
        }
        if fd.zla == Some(Zla::Resident) {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let src = fd
                .data
                .get(start..start.saturating_add(buf.len()))
                .ok_or_else(|| {
                    Error::corrupt(
                        "VMFS file descriptor",
                        self.g.data_at as u64,
                        format!(
                            "resident data of {} bytes is asked for bytes {offset:#x}+{}",
                            fd.data.len(),
                            buf.len()
                        ),
                    )
                })?;
            buf.copy_from_slice(src);
            return Ok(());
        }
        let mut pos = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let run = self.run_at(fd, pos, depth)?;
            let n = usize::try_from(run.len)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            let (now, later) = std::mem::take(&mut rest).split_at_mut(n);
            match run.at {
                Some(at) => self.vol.read_at(at, now)?,
                None => now.fill(0),
            }
            rest = later;
            pos += n as u64;
        }
        Ok(())
    }

    /// Where file offset `off` of `fd` is, and how far from there the run
    /// goes (to the end of its block).
    fn run_at(&self, fd: &Fd, off: u64, depth: u32) -> Result<Run> {
        let g = &self.g;
        let shift = fd.block_shift;
        let bn = off >> shift;
        let block_end = (u128::from(bn) + 1) << shift;
        let to_end = u64::try_from(block_end - u128::from(off)).unwrap_or(u64::MAX);
        let (a, span) = self.block_addr(fd, bn, depth)?;
        if a == 0 {
            // A hole: to the end of what the missing pointer would cover.
            let end = (u128::from(bn - bn % span) + u128::from(span)) << shift;
            let len = u64::try_from(end - u128::from(off)).unwrap_or(u64::MAX);
            return Ok(Run {
                at: None,
                len: len.max(to_end),
            });
        }
        let bad = |what: String| {
            Error::corrupt(
                "VMFS file block address",
                off,
                format!("descriptor {:#x}: {what}", fd.addr),
            )
        };
        // (volume offset of the block, its size, offset in it, zeroed)
        let (base, size, within, zero) = match (g.vmfs6, address::kind(a)) {
            (false, Kind::FileBlock) => {
                let (b, tbz) = address::fb5(a);
                (
                    b.checked_mul(g.file_block),
                    g.file_block,
                    off & (fd.block_size - 1),
                    tbz,
                )
            }
            (true, Kind::FileBlock) => {
                let (c, r) = address::sfb(a);
                let per = self
                    .res
                    .get(1)
                    .and_then(Option::as_ref)
                    .map_or(g.sfb_per_cluster, |r| r.meta.per_cluster);
                let b = c.checked_mul(per).and_then(|x| x.checked_add(r));
                (
                    b.and_then(|b| b.checked_mul(g.file_block)),
                    g.file_block,
                    off & (g.file_block - 1),
                    address::tbz6(a),
                )
            }
            (true, Kind::LargeFileBlock) => {
                let size = 1u64 << g.lfb_shift;
                (
                    address::lfb(a).checked_mul(size),
                    size,
                    off & (size - 1),
                    address::tbz6(a),
                )
            }
            (six, Kind::SubBlock) => {
                let (c, r) = if six {
                    address::res6(a)
                } else {
                    address::res5(a, g.dense)
                };
                let within = if six {
                    off & (g.sub_block - 1)
                } else {
                    off & (fd.block_size - 1)
                };
                (
                    Some(self.resource_at(2, c, r, depth)?),
                    g.sub_block,
                    within,
                    false,
                )
            }
            (_, k) => return Err(bad(format!("address {a:#x} ({k:?}) does not address data"))),
        };
        let base = base.ok_or_else(|| bad(format!("address {a:#x} overflows")))?;
        if within >= size {
            return Err(bad(format!(
                "offset {within:#x} lies past its {size}-byte block"
            )));
        }
        let len = to_end.min(size - within);
        if zero {
            return Ok(Run { at: None, len });
        }
        let at = base + within;
        if at.checked_add(len).is_none_or(|e| e > self.vol.len()) {
            return Err(bad(format!(
                "block at volume offset {base:#x} lies past the volume's end ({:#x})",
                self.vol.len()
            )));
        }
        Ok(Run { at: Some(at), len })
    }

    /// The address of block `bn` of `fd` (0 for a hole), and for a hole
    /// how many blocks, aligned, the missing pointer stands for.
    fn block_addr(&self, fd: &Fd, bn: u64, depth: u32) -> Result<(u64, u64)> {
        let g = &self.g;
        let mask = (1u64 << g.ptr_shift) - 1;
        let direct = |i: u64| {
            usize::try_from(i)
                .ok()
                .and_then(|i| fd.pointers.get(i))
                .copied()
                .ok_or_else(|| {
                    Error::corrupt(
                        "VMFS file descriptor",
                        g.addrs_at as u64,
                        format!(
                            "descriptor {:#x}: block {bn} lies past its {} pointers (length {})",
                            fd.addr,
                            fd.pointers.len(),
                            fd.size
                        ),
                    )
                })
        };
        let per = 1u64 << g.ptr_shift;
        let one = |a: u64| (a, 1);
        match fd.zla {
            None => Ok((0, u64::MAX >> 1)),
            Some(Zla::Direct) => direct(bn).map(one),
            Some(Zla::Indirect) => {
                let pb = direct(bn >> g.ptr_shift)?;
                if pb == 0 {
                    return Ok((0, per));
                }
                self.pointer(pb, bn & mask, depth).map(one)
            }
            Some(Zla::DoubleIndirect) => {
                let pb = direct(bn >> (2 * g.ptr_shift))?;
                if pb == 0 {
                    return Ok((0, per * per));
                }
                let pb2 = self.pointer(pb, (bn >> g.ptr_shift) & mask, depth)?;
                if pb2 == 0 {
                    return Ok((0, per));
                }
                self.pointer(pb2, bn & mask, depth).map(one)
            }
            Some(Zla::Resident) => Err(Error::corrupt(
                "VMFS file descriptor",
                0,
                "resident data has no blocks",
            )),
        }
    }

    /// Entry `i` of the pointer block at `pb` (0 when `pb` is a hole).
    fn pointer(&self, pb: u64, i: u64, depth: u32) -> Result<u64> {
        if pb == 0 {
            return Ok(0);
        }
        let block = self.pointer_block(pb, depth + 1)?;
        let w = self.g.addr_bytes;
        let at = usize::try_from(i).unwrap_or(usize::MAX).saturating_mul(w);
        let mut v = [0u8; 8];
        let src = block.get(at..at.saturating_add(w)).ok_or_else(|| {
            Error::corrupt(
                "VMFS pointer block",
                0,
                format!("pointer block {pb:#x} has no entry {i}"),
            )
        })?;
        v.get_mut(..w).unwrap_or(&mut []).copy_from_slice(src);
        Ok(u64::from_le_bytes(v))
    }

    /// The pointer block at address `pb`, from the cache or read.
    fn pointer_block(&self, pb: u64, depth: u32) -> Result<Arc<Vec<u8>>> {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(
                "VMFS pointer block",
                0,
                "pointer blocks nest too deep (a loop)",
            ));
        }
        {
            let cache = self.pbs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, b)) = cache.iter().find(|(a, _)| *a == pb) {
                return Ok(b.clone());
            }
        }
        let g = &self.g;
        let bytes = (1usize << g.ptr_shift) * g.addr_bytes;
        let k = address::kind(pb);
        let (c, r) = match (g.vmfs6, k) {
            (true, Kind::SubBlock | Kind::PointerBlock | Kind::PointerBlock2) => address::res6(pb),
            (false, Kind::SubBlock) => address::res5(pb, g.dense),
            (false, Kind::PointerBlock | Kind::PointerBlock2) => address::res5(pb, false),
            (true, Kind::FileBlock) => address::sfb(pb),
            _ => {
                return Err(Error::corrupt(
                    "VMFS pointer block",
                    0,
                    format!("address {pb:#x} ({k:?}) is not a pointer block's"),
                ))
            }
        };
        let mut buf;
        if k == Kind::FileBlock {
            // VMFS6 keeps some pointer blocks in small file blocks.
            let per = self
                .res(1)
                .map_or(g.sfb_per_cluster, |r| r.meta.per_cluster);
            let at = c
                .checked_mul(per)
                .and_then(|b| b.checked_add(r))
                .and_then(|b| b.checked_mul(g.file_block))
                .ok_or_else(|| {
                    Error::corrupt(
                        "VMFS pointer block",
                        0,
                        format!("address {pb:#x} overflows"),
                    )
                })?;
            buf = vec![0u8; bytes];
            check_range(self.vol.as_ref(), at, bytes as u64)?;
            self.vol.read_at(at, &mut buf)?;
        } else {
            let res = self.res(slot(k))?;
            let len = usize::try_from(res.meta.resource_size)
                .unwrap_or(usize::MAX)
                .min(bytes);
            if len == 0 {
                return Err(Error::corrupt(
                    res.name,
                    0x0c,
                    "resources of 0 bytes hold no pointer block",
                ));
            }
            let off = res.meta.offset(g.cluster_header, c, r).ok_or_else(|| {
                Error::corrupt(res.name, 0, format!("pointer block {pb:#x} overflows"))
            })?;
            if off.checked_add(len as u64).is_none_or(|e| e > res.fd.size) {
                return Err(Error::corrupt(
                    res.name,
                    off,
                    format!(
                        "pointer block {pb:#x} lies past the end of {} ({:#x})",
                        res.name, res.fd.size
                    ),
                ));
            }
            buf = vec![0u8; len];
            self.read_file(&res.fd, off, &mut buf, depth)?;
        }
        let b = Arc::new(buf);
        let mut cache = self.pbs.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= PB_CACHE {
            cache.remove(0);
        }
        cache.push((pb, b.clone()));
        Ok(b)
    }

    /// The descriptor at address `id`.
    fn read_fd(&self, id: FileId) -> Result<Fd> {
        let addr = u32::try_from(id)
            .ok()
            .filter(|&a| address::kind(u64::from(a)) == Kind::FileDescriptor)
            .ok_or_else(|| Error::NotFound {
                path: format!("VMFS descriptor {id:#x}"),
            })?;
        let res = self.res(4)?;
        let (c, r) = address::fd_parts(u64::from(addr));
        let off = res
            .meta
            .offset(self.g.cluster_header, c, r)
            .filter(|o| {
                o.checked_add(self.g.fd_size as u64)
                    .is_some_and(|e| e <= res.fd.size)
            })
            .ok_or_else(|| {
                Error::corrupt(
                    ".fdc.sf",
                    0,
                    format!("descriptor {addr:#x} lies past the end of .fdc.sf"),
                )
            })?;
        let mut raw = vec![0u8; self.g.fd_size];
        self.read_file(&res.fd, off, &mut raw, 1)?;
        fd::parse(&raw, addr, &self.g)
            .map_err(|e| e.within(&format!("{}:/.fdc.sf", self.layer()), off))
    }

    fn is_dir(fd: &Fd) -> bool {
        fd::unix_mode(fd) & 0o170000 == 0o040000
    }

    fn read_dir(&self, fd: &Fd) -> Result<Vec<DirEntry>> {
        if fd.size > MAX_DIR {
            return Err(Error::corrupt(
                "VMFS directory",
                0,
                format!(
                    "descriptor {:#x}: {} bytes is no directory's size",
                    fd.addr, fd.size
                ),
            ));
        }
        let raw = if self.g.vmfs6 {
            self.entries6(fd)?
        } else {
            self.entries5(fd)?
        };
        Ok(raw
            .into_iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| DirEntry {
                kind: match e.kind {
                    types::DIRECTORY => FileKind::Dir,
                    types::REGFILE | types::RDM => FileKind::File,
                    types::SYMLINK => FileKind::Symlink,
                    _ => FileKind::Unknown,
                },
                name: e.name,
                id: u64::from(e.addr),
            })
            .collect())
    }

    fn entries5(&self, fd: &Fd) -> Result<Vec<dir::RawEntry>> {
        let chunk = (dir::ENTRY5 * 1024) as u64;
        let whole = fd.size - fd.size % dir::ENTRY5 as u64;
        let mut out = Vec::new();
        let mut pos = 0u64;
        while pos < whole {
            let n = chunk.min(whole - pos) as usize; // ok: <= chunk
            let mut buf = vec![0u8; n];
            self.read_file(fd, pos, &mut buf, 0)?;
            out.extend(dir::entries5(&buf));
            pos += n as u64;
        }
        Ok(out)
    }

    fn entries6(&self, fd: &Fd) -> Result<Vec<dir::RawEntry>> {
        let mut head = [0u8; dir::HEADER6_LEN];
        if fd.size < dir::HEADER6_LEN as u64 {
            return Err(Error::corrupt(
                "VMFS6 directory header",
                0,
                format!("descriptor {:#x}: {} bytes", fd.addr, fd.size),
            ));
        }
        self.read_file(fd, 0, &mut head, 0)?;
        let h =
            dir::header6(&head).map_err(|e| e.within(&format!("directory {:#x}", fd.addr), 0))?;
        let bs = self.d.md_alignment as usize; // ok: checked <= 1 MiB
        let per_map = dir::per_map(bs) as u64;
        let block = |n: u64| -> Result<Option<Vec<u8>>> {
            let at = n
                .checked_mul(bs as u64)
                .and_then(|o| o.checked_add(dir::HEADER6_BLOCK))
                .filter(|o| o.checked_add(bs as u64).is_some_and(|e| e <= fd.size));
            let Some(at) = at else { return Ok(None) };
            let mut b = vec![0u8; bs];
            self.read_file(fd, at, &mut b, 0)?;
            Ok(Some(b))
        };
        // "." and ".." are counted in the header's entries.
        let wanted = h.entries.saturating_sub(2) as usize;
        let blocks_in_file = fd.size.saturating_sub(dir::HEADER6_BLOCK) / bs as u64;
        let mut out = Vec::new();
        for (k, &m) in h.map_blocks.iter().enumerate() {
            let Some(map) = block(u64::from(m))? else {
                continue;
            };
            let types: Vec<u8> = dir::map_types(&map).collect();
            for (i, t) in types.into_iter().enumerate() {
                let n = k as u64 * per_map + i as u64;
                if n >= blocks_in_file || out.len() >= wanted {
                    break;
                }
                if t != dir::DIRENT_BLOCK {
                    continue;
                }
                if let Some(b) = block(n)? {
                    out.extend(dir::entries6(&b));
                }
            }
        }
        Ok(out)
    }
}

fn time(t: u32) -> Option<Timestamp> {
    (t != 0).then(|| Timestamp::new(i64::from(t), 0))
}

/// What a raw device mapping points at: the SCSI disk's vendor, model and
/// id (`FS3_RawDiskMap`: type 0, len 1, lun 2, vendor 6, model 0x0e,
/// revision 0x1e, id 0x22).
fn rdm_target(fd: &Fd) -> String {
    let b = crate::bytes::Bytes(&fd.data);
    let text = |at: usize, n: usize| b.get(at, n).and_then(crate::bytes::padded_str);
    let len = usize::from(b.u8(1).unwrap_or(0)).min(44);
    let parts: Vec<String> = [text(6, 8), text(0x0e, 16), text(0x22, len)]
        .into_iter()
        .flatten()
        .collect();
    format!("raw device mapping to SCSI disk {}", parts.join(" "))
}

impl FileSystem for Vmfs {
    fn format(&self) -> &'static str {
        self.inner.d.format()
    }

    fn root(&self) -> FileId {
        u64::from(ROOT)
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        let fd = self.inner.read_fd(id)?;
        let mode = fd::unix_mode(&fd);
        let mut flags = Vec::new();
        match fd.kind {
            types::SYSFILE => flags.push("system"),
            types::RDM => flags.push("rdm"),
            _ => {}
        }
        if fd.zla == Some(Zla::Resident) {
            flags.push("resident");
        }
        Ok(Stat {
            id,
            kind: Some(FileKind::from_mode(mode)),
            size: fd.size,
            allocated: (fd.zla != Some(Zla::Resident))
                .then(|| fd.blocks_allocated.saturating_mul(fd.block_size)),
            mode: Some(mode),
            uid: Some(fd.uid),
            gid: Some(fd.gid),
            nlink: Some(fd.links),
            mtime: time(fd.mtime),
            atime: time(fd.atime),
            ctime: time(fd.ctime),
            crtime: None,
            flags,
            streams: Vec::new(),
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let fd = self.inner.read_fd(dir)?;
        if !Inner::is_dir(&fd) {
            return Err(Error::corrupt(
                "VMFS directory",
                0,
                format!("descriptor {dir:#x} is not a directory"),
            ));
        }
        self.inner.read_dir(&fd)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let fd = self.inner.read_fd(id)?;
        if fd.kind == types::RDM {
            return Err(Error::Unsupported {
                layer: self.inner.layer(),
                what: format!(
                    "reading descriptor {id:#x}, a {}: its data is on that disk,",
                    rdm_target(&fd)
                ),
            });
        }
        if fd.zla == Some(Zla::Resident) && fd.size > fd.data.len() as u64 {
            return Err(Error::corrupt(
                "VMFS file descriptor",
                self.inner.g.data_at as u64,
                format!(
                    "descriptor {id:#x}: {} resident bytes in a {}-byte area",
                    fd.size,
                    fd.data.len()
                ),
            ));
        }
        Ok(Arc::new(VmfsFile {
            name: format!("{}:vmfs file {id:#x}", self.inner.layer()),
            inner: self.inner.clone(),
            fd,
        }))
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        let fd = self.inner.read_fd(id)?;
        if fd.kind == types::RDM {
            return Ok(rdm_target(&fd).into_bytes());
        }
        if fd.kind != types::SYMLINK {
            return Err(Error::corrupt(
                "VMFS symlink",
                0,
                format!("descriptor {id:#x} is not a symlink"),
            ));
        }
        let n = usize::try_from(fd.size.min(4096)).unwrap_or(4096);
        let mut buf = vec![0u8; n];
        self.inner.read_file(&fd, 0, &mut buf, 0)?;
        if let Some(end) = buf.iter().position(|&c| c == 0) {
            buf.truncate(end);
        }
        Ok(buf)
    }

    fn problems(&self) -> Vec<Problem> {
        self.inner.problems.all()
    }
}

/// A file's contents.
#[derive(Debug)]
struct VmfsFile {
    inner: Arc<Inner>,
    fd: Fd,
    name: String,
}

impl VmfsFile {
    /// Where `len` bytes at `offset` start on the volume, and how many of
    /// them lie there in one run of stored blocks (files are mostly
    /// allocated in runs of neighbouring blocks).
    fn contiguous(&self, offset: u64, len: u64) -> Option<(u64, u64)> {
        if self.fd.zla == Some(Zla::Resident) || offset.checked_add(len)? > self.fd.size {
            return None;
        }
        let mut pos = offset;
        let mut start = None;
        let mut next = 0;
        while pos < offset + len {
            let run = self.inner.run_at(&self.fd, pos, 0).ok()?;
            let Some(at) = run.at else { break };
            match start {
                None => start = Some(at),
                Some(_) if at != next => break,
                Some(_) => {}
            }
            let n = run.len.min(offset + len - pos);
            next = at + n;
            pos += n;
        }
        Some((start?, pos - offset))
    }
}

impl Volume for VmfsFile {
    fn len(&self) -> u64 {
        self.fd.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        self.inner
            .read_file(&self.fd, offset, buf, 0)
            .map_err(|e| e.within(&self.name, 0))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let (start, n) = self.contiguous(offset, len)?;
        (n == len)
            .then(|| self.inner.vol.slice_at(start, len))
            .flatten()
    }

    fn prefetch(&self, offset: u64, len: u64) {
        if let Some((start, n)) = self.contiguous(offset, len) {
            self.inner.vol.prefetch(start, n);
        }
    }

    fn hole_at(&self, offset: u64) -> u64 {
        if self.fd.zla == Some(Zla::Resident) {
            return 0;
        }
        let mut pos = offset;
        // A bounded walk: a thick file lazily zeroed is a hole a block at a
        // time; the caller asks again where this stops.
        for _ in 0..HOLE_STEPS {
            if pos >= self.fd.size {
                break;
            }
            match self.inner.run_at(&self.fd, pos, 0) {
                Ok(Run { at: None, len }) => pos = pos.saturating_add(len),
                _ => break,
            }
        }
        pos.min(self.fd.size).saturating_sub(offset)
    }

    /// Stored blocks carry the datastore's origins; resident data came
    /// with the descriptor. A block whose address cannot be read ends the
    /// answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.fd.size);
        let mut g = Gather::new();
        if self.fd.zla == Some(Zla::Resident) {
            return g.finish();
        }
        let mut pos = offset;
        while pos < end {
            let Ok(run) = self.inner.run_at(&self.fd, pos, 0) else {
                break;
            };
            let n = run.len.min(end - pos).max(1);
            if let Some(at) = run.at {
                g.map(self.inner.vol.as_ref(), at, pos, n);
            }
            pos = pos.saturating_add(n);
        }
        g.finish()
    }
}
