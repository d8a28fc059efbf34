//! NAS stacks from the LVM lab (fixtures/lab/lvm_scenarios.py, issue 15):
//! md arrays on the drives' partitions, LVM over the arrays, a filesystem
//! on the LV, all written by the real md driver, lvm2 and device-mapper.
//!
//! * `nas-shr-ext4`: Synology SHR on drives of mixed sizes, each with an
//!   MBR and an extended partition: md0 (RAID1, 0.90) on p1, md1 (RAID1,
//!   0.90, swap) on p2, md2 (RAID5, 1.2) on every p5, md3 (RAID1, 1.2) on
//!   the larger drives' p6; VG vg1000 over md2 and md3, LV `lv` linear
//!   over all of md2 then md3, ext4 on it holding more than md2 does.
//! * `nas-shr-btrfs`: the same stack with a Btrfs on the LV (made by the
//!   host kernel's Btrfs, written onto the LV in the guest).
//! * `nas-qnap-thin`: QNAP-style: GPT drives, md1 (RAID5, 1.0) over every
//!   p3, VG vg1 with thin pool tp1 and thin LV lv1, ext4 on it.
//!
//! `recover scan` of the drives shows every array, the volume group, the
//! LV and the filesystem; the LV comes out with the bytes device-mapper
//! served, and `cp` of the filesystem's root gives every file bit-exact,
//! with all drives and with one drive left out (for SHR a larger one, so
//! that md2 and md3 are both degraded).
//!
//! Skipped without the LVM lab (`fixtures/lab/make-lvm.sh target/lab/lvm`);
//! with `RECOVER_REQUIRE_LAB` set (CI) a scenario not built is a failure,
//! unless the lab recorded it as unsupported on that host (the Btrfs one
//! needs the host kernel's Btrfs and a loop device).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// The scenario's folder and manifest, or `None` after a SKIPPED note.
fn scenario(name: &str) -> Option<(PathBuf, Value)> {
    let lvm = fixtures::lab::lab_corpus("lvm")?;
    let dir = lvm.join(name);
    if let Ok(bytes) = std::fs::read(dir.join("manifest.json")) {
        return Some((dir, serde_json::from_slice(&bytes).unwrap()));
    }
    if let Ok(why) = std::fs::read_to_string(lvm.join("unsupported").join(name).join("REASON")) {
        eprintln!("SKIPPED: lab scenario {name}: {}", why.trim());
        return None;
    }
    assert!(
        std::env::var_os("RECOVER_REQUIRE_LAB").is_none(),
        "lab scenario {name}: not in this corpus (built before it existed?)"
    );
    eprintln!("SKIPPED: lab scenario {name}: not in this corpus");
    None
}

/// Every node of `kind` in a scan's JSON.
fn all<'a>(doc: &'a Value, kind: &str) -> Vec<&'a Value> {
    fn walk<'a>(n: &'a Value, kind: &str, out: &mut Vec<&'a Value>) {
        if n["kind"] == kind {
            out.push(n);
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, kind, out);
        }
    }
    let mut found = Vec::new();
    for n in doc["nodes"].as_array().unwrap() {
        walk(n, kind, &mut found);
    }
    found
}

/// `rest`, then the drive images, as `recover`'s arguments.
fn args<'a>(images: &'a [PathBuf], rest: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    let mut a: Vec<&std::ffi::OsStr> = rest.iter().map(|&s| std::ffi::OsStr::new(s)).collect();
    a.extend(images.iter().map(|p| p.as_os_str()));
    a
}

/// (path under `root`, sha256) of every file below `dir`.
fn walk_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk_files(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            out.push((rel, sha256_file(&p)));
        }
    }
}

/// The manifest's record of the LV `lv`.
fn lv_record<'a>(man: &'a Value, lv: &str) -> &'a Value {
    man["lvs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lv)
        .unwrap_or_else(|| panic!("no LV {lv} in the manifest"))
}

/// Every layer from the drives to the filesystem on `vg/lv`, the LV's
/// bytes, and every file, with the drives in `images` (`missing`: the
/// drive images left out).
fn read_down(images: &[PathBuf], man: &Value, lv: &str, fs_format: &str, missing: &[&str]) {
    let what = if missing.is_empty() {
        "all drives".to_string()
    } else {
        format!("without {}", missing.join(", "))
    };
    let r = recover(args(images, &["scan", "--json"]));
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    let doc = r.json();

    // The md arrays: each one the kernel ran, found once, with its level and
    // size, degraded exactly when one of its members is missing.
    let arrays: Vec<&Value> = all(&doc, "array")
        .into_iter()
        .filter(|a| a["format"] == "md")
        .collect();
    let want = man["md_arrays"].as_object().unwrap();
    assert_eq!(arrays.len(), want.len(), "{what}: arrays {arrays:#?}");
    for (name, m) in want {
        let level = m["level"].as_str().unwrap();
        let found: Vec<&&Value> = arrays
            .iter()
            .filter(|a| a["level"] == level && a["size"] == m["array_size_bytes"])
            .collect();
        assert_eq!(found.len(), 1, "{what}: {name} ({level}): {arrays:#?}");
        let a = found[0];
        assert_eq!(a["raid_disks"], m["raid_disks"], "{what}: {name}");
        if level == "raid5" {
            assert_eq!(a["chunk_size"], m["chunk_size_bytes"], "{what}: {name}");
        }
        let gone = m["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| missing.contains(&x["image"].as_str().unwrap()));
        let status = if gone { "degraded" } else { "complete" };
        assert_eq!(a["state"]["status"], status, "{what}: {name}: {a:#}");
    }

    // The volume group, the LV and the filesystem on it.
    let vg_name = man["vg"]["name"].as_str().unwrap();
    let vg = node(&doc, &format!("lvm/{vg_name}"));
    assert_eq!(vg["kind"], "volume_group", "{what}");
    assert_eq!(vg["uuid"], man["vg"]["uuid"], "{what}");
    assert_eq!(vg["seqno"], man["final_seqno"], "{what}");
    let rec = lv_record(man, lv);
    let lv_path = format!("lvm/{vg_name}/{lv}");
    let l = node(&doc, &lv_path);
    assert_eq!(l["kind"], "logical_volume", "{what}");
    assert_eq!(l["size"], rec["size_bytes"], "{what}");
    let fsrec = &rec["filesystem"];
    let fs_path = format!("{lv_path}/{fs_format}");
    let fs = node(&doc, &fs_path);
    assert_eq!(fs["kind"], "filesystem", "{what}");
    assert_eq!(fs["format"], fs_format, "{what}");
    assert_eq!(fs["uuid"], fsrec["uuid"], "{what}");

    // The LV's bytes, as device-mapper served them.
    let work = fixtures::cache::Scratch::new("nas-lab");
    let raw = work.join("lv.raw");
    let r = recover(args(
        images,
        &["extract", "--at", &lv_path, "-o", raw.to_str().unwrap()],
    ));
    assert_eq!(r.code, 0, "{what}: extract {lv_path}: {}", r.stderr);
    assert_eq!(sha256_file(&raw), rec["sha256"], "{what}: {lv_path}");
    std::fs::remove_file(&raw).unwrap();

    // Every file, the whole tree at once.
    let tree = work.join("tree");
    let at = format!("{fs_path}:/");
    let r = recover(args(
        images,
        &["cp", "--at", &at, "-o", tree.to_str().unwrap()],
    ));
    assert_eq!(r.code, 0, "{what}: cp {at}: {}", r.stderr);
    let mut got = Vec::new();
    walk_files(&tree, &tree, &mut got);
    got.retain(|(p, _)| !p.starts_with("lost+found"));
    got.sort();
    let mut want: Vec<(String, String)> = fsrec["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    want.sort();
    assert!(want.len() >= 6, "{what}: {want:?}");
    assert_eq!(got, want, "{what}: the files of {fs_path}");
}

/// The images of `dir`, and those without `leave_out`.
fn drives(dir: &Path, leave_out: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let all = images(dir);
    let some = all
        .iter()
        .filter(|p| p.file_name().unwrap() != leave_out)
        .cloned()
        .collect();
    (all, some)
}

/// The SHR checks the lab made of itself: the LV crosses from md2 onto md3
/// (two segments, md2's first), the filesystem's data lies in both (ext4's
/// extents of span.bin, Btrfs's chunks), and it holds the files asked for.
fn shr_lab_checks(man: &Value) {
    let rec = lv_record(man, "lv");
    let segs = rec["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2, "{segs:#?}");
    assert_eq!(segs[0]["areas"][0]["device"], "/dev/md2");
    assert_eq!(segs[1]["areas"][0]["device"], "/dev/md3");
    assert_eq!(
        rec["placement"]["crosses_segments"], true,
        "{:#}",
        rec["placement"]
    );
    assert_eq!(rec["filesystem"]["files_match_content"], true);
}

#[test]
fn shr_ext4_comes_out_whole_and_without_a_larger_drive() {
    let Some((dir, man)) = scenario("nas-shr-ext4") else {
        return;
    };
    shr_lab_checks(&man);
    let (all, some) = drives(&dir, "m3.img");
    read_down(&all, &man, "lv", "ext4", &[]);
    read_down(&some, &man, "lv", "ext4", &["m3.img"]);
}

#[test]
fn shr_btrfs_comes_out_whole_and_without_a_larger_drive() {
    let Some((dir, man)) = scenario("nas-shr-btrfs") else {
        return;
    };
    shr_lab_checks(&man);
    // The guest read back from the LV the image the host made.
    assert_eq!(lv_record(&man, "lv")["filesystem"]["image"]["match"], true);
    let (all, some) = drives(&dir, "m3.img");
    read_down(&all, &man, "lv", "btrfs", &[]);
    read_down(&some, &man, "lv", "btrfs", &["m3.img"]);
}

#[test]
fn qnap_thin_comes_out_whole_and_without_a_drive() {
    let Some((dir, man)) = scenario("nas-qnap-thin") else {
        return;
    };
    assert_eq!(
        lv_record(&man, "lv1")["filesystem"]["files_match_content"],
        true
    );
    let (all, some) = drives(&dir, "m1.img");
    read_down(&all, &man, "lv1", "ext4", &[]);
    read_down(&some, &man, "lv1", "ext4", &["m1.img"]);
}
