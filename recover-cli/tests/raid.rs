//! `recover scan` on RAID members from the lab corpus (real md driver and
//! mdadm, fixtures/lab): array nodes in the JSON contract, with members,
//! missing slots and states. Skipped without the corpus (see
//! recover-core/tests/lab.rs).

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn scan(args: &[&std::ffi::OsStr]) -> (i32, Value, String) {
    let mut a: Vec<&std::ffi::OsStr> = vec!["scan".as_ref(), "--json".as_ref()];
    a.extend(args);
    let r = recover(&a);
    let j = r.json();
    (r.code, j, r.stderr)
}

#[test]
fn raid5_members_make_one_complete_array() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/raid5-4d-64k-ls-0.90");
    let imgs = images(&dir);
    let args: Vec<&std::ffi::OsStr> = imgs.iter().map(|p| p.as_os_str()).collect();
    let (code, doc, err) = scan(&args);
    assert_eq!(code, 0, "{err}");
    let a = node(&doc, "md0");
    assert_eq!(a["kind"], "array");
    assert_eq!(a["format"], "md");
    assert_eq!(a["level"], "raid5");
    assert_eq!(a["layout"]["neutral"], "left-symmetric");
    assert_eq!(a["layout"]["native"], "left-symmetric (2)");
    assert_eq!(a["chunk_size"], 65536);
    assert_eq!(a["raid_disks"], 4);
    assert_eq!(a["state"]["status"], "complete");
    assert_eq!(a["state"]["missing"], serde_json::json!([]));
    let man: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(a["size"], man["arrays"][0]["array_size_bytes"]);
    let members = a["members"].as_array().unwrap();
    assert_eq!(members.len(), 4);
    for (i, m) in members.iter().enumerate() {
        assert_eq!(m["slot"], i);
        assert_eq!(m["path"], format!("d{i}/md"));
        assert_eq!(m["standing"], "current");
        assert_eq!(m["metadata"]["version"], "0.90");
        assert_eq!(m["metadata"]["checksum"], "ok");
        assert_eq!(m["data_offset"], 0);
    }
    // Each member node carries its own metadata.
    let d0 = node(&doc, "d0/md");
    assert_eq!(d0["usage"], "raid");
    assert_eq!(d0["details"]["array_uuid"], a["uuid"]);
}

#[test]
fn a_degraded_raid6_names_what_is_missing() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("variants/raid6-5d-512k-la-1.2.degraded-2");
    let imgs = images(&dir);
    let args: Vec<&std::ffi::OsStr> = imgs.iter().map(|p| p.as_os_str()).collect();
    let (code, doc, err) = scan(&args);
    assert_eq!(code, 0, "degraded but readable is not an error: {err}");
    let a = node(&doc, "md0");
    assert_eq!(a["state"]["status"], "degraded");
    let missing: Vec<u64> = a["state"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slot"].as_u64().unwrap())
        .collect();
    assert_eq!(missing, vec![0, 2]);
    assert!(a["problems"].as_array().unwrap().iter().any(|p| p["detail"]
        .as_str()
        .unwrap()
        .contains("missing slot(s) 0, 2")));
}

#[test]
fn a_raid0_missing_a_member_has_failed() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("variants/raid0-3d-64k-1.2.degraded-1");
    let imgs = images(&dir);
    let args: Vec<&std::ffi::OsStr> = imgs.iter().map(|p| p.as_os_str()).collect();
    let (code, doc, err) = scan(&args);
    assert_eq!(code, 1);
    assert_eq!(node(&doc, "md0")["state"]["status"], "failed");
    assert!(
        err.contains("md0: array: too many members missing"),
        "{err}"
    );
}

#[test]
fn imsm_members_are_placed_by_data_or_by_serial() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/imsm-raid5-3d");
    let man: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let imgs = images(&dir);
    // Without serials: placed by their data, in the slots mdadm gave them.
    let args: Vec<&std::ffi::OsStr> = imgs.iter().map(|p| p.as_os_str()).collect();
    let (code, doc, err) = scan(&args);
    assert_eq!(code, 0, "{err}");
    let a = node(&doc, "imsm0");
    assert_eq!(a["state"]["order_known"], true);
    assert_eq!(a["state"]["status"], "complete");
    for w in man["arrays"][0]["members"].as_array().unwrap() {
        let m = a["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["slot"] == w["slot"])
            .unwrap_or_else(|| panic!("nobody in slot {}: {a}", w["slot"]));
        assert!(
            m["source"]
                .as_str()
                .unwrap()
                .ends_with(w["image"].as_str().unwrap()),
            "{m}"
        );
        assert_eq!(m["standing"], "current", "{m}");
        assert!(
            m["identified_by"].as_str().unwrap().starts_with("its data"),
            "{m}"
        );
    }
    // With the serials mdadm wrote (the guest's device names here).
    let mut args: Vec<std::ffi::OsString> = imgs.iter().map(|p| p.as_os_str().to_owned()).collect();
    for m in man["members"].as_array().unwrap() {
        args.push("--serial".into());
        args.push(
            format!(
                "{}={}",
                dir.join(m["image"].as_str().unwrap()).display(),
                m["guest_device"].as_str().unwrap()
            )
            .into(),
        );
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
    let (code, doc, err) = scan(&refs);
    assert_eq!(code, 0, "{err}");
    let a = node(&doc, "imsm0");
    assert_eq!(a["state"]["order_known"], true);
    assert_eq!(a["state"]["status"], "complete");
    for w in man["arrays"][0]["members"].as_array().unwrap() {
        let m = a["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["slot"] == w["slot"])
            .unwrap();
        assert!(
            m["source"]
                .as_str()
                .unwrap()
                .ends_with(w["image"].as_str().unwrap()),
            "{m}"
        );
        assert!(
            m["identified_by"].as_str().unwrap().starts_with("serial"),
            "{m}"
        );
    }
}

/// Every "nometa" variant of the lab (every byte outside the arrays' data
/// zeroed: no superblock, no anchor, no MPB) assembles bit-exact from the
/// geometry alone, given on the command line.
#[test]
fn arrays_without_metadata_assemble_from_the_command_line() {
    let Some(lab) = lab() else { return };
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(lab.join("variants"))
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.to_string_lossy().ends_with(".nometa"))
        .collect();
    entries.sort();
    for dir in entries {
        let vm: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let truth: Value = serde_json::from_slice(
            &std::fs::read(dir.join(vm["truth"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        for a in truth["arrays"].as_array().unwrap() {
            let order: Vec<String> = a["member_order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let mut args: Vec<String> = vec!["assemble".into()];
            args.extend(order.iter().map(|img| dir.join(img).display().to_string()));
            let level = a["level"].as_str().unwrap();
            args.extend(["--level".into(), level.into()]);
            let chunk = a["chunk_size_bytes"].as_u64().unwrap_or(0);
            if chunk > 0 && level != "raid1" && level != "linear" {
                args.extend(["--chunk".into(), chunk.to_string()]);
            }
            if let Some(l) = a["layout"].as_str().filter(|l| *l != "-unknown-") {
                args.extend(["--layout".into(), l.into()]);
            }
            let offsets: Vec<String> = a["members"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["slot"].is_u64())
                .map(|m| m["data_offset_bytes"].as_u64().unwrap().to_string())
                .collect();
            args.extend(["--offset".into(), offsets.join(",")]);
            args.extend([
                "--size".into(),
                a["array_size_bytes"].as_u64().unwrap().to_string(),
            ]);
            let out = fixtures::cache_dir().join("nometa-assembled.img");
            args.extend(["-o".into(), out.display().to_string(), "--force".into()]);
            let r = recover(&args);
            let what = format!("{} {}: {}", dir.display(), a["tag"], args[1..].join(" "));
            assert_eq!(r.code, 0, "{what}: {}", r.stderr);
            assert_eq!(sha256_file(&out), a["sha256"].as_str().unwrap(), "{what}");
            checked += 1;
        }
    }
    eprintln!("nometa arrays assembled by hand: {checked}");
    assert!(checked >= 40, "only {checked}");
}

#[test]
fn bad_overrides_are_refused_clearly() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/raid5-4d-64k-la-1.2");
    let m: Vec<String> = (0..4)
        .map(|i| dir.join(format!("m{i}.img")).display().to_string())
        .collect();
    let out = fixtures::cache_dir()
        .join("refused.img")
        .display()
        .to_string();
    let run = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["assemble".into()];
        a.extend(m.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["-o".into(), out.clone(), "--force".into()]);
        recover(&a)
    };
    for (extra, want) in [
        (&["--level", "6"][..], "contradicts the md metadata"),
        (&["--chunk", "128K"][..], "contradicts the md metadata"),
        (
            &["--level", "5", "--chunk", "48K", "--ignore-metadata"][..],
            "power of two",
        ),
        (
            &[
                "--level",
                "5",
                "--chunk",
                "64K",
                "--missing",
                "0,1",
                "--ignore-metadata",
            ][..],
            "more than a raid5 array can rebuild",
        ),
        (
            &[
                "--level",
                "5",
                "--chunk",
                "64K",
                "--offset",
                "17M",
                "--ignore-metadata",
            ][..],
            "too small",
        ),
        (&["--level", "9", "--ignore-metadata"][..], "not one of"),
        (
            &[
                "--level",
                "5",
                "--chunk",
                "64K",
                "--order",
                "0,1,1,2",
                "--ignore-metadata",
            ][..],
            "names a source twice",
        ),
    ] {
        let r = run(extra);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{extra:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "{extra:?}: one line: {}",
            r.stderr
        );
    }
}
