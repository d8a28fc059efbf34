//! `recover check` reports the checksum of every layer: a disk made by
//! sgdisk with an ext4 made by mke2fs in its partition is all ok; with a
//! byte of the backup GPT header and one of the ext4 superblock flipped,
//! exactly those two are mismatches (as `sgdisk -v` and `e2fsck -n` say
//! of the same image), and check exits 1.

mod common;

use std::os::unix::fs::FileExt;
use std::process::Command;

use common::*;

fn sums(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    doc["checksums"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["structure"].as_str().unwrap().to_string(),
                s["checksum"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_layers_checksum_is_reported() {
    for t in ["sgdisk", "mke2fs", "e2fsck"] {
        if !fixtures::tools::have(t) {
            eprintln!("SKIPPED: no {t}");
            return;
        }
    }
    let dir = fixtures::cache_dir().join(format!("check-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("disk.img");
    let size: u64 = 64 << 20;
    std::fs::File::create(&img).unwrap().set_len(size).unwrap();
    let ok = Command::new("sgdisk")
        .args(["-n", "1:2048:+32M", "-t", "1:8300"])
        .arg(&img)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok);
    let ok = Command::new("mke2fs")
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-O",
            "metadata_csum",
            "-E",
            "offset=1048576",
        ])
        .arg(&img)
        .arg("32M")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let i = img.to_str().unwrap();
    let r = recover(["check", "--json", i]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clean = sums(&r.json());
    let want_paths = ["d0/gpt", "d0/gpt", "d0/gpt/p1/ext4"];
    assert_eq!(
        clean.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        want_paths,
        "{clean:?}"
    );
    assert!(clean.iter().all(|s| s.2 == "ok"), "{clean:?}");

    // The backup header's disk GUID (at 0x38 of the last sector), and the
    // superblock's volume name (0x78 of the superblock, 1024 bytes in).
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(b"X", size - 512 + 0x38).unwrap();
    f.write_all_at(b"X", (1 << 20) + 1024 + 0x78).unwrap();
    drop(f);
    // The oracles see the same damage.
    let v = Command::new("sgdisk").arg("-v").arg(&img).output().unwrap();
    let said = String::from_utf8_lossy(&v.stdout).to_lowercase();
    assert!(said.contains("corrupt gpt"), "{said}");
    let part = dir.join("p1.img");
    let ok = Command::new("dd")
        .arg(format!("if={i}"))
        .arg(format!("of={}", part.display()))
        .args(["bs=1M", "skip=1", "count=32", "status=none"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let e = Command::new("e2fsck")
        .arg("-fn")
        .arg(&part)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&e.stdout).to_lowercase()
        + &String::from_utf8_lossy(&e.stderr).to_lowercase();
    assert!(said.contains("superblock checksum"), "{said}");

    let r = recover(["check", "--json", i]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let damaged = sums(&r.json());
    let bad: Vec<(&str, &str)> = damaged
        .iter()
        .filter(|s| s.2 != "ok")
        .map(|s| (s.0.as_str(), s.1.as_str()))
        .collect();
    assert_eq!(
        bad,
        [
            ("d0/gpt", "GPT backup header and entries"),
            ("d0/gpt/p1/ext4", "ext4 superblock")
        ],
        "{damaged:?}"
    );
    let r = recover(["check", i]);
    assert!(r.stdout.contains("2 not"), "{}", r.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}
