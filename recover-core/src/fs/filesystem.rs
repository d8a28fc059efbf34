//! The read-only filesystem interface every reader (ext2/3/4, XFS, NTFS,
//! FAT, exFAT) implements, and the walks built on it: path lookup and
//! recursive listing with loop protection.
//!
//! Files are named by a [`FileId`] that each format picks (an inode number,
//! an MFT record number, the byte offset of a FAT directory entry). A
//! file's contents open as a [`Volume`], so a VM image inside a filesystem
//! nests like any other volume.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::io::VolumeRef;
use crate::problem::Problem;

/// A file's identity within its filesystem, as the format numbers it.
pub type FileId = u64;

/// How deep a directory walk goes before it stops: deeper trees are
/// either damage (a loop the visited set did not catch because ids
/// differ) or nothing a user keeps.
pub const MAX_DEPTH: usize = 256;

/// What a directory entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// Not known from the entry alone (stat tells).
    Unknown,
}

impl FileKind {
    /// The contract's name: file, dir, symlink, chardev, blockdev, fifo, socket, unknown.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
            FileKind::CharDevice => "chardev",
            FileKind::BlockDevice => "blockdev",
            FileKind::Fifo => "fifo",
            FileKind::Socket => "socket",
            FileKind::Unknown => "unknown",
        }
    }

    /// The kind from the S_IFMT bits of a Unix mode.
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            _ => FileKind::Unknown,
        }
    }

    /// The letter `ls -l` shows first.
    pub fn ls_char(self) -> char {
        match self {
            FileKind::File => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::CharDevice => 'c',
            FileKind::BlockDevice => 'b',
            FileKind::Fifo => 'p',
            FileKind::Socket => 's',
            FileKind::Unknown => '?',
        }
    }
}

/// A point in time: seconds since the Unix epoch (UTC) and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds, 0..1e9.
    pub nanos: u32,
}

impl Timestamp {
    /// From seconds and nanoseconds; nanoseconds past a second are clamped
    /// (damage must not make an invalid time).
    pub fn new(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs,
            nanos: nanos.min(999_999_999),
        }
    }

    /// ISO 8601 in UTC, to the second, with nanoseconds when there are any:
    /// `2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.123456789Z`.
    pub fn iso8601(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
        let frac = if self.nanos == 0 {
            String::new()
        } else {
            format!(".{:09}", self.nanos)
        };
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
    }
}

/// Year, month, day of a day count from 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's days_from_civil inverse).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // ok: 1..=31
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // ok: 1..=12
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What stat says about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// Its id.
    pub id: FileId,
    /// What it is.
    pub kind: Option<FileKind>,
    /// Length of its contents (of the link target, for a symlink).
    pub size: u64,
    /// Bytes allocated on disk, where the format says.
    pub allocated: Option<u64>,
    /// Unix mode with the S_IFMT bits, where the format has one.
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Hard links.
    pub nlink: Option<u32>,
    /// Last modification.
    pub mtime: Option<Timestamp>,
    /// Last access.
    pub atime: Option<Timestamp>,
    /// Last status change (ext4, XFS), or MFT record change (NTFS).
    pub ctime: Option<Timestamp>,
    /// Creation.
    pub crtime: Option<Timestamp>,
    /// Format-specific flags worth showing: "inline", "sparse",
    /// "compressed", "encrypted", "hidden", "system", ...
    pub flags: Vec<&'static str>,
    /// Named data streams beside the main one (NTFS alternate data
    /// streams): name and length.
    pub streams: Vec<(String, u64)>,
}

impl Stat {
    /// The kind, unknown when the format did not say.
    pub fn kind(&self) -> FileKind {
        self.kind.unwrap_or(FileKind::Unknown)
    }
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name as stored: bytes for Unix filesystems, UTF-8 for formats
    /// that store UTF-16 (NTFS, FAT long names, exFAT).
    pub name: Vec<u8>,
    /// The file it names.
    pub id: FileId,
    /// Its kind, when the entry says (ext4's file type byte, FAT attributes).
    pub kind: FileKind,
}

impl DirEntry {
    /// The name as text, invalid UTF-8 replaced.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A mounted-for-reading filesystem. Methods take `&self` so one
/// filesystem serves many threads; implementations never write.
pub trait FileSystem: Send + Sync {
    /// Format name, as identification gives it (ext4, xfs, ntfs, fat32, ...).
    fn format(&self) -> &'static str;

    /// The root directory.
    fn root(&self) -> FileId;

    /// What the file is.
    fn stat(&self, id: FileId) -> Result<Stat>;

    /// The entries of a directory, without "." and "..", in on-disk order.
    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>>;

    /// The contents of a regular file as a volume: holes and unwritten
    /// extents read as zeros.
    fn open(&self, id: FileId) -> Result<VolumeRef>;

    /// A symbolic link's target, as stored.
    fn read_link(&self, id: FileId) -> Result<Vec<u8>>;

    /// A named data stream (an NTFS alternate data stream).
    fn open_stream(&self, id: FileId, name: &str) -> Result<VolumeRef> {
        let _ = id;
        Err(Error::Unsupported {
            layer: String::new(),
            what: format!("{} data stream {name:?}", self.format()),
        })
    }

    /// Damage noticed so far that did not stop a read: checksum mismatches,
    /// entries skipped. Each is reported once.
    fn problems(&self) -> Vec<Problem> {
        Vec::new()
    }
}

/// A shared handle on a filesystem.
pub type FileSystemRef = Arc<dyn FileSystem>;

/// Damage a reader noticed without failing: collected in order, each
/// distinct one once.
#[derive(Debug, Default)]
pub struct ProblemLog(Mutex<Vec<Problem>>);

impl ProblemLog {
    /// Records `p` unless the same problem is already there.
    pub fn push(&self, p: Problem) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !v.contains(&p) && v.len() < 10_000 {
            v.push(p);
        }
    }

    /// Everything recorded.
    pub fn all(&self) -> Vec<Problem> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The entry named `name`: the exact bytes, else (FAT, exFAT and NTFS
/// names are case-insensitive) the same name in other ASCII case.
pub fn find_entry<'a>(entries: &'a [DirEntry], name: &str) -> Option<&'a DirEntry> {
    entries
        .iter()
        .find(|e| e.name == name.as_bytes())
        .or_else(|| {
            entries
                .iter()
                .find(|e| std::str::from_utf8(&e.name).is_ok_and(|n| n.eq_ignore_ascii_case(name)))
        })
}

/// Finds the file at `path` (`/`-separated, from the root; empty or "/"
/// is the root). Symbolic links are not followed: a recovered tree's links
/// point into the machine it came from.
pub fn lookup(fs: &dyn FileSystem, path: &str) -> Result<FileId> {
    let mut id = fs.root();
    let mut so_far = String::new();
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let entries = fs.read_dir(id)?;
        let found = find_entry(&entries, comp);
        so_far.push('/');
        so_far.push_str(comp);
        match found {
            Some(e) => id = e.id,
            None => return Err(Error::NotFound { path: so_far }),
        }
    }
    Ok(id)
}

/// One step of a walk: a file, its path from where the walk started, and
/// its stat (or why it could not be had).
#[derive(Debug)]
pub struct Walked {
    /// Path relative to the start, `/`-separated, raw name bytes.
    pub path: Vec<u8>,
    /// The directory entry's id.
    pub id: FileId,
    /// The entry's kind hint.
    pub kind: FileKind,
    /// Its stat.
    pub stat: Result<Stat>,
}

/// Walks the tree under `dir` depth first, calling `visit` for every entry
/// below it (not for `dir` itself), and `on_error` for each directory that
/// could not be read. A directory met again (a loop, or a hard-linked
/// directory) is reported and not entered twice.
pub fn walk(
    fs: &dyn FileSystem,
    dir: FileId,
    visit: &mut dyn FnMut(&Walked),
    on_error: &mut dyn FnMut(&[u8], Error),
) {
    let mut seen = HashSet::new();
    seen.insert(dir);
    walk_inner(fs, dir, Vec::new(), 0, &mut seen, visit, on_error);
}

fn walk_inner(
    fs: &dyn FileSystem,
    dir: FileId,
    prefix: Vec<u8>,
    depth: usize,
    seen: &mut HashSet<FileId>,
    visit: &mut dyn FnMut(&Walked),
    on_error: &mut dyn FnMut(&[u8], Error),
) {
    if depth >= MAX_DEPTH {
        on_error(
            &prefix,
            Error::corrupt(
                "directory tree",
                0,
                format!("deeper than {MAX_DEPTH} levels; not entered"),
            ),
        );
        return;
    }
    let entries = match fs.read_dir(dir) {
        Ok(e) => e,
        Err(e) => return on_error(&prefix, e),
    };
    for e in entries {
        let mut path = prefix.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&e.name);
        let w = Walked {
            stat: fs.stat(e.id),
            path,
            id: e.id,
            kind: e.kind,
        };
        visit(&w);
        let is_dir = match &w.stat {
            Ok(s) => s.kind == Some(FileKind::Dir),
            Err(_) => e.kind == FileKind::Dir,
        };
        if is_dir {
            if !seen.insert(e.id) {
                on_error(
                    &w.path,
                    Error::corrupt(
                        "directory tree",
                        0,
                        format!(
                            "directory {} is reached twice (a loop); not entered again",
                            e.id
                        ),
                    ),
                );
                continue;
            }
            walk_inner(fs, e.id, w.path, depth + 1, seen, visit, on_error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(Timestamp::new(0, 0).iso8601(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::new(951_782_400, 5).iso8601(),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(Timestamp::new(-1, 0).iso8601(), "1969-12-31T23:59:59Z");
        assert_eq!(
            Timestamp::new(4_102_444_800, 0).iso8601(),
            "2100-01-01T00:00:00Z"
        );
        // Damage must not panic.
        let _ = Timestamp::new(i64::MAX, 0).iso8601();
        let _ = Timestamp::new(i64::MIN, 0).iso8601();
    }

    #[test]
    fn kinds_from_modes() {
        assert_eq!(FileKind::from_mode(0o100644), FileKind::File);
        assert_eq!(FileKind::from_mode(0o040755), FileKind::Dir);
        assert_eq!(FileKind::from_mode(0o120777), FileKind::Symlink);
        assert_eq!(FileKind::from_mode(0o7777), FileKind::Unknown);
    }
}
