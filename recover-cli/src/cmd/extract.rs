//! `recover extract`: the raw bytes of a node, written to a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover;
use recover_core::io::Volume;

use crate::progress::Progress;

/// What to extract and where.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    pub output: &'a Path,
    pub force: bool,
    pub opts: &'a crate::SourceOpts,
}

/// Bytes per read: large enough for disk bandwidth, small enough to keep
/// the progress bar moving.
const CHUNK: usize = 4 << 20;

pub fn run(req: &Request) -> io::Result<ExitCode> {
    refuse_overwriting_sources(req.sources, req.output)?;
    let out_meta = std::fs::metadata(req.output).ok();
    if out_meta.as_ref().is_some_and(|m| m.is_file()) && !req.force {
        return Err(io::Error::other(format!(
            "{}: exists; add --force to replace it",
            req.output.display()
        )));
    }
    let found = super::discover_all(req.sources, req.opts);
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    let node = discover::find(&found.nodes, req.at).ok_or_else(|| {
        io::Error::other(format!(
            "--at {}: no such node (run scan to see the paths)",
            req.at
        ))
    })?;
    let to_device = out_meta.is_some_and(|m| m.file_type().is_block_device());
    let mut file = if to_device {
        OpenOptions::new().write(true).open(req.output)?
    } else {
        File::create(req.output)?
    };
    let Some(vol) = node.volume.as_deref() else {
        return Err(io::Error::other(format!(
            "--at {}: the bytes of this {} cannot be read yet",
            req.at,
            node.kind.as_str()
        )));
    };
    let written = copy_volume(vol, &mut file, !to_device)?;
    file.sync_all()?;
    let disk = req.at.split('/').next().unwrap_or_default();
    let root = found.nodes.iter().find(|r| r.path == disk);
    let mut failed = !found.failed.is_empty();
    if let Some(r) = root {
        for b in r
            .volume
            .as_ref()
            .map(|v| v.bad_ranges())
            .unwrap_or_default()
        {
            failed = true;
            eprintln!(
                "recover: {}: {} bytes at {:#x}..{:#x} could not be read and were written as zeros",
                crate::report::source_name(r),
                b.end - b.start,
                b.start,
                b.end
            );
        }
    }
    eprintln!(
        "recover: wrote {written} bytes of {} to {}",
        node.path,
        req.output.display()
    );
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Copies the whole volume; with `sparse`, runs of zeros become holes.
fn copy_volume(vol: &dyn Volume, out: &mut File, sparse: bool) -> io::Result<u64> {
    let len = vol.len();
    let progress = Progress::bytes(len, "extract");
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(CHUNK as u64) as usize;
        let b = &mut buf[..n];
        vol.read_at(pos, b).map_err(io::Error::other)?;
        if sparse && b.iter().all(|&x| x == 0) {
            out.seek(SeekFrom::Current(n as i64))?;
        } else {
            out.write_all(b)?;
        }
        pos += n as u64;
        progress.set(pos);
    }
    progress.finish();
    if sparse {
        out.set_len(len)?;
    }
    Ok(len)
}

/// Refuses an output that is one of the sources (or a part of a split
/// source), however it is spelled: same device and inode.
fn refuse_overwriting_sources(sources: &[PathBuf], output: &Path) -> io::Result<()> {
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    for s in sources {
        let mut paths = vec![s.clone()];
        if let Some(parts) = recover_core::io::split::split_parts(s) {
            paths = parts;
        }
        for p in paths {
            if let Ok(m) = std::fs::metadata(&p) {
                let same_file = m.dev() == out.dev() && m.ino() == out.ino();
                let same_device = m.file_type().is_block_device()
                    && out.file_type().is_block_device()
                    && m.rdev() == out.rdev();
                if same_file || same_device {
                    return Err(io::Error::other(format!(
                        "{}: is the source {}; refusing to write over a source",
                        output.display(),
                        p.display()
                    )));
                }
            }
        }
    }
    Ok(())
}
