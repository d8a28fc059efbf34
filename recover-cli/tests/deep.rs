//! `recover scan --deep` on images made by the real tools with their
//! partition tables wiped (and, in a second pass, every primary superblock
//! that has a backup zeroed too): every filesystem at its exact start,
//! with its size; and the sfdisk script it writes recreates the table.

mod common;

use common::*;
use fixtures::{Fixture, Wipe};
use recover_core::io::{open_source, MapPolicy, VolumeRef};
use recover_core::scan::{scan, Finding, ScanOptions};
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

/// Asserts that the plain scan finds no partition table on `path`.
fn assert_no_table(doc: &Value, path: &str) {
    let kids = node(doc, path)["children"].as_array().unwrap();
    assert!(
        kids.iter().all(|c| c["kind"] != "partition_table"),
        "{path}: a table survived: {kids:?}"
    );
}

/// Formats whose size the deep scan cannot know (LUKS records none): the
/// partition then runs to the next one found.
const SIZELESS: &[&str] = &["luks"];

fn check(original: &Fixture, wipe: Wipe) {
    let w = fixtures::wiped(original, wipe);
    // Nothing is left for the plain scan to read the partitions from.
    assert_no_table(&scan_json(&[&w.path], 1), "d0");
    for how in ["--deep", "--thorough"] {
        let r = recover(["scan", how, "--json", w.path.to_str().unwrap()]);
        check_found(original, wipe, how, &recovered(&r.json(), "d0"));
    }
}

fn check_found(original: &Fixture, wipe: Wipe, how: &str, found: &[Value]) {
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
        let what = format!("{how} {wipe:?}: {format} at {start:#x}");
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

/// What the scanner finds on `vol` with `threads` threads.
fn findings(vol: &VolumeRef, threads: usize, opts: ScanOptions) -> Vec<Finding> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut found: Vec<Finding> = Vec::new();
    pool.install(|| scan(vol, &opts, &mut found)).unwrap();
    found
}

/// The same findings from 1 thread and many, and from the mapped and the
/// read path; a range limits the search.
#[test]
fn same_results_every_way() {
    let w = fixtures::wiped(&fixtures::gpt_mixed(), Wipe::TablesAndPrimaries);
    let run = |policy: MapPolicy, threads: usize, opts: ScanOptions| -> Vec<Finding> {
        findings(&open_source(&w.path, policy).unwrap().volume, threads, opts)
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

/// Jumping past what is found keeps exactly the findings outside the
/// filesystems jumped past, however the volume is split into blocks and
/// threads; what --thorough finds beyond them is inside those filesystems.
#[test]
fn skipping_keeps_what_lies_outside_found_filesystems() {
    let w = fixtures::wiped(&fixtures::gpt_mixed(), Wipe::Tables);
    let vol = open_source(&w.path, MapPolicy::Auto).unwrap().volume;
    let len = vol.len();
    let run = |threads: usize, opts: ScanOptions| findings(&vol, threads, opts);
    let thorough = run(2, ScanOptions::default());
    let mut skip_to = 0;
    let mut model = Vec::new();
    for f in &thorough {
        if f.at < skip_to {
            continue;
        }
        if let Some(end) = f.skip_end(len) {
            skip_to = skip_to.max(end);
        }
        model.push(f.clone());
    }
    assert!(
        model.len() < thorough.len(),
        "nothing was skipped: {} findings",
        model.len()
    );
    for (threads, block) in [(1, 1 << 20), (3, 1 << 20), (2, 8 << 20), (2, 4096)] {
        let got = run(
            threads,
            ScanOptions {
                block,
                ..ScanOptions::skipping()
            },
        );
        assert_eq!(got, model, "{threads} threads, {block}-byte blocks");
    }
}

/// The deep scan works on an assembled array as on a disk: a RAID5 made by
/// the md driver (lab corpus) whose GPT inside the array (protective MBR,
/// both headers) is zeroed on the members gives back both ext4
/// filesystems at their start (the kernel's sfdisk --json), with the
/// bytes the kernel served; --thorough also finds the qcow2 image that
/// is a file in the first.
#[test]
fn a_wiped_table_inside_an_array_is_found() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/raid5-4d-64k-la-1.2");
    let man: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let work = fixtures::cache_dir().join("deep-array");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let members: Vec<std::path::PathBuf> = images(&dir)
        .iter()
        .map(|m| {
            let to = work.join(m.file_name().unwrap());
            std::fs::copy(m, &to).unwrap();
            to
        })
        .collect();
    let arg = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(members.iter().map(|m| m.to_str().unwrap().to_string()));
        v
    };
    let extract = |at: &str, to: &std::path::Path| {
        let r = recover(arg(&["extract", "--at", at, "-o", to.to_str().unwrap()]));
        assert_eq!(r.code, 0, "extract --at {at}: {}", r.stderr);
    };
    // The original partitions' bytes, checked against the kernel's.
    let parts = man["arrays"][0]["partitions"].as_array().unwrap();
    let array = work.join("array.img");
    extract("md0", &array);
    let original = scan_json(&members.iter().map(|m| m.as_path()).collect::<Vec<_>>(), 0);
    for n in 1..=parts.len() {
        let orig = work.join(format!("orig-p{n}.img"));
        extract(&format!("md0/gpt/p{n}"), &orig);
        assert_eq!(
            sha256_file(&orig),
            parts[n - 1]["sha256"],
            "p{n} as the kernel served it"
        );
    }
    // Zero the array's sectors 0, 1 and last where they sit on the members
    // (found by content: the GPT headers hold the disk's GUID).
    let bytes = std::fs::read(&array).unwrap();
    let last = bytes.len() / 512 - 1;
    for lba in [0, 1, last] {
        let sector = &bytes[lba * 512..lba * 512 + 512];
        assert!(sector.iter().any(|&b| b != 0), "array LBA {lba} is blank");
        let mut hits = 0;
        for m in &members {
            let mut d = std::fs::read(m).unwrap();
            for off in (0..d.len()).step_by(512) {
                if &d[off..off + 512] == sector {
                    d[off..off + 512].fill(0);
                    hits += 1;
                }
            }
            std::fs::write(m, &d).unwrap();
        }
        // Once as data, and again as parity where the stripe's other
        // chunks are zero there (then zeroing both keeps parity right).
        assert!(
            (1..=2).contains(&hits),
            "array LBA {lba}: {hits} copies on the members"
        );
    }
    std::fs::remove_file(&array).unwrap();
    assert_no_table(&recover(arg(&["scan", "--json"])).json(), "md0");
    for how in ["--deep", "--thorough"] {
        let r = recover(arg(&["scan", how, "--json"]));
        let doc = r.json();
        let found = recovered(&doc, "md0");
        assert_eq!(found.len(), parts.len(), "{how}: {found:?}");
        for (i, p) in parts.iter().enumerate() {
            let n = i + 1;
            let f = &found[i];
            let what = format!("{how}: partition {n}");
            assert_eq!(f["offset"], p["start_byte"], "{what}");
            let fs = &f["children"][0];
            let was = node(&original, &format!("md0/gpt/p{n}/ext4"));
            assert_eq!(fs["format"], "ext4", "{what}");
            assert_eq!(fs["uuid"], p["uuid"], "{what}");
            assert_eq!(fs["label"], p["label"], "{what}");
            assert_eq!(f["size"], was["size"], "{what}: the filesystem's size");
        }
        let search = &node(&doc, "md0/recovered")["search"];
        assert_eq!(search["thorough"], how == "--thorough");
        let vm: Vec<&Value> = search["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "vm_image")
            .collect();
        if how == "--thorough" {
            let p1 = &found[0];
            let (a, z) = (
                p1["offset"].as_u64().unwrap(),
                p1["offset"].as_u64().unwrap() + p1["size"].as_u64().unwrap(),
            );
            assert!(
                vm.iter().any(|f| f["format"] == "qcow2"
                    && (a..z).contains(&f["at"].as_u64().unwrap())
                    && f["partition"].is_null()),
                "no qcow2 inside p1: {vm:?}"
            );
        } else {
            assert!(vm.is_empty(), "searched inside p1: {vm:?}");
        }
    }
    // The recovered partitions hold the bytes the kernel served.
    for n in 1..=parts.len() {
        let got = work.join(format!("recovered-p{n}.img"));
        extract(&format!("md0/recovered/p{n}"), &got);
        let len = std::fs::metadata(&got).unwrap().len();
        assert_eq!(
            sha256_file(&got),
            sha256_range(&work.join(format!("orig-p{n}.img")), 0, len),
            "partition {n}"
        );
    }
}

/// On a 4Kn disk (a loop device with 4096-byte sectors, GPT by sgdisk) whose
/// tables are zeroed, the deep scan finds every filesystem, and the sfdisk
/// script counts in 4096-byte sectors: applied by sfdisk to the device (over
/// a copy), it gives back the original partitions.
#[test]
fn a_wiped_4kn_disk_is_recovered_in_its_own_sectors() {
    use fixtures::loopdev::Loop;
    let Some(original) = fixtures::gpt_4kn() else {
        return;
    };
    let dir = fixtures::cache_dir().join("deep-4kn");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("wiped.img");
    std::fs::copy(&original.path, &copy).unwrap();
    let len = std::fs::metadata(&copy).unwrap().len();
    // Protective MBR, primary header and entries (LBAs 0-5 of 4 KiB), and
    // the backup entries and header (the last 5).
    fixtures::disk::patch(&copy, 0, &vec![0u8; 6 * 4096]);
    fixtures::disk::patch(&copy, len - 5 * 4096, &vec![0u8; 5 * 4096]);
    let Some(orig_dev) = Loop::attach(&original.path, 4096, false) else {
        return;
    };
    let want: Vec<(u64, u64)> = sfdisk(orig_dev.path())["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect();
    drop(orig_dev);
    let dev = Loop::attach(&copy, 4096, true).expect("a second loop device");
    let script = dir.join("recovered.sfdisk");
    let r = recover([
        "scan",
        "--deep",
        "--json",
        dev.path().to_str().unwrap(),
        "--emit-sfdisk",
        script.to_str().unwrap(),
    ]);
    let found = recovered(&r.json(), "d0");
    let script_text = std::fs::read_to_string(&script).unwrap();
    assert!(script_text.contains("sector-size: 4096"), "{script_text}");
    for (start, _) in &want {
        assert!(
            found.iter().any(|p| p["offset"] == start * 4096),
            "partition at 4K-LBA {start} not found: {found:?}"
        );
    }
    let out = std::process::Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .args(["--wipe", "never", "--wipe-partitions", "never"])
        .arg(dev.path())
        .stdin(std::fs::File::open(&script).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sfdisk refused the script: {}\n{script_text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sfdisk(dev.path());
    let parts: Vec<(u64, u64)> = got["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect();
    for (start, size) in &want {
        let p = parts.iter().find(|p| p.0 == *start).unwrap_or_else(|| {
            panic!("4K-LBA {start} not in the restored table {parts:?}\n{script_text}")
        });
        // The filesystem's own size: at most the partition's.
        assert!(p.1 <= *size && p.1 > 0, "{p:?} vs {size}");
    }
    drop(dev);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The deep scan of one partition (`--at`): the filesystem in it is found
/// at the partition's offset 0, as blkid identifies it there.
#[test]
fn a_partition_is_searched_on_its_own() {
    let fx = fixtures::gpt_mixed();
    let table = scan_json(&[&fx.path], 0);
    for p in node(&table, "d0/gpt")["children"].as_array().unwrap() {
        let Some(fs) = p["children"].as_array().unwrap().first() else {
            continue;
        };
        if SIZELESS.contains(&fs["format"].as_str().unwrap()) {
            continue;
        }
        let at = p["path"].as_str().unwrap();
        let r = recover(
            ["scan", "--deep", "--json", "--at", at]
                .into_iter()
                .chain([fx.path.to_str().unwrap()]),
        );
        let doc = r.json();
        let found = recovered(&doc, at);
        assert_eq!(found.len(), 1, "{at}: {found:?}");
        assert_eq!(found[0]["offset"], 0, "{at}");
        let got = &found[0]["children"][0];
        assert_eq!(got["format"], fs["format"], "{at}");
        assert_eq!(got["uuid"], fs["uuid"], "{at}");
        let b = blkid(
            &fx.path,
            p["offset"].as_u64().unwrap(),
            p["size"].as_u64().unwrap(),
        );
        assert_fs_matches_blkid(got, &b, at);
    }
}
