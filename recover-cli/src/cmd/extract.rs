//! `recover extract`: the raw bytes of a node, written to a file.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover;

use crate::output::Guard;

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
    super::prepare(&mut found, req.at, req.search)?;
    super::graft(&mut found, req.at)?;
    let node = discover::find(&found.nodes, req.at).ok_or_else(|| {
        io::Error::other(format!(
            "--at {}: no such node (run scan to see the paths)",
            req.at
        ))
    })?;
    let failed = crate::output::write_node(&guard, node, &found.nodes, req.output)?
        || !found.failed.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
