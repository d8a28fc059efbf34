//! `recover extract`: the raw bytes of a node, written to a file.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover::{self, Node};

use crate::output::{Guard, Output};

/// What to extract and where.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    pub output: &'a Path,
    pub force: bool,
    pub search: &'a crate::SearchOpts,
    pub opts: &'a crate::SourceOpts,
}

pub fn run(req: &Request) -> io::Result<ExitCode> {
    // Refused before the (possibly long) discovery; created after it, so
    // a mistake on the command line leaves no empty file behind.
    let guard = Guard::new(req.sources, req.force)?;
    let what = format!("the bytes of {}", req.at);
    guard.check(req.output, &what)?;
    let mut found = super::discover_all(req.sources, req.opts)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    super::target::prepare(&mut found.nodes, req.at, req.search)?;
    super::target::graft(&mut found.nodes, req.at, &found.opts)?;
    let node = discover::find(&found.nodes, req.at).ok_or_else(|| {
        io::Error::other(format!(
            "--at {}: no such node (run scan to see the paths)",
            req.at
        ))
    })?;
    let failed = write_node(&guard, node, &found.nodes, req.output)? || !found.failed.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `node`'s bytes to `path`; true when some could not be read (reported).
pub fn write_node(guard: &Guard, node: &Node, roots: &[Node], path: &Path) -> io::Result<bool> {
    let Some(vol) = node.volume.as_deref() else {
        let mut why = node
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if why.is_empty() {
            why = match node.kind {
                recover_core::discover::NodeKind::VolumeGroup => {
                    "a volume group has no bytes of its own: extract one of its LVs".into()
                }
                recover_core::discover::NodeKind::LogicalVolume => {
                    "a thin pool is read through its thin LVs; its data and metadata are the hidden _tdata and _tmeta LVs".into()
                }
                _ => "nothing to read".into(),
            };
        }
        return Err(io::Error::other(format!(
            "{}: the bytes of this {} cannot be read ({why})",
            node.path,
            node.kind.as_str()
        )));
    };
    let out = Output::create(guard, path, &format!("the bytes of {}", node.path))?;
    let written = out.write_volume(vol, &node.path)?;
    let mut failed = false;
    // Unreadable ranges of the sources under it, and of the node itself
    // (an array assembled with holes).
    let mut layers: Vec<&Node> = roots.iter().collect();
    if !roots.iter().any(|r| std::ptr::eq(r, node)) {
        layers.push(node);
    }
    for l in layers {
        for b in l
            .volume
            .as_ref()
            .map(|v| v.bad_ranges())
            .unwrap_or_default()
        {
            failed = true;
            eprintln!(
                "recover: {}: {} bytes at {:#x}..{:#x} could not be read and were written as zeros",
                crate::report::source_name(l),
                b.end - b.start,
                b.start,
                b.end
            );
        }
    }
    eprintln!(
        "recover: wrote {written} bytes of {} to {}",
        node.path,
        path.display()
    );
    Ok(failed)
}
