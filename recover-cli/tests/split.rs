//! Split raw images read as one disk.

mod common;

use common::*;

#[test]
fn split_image_reads_as_the_whole_disk() {
    let whole = fixtures::gpt_small().path;
    let first = fixtures::split_image(7); // 64 MiB in ten parts, the last one short
    let a = scan_json(&[&whole], 0);
    let b = scan_json(&[&first], 0);
    let d = node(&b, "d0");
    assert_eq!(d["format"], "split_raw");
    assert_eq!(d["source_kind"], "split");
    assert_eq!(d["parts"], 10);
    assert_eq!(d["size"], node(&a, "d0")["size"]);
    assert_eq!(a["nodes"][0]["children"], b["nodes"][0]["children"]);
    // Every byte, across the part boundaries.
    let out = fixtures::cache_dir().join("split-extract.img");
    let _ = std::fs::remove_file(&out);
    let r = recover([
        "extract",
        first.to_str().unwrap(),
        "--at",
        "d0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sha256_file(&out), sha256_file(&whole));
    std::fs::remove_file(&out).unwrap();
}
