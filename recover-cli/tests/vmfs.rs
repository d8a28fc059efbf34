//! VMFS datastores made by ESXi (dissect.vmfs's test volumes): every
//! sample found with its label, the spans gathered from both devices (and
//! reported with one missing), the documented file contents, sizes and
//! sparse reads of 69 GiB and 42 TiB flat disks, and listings equal to
//! vmfs-tools' debugvmfs and debugvmfs6 where those read correctly.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use fixtures::vmfs_samples::{sample, SINGLE, SPANS};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn args(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// Every node of a scan, depth first.
fn nodes(v: &Value) -> Vec<Value> {
    fn walk(n: &Value, out: &mut Vec<Value>) {
        out.push(n.clone());
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, out);
        }
    }
    let mut out = Vec::new();
    for n in v["nodes"].as_array().unwrap() {
        walk(n, &mut out);
    }
    out
}

/// The filesystem node path of a sample: the datastore's, or the source's
/// own for the dumps of an LVM volume ("d" samples).
/// The samples that are a dump of the LVM volume, without its header.
fn dump(name: &str) -> bool {
    matches!(name, "vmfs5d" | "vmfs5ld" | "vmfs6d" | "vmfs6ld")
}

fn fs_at(name: &str) -> String {
    let v = if name.contains('6') { "vmfs6" } else { "vmfs5" };
    if dump(name) {
        format!("d0/{v}")
    } else {
        format!("vmfs/{name}/{v}")
    }
}

#[test]
fn every_sample_is_found_with_its_label() {
    for &name in SINGLE.iter().chain(SPANS) {
        let Some(paths) = sample(name) else { return };
        let mut a = vec!["scan".to_string(), "--json".into()];
        a.extend(args(&paths));
        let r = recover(&a);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let all = nodes(&r.json());
        let fs = all
            .iter()
            .find(|n| n["path"] == fs_at(name).as_str())
            .unwrap_or_else(|| panic!("{name}: no {} in {}", fs_at(name), r.stdout));
        assert_eq!(fs["label"], name, "{name}");
        assert_eq!(fs["kind"], "filesystem");
        let local = name.contains("5l") || name.contains("6l");
        assert_eq!(fs["details"]["local"], local, "{name}");
        assert!(
            fs["problems"].as_array().unwrap().is_empty(),
            "{name}: {fs}"
        );
        if !dump(name) {
            let ds = all
                .iter()
                .find(|n| n["path"] == format!("vmfs/{name}").as_str())
                .unwrap();
            assert_eq!(ds["kind"], "logical_volume");
            assert_eq!(ds["details"]["devices"], paths.len() as u64);
            assert_eq!(ds["details"]["devices_found"], paths.len() as u64);
            let devices = all
                .iter()
                .filter(|n| n["format"] == "vmfs-lvm" && n["kind"] == "filesystem");
            assert_eq!(devices.count(), paths.len(), "{name}");
        }
    }
}

fn sha(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

fn cat(paths: &[PathBuf], at: &str, range: Option<(&str, &str)>) -> Run {
    let mut a = vec!["cat".to_string()];
    a.extend(args(paths));
    a.extend(["--at".into(), at.into()]);
    if let Some((o, l)) = range {
        a.extend(["--offset".into(), o.into(), "--length".into(), l.into()]);
    }
    recover(&a)
}

fn ls_json(paths: &[PathBuf], at: &str) -> Vec<Value> {
    let mut a = vec!["ls".to_string(), "--json".into()];
    a.extend(args(paths));
    a.extend(["--at".into(), at.into()]);
    let r = recover(&a);
    assert_eq!(r.code, 0, "{at}: {}", r.stderr);
    r.json()["entries"].as_array().unwrap().clone()
}

#[test]
fn files_read_as_documented() {
    for name in ["vmfs5", "vmfs6", "vmfs5-span", "vmfs6-span"] {
        let Some(paths) = sample(name) else { return };
        if name.ends_with("span") {
            // The spans hold other files; their test is that they read.
            let r = cat(
                &paths,
                &format!("{}:/.vh.sf", fs_at(name)),
                Some(("0", "4096")),
            );
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
            continue;
        }
        let fs = fs_at(name);
        let file = |f: &str| {
            let r = cat(&paths, &format!("{fs}:/{f}"), None);
            assert_eq!(r.code, 0, "{name}:/{f}: {}", r.stderr);
            r.stdout_bytes
        };
        assert_eq!(file("small"), b"tiny\n");
        let mut big = b"Kusjes van SRT<3".repeat(1024 * 64);
        big.push(b'\n');
        assert_eq!(sha(&file("big")), sha(&big), "{name}: big");
        let bigger: Vec<u8> = (0..128u32).flat_map(|i| vec![i as u8; 1 << 20]).collect();
        assert_eq!(sha(&file("bigger")), sha(&bigger), "{name}: bigger");
        for i in [1, 42, 100] {
            assert_eq!(
                file(&format!("directory/file{i}")),
                format!("File {i}\n").as_bytes()
            );
        }
        let dir = ls_json(&paths, &format!("{fs}:/directory"));
        let names: std::collections::BTreeSet<String> = dir
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        let want: std::collections::BTreeSet<String> =
            (1..=100).map(|i| format!("file{i}")).collect();
        assert_eq!(names, want, "{name}: directory");

        let root = ls_json(&paths, &format!("{fs}:/"));
        let entry = |n: &str| {
            root.iter()
                .find(|e| e["name"] == n)
                .unwrap_or_else(|| panic!("{name}: no {n}"))
                .clone()
        };
        assert_eq!(
            entry("symlink")["target"],
            format!("/vmfs/volumes/{name}/small").as_str()
        );
        assert_eq!(entry("symlink")["kind"], "symlink");
        assert_eq!(entry("normal-flat.vmdk")["size"], 69u64 << 30);
        assert_eq!(entry("large-flat.vmdk")["size"], 42u64 << 40);
        let rdm = entry("rdm-rdm.vmdk");
        assert_eq!(rdm["size"], 6969u64 << 30);
        assert!(rdm["flags"]
            .as_array()
            .unwrap()
            .contains(&Value::from("rdm")));
        assert!(rdm["target"].as_str().unwrap().contains("QM00015"), "{rdm}");
        // Its data is on another LUN: refused, with what it maps.
        let r = cat(&paths, &format!("{fs}:/rdm-rdm.vmdk"), Some(("0", "512")));
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("raw device mapping"), "{}", r.stderr);
        for (f, at) in [("normal-flat.vmdk", "42G"), ("large-flat.vmdk", "117G")] {
            let r = cat(&paths, &format!("{fs}:/{f}"), Some((at, "512")));
            assert_eq!(r.code, 0, "{name}:/{f}: {}", r.stderr);
            assert_eq!(r.stdout_bytes, vec![0x42u8; 512], "{name}:/{f} at {at}");
            // Around it, holes read as zeros.
            let r = cat(&paths, &format!("{fs}:/{f}"), Some(("1G", "512")));
            assert_eq!(r.stdout_bytes, vec![0u8; 512], "{name}:/{f} at 1G");
        }
        // Names that collide in VMFS6's hash table all list and read.
        let coll = ls_json(&paths, &format!("{fs}:/collision"));
        assert!(
            coll.len() >= 12,
            "{name}: {} names in collision",
            coll.len()
        );
        for e in &coll {
            let r = cat(
                &paths,
                &format!("{fs}:/collision/{}", e["name"].as_str().unwrap()),
                None,
            );
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        // The VMDK descriptor opens its flat extent beside it.
        let mut a = vec!["scan".to_string(), "--json".into()];
        a.extend(args(&paths));
        a.extend(["--at".into(), format!("{fs}:/normal.vmdk")]);
        let r = recover(&a);
        let disk = nodes(&r.json())
            .into_iter()
            .find(|n| n["format"] == "vmdk")
            .unwrap();
        assert_eq!(disk["size"], 69u64 << 30);
    }
}

#[test]
fn empty_thin_disks_read_zeros() {
    for name in ["zero5", "zero6"] {
        let Some(paths) = sample(name) else { return };
        let r = cat(
            &paths,
            &format!("{}:/empty-flat.vmdk", fs_at(name)),
            Some(("0", "4096")),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout_bytes, vec![0u8; 4096]);
    }
}

#[test]
fn a_span_with_a_device_missing_is_reported_and_reads_zeros_there() {
    for name in SPANS {
        let Some(paths) = sample(name) else { return };
        let r = recover(["scan", "--json", paths[0].to_str().unwrap()]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        let all = nodes(&r.json());
        let ds = all
            .iter()
            .find(|n| n["path"] == format!("vmfs/{name}").as_str())
            .unwrap();
        assert_eq!(ds["details"]["devices_found"], 1);
        let p = &ds["problems"][0];
        assert_eq!(p["offset"], 1u64 << 31, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("QM00015"), "{p}");
        // The filesystem on the first device still lists.
        let root = ls_json(
            &paths[..1],
            &format!("vmfs/{name}/{}:/", fs_at(name).rsplit('/').next().unwrap()),
        );
        assert!(root.iter().any(|e| e["name"] == ".fdc.sf"));
        // What the second device held reads as zeros.
        let mut a = vec!["cat".to_string(), paths[0].display().to_string()];
        a.extend([
            "--at".into(),
            format!("vmfs/{name}"),
            "--offset".into(),
            "3G".into(),
            "--length".into(),
            "4096".into(),
        ]);
        let r = recover(&a);
        assert_eq!(r.stdout_bytes, vec![0u8; 4096]);
    }
}

/// `debugvmfs[6] IMG... ls -l DIR`: (mode, size, "date time", name), "."
/// and ".." left out; `None` when the tool is missing (a failure where CI
/// installs it).
fn debugvmfs(
    six: bool,
    paths: &[PathBuf],
    dir: &str,
) -> Option<Vec<(String, u64, String, String)>> {
    let tool = if six { "debugvmfs6" } else { "debugvmfs" };
    if !fixtures::tools::have(tool) {
        assert!(
            std::env::var_os("RECOVER_REQUIRE_VMFS").is_none(),
            "no {tool}"
        );
        eprintln!("SKIPPED: no {tool}");
        return None;
    }
    let o = Command::new(tool)
        .args(paths)
        .args(["ls", "-l", dir])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| l.len() > 10 && !l.starts_with("VMFS"))
    {
        let mut rest = line;
        let mut f = Vec::new();
        for _ in 0..7 {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            f.push(&rest[..end]);
            rest = &rest[end..];
        }
        let name = rest.strip_prefix(' ').unwrap_or(rest).to_string();
        if name == "." || name == ".." {
            continue;
        }
        out.push((
            f[0].to_string(),
            f[4].parse().unwrap(),
            format!("{} {}", f[5], f[6]),
            name,
        ));
    }
    Some(out)
}

fn mode_string(kind: &str, mode: u64) -> String {
    let mut s = String::from(match kind {
        "dir" => 'd',
        "symlink" => 'l',
        _ => '-',
    });
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (0o400 >> i) != 0 { c } else { '-' });
    }
    s
}

#[test]
fn listings_equal_debugvmfs() {
    for name in [
        "vmfs5",
        "vmfs6",
        "vmfs5l",
        "vmfs6l",
        "vmfs5-resource-optimized",
        "vmfs6-resource-optimized",
        "vmfs5-no-dense-sbpc",
        "vmfs5-span",
        "vmfs6-span",
    ] {
        let Some(paths) = sample(name) else { return };
        let six = name.contains('6');
        for dir in ["/", "/directory", "/collision"] {
            let Some(want) = debugvmfs(six, &paths, dir) else {
                return;
            };
            if want.is_empty() {
                continue; // not in this sample
            }
            let got: Vec<(String, u64, String, String)> =
                ls_json(&paths, &format!("{}:{dir}", fs_at(name)))
                    .iter()
                    .map(|e| {
                        let t = e["mtime"].as_str().unwrap();
                        (
                            mode_string(e["kind"].as_str().unwrap(), e["mode"].as_u64().unwrap()),
                            e["size"].as_u64().unwrap(),
                            t.replace('T', " ").trim_end_matches('Z').to_string(),
                            e["name"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
            assert_eq!(got, want, "{name}:{dir}");
        }
    }
}

#[test]
fn deep_scan_finds_a_datastore_whose_table_is_gone() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let Some(paths) = sample("vmfs6") else { return };
    // The device at 1 MiB of a disk with no partition table, sparse.
    let disk = fixtures::cached("vmfs6-no-table.img", |out| {
        let mut src = std::fs::File::open(&paths[0]).unwrap();
        let mut dst = std::fs::File::create(out).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 1u64 << 20;
        loop {
            let n = src.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                dst.seek(SeekFrom::Start(at)).unwrap();
                dst.write_all(&buf[..n]).unwrap();
            }
            at += n as u64;
        }
        dst.set_len(at + (1 << 20)).unwrap();
    });
    let d = disk.display().to_string();
    let r = recover(["scan", "--deep", "--json", &d]);
    let all = nodes(&r.json());
    let p1 = all
        .iter()
        .find(|n| n["path"] == "d0/recovered/p1")
        .expect("a recovered partition");
    assert_eq!(p1["offset"], 1u64 << 20);
    assert!(all.iter().any(|n| n["path"] == "d0/recovered/p1/vmfs-lvm"));
    assert!(all
        .iter()
        .any(|n| n["path"] == "vmfs/vmfs6/vmfs6" && n["label"] == "vmfs6"));
    // A datastore path searches by itself.
    let r = recover(["cat", &d, "--at", "vmfs/vmfs6/vmfs6:/small"]);
    assert_eq!(r.stdout_bytes, b"tiny\n", "{}", r.stderr);
}

#[test]
fn thin_files_copy_as_holes_without_reading_them() {
    use std::os::unix::fs::MetadataExt;
    for name in ["vmfs5", "vmfs6"] {
        let Some(paths) = sample(name) else { return };
        let out =
            fixtures::cache_dir().join(format!("cli-vmfs-thin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let mut a = vec!["cp".to_string()];
        a.extend(args(&paths));
        a.extend([
            "--at".into(),
            format!("{}:/normal-flat.vmdk", fs_at(name)),
            "-o".into(),
            out.display().to_string(),
        ]);
        let r = recover(&a);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let m = std::fs::metadata(&out).unwrap();
        assert_eq!(m.len(), 69u64 << 30);
        // Only what the file holds is written: a few MiB at most.
        assert!(
            m.blocks() * 512 < 16 << 20,
            "{} bytes allocated",
            m.blocks() * 512
        );
        let mut f = std::fs::File::open(&out).unwrap();
        let mut b = vec![0u8; 512];
        use std::io::{Read, Seek, SeekFrom};
        f.seek(SeekFrom::Start(42 << 30)).unwrap();
        f.read_exact(&mut b).unwrap();
        assert_eq!(b, vec![0x42; 512]);
        std::fs::remove_file(&out).unwrap();
    }
}
