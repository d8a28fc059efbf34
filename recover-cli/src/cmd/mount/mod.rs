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

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use recover_core::discover::resolve::Target;
use recover_core::fs::FileKind;

/// `recover mount`'s command line.
#[derive(clap::Args, Debug)]
pub struct MountArgs {
    /// The sources, as given to scan, then the mount point (an existing
    /// directory).
    #[arg(required = true, num_args = 2.., value_name = "SOURCE... MOUNTPOINT")]
    paths: Vec<PathBuf>,
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

/// Set by SIGINT and SIGTERM: unmount and exit.
static STOP: AtomicBool = AtomicBool::new(false);

/// SIGINT and SIGTERM unmount instead of killing the process (a killed
/// FUSE server leaves a dead mount behind: "Transport endpoint is not
/// connected").
fn catch_stop_signals() {
    extern "C" fn on_stop(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
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
    let (mountpoint, sources) = args
        .paths
        .split_last()
        .expect("clap requires at least two paths"); // ok: num_args = 2..
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
    // The session thread ends when the kernel unmounts (fusermount3 -u,
    // umount); a signal unmounts from here.
    while !session.guard.is_finished() {
        if STOP.load(Ordering::SeqCst) {
            session
                .umount_and_join()
                .map_err(|e| io::Error::other(format!("unmounting: {e}")))?;
            return Ok(exit_code(&found, &damaged));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    session
        .join()
        .map_err(|e| io::Error::other(format!("the FUSE session: {e}")))?;
    Ok(exit_code(&found, &damaged))
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
