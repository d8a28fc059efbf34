//! EWF (E01) images read as the disk they hold, through the CLI: the tree
//! under them is the raw image's, `extract` writes the raw bytes, `cp`
//! copies a file out of the ext4 inside, and the JSON names the segments,
//! the stored hashes and the case data.

mod common;

use common::*;
use fixtures::ewf_image::{acquire, ewfinfo, have_ewf_tools, scratch, source_raw};

#[test]
fn an_e01_reads_as_the_raw_disk() {
    if !have_ewf_tools() {
        return;
    }
    let raw = source_raw();
    let dir = scratch("cli-ewf");
    let first = acquire(&raw, &dir.0, "encase6", "best", 1 << 20);
    let a = scan_json(&[&raw], 0);
    let b = scan_json(&[&first], 0);
    let d = node(&b, "d0");
    assert_eq!(d["format"], "ewf");
    assert_eq!(d["source_kind"], "ewf");
    let e = &d["ewf"];
    let segs = e["segments"].as_array().unwrap();
    assert!(segs.len() > 1);
    assert_eq!(d["parts"], segs.len());
    assert!(segs[1].as_str().unwrap().ends_with("img.E02"));
    // A later segment is a source too: never written over, even with --force.
    let e02 = std::path::PathBuf::from(segs[1].as_str().unwrap());
    let before = std::fs::metadata(&e02).unwrap().len();
    let r = recover([
        "extract",
        first.to_str().unwrap(),
        "--at",
        "d0",
        "-o",
        e02.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(std::fs::metadata(&e02).unwrap().len(), before);
    let info = ewfinfo(&first);
    let get = |k: &str| info.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    assert_eq!(e["md5"].as_str().map(String::from), get("MD5"));
    assert_eq!(e["sha1"].as_str().map(String::from), get("SHA1"));
    assert_eq!(e["case_number"], "case-2024-17");
    assert_eq!(e["examiner"], "Examiner Name");
    assert_eq!(e["chunk_size"], 32768);
    assert_eq!(d["size"], node(&a, "d0")["size"]);
    assert_eq!(a["nodes"][0]["children"], b["nodes"][0]["children"]);

    // Every byte.
    let out = dir.0.join("extract.img");
    let r = recover([
        "extract",
        first.to_str().unwrap(),
        "--at",
        "d0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sha256_file(&out), sha256_file(&raw));

    // A file of the ext4 inside, against the tree it was made from.
    let tree = dir.0.join("tree");
    fixtures::mkfs::sample_tree(&tree);
    let got = dir.0.join("data.bin");
    let r = recover([
        "cp",
        first.to_str().unwrap(),
        "--at",
        "d0/gpt/p1/ext4:/docs/deep/er/data.bin",
        "-o",
        got.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&got),
        sha256_file(&tree.join("docs/deep/er/data.bin"))
    );
}

#[test]
fn a_missing_segment_is_reported_with_its_range() {
    if !have_ewf_tools() {
        return;
    }
    let raw = source_raw();
    let dir = scratch("cli-ewf-missing");
    let first = acquire(&raw, &dir.0, "encase6", "none", 8 << 20);
    std::fs::remove_file(dir.0.join("img.E04")).unwrap();
    let b = scan_json(&[&first], 1);
    let d = node(&b, "d0");
    assert_eq!(d["ewf"]["missing_segments"], serde_json::json!([4]));
    let bad = d["bad_ranges"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let problems = d["problems"].to_string();
    assert!(problems.contains("segment 4"), "{problems}");
}

#[test]
fn an_e01_set_inside_ext4_opens_as_a_disk() {
    if !have_ewf_tools() || !fixtures::tools::have("mkfs.ext4") {
        return;
    }
    let raw = fixtures::gpt_small().path;
    let dir = scratch("cli-ewf-in-fs");
    let tree = dir.0.join("tree");
    acquire(&raw, &tree.join("imgs"), "encase6", "none", 8 << 20);
    let fs = dir.0.join("fs.img");
    std::fs::File::create(&fs)
        .unwrap()
        .set_len(112 << 20)
        .unwrap();
    fixtures::tools::run(
        std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&tree)
            .arg(&fs),
    );
    let at = "d0/ext4:/imgs/img.E01";
    let b = recover(["scan", "--json", fs.to_str().unwrap(), "--at", at]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let doc = b.json();
    let e = node(&doc, &format!("{at}/ewf"));
    assert_eq!(e["format"], "ewf");
    assert!(
        e["subformat"].as_str().unwrap().contains("9 segments"),
        "{e}"
    );
    let out = dir.0.join("inner.img");
    let r = recover([
        "extract",
        fs.to_str().unwrap(),
        "--at",
        &format!("{at}/ewf"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sha256_file(&out), sha256_file(&raw));
}

/// `check` verifies the MD5 and SHA-1 an EWF image stores of its media, as
/// libewf's `ewfverify` does: both agree on a clean image (and the MD5 is
/// `md5sum`'s of the raw disk), and both fail once a byte of a stored chunk
/// is flipped (the chunk's checksum fails; its range is named).
#[test]
fn check_verifies_the_stored_hashes() {
    if !have_ewf_tools() {
        return;
    }
    let raw = source_raw();
    let dir = scratch("cli-ewf-check");
    let first = acquire(&raw, &dir.0, "encase6", "none", 8 << 20);
    let md5sum = std::process::Command::new("md5sum")
        .arg(&raw)
        .output()
        .unwrap();
    let want = String::from_utf8_lossy(&md5sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let r = recover(["check", first.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let img = &r.json()["images"][0];
    assert_eq!(img["path"], "d0");
    assert_eq!(img["md5"]["computed"], want.as_str());
    assert_eq!(img["md5"]["match"], true);
    assert_eq!(img["sha1"]["match"], true);
    assert_eq!(img["consistent"], true);
    let verify = |p: &std::path::Path| {
        std::process::Command::new("ewfverify")
            .args(["-q"])
            .arg(p)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify(&first));
    // A byte of stored media flipped where the raw disk has a run no other
    // place has (uncompressed chunks hold the media as it is).
    let data = std::fs::read(&raw).unwrap();
    let at = (59 << 20) + 4096 + 100_000;
    let needle = &data[at..at + 64];
    let mut segs: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.to_string_lossy().starts_with('E'))
        })
        .collect();
    segs.sort();
    let mut flipped = false;
    for s in &segs {
        let mut b = std::fs::read(s).unwrap();
        if let Some(i) = b.windows(64).position(|w| w == needle) {
            b[i + 10] ^= 0x55;
            std::fs::write(s, b).unwrap();
            flipped = true;
            break;
        }
    }
    assert!(flipped, "the run was not found in any segment");
    assert!(!verify(&first), "ewfverify still passes");
    let r = recover(["check", first.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let img = &r.json()["images"][0];
    assert_eq!(img["md5"]["match"], false);
    assert_eq!(img["consistent"], false);
    let bad = img["unreadable"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let (s, e) = (
        bad[0]["start"].as_u64().unwrap(),
        bad[0]["end"].as_u64().unwrap(),
    );
    assert!(
        s <= at as u64 + 10 && (at as u64 + 10) < e && e - s == 32768,
        "{bad:?}"
    );
}
