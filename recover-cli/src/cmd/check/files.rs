//! The files part of `recover check`: every file of every filesystem found
//! (or below `--at`) read through, with a verdict each
//! (`recover_core::fs::verify`): ok, suspect (bytes from a stripe row the
//! scrub found inconsistent), damaged (a structure at fault), partly
//! unreadable (zeros for data that could not be had) or skipped (its data
//! is elsewhere), with the ranges. Files are read in parallel, one file on
//! one thread; the VM images among them are checked and their guests'
//! filesystems read in turn.

use std::io::{self, Write};

use rayon::prelude::*;
use serde_json::{json, Value};

use recover_core::discover::resolve::{self, FileTarget};
use recover_core::discover::{Node, NodeInfo, NodeKind};
use recover_core::fs::verify::{read_through, Verdict, Verified};
use recover_core::fs::{walk, Detail, FileId, FileKind, FileSystemRef};
use recover_core::image::check::ImageCheck;
use recover_core::io::{Origin, VolumeRef};

use crate::progress::Progress;
use crate::report::human;

/// A filesystem (or a directory or file in one) to read through.
pub struct Target {
    /// The filesystem node (`md0/mbr/p1/ext4`).
    pub node: String,
    pub format: String,
    pub fs: FileSystemRef,
    /// Where the walk starts, and its path in the filesystem (`/` for
    /// the root).
    pub root: FileId,
    pub root_path: String,
    /// The filesystem's bytes, whose pages are released as the read goes.
    pub volume: Option<VolumeRef>,
}

/// The filesystems among `nodes` at or below `at` (every one without it),
/// but those below the nodes `skip` names. A device of a Btrfs of several
/// devices is left to the gathered node, which reads them all. Ones that
/// cannot be opened are problems.
pub fn targets(
    nodes: &[Node],
    at: Option<&str>,
    skip: &[String],
    problems: &mut Vec<Value>,
) -> Vec<Target> {
    let mut out = Vec::new();
    for top in nodes {
        for n in top.walk() {
            if n.kind != NodeKind::Filesystem || skip.iter().any(|s| super::under(&n.path, s)) {
                continue;
            }
            if at.is_some_and(|at| !super::under(&n.path, at)) {
                continue;
            }
            if let NodeInfo::Filesystem(id) = &n.info {
                let gathered = id
                    .details
                    .iter()
                    .any(|(k, d)| *k == "filesystem" && matches!(d, Detail::Text(_)));
                if gathered {
                    continue;
                }
            }
            let Some(vol) = n.volume.clone() else {
                continue;
            };
            match recover_core::registry::open_filesystem(&n.format, vol.clone()) {
                None => {}
                Some(Err(e)) => problems.push(json!({"path": n.path, "severity": "error",
                    "detail": format!("its files cannot be read: {e}")})),
                Some(Ok(fs)) => out.push(Target {
                    node: n.path.clone(),
                    format: n.format.clone(),
                    root: fs.root(),
                    fs,
                    root_path: "/".into(),
                    volume: Some(vol),
                }),
            }
        }
    }
    out
}

/// At most this many files that are not ok are listed; the rest are
/// counted.
const MAX_LISTED: usize = 100_000;

/// Files read in parallel at a time.
const BATCH: usize = 256;

/// Bytes read between two releases of the filesystem's pages.
const RELEASE_EVERY: u64 = 16 << 20;

/// Entries walked between two releases of the filesystem's pages.
const RELEASE_WALKED: u64 = 16_384;

/// Bytes one read asks for.
const PIECE: usize = 1 << 20;

/// Files and bytes by verdict, in [`Verdict::ALL`] order.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub files: [u64; 5],
    pub bytes: [u64; 5],
}

impl Counts {
    fn add(&mut self, v: Verdict, bytes: u64) {
        let i = Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0);
        self.files[i] += 1;
        self.bytes[i] += bytes;
    }

    fn total(&self) -> (u64, u64) {
        (self.files.iter().sum(), self.bytes.iter().sum())
    }

    fn json(&self) -> Value {
        let (files, bytes) = self.total();
        let mut v = json!({"files": files, "bytes": bytes});
        for (i, k) in Verdict::ALL.iter().enumerate() {
            v[k.as_str()] = json!({"files": self.files[i], "bytes": self.bytes[i]});
        }
        v
    }
}

/// A file that is not ok.
pub struct Listed {
    path: String,
    kind: &'static str,
    verdict: Verdict,
    v: Verified,
}

/// What the read found.
#[derive(Default)]
pub struct Report {
    pub totals: Counts,
    /// Per filesystem: its node, format and counts.
    pub filesystems: Vec<(String, String, Counts)>,
    pub listed: Vec<Listed>,
    pub unlisted: u64,
    /// Bytes rebuilt from parity, read from a mirror.
    pub rebuilt: [u64; 2],
    /// What each filesystem's reader found wrong on the way (a checksum
    /// that fails, a directory block skipped), by filesystem node.
    pub problems: Vec<(String, recover_core::Problem)>,
    /// The VM images found among the files, checked (`d0/..:/vm.qcow2/qcow2`).
    pub images: Vec<(String, ImageCheck)>,
    /// VM images among the files that could not be checked or looked into.
    pub image_errors: Vec<(String, String)>,
}

impl Report {
    /// True when every file read is ok (those not read for want of their
    /// data here are listed, and do not count against it).
    pub fn ok(&self) -> bool {
        Verdict::ALL
            .iter()
            .zip(self.totals.files)
            .all(|(v, n)| n == 0 || matches!(v, Verdict::Ok | Verdict::Skipped))
    }

    fn note(&mut self, counts: &mut Counts, path: String, kind: &'static str, v: Verified) {
        let verdict = v.verdict();
        counts.add(verdict, v.size);
        self.rebuilt[0] += v
            .origins
            .of(Origin::Parity)
            .iter()
            .map(|r| r.end - r.start)
            .sum::<u64>();
        self.rebuilt[1] += v
            .origins
            .of(Origin::Mirror)
            .iter()
            .map(|r| r.end - r.start)
            .sum::<u64>();
        if verdict == Verdict::Ok {
            return;
        }
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Listed {
                path,
                kind,
                verdict,
                v,
            });
        } else {
            self.unlisted += 1;
        }
    }
}

/// One thing to read: its path in the filesystem, id, kind and size.
struct Item {
    rel: Vec<u8>,
    id: FileId,
    kind: FileKind,
    size: u64,
    streams: Vec<String>,
}

fn shown(t: &Target, rel: &[u8]) -> String {
    super::super::file_at(&t.node, &t.root_path, rel)
}

/// How deep VM images inside filesystems are looked into: a guest's disk
/// inside a host's file inside an array is two levels.
const MAX_NESTING: usize = 4;

/// Reads every file of every target, and of the filesystems inside the VM
/// images among those files (each image checked as `qemu-img check`
/// would, too).
pub fn check(first: Vec<Target>, opts: &recover_core::discover::Options) -> Report {
    let mut report = Report::default();
    let mut queue: std::collections::VecDeque<Target> = first.into();
    while let Some(t) = queue.pop_front() {
        let t = &t;
        let mut counts = Counts::default();
        let mut images: Vec<(Vec<u8>, FileId)> = Vec::new();
        // The walk first, for the total the progress shows. What it and
        // the reads map in of the filesystem leaves the process every so
        // often.
        let release = || {
            if let Some(v) = &t.volume {
                v.release(0, v.len());
            }
        };
        let mut walked = 0u64;
        let mut items = Vec::new();
        // Entries whose stat failed, and directories that could not be read.
        let walk_failures: std::cell::RefCell<Vec<(Vec<u8>, &'static str, String)>> =
            Default::default();
        match t.fs.stat(t.root) {
            Ok(s) if s.kind() != FileKind::Dir => items.push(Item {
                rel: Vec::new(),
                id: t.root,
                kind: s.kind(),
                size: s.size,
                streams: s.streams.iter().map(|(n, _)| n.clone()).collect(),
            }),
            Ok(_) => walk(
                t.fs.as_ref(),
                t.root,
                &mut |w| {
                    walked += 1;
                    if walked % RELEASE_WALKED == 0 {
                        release();
                    }
                    match &w.stat {
                        Ok(s) => {
                            if matches!(s.kind(), FileKind::File | FileKind::Symlink) {
                                items.push(Item {
                                    rel: w.path.clone(),
                                    id: w.id,
                                    kind: s.kind(),
                                    size: s.size,
                                    streams: s.streams.iter().map(|(n, _)| n.clone()).collect(),
                                })
                            }
                        }
                        Err(e) => walk_failures.borrow_mut().push((
                            w.path.clone(),
                            kind_name(w.kind),
                            e.to_string(),
                        )),
                    }
                },
                &mut |p, e| {
                    walk_failures
                        .borrow_mut()
                        .push((p.to_vec(), "directory", e.to_string()))
                },
            ),
            Err(e) => walk_failures
                .borrow_mut()
                .push((Vec::new(), "directory", e.to_string())),
        }
        for (rel, kind, why) in walk_failures.into_inner() {
            let v = Verified {
                errors: vec![(0..0, why)],
                ..Default::default()
            };
            report.note(&mut counts, shown(t, &rel), kind, v);
        }
        let total: u64 = items
            .iter()
            .filter(|i| i.kind == FileKind::File)
            .map(|i| i.size)
            .sum();
        let progress = Progress::bytes(total, &format!("reading the files of {}", t.node));
        let mut since_release = 0u64;
        for batch in items.chunks(BATCH) {
            let results: Vec<(Vec<Read>, bool)> = batch
                .par_iter()
                .map_init(
                    || vec![0u8; PIECE],
                    |buf, it| read_item(t, it, buf, &progress),
                )
                .collect();
            for (it, (read, image)) in batch.iter().zip(results) {
                for (path, kind, v) in read {
                    report.note(&mut counts, path, kind, v);
                }
                if image {
                    images.push((it.rel.clone(), it.id));
                }
            }
            since_release += batch.iter().map(|i| i.size).sum::<u64>();
            if since_release >= RELEASE_EVERY {
                release();
                since_release = 0;
            }
        }
        progress.finish();
        for p in t.fs.problems() {
            report.problems.push((t.node.clone(), p));
        }
        for i in 0..Verdict::ALL.len() {
            report.totals.files[i] += counts.files[i];
            report.totals.bytes[i] += counts.bytes[i];
        }
        report
            .filesystems
            .push((t.node.clone(), t.format.clone(), counts));
        // The VM images among its files: checked, and their guests' files
        // read in turn.
        if t.node.matches(':').count() >= MAX_NESTING {
            continue;
        }
        for (rel, id) in images {
            let fs_path = shown(t, &rel)
                .strip_prefix(&format!("{}:", t.node))
                .unwrap_or("/")
                .to_string();
            let display = format!("{}:{fs_path}", t.node);
            let stat = match t.fs.stat(id) {
                Ok(s) => s,
                Err(_) => continue, // reported by the read already
            };
            let ft = FileTarget {
                fs: t.fs.clone(),
                id,
                stat,
                fs_node: t.node.clone(),
                fs_path,
            };
            if let Ok(vol) = t.fs.open(id) {
                match recover_core::image::check::check(&vol) {
                    Some(Ok(c)) => {
                        let path = format!("{display}/{}", c.format);
                        report.images.push((path, c));
                    }
                    Some(Err(e)) => report.image_errors.push((display.clone(), e.to_string())),
                    None => {}
                }
            }
            match resolve::file_node(&ft, opts) {
                Ok(node) => {
                    for n in node.walk() {
                        for p in &n.problems {
                            report.problems.push((n.path.clone(), p.clone()));
                        }
                    }
                    let mut open_problems = Vec::new();
                    queue.extend(targets(&[node], None, &[], &mut open_problems));
                    for p in open_problems {
                        report.image_errors.push((
                            p["path"].as_str().unwrap_or_default().to_string(),
                            p["detail"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                }
                Err(e) => report.image_errors.push((display, e.to_string())),
            }
        }
    }
    report
}

fn kind_name(k: FileKind) -> &'static str {
    match k {
        FileKind::Dir => "directory",
        FileKind::Symlink => "symlink",
        _ => "file",
    }
}

/// A file, stream or link read: its path, kind and what the read found.
type Read = (String, &'static str, Verified);

/// Reads one file and its named streams, or one link's target; true when
/// the file is a VM image.
fn read_item(t: &Target, it: &Item, buf: &mut [u8], progress: &Progress) -> (Vec<Read>, bool) {
    let path = shown(t, &it.rel);
    if it.kind == FileKind::Symlink {
        let v = match t.fs.read_link(it.id) {
            Ok(target) => Verified {
                size: target.len() as u64,
                ..Default::default()
            },
            Err(e) => Verified::failed(it.size, &e),
        };
        return (vec![(path, "symlink", v)], false);
    }
    let mut out = Vec::with_capacity(1 + it.streams.len());
    let mut last = 0u64;
    let mut image = false;
    let v = match t.fs.open(it.id) {
        Ok(vol) => {
            let v = read_through(vol.as_ref(), buf, &mut |n| {
                progress.add(n.saturating_sub(last));
                last = n;
            });
            image = v.errors.is_empty()
                && recover_core::image::check::format_of(vol.as_ref()).is_some();
            v
        }
        Err(e) => Verified::failed(it.size, &e),
    };
    progress.add(it.size.saturating_sub(last));
    out.push((path.clone(), "file", v));
    for name in &it.streams {
        let v = match t.fs.open_stream(it.id, name) {
            Ok(vol) => read_through(vol.as_ref(), buf, &mut |_| {}),
            Err(e) => Verified::failed(0, &e),
        };
        out.push((format!("{path}:{name}"), "stream", v));
    }
    (out, image)
}

fn ranges_json(rs: &[std::ops::Range<u64>]) -> Value {
    rs.iter()
        .map(|r| json!({"start": r.start, "end": r.end}))
        .collect()
}

/// The `files` object of check's JSON.
pub fn json(r: &Report) -> Value {
    let mut v = r.totals.json();
    v["rebuilt_bytes"] = json!({"parity": r.rebuilt[0], "mirror": r.rebuilt[1]});
    v["filesystems"] = r
        .filesystems
        .iter()
        .map(|(path, format, c)| {
            let mut f = c.json();
            f["path"] = json!(path);
            f["format"] = json!(format);
            f
        })
        .collect();
    v["list"] = r
        .listed
        .iter()
        .map(|l| {
            let mut ranges = serde_json::Map::new();
            for o in Origin::ALL {
                let rs = l.v.origins.of(o);
                if !rs.is_empty() && (o.is_loss() || o == Origin::Inconsistent) {
                    ranges.insert(o.as_str().into(), ranges_json(&rs));
                }
            }
            json!({
                "path": l.path,
                "kind": l.kind,
                "size": l.v.size,
                "verdict": l.verdict.as_str(),
                "ranges": ranges,
                "errors": l.v.errors.iter().map(|(r, why)| json!({"start": r.start, "end": r.end, "detail": why})).collect::<Vec<_>>(),
                "skipped": l.v.skipped,
            })
        })
        .collect();
    v["unlisted"] = json!(r.unlisted);
    v
}

/// The summary a person reads, and a line per file that is not ok.
pub fn write_human(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let (files, bytes) = r.totals.total();
    let parts: Vec<String> = Verdict::ALL
        .iter()
        .enumerate()
        .filter(|(i, v)| **v == Verdict::Ok || r.totals.files[*i] > 0)
        .map(|(i, v)| {
            format!(
                "{} {} ({})",
                r.totals.files[i],
                v.as_str().replace('_', " "),
                human(r.totals.bytes[i])
            )
        })
        .collect();
    writeln!(
        out,
        "files: {files} read in {} filesystem{} ({}): {}",
        r.filesystems.len(),
        if r.filesystems.len() == 1 { "" } else { "s" },
        human(bytes),
        parts.join(", ")
    )?;
    if r.rebuilt.iter().any(|&n| n > 0) {
        writeln!(
            out,
            "  of which {} rebuilt from parity, {} read from a mirror",
            human(r.rebuilt[0]),
            human(r.rebuilt[1])
        )?;
    }
    for l in &r.listed {
        let mut what: Vec<String> = Vec::new();
        for o in Origin::ALL {
            if !(o.is_loss() || o == Origin::Inconsistent) {
                continue;
            }
            let rs = l.v.origins.of(o);
            if !rs.is_empty() {
                let shown: Vec<String> = rs
                    .iter()
                    .take(4)
                    .map(|r| format!("{:#x}..{:#x}", r.start, r.end))
                    .collect();
                let more = if rs.len() > 4 {
                    format!(" and {} more", rs.len() - 4)
                } else {
                    String::new()
                };
                what.push(format!("{} {}{more}", o.as_str(), shown.join(", ")));
            }
        }
        for (rg, why) in &l.v.errors {
            what.push(format!("{:#x}..{:#x}: {why}", rg.start, rg.end));
        }
        if let Some(why) = &l.v.skipped {
            what.push(why.clone());
        }
        writeln!(
            out,
            "  {}: {}: {}",
            l.verdict.as_str().replace('_', " "),
            l.path,
            what.join("; ")
        )?;
    }
    if r.unlisted > 0 {
        writeln!(out, "  and {} more files not ok, not listed", r.unlisted)?;
    }
    Ok(())
}
