//! The README's first command: scanning the bundled example gives the tree
//! its recipe (examples/make-demo.sh) says, matching sfdisk and blkid.

mod common;

use std::path::Path;

use common::*;

#[test]
fn bundled_example() {
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.img");
    let doc = scan_json(&[&img], 0);
    let table = node(&doc, "d0/gpt");
    assert_table_matches_sfdisk(table, &sfdisk(&img));
    assert_eq!(table["disk_id"], "5EC0E5ED-0000-4000-8000-000000000001");
    for (p, format, label, uuid) in [
        ("d0/gpt/p1/fat12", "fat12", "DEMO-FAT", "5EC0-E5ED"),
        (
            "d0/gpt/p2/ext2",
            "ext2",
            "demo-ext2",
            "5ec0e5ed-0000-4000-8000-0000000000e2",
        ),
        (
            "d0/gpt/p3/swap",
            "swap",
            "demo-swap",
            "5ec0e5ed-0000-4000-8000-0000000000f3",
        ),
    ] {
        let fs = node(&doc, p);
        assert_eq!(
            (
                fs["format"].as_str(),
                fs["label"].as_str(),
                fs["uuid"].as_str()
            ),
            (Some(format), Some(label), Some(uuid))
        );
        let part = node(&doc, p.rsplit_once('/').unwrap().0);
        assert_fs_matches_blkid(
            fs,
            &blkid(
                &img,
                part["offset"].as_u64().unwrap(),
                part["size"].as_u64().unwrap(),
            ),
            p,
        );
    }
    // The human tree names every node.
    let r = recover(["scan".as_ref(), img.as_os_str()]);
    assert_eq!(r.code, 0);
    for p in [
        "d0",
        "d0/gpt",
        "d0/gpt/p1",
        "d0/gpt/p2/ext2",
        "d0/gpt/p3/swap",
    ] {
        assert!(r.stdout.contains(p), "{p} missing from\n{}", r.stdout);
    }
}

/// The README's walk through the bundled array (examples/array, made by the
/// real md driver and mdadm: examples/make-array.py): three members of a
/// four-member RAID5, one left out. Every hash is the one the recipe
/// recorded (SHA256SUMS): the array as the md driver served it, each file of
/// its ext2, the VM image in it, that image's virtual disk, and the guest's
/// files.
#[test]
fn bundled_array_story() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/array");
    let members: Vec<std::path::PathBuf> = ["m0.img", "m1.img", "m3.img"]
        .iter()
        .map(|m| dir.join(m))
        .collect();
    let sums: std::collections::BTreeMap<String, String> =
        std::fs::read_to_string(dir.join("SHA256SUMS"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (h, name) = l.split_once("  ").unwrap();
                (name.to_string(), h.to_string())
            })
            .collect();
    let sum = |k: &str| {
        sums.get(k)
            .unwrap_or_else(|| panic!("{k} in SHA256SUMS"))
            .clone()
    };
    let run = |args: &[&str]| {
        let mut a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        a.extend(members.iter().map(|m| m.as_os_str()));
        recover(&a)
    };
    let doc = scan_json(&members.iter().map(|m| m.as_path()).collect::<Vec<_>>(), 0);
    let md0 = node(&doc, "md0");
    assert_eq!(md0["level"], "raid5");
    assert_eq!(md0["state"]["status"], "degraded");
    assert_eq!(md0["state"]["missing"][0]["slot"], 2);
    assert_eq!(node(&doc, "md0/mbr/p1/ext2")["label"], "fileserver");

    let tmp = fixtures::cache_dir().join(format!("example-array-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let t = |n: &str| tmp.join(n).to_str().unwrap().to_string();
    // The array, rebuilt from parity where slot 2 held the data.
    let r = run(&["extract", "--at", "md0", "-o", &t("md0.img")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&tmp.join("md0.img")),
        sum("md0 (the whole array, as the md driver served it)")
    );
    // Every file, with a manifest naming what was rebuilt.
    let r = run(&[
        "cp",
        "--at",
        "md0/mbr/p1/ext2:/",
        "-o",
        &t("files"),
        "--manifest",
        &t("m.json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (name, h) in sums
        .iter()
        .filter(|(n, _)| !n.contains(' ') && !n.starts_with("guest:"))
    {
        assert_eq!(&sha256_file(&tmp.join("files").join(name)), h, "{name}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("m.json")).unwrap()).unwrap();
    assert!(m["totals"]["origin_bytes"]["parity"].as_u64().unwrap() > 0);
    // The VM image's virtual disk, and the guest's files inside it.
    let vm = "md0/mbr/p1/ext2:/vm/guest.qcow2";
    let r = run(&[
        "extract",
        "--at",
        &format!("{vm}/qcow2"),
        "-o",
        &t("guest.raw"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&tmp.join("guest.raw")),
        sum("vm/guest.qcow2 (its virtual disk, raw)")
    );
    for (name, h) in sums
        .iter()
        .filter_map(|(n, h)| Some((n.strip_prefix("guest:")?, h)))
    {
        let r = run(&["cat", "--at", &format!("{vm}/qcow2/gpt/p1/ext2:/{name}")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let got = format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(&r.stdout_bytes)
        );
        assert_eq!(&got, h, "guest:{name}");
    }
    // The restore drill: every file of the host's ext2 and of the guest's,
    // read whole (the host's and the guest's hashed files all ok), the VM
    // image checked as qemu-img check checks it.
    let r = run(&["check", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    let files = &doc["files"];
    let fss: Vec<&str> = files["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        fss,
        ["md0/mbr/p1/ext2", &format!("{vm}/qcow2/gpt/p1/ext2")],
        "{files}"
    );
    assert!(
        files["files"].as_u64().unwrap() as usize >= sums.len() - 2,
        "{files}"
    );
    assert_eq!(files["ok"]["files"], files["files"]);
    assert!(files["rebuilt_bytes"]["parity"].as_u64().unwrap() > 0);
    let images: Vec<(&str, bool)> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["path"].as_str().unwrap(), i["consistent"] == true))
        .collect();
    assert_eq!(images, [(format!("{vm}/qcow2").as_str(), true)]);
    let _ = std::fs::remove_dir_all(&tmp);
}
