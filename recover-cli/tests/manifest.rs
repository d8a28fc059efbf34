//! `cp --manifest` / `--dfxml` and `extract --manifest` on degraded lab
//! arrays (real md driver and mdadm, fixtures/lab): the record names, for
//! every file, the bytes rebuilt from parity, and they are exactly the bytes
//! the array layout puts on the members left out.
//!
//! The oracles, none of them `recover`:
//! - where each file lies in its ext4: e2fsprogs' `debugfs -R "ex FILE"`
//!   (extent leaves: logical block, physical block, length, Uninit), run on
//!   the partition taken from the whole array, whose SHA-256 must first
//!   equal the one the lab recorded from the md driver's own block device;
//! - which member holds each chunk: md's raid5_compute_sector
//!   (drivers/md/raid5.c) for the layouts the lab makes, written out here
//!   on its own;
//! - which members were left out, and every file's SHA-256: the lab's
//!   manifests;
//! - the DFXML: `xmllint --schema` against the DFXML working group's
//!   schema (fixtures/dfxml);
//! - for the qcow2 in each filesystem, `extract --manifest` of its virtual
//!   disk: `qemu-img map` of the copied image puts the image file's rebuilt
//!   bytes at guest offsets, and those must be the guest bytes the
//!   manifest names (the virtual disk's SHA-256 is the lab's).
//!
//! Every degraded RAID5 (and left-symmetric RAID6) variant of the corpus
//! with ext4 partitions is checked: md and DDF, one member out (two for
//! RAID6). Skipped without the corpus (see recover-core/tests/lab.rs).

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// The member holding data block `d` of `stripe`, as md places it
/// (raid5_compute_sector); None for a layout this oracle does not know.
fn data_disk(level: u64, layout: &str, n: u64, stripe: u64, d: u64) -> Option<u64> {
    match (level, layout) {
        (5, "left-asymmetric") => {
            let pd = n - 1 - stripe % n;
            Some(if d >= pd { d + 1 } else { d })
        }
        (5, "right-asymmetric") => {
            let pd = stripe % n;
            Some(if d >= pd { d + 1 } else { d })
        }
        (5, "left-symmetric") => Some((n - 1 - stripe % n + 1 + d) % n),
        (5, "right-symmetric") => Some((stripe % n + 1 + d) % n),
        (5, "parity-first") => Some(d + 1),
        (6, "left-symmetric") => Some((n - 1 - stripe % n + 2 + d) % n),
        _ => None,
    }
}

fn merge(mut v: Vec<Range<u64>>) -> Vec<Range<u64>> {
    v.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Extent leaves of `file` in the ext4 image: (logical block, physical
/// block, blocks, uninit).
fn extents(img: &Path, file: &str) -> Vec<(u64, u64, u64, bool)> {
    let out = Command::new("debugfs")
        .args(["-R", &format!("ex \"{file}\"")])
        .arg(img)
        .output()
        .expect("debugfs (e2fsprogs)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v = Vec::new();
    for line in text.lines().skip(1) {
        // " 0/ 0   1/  1     0 -   767  2064 -  2831    768 Uninit"
        let t = line.replace('/', " / ");
        // "0 -   767" as one token "0-767".
        let mut w: Vec<String> = Vec::new();
        let mut join = false;
        for tok in t.split_whitespace() {
            match (tok, w.last_mut()) {
                ("-", Some(_)) => join = true,
                (_, Some(last)) if join => {
                    last.push('-');
                    last.push_str(tok);
                    join = false;
                }
                _ => w.push(tok.to_string()),
            }
        }
        if w.len() < 9 || w[0] != w[2] {
            continue; // an index node, not a leaf
        }
        let span = |s: &str| -> Option<(u64, u64)> {
            let (a, b) = s.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let (Some((l0, _)), Some((p0, _)), Ok(len)) = (span(&w[6]), span(&w[7]), w[8].parse())
        else {
            continue;
        };
        v.push((l0, p0, len, w.get(9).is_some_and(|f| f.contains("Uninit"))));
    }
    v
}

struct Layout {
    level: u64,
    layout: String,
    chunk: u64,
    disks: u64,
    gone: Vec<u64>,
}

impl Layout {
    /// Array ranges of `a..b` that lie on a member left out.
    fn on_gone(&self, a: u64, b: u64) -> Option<Vec<Range<u64>>> {
        let dd = self.disks - if self.level == 6 { 2 } else { 1 };
        let mut out = Vec::new();
        let mut at = a;
        while at < b {
            let c = at / self.chunk;
            let end = ((c + 1) * self.chunk).min(b);
            let disk = data_disk(self.level, &self.layout, self.disks, c / dd, c % dd)?;
            if self.gone.contains(&disk) {
                out.push(at..end);
            }
            at = end;
        }
        Some(out)
    }
}

fn ranges(v: &Value) -> Vec<Range<u64>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["start"].as_u64().unwrap()..r["end"].as_u64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn xmllint() -> bool {
    let ok = Command::new("xmllint").arg("--version").output().is_ok();
    assert!(
        ok || std::env::var_os("RECOVER_REQUIRE_LAB").is_none(),
        "xmllint (libxml2-utils) is needed to validate DFXML"
    );
    ok
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/dfxml/dfxml.xsd")
}

/// The ext4 node under `array` whose partition starts at `start` bytes.
fn ext4_at(doc: &Value, array: &str, start: u64) -> Option<String> {
    fn walk(n: &Value, start: u64, out: &mut Option<String>) {
        if n["kind"] == "partition" && n["offset"] == start {
            for c in n["children"].as_array().into_iter().flatten() {
                if c["format"] == "ext4" {
                    *out = c["path"].as_str().map(String::from);
                }
            }
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, start, out);
        }
    }
    let mut out = None;
    let a = node(doc, array);
    walk(a, start, &mut out);
    // No partition table: the filesystem is the array's own child.
    if start == 0 && out.is_none() {
        out = a["children"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["format"] == "ext4")
            .and_then(|c| c["path"].as_str().map(String::from));
    }
    out
}

struct Case {
    name: String,
    whole: Vec<PathBuf>,
    degraded: Vec<PathBuf>,
    layout: Layout,
    array_sha: Option<String>,
    /// (start byte, partition sha256, files: path -> sha256)
    parts: Vec<(u64, String, BTreeMap<String, String>)>,
}

/// Every degraded variant of a RAID5/6 with ext4 partitions whose layout
/// the oracle knows.
fn cases(lab: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(lab.join("variants")) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
    dirs.sort();
    for v in dirs {
        let Ok(text) = std::fs::read(v.join("manifest.json")) else {
            continue;
        };
        let vm: Value = serde_json::from_slice(&text).unwrap();
        if !vm["variant"]
            .as_str()
            .is_some_and(|s| s.starts_with("degraded"))
        {
            continue;
        }
        let truth = v.join(vm["truth"].as_str().unwrap());
        let m: Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
        let removed: Vec<&str> = vm["removed_images"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let arrays = m["arrays"].as_array().cloned().unwrap_or_default();
        // One array per case, so the members left out are all its own.
        if arrays.len() != 1 {
            continue;
        }
        let a = &arrays[0];
        let level = match a["level"].as_str() {
            Some("raid5") => 5,
            Some("raid6") => 6,
            _ => continue,
        };
        let layout = a["layout"].as_str().unwrap_or("").to_string();
        let disks = a["raid_disks"].as_u64().unwrap();
        if data_disk(level, &layout, disks, 0, 0).is_none() {
            continue;
        }
        let gone: Vec<u64> = a["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|mm| removed.contains(&mm["image"].as_str().unwrap_or("")))
            .filter_map(|mm| mm["slot"].as_u64())
            .collect();
        if gone.is_empty() {
            continue;
        }
        let parts: Vec<(u64, String, BTreeMap<String, String>)> = a["partitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["fs"] == "ext4")
            .map(|p| {
                let files = p["files"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                (
                    p["start_byte"].as_u64().unwrap(),
                    p["sha256"].as_str().unwrap().to_string(),
                    files,
                )
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        out.push(Case {
            name: v.file_name().unwrap().to_string_lossy().into_owned(),
            whole: images(truth.parent().unwrap()),
            degraded: images(&v),
            layout: Layout {
                level,
                layout,
                chunk: a["chunk_size_bytes"].as_u64().unwrap(),
                disks,
                gone,
            },
            array_sha: a["sha256"].as_str().map(String::from),
            parts,
        });
    }
    out
}

fn array_path(doc: &Value) -> String {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "array")
        .and_then(|n| n["path"].as_str())
        .expect("an array node")
        .to_string()
}

#[test]
fn cp_manifest_names_exactly_the_bytes_rebuilt_from_parity() {
    let Some(lab) = lab() else { return };
    let cases = cases(&lab);
    assert!(
        cases.len() >= 3,
        "expected several degraded RAID5/6 variants in the lab, found {}",
        cases.len()
    );
    let validate = xmllint();
    eprintln!(
        "degraded variants checked: {}",
        cases
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut rebuilt_files = 0;
    let mut vm_checked = 0;
    for c in &cases {
        let tmp = tempdir(&c.name);
        let dargs: Vec<&std::ffi::OsStr> = c.degraded.iter().map(|p| p.as_os_str()).collect();
        let wargs: Vec<&std::ffi::OsStr> = c.whole.iter().map(|p| p.as_os_str()).collect();
        let doc = scan_json(
            &c.degraded.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
            0,
        );
        let array = array_path(&doc);
        for (start, part_sha, files) in &c.parts {
            let Some(fs) = ext4_at(&doc, &array, *start) else {
                panic!("{}: no ext4 at byte {start} of {array}", c.name)
            };
            // The oracle's ext4: the partition of the whole array, as the md
            // driver served it.
            let img = tmp.join(format!("fs-{start}.img"));
            let r = recover(
                [
                    &[
                        "extract".as_ref(),
                        "--at".as_ref(),
                        fs.as_ref(),
                        "-o".as_ref(),
                        img.as_os_str(),
                    ][..],
                    &wargs,
                ]
                .concat(),
            );
            assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
            assert_eq!(
                &sha256_file(&img),
                part_sha,
                "{}: {fs} of the whole array",
                c.name
            );
            let bs: u64 = {
                let o = Command::new("dumpe2fs")
                    .arg("-h")
                    .arg(&img)
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("Block size:"))
                    .map(|s| s.trim().parse().unwrap())
                    .unwrap()
            };

            let out = tmp.join(format!("out-{start}"));
            let (mj, mx) = (
                tmp.join(format!("m-{start}.json")),
                tmp.join(format!("m-{start}.xml")),
            );
            let r = recover(
                [
                    &[
                        "cp".as_ref(),
                        "--at".as_ref(),
                        fs.as_ref(),
                        "-o".as_ref(),
                        out.as_os_str(),
                        "--manifest".as_ref(),
                        mj.as_os_str(),
                        "--dfxml".as_ref(),
                        mx.as_os_str(),
                    ][..],
                    &dargs,
                ]
                .concat(),
            );
            assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
            let m: Value = serde_json::from_slice(&std::fs::read(&mj).unwrap())
                .unwrap_or_else(|e| panic!("{}: manifest is not JSON: {e}", c.name));
            let recs = m["files"].as_array().unwrap();
            let mut total = 0u64;
            let mut seen = 0;
            for rec in recs.iter().filter(|r| r["kind"] == "file") {
                let path = rec["path"].as_str().unwrap();
                let rel = path.split_once(":/").unwrap().1;
                let size = rec["size"].as_u64().unwrap();
                // Its bytes: the copy, the lab's hash.
                let written = sha256_file(Path::new(rec["output"].as_str().unwrap()));
                assert_eq!(rec["sha256"].as_str(), Some(written.as_str()), "{path}");
                if let Some(want) = files.get(rel) {
                    assert_eq!(&written, want, "{}: {path}", c.name);
                    seen += 1;
                }
                // Where the layout puts it.
                let mut want = Vec::new();
                for (l, p, n, uninit) in extents(&img, &format!("/{rel}")) {
                    if uninit {
                        continue;
                    }
                    let (f0, f1) = (l * bs, ((l + n) * bs).min(size));
                    if f0 >= f1 {
                        continue;
                    }
                    let a0 = start + p * bs;
                    for r in c.layout.on_gone(a0, a0 + (f1 - f0)).unwrap() {
                        want.push(r.start - a0 + f0..r.end - a0 + f0);
                    }
                }
                let want = merge(want);
                let got = ranges(&rec["ranges"]["parity"]);
                assert_eq!(got, want, "{}: {path}: bytes rebuilt from parity", c.name);
                let bytes: u64 = want.iter().map(|r| r.end - r.start).sum();
                assert_eq!(
                    rec["bytes"]["parity"].as_u64().unwrap_or(0),
                    bytes,
                    "{path}"
                );
                assert_eq!(
                    rec["status"],
                    if bytes > 0 { "rebuilt" } else { "ok" },
                    "{}: {path}",
                    c.name
                );
                rebuilt_files += usize::from(bytes > 0);
                total += bytes;
            }
            // The VM image in it: its virtual disk's bytes rebuilt from
            // parity are the guest ranges qemu-img map puts on the image
            // file's rebuilt bytes.
            if let Some(rec) = recs.iter().find(|r| {
                r["kind"] == "file" && r["path"].as_str().unwrap().ends_with(":/vm/disk.qcow2")
            }) {
                qcow2_ranges(c, rec, &tmp, &dargs, start);
                vm_checked += 1;
            }
            assert_eq!(
                seen,
                files.len(),
                "{}: every file of the lab is in the manifest",
                c.name
            );
            assert_eq!(m["totals"]["origin_bytes"]["parity"], total, "{}", c.name);
            assert_eq!(m["totals"]["origin_bytes"]["missing"], 0, "{}", c.name);
            // The DFXML: valid, with the same hashes and runs.
            let xml = std::fs::read_to_string(&mx).unwrap();
            if validate {
                let v = Command::new("xmllint")
                    .args(["--noout", "--schema"])
                    .arg(schema())
                    .arg(&mx)
                    .output()
                    .unwrap();
                assert!(
                    v.status.success(),
                    "{}: DFXML does not validate: {}",
                    c.name,
                    String::from_utf8_lossy(&v.stderr)
                );
            }
            for rec in recs.iter().filter(|r| r["kind"] == "file") {
                let h = rec["sha256"].as_str().unwrap();
                assert!(xml.contains(&format!("<hashdigest type='sha256'>{h}</hashdigest>")));
                for r in ranges(&rec["ranges"]["parity"]) {
                    assert!(xml.contains(&format!(
                        "<recover:run origin='parity' file_offset='{}' len='{}'/>",
                        r.start,
                        r.end - r.start
                    )));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(vm_checked >= 5, "only {vm_checked} VM images checked");
    assert!(
        rebuilt_files >= cases.len(),
        "too few files touched the missing members"
    );
}

/// `extract --manifest` of the qcow2 inside the filesystem: the guest's
/// bytes rebuilt from parity, against `qemu-img map` of the copied image
/// and the image file's own rebuilt ranges (checked above).
fn qcow2_ranges(c: &Case, rec: &Value, tmp: &Path, dargs: &[&std::ffi::OsStr], start: &u64) {
    let node = format!("{}/qcow2", rec["path"].as_str().unwrap());
    let (raw, mj) = (
        tmp.join(format!("vm-{start}.raw")),
        tmp.join(format!("vm-{start}.json")),
    );
    let r = recover(
        [
            &[
                "extract".as_ref(),
                "--at".as_ref(),
                node.as_ref(),
                "-o".as_ref(),
                raw.as_os_str(),
                "--manifest".as_ref(),
                mj.as_os_str(),
            ][..],
            dargs,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
    let content: Value = serde_json::from_slice(
        &std::fs::read(lab().unwrap().join("content/content.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        Some(sha256_file(&raw).as_str()),
        content["qcow2"]["virtual_disk_sha256"].as_str(),
        "{}: {node}",
        c.name
    );
    let _ = std::fs::remove_file(&raw);
    let map = Command::new("qemu-img")
        .args(["map", "--output=json"])
        .arg(rec["output"].as_str().unwrap())
        .output()
        .expect("qemu-img");
    let map: Value = serde_json::from_slice(&map.stdout).unwrap();
    let host = ranges(&rec["ranges"]["parity"]);
    let mut want = Vec::new();
    for e in map.as_array().unwrap().iter().filter(|e| e["data"] == true) {
        let (g, n, h) = (
            e["start"].as_u64().unwrap(),
            e["length"].as_u64().unwrap(),
            e["offset"].as_u64().unwrap(),
        );
        for r in &host {
            let (a, b) = (r.start.max(h), r.end.min(h + n));
            if a < b {
                want.push(a - h + g..b - h + g);
            }
        }
    }
    let m: Value = serde_json::from_slice(&std::fs::read(&mj).unwrap()).unwrap();
    let got = ranges(&m["files"][0]["ranges"]["parity"]);
    assert_eq!(
        got,
        merge(want),
        "{}: {node}: guest bytes rebuilt from parity",
        c.name
    );
}

#[test]
fn extract_manifest_of_a_degraded_array_counts_every_rebuilt_chunk() {
    let Some(lab) = lab() else { return };
    for c in cases(&lab).iter().take(4) {
        let tmp = tempdir(&format!("x-{}", c.name));
        let doc = scan_json(
            &c.degraded.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
            0,
        );
        let array = array_path(&doc);
        let size = node(&doc, &array)["size"].as_u64().unwrap();
        let (out, mj) = (tmp.join("array.img"), tmp.join("m.json"));
        let dargs: Vec<&std::ffi::OsStr> = c.degraded.iter().map(|p| p.as_os_str()).collect();
        let r = recover(
            [
                &[
                    "extract".as_ref(),
                    "--at".as_ref(),
                    array.as_ref(),
                    "-o".as_ref(),
                    out.as_os_str(),
                    "--manifest".as_ref(),
                    mj.as_os_str(),
                ][..],
                &dargs,
            ]
            .concat(),
        );
        assert_eq!(r.code, 0, "{}: {}", c.name, r.stderr);
        let m: Value = serde_json::from_slice(&std::fs::read(&mj).unwrap()).unwrap();
        let rec = &m["files"][0];
        assert_eq!(rec["kind"], "node");
        assert_eq!(rec["path"], array.as_str());
        assert_eq!(rec["size"], size);
        let got = sha256_file(&out);
        assert_eq!(rec["sha256"].as_str(), Some(got.as_str()));
        if let Some(want) = &c.array_sha {
            assert_eq!(
                &got, want,
                "{}: the array as the md driver served it",
                c.name
            );
        }
        assert_eq!(
            ranges(&rec["ranges"]["parity"]),
            merge(c.layout.on_gone(0, size).unwrap()),
            "{}",
            c.name
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("recover-manifest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
