//! `recover check` on arrays the real md driver wrote (the lab corpus,
//! md and DDF and IMSM): clean copies are consistent; bytes flipped in
//! known members at known rows are reported at exactly those rows (and, on
//! RAID6 and three-way mirrors, members), with md's mismatch count (by the
//! rule, and as md's own `check` counted it on damaged members:
//! target/lab/mismatch, fixtures/lab/mismatch.py); and `--repair-to` gives
//! back the array hash md recorded. Skipped without the corpus (see
//! recover-core/tests/lab.rs).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A directory of copies of a scenario's members, removed at the end.
struct Copy {
    dir: PathBuf,
    imgs: Vec<PathBuf>,
    man: Value,
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sparse (or reflinked) copies of `scenario`'s member images.
fn copy(lab: &Path, scenario: &str, tag: &str) -> Copy {
    let src = lab.join("scenarios").join(scenario);
    let dir = fixtures::cache_dir()
        .join("check")
        .join(format!("{scenario}-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut imgs = Vec::new();
    for i in images(&src) {
        let to = dir.join(i.file_name().unwrap());
        let ok = std::process::Command::new("cp")
            .args(["--sparse=always", "--reflink=auto"])
            .arg(&i)
            .arg(&to)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cp {}", i.display());
        imgs.push(to);
    }
    let man: Value =
        serde_json::from_slice(&std::fs::read(src.join("manifest.json")).unwrap()).unwrap();
    Copy { dir, imgs, man }
}

impl Copy {
    fn array(&self) -> &Value {
        &self.man["arrays"][0]
    }

    fn chunk(&self) -> u64 {
        self.array()["chunk_size_bytes"].as_u64().unwrap_or(0)
    }

    /// The slot of image `img` (m0.img ...) in the first array, and where
    /// its data starts.
    fn member(&self, img: &str) -> (u64, u64) {
        let m = self.array()["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["image"] == img)
            .unwrap_or_else(|| panic!("{img} is no member"));
        (
            m["slot"].as_u64().unwrap(),
            m["data_offset_bytes"].as_u64().unwrap(),
        )
    }

    /// XORs `x` into the byte at `at` of the member data area of `img`.
    fn flip(&self, img: &str, at: u64, x: u8) {
        let (_, off) = self.member(img);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join(img))
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, off + at).unwrap();
        b[0] ^= x;
        f.write_all_at(&b, off + at).unwrap();
    }

    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args: Vec<&std::ffi::OsStr> = vec!["check".as_ref(), "--json".as_ref()];
        args.extend(self.imgs.iter().map(|p| p.as_os_str()));
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        let r = recover(&args);
        // A command-line mistake prints nothing on stdout.
        let j = if r.stdout.is_empty() {
            Value::Null
        } else {
            r.json()
        };
        (r.code, j, r.stderr)
    }
}

/// Every lab scenario with a redundant array, md, DDF and IMSM.
fn redundant_scenarios(lab: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(lab.join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        let Ok(m) = std::fs::read(p.join("manifest.json")) else {
            continue;
        };
        let m: Value = serde_json::from_slice(&m).unwrap();
        if m["status"] != "ok" {
            continue;
        }
        let levels: Vec<&str> = m["arrays"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["level"].as_str())
            .collect();
        if levels
            .iter()
            .any(|l| ["raid1", "raid4", "raid5", "raid6", "raid10"].contains(l))
        {
            v.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    v.sort();
    v
}

#[test]
fn every_clean_lab_array_is_consistent() {
    let Some(lab) = lab() else { return };
    let all = redundant_scenarios(&lab);
    assert!(all.len() >= 40, "{all:?}");
    for s in &all {
        let dir = lab.join("scenarios").join(s);
        let mut args = vec!["check".to_string(), "--json".to_string()];
        args.extend(images(&dir).iter().map(|p| p.display().to_string()));
        let r = recover(&args);
        assert_eq!(r.code, 0, "{s}: {}\n{}", r.stdout, r.stderr);
        let doc = r.json();
        let arrays = doc["arrays"].as_array().unwrap();
        let man: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            arrays.len(),
            man["arrays"].as_array().unwrap().len(),
            "{s}: every array checked"
        );
        for a in arrays {
            if a["redundancy"] == false {
                continue;
            }
            assert_eq!(a["consistent"], true, "{s}: {a}");
            assert_eq!(a["mismatches"], serde_json::json!([]), "{s}");
            assert_eq!(a["mismatch_sectors"], 0, "{s}");
            let rows = a["rows"].as_u64().unwrap();
            assert!(rows > 0, "{s}: {a}");
            // A scenario made with a failed member checks what the others cover.
            if !s.contains("failed") {
                assert_eq!(a["rows"], a["total_rows"], "{s}");
            }
        }
    }
}

/// Flips bytes of known members at known rows of a parity array; the
/// report must name exactly those rows, the members on RAID6 (null on
/// RAID4/5), the first bad byte, and md's count.
fn parity_damage(scenario: &str, flips: &[(&str, u64, u64)]) {
    let Some(lab) = lab() else { return };
    let c = copy(&lab, scenario, "damage");
    let chunk = c.chunk();
    let level = c.array()["level"].as_str().unwrap().to_string();
    let mut want: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut pages = BTreeSet::new();
    for &(img, row, at) in flips {
        let moff = row * chunk + at;
        c.flip(img, moff, 0x5a);
        // Several flips in one row: the first bad byte is reported.
        let slot = c.member(img).0;
        let e = want.entry(row).or_insert((slot, moff));
        if moff < e.1 {
            *e = (slot, moff);
        }
        pages.insert(moff / 4096);
    }
    let (code, doc, err) = c.check(&[]);
    assert_eq!(code, 1, "{scenario}: {err}");
    let a = &doc["arrays"][0];
    let got = a["mismatches"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{scenario}: {a}");
    for (m, (&row, &(slot, moff))) in got.iter().zip(&want) {
        assert_eq!(m["row"], row, "{scenario}: {m}");
        assert_eq!(m["member_offset"], moff, "{scenario}: {m}");
        if level == "raid6" {
            assert_eq!(m["slot"], slot, "{scenario}: {m}");
            let path = m["member"].as_str().unwrap();
            let img_index = c
                .imgs
                .iter()
                .position(|p| c.member(p.file_name().unwrap().to_str().unwrap()).0 == slot)
                .unwrap();
            assert!(
                path.starts_with(&format!("d{img_index}/")),
                "{scenario}: {path} is not on d{img_index}"
            );
        } else {
            assert_eq!(m["member"], Value::Null, "{scenario}: {m}");
        }
    }
    // md: 8 sectors per 4 KiB stripe_head whose parity fails.
    assert_eq!(a["mismatch_sectors"], pages.len() as u64 * 8, "{scenario}");
    files_agree(&c, &lab, scenario, &doc);
}

#[test]
fn raid6_damage_is_found_at_its_rows_and_members() {
    parity_damage(
        "raid6-4d-64k-ls-1.2",
        &[
            ("m0.img", 1, 0),
            ("m1.img", 2, 4095),
            ("m3.img", 100, 65535),
            ("m2.img", 239, 7),
        ],
    );
    parity_damage(
        "raid6-5d-512k-la-1.2",
        &[("m4.img", 0, 1000), ("m2.img", 13, 300_000)],
    );
    parity_damage(
        "raid6-5d-4k-ra-1.1",
        &[("m1.img", 7, 1), ("m3.img", 8, 4000)],
    );
    parity_damage(
        "raid6-4d-64k-ddf-N-continue-1.2",
        &[
            ("m0.img", 3, 9),
            ("m1.img", 4, 9),
            ("m2.img", 5, 9),
            ("m3.img", 6, 9),
        ],
    );
    parity_damage(
        "ddf-raid6-4d",
        &[("m1.img", 17, 123), ("m2.img", 300, 60_000)],
    );
}

#[test]
fn raid5_and_raid4_damage_is_found_at_its_rows() {
    parity_damage(
        "raid5-4d-64k-ls-0.90",
        &[("m0.img", 0, 0), ("m3.img", 200, 32768)],
    );
    // Two bytes of one row in different 4 KiB: md counts two stripe_heads.
    parity_damage(
        "raid5-6d-16k-ls-1.2-nopt",
        &[("m5.img", 42, 100), ("m1.img", 42, 9000)],
    );
    parity_damage("raid4-3d-64k-1.2", &[("m2.img", 5, 5), ("m0.img", 6, 6)]);
    parity_damage("ddf-raid5-4d", &[("m1.img", 10, 10)]);
    parity_damage("imsm-raid5-3d", &[("m2.img", 77, 4096)]);
}

/// Mirrors: the block or chunk holding the flipped byte is reported, its
/// copies listed (one of them the damaged one); three copies outvote.
fn mirror_damage(scenario: &str, flips: &[(&str, u64)], named: bool) {
    let Some(lab) = lab() else { return };
    let c = copy(&lab, scenario, "damage");
    for &(img, at) in flips {
        c.flip(img, at, 0xff);
    }
    let (code, doc, err) = c.check(&[]);
    assert_eq!(code, 1, "{scenario}: {err}");
    let a = &doc["arrays"][0];
    let got = a["mismatches"].as_array().unwrap();
    assert_eq!(got.len(), flips.len(), "{scenario}: {a}");
    for &(img, at) in flips {
        let slot = c.member(img).0;
        let m = got
            .iter()
            .find(|m| {
                m["copies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["slot"] == slot && p["member_offset"] == at)
            })
            .unwrap_or_else(|| panic!("{scenario}: no mismatch holds {img} at {at:#x}: {a}"));
        if named {
            assert_eq!(m["slot"], slot, "{scenario}: {m}");
            assert_eq!(m["member_offset"], at, "{scenario}: {m}");
        } else {
            assert_eq!(m["member"], Value::Null, "{scenario}: {m}");
        }
    }
}

#[test]
fn mirror_damage_is_found_in_its_copies() {
    mirror_damage(
        "raid1-2d-1.2",
        &[("m1.img", 70_000), ("m0.img", 5 << 20)],
        false,
    );
    mirror_damage(
        "raid1-3d-0.90",
        &[("m2.img", 1 << 20), ("m0.img", 9 << 20)],
        true,
    );
    mirror_damage(
        "raid10-4d-64k-n2-1.2",
        &[("m3.img", 3 << 16), ("m0.img", (40 << 16) + 5)],
        false,
    );
    mirror_damage(
        "raid10-3d-64k-f2-1.0",
        &[("m1.img", 100), ("m2.img", 7 << 20)],
        false,
    );
    mirror_damage("raid10-3d-4k-o2-1.2", &[("m0.img", 4096 * 9 + 1)], false);
    mirror_damage("ddf-raid10-4d", &[("m2.img", 1 << 20)], false);
}

#[test]
fn mirror_counts_follow_md() {
    // raid1.c process_checks: one 64 KiB request, differing on one mirror
    // of two: 128 sectors; a byte in the first mirror of three differs
    // from both others: 256.
    let Some(lab) = lab() else { return };
    let c = copy(&lab, "raid1-3d-0.90", "count");
    c.flip("m0.img", 3 << 16, 1);
    let (_, doc, _) = c.check(&[]);
    assert_eq!(doc["arrays"][0]["mismatch_sectors"], 256);
    let c = copy(&lab, "raid1-2d-1.2", "count");
    c.flip("m1.img", 3 << 16, 1);
    c.flip("m1.img", (3 << 16) + 100, 1);
    let (_, doc, _) = c.check(&[]);
    assert_eq!(doc["arrays"][0]["mismatch_sectors"], 128);
    // raid10.c: requests stop at a chunk's end (4 KiB chunks: 8 sectors).
    let c = copy(&lab, "raid10-3d-4k-o2-1.2", "count");
    c.flip("m1.img", 4096 * 20, 1);
    let (_, doc, _) = c.check(&[]);
    assert_eq!(doc["arrays"][0]["mismatch_sectors"], 8);
}

#[test]
fn repair_to_gives_back_the_array_md_wrote() {
    let Some(lab) = lab() else { return };
    for (scenario, flips) in [
        (
            "raid6-4d-64k-ls-1.2",
            vec![
                ("m0.img", 3 * 65536 + 1),
                ("m2.img", 10 * 65536 + 77),
                ("m3.img", 11 * 65536),
            ],
        ),
        (
            "ddf-raid6-4d",
            vec![("m1.img", 5 * 65536 + 9), ("m0.img", 400 * 65536)],
        ),
        ("raid6-5d-4k-ra-1.1", vec![("m4.img", 4096 * 33 + 3)]),
    ] {
        let c = copy(&lab, scenario, "repair");
        for (img, at) in flips {
            // A run of bytes, all in one member's chunk.
            for k in 0..64 {
                c.flip(img, at + k, 0x81);
            }
        }
        let out = c.dir.join("fixed.img");
        let (code, doc, err) = c.check(&["--repair-to", out.to_str().unwrap()]);
        assert_eq!(code, 1, "{scenario}: {err}");
        assert!(doc["arrays"][0]["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["member"].is_string()));
        assert_eq!(
            sha256_file(&out),
            c.array()["sha256"].as_str().unwrap(),
            "{scenario}: the repaired array is not md's"
        );
        // The sources were not written: damage is still there.
        let (code, _, _) = c.check(&[]);
        assert_eq!(code, 1);
        // An existing file is not replaced without --force.
        let (code, _, err) = c.check(&["--repair-to", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--force"), "{err}");
    }
}

#[test]
fn a_member_named_bad_is_left_out_and_rebuilt() {
    let Some(lab) = lab() else { return };
    let c = copy(&lab, "raid5-4d-64k-ls-0.90", "bad");
    // Garbage over much of one member: RAID5 cannot say who is wrong.
    for k in 0..2000u64 {
        c.flip("m2.img", k * 4099, 0x33);
    }
    let (code, doc, _) = c.check(&[]);
    assert_eq!(code, 1);
    assert!(doc["arrays"][0]["mismatches"].as_array().unwrap().len() > 100);
    assert!(files_agree(&c, &lab, "raid5-4d-64k-ls-0.90", &doc) > 0);
    let out = c.dir.join("fixed.img");
    let (code, doc, err) = c.check(&["--bad", "d2", "--repair-to", out.to_str().unwrap()]);
    // Left out, nothing is left to check a RAID5 against: consistent, said.
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["arrays"][0]["rows"], 0);
    // The files are read from the array rebuilt without it: all ok.
    let files = &doc["files"];
    assert!(files["files"].as_u64().unwrap() > 0, "{files}");
    assert_eq!(files["ok"]["files"], files["files"], "{files}");
    assert!(
        files["rebuilt_bytes"]["parity"].as_u64().unwrap() > 0,
        "{files}"
    );
    assert!(doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["detail"].as_str().unwrap().contains("left out")));
    assert_eq!(sha256_file(&out), c.array()["sha256"].as_str().unwrap());
    // A name that is no member is a mistake, not a silent full check.
    let (code, _, err) = c.check(&["--bad", "d9"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_degraded_raid6_checks_what_is_left() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("variants/raid6-5d-512k-la-1.2.degraded-1");
    let mut args = vec!["check".to_string(), "--json".to_string()];
    args.extend(images(&dir).iter().map(|p| p.display().to_string()));
    let r = recover(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = &r.json()["arrays"][0];
    assert_eq!(a["consistent"], true);
    assert_eq!(
        a["rows"], a["total_rows"],
        "one missing: every row still has Q or P"
    );
    // Damage in a member that is there is still found, but not placed.
    let c = copy(&lab, "raid6-5d-512k-la-1.2", "degraded");
    c.flip("m3.img", 5 * 524288 + 10, 1);
    let gone = c.imgs.iter().position(|p| p.ends_with("m1.img")).unwrap();
    let (code, doc, err) = {
        let mut args: Vec<&std::ffi::OsStr> = vec!["check".as_ref(), "--json".as_ref()];
        for (i, p) in c.imgs.iter().enumerate() {
            if i != gone {
                args.push(p.as_os_str());
            }
        }
        let r = recover(&args);
        (r.code, r.json(), r.stderr)
    };
    assert_eq!(code, 1, "{err}");
    let m = &doc["arrays"][0]["mismatches"];
    assert_eq!(m.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(m[0]["row"], 5);
    assert_eq!(m[0]["member"], Value::Null);
}

#[test]
fn linear_and_raid0_have_nothing_to_check() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/raid0-3d-64k-1.2");
    let mut args = vec!["check".to_string(), "--json".to_string()];
    args.extend(images(&dir).iter().map(|p| p.display().to_string()));
    let r = recover(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = &r.json()["arrays"][0];
    assert_eq!(a["redundancy"], false);
    assert_eq!(a["rows"], 0);
}

/// md itself as the oracle (issue 16): arrays the md driver made and
/// filled, bytes flipped on the host at recorded member offsets, and the
/// `mismatch_cnt` md's own `echo check > sync_action` counted on exactly
/// those members (fixtures/lab/mismatch.py, `target/lab/mismatch`). The
/// count must be md's, the rows those holding the flips (the blocks or
/// chunks, on mirrors), and a RAID6 row hit in one member (or a three-copy
/// chunk hit in one copy) must name it.
#[test]
fn mismatch_sectors_are_mds_own_count() {
    let Some(dir) = fixtures::lab::lab_corpus("mismatch") else {
        return;
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let mut cases = 0;
    for s in index["scenarios"].as_array().unwrap() {
        let name = s["scenario"].as_str().unwrap();
        let case = dir.join(name);
        let rec: Value =
            serde_json::from_slice(&std::fs::read(case.join("record.json")).unwrap()).unwrap();
        let level = rec["level"].as_str().unwrap();
        let chunk = rec["chunk"].as_u64().unwrap();
        let n = rec["members"].as_u64().unwrap();
        let slot = |img: u64| rec["slot"][img as usize].as_u64().unwrap();
        let mut args = vec!["check".to_string(), "--json".to_string()];
        args.extend((0..n).map(|i| case.join(format!("m{i}.img")).display().to_string()));
        let r = recover(&args);
        assert_eq!(r.code, 1, "{name}: {}\n{}", r.stdout, r.stderr);
        let doc = r.json();
        let a = &doc["arrays"][0];
        assert_eq!(a["level"], level, "{name}");
        assert_eq!(
            a["mismatch_sectors"], rec["mismatch_cnt"],
            "{name}: md's mismatch_cnt after check: {a}"
        );
        let got = a["mismatches"].as_array().unwrap();
        let flips: Vec<(u64, u64, u64)> = rec["flips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let (m, o, l) = (&f["member"], &f["offset"], &f["len"]);
                (
                    m.as_u64().unwrap(),
                    o.as_u64().unwrap(),
                    l.as_u64().unwrap(),
                )
            })
            .collect();
        if matches!(level, "raid4" | "raid5" | "raid6") {
            assert_eq!(a["chunk_size"], chunk, "{name}");
            // Row -> (slots hit, first flipped byte).
            let mut want: BTreeMap<u64, (BTreeSet<u64>, u64)> = BTreeMap::new();
            for &(img, off, len) in &flips {
                let row = off / chunk;
                assert_eq!((off + len - 1) / chunk, row, "{name}: a flip in one row");
                let e = want.entry(row).or_insert((BTreeSet::new(), off));
                e.0.insert(slot(img));
                e.1 = e.1.min(off);
            }
            let rows: Vec<u64> = got.iter().map(|m| m["row"].as_u64().unwrap()).collect();
            assert_eq!(
                rows,
                want.keys().copied().collect::<Vec<_>>(),
                "{name}: {a}"
            );
            for (m, (slots, first)) in got.iter().zip(want.values()) {
                assert_eq!(m["member_offset"], *first, "{name}: {m}");
                match (level, slots.len()) {
                    ("raid6", 1) => {
                        let s = *slots.first().unwrap();
                        assert_eq!(m["slot"], s, "{name}: {m}");
                        assert!(m["member"].is_string(), "{name}: {m}");
                    }
                    _ => assert_eq!(m["slot"], Value::Null, "{name}: {m}"),
                }
            }
        } else {
            // Mirrors: each flip lies in exactly one reported block
            // (RAID1: md's 64 KiB resync request) or chunk (RAID10) as one
            // of its copies, and every report holds a flip.
            let unit = if level == "raid1" { 64 << 10 } else { chunk };
            let mut held = vec![0; got.len()];
            for &(img, off, _) in &flips {
                let s = slot(img);
                let hits: Vec<usize> = (0..got.len())
                    .filter(|&i| {
                        got[i]["copies"].as_array().unwrap().iter().any(|c| {
                            c["slot"] == s
                                && c["member_offset"].as_u64().unwrap() / unit == off / unit
                        })
                    })
                    .collect();
                assert_eq!(hits.len(), 1, "{name}: m{img} at {off:#x}: {a}");
                let m = &got[hits[0]];
                held[hits[0]] += 1;
                if m["copies"].as_array().unwrap().len() >= 3 {
                    assert_eq!(m["slot"], s, "{name}: three copies outvote m{img}: {m}");
                    assert_eq!(m["member_offset"], off, "{name}: {m}");
                } else {
                    assert_eq!(m["slot"], Value::Null, "{name}: {m}");
                }
            }
            assert!(held.iter().all(|&h| h == 1), "{name}: {held:?} {a}");
        }
        cases += 1;
    }
    assert!(cases >= 9, "{cases} cases");
}

fn sha256_bytes(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(b))
}

/// The bytes of `at` (FSNODE:/path) in `imgs`, by `recover cat`; None
/// when it cannot be had.
fn try_cat(imgs: &[PathBuf], at: &str) -> Option<Vec<u8>> {
    let mut args: Vec<String> = vec!["cat".into(), "--at".into(), at.into()];
    args.extend(imgs.iter().map(|p| p.display().to_string()));
    let r = recover(&args);
    (r.code == 0).then_some(r.stdout_bytes)
}

fn cat(imgs: &[PathBuf], at: &str) -> Vec<u8> {
    try_cat(imgs, at).unwrap_or_else(|| panic!("cat {at} failed"))
}

/// check's file verdicts against what the guest wrote (the hashes of its
/// files in the manifest): every file the damage changed is listed
/// suspect, every byte changed inside its inconsistent ranges (the bytes
/// from the clean members, themselves equal to the guest's, say which);
/// every file not listed reads as the guest wrote it. Returns how many
/// files the damage changed.
fn files_agree(c: &Copy, lab: &Path, scenario: &str, doc: &Value) -> usize {
    let clean = images(&lab.join("scenarios").join(scenario));
    let files = &doc["files"];
    let listed: BTreeMap<&str, &Value> = files["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["path"].as_str().unwrap(), l))
        .collect();
    let mut changed = 0;
    for p in c.array()["partitions"].as_array().into_iter().flatten() {
        let (Some(fs), Some(names)) = (p["fs"].as_str(), p["files"].as_object()) else {
            continue;
        };
        let whole = p["whole_array"] == true;
        let suffix = if whole {
            format!("/{fs}")
        } else {
            format!("/p{}/{fs}", p["number"])
        };
        let Some(fsnode) = files["filesystems"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["path"].as_str())
            .find(|f| f.ends_with(&suffix) && (!whole || f.matches('/').count() == 1))
        else {
            panic!("{scenario}: no filesystem at *{suffix} was read: {files}");
        };
        for (name, sha) in names {
            let at = format!("{fsnode}:/{name}");
            let Some(got) = try_cat(&c.imgs, &at) else {
                // Lost with its directory: the filesystem's damage is an
                // error of check's, or a directory is listed damaged.
                let said = doc["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["path"] == fsnode && p["severity"] == "error")
                    || listed
                        .iter()
                        .any(|(p, l)| p.starts_with(fsnode) && l["verdict"] == "damaged");
                assert!(said, "{scenario}: {at} is lost and nothing says so: {doc}");
                changed += 1;
                continue;
            };
            if sha256_bytes(&got) == sha.as_str().unwrap() {
                // Listed or not: a suspect row may hold bytes of it that
                // the damage left alone.
                if let Some(l) = listed.get(at.as_str()) {
                    assert_eq!(l["verdict"], "suspect", "{scenario}: {l}");
                }
                continue;
            }
            changed += 1;
            let l = listed
                .get(at.as_str())
                .unwrap_or_else(|| panic!("{scenario}: {at} was changed but reported ok"));
            assert_eq!(l["verdict"], "suspect", "{scenario}: {l}");
            let was = cat(&clean, &at);
            assert_eq!(
                sha256_bytes(&was),
                sha.as_str().unwrap(),
                "{scenario}: {at}"
            );
            let ranges: Vec<(u64, u64)> = l["ranges"]["inconsistent"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["start"].as_u64().unwrap(), r["end"].as_u64().unwrap()))
                .collect();
            for (i, (a, b)) in was.iter().zip(&got).enumerate() {
                if a != b {
                    let i = i as u64;
                    assert!(
                        ranges.iter().any(|&(s, e)| s <= i && i < e),
                        "{scenario}: {at}: byte {i:#x} changed outside {ranges:?}"
                    );
                }
            }
        }
    }
    changed
}

/// Damage under files: a byte of one member flipped in every row, the
/// members in turn, so the guest's files are hit; check names every file changed as suspect, and
/// the bytes changed; on RAID6, where the member at fault is located, only
/// files with data in its chunks are suspect (P and Q damage leaves the
/// data alone).
#[test]
fn files_on_inconsistent_rows_are_suspect() {
    let Some(lab) = lab() else { return };
    for scenario in [
        "ddf-raid5-4d",
        "raid6-4d-64k-ls-1.2",
        "raid5-3d-512k-ls-1.2",
    ] {
        let c = copy(&lab, scenario, "files");
        let chunk = c.chunk();
        let size = c.array()["component_size_bytes"].as_u64().unwrap();
        let rows = size / chunk;
        let imgs: Vec<String> = c
            .imgs
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // One member per row, in turn, somewhere in its chunk.
        for (k, row) in (0..rows).enumerate() {
            let img = &imgs[k % imgs.len()];
            c.flip(img, row * chunk + (k as u64 * 4099) % chunk, 0x81);
        }
        let (code, doc, err) = c.check(&[]);
        assert_eq!(code, 1, "{scenario}: {err}");
        let changed = files_agree(&c, &lab, scenario, &doc);
        assert!(changed > 0, "{scenario}: the damage hit no file");
        // The same damage, files read below one filesystem only.
        let fs = doc["files"]["filesystems"][0]["path"].as_str().unwrap();
        let (code, one, err) = c.check(&["--at", fs]);
        assert_eq!(code, 1, "{scenario}: {err}");
        assert_eq!(one["files"]["filesystems"].as_array().unwrap().len(), 1);
        assert_eq!(
            one["files"]["suspect"], doc["files"]["filesystems"][0]["suspect"],
            "{scenario}"
        );
    }
}

/// A clean array's files are all ok, each read whole.
#[test]
fn clean_files_are_ok() {
    let Some(lab) = lab() else { return };
    let c = copy(&lab, "ddf-raid5-4d", "clean-files");
    let (code, doc, err) = c.check(&[]);
    assert_eq!(code, 0, "{err}");
    let f = &doc["files"];
    assert!(f["files"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(f["ok"]["files"], f["files"], "{f}");
    assert_eq!(f["list"], serde_json::json!([]), "{f}");
    assert_eq!(files_agree(&c, &lab, "ddf-raid5-4d", &doc), 0);
    let (code, doc, _) = c.check(&["--no-files"]);
    assert_eq!(code, 0);
    assert_eq!(doc["files"]["files"], 0);
}
