//! `recover`: storage recovery and RAID forensics.
//!
//! Exit status: 0 when everything read cleanly; 1 when a source could not
//! be opened or read, or damage was found (the output still shows all that
//! could be read); 2 for command-line mistakes.

mod args;
mod cmd;
mod manifest;
mod output;
mod progress;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Storage recovery and RAID forensics, read-only.
#[derive(Parser, Debug)]
#[command(name = "recover", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what the sources hold: partition tables, partitions, filesystems.
    Scan(ScanArgs),
    /// Write the raw bytes of any node (a disk, a partition, an array, ...) to a file.
    Extract(ExtractArgs),
    /// List a directory of a filesystem (ls -l style), or --json.
    Ls(LsArgs),
    /// Copy a file, or a directory recursively, out of a filesystem.
    Cp(CpArgs),
    /// Write the bytes of a file or of any node to standard output (a range with --offset, --length).
    Cat(CatArgs),
    /// Write an array's bytes: geometry from its metadata, or from the command line.
    Assemble(cmd::assemble::AssembleArgs),
    /// Scrub arrays: every stripe row checked against its parity or copies; --repair-to writes the corrected array.
    Check(cmd::check::CheckArgs),
    /// Serve nodes or files read-only over NBD (a Unix socket, or TCP with --listen).
    Serve(cmd::serve::ServeArgs),
    /// Mount a filesystem's files, or the whole tree of nodes, read-only with FUSE.
    Mount(cmd::mount::MountArgs),
}

/// How sources are read.
#[derive(Args, Debug, Clone)]
pub struct SourceOpts {
    /// Read image files with pread instead of memory-mapping them (survives
    /// read errors on the filesystem under the image, at some speed cost).
    #[arg(long)]
    pub no_mmap: bool,
    /// The drive serial number of an image, as SOURCE=SERIAL (repeatable):
    /// Intel IMSM names its members by serial only. Block devices are asked
    /// for theirs.
    #[arg(long, value_name = "SOURCE=SERIAL")]
    pub serial: Vec<String>,
    /// A directory where the files VM images name are looked for
    /// (repeatable): qcow2 backing files, VHD/VHDX parents, VMDK extents.
    /// The image's own directory is searched first.
    #[arg(long, value_name = "DIR")]
    pub backing_dir: Vec<PathBuf>,
    /// Infer the geometry of an array whose metadata is gone from the
    /// sources' data (every source is taken as a member): it shows as
    /// inferred0, with its confidence and the alternatives.
    #[arg(long)]
    pub infer: bool,
    /// A GNU ddrescue mapfile of a source, as SOURCE=MAPFILE, or MAPFILE
    /// alone for the only source (repeatable): every range not finished
    /// (`+`) reads as zeros and is reported as unreadable.
    #[arg(long, value_name = "[SOURCE=]MAPFILE")]
    pub map: Vec<String>,
}

#[derive(Args, Debug)]
struct ScanArgs {
    /// Disk images (raw, or the first part of a split image: disk.001) and block devices.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// Print the stable JSON described in the README instead of a tree.
    #[arg(long)]
    json: bool,
    /// Show only the node at this path (as printed by scan) and what is below it.
    #[arg(long, value_name = "PATH")]
    at: Option<String>,
    /// Also search every sector for lost filesystems (TestDisk's deeper
    /// search): found partitions appear under a "recovered" table. Like
    /// TestDisk, the search jumps past each filesystem it is sure of.
    #[arg(long)]
    deep: bool,
    #[command(flatten)]
    search: SearchOpts,
    /// With --deep, write the recovered partitions as an sfdisk script
    /// (never over a source; an existing FILE only with --force).
    #[arg(long, value_name = "FILE")]
    emit_sfdisk: Option<PathBuf>,
    /// Replace the --emit-sfdisk FILE if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    opts: SourceOpts,
}

/// How the deep scan searches; extract takes the same, to find a
/// recovered partition again.
#[derive(Args, Debug, Clone, Default)]
pub struct SearchOpts {
    /// With --deep, search inside found filesystems too (every sector of
    /// the volume): finds filesystems hidden under a newer one, backups,
    /// and VM images in files. As fast as reading the volume.
    #[arg(long)]
    pub thorough: bool,
    /// With --deep, only this byte range of each volume: START..END, sizes
    /// in bytes or with K, M, G, T or s (sectors); either end may be left out.
    #[arg(long, value_name = "START..END")]
    pub range: Option<String>,
}

#[derive(Args, Debug)]
struct ExtractArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// The node to write, as printed by scan (d0/gpt/p2, ...). A node under
    /// a "recovered" table is found again by the same deep scan: give the
    /// --thorough and --range the scan was given.
    #[arg(long, value_name = "PATH")]
    at: String,
    /// Where to write; never one of the sources.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    manifest: manifest::ManifestArgs,
    #[command(flatten)]
    search: SearchOpts,
    #[command(flatten)]
    opts: SourceOpts,
}

#[derive(Args, Debug)]
struct LsArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// What to list: a filesystem node (d0/gpt/p2/ext4, or the partition
    /// holding it) for its root, or FSNODE:/dir for a directory, or
    /// FSNODE:/dir/file for one file.
    #[arg(long, value_name = "PATH")]
    at: String,
    /// Everything below the directory, not only its entries.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Print the stable JSON described in the README.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    search: SearchOpts,
    #[command(flatten)]
    opts: SourceOpts,
}

#[derive(Args, Debug)]
struct CpArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// What to copy: FSNODE:/path/to/file, or a directory (copied with
    /// everything below it); a filesystem node alone copies its root.
    #[arg(long, value_name = "PATH")]
    at: String,
    /// Where to: a new file or directory, or an existing directory to copy
    /// into. Never one of the sources.
    #[arg(short, long, value_name = "DEST")]
    output: PathBuf,
    /// Replace files that exist.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    manifest: manifest::ManifestArgs,
    #[command(flatten)]
    search: SearchOpts,
    #[command(flatten)]
    opts: SourceOpts,
}

#[derive(Args, Debug)]
struct CatArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// What to write: a file (FSNODE:/path/to/file), or any node, as
    /// printed by scan (d0/gpt/p2, md0, d0/qcow2, ...).
    #[arg(long, value_name = "PATH")]
    at: String,
    /// Start this far in: bytes, or with K, M, G, T (binary) or s (512-byte
    /// sectors). At or past the end, nothing is written.
    #[arg(long, value_name = "N", default_value = "0", value_parser = args::parse_size)]
    offset: u64,
    /// Write at most this many bytes (the same units); to the end when left out.
    #[arg(long, value_name = "N", value_parser = args::parse_size)]
    length: Option<u64>,
    #[command(flatten)]
    search: SearchOpts,
    #[command(flatten)]
    opts: SourceOpts,
}

/// A memory-mapped image that fails a read underneath (or shrinks while
/// mapped) raises SIGBUS. Say so, and how to avoid it, instead of dying
/// with a bare "Bus error".
fn explain_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MSG: &[u8] = b"recover: SIGBUS: a memory-mapped image could not be read (an I/O error in the file under it, or the file shrank); run again with --no-mmap to read it with pread and salvage bad sectors\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(1);
        }
    }
    // SAFETY: the sigaction struct is zeroed then filled in; the handler
    // only calls async-signal-safe functions.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

fn main() -> ExitCode {
    explain_sigbus();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => cmd::scan::run(&cmd::scan::Request {
            sources: &a.sources,
            json: a.json,
            at: a.at.as_deref(),
            deep: a.deep
                || a.search.thorough
                || a.search.range.is_some()
                || a.emit_sfdisk.is_some(),
            search: &a.search,
            emit_sfdisk: a.emit_sfdisk.as_deref(),
            force: a.force,
            opts: &a.opts,
        }),
        Command::Assemble(a) => cmd::assemble::run(&a),
        Command::Check(a) => cmd::check::run(&a),
        Command::Serve(a) => cmd::serve::run(&a),
        Command::Mount(a) => cmd::mount::run(&a),
        Command::Ls(a) => cmd::ls::run(&cmd::ls::Request {
            sources: &a.sources,
            at: &a.at,
            json: a.json,
            recursive: a.recursive,
            search: &a.search,
            opts: &a.opts,
        }),
        Command::Cp(a) => cmd::cp::run(&cmd::cp::Request {
            sources: &a.sources,
            at: &a.at,
            output: &a.output,
            force: a.force,
            search: &a.search,
            opts: &a.opts,
            manifest: &a.manifest,
        }),
        Command::Cat(a) => cmd::cat::run(&cmd::cat::Request {
            sources: &a.sources,
            at: &a.at,
            offset: a.offset,
            length: a.length,
            search: &a.search,
            opts: &a.opts,
        }),
        Command::Extract(a) => cmd::extract::run(&cmd::extract::Request {
            sources: &a.sources,
            at: &a.at,
            output: &a.output,
            force: a.force,
            search: &a.search,
            opts: &a.opts,
            manifest: &a.manifest,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "recover: {e}");
            // Mistakes on the command line exit 2, like clap's own.
            if e.kind() == std::io::ErrorKind::InvalidInput {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
