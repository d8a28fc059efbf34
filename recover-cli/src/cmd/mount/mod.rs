//! `recover mount`: a read-only FUSE filesystem over what the sources hold,
//! so `cp`, `rsync`, a file manager, `sha256sum` or the kernel's own
//! filesystem drivers (through a loop device on a node's bytes) read it
//! through the same volume stack as every other command.
//!
//! Two views (README, "recover mount"):
//! - `--at FSNODE` or `--at FSNODE:/dir`: the filesystem's files from that
//!   directory down, as the kernel would show them (modes, owners, times,
//!   symlinks, hard links as one inode numbered by the file's id).
//! - no `--at` (or `--at` naming a node that is not a filesystem): the
//!   tree, a directory per node, each holding `raw` (the node's bytes)
//!   where it has bytes, `files/` (its files) where it is a filesystem this
//!   build reads, and a directory per child node.
//!
//! This module resolves what to show and runs the mount until it is
//! unmounted (`fusermount3 -u`) or stopped (SIGINT, SIGTERM: unmounted on
//! the way out); `fs.rs` answers the kernel.

mod fs;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use recover_core::discover::resolve::Target;
use recover_core::fs::FileKind;

/// `recover mount`'s command line.
#[derive(clap::Args, Debug)]
pub struct MountArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// Where to mount: an existing directory.
    #[arg(required = true, value_name = "MOUNTPOINT")]
    mountpoint: PathBuf,
    /// What to mount: a filesystem node (d0/gpt/p2/ext4, or the partition
    /// holding it) or a directory in one (FSNODE:/dir) for its files; any
    /// other node for the tree below it. The whole tree when left out.
    #[arg(long, value_name = "PATH")]
    at: Option<String>,
    #[command(flatten)]
    search: crate::SearchOpts,
    #[command(flatten)]
    opts: crate::SourceOpts,
}

/// Set by SIGINT, SIGTERM and SIGHUP: how many have come.
static STOP: AtomicUsize = AtomicUsize::new(0);

/// SIGINT and SIGTERM unmount instead of killing the process (a killed
/// FUSE server leaves a dead mount behind: "Transport endpoint is not
/// connected").
fn catch_stop_signals() {
    extern "C" fn on_stop(_: libc::c_int) {
        STOP.fetch_add(1, Ordering::SeqCst);
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the sigaction struct is zeroed then filled in; the
        // handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn run(args: &MountArgs) -> io::Result<ExitCode> {
    let (mountpoint, sources) = (&args.mountpoint, &args.sources);
    match std::fs::metadata(mountpoint) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: the mount point is not a directory",
                    mountpoint.display()
                ),
            ))
        }
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: the mount point: {e}", mountpoint.display()),
            ))
        }
    }
    if sources.iter().any(|s| s == mountpoint) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the mount point is one of the sources; name the mount point last",
        ));
    }
    let mut found = super::discover_all(sources, &args.opts)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    let view = match &args.at {
        None => fs::View::Tree(found.nodes.clone()),
        Some(at) => {
            super::prepare(&mut found, at, &args.search)?;
            view_of(&found, at)?
        }
    };
    let damaged = Arc::new(AtomicBool::new(false));
    let tree = fs::Tree::new(view, found.nodes.clone(), damaged.clone());
    catch_stop_signals();
    let session = fs::mount(tree, mountpoint)?;
    eprintln!(
        "recover: mounted read-only at {}; unmount with `fusermount3 -u {}` or Ctrl-C",
        mountpoint.display(),
        mountpoint.display()
    );
    // The session thread ends when the kernel lets the filesystem go:
    // on `fusermount3 -u` or `umount`, or once a signal has detached it
    // and the last file open in it is closed. A second signal ends the
    // process at once.
    let mut detached = false;
    while !session.guard.is_finished() {
        match STOP.load(Ordering::SeqCst) {
            0 => {}
            1 if !detached => {
                detached = true;
                if let Err(e) = detach(mountpoint) {
                    eprintln!("recover: unmounting {}: {e}", mountpoint.display());
                    return Ok(ExitCode::from(1));
                }
                if !session.guard.is_finished() {
                    std::thread::sleep(Duration::from_millis(200));
                    if !session.guard.is_finished() {
                        eprintln!(
                            "recover: {} is unmounted; files still open in it are served until closed (signal again to stop now)",
                            mountpoint.display()
                        );
                    }
                }
            }
            1 => {}
            _ => {
                eprintln!("recover: stopped with files still open in the mount");
                return Ok(ExitCode::from(1));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    session
        .join()
        .map_err(|e| io::Error::other(format!("the FUSE session: {e}")))?;
    Ok(exit_code(&found, &damaged))
}

/// Unmounts lazily (`fusermount3 -u -z`, or umount2 with MNT_DETACH as
/// root): the name goes at once, files open in it stay readable until
/// closed, and then the kernel ends the session.
fn detach(mountpoint: &Path) -> io::Result<()> {
    let st = Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg("--")
        .arg(mountpoint)
        .status();
    if st.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    let path = CString::new(mountpoint.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("a NUL in the mount point"))?;
    // SAFETY: a valid NUL-terminated path; umount2 changes no memory of ours.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// 1 when a source failed to open, or a read met damage (reported as it
/// happened).
fn exit_code(found: &super::Discovered, damaged: &AtomicBool) -> ExitCode {
    if found.failed.is_empty() && !damaged.load(Ordering::Relaxed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What `--at` shows: a filesystem's directory, or the tree below a node.
fn view_of(found: &super::Discovered, at: &str) -> io::Result<fs::View> {
    match super::file_target(found, at) {
        Ok(t) => match t.stat.kind() {
            FileKind::Dir => Ok(fs::View::Files {
                name: t.display(),
                fs: t.fs,
                root: t.id,
            }),
            k => Err(io::Error::other(format!(
                "{} is a {}, not a directory: mount the directory holding it (or `recover serve` it)",
                t.display(),
                k.as_str()
            ))),
        },
        Err(e) => match super::target(found, at) {
            Ok(Target::Node(n)) => Ok(fs::View::Node(*n)),
            _ => Err(e),
        },
    }
}
