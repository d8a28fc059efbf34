//! GNU ddrescue mapfiles: an ext4 image rescued by the real ddrescue from a
//! file that fails reads with EIO in known ranges (the FUSE fixture). With
//! `--map`, the ranges ddrescue could not read are bad ranges in `scan`,
//! every file outside them copies exactly, and the files whose blocks lie
//! in them (debugfs says which) are named with the ranges (exit 1).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use fixtures::ext_image::{ext_image, EXT_VARIANTS};
use fixtures::tree::{manifest, source_tree};

fn debugfs(img: &Path, req: &str) -> String {
    let o = Command::new("debugfs")
        .args(["-R", req])
        .arg(img)
        .output()
        .expect("run debugfs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn unread_ranges_of_a_ddrescue_mapfile_name_their_files() {
    if !fixtures::tools::have("ddrescue") || !fixtures::tools::have("debugfs") {
        eprintln!("SKIPPED: no ddrescue (gddrescue) or debugfs");
        return;
    }
    let Some(img) = ext_image(EXT_VARIANTS.iter().find(|v| v.name == "ext4").unwrap()) else {
        return;
    };
    // One block in the middle of large.bin, and the first block of a small
    // file: found by debugfs, the ranges the drive "fails" on.
    let bs: u64 = debugfs(&img, "stats")
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the block size");
    let large: Vec<u64> = debugfs(&img, "blocks /large.bin")
        .split_whitespace()
        .filter_map(|b| b.parse().ok())
        .collect();
    let small: Vec<u64> = debugfs(&img, "blocks /sizes/len-65537-9")
        .split_whitespace()
        .filter_map(|b| b.parse().ok())
        .collect();
    assert!(
        large.len() > 20 && !small.is_empty(),
        "{} and {} blocks",
        large.len(),
        small.len()
    );
    let bad = [
        large[large.len() / 2] * bs..large[large.len() / 2] * bs + bs,
        small[0] * bs..small[0] * bs + 512,
    ];
    // The oracle: the files whose blocks those are, as debugfs names them.
    let mut want = BTreeSet::new();
    for r in &bad {
        let blk = r.start / bs;
        let icheck = debugfs(&img, &format!("icheck {blk}"));
        let ino = icheck
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string();
        let ncheck = debugfs(&img, &format!("ncheck {ino}"));
        let path = ncheck
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string();
        // ncheck prints root entries as "//name".
        want.insert(format!("/{}", path.trim_start_matches('/')));
    }
    let Some(fuse) = fixtures::fuse::BadFile::mount(&img, &bad, "ddrescue") else {
        return;
    };
    let dir = fixtures::cache_dir().join(format!("cli-ddrescue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (out, map) = (dir.join("rescued.img"), dir.join("rescued.map"));
    let o = Command::new("ddrescue")
        .args(["-q", "-r1"])
        .arg(fuse.path())
        .arg(&out)
        .arg(&map)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(fuse);
    let (o, m) = (out.to_str().unwrap(), map.to_str().unwrap());

    // scan shows the unread ranges as bad ranges.
    let r = recover(["scan", "--json", o, "--map", m]);
    let d0 = &r.json()["nodes"][0];
    let ranges: Vec<(u64, u64)> = d0["bad_ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["start"].as_u64().unwrap(), x["end"].as_u64().unwrap()))
        .collect();
    for b in &bad {
        assert!(
            ranges.iter().any(|&(s, e)| s <= b.start && e >= b.end),
            "{b:?} not in {ranges:?}"
        );
    }
    assert!(
        ranges.iter().map(|(s, e)| e - s).sum::<u64>() <= 3 * 4096,
        "{ranges:?}"
    );

    // cp: the files that touch them are named (exit 1), the rest exact.
    let dest = dir.join("out");
    let mj = dir.join("manifest.json");
    let r = recover([
        "cp",
        o,
        "--map",
        &format!("{o}={m}"),
        "--at",
        "d0/ext4:/",
        "-o",
        dest.to_str().unwrap(),
        "--manifest",
        mj.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The manifest: those files partly unreadable, at exactly the bytes of
    // theirs that the unread ranges cover (debugfs's block lists), the rest ok.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&mj).unwrap()).unwrap();
    for rec in doc["files"].as_array().unwrap() {
        let path = rec["path"].as_str().unwrap().trim_start_matches("d0/ext4:");
        let got: Vec<(u64, u64)> = rec["ranges"]["unreadable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| (x["start"].as_u64().unwrap(), x["end"].as_u64().unwrap()))
            .collect();
        if !want.contains(path) {
            assert!(got.is_empty(), "{path}: {got:?}");
            continue;
        }
        assert_eq!(rec["status"], "partly_unreadable", "{path}");
        let size = rec["size"].as_u64().unwrap();
        let mut expect: Vec<(u64, u64)> = Vec::new();
        let blocks = debugfs(&img, &format!("blocks {path}"));
        for (k, b) in blocks
            .split_whitespace()
            .filter_map(|b| b.parse::<u64>().ok())
            .enumerate()
        {
            for &(s, e) in &ranges {
                let (a0, a1) = (s.max(b * bs), e.min(b * bs + bs));
                if a0 >= a1 {
                    continue;
                }
                let at = k as u64 * bs;
                let (f0, f1) = (at + (a0 - b * bs), (at + (a1 - b * bs)).min(size));
                if f0 < f1 {
                    match expect.last_mut() {
                        Some(l) if l.1 == f0 => l.1 = f1,
                        _ => expect.push((f0, f1)),
                    }
                }
            }
        }
        assert_eq!(got, expect, "{path}: unreadable bytes");
    }
    // check reads every file through the same map: the same files partly
    // unreadable, at the same bytes, the rest ok (exit 1).
    let unread_in = |rec: &serde_json::Value| -> Vec<(u64, u64)> {
        rec["ranges"]["unreadable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| (x["start"].as_u64().unwrap(), x["end"].as_u64().unwrap()))
            .collect()
    };
    let copied: std::collections::BTreeMap<String, Vec<(u64, u64)>> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rec| rec["status"] == "partly_unreadable")
        .map(|rec| (rec["path"].as_str().unwrap().to_string(), unread_in(rec)))
        .collect();
    let c = recover(["check", "--json", o, "--map", m]);
    assert_eq!(c.code, 1, "{}", c.stderr);
    let files = &c.json()["files"];
    let checked: std::collections::BTreeMap<String, Vec<(u64, u64)>> = files["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["verdict"], "partly_unreadable", "{l}");
            (l["path"].as_str().unwrap().to_string(), unread_in(l))
        })
        .collect();
    assert_eq!(checked, copied);
    assert_eq!(
        files["partly_unreadable"]["files"].as_u64().unwrap(),
        want.len() as u64
    );
    let named: BTreeSet<String> = r
        .stderr
        .lines()
        .filter(|l| l.contains("partly unreadable"))
        .map(|l| {
            l.split(": ")
                .nth(1)
                .unwrap()
                .trim_start_matches("d0/ext4:")
                .to_string()
        })
        .collect();
    assert_eq!(named, want, "{}", r.stderr);
    std::fs::remove_dir_all(dest.join("lost+found")).unwrap();
    let src = manifest(&source_tree());
    let got = manifest(&dest);
    assert_eq!(got.len(), src.len());
    for (g, w) in got
        .iter()
        .zip(&src)
        .filter(|(g, _)| !want.iter().any(|p| p.trim_start_matches('/') == g.path))
    {
        assert_eq!(g, w);
    }
    // Without the map the same image copies "cleanly": the zeros ddrescue
    // left pass for data.
    let dest2 = dir.join("out2");
    let r = recover([
        "cp",
        o,
        "--at",
        "d0/ext4:/large.bin",
        "-o",
        dest2.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Command-line mistakes: a mapfile that is not one, a source not given.
    let r = recover(["scan", o, "--map", o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = recover(["scan", o, "--map", &format!("other.img={m}")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
