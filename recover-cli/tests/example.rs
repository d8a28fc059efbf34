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
