//! `recover scan`: the tree of what the sources hold, and with --deep what
//! a search of every sector finds.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover::{self, search, Node};
use recover_core::Severity;

use crate::output::Guard;
use crate::progress::PerVolume;
use crate::report;

/// What to scan and how.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub json: bool,
    pub at: Option<&'a str>,
    pub deep: bool,
    pub search: &'a crate::SearchOpts,
    pub emit_sfdisk: Option<&'a Path>,
    /// Replace the --emit-sfdisk file if it exists.
    pub force: bool,
    pub opts: &'a crate::SourceOpts,
}

/// Scans `sources` and prints the tree (or JSON). Exit 1 when a source
/// failed to open or an error-level problem was found.
pub fn run(req: &Request) -> io::Result<ExitCode> {
    let guard = Guard::new(req.sources, req.force)?;
    if let Some(file) = req.emit_sfdisk {
        // Refused now, not after a search of every sector.
        guard.check(file, SFDISK_SCRIPT)?;
    }
    let mut found = super::discover_all(req.sources, req.opts)?;
    let mut failed = !found.failed.is_empty();
    if let Some(p) = req.at {
        // A file inside a filesystem: looked into as a disk.
        if let Err(e) = super::graft(&mut found, p) {
            let _ = writeln!(io::stderr(), "recover: {e}");
            return Ok(ExitCode::from(1));
        }
        if discover::find(&found.nodes, p).is_none() {
            let _ = writeln!(
                io::stderr(),
                "recover: --at {p}: no such node (run scan without --at to see the paths)"
            );
            return Ok(ExitCode::from(1));
        }
    }
    if req.deep {
        deep(&mut found, req, &guard)?;
    }
    let shown: Vec<&Node> = match req.at {
        None => found.nodes.iter().collect(),
        Some(p) => discover::find(&found.nodes, p).into_iter().collect(),
    };
    let mut out = io::stdout().lock();
    if req.json {
        report::write_json(&mut out, &shown, &found.failed)?;
    } else {
        report::write_tree(&mut out, &shown)?;
    }
    out.flush()?;
    let mut err = io::stderr().lock();
    for (_, msg) in &found.failed {
        writeln!(err, "recover: {msg}")?;
    }
    // --infer was asked for and found nothing: say why, and fail.
    for p in &found.not_inferred {
        failed = true;
        writeln!(err, "recover: {p}")?;
    }
    for root in &found.nodes {
        let source = report::source_name(root);
        for n in root.walk() {
            for p in &n.problems {
                if p.severity == Severity::Error {
                    failed = true;
                    if source == n.path {
                        writeln!(err, "recover: {}: {p}", n.path)?;
                    } else {
                        writeln!(err, "recover: {source}: {}: {p}", n.path)?;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What --emit-sfdisk writes, for messages.
const SFDISK_SCRIPT: &str = "the sfdisk script";

fn deep(found: &mut super::Discovered, req: &Request, guard: &Guard) -> io::Result<()> {
    let how = crate::args::search_options(req.search)?;
    let paths = search::targets(&found.nodes, req.at);
    let mut bars = PerVolume::new("deep scan");
    let searched = search::search(
        &mut found.nodes,
        &paths,
        &how,
        &found.opts,
        &mut |p, d, t| bars.update(p, d, t),
    )
    .map_err(io::Error::other)?;
    bars.finish();
    if let Some(file) = req.emit_sfdisk {
        let with: Vec<&search::Searched> =
            searched.iter().filter(|s| !s.cands.is_empty()).collect();
        match with.as_slice() {
            [] => {
                return Err(io::Error::other(
                    "--emit-sfdisk: nothing was found to write",
                ))
            }
            [one] => guard.write_file(file, one.sfdisk_script().as_bytes(), SFDISK_SCRIPT)?,
            many => {
                let names: Vec<&str> = many.iter().map(|s| s.path.as_str()).collect();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "--emit-sfdisk: partitions were found on {}; choose one with --at",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}
