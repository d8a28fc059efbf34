//! Block devices: a loop device shows what its image file shows, and a
//! source with real read errors (EIO from a FUSE file, and from a loop
//! device over it) gives every readable byte, reports the bad ranges, and
//! finishes.

mod common;

use std::ops::Range;

use common::*;
use fixtures::loopdev::Loop;
use serde_json::Value;

/// The tree below the disk node, with the disk's own fields dropped.
fn below_disk(doc: &Value) -> Value {
    doc["nodes"][0]["children"].clone()
}

#[test]
fn loop_device_shows_what_its_image_shows() {
    for fx in [fixtures::gpt_mixed(), fixtures::mbr_logical()] {
        let Some(lo) = Loop::attach(&fx.path, 512, false) else {
            eprintln!("SKIPPED loop_device_shows_what_its_image_shows: no loop device here");
            return;
        };
        let img = scan_json(&[&fx.path], 0);
        let dev = scan_json(&[lo.path()], 0);
        let d = node(&dev, "d0");
        assert_eq!(d["source_kind"], "block_device");
        assert_eq!(d["device_sector_size"], 512);
        assert_eq!(d["size"], node(&img, "d0")["size"]);
        // Same tables, partitions and filesystems, field for field, except
        // that the MBR's sector size now comes from the device.
        let mut a = below_disk(&img);
        let mut b = below_disk(&dev);
        for t in [&mut a, &mut b] {
            for n in t.as_array_mut().unwrap() {
                n.as_object_mut().unwrap().remove("sector_size_source");
            }
        }
        assert_eq!(a, b, "{}", fx.path.display());
    }
}

/// The image with `bad` zeroed: what a perfect salvage returns.
fn expected_salvage(image: &std::path::Path, bad: &[Range<u64>]) -> String {
    let mut data = std::fs::read(image).unwrap();
    for r in bad {
        data[r.start as usize..r.end as usize].fill(0);
    }
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(&data))
}

#[test]
fn read_errors_are_salvaged_and_reported() {
    let fx = fixtures::gpt_small();
    let len = std::fs::metadata(&fx.path).unwrap().len();
    // One sector in the ext4 partition, a 64 KiB run in the FAT32 one, and
    // the backup GPT header (the last sector).
    let bad = vec![
        (1 << 20) + 8192..(1 << 20) + 8192 + 512,
        30 << 20..(30 << 20) + (64 << 10),
        len - 512..len,
    ];
    let Some(fuse) =
        fixtures::fuse::BadFile::mount(&fx.path, &bad, "read_errors_are_salvaged_and_reported")
    else {
        return;
    };
    let want = expected_salvage(&fx.path, &bad);
    let src = fuse.path();
    let mut sources = vec![("fuse file", src.clone())];
    let lo = Loop::attach(&src, 512, false);
    if let Some(l) = &lo {
        sources.push(("loop over fuse", l.path().to_path_buf()));
    } else {
        eprintln!("SKIPPED the loop-device half: no loop device here");
    }
    for (what, src) in sources {
        // Scan: the tables and filesystems still come through, the bad
        // ranges are reported, and the damaged backup header is flagged.
        let r = recover(["scan", "--json", src.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        let doc = r.json();
        let d0 = node(&doc, "d0");
        assert!(
            d0["mapped"] == false,
            "{what}: a FUSE file must not be memory-mapped"
        );
        let ranges = d0["bad_ranges"].as_array().unwrap();
        assert!(
            ranges
                .iter()
                .any(|x| x["start"] == len - 512 && x["end"] == len),
            "{what}: {ranges:?}"
        );
        let table = node(&doc, "d0/gpt");
        assert_eq!(table["gpt"]["used"], "primary");
        assert_eq!(table["gpt"]["backup"]["state"], "missing", "{what}");
        assert_eq!(node(&doc, "d0/gpt/p1/ext4")["label"], "smallroot");
        assert!(
            r.stderr.contains("could not be read"),
            "{what}: {}",
            r.stderr
        );

        // The deep scan reads every sector through the bad ones, and still
        // finds each filesystem the table points at.
        let r = recover(["scan", "--thorough", "--json", src.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        let doc = r.json();
        let starts: Vec<&Value> = node(&doc, "d0/recovered")["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["offset"])
            .collect();
        for p in node(&doc, "d0/gpt")["children"].as_array().unwrap() {
            if !p["children"].as_array().unwrap().is_empty() {
                assert!(
                    starts.contains(&&p["offset"]),
                    "{what}: {p} not among {starts:?}"
                );
            }
        }
        assert!(!node(&doc, "d0")["bad_ranges"]
            .as_array()
            .unwrap()
            .is_empty());

        // Extract: every readable byte, zeros where the medium failed.
        let out = fixtures::cache_dir().join(format!("salvaged-{}.img", what.replace(' ', "-")));
        let _ = std::fs::remove_file(&out);
        let r = recover([
            "extract",
            src.to_str().unwrap(),
            "--at",
            "d0",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert_eq!(sha256_file(&out), want, "{what}: salvaged bytes");
        for b in &bad {
            let line = format!("at {:#x}..{:#x} could not be read", b.start, b.end);
            assert!(
                r.stderr.contains(&line),
                "{what}: missing '{line}' in\n{}",
                r.stderr
            );
        }
        std::fs::remove_file(&out).unwrap();
    }
}
