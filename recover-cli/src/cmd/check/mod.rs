//! `recover check`: the restore drill, first part: a full scrub of every
//! array found (or the one `--at` names), each stripe row checked against
//! its parity or its copies, and with `--repair-to` the array as it should
//! read written to a file. The library does the work
//! (`recover_core::raid::scrub`); this module picks the arrays, shows
//! progress and prints the report. EWF images among the sources have the
//! MD5 and SHA-1 they store of their media checked against the media read
//! back, as `ewfverify` does; VM image files (qcow2, VHD, VHDX, VMDK, VDI)
//! have their structures checked (`recover_core::image::check`), qcow2's
//! refcounts counted as `qemu-img check` counts them.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use recover_core::discover::{self, Node, NodeInfo, NodeKind};
use recover_core::image::check::{ImageCheck, Kind};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::ArrayModel;
use recover_core::raid::scrub::{self, Mismatch, Repaired, Report};
use recover_core::raid::volume::ArrayVolume;

mod files;
mod layers;

use crate::output::{Guard, Output};
use crate::progress::Progress;
use crate::report::human;

/// The command line of `recover check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The member disks (images or block devices), as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,
    /// The array to check (md0, ddf1, ...); every array found without it.
    #[arg(long, value_name = "PATH")]
    pub at: Option<String>,
    /// Print the stable JSON described in the README.
    #[arg(long)]
    pub json: bool,
    /// Write the corrected array to FILE: RAID6 rows rebuilt around the
    /// member found bad, members named with --bad (and missing ones)
    /// rebuilt from parity or copies. Never a source.
    #[arg(long, value_name = "FILE")]
    pub repair_to: Option<PathBuf>,
    /// A member known to be bad, as scan names it (d2, or d2/md); it is
    /// left out of the check and rebuilt in --repair-to (repeatable).
    #[arg(long, value_name = "MEMBER")]
    pub bad: Vec<String>,
    /// Replace the --repair-to FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Check the arrays and images only: do not read every file of every
    /// filesystem found.
    #[arg(long)]
    pub no_files: bool,
    #[command(flatten)]
    pub opts: crate::SourceOpts,
}

/// What --repair-to writes, for messages.
const REPAIRED: &str = "the repaired array";

fn mistake(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// One array checked.
struct Checked {
    path: String,
    model: ArrayModel,
    report: Report,
    leave_out: Vec<u32>,
}

pub fn run(a: &CheckArgs) -> io::Result<ExitCode> {
    // Refused before the (long) scrub; created after it.
    let guard = Guard::new(&a.sources, a.force)?;
    if let Some(file) = &a.repair_to {
        guard.check(file, REPAIRED)?;
    }
    // The scrub reads every row: discovery's sampled cross-check of each
    // array against its level would say less, at a fixed cost.
    let found = super::discover_tuned(&a.sources, &a.opts, &Default::default(), &|o| {
        o.crosscheck = false
    })?;
    let mut problems: Vec<Value> = Vec::new();
    let mut failed = false;
    for (src, msg) in &found.failed {
        failed = true;
        problems.push(json!({"path": src, "severity": "error", "detail": msg}));
    }
    let images: Vec<&Node> = found
        .nodes
        .iter()
        .filter(|n| ewf_hashes(n).is_some())
        .filter(|n| a.at.as_deref().is_none_or(|at| at == n.path))
        .collect();
    let vms: Vec<(String, &Node)> = vm_image_files(&found.nodes)
        .into_iter()
        .filter(|(path, holder)| {
            a.at.as_deref()
                .is_none_or(|at| at == path || at == holder.path || under(path, at))
        })
        .collect();
    let is_array = |n: &&Node| matches!(n.info, NodeInfo::Array(_) | NodeInfo::Inferred(_));
    // The filesystems whose files are read: every one, those at or below
    // --at, or the directory or file --at names inside one (FSNODE:/path).
    // Chosen now, opened after the scrub (an array with members named bad
    // is read without them).
    let mut fs_targets: Vec<files::Target> = Vec::new();
    let mut files_under: Option<Option<&str>> = None;
    let arrays: Vec<&Node> = match &a.at {
        Some(at) if images.iter().any(|n| &n.path == at) => Vec::new(),
        Some(at) if vms.iter().any(|(p, h)| p == at || &h.path == at) => Vec::new(),
        Some(at) => {
            let node_at = match at.split_once(':') {
                Some((node, _)) => {
                    let t = super::file_target(&found, at)?;
                    let volume =
                        discover::find(&found.nodes, &t.fs_node).and_then(|n| n.volume.clone());
                    let format = discover::find(&found.nodes, &t.fs_node)
                        .map_or_else(String::new, |n| n.format.clone());
                    fs_targets.push(files::Target {
                        node: t.fs_node.clone(),
                        format,
                        fs: t.fs.clone(),
                        root: t.id,
                        root_path: t.fs_path.clone(),
                        volume,
                    });
                    node
                }
                None => {
                    if !a.no_files {
                        files_under = Some(Some(at.as_str()));
                    }
                    at.as_str()
                }
            };
            let n = discover::find(&found.nodes, node_at).ok_or_else(|| {
                io::Error::other(format!(
                    "--at {at}: no such node (run scan to see the paths)"
                ))
            })?;
            if is_array(&n) {
                vec![n]
            } else {
                // The arrays it rests on (by path) and those below it: a
                // file's verdict needs their scrub.
                let arrays: Vec<&Node> = found
                    .nodes
                    .iter()
                    .flat_map(Node::walk)
                    .filter(is_array)
                    .filter(|x| under(node_at, &x.path) || under(&x.path, node_at))
                    .collect();
                let has_fs = files_under.is_some()
                    && found
                        .nodes
                        .iter()
                        .flat_map(Node::walk)
                        .any(|x| x.kind == NodeKind::Filesystem && under(&x.path, node_at));
                if arrays.is_empty() && vms.is_empty() && fs_targets.is_empty() && !has_fs {
                    return Err(mistake(format!(
                        "--at {at}: no array, image or filesystem there (check scrubs arrays: md0, ddf0, ...; verifies EWF images' hashes: d0; checks VM images: d0/qcow2; and reads files: md0/mbr/p1/ext4)"
                    )));
                }
                arrays
            }
        }
        None => {
            if !a.no_files {
                files_under = Some(None);
            }
            found.nodes.iter().filter(is_array).collect()
        }
    };
    if arrays.is_empty() && images.is_empty() && vms.is_empty() && files_under.is_none() {
        problems.push(json!({"path": null, "severity": "warning",
            "detail": "no array, no EWF image with stored hashes, no VM image and no filesystem in the sources: nothing to check"}));
    }
    if a.repair_to.is_some() && arrays.len() > 1 {
        let names: Vec<&str> = arrays.iter().map(|n| n.path.as_str()).collect();
        return Err(mistake(format!(
            "--repair-to: the sources hold {} arrays ({}); choose one with --at",
            arrays.len(),
            names.join(", ")
        )));
    }
    // Every --bad must name a member of an array checked: a typo must not
    // silently check (or repair) with the bad member in.
    for b in &a.bad {
        let known = arrays.iter().any(|n| match &n.info {
            NodeInfo::Array(arr) => arr.members.iter().any(|m| names(&m.path, b)),
            _ => false,
        });
        if !known {
            return Err(mistake(format!(
                "--bad {b}: not a member of {} (members are named as scan names them: d2/md, or d2)",
                if arrays.len() == 1 { arrays[0].path.as_str() } else { "the arrays checked" }
            )));
        }
    }
    let mut checked = Vec::new();
    for n in &arrays {
        let arr = match &n.info {
            NodeInfo::Array(arr) => arr,
            _ => {
                problems.push(json!({"path": n.path, "severity": "warning",
                    "detail": "an inferred array is not checked: its geometry is a guess, and parity that disagrees with a guess says nothing of the data"}));
                continue;
            }
        };
        let model = match ArrayModel::from_array(arr) {
            Ok(m) => m,
            Err(e) => {
                failed = true;
                problems.push(json!({"path": n.path, "severity": "error",
                    "detail": format!("cannot be checked: {e}")}));
                continue;
            }
        };
        let leave_out: Vec<u32> = model
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.as_ref()
                    .is_some_and(|m| a.bad.iter().any(|b| names(&m.name, b)))
            })
            .map(|(i, _)| i as u32)
            .collect();
        let opts = scrub::Options {
            leave_out: leave_out.clone(),
            ..Default::default()
        };
        let bar: std::sync::Mutex<Option<Progress>> = std::sync::Mutex::new(None);
        let label = format!("checking {}", n.path);
        let result = scrub::scrub(&model, &opts, &|done, total| {
            let mut b = bar.lock().unwrap_or_else(|e| e.into_inner());
            b.get_or_insert_with(|| Progress::bytes(total, &label))
                .set_of(done, total);
        });
        if let Some(b) = bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish();
        }
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failed = true;
                problems.push(json!({"path": n.path, "severity": "error",
                    "detail": format!("cannot be checked: {e}")}));
                continue;
            }
        };
        for u in &report.unchecked {
            problems.push(json!({"path": n.path, "severity": "warning", "detail": u}));
        }
        for e in &report.read_errors {
            problems.push(json!({"path": n.path, "severity": "error", "detail": e}));
        }
        if report.unlisted > 0 {
            problems.push(json!({"path": n.path, "severity": "warning",
                "detail": format!("{} more inconsistent rows are counted but not listed", report.unlisted)}));
        }
        failed |= !report.consistent();
        // The files read next say which of their bytes lie in these rows.
        if let Some(av) = n
            .volume
            .as_deref()
            .and_then(|v| v.as_any())
            .and_then(|x| x.downcast_ref::<ArrayVolume>())
        {
            for m in &report.mismatches {
                av.mark_inconsistent(&m.suspect);
            }
        }
        if report.unlisted > 0 && (files_under.is_some() || !fs_targets.is_empty()) {
            problems.push(json!({"path": n.path, "severity": "warning",
                "detail": format!("the files on the {} inconsistent rows past the first {} are not marked suspect", report.unlisted, scrub::MAX_LISTED)}));
        }
        checked.push(Checked {
            path: n.path.clone(),
            model,
            report,
            leave_out,
        });
    }
    let mut verified = Vec::new();
    for n in &images {
        match verify_ewf(n) {
            Ok(v) => {
                failed |= !v.ok();
                verified.push(v);
            }
            Err(e) => {
                failed = true;
                problems.push(json!({"path": n.path, "severity": "error",
                    "detail": format!("cannot be verified: {e}")}));
            }
        }
    }
    let mut vm_checked: Vec<(String, ImageCheck)> = Vec::new();
    for (path, holder) in &vms {
        let Some(vol) = holder.volume.as_ref() else {
            failed = true;
            problems.push(json!({"path": path, "severity": "error",
                "detail": "cannot be checked: its bytes cannot be read"}));
            continue;
        };
        match recover_core::image::check::check(vol) {
            Some(Ok(c)) => {
                failed |= !c.consistent();
                vm_checked.push((path.clone(), c));
            }
            Some(Err(e)) => {
                failed = true;
                problems.push(json!({"path": path, "severity": "error",
                    "detail": format!("cannot be checked: {e}")}));
            }
            None => {}
        }
    }
    // An array with members named bad: its files are read from the array
    // rebuilt without them, whose tree replaces its own (its checksums and
    // problems too).
    let mut rebuilt: Vec<Node> = Vec::new();
    for c in checked.iter().filter(|c| !c.leave_out.is_empty()) {
        match without(c, &found.opts) {
            Ok(n) => rebuilt.push(n),
            Err(e) => problems.push(json!({"path": c.path, "severity": "warning",
                "detail": format!("its files are read with the members named bad in: {e}")})),
        }
    }
    let replaced: Vec<String> = rebuilt.iter().map(|n| n.path.clone()).collect();
    let in_replaced = |path: &str| replaced.iter().any(|r| path != r && under(path, r));
    if let Some(at) = files_under {
        fs_targets = files::targets(&found.nodes, at, &replaced, &mut problems);
        fs_targets.extend(files::targets(&rebuilt, at, &[], &mut problems));
    }
    // The checksums of the layers on the way to --at and below it, and
    // what discovery found wrong there.
    let near = |path: &str| {
        a.at.as_deref().is_none_or(|at| {
            let at = at.split_once(':').map_or(at, |(n, _)| n);
            under(path, at) || under(at, path)
        })
    };
    let mut sums = layers::sums(&found.nodes, &in_replaced);
    sums.extend(layers::sums(&rebuilt, &|_| false));
    sums.retain(|s| near(&s.path));
    failed |= sums.iter().any(|s| s.state == "mismatch");
    let mut found_problems = layers::problems(&found.nodes, &in_replaced);
    found_problems.extend(layers::problems(&rebuilt, &|_| false));
    for p in found_problems {
        if p["path"].as_str().is_some_and(near) {
            failed |= p["severity"] == "error";
            problems.push(p);
        }
    }
    let file_report = files::check(std::mem::take(&mut fs_targets), &found.opts);
    failed |= !file_report.ok();
    for (path, c) in &file_report.images {
        failed |= !c.consistent();
        vm_checked.push((path.clone(), c.clone()));
    }
    for (path, e) in &file_report.image_errors {
        failed = true;
        problems.push(json!({"path": path, "severity": "error",
            "detail": format!("cannot be checked: {e}")}));
    }
    for (node, p) in &file_report.problems {
        failed |= p.severity == recover_core::Severity::Error;
        let v = json!({"path": node, "severity": p.severity.as_str(), "detail": p.to_string()});
        // Discovery opened the same filesystem and may have said it already.
        if !problems.contains(&v) {
            problems.push(v);
        }
    }
    let mut out = io::stdout().lock();
    if a.json {
        let doc = json!({
            "arrays": checked.iter().map(array_json).collect::<Vec<_>>(),
            "files": files::json(&file_report),
            "checksums": layers::json(&sums),
            "images": verified
                .iter()
                .map(Verified::json)
                .chain(vm_checked.iter().map(|(p, c)| vm_json(p, c)))
                .collect::<Vec<_>>(),
            "problems": problems,
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        for c in &checked {
            write_human(&mut out, c)?;
        }
        for v in &verified {
            v.write_human(&mut out)?;
        }
        for (p, c) in &vm_checked {
            vm_human(&mut out, p, c)?;
        }
        layers::write_human(&mut out, &sums)?;
        if !file_report.filesystems.is_empty() {
            files::write_human(&mut out, &file_report)?;
        }
        out.flush()?;
        let mut err = io::stderr().lock();
        for p in &problems {
            let path = p["path"]
                .as_str()
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            writeln!(
                err,
                "recover: {path}{}: {}",
                p["severity"].as_str().unwrap_or(""),
                p["detail"].as_str().unwrap_or("")
            )?;
        }
    }
    out.flush()?;
    if let (Some(file), Some(c)) = (&a.repair_to, checked.first()) {
        let fixed = Repaired::new(&c.path, &c.model, &c.leave_out, &c.report)
            .map_err(|e| io::Error::other(format!("--repair-to: {}: {e}", c.path)))?;
        if c.report.unlisted > 0 {
            let _ = writeln!(
                io::stderr(),
                "recover: --repair-to: {}: only the first {} inconsistent rows are rebuilt",
                c.path,
                scrub::MAX_LISTED
            );
        }
        let label = format!("writing {}", c.path);
        Output::create(&guard, file, REPAIRED)?.write_volume(&fixed, &label)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The tree of `c`'s array read without the members left out (rebuilt
/// from parity or copies), its inconsistent rows marked.
fn without(c: &Checked, opts: &discover::Options) -> recover_core::Result<Node> {
    let mut model = c.model.clone();
    for &s in &c.leave_out {
        if let Some(m) = model.members.get_mut(s as usize) {
            *m = None;
        }
    }
    let av = ArrayVolume::new(c.path.clone(), model, false)?;
    for m in &c.report.mismatches {
        av.mark_inconsistent(&m.suspect);
    }
    let src = recover_core::io::Source {
        name: c.path.clone(),
        volume: std::sync::Arc::new(av),
        kind: recover_core::io::SourceKind::File,
    };
    Ok(discover::discover_named(&src, c.path.clone(), opts))
}

/// True when `given` names the member at `path`: the path itself, or the
/// node it sits on (d2 for d2/md, d0/gpt/p1 for d0/gpt/p1/md).
fn names(path: &str, given: &str) -> bool {
    path == given
        || path
            .strip_prefix(given)
            .is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'))
}

fn member_name(model: &ArrayModel, slot: u32) -> Option<String> {
    model
        .members
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map(|m| m.name.clone())
}

fn array_json(c: &Checked) -> Value {
    let r = &c.report;
    let mismatch = |m: &Mismatch| {
        let mut v = json!({
            "row": m.row,
            "array_offset": m.array_offset,
            "member": m.slot.and_then(|s| member_name(&c.model, s)),
            "slot": m.slot,
            "member_offset": m.member_offset,
        });
        if !m.copies.is_empty() {
            v["copies"] = m
                .copies
                .iter()
                .map(|p| {
                    json!({"member": member_name(&c.model, p.slot), "slot": p.slot,
                        "member_offset": p.member_offset})
                })
                .collect();
        }
        v
    };
    json!({
        "path": c.path,
        "level": r.level.as_str(),
        "redundancy": r.redundancy,
        "rows": r.rows,
        "total_rows": r.total_rows,
        "chunk_size": c.model.chunk,
        "members": c.model.members.iter().enumerate().map(|(i, m)| json!({
            "slot": i,
            "path": m.as_ref().map(|m| m.name.clone()),
            "data_offset": m.as_ref().map(|m| m.data_offset),
            "left_out": c.leave_out.contains(&(i as u32)),
        })).collect::<Vec<_>>(),
        "mismatches": r.mismatches.iter().map(mismatch).collect::<Vec<_>>(),
        "unlisted": r.unlisted,
        "mismatch_sectors": r.mismatch_sectors,
        "bytes_read": r.bytes_read,
        "consistent": r.consistent(),
    })
}

/// Why the member of an inconsistent row is not named.
fn unknown_why(c: &Checked) -> &'static str {
    let degraded = c.model.members.iter().any(Option::is_none) || !c.leave_out.is_empty();
    match c.report.level {
        Level::Raid4 | Level::Raid5 => "RAID5 parity cannot tell which member",
        Level::Raid6 if degraded => "one syndrome left cannot tell which member",
        Level::Raid6 => "P and Q do not point at one member",
        _ => "the copies do not outvote each other",
    }
}

fn write_human(out: &mut impl Write, c: &Checked) -> io::Result<()> {
    let r = &c.report;
    let level = r.level.as_str();
    if !r.redundancy {
        return writeln!(out, "{}: {level}: no redundancy, nothing to check", c.path);
    }
    let rows = if r.rows == r.total_rows {
        format!("{} rows checked", r.rows)
    } else {
        format!("{} of {} rows checked", r.rows, r.total_rows)
    };
    let n = r.mismatches.len() as u64 + r.unlisted;
    if n == 0 {
        writeln!(
            out,
            "{}: {level}: {rows} ({} read), consistent",
            c.path,
            human(r.bytes_read)
        )?;
    } else {
        writeln!(
            out,
            "{}: {level}: {rows} ({} read), {n} inconsistent, mismatch_cnt {} (sectors, as md counts)",
            c.path,
            human(r.bytes_read),
            r.mismatch_sectors
        )?;
    }
    for m in &r.mismatches {
        let who = match m.slot.and_then(|s| member_name(&c.model, s)) {
            Some(name) => format!("member {name}"),
            None => format!("unknown ({})", unknown_why(c)),
        };
        writeln!(
            out,
            "  row {} (array {:#x}, member offset {:#x}): {who}",
            m.row, m.array_offset, m.member_offset
        )?;
    }
    Ok(())
}

/// The hashes an EWF source stores of its media: (md5, sha1).
fn ewf_hashes(n: &Node) -> Option<(Option<String>, Option<String>)> {
    let NodeInfo::Disk(d) = &n.info else {
        return None;
    };
    let recover_core::io::SourceKind::Ewf(info) = &d.source_kind else {
        return None;
    };
    (info.md5.is_some() || info.sha1.is_some()).then(|| (info.md5.clone(), info.sha1.clone()))
}

/// An EWF image's stored hashes against its media read back.
struct Verified {
    path: String,
    source: String,
    /// (name, stored, computed)
    hashes: Vec<(&'static str, String, String)>,
    bytes_read: u64,
    /// Ranges of the media read as zeros (corrupt chunks, missing segments).
    unreadable: Vec<std::ops::Range<u64>>,
}

impl Verified {
    fn ok(&self) -> bool {
        self.hashes
            .iter()
            .all(|(_, s, c)| s.eq_ignore_ascii_case(c))
            && self.unreadable.is_empty()
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "path": self.path,
            "source": self.source,
            "bytes_read": self.bytes_read,
            "unreadable": self.unreadable.iter().map(|r| json!({"start": r.start, "end": r.end})).collect::<Vec<_>>(),
            "consistent": self.ok(),
        });
        for (name, stored, computed) in &self.hashes {
            v[*name] = json!({
                "stored": stored,
                "computed": computed,
                "match": stored.eq_ignore_ascii_case(computed),
            });
        }
        v
    }

    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let each: Vec<String> = self
            .hashes
            .iter()
            .map(|(name, s, c)| {
                if s.eq_ignore_ascii_case(c) {
                    format!("{} matches ({c})", name.to_uppercase())
                } else {
                    format!("{} MISMATCH: stored {s}, computed {c}", name.to_uppercase())
                }
            })
            .collect();
        writeln!(
            out,
            "{}: EWF image {}: {} read, {}",
            self.path,
            self.source,
            human(self.bytes_read),
            each.join(", ")
        )?;
        for r in &self.unreadable {
            writeln!(
                out,
                "  bytes {:#x}..{:#x} could not be read (zeros hashed)",
                r.start, r.end
            )?;
        }
        Ok(())
    }
}

/// Reads all of an EWF image's media (chunks inflated in parallel, a few
/// blocks at a time) and hashes it in order.
fn verify_ewf(n: &Node) -> io::Result<Verified> {
    use md5::Digest;
    use rayon::prelude::*;
    const BLOCK: usize = 8 << 20;
    let (md5_stored, sha1_stored) = ewf_hashes(n).unwrap_or_default();
    let vol = crate::output::node_volume(n)?;
    let len = vol.len();
    let mut md5 = md5::Md5::new();
    let mut sha1 = sha1::Sha1::new();
    let window = rayon::current_num_threads().max(1) * 2;
    let mut bufs: Vec<Vec<u8>> = (0..window).map(|_| Vec::new()).collect();
    let progress = Progress::bytes(len, &format!("verifying {}", n.path));
    let mut pos = 0u64;
    while pos < len {
        let batch: Vec<(u64, usize)> = (0..window)
            .map(|i| pos.saturating_add(i as u64 * BLOCK as u64))
            .filter(|&at| at < len)
            .map(|at| (at, (len - at).min(BLOCK as u64) as usize)) // ok: <= BLOCK
            .collect();
        bufs.par_iter_mut()
            .zip(batch.par_iter())
            .try_for_each(|(b, &(at, k))| {
                b.resize(k, 0);
                vol.read_at(at, b).map_err(io::Error::other)
            })?;
        for (b, &(_, k)) in bufs.iter().zip(&batch) {
            if md5_stored.is_some() {
                md5.update(&b[..k]);
            }
            if sha1_stored.is_some() {
                sha1.update(&b[..k]);
            }
            pos += k as u64;
        }
        progress.set(pos);
    }
    progress.finish();
    let mut hashes = Vec::new();
    if let Some(s) = md5_stored {
        hashes.push(("md5", s, format!("{:x}", md5.finalize())));
    }
    if let Some(s) = sha1_stored {
        hashes.push(("sha1", s, format!("{:x}", sha1.finalize())));
    }
    let source = match &n.info {
        NodeInfo::Disk(d) => d.source.clone(),
        _ => String::new(),
    };
    Ok(Verified {
        path: n.path.clone(),
        source,
        hashes,
        bytes_read: len,
        unreadable: vol
            .origins(0, len)
            .normalized()
            .iter()
            .filter(|(_, o)| o.is_loss())
            .map(|(r, _)| r.clone())
            .collect(),
    })
}

/// True when `path` is `at` or below it.
fn under(path: &str, at: &str) -> bool {
    path == at
        || path
            .strip_prefix(at)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Every volume of the tree that holds a VM image file, with the path its
/// image has (`d0/qcow2`): the holders of VM image nodes, and sources,
/// partitions and files whose image could not be opened (a damaged image is
/// still checked).
fn vm_image_files(nodes: &[Node]) -> Vec<(String, &Node)> {
    let mut out: Vec<(String, &Node)> = Vec::new();
    for top in nodes {
        for n in top.walk() {
            if n.kind == NodeKind::VmImage {
                continue;
            }
            let holds = n.children.iter().find(|c| c.kind == NodeKind::VmImage);
            if let Some(c) = holds {
                out.push((c.path.clone(), n));
                continue;
            }
            let may = matches!(
                n.kind,
                NodeKind::Disk | NodeKind::Partition | NodeKind::File | NodeKind::LogicalVolume
            ) && n.children.is_empty()
                && n.volume.is_some();
            if may
                && !matches!(&n.info, NodeInfo::Disk(d) if matches!(d.source_kind, recover_core::io::SourceKind::Ewf(_)))
            {
                if let Some(fmt) = n
                    .volume
                    .as_deref()
                    .and_then(recover_core::image::check::format_of)
                {
                    out.push((format!("{}/{fmt}", n.path), n));
                }
            }
        }
    }
    out
}

fn vm_json(path: &str, c: &ImageCheck) -> Value {
    let count = |k: Kind| c.findings.list.iter().filter(|f| f.kind == k).count();
    let mut v = json!({
        "path": path,
        "format": c.format,
        "findings": c.findings.list.iter().map(|f| json!({
            "kind": f.kind.as_str(),
            "offset": f.offset,
            "detail": f.detail,
        })).collect::<Vec<_>>(),
        "unlisted": c.findings.unlisted,
        "consistent": c.consistent(),
    });
    match &c.qcow2 {
        Some(q) => {
            v["qcow2"] = json!({
                "corruptions": q.corruptions,
                "leaks": q.leaks,
                "check-errors": q.check_errors,
                "image-end-offset": q.image_end_offset,
                "total-clusters": q.total_clusters,
                "allocated-clusters": q.allocated_clusters,
                "fragmented-clusters": q.fragmented_clusters,
                "compressed-clusters": q.compressed_clusters,
            });
        }
        None => {
            v["corruptions"] = json!(count(Kind::Corruption) as u64 + c.findings.unlisted);
        }
    }
    v
}

fn vm_human(out: &mut impl Write, path: &str, c: &ImageCheck) -> io::Result<()> {
    let n = c.findings.list.len() as u64 + c.findings.unlisted;
    match &c.qcow2 {
        Some(q) => {
            let state = if c.consistent() {
                "consistent".to_string()
            } else {
                format!(
                    "{} corruptions, {} leaked clusters, {} check errors",
                    q.corruptions, q.leaks, q.check_errors
                )
            };
            writeln!(
                out,
                "{path}: qcow2: {}/{} clusters allocated, {} fragmented, {} compressed, image end {:#x}: {state}",
                q.allocated_clusters,
                q.total_clusters,
                q.fragmented_clusters,
                q.compressed_clusters,
                q.image_end_offset
            )?;
        }
        None if n == 0 => writeln!(out, "{path}: {}: consistent", c.format)?,
        None => writeln!(out, "{path}: {}: {n} problems", c.format)?,
    }
    for f in &c.findings.list {
        writeln!(out, "  {:#x}: {}: {}", f.offset, f.kind.as_str(), f.detail)?;
    }
    if c.findings.unlisted > 0 {
        writeln!(out, "  ... and {} more", c.findings.unlisted)?;
    }
    Ok(())
}
