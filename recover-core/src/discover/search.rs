//! The deep search as a library call: every sector of a node's volume
//! searched for what a lost table leaves behind (TestDisk's deeper
//! search), the candidates assembled into a "recovered" table under the
//! node, and that table written as an sfdisk script.
//!
//! ```no_run
//! use recover_core::discover::{self, search};
//! use recover_core::io::{open_source, MapPolicy};
//!
//! let src = open_source("disk.img".as_ref(), MapPolicy::Auto)?;
//! let opts = discover::Options::default();
//! let mut nodes = discover::discover(&[(0, src)], &opts);
//! let paths = search::targets(&nodes, None);
//! let how = search::SearchOptions::default();
//! for s in search::search(&mut nodes, &paths, &how, &opts, &mut |_, _, _| {})? {
//!     for c in &s.cands {
//!         println!("{}: {} at {:#x}", s.path, c.format, c.start);
//!     }
//! }
//! // The recovered partitions are nodes now, explored like any other:
//! let p1 = discover::find(&nodes, "d0/recovered/p1");
//! # Ok::<(), recover_core::Error>(())
//! ```

use std::ops::Range;

use super::{find_mut, recovered_table, Node, NodeInfo, Options, SearchInfo};
use crate::error::Result;
use crate::scan::{self, Candidate, Finding, ScanOptions};

/// How to search.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// Search every sector, inside found filesystems too (finds what lies
    /// under a newer filesystem, every backup, VM images in files); else
    /// jump past each filesystem found with high confidence, as TestDisk does.
    pub thorough: bool,
    /// Only this byte range of each volume.
    pub range: Option<Range<u64>>,
}

/// What the search of one volume found.
#[derive(Debug, Clone)]
pub struct Searched {
    /// The volume's node path.
    pub path: String,
    /// The candidates, as in its "recovered" table.
    pub cands: Vec<Candidate>,
    /// The volume's size.
    pub len: u64,
    /// Its sector size: the device's, else 512.
    pub sector_size: u64,
}

impl Searched {
    /// The candidates as an sfdisk script for a disk of this volume's size.
    pub fn sfdisk_script(&self) -> String {
        sfdisk_script(&self.cands, self.len, self.sector_size)
    }
}

/// The paths of the nodes to search: `at`, or every source and assembled
/// array, less the disks that are whole members of an assembled array
/// (their bytes are searched through the array).
pub fn targets(nodes: &[Node], at: Option<&str>) -> Vec<String> {
    if let Some(p) = at {
        return vec![p.to_string()];
    }
    let members: Vec<String> = nodes
        .iter()
        .filter_map(|n| match &n.info {
            NodeInfo::Array(a) if n.volume.is_some() => {
                Some(a.members.iter().map(|m| m.path.clone()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    nodes
        .iter()
        .filter(|n| n.volume.is_some())
        .filter(|n| {
            !members
                .iter()
                .any(|m| m.split('/').count() == 2 && m.starts_with(&format!("{}/", n.path)))
        })
        .map(|n| n.path.clone())
        .collect()
}

/// A sink that keeps findings and reports progress.
struct Collect<'a> {
    found: Vec<Finding>,
    path: &'a str,
    progress: &'a mut dyn FnMut(&str, u64, u64),
}

impl scan::Sink for Collect<'_> {
    fn finding(&mut self, f: Finding) -> bool {
        self.found.push(f);
        true
    }
    fn progress(&mut self, done: u64, total: u64) {
        (self.progress)(self.path, done, total);
    }
}

/// Searches the volumes of the nodes at `paths` and adds a "recovered"
/// table under each (partitions explored with `opts`, like any other);
/// `progress(path, done, total)` is told how far each search is.
pub fn search(
    nodes: &mut Vec<Node>,
    paths: &[String],
    how: &SearchOptions,
    opts: &Options,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Vec<Searched>> {
    let mut done = Vec::new();
    for path in paths {
        let Some(node) = find_mut(nodes, path) else {
            continue;
        };
        let Some(vol) = node.volume.clone() else {
            continue;
        };
        let r = how
            .range
            .clone()
            .map(|r| r.start.min(vol.len())..r.end.min(vol.len()));
        let searched = r.clone().unwrap_or(0..vol.len());
        let mut sink = Collect {
            found: Vec::new(),
            path,
            progress: &mut *progress,
        };
        let scan_opts = ScanOptions {
            range: r,
            ..if how.thorough {
                ScanOptions::default()
            } else {
                ScanOptions::skipping()
            }
        };
        scan::scan(&vol, &scan_opts, &mut sink)?;
        let found = sink.found;
        let cands = scan::assemble(&found, vol.len());
        let info = SearchInfo {
            range: searched,
            thorough: how.thorough,
            findings: found,
        };
        let table = recovered_table(&vol, path, &cands, info, opts);
        node.children.push(table);
        done.push(Searched {
            path: path.clone(),
            cands,
            len: vol.len(),
            sector_size: vol.device_sector_size().map_or(512, u64::from),
        });
    }
    // VMFS devices in the recovered partitions make datastores of their own.
    let more = super::vmfs::datastores(nodes, opts);
    nodes.extend(more);
    Ok(done)
}

/// An sfdisk script that recreates the found partitions on a disk of
/// `disk_len` bytes with `ss`-byte sectors (sfdisk counts in the device's
/// sectors): a DOS table when the partitions fit one (within 2^32 sectors;
/// four primaries, or three and an extended partition whose logicals each
/// have a free sector before them for their EBR), a GPT otherwise.
pub fn sfdisk_script(cands: &[Candidate], disk_len: u64, ss: u64) -> String {
    let lba = |b: u64| b / ss;
    let end = |c: &Candidate| c.start + c.size.unwrap_or(disk_len.saturating_sub(c.start));
    let dos_limit = ss << 32;
    let under_2t = disk_len <= dos_limit && cands.iter().all(|c| end(c) <= dos_limit);
    let room_for_ebrs =
        cands.len() > 4 && (3..cands.len()).all(|i| cands[i].start >= end(&cands[i - 1]) + ss);
    let dos = under_2t && (cands.len() <= 4 || room_for_ebrs);
    let mut s = String::from(
        "# Partitions found by recover scan --deep. Review, then apply to the disk (or a copy) with\n# sfdisk --wipe never --wipe-partitions never DISK < THIS-FILE\n",
    );
    s.push_str(if dos { "label: dos\n" } else { "label: gpt\n" });
    s.push_str(&format!("unit: sectors\nsector-size: {ss}\n\n"));
    for (i, c) in cands.iter().enumerate() {
        if dos && cands.len() > 4 && i == 3 {
            // The extended partition: from just after the third primary
            // (at most 1 MiB before the first logical) to the last logical's end.
            let from = cands[3].start.saturating_sub(1 << 20).max(end(&cands[2]));
            let to = cands.iter().skip(3).map(end).max().unwrap_or(disk_len);
            s.push_str(&format!(
                "# extended partition holding the rest as logicals\nstart={}, size={}, type=5\n",
                lba(from),
                lba(to - from)
            ));
        }
        let sectors = (end(c) - c.start).div_ceil(ss);
        let hint = crate::registry::partition_hint(c.format);
        let ty = if dos {
            format!("{:x}", hint.mbr)
        } else {
            hint.gpt.to_string()
        };
        s.push_str(&format!(
            "# {} {} (confidence {}%)\n",
            c.format,
            c.label.as_deref().unwrap_or(""),
            c.confidence
        ));
        if c.start % ss != 0 {
            s.push_str(&format!("# this partition does not start on a {ss}-byte sector: it cannot be written as found\n"));
        }
        // The backup GPT: 128 entries of 128 bytes and the header sector.
        if !dos && end(c) > disk_len.saturating_sub((16 << 10) + ss) {
            s.push_str("# this partition reaches into the sectors a GPT keeps for its backup: sfdisk will refuse it\n");
        }
        s.push_str(&format!(
            "start={}, size={sectors}, type={ty}",
            lba(c.start)
        ));
        if let (Some(l), false) = (&c.label, dos) {
            s.push_str(&format!(", name=\"{}\"", l.replace('"', "")));
        }
        s.push('\n');
    }
    s
}
