//! Bad sources: each gets a one-line error naming the source, the structure
//! and the offset, a non-zero exit, no panic, no huge allocation, no hang;
//! and one bad source never stops the others.

mod common;

use std::path::PathBuf;

use common::*;

fn scratch(name: &str) -> PathBuf {
    let d = fixtures::cache_dir().join("bad-input");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// The lines of stderr that are errors about `source`.
fn error_lines<'a>(stderr: &'a str, source: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("recover: ") && l.contains(source))
        .collect()
}

#[test]
fn missing_path() {
    let r = recover(["scan", "/nonexistent/disk.img"]);
    assert_eq!(r.code, 1);
    let lines = error_lines(&r.stderr, "/nonexistent/disk.img");
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].contains("No such file"), "{}", lines[0]);
}

#[test]
fn a_directory() {
    let d = fixtures::cache_dir();
    let r = recover(["scan".as_ref(), d.as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
}

#[test]
fn empty_and_tiny_files() {
    let empty = scratch("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let tiny = scratch("tiny.img");
    std::fs::write(&tiny, [0x55u8; 100]).unwrap();
    for (p, what) in [(&empty, "is empty"), (&tiny, "is 100 bytes")] {
        let r = recover(["scan", "--json", p.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        let lines = error_lines(&r.stderr, p.to_str().unwrap());
        assert_eq!(lines.len(), 1, "{}", r.stderr);
        assert!(
            lines[0].contains(what) && lines[0].contains("at 0x0"),
            "{}",
            lines[0]
        );
        assert_eq!(r.json()["nodes"][0]["children"], serde_json::json!([]));
    }
}

#[test]
fn random_bytes() {
    // xorshift: the same 4 MiB of noise on every run.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let p = scratch("random.img");
    std::fs::write(&p, &noise).unwrap();
    let r = recover(["scan", "--json", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines = error_lines(&r.stderr, p.to_str().unwrap());
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].contains("no partition table or filesystem recognized"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("MBR at 0x1fe"), "{}", lines[0]);
}

#[test]
fn one_bad_source_does_not_stop_the_others() {
    let good = fixtures::gpt_small().path;
    let empty = scratch("empty2.img");
    std::fs::write(&empty, b"").unwrap();
    let dir = fixtures::cache_dir();
    let r = recover([
        "scan".as_ref(),
        "--json".as_ref(),
        "/nonexistent/a.img".as_ref(),
        good.as_os_str(),
        dir.as_os_str(),
        empty.as_os_str(),
    ]);
    assert_eq!(r.code, 1);
    let doc = r.json();
    // Paths keep the position on the command line: the good disk is d1.
    let table = node(&doc, "d1/gpt");
    assert_table_matches_sfdisk(table, &sfdisk(&good));
    assert_eq!(node(&doc, "d3")["children"], serde_json::json!([]));
    let errs = doc["errors"].as_array().unwrap();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0]["source"], "/nonexistent/a.img");
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("recover: "))
            .count(),
        3,
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_node_path() {
    let good = fixtures::gpt_small().path;
    let r = recover(["scan", "--at", "d0/gpt/p9", good.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no such node"), "{}", r.stderr);
    let r = recover([
        "scan",
        "--json",
        "--at",
        "d0/gpt/p2",
        good.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    let doc = r.json();
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(doc["nodes"][0]["path"], "d0/gpt/p2");
    assert_eq!(doc["nodes"][0]["children"][0]["format"], "fat32");
}
