//! `recover scan --deep` on images made by the real tools with their
//! partition tables wiped (and, in a second pass, every primary superblock
//! that has a backup zeroed too): every filesystem at its exact start,
//! with its size; and the sfdisk script it writes recreates the table.

mod common;

use common::*;
use fixtures::{Fixture, Wipe};
use serde_json::Value;

/// (start, size) in bytes of every partition of the original with content,
/// and the content's format, from sfdisk --json and the recipe.
fn expected(original: &Fixture) -> Vec<(u64, u64, &'static str)> {
    let t = sfdisk(&original.path);
    let t = &t["partitiontable"];
    let ss = t["sectorsize"].as_u64().unwrap();
    t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let n: u32 = p["node"]
                .as_str()
                .unwrap()
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            let c = original.content(n)?;
            Some((
                p["start"].as_u64()? * ss,
                p["size"].as_u64()? * ss,
                c.kind.format(),
            ))
        })
        .collect()
}

/// Block groups of the ext filesystem at `start` of an image: with one,
/// there is no backup superblock to find it by.
fn ext_groups(img: &std::path::Path, start: u64) -> u64 {
    let sb = fixtures::disk::peek(img, start + 1024, 1024);
    let le = |o: usize| u64::from(u32::from_le_bytes(sb[o..o + 4].try_into().unwrap()));
    (le(4) - le(0x14)).div_ceil(le(0x20))
}

fn recovered(doc: &Value, disk: &str) -> Vec<Value> {
    node(doc, &format!("{disk}/recovered"))["children"]
        .as_array()
        .unwrap()
        .clone()
}

/// Formats whose size the deep scan cannot know (LUKS records none): the
/// partition then runs to the next one found.
const SIZELESS: &[&str] = &["luks"];

fn check(original: &Fixture, wipe: Wipe) {
    let w = fixtures::wiped(original, wipe);
    // Nothing is left for the plain scan to read the partitions from.
    let plain = scan_json(&[&w.path], 1);
    assert!(
        node(&plain, "d0")["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] != "partition_table"),
        "{wipe:?}: a table survived"
    );
    let r = recover(["scan", "--deep", "--json", w.path.to_str().unwrap()]);
    let doc = r.json();
    let found = recovered(&doc, "d0");
    for (start, size, format) in expected(original) {
        // With only primaries gone, formats that keep no backup cannot be found.
        let backed_up = match format {
            "ext2" | "ext3" | "ext4" => ext_groups(&original.path, start) > 1,
            f => matches!(f, "xfs" | "btrfs" | "ntfs" | "fat32" | "exfat" | "luks"),
        };
        if wipe == Wipe::TablesAndPrimaries && !backed_up {
            continue;
        }
        if wipe == Wipe::TablesAndPrimaries && format == "luks" {
            continue; // LUKS1 keeps no second header; LUKS2's is checked below
        }
        let what = format!("{wipe:?}: {format} at {start:#x}");
        let p = found
            .iter()
            .find(|p| p["offset"] == start)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: not found among {:?}",
                    found
                        .iter()
                        .map(|p| (p["offset"].clone(), p["children"][0]["format"].clone()))
                        .collect::<Vec<_>>()
                )
            });
        let fs = &p["children"][0];
        assert_eq!(fs["format"], format, "{what}");
        if !SIZELESS.contains(&format) {
            assert_eq!(p["size"], size, "{what}: size");
        }
        assert_eq!(
            p["from_backups_only"],
            wipe == Wipe::TablesAndPrimaries,
            "{what}"
        );
        assert!(p["confidence"].as_u64().unwrap() >= 50, "{what}: {p}");
    }
}

#[test]
fn wiped_gpt_every_filesystem_found_at_its_start() {
    check(&fixtures::gpt_mixed(), Wipe::Tables);
}

#[test]
fn wiped_mbr_with_logicals_every_filesystem_found() {
    check(&fixtures::mbr_logical(), Wipe::Tables);
}

#[test]
fn only_backups_left_still_found() {
    check(&fixtures::gpt_mixed(), Wipe::TablesAndPrimaries);
    check(&fixtures::mbr_logical(), Wipe::TablesAndPrimaries);
}

/// The sfdisk script recover writes, applied by sfdisk to a copy of the
/// wiped disk, gives back the original's partitions (start and size).
#[test]
fn emitted_sfdisk_script_recreates_the_table() {
    let original = fixtures::mbr_logical();
    let w = fixtures::wiped(&original, Wipe::Tables);
    let dir = fixtures::cache_dir().join("deep-sfdisk");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("recovered.sfdisk");
    let copy = dir.join("restored.img");
    let r = recover([
        "scan",
        "--deep",
        w.path.to_str().unwrap(),
        "--emit-sfdisk",
        script.to_str().unwrap(),
    ]);
    assert!(script.exists(), "{}", r.stderr);
    std::fs::copy(&w.path, &copy).unwrap();
    let out = std::process::Command::new("sfdisk")
        .args([
            "-q",
            "--no-reread",
            "--no-tell-kernel",
            "--wipe",
            "never",
            "--wipe-partitions",
            "never",
        ])
        .arg(&copy)
        .stdin(std::fs::File::open(&script).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sfdisk refused the script: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&script).unwrap()
    );
    let restored = sfdisk(&copy);
    let parts: Vec<(u64, u64)> = restored["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_u64().unwrap() * 512,
                p["size"].as_u64().unwrap() * 512,
            )
        })
        .collect();
    for (start, size, format) in expected(&original) {
        assert!(
            parts.contains(&(start, size)),
            "{format} at {start:#x}+{size} not in the restored table {parts:?}"
        );
    }
    // And the plain scan now reads the filesystems through it.
    let doc = scan_json(&[&copy], 0);
    let table = node(&doc, "d0/mbr");
    assert!(table["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] != "extended")
        .all(|p| !p["children"].as_array().unwrap().is_empty()));
    std::fs::remove_file(&copy).unwrap();
}

/// The same findings from 1 thread and many, and from the mapped and the
/// read path; a range limits the search.
#[test]
fn same_results_every_way() {
    use recover_core::io::{open_source, MapPolicy};
    use recover_core::scan::{scan, Finding, ScanOptions};
    let w = fixtures::wiped(&fixtures::gpt_mixed(), Wipe::TablesAndPrimaries);
    let run = |policy: MapPolicy, threads: usize, opts: ScanOptions| -> Vec<Finding> {
        let src = open_source(&w.path, policy).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut found: Vec<Finding> = Vec::new();
        pool.install(|| scan(&src.volume, &opts, &mut found))
            .unwrap();
        found
    };
    let base = run(MapPolicy::Auto, 1, ScanOptions::default());
    assert!(base.len() > 10, "{} findings", base.len());
    assert!(base.windows(2).all(|w| w[0].at <= w[1].at), "offset order");
    assert_eq!(
        run(MapPolicy::Auto, 4, ScanOptions::default()),
        base,
        "4 threads"
    );
    assert_eq!(
        run(MapPolicy::Never, 3, ScanOptions::default()),
        base,
        "pread"
    );
    assert_eq!(
        run(
            MapPolicy::Auto,
            2,
            ScanOptions {
                no_zero_copy: true,
                block: 1 << 20,
                ..Default::default()
            }
        ),
        base,
        "read_at, small blocks"
    );
    // Blocks of one sector: every structure straddles a block boundary.
    assert_eq!(
        run(
            MapPolicy::Auto,
            2,
            ScanOptions {
                block: 512,
                range: Some(0..(96 << 20)),
                ..Default::default()
            }
        ),
        base.iter()
            .filter(|f| f.at < 96 << 20)
            .cloned()
            .collect::<Vec<_>>(),
        "512-byte blocks"
    );
    let part: Vec<Finding> = run(
        MapPolicy::Auto,
        2,
        ScanOptions {
            range: Some((100 << 20)..(400 << 20)),
            ..Default::default()
        },
    );
    assert_eq!(
        part,
        base.iter()
            .filter(|f| (100 << 20..400 << 20).contains(&f.at))
            .cloned()
            .collect::<Vec<_>>(),
        "range"
    );
}
