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

/// One thing to copy.
struct Item {
    rel: Vec<u8>,
    id: u64,
    stat: Stat,
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
        rel: Vec::new(),
        id: t.id,
        stat: t.stat.clone(),
    }];
    let mut dir_failed = false;
    if is_dir {
        walk(
            t.fs.as_ref(),
            t.id,
            &mut |w| match &w.stat {
                Ok(s) => items.push(Item {
                    rel: w.path.clone(),
                    id: w.id,
                    stat: s.clone(),
                }),
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
    let mut done = 0u64;
    let mut dirs = Vec::new();
    let (mut files, mut bytes) = (0u64, 0u64);
    for it in &items {
        let path = if it.rel.is_empty() {
            dest.clone()
        } else {
            dest.join(OsStr::from_bytes(&it.rel))
        };
        let what = shown(&t, &it.rel);
        let before = found.unread_so_far();
        let mut written = Vec::new();
        let r = copy_one(
            &t.fs,
            it,
            &path,
            &guard,
            &what,
            &mut |n| progress.set(done + n),
            manifest.as_ref().map(|_| &mut written),
        );
        // A file whose reads met bytes the sources could not give holds
        // zeros there: it is named, with those ranges of the sources.
        for ((src, now), (_, was)) in found.unread_so_far().iter().zip(&before) {
            let new: Vec<String> = now
                .iter()
                .filter(|r| !was.contains(r))
                .map(|r| format!("{:#x}..{:#x}", r.start, r.end))
                .collect();
            if !new.is_empty() {
                failed = true;
                eprintln!(
                    "recover: {}: partly unreadable: it holds zeros for bytes {} of {src} that could not be read",
                    shown(&t, &it.rel),
                    new.join(", ")
                );
            }
        }
        if let Some(m) = manifest.as_mut() {
            record(m, it, &what, &path, &r, written, &older)?;
        }
        match r {
            Ok(Copied::Dir) => dirs.push((path, it)),
            Ok(Copied::File(n)) => {
                done += n;
                files += 1;
                bytes += n;
            }
            Ok(Copied::Link(_)) => files += 1,
            Ok(Copied::Skipped(why)) => {
                eprintln!("recover: {}: not copied: {why}", shown(&t, &it.rel))
            }
            Err(e) => {
                failed = true;
                eprintln!("recover: {}: {e}", shown(&t, &it.rel));
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
    let mut p = t.fs_path.trim_end_matches('/').to_string();
    if !rel.is_empty() {
        p.push('/');
        p.push_str(&String::from_utf8_lossy(rel));
    }
    if p.is_empty() {
        p.push('/');
    }
    format!("{}:{p}", t.fs_node)
}

enum Copied {
    Dir,
    File(u64),
    Link(Vec<u8>),
    Skipped(&'static str),
}

/// A file or stream written, for the manifest.
struct Written {
    what: String,
    path: PathBuf,
    kind: &'static str,
    size: u64,
    sha256: String,
    origins: Origins,
}

/// Writes `vol` to `path`; with `rec`, hashes it and records where its
/// bytes came from.
fn write_file(
    vol: &dyn recover_core::io::Volume,
    out: Output,
    progress: &mut dyn FnMut(u64),
    rec: Option<(&mut Vec<Written>, &str, &Path, &'static str)>,
) -> io::Result<u64> {
    let Some((list, what, path, kind)) = rec else {
        return out.write_volume_with(vol, progress);
    };
    let mut h = Sha256::new();
    let n = out.write_volume_hashed(vol, progress, Some(&mut h))?;
    list.push(Written {
        what: what.to_string(),
        path: path.to_path_buf(),
        kind,
        size: n,
        sha256: format!("{:x}", h.finalize()),
        // Asked after the read, so the bad sectors it met are known.
        origins: vol.origins(0, n).normalized(),
    });
    Ok(n)
}

/// The manifest records of one item.
fn record(
    m: &mut Manifest,
    it: &Item,
    what: &str,
    path: &Path,
    r: &io::Result<Copied>,
    written: Vec<Written>,
    older: &[String],
) -> io::Result<()> {
    let base = |kind, error: Option<String>| Record {
        path: what.to_string(),
        output: path.display().to_string(),
        kind,
        size: 0,
        sha256: None,
        origins: Origins::new(),
        older_metadata: older,
        stat: Some(&it.stat),
        link_target: None,
        error,
    };
    match r {
        Ok(Copied::File(_)) => {
            for w in written {
                let mut origins = w.origins;
                if !older.is_empty() {
                    origins.add(0..w.size, Origin::OlderMetadata);
                }
                m.record(&Record {
                    path: w.what,
                    output: w.path.display().to_string(),
                    size: w.size,
                    sha256: Some(w.sha256),
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

fn copy_one(
    fs: &FileSystemRef,
    it: &Item,
    path: &Path,
    guard: &Guard,
    what: &str,
    progress: &mut dyn FnMut(u64),
    mut rec: Option<&mut Vec<Written>>,
) -> io::Result<Copied> {
    match it.stat.kind() {
        FileKind::Dir => {
            guard.create_dir(path, what)?; // ok: the guard's own call
            Ok(Copied::Dir)
        }
        FileKind::File => {
            let vol = fs.open(it.id).map_err(io::Error::other)?;
            let out = Output::create(guard, path, what)?.without_sync();
            let n = write_file(
                vol.as_ref(),
                out,
                progress,
                rec.as_deref_mut().map(|l| (l, what, path, "file")),
            )?;
            // Not on a device or a pipe the user named (-o /dev/null).
            let regular = fs::metadata(path).is_ok_and(|m| m.is_file());
            // Named streams (NTFS) beside the file, as FILE:STREAM.
            if regular {
                for (name, _) in &it.stat.streams {
                    let mut p = path.as_os_str().to_owned();
                    p.push(":");
                    p.push(name.replace('/', "_"));
                    let sv = fs
                        .open_stream(it.id, name)
                        .map_err(|e| io::Error::other(format!("stream {name:?}: {e}")))?;
                    let sw = format!("{what}:{name}");
                    let out = Output::create(guard, Path::new(&p), &sw)?.without_sync();
                    write_file(
                        sv.as_ref(),
                        out,
                        &mut |_| {},
                        rec.as_deref_mut()
                            .map(|l| (l, sw.as_str(), Path::new(&p), "stream")),
                    )?;
                    set_meta(Path::new(&p), &it.stat, false)?;
                }
                set_meta(path, &it.stat, false)?;
            }
            Ok(Copied::File(n))
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
/// recover) and access/modification times.
fn set_meta(path: &Path, st: &Stat, dir: bool) -> io::Result<()> {
    if let Some(m) = st.mode {
        // A directory stays writable and searchable by us until its times are set.
        let bits = if dir { m & 0o777 | 0o700 } else { m & 0o777 };
        fs::set_permissions(path, fs::Permissions::from_mode(bits))?;
    }
    let mut times = FileTimes::new();
    if let Some(t) = st.mtime.and_then(system_time) {
        times = times.set_modified(t);
    }
    if let Some(t) = st.atime.and_then(system_time) {
        times = times.set_accessed(t);
    }
    let f = File::options().write(!dir).read(dir).open(path)?;
    f.set_times(times)
}

/// A symlink's own times (utimensat with AT_SYMLINK_NOFOLLOW); best effort.
fn set_link_times(path: &Path, st: &Stat) {
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
