//! `recover extract`: the raw bytes of a node, written to a file.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover;
use recover_core::io::Origin;
use sha2::{Digest, Sha256};

use crate::manifest::{Manifest, ManifestArgs, Record};
use crate::output::Guard;

/// What to extract and where.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    pub output: &'a Path,
    pub force: bool,
    pub search: &'a crate::SearchOpts,
    pub opts: &'a crate::SourceOpts,
    pub manifest: &'a ManifestArgs,
}

pub fn run(req: &Request) -> io::Result<ExitCode> {
    // Refused before the (possibly long) discovery; created after it, so
    // a mistake on the command line leaves no empty file behind.
    let guard = Guard::new(req.sources, req.force)?;
    let what = format!("the bytes of {}", req.at);
    guard.check(req.output, &what)?;
    for (p, what) in [
        (&req.manifest.manifest, "the manifest"),
        (&req.manifest.dfxml, "the DFXML manifest"),
    ] {
        if let Some(p) = p {
            guard.check(p, what)?;
        }
    }
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
    let mut manifest = Manifest::open(req.manifest, &guard, req.sources, req.at)?;
    let mut hash = manifest.as_ref().map(|_| Sha256::new());
    let failed = crate::output::write_node(&guard, node, &found.nodes, req.output, hash.as_mut())?
        || !found.failed.is_empty();
    if let (Some(mut m), Some(h), Some(vol)) = (manifest.take(), hash, node.volume.as_ref()) {
        let older = crate::manifest::older_metadata(&found.nodes, &node.path);
        let mut origins = vol.origins(0, vol.len());
        if !older.is_empty() {
            origins.add(0..vol.len(), Origin::OlderMetadata);
        }
        m.record(&Record {
            path: node.path.clone(),
            output: req.output.display().to_string(),
            kind: "node",
            size: vol.len(),
            sha256: Some(format!("{:x}", h.finalize())),
            origins: origins.normalized(),
            older_metadata: &older,
            stat: None,
            link_target: None,
            error: None,
        })?;
        m.finish()?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
