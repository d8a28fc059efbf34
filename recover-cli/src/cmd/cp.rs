//! `recover cp`: a file, or a directory recursively, out of a filesystem.
//! Sizes, permission bits and times are kept, holes stay holes in the
//! output, symbolic links are recreated; each file that fails is reported
//! and the others still come out.

use std::ffi::OsStr;
use std::fs::{self, File, FileTimes};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use recover_core::fs::{walk, FileKind, FileSystemRef, Stat, Timestamp};
use recover_core::io::{Origin, Origins};
use sha2::{Digest, Sha256};

use crate::manifest::{Manifest, ManifestArgs, Record};
use crate::output::{Guard, Output};
use crate::progress::Progress;
use rayon::prelude::*;
use recover_core::discover::resolve::FileTarget;

/// What to copy, and where.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    pub output: &'a Path,
    pub force: bool,
    pub search: &'a crate::SearchOpts,
    pub opts: &'a crate::SourceOpts,
    pub manifest: &'a ManifestArgs,
}

/// One thing to copy. Every item of the walk is held until the copy, so
/// it keeps only what the copy needs (the manifest re-reads the full stat).
struct Item {
    rel: Box<[u8]>,
    id: u64,
    stat: Meta,
}

/// What a copy needs of a stat.
struct Meta {
    kind: FileKind,
    size: u64,
    mode: Option<u32>,
    mtime: Option<Timestamp>,
    atime: Option<Timestamp>,
    /// It has named streams (NTFS), copied beside it.
    streams: bool,
}

impl Meta {
    fn of(s: &Stat) -> Meta {
        Meta {
            kind: s.kind(),
            size: s.size,
            mode: s.mode,
            mtime: s.mtime,
            atime: s.atime,
            streams: !s.streams.is_empty(),
        }
    }

    fn kind(&self) -> FileKind {
        self.kind
    }
}

pub fn run(req: &Request) -> io::Result<ExitCode> {
    let guard = Guard::new(req.sources, req.force)?;
    // The record files are refused now, made once the target is found.
    for (p, what) in [
        (&req.manifest.manifest, "the manifest"),
        (&req.manifest.dfxml, "the DFXML manifest"),
    ] {
        if let Some(p) = p {
            guard.check(p, what)?;
        }
    }
    let mut found = super::discover_all(req.sources, req.opts)?;
    super::prepare(&mut found, req.at, req.search)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    let t = super::file_target(&found, req.at)?;
    let is_dir = t.stat.kind() == FileKind::Dir;
    let base = t
        .fs_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    // Like cp: into an existing directory, under the source's name.
    let dest = if req.output.is_dir() && !base.is_empty() {
        req.output.join(base)
    } else {
        req.output.to_path_buf()
    };
    // An output over a source, or over an existing file without --force,
    // is refused before the walk.
    if is_dir {
        guard.create_dir(&dest, &shown(&t, b""))?; // ok: the guard's own call
    } else if !dest.is_dir() {
        guard.check(&dest, &shown(&t, b""))?;
    }
    let mut manifest = Manifest::open(req.manifest, &guard, req.sources, &t.display())?;
    let older = match manifest {
        Some(_) => crate::manifest::older_metadata(&found.nodes, &t.fs_node),
        None => Vec::new(),
    };
    let mut failed = !found.failed.is_empty();
    let mut items = vec![Item {
        rel: Box::default(),
        id: t.id,
        stat: Meta::of(&t.stat),
    }];
    let mut dir_failed = false;
    // What the walk and the copies map in leaves the process every so
    // often, for the whole filesystem at once.
    let fs_volume =
        recover_core::discover::find(&found.nodes, &t.fs_node).and_then(|n| n.volume.clone());
    if is_dir {
        walk(
            t.fs.as_ref(),
            t.id,
            &mut |w| match &w.stat {
                Ok(s) => {
                    items.push(Item {
                        rel: w.path.clone().into_boxed_slice(),
                        id: w.id,
                        stat: Meta::of(s),
                    });
                    // What the walk mapped in of the filesystem leaves the
                    // process every so often.
                    if items.len() % RELEASE_WALKED == 0 {
                        if let Some(v) = &fs_volume {
                            v.release(0, v.len());
                        }
                    }
                }
                Err(e) => {
                    failed = true;
                    eprintln!("recover: {}: {e}", shown(&t, &w.path));
                }
            },
            &mut |p, e| {
                dir_failed = true;
                eprintln!(
                    "recover: {}: {e}; its contents are not copied",
                    shown(&t, p)
                );
            },
        );
    }
    failed |= dir_failed;
    let total: u64 = items
        .iter()
        .filter(|i| i.stat.kind() == FileKind::File)
        .map(|i| i.stat.size)
        .sum();
    let progress = Progress::bytes(total, "copying");
    let (mut files, mut bytes) = (0u64, 0u64);
    let hash = manifest.is_some();
    let out_path = |it: &Item| {
        if it.rel.is_empty() {
            dest.clone()
        } else {
            dest.join(OsStr::from_bytes(&it.rel))
        }
    };
    // Directories first, in walk order (a parent before its children), so
    // every file's directory is there when the files are copied in parallel.
    let mut dirs = Vec::new();
    for it in items.iter().filter(|i| i.stat.kind() == FileKind::Dir) {
        let (path, what) = (out_path(it), shown(&t, &it.rel));
        let r = guard.create_dir(&path, &what).map(|()| Copied::Dir); // ok: the guard's own call
        if let Some(m) = manifest.as_mut() {
            record(m, &t.fs, it, &what, &path, &r, &older)?;
        }
        match r {
            Ok(_) => dirs.push((path, it)),
            Err(e) => {
                failed = true;
                eprintln!("recover: {what}: {e}");
            }
        }
    }
    // Then the rest, a batch at a time: the files of a batch in parallel
    // (one file on one thread), their reports and records in walk order.
    let rest: Vec<&Item> = items
        .iter()
        .filter(|i| i.stat.kind() != FileKind::Dir)
        .collect();
    let mut since_release = 0u64;
    for batch in rest.chunks(BATCH) {
        let before = found.unread_so_far();
        let results: Vec<(PathBuf, String, io::Result<Copied>)> = batch
            .par_iter()
            .map(|it| {
                let (path, what) = (out_path(it), shown(&t, &it.rel));
                let mut last = 0u64;
                let r = copy_one(&t.fs, it, &path, &guard, &what, hash, &mut |n| {
                    progress.add(n - last);
                    last = n;
                });
                (path, what, r)
            })
            .collect();
        since_release += batch.iter().map(|i| i.stat.size).sum::<u64>();
        if since_release >= RELEASE_EVERY {
            if let Some(v) = &fs_volume {
                v.release(0, v.len());
            }
            since_release = 0;
        }
        let mut lost_here = false;
        for (it, (path, what, r)) in batch.iter().zip(results) {
            if let Ok(Copied::File(w)) = &r {
                // Zeros where the data could not be had, in the file's own
                // offsets, as every layer below carried them up.
                for w in w {
                    let lost: Vec<String> = w
                        .origins
                        .iter()
                        .filter(|(_, o)| o.is_loss())
                        .map(|(r, o)| format!("{:#x}..{:#x} ({})", r.start, r.end, o.as_str()))
                        .collect();
                    if !lost.is_empty() {
                        failed = true;
                        lost_here = true;
                        eprintln!(
                            "recover: {}: partly unreadable: bytes {} of it are zeros in place of data that could not be had",
                            w.what,
                            lost.join(", ")
                        );
                    }
                }
            }
            if let Some(m) = manifest.as_mut() {
                record(m, &t.fs, it, &what, &path, &r, &older)?;
            }
            match r {
                Ok(Copied::Dir) => {}
                Ok(Copied::File(w)) => {
                    files += 1;
                    bytes += w.first().map_or(0, |w| w.size);
                }
                Ok(Copied::Link(_)) => files += 1,
                Ok(Copied::Skipped(why)) => eprintln!("recover: {what}: not copied: {why}"),
                Err(e) => {
                    failed = true;
                    eprintln!("recover: {what}: {e}");
                }
            }
        }
        // A layer that could not say which file met them: the batch is named.
        if !lost_here {
            for ((src, now), (_, was)) in found.unread_so_far().iter().zip(&before) {
                let new: Vec<String> = now
                    .iter()
                    .filter(|r| !was.contains(r))
                    .map(|r| format!("{:#x}..{:#x}", r.start, r.end))
                    .collect();
                if !new.is_empty() {
                    failed = true;
                    eprintln!(
                        "recover: bytes {} of {src} could not be read while copying {} .. {}; files there hold zeros",
                        new.join(", "),
                        batch.first().map_or(String::new(), |i| shown(&t, &i.rel)),
                        batch.last().map_or(String::new(), |i| shown(&t, &i.rel)),
                    );
                }
            }
        }
    }
    // Directory times last: writing into a directory changes its mtime.
    for (path, it) in dirs.iter().rev() {
        if let Err(e) = set_meta(path, &it.stat, true) {
            eprintln!("recover: {}: {e}", path.display());
        }
    }
    progress.finish();
    // What was written reaches stable storage before success is reported:
    // one syncfs of the destination's filesystem, not an fsync per file
    // (and not sync(2), which would wait for every other disk too).
    if let Ok(f) = File::open(&dest) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the duration of the call.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            failed = true;
            eprintln!(
                "recover: {}: {}",
                dest.display(),
                io::Error::last_os_error()
            );
        }
    }
    for p in t.fs.problems() {
        if p.severity == recover_core::Severity::Error {
            failed = true;
        }
        eprintln!("recover: {}: {p}", t.fs_node);
    }
    eprintln!(
        "recover: copied {files} files ({bytes} bytes) and {} directories from {} to {}",
        dirs.len(),
        t.display(),
        dest.display()
    );
    if let Some(m) = manifest {
        let tot = m.finish()?;
        eprintln!(
            "recover: manifest: {} records; {} bytes rebuilt from parity, {} read from a mirror, {} unreadable, {} missing",
            tot.records,
            tot.by_origin[0],
            tot.by_origin[1],
            tot.by_origin[2],
            tot.by_origin[3]
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn shown(t: &FileTarget, rel: &[u8]) -> String {
    super::file_at(&t.fs_node, &t.fs_path, rel)
}

/// Files copied in parallel at a time; their reports wait for the batch.
const BATCH: usize = 256;

/// Bytes of files copied between two releases of the filesystem's pages.
const RELEASE_EVERY: u64 = 16 << 20;

/// Entries walked between two releases of the filesystem's pages.
const RELEASE_WALKED: usize = 16_384;

enum Copied {
    Dir,
    /// The file and its named streams.
    File(Vec<Written>),
    Link(Vec<u8>),
    Skipped(&'static str),
}

/// A file or stream written.
struct Written {
    what: String,
    path: PathBuf,
    kind: &'static str,
    size: u64,
    /// With a manifest.
    sha256: Option<String>,
    origins: Origins,
}

/// Writes `vol` through `out`, hashing it when `hash`; asks where its bytes
/// came from after the read, so the bad sectors it met are known.
fn write_file(
    vol: &dyn recover_core::io::Volume,
    out: &Output,
    progress: &mut dyn FnMut(u64),
    hash: bool,
    (what, path, kind): (&str, &Path, &'static str),
) -> io::Result<Written> {
    let mut h = hash.then(Sha256::new);
    let n = out.write_into(vol, progress, h.as_mut())?;
    Ok(Written {
        what: what.to_string(),
        path: path.to_path_buf(),
        kind,
        size: n,
        sha256: h.map(|h| format!("{:x}", h.finalize())),
        origins: vol.origins(0, n).normalized(),
    })
}

/// The manifest records of one item.
fn record(
    m: &mut Manifest,
    fs: &FileSystemRef,
    it: &Item,
    what: &str,
    path: &Path,
    r: &io::Result<Copied>,
    older: &[String],
) -> io::Result<()> {
    // The full stat, read again: the walk kept only what the copy needs.
    let stat = fs.stat(it.id).ok();
    let base = |kind, error: Option<String>| Record {
        path: what.to_string(),
        output: path.display().to_string(),
        kind,
        size: 0,
        sha256: None,
        origins: Origins::new(),
        older_metadata: older,
        stat: stat.as_ref(),
        link_target: None,
        error,
    };
    match r {
        Ok(Copied::File(written)) => {
            for w in written {
                let mut origins = w.origins.clone();
                if !older.is_empty() {
                    origins.add(0..w.size, Origin::OlderMetadata);
                }
                m.record(&Record {
                    path: w.what.clone(),
                    output: w.path.display().to_string(),
                    size: w.size,
                    sha256: w.sha256.clone(),
                    origins: origins.normalized(),
                    ..base(w.kind, None)
                })?;
            }
            Ok(())
        }
        Ok(Copied::Dir) => m.record(&base("directory", None)),
        Ok(Copied::Link(target)) => m.record(&Record {
            size: target.len() as u64,
            link_target: Some(String::from_utf8_lossy(target).into_owned()),
            ..base("symlink", None)
        }),
        Ok(Copied::Skipped(why)) => m.record(&base("special", Some(format!("not copied: {why}")))),
        Err(e) => {
            let kind = match it.stat.kind() {
                FileKind::Dir => "directory",
                FileKind::Symlink => "symlink",
                _ => "file",
            };
            m.record(&Record {
                size: it.stat.size,
                ..base(kind, Some(e.to_string()))
            })
        }
    }
}

/// Copies one file, link or special file (directories are made first).
fn copy_one(
    fs: &FileSystemRef,
    it: &Item,
    path: &Path,
    guard: &Guard,
    what: &str,
    hash: bool,
    progress: &mut dyn FnMut(u64),
) -> io::Result<Copied> {
    match it.stat.kind() {
        // Made before the files, in walk order (see run).
        FileKind::Dir => Ok(Copied::Dir),
        FileKind::File => {
            let vol = fs.open(it.id).map_err(io::Error::other)?;
            let out = Output::create(guard, path, what)?.without_sync();
            let mut written = vec![write_file(
                vol.as_ref(),
                &out,
                progress,
                hash,
                (what, path, "file"),
            )?];
            // Not on a device or a pipe the user named (-o /dev/null).
            if out.is_regular() {
                // Named streams (NTFS) beside the file, as FILE:STREAM.
                let streams = if it.stat.streams {
                    fs.stat(it.id).map_err(io::Error::other)?.streams
                } else {
                    Vec::new()
                };
                for (name, _) in &streams {
                    let mut p = path.as_os_str().to_owned();
                    p.push(":");
                    p.push(name.replace('/', "_"));
                    let p = PathBuf::from(p);
                    let sv = fs
                        .open_stream(it.id, name)
                        .map_err(|e| io::Error::other(format!("stream {name:?}: {e}")))?;
                    let sw = format!("{what}:{name}");
                    let sout = Output::create(guard, &p, &sw)?.without_sync();
                    written.push(write_file(
                        sv.as_ref(),
                        &sout,
                        &mut |_| {},
                        hash,
                        (&sw, &p, "stream"),
                    )?);
                    set_file_meta(sout.file(), &it.stat)?;
                }
                set_file_meta(out.file(), &it.stat)?;
            }
            Ok(Copied::File(written))
        }
        FileKind::Symlink => {
            let target = fs.read_link(it.id).map_err(io::Error::other)?;
            guard.create_symlink(OsStr::from_bytes(&target), path, what)?;
            set_link_times(path, &it.stat);
            Ok(Copied::Link(target))
        }
        FileKind::CharDevice => Ok(Copied::Skipped("a character device")),
        FileKind::BlockDevice => Ok(Copied::Skipped("a block device")),
        FileKind::Fifo => Ok(Copied::Skipped("a fifo")),
        FileKind::Socket => Ok(Copied::Skipped("a socket")),
        FileKind::Unknown => Ok(Copied::Skipped("of unknown kind")),
    }
}

fn system_time(t: Timestamp) -> Option<SystemTime> {
    let d = Duration::new(t.secs.unsigned_abs(), t.nanos);
    if t.secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(d)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(d)
    }
}

/// Permission bits (not set-id bits: the copy belongs to whoever runs
/// recover) and access/modification times, on the file just written (no
/// second open).
fn set_file_meta(f: &File, st: &Meta) -> io::Result<()> {
    if let Some(m) = st.mode {
        f.set_permissions(fs::Permissions::from_mode(m & 0o777))?;
    }
    f.set_times(file_times(st))
}

fn file_times(st: &Meta) -> FileTimes {
    let mut times = FileTimes::new();
    if let Some(t) = st.mtime.and_then(system_time) {
        times = times.set_modified(t);
    }
    if let Some(t) = st.atime.and_then(system_time) {
        times = times.set_accessed(t);
    }
    times
}

/// [`set_file_meta`] by path, for directories.
fn set_meta(path: &Path, st: &Meta, dir: bool) -> io::Result<()> {
    if let Some(m) = st.mode {
        // A directory stays writable and searchable by us until its times are set.
        let bits = if dir { m & 0o777 | 0o700 } else { m & 0o777 };
        fs::set_permissions(path, fs::Permissions::from_mode(bits))?;
    }
    let f = File::options().write(!dir).read(dir).open(path)?;
    f.set_times(file_times(st))
}

/// A symlink's own times (utimensat with AT_SYMLINK_NOFOLLOW); best effort.
fn set_link_times(path: &Path, st: &Meta) {
    let ts = |t: Option<Timestamp>| match t {
        Some(t) => libc::timespec {
            tv_sec: t.secs as libc::time_t,
            tv_nsec: i64::from(t.nanos) as _,
        },
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    };
    let times = [ts(st.atime), ts(st.mtime)];
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `c` is a NUL-terminated path and `times` two valid timespecs.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
}
