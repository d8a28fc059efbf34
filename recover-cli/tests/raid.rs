//! `recover scan` on RAID members from the lab corpus (real md driver and
//! mdadm, fixtures/lab): array nodes in the JSON contract, with members,
//! missing slots and states. Skipped without the corpus (see
//! recover-core/tests/lab.rs).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn lab() -> Option<PathBuf> {
    let dir = std::env::var_os("RECOVER_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lab"));
    if dir.join("scenarios").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("RECOVER_REQUIRE_LAB").is_none(),
        "no lab corpus at {}",
        dir.display()
    );
    eprintln!("SKIPPED: no lab corpus at {}", dir.display());
    None
}

fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "img"))
        .collect();
    v.sort();
    v
}

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
fn imsm_members_are_placed_by_serial() {
    let Some(lab) = lab() else { return };
    let dir = lab.join("scenarios/imsm-raid5-3d");
    let man: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let imgs = images(&dir);
    // Without serials: present, complete, order unknown.
    let args: Vec<&std::ffi::OsStr> = imgs.iter().map(|p| p.as_os_str()).collect();
    let (code, doc, _) = scan(&args);
    assert_eq!(code, 0);
    let a = node(&doc, "imsm0");
    assert_eq!(a["state"]["order_known"], false);
    assert!(a["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["standing"] == "unidentified"));
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
