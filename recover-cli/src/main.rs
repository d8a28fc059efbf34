//! `recover`: storage recovery and RAID forensics.
//!
//! Exit status: 0 when everything read cleanly; 1 when a source could not
//! be opened or read, or damage was found (the output still shows all that
//! could be read); 2 for command-line mistakes.

mod cmd;
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
    /// Write the raw bytes of any node (a disk, a partition, ...) to a file.
    Extract(ExtractArgs),
}

/// How sources are read.
#[derive(Args, Debug, Clone)]
struct SourceOpts {
    /// Read image files with pread instead of memory-mapping them (survives
    /// read errors on the filesystem under the image, at some speed cost).
    #[arg(long)]
    no_mmap: bool,
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
    #[command(flatten)]
    opts: SourceOpts,
}

#[derive(Args, Debug)]
struct ExtractArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// The node to write, as printed by scan (d0/gpt/p2, ...).
    #[arg(long, value_name = "PATH")]
    at: String,
    /// Where to write; never one of the sources.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    opts: SourceOpts,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => cmd::scan::run(&a.sources, a.json, a.at.as_deref(), a.opts.no_mmap),
        Command::Extract(a) => cmd::extract::run(&cmd::extract::Request {
            sources: &a.sources,
            at: &a.at,
            output: &a.output,
            force: a.force,
            no_mmap: a.opts.no_mmap,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "recover: {e}");
            ExitCode::from(1)
        }
    }
}
