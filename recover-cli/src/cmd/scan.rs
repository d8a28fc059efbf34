//! `recover scan`: the tree of what the sources hold, and with --deep what
//! a search of every sector finds.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use recover_core::discover::{self, Node, NodeInfo};
use recover_core::scan::{self, Candidate, Finding, ScanOptions};
use recover_core::Severity;

use crate::output::Guard;
use crate::progress::Progress;
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
        if let Err(e) = super::target::graft(&mut found.nodes, p, &found.opts) {
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
        deep(&mut found.nodes, req, &guard)?;
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

/// START..END with sizes; either end may be left out.
fn parse_range(s: &str) -> io::Result<std::ops::Range<u64>> {
    let (a, b) = s.split_once("..").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--range {s}: give START..END"),
        )
    })?;
    let a = if a.is_empty() {
        0
    } else {
        super::assemble::parse_size(a)?
    };
    let b = if b.is_empty() {
        u64::MAX
    } else {
        super::assemble::parse_size(b)?
    };
    if a >= b {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--range {s}: the start is not before the end"),
        ));
    }
    Ok(a..b)
}

/// The paths of the nodes to search: the --at node, or every source and
/// assembled array, less the disks that are whole members of an assembled
/// array (their bytes are searched through the array).
fn targets(nodes: &[Node], at: Option<&str>) -> Vec<String> {
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

fn find_mut<'a>(nodes: &'a mut [Node], path: &str) -> Option<&'a mut Node> {
    for n in nodes {
        if n.path == path {
            return Some(n);
        }
        if path.starts_with(&format!("{}/", n.path)) {
            return find_mut(&mut n.children, path);
        }
    }
    None
}

/// A sink that keeps findings and moves a progress bar.
struct Collect {
    found: Vec<Finding>,
    progress: Progress,
}

impl scan::Sink for Collect {
    fn finding(&mut self, f: Finding) -> bool {
        self.found.push(f);
        true
    }
    fn progress(&mut self, done: u64, _total: u64) {
        self.progress.set(done);
    }
}

/// What the search of one volume found.
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

/// Runs the deep scan on the nodes at `paths` and adds a "recovered" table
/// under each; progress with ETA on a terminal.
pub fn search(
    nodes: &mut [Node],
    paths: &[String],
    how: &crate::SearchOpts,
) -> io::Result<Vec<Searched>> {
    let range = how.range.as_deref().map(parse_range).transpose()?;
    let mut done = Vec::new();
    for path in paths {
        let Some(node) = find_mut(nodes, path) else {
            continue;
        };
        let Some(vol) = node.volume.clone() else {
            continue;
        };
        let r = range
            .clone()
            .map(|r| r.start.min(vol.len())..r.end.min(vol.len()));
        let searched = r.clone().unwrap_or(0..vol.len());
        let total = searched.end - searched.start;
        let mut sink = Collect {
            found: Vec::new(),
            progress: Progress::bytes(total, &format!("deep scan {path}")),
        };
        let opts = ScanOptions {
            range: r,
            ..if how.thorough {
                ScanOptions::default()
            } else {
                ScanOptions::skipping()
            }
        };
        scan::scan(&vol, &opts, &mut sink).map_err(io::Error::other)?;
        sink.progress.finish();
        let cands = scan::assemble(&sink.found, vol.len());
        let info = discover::SearchInfo {
            range: searched,
            thorough: how.thorough,
            findings: sink.found,
        };
        let table =
            discover::recovered_table(&vol, path, &cands, info, &discover::Options::default());
        node.children.push(table);
        done.push(Searched {
            path: path.clone(),
            cands,
            len: vol.len(),
            sector_size: vol.device_sector_size().map_or(512, u64::from),
        });
    }
    Ok(done)
}

/// What --emit-sfdisk writes, for messages.
const SFDISK_SCRIPT: &str = "the sfdisk script";

fn deep(nodes: &mut [Node], req: &Request, guard: &Guard) -> io::Result<()> {
    let scripts = search(nodes, &targets(nodes, req.at), req.search)?;
    if let Some(file) = req.emit_sfdisk {
        let with: Vec<&Searched> = scripts.iter().filter(|s| !s.cands.is_empty()).collect();
        match with.as_slice() {
            [] => {
                return Err(io::Error::other(
                    "--emit-sfdisk: nothing was found to write",
                ))
            }
            [one] => guard.write_file(
                file,
                sfdisk_script(&one.cands, one.len, one.sector_size).as_bytes(),
                SFDISK_SCRIPT,
            )?,
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
        let ty = if dos {
            format!("{:x}", discover::mbr_type_for(c.format))
        } else {
            match c.format {
                "ntfs" | "exfat" | "fat12" | "fat16" | "fat32" => {
                    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7".to_string()
                }
                "swap" => "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F".to_string(),
                "lvm2" => "E6D6D379-F507-44C2-A23C-238F2A3DF928".to_string(),
                "md" => "A19D880F-05FC-4D3B-A006-743F0F84911E".to_string(),
                _ => "0FC63DAF-8483-4772-8E79-3D69D8477DE4".to_string(),
            }
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
