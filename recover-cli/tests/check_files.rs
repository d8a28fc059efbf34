//! `recover check` reads every file: an ext4 (made by mke2fs) with the
//! extent data of known inodes broken by debugfs is checked against
//! `e2fsck -n`: the files check calls damaged are exactly those whose
//! inodes e2fsck names, each with the structure at fault and its offset;
//! every other file is ok, and `--at` narrows the read to a directory. The
//! same on XFS against `xfs_repair -n`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use fixtures::ext_image::{ext_image, EXT_VARIANTS};

fn debugfs(img: &Path, req: &str, write: bool) -> String {
    let mut c = Command::new("debugfs");
    if write {
        c.arg("-w");
    }
    let o = c.args(["-R", req]).arg(img).output().expect("run debugfs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn damaged_files_are_the_inodes_e2fsck_names() {
    if !fixtures::tools::have("debugfs") || !fixtures::tools::have("e2fsck") {
        eprintln!("SKIPPED: no debugfs or e2fsck");
        return;
    }
    let Some(src) = ext_image(EXT_VARIANTS.iter().find(|v| v.name == "ext4").unwrap()) else {
        return;
    };
    let dir = fixtures::cache_dir().join(format!("check-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("damaged.img");
    let ok = Command::new("cp")
        .arg("--sparse=always")
        .arg(&src)
        .arg(&img)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    // i_block of an extent inode: the 12-byte header (block[0..3]), then
    // the first extent: logical block, length and start_hi, start_lo.
    // debugfs keeps the inode checksum right, so only the extents are bad.
    for (path, field, value) in [
        ("/sizes/len-65537-9", "block[5]", "0x7fffff00"), // start past the end
        ("/large.bin", "block[0]", "0x12345678"),         // header magic
    ] {
        debugfs(&img, &format!("sif {path} {field} {value}"), true);
    }
    // The oracle: the inodes e2fsck finds at fault, by path.
    let o = Command::new("e2fsck")
        .arg("-fn")
        .arg(&img)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&o.stdout);
    let mut inodes = BTreeSet::new();
    for l in report.lines() {
        if let Some(rest) = l.strip_prefix("Inode ") {
            if let Some(n) = rest
                .split([' ', ','])
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                inodes.insert(n);
            }
        }
    }
    assert_eq!(inodes.len(), 2, "{report}");
    let mut want = BTreeSet::new();
    for ino in &inodes {
        let n = debugfs(&img, &format!("ncheck {ino}"), false);
        let p = n
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string();
        want.insert(format!("d0/ext4:/{}", p.trim_start_matches('/')));
    }

    let i = img.to_str().unwrap();
    let r = recover(["check", "--json", i]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let files = &doc["files"];
    let got: BTreeSet<String> = files["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["verdict"], "damaged", "{l}");
            let e = &l["errors"][0]["detail"];
            assert!(
                e.as_str().unwrap().contains("extent") && e.as_str().unwrap().contains("0x"),
                "the structure and its offset: {e}"
            );
            l["path"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(files["damaged"]["files"], 2);
    let all = files["files"].as_u64().unwrap();
    assert!(all > 1000, "{files}");
    assert_eq!(files["ok"]["files"].as_u64().unwrap(), all - 2);

    // A directory with no damaged file: all ok, exit 0.
    let r = recover(["check", "--json", i, "--at", "d0/ext4:/names"]);
    let doc = r.json();
    assert!(doc["files"]["files"].as_u64().unwrap() > 0, "{}", r.stdout);
    assert_eq!(doc["files"]["list"], serde_json::json!([]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The damaged file alone.
    let r = recover(["check", i, "--at", "d0/ext4:/large.bin"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("1 damaged") && r.stdout.contains("d0/ext4:/large.bin"),
        "{}",
        r.stdout
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same drill on XFS (v5, made by `mkfs.xfs -p`): the data fork of
/// two inodes pointed past the end of the filesystem with `xfs_db -x`
/// (which keeps the inode CRC right); the files check calls damaged are
/// exactly the inodes `xfs_repair -n` finds with a bad data fork.
#[test]
fn damaged_files_are_the_inodes_xfs_repair_names() {
    use fixtures::xfs_image::{mkfs_xfs_available, xfs_proto, XfsVersion};
    if !mkfs_xfs_available("damaged_files_are_the_inodes_xfs_repair_names")
        || !fixtures::tools::have("xfs_db")
        || !fixtures::tools::have("xfs_repair")
    {
        return;
    }
    let src = xfs_proto(XfsVersion::V5);
    let dir = fixtures::cache_dir().join(format!("check-files-xfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("damaged.img");
    assert!(Command::new("cp")
        .arg("--sparse=always")
        .arg(&src)
        .arg(&img)
        .status()
        .unwrap()
        .success());
    let xfs_db = |args: &[&str], write: bool| -> String {
        let mut c = Command::new("xfs_db");
        c.arg(if write { "-x" } else { "-r" });
        for a in args {
            c.args(["-c", a]);
        }
        let o = c.arg(&img).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for path in ["/large.bin", "/sizes/len-1048576-10"] {
        xfs_db(
            &[
                &format!("path {path}"),
                "write u3.bmx[0].startblock 900000000",
            ],
            true,
        );
    }
    // The oracle: the inodes xfs_repair finds with a bad data fork, by
    // path (xfs_db's ncheck).
    let o = Command::new("xfs_repair")
        .arg("-n")
        .arg(&img)
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    let inodes: BTreeSet<u64> = report
        .lines()
        .filter_map(|l| l.strip_prefix("bad data fork in inode "))
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert_eq!(inodes.len(), 2, "{report}");
    let mut want = BTreeSet::new();
    for ino in &inodes {
        let out = xfs_db(&["blockget -n", &format!("ncheck -i {ino}")], false);
        let p = out
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .get(1)
                    .map(|s| s.to_string())
            })
            .next_back()
            .unwrap();
        want.insert(format!("d0/xfs:/{p}"));
    }
    let r = recover(["check", "--json", img.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let got: BTreeSet<String> = doc["files"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["verdict"], "damaged", "{l}");
            let e = l["errors"][0]["detail"].as_str().unwrap();
            assert!(e.contains("extent") && e.contains("0x"), "{e}");
            l["path"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(got, want);
    std::fs::remove_dir_all(&dir).unwrap();
}
