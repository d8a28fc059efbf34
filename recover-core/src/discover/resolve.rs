//! What a path names: a node of the tree (`d0/gpt/p2`), or a file inside a
//! filesystem node (`d0/gpt/p2/ext4:/var/lib/images/vm.img`). A path
//! that goes on below a regular file looks into the file as a disk:
//! `d0/gpt/p2/ext4:/vm.img/gpt/p1/ext4:/etc/fstab`. The CLI's `--at`
//! takes these paths.

use std::sync::Arc;

use super::search::{search, SearchOptions};
use super::{discover_in, find, Node, NodeKind, Options};
use crate::error::{Error, Result};
use crate::fs::{filesystem, FileId, FileKind, FileSystemRef, Stat};
use crate::image::siblings::FsDir;
use crate::image::Chain;
use crate::io::{Source, SourceKind, VolumeRef};

/// What a path resolves to.
#[derive(Debug)]
pub enum Target {
    /// A node: of the sources' trees, or of a tree found inside a file.
    Node(Box<Node>),
    /// A file or directory inside a filesystem.
    File(Box<FileTarget>),
}

/// A file or directory inside a filesystem.
pub struct FileTarget {
    /// The filesystem.
    pub fs: FileSystemRef,
    /// The file.
    pub id: FileId,
    /// Its stat.
    pub stat: Stat,
    /// The filesystem node's path (`d0/gpt/p2/ext4`).
    pub fs_node: String,
    /// The path inside the filesystem (`/dir/file`; `/` for the root).
    pub fs_path: String,
}

impl std::fmt::Debug for FileTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileTarget({})", self.display())
    }
}

impl FileTarget {
    /// `FSNODE:/path`, as `--at` takes it.
    pub fn display(&self) -> String {
        format!("{}:{}", self.fs_node, self.fs_path)
    }
}

fn not_found(at: &str, why: impl std::fmt::Display) -> Error {
    Error::BadPath {
        path: at.to_string(),
        why: why.to_string(),
    }
}

/// The deepest node whose path followed by ':' starts `at`.
fn fs_prefix<'a>(nodes: &'a [Node], at: &str) -> Option<&'a Node> {
    let mut best = None;
    for n in nodes {
        if at.starts_with(&format!("{}:", n.path)) {
            best = Some(n);
        }
        if at.starts_with(&format!("{}/", n.path)) {
            if let Some(d) = fs_prefix(&n.children, at) {
                best = Some(d);
            }
        }
    }
    best
}

/// The filesystem of `node`: itself, or its one filesystem child (a
/// partition holding one filesystem).
pub fn filesystem_of(node: &Node, at: &str) -> Result<(FileSystemRef, String)> {
    let fsnode = if node.kind == NodeKind::Filesystem {
        node
    } else {
        let fss: Vec<&Node> = node
            .children
            .iter()
            .filter(|c| c.kind == NodeKind::Filesystem)
            .collect();
        match fss[..] {
            [one] => one,
            _ => {
                return Err(not_found(
                    at,
                    format!(
                        "{} is a {}, not a filesystem",
                        node.path,
                        node.kind.as_str()
                    ),
                ))
            }
        }
    };
    let vol = fsnode
        .volume
        .clone()
        .ok_or_else(|| not_found(at, format!("the bytes of {} cannot be read", fsnode.path)))?;
    match crate::registry::open_filesystem(&fsnode.format, vol) {
        None => Err(not_found(
            at,
            format!(
                "{} is {}, which holds no files this build reads",
                fsnode.path, fsnode.format
            ),
        )),
        Some(Err(e)) => Err(not_found(at, e)),
        Some(Ok(fs)) => Ok((fs, fsnode.path.clone())),
    }
}

/// Resolves `at` in `nodes`.
pub fn resolve(nodes: &[Node], at: &str, opts: &Options) -> Result<Target> {
    if let Some(n) = find(nodes, at) {
        return Ok(Target::Node(Box::new(n.clone())));
    }
    let node = fs_prefix(nodes, at)
        .ok_or_else(|| not_found(at, "no such node (run scan to see the paths)"))?;
    let rest = &at[node.path.len() + 1..]; // ok: the prefix matched
    let (fs, fs_node) = filesystem_of(node, at)?;
    let mut id = fs.root();
    let mut fs_path = String::new();
    let mut remaining = rest;
    loop {
        let trimmed = remaining.trim_start_matches('/');
        let (comp, after) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        if comp.is_empty() {
            break;
        }
        if comp == "." {
            remaining = after;
            continue;
        }
        let stat = fs.stat(id).map_err(|e| not_found(at, e))?;
        if stat.kind() == FileKind::File {
            // Below a regular file: look into it as a disk.
            let vol = fs.open(id).map_err(|e| not_found(at, e))?;
            let root = discover_file(&fs, &fs_node, &fs_path, vol, opts);
            return resolve(std::slice::from_ref(&root), at, opts);
        }
        let entries = fs.read_dir(id).map_err(|e| not_found(at, e))?;
        let found = filesystem::find_entry(&entries, comp);
        fs_path.push('/');
        fs_path.push_str(comp);
        match found {
            Some(e) => id = e.id,
            None => {
                return Err(not_found(
                    at,
                    format!("{fs_node}:{fs_path}: no such file or directory"),
                ))
            }
        }
        remaining = after;
    }
    if fs_path.is_empty() {
        fs_path.push('/');
    }
    let stat = fs.stat(id).map_err(|e| not_found(at, e))?;
    Ok(Target::File(Box::new(FileTarget {
        fs,
        id,
        stat,
        fs_node,
        fs_path,
    })))
}

/// The file or directory `at` names; a filesystem node (or a partition
/// holding one filesystem) names its root.
pub fn file_target(nodes: &[Node], at: &str, opts: &Options) -> Result<FileTarget> {
    match resolve(nodes, at, opts)? {
        Target::File(t) => Ok(*t),
        Target::Node(n) => {
            match resolve(std::slice::from_ref(&*n), &format!("{}:/", n.path), opts)? {
                Target::File(t) => Ok(*t),
                Target::Node(_) => Err(not_found(at, "not a filesystem")),
            }
        }
    }
}

/// A file target as a node: the file looked into as a disk, its tree
/// below it (`scan --at FSNODE:/file`, `extract --at FSNODE:/file`).
pub fn file_node(t: &FileTarget, opts: &Options) -> Result<Node> {
    let vol = t.fs.open(t.id).map_err(|e| not_found(&t.display(), e))?;
    Ok(discover_file(&t.fs, &t.fs_node, &t.fs_path, vol, opts))
}

/// The tree inside the file `fs_path` of the filesystem at `fs_node`: files
/// an image there names are looked for beside it in the same filesystem,
/// then in the user's `--backing-dir`s.
fn discover_file(
    fs: &FileSystemRef,
    fs_node: &str,
    fs_path: &str,
    vol: VolumeRef,
    opts: &Options,
) -> Node {
    let path = format!("{fs_node}:{fs_path}");
    let src = Source {
        name: path.clone(),
        volume: vol,
        kind: SourceKind::File,
    };
    let dir = FsDir::new(
        fs.clone(),
        fs_node.to_string(),
        FsDir::parent_of(fs_path),
        opts.backing_dirs.clone(),
        opts.map_policy,
    );
    let chain = Chain::new(path.clone(), Arc::new(dir));
    let mut root = discover_in(&src, path, opts, &chain);
    root.kind = NodeKind::File;
    root
}

/// A path under a "recovered" table: searches that volume again, as
/// `scan --deep` did (with the same `--thorough` and `--range`), so the
/// recovered partitions are there to be found; a VMFS datastore not found
/// otherwise: searches every source, as `scan --deep` does.
pub fn prepare(
    nodes: &mut Vec<Node>,
    at: &str,
    how: &SearchOptions,
    opts: &Options,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<()> {
    if let Some((parent, _)) = at.split_once("/recovered") {
        if find(nodes, parent).is_some() {
            search(nodes, &[parent.to_string()], how, opts, progress)?;
        }
        return Ok(());
    }
    // A datastore that discovery did not find is one whose device only a
    // deep scan finds (its partition table gone): search every source.
    let node = at.split_once(':').map_or(at, |(n, _)| n);
    if node.starts_with("vmfs/") && find(nodes, node).is_none() {
        let all = super::search::targets(nodes, None);
        search(nodes, &all, how, opts, progress)?;
    }
    Ok(())
}

/// Makes `at` findable in `nodes` with `discover::find` when it names
/// something inside a file: the tree found inside the file (or the file
/// looked into as a disk) is added as one more root. Directories are
/// refused (`ls` lists them).
pub fn graft(nodes: &mut Vec<Node>, at: &str, opts: &Options) -> Result<()> {
    if find(nodes, at).is_some() || !at.contains(':') {
        return Ok(());
    }
    let node = match resolve(nodes, at, opts)? {
        Target::Node(n) => *n,
        Target::File(t) if t.stat.kind() == FileKind::File => file_node(&t, opts)?,
        Target::File(t) => {
            return Err(not_found(
                at,
                format!(
                    "{} is a {}, not a file (ls lists it)",
                    t.display(),
                    t.stat.kind().as_str()
                ),
            ))
        }
    };
    nodes.push(node);
    Ok(())
}
