//! Discovery settings, and where files an image names are looked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::image::siblings::HostDirs;
use crate::image::Chain;
use crate::io::{MapPolicy, Source};

/// Discovery settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Nesting cap.
    pub max_depth: usize,
    /// Drive serial numbers by source name, as the user gives them (IMSM
    /// names its members by serial; an image file does not carry one).
    pub serials: BTreeMap<String, String>,
    /// Directories where files that images name (backing files, parents,
    /// extents) are looked for, after the image's own directory.
    pub backing_dirs: Vec<PathBuf>,
    /// How those files are opened.
    pub map_policy: MapPolicy,
    /// Sample the members of each array read from its metadata against
    /// its level, and warn when the data disagrees (a wrong level, order
    /// or offset in the metadata). `check` turns it off: its scrub reads
    /// every row.
    pub crosscheck: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: DEFAULT_MAX_DEPTH,
            serials: BTreeMap::new(),
            backing_dirs: Vec::new(),
            map_policy: MapPolicy::Auto,
            crosscheck: true,
        }
    }
}

impl Options {
    /// The chain for an image that is not a file of its own (inside a
    /// partition or an array): only the user's directories are searched.
    pub(super) fn inner_chain(&self, path: &str) -> Chain {
        Chain::new(
            path.to_string(),
            Arc::new(HostDirs::new(
                None,
                self.backing_dirs.clone(),
                self.map_policy,
            )),
        )
    }

    /// The chain for a host file or device opened as a source: named files
    /// are looked for beside it, then in the user's directories.
    pub fn host_chain(&self, src: &Source) -> Chain {
        let path = Path::new(&src.name);
        let identity = std::fs::canonicalize(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| src.name.clone());
        Chain::new(
            identity,
            Arc::new(HostDirs::for_source(
                path,
                self.backing_dirs.clone(),
                self.map_policy,
            )),
        )
    }
}
