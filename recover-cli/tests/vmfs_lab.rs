//! Members of a DDF RAID5 to VMFS to VMDK to a guest file, bit-exact: the
//! lab's scenario `ddf-raid5-3d-vmfs` (fixtures/lab) is a DDF RAID5 that
//! the md driver wrote, whose GPT partition holds a VMFS5 datastore made
//! by ESXi (dissect.vmfs's vmfs5 sample), patched by
//! fixtures/lab/vmfsguest.py with no VMFS reader of ours: `normal.vmdk`
//! names the file `bigger` as its flat extent, and `bigger` holds a guest
//! disk (GPT, ext4 made by `mkfs.ext4 -d`). `recover` finds every layer
//! and copies every guest file out, with all members and with slot 1
//! gone, as the files the guest disk was made from.
//!
//! Skipped without the lab (see recover-core/tests/lab.rs), or where the
//! lab left the scenario out for want of the dissect.vmfs package; with
//! `RECOVER_REQUIRE_LAB` and `RECOVER_REQUIRE_VMFS` set (CI) that is a
//! failure.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const SCENARIO: &str = "ddf-raid5-3d-vmfs";
/// The VMDK descriptor in the datastore, as recover names it.
const VMDK: &str = "vmfs/vmfs5/vmfs5:/normal.vmdk";
/// GPT's type GUID for VMFS (sgdisk's FB00).
const VMFS_TYPE: &str = "AA31E02A-400F-11DB-9590-000C2911D1B8";

/// The scenario's folder and manifest, or `None` after a SKIPPED note.
fn scenario(lab: &Path) -> Option<(PathBuf, Value)> {
    let dir = lab.join("scenarios").join(SCENARIO);
    if let Ok(bytes) = std::fs::read(dir.join("manifest.json")) {
        return Some((dir, serde_json::from_slice(&bytes).unwrap()));
    }
    let why = std::fs::read_to_string(lab.join("unsupported").join(SCENARIO).join("REASON"))
        .unwrap_or_else(|_| "not in this corpus (built before it existed?)".into());
    let required = ["RECOVER_REQUIRE_LAB", "RECOVER_REQUIRE_VMFS"]
        .iter()
        .all(|v| std::env::var_os(v).is_some());
    assert!(!required, "lab scenario {SCENARIO}: {}", why.trim());
    eprintln!("SKIPPED: lab scenario {SCENARIO}: {}", why.trim());
    None
}

/// The only node of `kind` and `format` in a scan's JSON.
fn only<'a>(doc: &'a Value, kind: &str, format: &str) -> &'a Value {
    fn walk<'a>(n: &'a Value, kind: &str, format: &str, out: &mut Vec<&'a Value>) {
        if n["kind"] == kind && n["format"] == format {
            out.push(n);
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, kind, format, out);
        }
    }
    let mut found = Vec::new();
    for n in doc["nodes"].as_array().unwrap() {
        walk(n, kind, format, &mut found);
    }
    assert_eq!(found.len(), 1, "{kind} {format}: {found:?}");
    found[0]
}

/// `rest`, then the member images, as `recover`'s arguments. The members
/// (1.05 GiB each) are read with pread: mapped, the three would not fit in
/// the 2 GiB of address space `recover()` allows its child.
fn args<'a>(images: &'a [PathBuf], rest: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    let mut a: Vec<&std::ffi::OsStr> = rest.iter().map(|&s| std::ffi::OsStr::new(s)).collect();
    a.push("--no-mmap".as_ref());
    a.extend(images.iter().map(|p| p.as_os_str()));
    a
}

/// Every layer from the members down to the guest's ext4, and every guest
/// file out through them, for the images of one set of members.
fn read_down(images: &[PathBuf], man: &Value, status: &str, what: &str) {
    let array = &man["arrays"][0];
    let part = &array["partitions"][0];
    let image = &part["image"];
    let guest = &image["guest_disk"];

    let r = recover(args(images, &["scan", "--json"]));
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    let doc = r.json();
    let a = only(&doc, "array", "ddf");
    assert_eq!(a["level"], "raid5", "{what}");
    assert_eq!(a["chunk_size"], 65536, "{what}");
    assert_eq!(a["raid_disks"], 3, "{what}");
    assert_eq!(a["size"], array["array_size_bytes"], "{what}");
    assert_eq!(a["state"]["status"], status, "{what}");
    let ap = a["path"].as_str().unwrap();
    let p1 = node(&doc, &format!("{ap}/gpt/p1"));
    assert_eq!(p1["kind"], "partition", "{what}");
    assert_eq!(p1["type"], VMFS_TYPE, "{what}");
    assert_eq!(p1["offset"], part["start_byte"], "{what}");
    assert_eq!(p1["size"], image["size_bytes"], "{what}");
    let dev = node(&doc, &format!("{ap}/gpt/p1/vmfs-lvm"));
    assert_eq!(dev["format"], "vmfs-lvm", "{what}");
    let ds = node(&doc, "vmfs/vmfs5");
    assert_eq!(ds["kind"], "logical_volume", "{what}");
    assert_eq!(ds["label"], "vmfs5", "{what}");
    let fs = node(&doc, "vmfs/vmfs5/vmfs5");
    assert_eq!(fs["kind"], "filesystem", "{what}");
    assert_eq!(fs["format"], "vmfs5", "{what}");

    // Into the VMDK: the guest disk's GPT and ext4.
    let r = recover(args(images, &["scan", "--json", "--at", VMDK]));
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    let doc = r.json();
    let disk = node(&doc, &format!("{VMDK}/vmdk"));
    assert_eq!(disk["kind"], "vm_image", "{what}");
    assert_eq!(disk["format"], "vmdk", "{what}");
    assert_eq!(disk["size"], guest["size_bytes"], "{what}");
    let gp = node(&doc, &format!("{VMDK}/vmdk/gpt/p1"));
    let gpw = &guest["partition"];
    assert_eq!(
        gp["offset"].as_u64().unwrap(),
        gpw["start_sector"].as_u64().unwrap() * 512,
        "{what}"
    );
    assert_eq!(gp["guid"], gpw["guid"], "{what}");
    let ext4 = node(&doc, &format!("{VMDK}/vmdk/gpt/p1/ext4"));
    assert_eq!(ext4["format"], "ext4", "{what}");
    assert_eq!(ext4["label"], guest["fs"]["label"], "{what}");
    assert_eq!(ext4["uuid"], guest["fs"]["uuid"], "{what}");

    // Every guest file, one by one, then the whole tree at once.
    let files = image["guest_files"].as_object().unwrap();
    assert!(files.len() >= 4, "{what}: {files:?}");
    let work = fixtures::cache::Scratch::new("vmfs-lab");
    for (i, (rel, want)) in files.iter().enumerate() {
        let out = work.join(&format!("f{i}"));
        let at = format!("{VMDK}/vmdk/gpt/p1/ext4:/{rel}");
        let r = recover(args(
            images,
            &["cp", "--at", &at, "-o", out.to_str().unwrap()],
        ));
        assert_eq!(r.code, 0, "{what}: {at}: {}", r.stderr);
        assert_eq!(
            std::fs::metadata(&out).unwrap().len(),
            want["size"].as_u64().unwrap(),
            "{what}: {rel}"
        );
        assert_eq!(sha256_file(&out), want["sha256"], "{what}: {rel}");
    }
    let tree = work.join("tree");
    let at = format!("{VMDK}/vmdk/gpt/p1/ext4:/");
    let r = recover(args(
        images,
        &["cp", "--at", &at, "-o", tree.to_str().unwrap()],
    ));
    assert_eq!(r.code, 0, "{what}: {at}: {}", r.stderr);
    let mut got = Vec::new();
    walk_files(&tree, &tree, &mut got);
    got.sort();
    let mut want: Vec<(String, String)> = files
        .iter()
        .map(|(k, v)| (k.clone(), v["sha256"].as_str().unwrap().to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want, "{what}: the whole tree");
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

#[test]
fn guest_files_come_out_of_a_vmdk_in_vmfs_on_ddf_raid5() {
    let Some(lab) = lab() else { return };
    let Some((dir, man)) = scenario(&lab) else {
        return;
    };
    // The lab's own checks: the partition holds the patched datastore byte
    // for byte, and vmfs-tools reads the guest disk out of it.
    let part = &man["arrays"][0]["partitions"][0];
    assert_eq!(part["image_match"], true, "{part}");
    let cross = &part["image"]["cross_check"];
    if !cross.is_null() {
        assert_eq!(cross["bigger_is_the_guest_disk"], true, "{cross}");
    }

    read_down(&images(&dir), &man, "complete", "all members");

    let vdir = lab.join("variants").join(format!("{SCENARIO}.degraded-1"));
    let vm: Value =
        serde_json::from_slice(&std::fs::read(vdir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(vm["expected_recoverable"]["vol0"], true);
    let what = format!("without {}", vm["removed_images"]);
    read_down(&images(&vdir), &man, "degraded", &what);
}
