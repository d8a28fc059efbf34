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
