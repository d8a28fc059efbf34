//! The FUSE callbacks: a read-only filesystem over filesystems' files and
//! nodes' bytes. Every call that would change anything answers EROFS.
//!
//! Inode numbers: in the files view, a file's inode is its id in its
//! filesystem (the root swaps with 1, the number FUSE gives the root), so
//! hard links share one and `ls -i` shows the format's numbers. In the
//! tree view, the nodes' directories and `raw` files take small numbers,
//! and files are numbered from [`TABLE_BASE`] in the order the kernel
//! meets them (hard links still share one: a file is its filesystem and
//! id).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, KernelConfig, LockOwner, MountOption, OpenAccMode, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use recover_core::discover::{Node, NodeKind};
use recover_core::fs::{FileId, FileKind, FileSystemRef, Stat, Timestamp};
use recover_core::io::VolumeRef;

/// How long the kernel may keep names and attributes: nothing here ever
/// changes.
const TTL: Duration = Duration::from_secs(3600);
/// Tree view: files' inode numbers start here, above every node's.
const TABLE_BASE: u64 = 1 << 40;
/// Files view: the file whose id would map to inode 0 (which FUSE does
/// not allow) is numbered from here.
const SPARE_BASE: u64 = 1 << 63;
/// The name of a node's bytes in its directory (tree view).
pub const RAW: &str = "raw";
/// The directory of a filesystem's files beside `raw` (tree view).
pub const FILES: &str = "files";
/// Directories whose listing is kept for lookups; past this the cache is
/// emptied (a walk meets each directory once).
const DIR_CACHE: usize = 512;
/// Read errors printed before the rest are only counted.
const MAX_ERRORS: u64 = 20;

/// What the mount shows.
pub enum View {
    /// A filesystem's directory and everything below it.
    Files {
        fs: FileSystemRef,
        root: FileId,
        /// FSNODE:/dir, for messages.
        name: String,
    },
    /// A directory per node at the top (the whole tree).
    Tree(Vec<Node>),
    /// One node's directory as the mount's root.
    Node(Node),
}

/// A directory or file the tree view makes up.
enum Made {
    Dir(Arc<Vec<Ent>>),
    Raw(VolumeRef),
}

/// One directory entry as the kernel gets it.
#[derive(Clone)]
struct Ent {
    name: OsString,
    ino: u64,
    kind: FileType,
}

/// Filesystem files' inode numbers, both ways.
#[derive(Default)]
struct Table {
    by_key: HashMap<(usize, FileId), u64>,
    by_ino: HashMap<u64, (usize, FileId)>,
    next: u64,
}

/// The mounted filesystem.
pub struct Tree {
    /// Filesystems, by index.
    fss: Vec<FsEntry>,
    /// Files view: the root's id (inodes are ids). `None`: the tree view.
    by_id: Option<FileId>,
    /// Tree view: made-up entries, inode 1 first.
    made: Vec<Made>,
    table: Mutex<Table>,
    handles: Mutex<HashMap<u64, VolumeRef>>,
    next_fh: AtomicU64,
    dirs: Mutex<HashMap<u64, Arc<Vec<Ent>>>>,
    /// The sources' trees: their volumes say which bytes could not be read.
    roots: Vec<Node>,
    reported: Mutex<HashSet<(String, u64, u64)>>,
    errors: AtomicU64,
    /// Set when a read failed or met bytes that could not be read.
    damaged: Arc<AtomicBool>,
    uid: u32,
    gid: u32,
    started: SystemTime,
}

struct FsEntry {
    fs: FileSystemRef,
    /// Its node, for messages.
    name: String,
    /// How many of its problems have been printed.
    printed: Mutex<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Files view: inode of an id, the root swapped with 1.
fn swap(id: u64, root: u64) -> u64 {
    if id == root {
        1
    } else if id == 1 {
        root
    } else {
        id
    }
}

fn errno(e: &recover_core::Error) -> Errno {
    match e {
        recover_core::Error::Io { source, .. } => source
            .raw_os_error()
            .map(Errno::from_i32)
            .unwrap_or(Errno::EIO),
        _ => Errno::EIO,
    }
}

fn time(t: Option<Timestamp>) -> Option<SystemTime> {
    let t = t?;
    if t.secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(t.secs as u64, t.nanos)) // ok: secs >= 0
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(t.nanos)))
    }
}

fn file_type(k: FileKind) -> FileType {
    match k {
        FileKind::Dir => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
        FileKind::Fifo => FileType::NamedPipe,
        FileKind::Socket => FileType::Socket,
        FileKind::File | FileKind::Unknown => FileType::RegularFile,
    }
}

/// A name the kernel can take as one path component.
fn usable(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

impl Tree {
    /// The filesystem for `view`; `roots` are the sources' trees.
    pub fn new(view: View, roots: Vec<Node>, damaged: Arc<AtomicBool>) -> Tree {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut t = Tree {
            fss: Vec::new(),
            by_id: None,
            made: Vec::new(),
            table: Mutex::new(Table {
                next: TABLE_BASE,
                ..Default::default()
            }),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            dirs: Mutex::new(HashMap::new()),
            roots,
            reported: Mutex::new(HashSet::new()),
            errors: AtomicU64::new(0),
            damaged,
            uid,
            gid,
            started: SystemTime::now(),
        };
        match view {
            View::Files { fs, root, name } => {
                t.fss.push(FsEntry {
                    fs,
                    name,
                    printed: Mutex::new(0),
                });
                t.by_id = Some(root);
                lock(&t.table).next = SPARE_BASE;
            }
            View::Tree(nodes) => {
                t.made.push(Made::Dir(Arc::new(Vec::new())));
                let mut ents = Vec::new();
                for n in &nodes {
                    let ino = t.node_dir(n);
                    push_unique(&mut ents, last(&n.path), ino, FileType::Directory);
                }
                t.made[0] = Made::Dir(Arc::new(ents));
            }
            View::Node(n) => {
                t.node_dir(&n);
            }
        }
        t
    }

    /// Makes `n`'s directory (and its children's); returns its inode.
    fn node_dir(&mut self, n: &Node) -> u64 {
        self.made.push(Made::Dir(Arc::new(Vec::new())));
        let ino = self.made.len() as u64;
        let mut ents = Vec::new();
        if let Some(v) = &n.volume {
            self.made.push(Made::Raw(v.clone()));
            let raw = self.made.len() as u64;
            push_unique(&mut ents, RAW, raw, FileType::RegularFile);
            if n.kind == NodeKind::Filesystem {
                match recover_core::registry::open_filesystem(&n.format, v.clone()) {
                    None => {}
                    Some(Err(e)) => eprintln!("recover: {}: no {FILES}/: {e}", n.path),
                    Some(Ok(fs)) => {
                        let root = fs.root();
                        self.fss.push(FsEntry {
                            fs,
                            name: n.path.clone(),
                            printed: Mutex::new(0),
                        });
                        let f = self.ino_of(self.fss.len() - 1, root);
                        push_unique(&mut ents, FILES, f, FileType::Directory);
                    }
                }
            }
        }
        for c in &n.children {
            let d = self.node_dir(c);
            push_unique(&mut ents, last(&c.path), d, FileType::Directory);
        }
        self.made[ino as usize - 1] = Made::Dir(Arc::new(ents)); // ok: pushed above
        ino
    }

    /// The inode of file `id` of filesystem `fs`.
    fn ino_of(&self, fs: usize, id: FileId) -> u64 {
        if let Some(root) = self.by_id {
            let ino = swap(id, root);
            if ino != 0 && ino < SPARE_BASE {
                return ino;
            }
        }
        let mut t = lock(&self.table);
        if let Some(&i) = t.by_key.get(&(fs, id)) {
            return i;
        }
        let i = t.next;
        t.next += 1;
        t.by_key.insert((fs, id), i);
        t.by_ino.insert(i, (fs, id));
        i
    }

    /// What inode `ino` is: a made-up entry, or a filesystem's file.
    fn lookup_ino(&self, ino: u64) -> Option<Either<'_>> {
        if self.by_id.is_none() && (1..TABLE_BASE).contains(&ino) {
            return self.made.get(ino as usize - 1).map(Either::Made); // ok: ino >= 1
        }
        if let Some(root) = self.by_id {
            if ino < SPARE_BASE {
                return Some(Either::File(0, swap(ino, root)));
            }
        }
        lock(&self.table)
            .by_ino
            .get(&ino)
            .map(|&(f, id)| Either::File(f, id))
    }

    fn attr(&self, ino: u64) -> Result<FileAttr, Errno> {
        match self.lookup_ino(ino).ok_or(Errno::ENOENT)? {
            Either::Made(Made::Dir(ents)) => {
                Ok(self.made_attr(ino, FileType::Directory, 0, ents.len()))
            }
            Either::Made(Made::Raw(v)) => {
                Ok(self.made_attr(ino, FileType::RegularFile, v.len(), 0))
            }
            Either::File(f, id) => {
                let st = self.fss[f].fs.stat(id).map_err(|e| errno(&e))?;
                Ok(self.file_attr(ino, &st))
            }
        }
    }

    fn made_attr(&self, ino: u64, kind: FileType, size: u64, subdirs: usize) -> FileAttr {
        let dir = kind == FileType::Directory;
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind,
            perm: if dir { 0o555 } else { 0o444 },
            nlink: if dir { 2 + subdirs as u32 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn file_attr(&self, ino: u64, st: &Stat) -> FileAttr {
        let kind = file_type(st.kind());
        let dir = kind == FileType::Directory;
        let perm = match st.mode {
            Some(m) => (m & 0o7777) as u16, // ok: masked to 12 bits
            // The format keeps no mode (FAT, exFAT): what vfat shows with
            // the usual umask.
            None if dir => 0o755,
            None => 0o644,
        };
        let mtime = time(st.mtime).unwrap_or(UNIX_EPOCH);
        FileAttr {
            ino: INodeNo(ino),
            size: st.size,
            blocks: st.allocated.unwrap_or(st.size).div_ceil(512),
            atime: time(st.atime).unwrap_or(mtime),
            mtime,
            ctime: time(st.ctime).unwrap_or(mtime),
            crtime: time(st.crtime).unwrap_or(mtime),
            kind,
            perm,
            nlink: st.nlink.unwrap_or(if dir { 2 } else { 1 }),
            uid: st.uid.unwrap_or(self.uid),
            gid: st.gid.unwrap_or(self.gid),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The entries of directory `ino`, from the cache or read now.
    fn listing(&self, ino: u64) -> Result<Arc<Vec<Ent>>, Errno> {
        let (f, id) = match self.lookup_ino(ino).ok_or(Errno::ENOENT)? {
            Either::Made(Made::Dir(ents)) => return Ok(ents.clone()),
            Either::Made(Made::Raw(_)) => return Err(Errno::ENOTDIR),
            Either::File(f, id) => (f, id),
        };
        if let Some(l) = lock(&self.dirs).get(&ino) {
            return Ok(l.clone());
        }
        let fs = &self.fss[f].fs;
        let entries = fs.read_dir(id).map_err(|e| {
            self.error(&format!("{}: directory {id}: {e}", self.fss[f].name));
            errno(&e)
        })?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if !usable(&e.name) {
                continue;
            }
            let kind = match e.kind {
                FileKind::Unknown => fs
                    .stat(e.id)
                    .map(|s| file_type(s.kind()))
                    .unwrap_or(FileType::RegularFile),
                k => file_type(k),
            };
            out.push(Ent {
                name: OsStr::from_bytes(&e.name).to_os_string(),
                ino: self.ino_of(f, e.id),
                kind,
            });
        }
        self.report_problems(f);
        let out = Arc::new(out);
        let mut dirs = lock(&self.dirs);
        if dirs.len() >= DIR_CACHE {
            dirs.clear();
        }
        dirs.insert(ino, out.clone());
        Ok(out)
    }

    /// Prints a read error, the first few only.
    fn error(&self, msg: &str) {
        self.damaged.store(true, Ordering::Relaxed);
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        if n < MAX_ERRORS {
            eprintln!("recover: {msg}");
        } else if n == MAX_ERRORS {
            eprintln!("recover: more errors; not shown");
        }
    }

    /// Prints the problems filesystem `f` has noticed since the last call.
    fn report_problems(&self, f: usize) {
        let e = &self.fss[f];
        let all = e.fs.problems();
        let mut printed = lock(&e.printed);
        for p in all.iter().skip(*printed) {
            eprintln!("recover: {}: {p}", e.name);
        }
        *printed = all.len().max(*printed);
    }

    /// Prints each range of the sources that could not be read (and read
    /// as zeros) once.
    fn report_bad_ranges(&self) {
        for n in &self.roots {
            let Some(v) = &n.volume else { continue };
            let bad = v.bad_ranges();
            if bad.is_empty() {
                continue;
            }
            self.damaged.store(true, Ordering::Relaxed);
            let name = crate::report::source_name(n);
            let mut seen = lock(&self.reported);
            for b in bad {
                if seen.insert((name.clone(), b.start, b.end)) {
                    eprintln!(
                        "recover: {name}: {} bytes at {:#x}..{:#x} could not be read and read as zeros",
                        b.end - b.start,
                        b.start,
                        b.end
                    );
                }
            }
        }
    }
}

enum Either<'a> {
    Made(&'a Made),
    File(usize, FileId),
}

/// The last component of a node path.
fn last(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Adds an entry, its name made unique in the directory (`name-2`, ...).
fn push_unique(ents: &mut Vec<Ent>, name: &str, ino: u64, kind: FileType) {
    let mut n = name.to_string();
    let mut k = 2;
    while ents.iter().any(|e| e.name == *n) {
        n = format!("{name}-{k}");
        k += 1;
    }
    ents.push(Ent {
        name: n.into(),
        ino,
        kind,
    });
}

impl Filesystem for Tree {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = self
            .listing(parent.0)
            .and_then(|l| {
                l.iter()
                    .find(|e| e.name == name)
                    .map(|e| e.ino)
                    .ok_or(Errno::ENOENT)
            })
            .and_then(|ino| self.attr(ino));
        match found {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.lookup_ino(ino.0) {
            Some(Either::File(f, id)) => match self.fss[f].fs.read_link(id) {
                Ok(t) => reply.data(&t),
                Err(e) => reply.error(errno(&e)),
            },
            Some(_) => reply.error(Errno::EINVAL),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(Errno::EROFS);
        }
        let vol = match self.lookup_ino(ino.0) {
            Some(Either::Made(Made::Raw(v))) => v.clone(),
            Some(Either::Made(Made::Dir(_))) => return reply.error(Errno::EISDIR),
            Some(Either::File(f, id)) => match self.fss[f].fs.open(id) {
                Ok(v) => {
                    self.report_problems(f);
                    v
                }
                Err(e) => {
                    self.error(&format!("{}: file {id}: {e}", self.fss[f].name));
                    return reply.error(errno(&e));
                }
            },
            None => return reply.error(Errno::ENOENT),
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, vol);
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(vol) = lock(&self.handles).get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let len = vol.len();
        if offset >= len {
            return reply.data(&[]);
        }
        let n = u64::from(size).min(len - offset);
        if let Some(s) = vol.slice_at(offset, n) {
            return reply.data(s);
        }
        let mut buf = vec![0u8; n as usize]; // ok: n <= size, a u32
        match vol.read_at(offset, &mut buf) {
            Ok(()) => {
                self.report_bad_ranges();
                reply.data(&buf)
            }
            Err(e) => {
                self.error(&format!("{}: {e}", vol.describe()));
                reply.error(errno(&e))
            }
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        lock(&self.handles).remove(&fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.listing(ino.0) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let list = match self.listing(ino.0) {
            Ok(l) => l,
            Err(e) => return reply.error(e),
        };
        let dots = [
            (OsStr::new("."), ino.0, FileType::Directory),
            (OsStr::new(".."), ino.0, FileType::Directory),
        ];
        let all = dots
            .into_iter()
            .chain(list.iter().map(|e| (e.name.as_os_str(), e.ino, e.kind)));
        for (i, (name, ino, kind)) in all.enumerate().skip(offset as usize) {
            // The offset handed back is where the next call starts.
            if reply.add(INodeNo(ino), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        if mask.contains(AccessFlags::W_OK) {
            reply.error(Errno::EROFS)
        } else {
            reply.ok()
        }
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENODATA)
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0)
        } else {
            reply.data(&[])
        }
    }

    // Everything below would change the filesystem.

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS)
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS)
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS)
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS)
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS)
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS)
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS)
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS)
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS)
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS)
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS)
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EROFS)
    }
}

/// Mounts `tree` read-only at `mountpoint`, served by a thread of its
/// own; dropping the session (or `umount_and_join`) unmounts.
pub fn mount(tree: Tree, mountpoint: &Path) -> io::Result<BackgroundSession> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName("recover".into()),
        MountOption::Subtype("recover".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::NoAtime,
    ];
    config.n_threads = Some(2);
    fuser::spawn_mount(tree, mountpoint, &config).map_err(|e| {
        io::Error::other(format!(
            "{}: could not mount (is /dev/fuse there, and fusermount3 installed?): {e}",
            mountpoint.display()
        ))
    })
}
