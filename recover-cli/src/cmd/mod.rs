//! The subcommands, each a thin adapter over the library, and what they
//! share: opening the sources and resolving what `--at` names. A command
//! imports this module, never another command.

pub mod assemble;
pub mod cat;
pub mod check;
pub mod cp;
pub mod extract;
pub mod ls;
pub mod mount;
pub mod scan;
pub mod serve;

use std::io;
use std::path::PathBuf;

use recover_core::discover::inferred::{inferred_arrays, InferredMember};
use recover_core::discover::resolve::{self, FileTarget, Target};
use recover_core::discover::{self, Node};
use recover_core::io::{open_source, MapPolicy};
use recover_core::raid::infer::Hints;

/// Sources opened and discovered; open failures reported on stderr.
pub struct Discovered {
    /// One tree per source that opened, in the order given.
    pub nodes: Vec<Node>,
    /// Sources that could not be opened: (path, message).
    pub failed: Vec<(String, String)>,
    /// The settings they were discovered with (for files looked into later).
    pub opts: discover::Options,
    /// With --infer: why no array was inferred, when none was.
    pub not_inferred: Vec<recover_core::Problem>,
    /// The sources read through a ddrescue mapfile, by source index.
    pub rescued: Vec<(usize, std::sync::Arc<recover_core::io::ddrescue::Rescued>)>,
}

impl Discovered {
    /// What each source could not give so far, by source name: the ranges
    /// of a ddrescue mapfile that reads have met, and sectors that failed
    /// to read. Compared before and after a file is copied, it names the
    /// files that hold zeros for want of data.
    pub fn unread_so_far(&self) -> Vec<(String, Vec<std::ops::Range<u64>>)> {
        self.nodes
            .iter()
            .filter(|n| matches!(n.info, recover_core::discover::NodeInfo::Disk(_)))
            .filter_map(|n| {
                let i: usize = n.path.strip_prefix('d')?.parse().ok()?;
                let ranges = match self.rescued.iter().find(|(k, _)| *k == i) {
                    Some((_, r)) => r.touched(),
                    None => n.volume.as_ref()?.bad_ranges(),
                };
                Some((crate::report::source_name(n), ranges))
            })
            .collect()
    }
}

/// Opens every source (a failure does not stop the others) and builds the
/// trees, then the arrays their members form. A source named twice (any
/// spelling, a hard link) is refused first, as a command-line mistake.
pub fn discover_all(paths: &[PathBuf], opts: &crate::SourceOpts) -> io::Result<Discovered> {
    discover_with_hints(paths, opts, &Hints::default())
}

/// [`discover_all`], with what the user knows of an array to infer (the
/// geometry options of `assemble --infer`).
pub fn discover_with_hints(
    paths: &[PathBuf],
    opts: &crate::SourceOpts,
    hints: &Hints,
) -> io::Result<Discovered> {
    discover_tuned(paths, opts, hints, &|_| {})
}

/// [`discover_with_hints`], with discovery's settings changed by `tune`
/// (check leaves out the sampled cross-check its scrub makes redundant).
pub fn discover_tuned(
    paths: &[PathBuf],
    opts: &crate::SourceOpts,
    hints: &Hints,
    tune: &dyn Fn(&mut discover::Options),
) -> io::Result<Discovered> {
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
    tune(&mut dopts);
    let maps = crate::args::mapfiles(&opts.map, paths)?;
    let mut sources = Vec::new();
    let mut failed = Vec::new();
    let mut rescued = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match open_source(p, policy) {
            Ok(mut src) => {
                if let Some(m) = maps.get(&i) {
                    let r = recover_core::io::ddrescue::rescued(src.volume, m);
                    rescued.push((i, r.clone()));
                    src.volume = r;
                }
                sources.push((i, src))
            }
            Err(e) => failed.push((p.display().to_string(), e.to_string())),
        }
    }
    let mut nodes = discover::discover(&sources, &dopts);
    let mut not_inferred = Vec::new();
    if opts.infer {
        let (arrays, why) = infer(&nodes, hints, &dopts);
        discover::inferred::quiet_members(&mut nodes, &arrays);
        nodes.extend(arrays);
        not_inferred = why;
    }
    Ok(Discovered {
        nodes,
        failed,
        opts: dopts,
        not_inferred,
        rescued,
    })
}

/// The array the sources' data says they form, when their metadata is
/// gone: every source that opened is taken as a member.
fn infer(
    nodes: &[Node],
    hints: &Hints,
    opts: &discover::Options,
) -> (Vec<Node>, Vec<recover_core::Problem>) {
    let members: Vec<(InferredMember, recover_core::io::VolumeRef)> = nodes
        .iter()
        .filter(|n| n.kind == discover::NodeKind::Disk)
        .filter_map(|n| {
            let v = n.volume.clone()?;
            let m = InferredMember {
                path: n.path.clone(),
                source: crate::report::source_name(n),
            };
            Some((m, v))
        })
        .collect();
    let bar: std::sync::Mutex<Option<crate::progress::Progress>> = std::sync::Mutex::new(None);
    let found = inferred_arrays(&members, hints, opts, &|done, total| {
        let mut b = bar.lock().unwrap_or_else(|e| e.into_inner());
        b.get_or_insert_with(|| crate::progress::Progress::bytes(total, "inferring the geometry"))
            .set_of(done, total);
    });
    if let Some(b) = bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
        b.finish();
    }
    found
}

/// A library error about a path, as the CLI says it.
fn at_error(e: recover_core::Error) -> io::Error {
    match e {
        recover_core::Error::BadPath { .. } => io::Error::other(format!("--at {e}")),
        e => io::Error::other(e.to_string()),
    }
}

/// A path under a "recovered" table: that volume is searched again, as
/// `scan --deep` did (with the same `--thorough` and `--range`), so the
/// recovered partitions are there to be found.
pub fn prepare(found: &mut Discovered, at: &str, search: &crate::SearchOpts) -> io::Result<()> {
    let how = crate::args::search_options(search)?;
    let mut bars = crate::progress::PerVolume::new("deep scan");
    resolve::prepare(&mut found.nodes, at, &how, &found.opts, &mut |p, d, t| {
        bars.update(p, d, t)
    })
    .map_err(at_error)?;
    bars.finish();
    Ok(())
}

/// Makes `at` findable with `discover::find` when it names something
/// inside a file (the file's tree is added as one more root).
pub fn graft(found: &mut Discovered, at: &str) -> io::Result<()> {
    resolve::graft(&mut found.nodes, at, &found.opts).map_err(at_error)
}

/// `FSNODE:/dir/rel`: the path `--at` takes for `rel` (a walk's path,
/// `/`-separated) below `dir` of the filesystem at `fs_node`.
pub fn file_at(fs_node: &str, dir: &str, rel: &[u8]) -> String {
    let mut p = dir.trim_end_matches('/').to_string();
    if !rel.is_empty() {
        p.push('/');
        p.push_str(&String::from_utf8_lossy(rel));
    }
    if p.is_empty() {
        p.push('/');
    }
    format!("{fs_node}:{p}")
}

/// The file or directory `at` names (a filesystem node names its root).
pub fn file_target(found: &Discovered, at: &str) -> io::Result<FileTarget> {
    resolve::file_target(&found.nodes, at, &found.opts).map_err(at_error)
}

/// What `at` names: a node (of the sources' trees, or of a tree inside a
/// file), or a file or directory inside a filesystem, opened as it is.
pub fn target(found: &Discovered, at: &str) -> io::Result<Target> {
    resolve::resolve(&found.nodes, at, &found.opts).map_err(at_error)
}
