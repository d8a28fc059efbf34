//! `recover cat`: the bytes of a file, or of any node, to standard output.
//! Only the range asked for is read, through one buffer of fixed size, so
//! a few bytes in the middle of a 42 TiB thin file cost a few bytes of
//! reads and no more memory than a small file.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use recover_core::discover::resolve::Target;
use recover_core::fs::FileKind;
use recover_core::io::Volume;

/// Bytes per read (rounded to whole stripes of an array, at most
/// [`MAX_BLOCK`]).
const BLOCK: u64 = 1 << 20;
/// The largest read: an array whose stripe is larger is read a stripe at a time.
const MAX_BLOCK: u64 = crate::output::BLOCK as u64;

/// What to write, and which bytes of it.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    /// Where to start; past the end, nothing is written.
    pub offset: u64,
    /// How many bytes at most; `None` to the end.
    pub length: Option<u64>,
    pub search: &'a crate::SearchOpts,
    pub opts: &'a crate::SourceOpts,
}

pub fn run(req: &Request) -> io::Result<ExitCode> {
    let mut found = super::discover_all(req.sources, req.opts)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    super::prepare(&mut found, req.at, req.search)?;
    let mut failed = !found.failed.is_empty();
    match super::target(&found, req.at)? {
        Target::Node(node) => {
            write_range(crate::output::node_volume(&node)?, req.offset, req.length)?;
            failed |= crate::output::report_bad_ranges(&found.nodes, Some(&node));
        }
        Target::File(t) => {
            let what = t.display();
            let vol = match t.stat.kind() {
                FileKind::File => {
                    t.fs.open(t.id)
                        .map_err(|e| io::Error::other(format!("{what}: {e}")))?
                }
                FileKind::Dir => {
                    return Err(io::Error::other(format!(
                        "{what} is a directory, not a file (ls lists it, cp copies it)"
                    )))
                }
                FileKind::Symlink => {
                    let to = t.fs.read_link(t.id).unwrap_or_default();
                    return Err(io::Error::other(format!(
                        "{what} is a symbolic link to {}, not a file (cat its target)",
                        String::from_utf8_lossy(&to)
                    )));
                }
                k => {
                    return Err(io::Error::other(format!(
                        "{what} is a {}, not a file",
                        k.as_str()
                    )))
                }
            };
            write_range(vol.as_ref(), req.offset, req.length)?;
            failed |= crate::output::report_bad_ranges(&found.nodes, None);
            // As cp says them: damage met on the way to the file or in it.
            for p in t.fs.problems() {
                if p.severity == recover_core::Severity::Error {
                    failed = true;
                }
                eprintln!("recover: {}: {p}", t.fs_node);
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `length` bytes of `vol` from `offset` to standard output, fewer
/// when the volume ends first, none when `offset` is at or past its end.
/// Reads end on multiples of the block (whole stripes of an array); bytes
/// in mapped memory are written from there.
fn write_range(vol: &dyn Volume, offset: u64, length: Option<u64>) -> io::Result<()> {
    let len = vol.len();
    let end = length.map_or(len, |n| offset.saturating_add(n).min(len));
    if offset >= end {
        return Ok(());
    }
    let align = vol.io_alignment().clamp(1, MAX_BLOCK);
    let block = (BLOCK / align).max(1) * align;
    // Unbuffered: the block is the buffer. A closed pipe comes back as
    // BrokenPipe, which main takes as success.
    let mut out = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut buf = vec![0u8; block.min(end - offset) as usize]; // ok: at most MAX_BLOCK
    let mut pos = offset;
    while pos < end {
        let n = (block - pos % block).min(end - pos);
        let data = match vol.slice_at(pos, n) {
            Some(d) => {
                vol.prefetch(pos, n);
                d
            }
            None => {
                let b = &mut buf[..n as usize]; // ok: n <= buf.len()
                vol.read_at(pos, b).map_err(io::Error::other)?;
                &b[..]
            }
        };
        out.write_all(data)?;
        pos += n;
    }
    Ok(())
}
