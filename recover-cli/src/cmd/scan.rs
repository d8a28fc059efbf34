//! `recover scan`: the tree of what the sources hold.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use recover_core::discover::{self, Node};
use recover_core::Severity;

use crate::report;

/// Scans `sources` and prints the tree (or JSON). Exit 1 when a source
/// failed to open or an error-level problem was found.
pub fn run(
    sources: &[PathBuf],
    json: bool,
    at: Option<&str>,
    opts: &crate::SourceOpts,
) -> io::Result<ExitCode> {
    let found = super::discover_all(sources, opts);
    let mut failed = !found.failed.is_empty();
    let shown: Vec<&Node> = match at {
        None => found.nodes.iter().collect(),
        Some(p) => match discover::find(&found.nodes, p) {
            Some(n) => vec![n],
            None => {
                failed = true;
                let _ = writeln!(
                    io::stderr(),
                    "recover: --at {p}: no such node (run scan without --at to see the paths)"
                );
                Vec::new()
            }
        },
    };
    let mut out = io::stdout().lock();
    if json {
        report::write_json(&mut out, &shown, &found.failed)?;
    } else {
        report::write_tree(&mut out, &shown)?;
    }
    out.flush()?;
    let mut err = io::stderr().lock();
    for (_, msg) in &found.failed {
        writeln!(err, "recover: {msg}")?;
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
