//! The subcommands.

pub mod assemble;
pub mod cp;
pub mod extract;
pub mod ls;
pub mod scan;
pub mod target;

use std::io;
use std::path::PathBuf;

use recover_core::discover::{self, Node};
use recover_core::io::{open_source, MapPolicy};

/// Sources opened and discovered; open failures reported on stderr.
pub struct Discovered {
    /// One tree per source that opened, in the order given.
    pub nodes: Vec<Node>,
    /// Sources that could not be opened: (path, message).
    pub failed: Vec<(String, String)>,
    /// The settings they were discovered with (for files looked into later).
    pub opts: discover::Options,
}

/// Opens every source (a failure does not stop the others) and builds the
/// trees, then the arrays their members form. A source named twice (any
/// spelling, a hard link) is refused first, as a command-line mistake.
pub fn discover_all(paths: &[PathBuf], opts: &crate::SourceOpts) -> io::Result<Discovered> {
    crate::output::guard::Sources::new(paths)?;
    let policy = if opts.no_mmap {
        MapPolicy::Never
    } else {
        MapPolicy::Auto
    };
    let mut dopts = discover::Options {
        backing_dirs: opts.backing_dir.clone(),
        map_policy: policy,
        ..Default::default()
    };
    for s in &opts.serial {
        if let Some((src, serial)) = s.split_once('=') {
            dopts.serials.insert(src.to_string(), serial.to_string());
        }
    }
    let mut sources = Vec::new();
    let mut failed = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match open_source(p, policy) {
            Ok(src) => sources.push((i, src)),
            Err(e) => failed.push((p.display().to_string(), e.to_string())),
        }
    }
    Ok(Discovered {
        nodes: discover::discover(&sources, &dopts),
        failed,
        opts: dopts,
    })
}
