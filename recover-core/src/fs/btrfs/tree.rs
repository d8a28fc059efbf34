//! B-tree nodes and leaves, read with their checksums verified, and the
//! walks over them: the item at or before a key, and the items in a key
//! range, each bounded in depth and in nodes visited.
//!
//! Header (ctree.h / btrfs_tree.h, struct btrfs_header, 101 bytes): csum
//! [32] 0x00 (over bytes 0x20..nodesize), fsid [16] 0x20, bytenr u64 0x30,
//! flags u64 0x38, chunk_tree_uuid [16] 0x40, generation u64 0x50, owner
//! u64 0x58, nritems u32 0x60, level u8 0x64. A leaf then holds nritems
//! struct btrfs_item (key 0, offset u32 17, size u32 21; 25 bytes) whose
//! data offsets count from the end of the header; a node holds nritems
//! struct btrfs_key_ptr (key 0, blockptr u64 17, generation u64 25; 33
//! bytes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::problem::Problem;

use super::csum::CsumType;
use super::items::Key;
use super::sb::MAX_LEVEL;
use super::space::Space;

/// Bytes of a node header.
pub const HEADER: usize = 101;
const ITEM: usize = 25;
const KEY_PTR: usize = 33;
/// Most nodes one walk visits before it stops: a tree that needs more for
/// one query is damage (or a loop).
pub const MAX_VISITS: usize = 1 << 20;
/// Nodes kept in the cache.
const CACHE_NODES: usize = 2048;

/// A node or leaf whose header and checksum were checked.
#[derive(Debug)]
pub struct Node {
    /// Its logical address.
    pub logical: u64,
    /// The device offset it was read from.
    pub physical: u64,
    /// Its level (0: a leaf).
    pub level: u8,
    /// The tree that owns it.
    pub owner: u64,
    nritems: usize,
    bytes: Vec<u8>,
}

/// One item of a leaf.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// Its key.
    pub key: Key,
    /// Its data.
    pub data: &'a [u8],
    /// Device offset of the data, for messages.
    pub physical: u64,
}

impl Node {
    fn what(&self) -> &'static str {
        if self.level == 0 {
            "Btrfs leaf"
        } else {
            "Btrfs node"
        }
    }

    /// An error about byte `at` of this node.
    pub fn corrupt(&self, at: usize, detail: impl Into<String>) -> Error {
        Error::corrupt(
            self.what(),
            self.physical.saturating_add(at as u64),
            format!(
                "{} at logical {:#x} (tree {}): {}",
                self.what().trim_start_matches("Btrfs "),
                self.logical,
                self.owner,
                detail.into()
            ),
        )
    }

    /// Number of items or key pointers.
    pub fn len(&self) -> usize {
        self.nritems
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.nritems == 0
    }

    /// The key of item or pointer `i`.
    pub fn key(&self, i: usize) -> Option<Key> {
        let size = if self.level == 0 { ITEM } else { KEY_PTR };
        Key::read(&self.bytes, HEADER + i.checked_mul(size)?)
    }

    /// Key pointer `i` of a node: its key and child address.
    pub fn ptr(&self, i: usize) -> Option<(Key, u64)> {
        let at = HEADER + i.checked_mul(KEY_PTR)?;
        Some((
            Key::read(&self.bytes, at)?,
            Bytes(&self.bytes).le_u64(at + 17)?,
        ))
    }

    /// Item `i` of a leaf.
    pub fn item(&self, i: usize) -> Result<Item<'_>> {
        let at = HEADER + i * ITEM; // ok: i < nritems, which fits the node
        let r = Bytes(&self.bytes);
        let (key, off, size) = (|| {
            Some((
                Key::read(&self.bytes, at)?,
                r.le_u32(at + 17)? as usize,
                r.le_u32(at + 21)? as usize,
            ))
        })()
        .ok_or_else(|| self.corrupt(at, format!("item {i} cut short")))?;
        let start = HEADER.saturating_add(off);
        let data = r.get(start, size).ok_or_else(|| {
            self.corrupt(
                at + 17,
                format!("item {i} data ({size} bytes at {off:#x}) lies outside the leaf"),
            )
        })?;
        Ok(Item {
            key,
            data,
            physical: self.physical.saturating_add(start as u64),
        })
    }

    /// Checks a node read from `logical` (its bytes `b`, from device
    /// offset `physical`).
    pub fn parse(
        b: Vec<u8>,
        logical: u64,
        physical: u64,
        fsid: &[u8; 16],
        csum: CsumType,
    ) -> Result<Node> {
        let r = Bytes(&b);
        let bad = |at: u64, d: String| {
            Error::corrupt(
                "Btrfs tree block",
                physical.saturating_add(at),
                format!("block at logical {logical:#x}: {d}"),
            )
        };
        let short = || bad(0, "cut short".into());
        if let Some(false) = csum.matches(
            r.get(0, 32).ok_or_else(short)?,
            b.get(0x20..).ok_or_else(short)?,
        ) {
            return Err(bad(0, format!("{} checksum mismatch", csum.name())));
        }
        let bytenr = r.le_u64(0x30).ok_or_else(short)?;
        if bytenr != logical {
            return Err(bad(0x30, format!("says it is at {bytenr:#x}")));
        }
        if r.get(0x20, 16) != Some(&fsid[..]) {
            return Err(bad(0x20, "belongs to another filesystem (fsid)".into()));
        }
        let level = r.u8(0x64).ok_or_else(short)?;
        if level > MAX_LEVEL {
            return Err(bad(0x64, format!("level {level}")));
        }
        let nritems = r.le_u32(0x60).ok_or_else(short)? as usize;
        let size = if level == 0 { ITEM } else { KEY_PTR };
        if nritems.saturating_mul(size).saturating_add(HEADER) > b.len() {
            return Err(bad(0x60, format!("{nritems} items do not fit")));
        }
        Ok(Node {
            logical,
            physical,
            level,
            owner: r.le_u64(0x58).ok_or_else(short)?,
            nritems,
            bytes: b,
        })
    }
}

/// Reads tree blocks: every copy tried until one checks, a cache of the
/// recent ones.
#[derive(Debug)]
pub struct Trees {
    /// The address space.
    pub space: Space,
    /// Bytes of a node.
    pub nodesize: u32,
    /// The fsid headers carry.
    pub fsid: [u8; 16],
    /// The checksum type.
    pub csum: CsumType,
    cache: Mutex<HashMap<u64, Arc<Node>>>,
    problems: Arc<ProblemLog>,
}

impl Trees {
    /// A reader over `space`.
    pub fn new(
        space: Space,
        nodesize: u32,
        fsid: [u8; 16],
        csum: CsumType,
        problems: Arc<ProblemLog>,
    ) -> Trees {
        Trees {
            space,
            nodesize,
            fsid,
            csum,
            cache: Mutex::new(HashMap::new()),
            problems,
        }
    }

    /// The node at `logical`, which must be at `level`. A copy that fails
    /// its checks is reported and the next copy tried; when none checks,
    /// the first copy's error.
    pub fn node(&self, logical: u64, level: u8) -> Result<Arc<Node>> {
        if let Some(n) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&logical)
        {
            return self.check_level(n.clone(), level);
        }
        let mirrors = self.space.mirrors(logical);
        let mut first_err = None;
        for m in 0..mirrors {
            // The copy's device offset names it in messages; a rebuilt
            // RAID5/6 block has none of its own and is named by its logical
            // address.
            let phys = self.space.locate(logical, m).map_or(logical, |(_, p, _)| p);
            let n = self.nodesize as usize;
            let mut b = vec![0u8; n];
            let got = self
                .space
                .read(logical, &mut b, m)
                .and_then(|()| Node::parse(b, logical, phys, &self.fsid, self.csum));
            match got {
                Ok(node) => {
                    let node = Arc::new(node);
                    let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                    if c.len() >= CACHE_NODES {
                        c.clear();
                    }
                    c.insert(logical, node.clone());
                    return self.check_level(node, level);
                }
                Err(e) => {
                    if mirrors > 1 {
                        // Which copy failed, by device: the next is tried.
                        let mut p = Problem::from_error(
                            crate::problem::Severity::Error,
                            "Btrfs tree block",
                            &e,
                        );
                        p.detail = format!(
                            "{} (copy {m}, {}){}",
                            p.detail,
                            self.space.position(logical, m),
                            if m + 1 < mirrors {
                                "; the next copy is read"
                            } else {
                                ""
                            }
                        );
                        self.problems.push(p);
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| {
            Error::corrupt("Btrfs tree block", logical, "no copy could be read")
        }))
    }

    fn check_level(&self, n: Arc<Node>, level: u8) -> Result<Arc<Node>> {
        if n.level != level {
            return Err(n.corrupt(
                0x64,
                format!("level {} where {level} was expected", n.level),
            ));
        }
        Ok(n)
    }

    /// Calls `f` for every item of the tree rooted at `root` (address,
    /// level) whose key lies in `min..=max`, in key order, until `f`
    /// answers false.
    pub fn range(
        &self,
        root: (u64, u8),
        min: Key,
        max: Key,
        f: &mut dyn FnMut(&Item) -> Result<bool>,
    ) -> Result<()> {
        let mut visits = 0usize;
        self.range_in(root.0, root.1, min, max, f, &mut visits)
            .map(|_| ())
    }

    /// False when `f` asked to stop.
    fn range_in(
        &self,
        at: u64,
        level: u8,
        min: Key,
        max: Key,
        f: &mut dyn FnMut(&Item) -> Result<bool>,
        visits: &mut usize,
    ) -> Result<bool> {
        *visits += 1;
        if *visits > MAX_VISITS {
            return Err(Error::corrupt(
                "Btrfs tree",
                at,
                format!("more than {MAX_VISITS} nodes visited for one lookup (a loop?)"),
            ));
        }
        let node = self.node(at, level)?;
        if level == 0 {
            for i in 0..node.len() {
                let item = node.item(i)?;
                if item.key < min {
                    continue;
                }
                if item.key > max || !f(&item)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        for i in 0..node.len() {
            let (key, child) = node
                .ptr(i)
                .ok_or_else(|| node.corrupt(HEADER, "cut short"))?;
            if key > max {
                return Ok(false);
            }
            // The child holds keys up to the next pointer's key.
            if let Some(next) = node.key(i + 1).filter(|_| i + 1 < node.len()) {
                if next <= min {
                    continue;
                }
            }
            if !self.range_in(child, level - 1, min, max, f, visits)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The item with the greatest key at or before `key`, as its key and a
    /// copy of its data and data offset.
    pub fn floor(&self, root: (u64, u8), key: Key) -> Result<Option<(Key, Vec<u8>, u64)>> {
        let (mut at, mut level) = root;
        for _ in 0..=MAX_LEVEL {
            let node = self.node(at, level)?;
            // The last entry whose key is <= key.
            let mut lo = 0usize;
            let mut hi = node.len();
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let k = node
                    .key(mid)
                    .ok_or_else(|| node.corrupt(HEADER, "cut short"))?;
                if k <= key {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let Some(i) = lo.checked_sub(1) else {
                return Ok(None);
            };
            if level == 0 {
                let it = node.item(i)?;
                return Ok(Some((it.key, it.data.to_vec(), it.physical)));
            }
            let (_, child) = node
                .ptr(i)
                .ok_or_else(|| node.corrupt(HEADER, "cut short"))?;
            at = child;
            level -= 1;
        }
        Err(Error::corrupt("Btrfs tree", at, "deeper than 8 levels"))
    }

    /// The data of the item with exactly `key`.
    pub fn get(&self, root: (u64, u8), key: Key) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self
            .floor(root, key)?
            .filter(|(k, _, _)| *k == key)
            .map(|(_, d, p)| (d, p)))
    }
}
