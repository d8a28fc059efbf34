//! The one door every output goes through. A recovery tool must never
//! write over its evidence, so every file, directory and link `recover`
//! makes is created here, after checks against the sources that hold
//! however the output is spelled: the same path, another spelling
//! (`dir/../img`), a hard link, a symbolic link, the block device itself
//! under another node, a partition of a source disk (or the disk of a
//! source partition), and the file behind a loop device. The identity
//! checked is the one of what was actually opened (`fstat` on the open
//! descriptor), so a rename between the check and the write changes
//! nothing. An existing file is replaced only with `--force`.
//!
//! The same identities refuse a source named twice (any spelling, a hard
//! link, a split image's part or an EWF set's segment named beside its
//! first).

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// What a path is on this machine, as far as overwriting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    /// Device and inode of the path (of what it links to).
    file: (u64, u64),
    /// The device number, for a block device.
    block: Option<u64>,
    /// The whole disk's device number, for a partition's block device.
    disk: Option<u64>,
    /// Device and inode of the file a loop device reads.
    backing: Option<(u64, u64)>,
}

impl Identity {
    fn of(meta: &Metadata) -> Identity {
        let block = meta.file_type().is_block_device().then(|| meta.rdev());
        let sys = block.map(|rdev| {
            PathBuf::from(format!(
                "/sys/dev/block/{}:{}",
                libc::major(rdev),
                libc::minor(rdev)
            ))
        });
        let disk = sys.as_deref().and_then(whole_disk);
        let backing = sys
            .as_deref()
            .and_then(|s| std::fs::read_to_string(s.join("loop/backing_file")).ok())
            .and_then(|p| std::fs::metadata(p.trim_end()).ok())
            .map(|m| (m.dev(), m.ino()));
        Identity {
            file: (meta.dev(), meta.ino()),
            block,
            disk,
            backing,
        }
    }

    /// The same bytes: one file, one device, or a loop device and its file.
    fn same(&self, o: &Identity) -> bool {
        self.file == o.file
            || (self.block.is_some() && self.block == o.block)
            || self.backing.is_some_and(|b| b == o.file)
            || o.backing.is_some_and(|b| b == self.file)
    }

    /// Writing one changes the other: the same, or a disk and one of its
    /// partitions.
    fn overlaps(&self, o: &Identity) -> bool {
        self.same(o)
            || (self.block.is_some() && self.block == o.disk)
            || (o.block.is_some() && o.block == self.disk)
    }
}

/// The device number of the disk a partition's sysfs node belongs to
/// (`/sys/dev/block/8:1` links to `.../sda/sda1`; its parent is the disk).
fn whole_disk(sys: &Path) -> Option<u64> {
    if !sys.join("partition").exists() {
        return None;
    }
    let dev = std::fs::read_to_string(sys.join("../dev")).ok()?;
    let (maj, min) = dev.trim().split_once(':')?;
    Some(libc::makedev(maj.parse().ok()?, min.parse().ok()?))
}

fn refused(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The sources' identities: every path named, every part of a split
/// image and every later segment of an EWF set. Building it refuses a source named twice.
#[derive(Debug, Default)]
pub struct Sources {
    /// (what to call it in a message, identity)
    known: Vec<(String, Identity)>,
}

impl Sources {
    /// Identities of `paths`; a path that cannot be stat'ed is left for
    /// the open to report. Two names for the same bytes are a command-line
    /// mistake (InvalidInput): an array built from one disk twice, or a
    /// scan that counts one disk as two, is never what was meant.
    pub fn new(paths: &[PathBuf]) -> io::Result<Sources> {
        let mut s = Sources::default();
        for p in paths {
            let parts = recover_core::io::split::split_parts(p).unwrap_or_else(|| {
                // An EWF set's later segments are read too.
                let mut v = vec![p.clone()];
                v.extend(recover_core::io::ewf::segment_paths(p));
                v
            });
            for (i, part) in parts.iter().enumerate() {
                let Ok(meta) = std::fs::metadata(part) else {
                    continue;
                };
                let id = Identity::of(&meta);
                let name = if i == 0 {
                    p.display().to_string()
                } else {
                    format!("{} (a part of {})", part.display(), p.display())
                };
                if let Some((first, _)) = s.known.iter().find(|(_, k)| k.same(&id)) {
                    return Err(refused(format!(
                        "{name}: the same disk as the source {first}; name each source once"
                    )));
                }
                s.known.push((name, id));
            }
        }
        Ok(s)
    }

    /// The source that `meta` would overwrite, if any.
    fn overwritten_by(&self, meta: &Metadata) -> Option<&str> {
        let id = Identity::of(meta);
        self.known
            .iter()
            .find(|(_, k)| k.overlaps(&id))
            .map(|(n, _)| n.as_str())
    }
}

/// A file opened for writing through the guard.
#[derive(Debug)]
pub struct Created {
    /// The open file.
    pub file: File,
    /// A regular file: holes may be punched, and it is flushed at the end.
    pub regular: bool,
    /// A block device: flushed at the end, but written byte for byte.
    pub block: bool,
    /// /dev/null (the character device 1:3), which takes writes at any
    /// offset and keeps none.
    pub null: bool,
}

/// Checks and creates every output of one command.
#[derive(Debug)]
pub struct Guard {
    sources: Sources,
    force: bool,
}

impl Guard {
    /// A guard for a command over `sources` (refused when one is named
    /// twice); `force` allows replacing existing files.
    pub fn new(sources: &[PathBuf], force: bool) -> io::Result<Guard> {
        Ok(Guard {
            sources: Sources::new(sources)?,
            force,
        })
    }

    /// Refuses `path` as an output for `what` before any work is done: a
    /// source, or an existing file without --force. Called again, on the
    /// opened file, when it is created.
    pub fn check(&self, path: &Path, what: &str) -> io::Result<()> {
        match std::fs::metadata(path) {
            Ok(meta) => self.check_existing(path, &meta, what),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(path).is_ok() {
                    return Err(refused(format!(
                        "cannot write {what} to {}: a symbolic link to nothing; name the file itself",
                        path.display()
                    )));
                }
                match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(dir) if !dir.is_dir() => Err(refused(format!(
                        "cannot write {what} to {}: the directory {} does not exist",
                        path.display(),
                        dir.display()
                    ))),
                    _ => Ok(()),
                }
            }
            Err(e) => Err(failed(path, what, &e)),
        }
    }

    fn check_existing(&self, path: &Path, meta: &Metadata, what: &str) -> io::Result<()> {
        if let Some(src) = self.sources.overwritten_by(meta) {
            return Err(refused(format!(
                "cannot write {what} to {}: it is the source {src}; refusing to write over a source",
                path.display()
            )));
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            return Err(refused(format!(
                "cannot write {what} to {}: it is a directory",
                path.display()
            )));
        }
        // A regular file or a block device holds data that writing replaces;
        // /dev/null, a terminal or a pipe does not.
        if (ft.is_file() || ft.is_block_device()) && !self.force {
            return Err(refused(format!(
                "cannot write {what} to {}: it exists; add --force to replace it",
                path.display()
            )));
        }
        Ok(())
    }

    /// Creates (or, with --force, replaces) the file at `path` for `what`.
    /// The identity is checked on the opened descriptor, and an existing
    /// file is truncated only after that check.
    pub fn create_file(&self, path: &Path, what: &str) -> io::Result<Created> {
        // A new file is new: no source can be it, so the checks are for a
        // name that is taken (O_EXCL fails on any name that exists, a
        // symbolic link to nothing included) or that cannot be made.
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => {
                return Ok(Created {
                    file,
                    regular: true,
                    block: false,
                    null: false,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.check(path, what)?,
            Err(e) => {
                self.check(path, what)?;
                return Err(failed(path, what, &e));
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| failed(path, what, &e))?;
        let meta = file.metadata().map_err(|e| failed(path, what, &e))?;
        self.check_existing(path, &meta, what)?;
        let regular = meta.is_file();
        if regular {
            file.set_len(0).map_err(|e| failed(path, what, &e))?;
        }
        let ft = meta.file_type();
        Ok(Created {
            file,
            regular,
            block: ft.is_block_device(),
            null: ft.is_char_device() && meta.rdev() == libc::makedev(1, 3),
        })
    }

    /// Writes `bytes` as the whole of a new file (or, with --force, over an
    /// existing one) at `path`.
    pub fn write_file(&self, path: &Path, bytes: &[u8], what: &str) -> io::Result<()> {
        use std::io::Write;
        let mut c = self.create_file(path, what)?;
        c.file
            .write_all(bytes)
            .and_then(|()| if c.regular { c.file.sync_all() } else { Ok(()) })
            .map_err(|e| failed(path, what, &e))
    }

    /// Makes the directory `path` for `what`; an existing directory is
    /// written into (files in it are still checked one by one).
    pub fn create_dir(&self, path: &Path, what: &str) -> io::Result<()> {
        match std::fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = std::fs::metadata(path).map_err(|e| failed(path, what, &e))?;
                self.check_existing(path, &meta, what)?;
                Err(refused(format!(
                    "cannot make the directory for {what} at {}: a file is in the way",
                    path.display()
                )))
            }
            Err(e) => Err(failed(path, what, &e)),
        }
    }

    /// Refuses `path` as the place of a Unix socket for `what` (the NBD
    /// server's). A socket holds no data, but the name may: it is never
    /// made over a source or over anything that is not a socket (a file, a
    /// directory, a symbolic link), with or without --force; nor over a
    /// socket a server still answers on. True when a socket left behind by
    /// a server that is gone is there (it will be replaced).
    pub fn check_socket(&self, path: &Path, what: &str) -> io::Result<bool> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                if let Some(src) = self.sources.overwritten_by(&meta) {
                    return Err(refused(format!(
                        "cannot make {what} at {}: it is the source {src}; refusing to write over a source",
                        path.display()
                    )));
                }
                if !meta.file_type().is_socket() {
                    return Err(refused(format!(
                        "cannot make {what} at {}: something that is not a socket is there; name another --socket",
                        path.display()
                    )));
                }
                if UnixStream::connect(path).is_ok() {
                    return Err(refused(format!(
                        "cannot make {what} at {}: a server is listening on it; name another --socket",
                        path.display()
                    )));
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(dir) if !dir.is_dir() => Err(refused(format!(
                        "cannot make {what} at {}: the directory {} does not exist",
                        path.display(),
                        dir.display()
                    ))),
                    _ => Ok(false),
                }
            }
            Err(e) => Err(failed(path, what, &e)),
        }
    }

    /// Binds a Unix socket at `path` for `what`, after
    /// [`Guard::check_socket`] (a stale socket is removed first).
    pub fn bind_socket(&self, path: &Path, what: &str) -> io::Result<UnixListener> {
        if self.check_socket(path, what)? {
            std::fs::remove_file(path).map_err(|e| failed(path, what, &e))?;
        }
        UnixListener::bind(path).map_err(|e| failed(path, what, &e))
    }

    /// Makes a symbolic link at `path` to `target`, replacing what is there
    /// only with --force and never a source.
    pub fn create_symlink(
        &self,
        target: &std::ffi::OsStr,
        path: &Path,
        what: &str,
    ) -> io::Result<()> {
        if let Ok(own) = std::fs::symlink_metadata(path) {
            // What the name is (a link of ours is replaced, not followed),
            // and what it leads to.
            if let Some(src) = self.sources.overwritten_by(&own).or_else(|| {
                std::fs::metadata(path)
                    .ok()
                    .and_then(|m| self.sources.overwritten_by(&m))
            }) {
                return Err(refused(format!(
                    "cannot write {what} to {}: it is the source {src}; refusing to write over a source",
                    path.display()
                )));
            }
            if own.is_dir() {
                return Err(refused(format!(
                    "cannot write {what} to {}: it is a directory",
                    path.display()
                )));
            }
            if !self.force {
                return Err(refused(format!(
                    "cannot write {what} to {}: it exists; add --force to replace it",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|e| failed(path, what, &e))?;
        }
        std::os::unix::fs::symlink(target, path).map_err(|e| failed(path, what, &e))
    }
}

/// An I/O error on an output, naming the output and what was written, with
/// the kind kept (so a full disk is still told apart from a mistake).
pub fn failed(path: &Path, what: &str, e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot write {what} to {}: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("recover-guard-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn every_spelling_of_a_source_is_refused() {
        let d = scratch("spellings");
        let src = d.join("disk.img");
        std::fs::write(&src, b"evidence").unwrap();
        std::fs::hard_link(&src, d.join("hard")).unwrap();
        std::os::unix::fs::symlink(&src, d.join("soft")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let g = Guard::new(std::slice::from_ref(&src), true).unwrap();
        for out in [
            src.clone(),
            d.join("hard"),
            d.join("soft"),
            d.join("sub/../disk.img"),
            d.join("./disk.img"),
        ] {
            let e = g.create_file(&out, "x").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{out:?}");
            assert!(
                e.to_string().contains("refusing to write over a source"),
                "{e}"
            );
            assert!(g.write_file(&out, b"no", "x").is_err());
            assert!(g.create_symlink("x".as_ref(), &out, "x").is_err());
        }
        assert_eq!(std::fs::read(&src).unwrap(), b"evidence");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn existing_files_need_force_and_missing_dirs_are_named() {
        let d = scratch("force");
        let out = d.join("out");
        std::fs::write(&out, b"old").unwrap();
        let g = Guard::new(&[], false).unwrap();
        let e = g.write_file(&out, b"new", "the script").unwrap_err();
        assert!(e.to_string().contains("add --force"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        Guard::new(&[], true)
            .unwrap()
            .write_file(&out, b"new", "the script")
            .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        let e = g
            .create_file(&d.join("nodir/x.raw"), "the bytes of d0")
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("nodir/x.raw") && msg.contains("the bytes of d0"),
            "{msg}"
        );
        assert!(msg.contains("does not exist"), "{msg}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_source_named_twice_is_refused() {
        let d = scratch("twice");
        let a = d.join("a.img");
        std::fs::write(&a, b"a").unwrap();
        std::fs::hard_link(&a, d.join("b.img")).unwrap();
        std::fs::write(d.join("c.img"), b"c").unwrap();
        for twice in [
            vec![a.clone(), a.clone()],
            vec![a.clone(), d.join("b.img")],
            vec![a.clone(), d.join("c.img"), d.join("./a.img")],
        ] {
            let e = Sources::new(&twice).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("name each source once"), "{e}");
        }
        assert!(Sources::new(&[a.clone(), d.join("c.img")]).is_ok());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn sockets_never_over_files_or_live_servers() {
        let d = scratch("socket");
        let src = d.join("disk.img");
        std::fs::write(&src, b"evidence").unwrap();
        std::fs::write(d.join("file"), b"data").unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        let g = Guard::new(std::slice::from_ref(&src), true).unwrap();
        for p in [src.clone(), d.join("file"), d.join("dangling"), d.clone()] {
            let e = g.bind_socket(&p, "the socket").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{p:?}: {e}");
        }
        assert_eq!(std::fs::read(&src).unwrap(), b"evidence");
        assert_eq!(std::fs::read(d.join("file")).unwrap(), b"data");
        let sock = d.join("s.sock");
        let live = g.bind_socket(&sock, "the socket").unwrap();
        let e = g.bind_socket(&sock, "the socket").unwrap_err();
        assert!(e.to_string().contains("listening"), "{e}");
        drop(live);
        // Left behind by a server that is gone: replaced.
        g.bind_socket(&sock, "the socket").unwrap();
        assert!(g.bind_socket(&d.join("no/s.sock"), "the socket").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
