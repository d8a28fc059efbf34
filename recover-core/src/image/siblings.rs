//! The other files an image names: a qcow2 backing file, a VHD or VHDX
//! parent, VMDK extents. Images store them by name, usually relative to
//! the image's own directory, so opening one needs to know where the image
//! lives: a directory on the host, a directory inside a filesystem, or
//! nowhere (then only the directories the user gives are searched).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::{open_source, MapPolicy, VolumeRef};

/// How long a chain of backing files may be before it is taken for a loop
/// the identity check missed (QEMU itself has no fixed cap; real chains are
/// a handful of snapshots deep).
pub const MAX_CHAIN: usize = 32;

/// A file found by name.
#[derive(Clone, Debug)]
pub struct Found {
    /// What names it uniquely (a canonical host path, or a filesystem node
    /// and its inode), so a chain that comes back to it is seen as a cycle.
    pub identity: String,
    /// Its bytes.
    pub volume: VolumeRef,
    /// Where the names it gives in turn are looked for.
    pub siblings: Arc<dyn Siblings>,
}

/// Finds files named by an image.
pub trait Siblings: Send + Sync + std::fmt::Debug {
    /// Opens `name` as the image stores it (relative or absolute, `/` or
    /// `\` separated). Errors say where it was looked for.
    fn open(&self, name: &str) -> Result<Found>;
}

/// Looks nowhere: every named file is reported as not found.
#[derive(Debug)]
pub struct Nowhere;

impl Siblings for Nowhere {
    fn open(&self, name: &str) -> Result<Found> {
        Err(Error::Open {
            source: None,
            path: name.to_string(),
            detail: "not looked for (the image is not in a directory that can be searched; give --backing-dir)".into(),
        })
    }
}

/// The last component of a name as an image stores it: Windows images
/// store `C:\VMs\base.vhd`, and the file is usually beside the child now.
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Host directories: the image's own first, then the user's.
#[derive(Debug, Clone)]
pub struct HostDirs {
    dirs: Vec<PathBuf>,
    extra: Arc<Vec<PathBuf>>,
    policy: MapPolicy,
}

impl HostDirs {
    /// Looks in `own` (the image's directory, when it is a host file), then
    /// in each of `extra`, in order.
    pub fn new(own: Option<PathBuf>, extra: Vec<PathBuf>, policy: MapPolicy) -> HostDirs {
        HostDirs {
            dirs: own.into_iter().collect(),
            extra: Arc::new(extra),
            policy,
        }
    }

    /// For a source opened from `path` on the host.
    pub fn for_source(path: &Path, extra: Vec<PathBuf>, policy: MapPolicy) -> HostDirs {
        let own = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        });
        HostDirs::new(own, extra, policy)
    }

    fn candidates(&self, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let given = Path::new(name);
        if given.is_absolute() {
            out.push(given.to_path_buf());
        }
        let base = base_name(name);
        for d in self.dirs.iter().chain(self.extra.iter()) {
            if !given.is_absolute() && !name.contains('\\') {
                out.push(d.join(given));
            }
            if !base.is_empty() {
                out.push(d.join(base));
            }
        }
        out.dedup();
        out
    }
}

impl Siblings for HostDirs {
    fn open(&self, name: &str) -> Result<Found> {
        let tried = self.candidates(name);
        for p in &tried {
            if !p.is_file() && !is_block_device(p) {
                continue;
            }
            let src = open_source(p, self.policy)?;
            let identity = std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string();
            let siblings = Arc::new(HostDirs {
                dirs: p.parent().map(Path::to_path_buf).into_iter().collect(),
                extra: self.extra.clone(),
                policy: self.policy,
            });
            return Ok(Found {
                identity,
                volume: src.volume,
                siblings,
            });
        }
        let looked: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        Err(Error::Open {
            source: None,
            path: name.to_string(),
            detail: if looked.is_empty() {
                "no directory to look in (give --backing-dir)".into()
            } else {
                format!("not found (looked for {})", looked.join(", "))
            },
        })
    }
}

fn is_block_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// Where an image sits in a chain of images opened one through the other,
/// so that a chain which loops back, or goes on without end, stops.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Identities of the images opened so far, the first one first.
    pub seen: Vec<String>,
    /// Where the current image's named files are looked for.
    pub siblings: Arc<dyn Siblings>,
}

impl Chain {
    /// The start of a chain, at an image whose named files are looked for
    /// in `siblings`.
    pub fn new(identity: String, siblings: Arc<dyn Siblings>) -> Chain {
        Chain {
            seen: vec![identity],
            siblings,
        }
    }

    /// Opens the file `name` that the current image names (as `what`: "backing
    /// file", "parent", "extent"), checking for cycles and the chain cap,
    /// and returns it with the chain as it stands at that file.
    pub fn open(&self, name: &str, what: &str) -> Result<(VolumeRef, Chain)> {
        if self.seen.len() >= MAX_CHAIN {
            return Err(Error::Open {
                source: None,
                path: name.to_string(),
                detail: format!(
                    "{what} chain is more than {MAX_CHAIN} images long; taken for a loop"
                ),
            });
        }
        let f = self.siblings.open(name)?;
        if self.seen.contains(&f.identity) {
            return Err(Error::Open {
                source: None,
                path: name.to_string(),
                detail: format!(
                    "{what} chain loops back to {} (after {})",
                    f.identity,
                    self.seen.join(" -> ")
                ),
            });
        }
        let mut seen = self.seen.clone();
        seen.push(f.identity);
        Ok((
            f.volume,
            Chain {
                seen,
                siblings: f.siblings,
            },
        ))
    }
}

impl Default for Chain {
    fn default() -> Chain {
        Chain {
            seen: Vec::new(),
            siblings: Arc::new(Nowhere),
        }
    }
}

/// A directory inside a filesystem: for an image that is a file there
/// (`d0/gpt/p2/ext4:/var/lib/libvirt/images/vm.qcow2`), whose backing file
/// usually sits beside it. Names not found there are looked for in the
/// user's host directories.
pub struct FsDir {
    fs: crate::fs::FileSystemRef,
    node: String,
    dir: String,
    host: HostDirs,
}

impl std::fmt::Debug for FsDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FsDir({}:{})", self.node, self.dir)
    }
}

impl FsDir {
    /// The directory `dir` (`/`-separated, from the root) of the filesystem
    /// `fs` at node `node`; `extra` are the user's host directories.
    pub fn new(
        fs: crate::fs::FileSystemRef,
        node: String,
        dir: String,
        extra: Vec<PathBuf>,
        policy: MapPolicy,
    ) -> FsDir {
        FsDir {
            fs,
            node,
            dir,
            host: HostDirs::new(None, extra, policy),
        }
    }

    /// The filesystem directory of the file at `path` (`/a/b/vm.qcow2` gives `/a/b`).
    pub fn parent_of(path: &str) -> String {
        match path.trim_end_matches('/').rsplit_once('/') {
            Some((d, _)) if !d.is_empty() => d.to_string(),
            _ => "/".to_string(),
        }
    }

    fn try_path(&self, path: &str) -> Option<Result<Found>> {
        use crate::fs::FileKind;
        let id = crate::fs::filesystem::lookup(self.fs.as_ref(), path).ok()?;
        let stat = self.fs.stat(id).ok()?;
        if stat.kind() != FileKind::File {
            return None;
        }
        Some(self.fs.open(id).map(|volume| Found {
            identity: format!("{}:{path}", self.node),
            volume,
            siblings: Arc::new(FsDir {
                fs: self.fs.clone(),
                node: self.node.clone(),
                dir: FsDir::parent_of(path),
                host: self.host.clone(),
            }),
        }))
    }
}

/// `name` taken relative to `dir`, with `.` and `..` worked out.
fn join_normalized(dir: &str, name: &str) -> String {
    let start = if name.starts_with('/') { "" } else { dir };
    let mut parts: Vec<&str> = Vec::new();
    for c in start.split('/').chain(name.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Siblings for FsDir {
    fn open(&self, name: &str) -> Result<Found> {
        let mut tried = Vec::new();
        if !name.contains('\\') {
            tried.push(join_normalized(&self.dir, name));
        }
        tried.push(join_normalized(&self.dir, base_name(name)));
        tried.dedup();
        for p in &tried {
            if let Some(found) = self.try_path(p) {
                return found;
            }
        }
        self.host.open(name).map_err(|e| Error::Open {
            source: None,
            path: name.to_string(),
            detail: format!(
                "not found in {} (looked for {}), nor on the host ({e})",
                self.node,
                tried.join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_joined_and_normalized() {
        assert_eq!(join_normalized("/a/b", "c.qcow2"), "/a/b/c.qcow2");
        assert_eq!(join_normalized("/a/b", "../c.qcow2"), "/a/c.qcow2");
        assert_eq!(join_normalized("/a/b", "/x/./y"), "/x/y");
        assert_eq!(join_normalized("/", "../../z"), "/z");
        assert_eq!(base_name(r"C:\VMs\base.vhd"), "base.vhd");
        assert_eq!(FsDir::parent_of("/a/b/vm.qcow2"), "/a/b");
        assert_eq!(FsDir::parent_of("/vm.qcow2"), "/");
    }

    #[test]
    fn a_chain_that_comes_back_is_refused() {
        #[derive(Debug)]
        struct Loop;
        impl Siblings for Loop {
            fn open(&self, name: &str) -> Result<Found> {
                Ok(Found {
                    identity: name.to_string(),
                    volume: Arc::new(crate::io::MemVolume::new(name, vec![0; 512])),
                    siblings: Arc::new(Loop),
                })
            }
        }
        let c = Chain::new("a".into(), Arc::new(Loop));
        let (_, c) = c.open("b", "backing file").unwrap();
        let e = c.open("a", "backing file").unwrap_err().to_string();
        assert!(e.contains("loops back to a"), "{e}");
        let mut c = Chain::new("0".into(), Arc::new(Loop));
        for i in 1..MAX_CHAIN {
            c = c.open(&i.to_string(), "backing file").unwrap().1;
        }
        let e = c.open("x", "backing file").unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
    }
}
