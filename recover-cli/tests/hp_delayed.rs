//! SYNTHETIC: HP Smart Array's delayed parity (RAID5), through the
//! command line. No Linux tool writes the layout: the members come from
//! `fixtures::hp_delayed`, a striper of its own (not the library's layout
//! math) over a real ext4 made by `mke2fs -d`, and the oracle is the ext4
//! image's SHA-256.
//!
//! Asserts, for 4 members (64 KiB strips, parity held 16 rows) and 5
//! members (32 KiB, held 32 rows):
//! - `assemble --level 5 --chunk C --layout left-asymmetric+delay=N`
//!   writes the image byte for byte, and so it does with a member left out
//!   (`--missing`, `--order` with `x`): its chunks rebuilt from parity;
//! - `scan --infer --json` over the members in a scrambled order, no
//!   hints, reports that layout, chunk and slot order, confidently, with no
//!   mdadm command (md has no such layout), and finds the ext4 inside;
//! - `assemble --infer` writes the image byte for byte, whole and with the
//!   member in slot 1 left out (reported missing).
//!
//! A delay spelled wrong is a command-line mistake (exit 2).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fixtures::hp_delayed::{hp_delayed_raid5, SyntheticDelayed};

fn geometries() -> Vec<SyntheticDelayed> {
    [(4, 64 << 10, 16), (5, 32 << 10, 32)]
        .into_iter()
        .filter_map(|(n, chunk, delay)| hp_delayed_raid5(n, chunk, delay))
        .collect()
}

/// A scratch directory for outputs, removed on drop.
struct Out(PathBuf);

impl Out {
    fn new(tag: &str) -> Out {
        let d = fixtures::cache_dir().join(format!("hp-delayed-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Out(d)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn paths(ps: &[&Path]) -> Vec<String> {
    ps.iter().map(|p| p.display().to_string()).collect()
}

fn layout(a: &SyntheticDelayed) -> String {
    format!("left-asymmetric+delay={}", a.delay)
}

#[test]
fn hand_geometry_is_assembled_bit_exact_whole_and_degraded() {
    let out = Out::new("hand");
    for a in geometries() {
        let want = sha256_file(&a.image);
        let chunk = format!("{}K", a.chunk >> 10);
        let o = out.file("array.raw");
        let members: Vec<&Path> = a.members.iter().map(PathBuf::as_path).collect();
        let assemble = |sources: &[&Path], extra: &[&str]| {
            let _ = std::fs::remove_file(&o);
            let mut args = vec!["assemble".to_string()];
            args.extend(paths(sources));
            args.extend(
                ["-o", o.to_str().unwrap(), "--level", "5", "--chunk", &chunk].map(String::from),
            );
            args.extend(["--layout".to_string(), layout(&a)]);
            args.extend(extra.iter().map(|s| s.to_string()));
            let r = recover(&args);
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            sha256_file(&o)
        };
        assert_eq!(assemble(&members, &[]), want, "{} whole", layout(&a));
        // Each member left out in turn, named by --missing.
        for gone in 0..members.len() {
            let rest: Vec<&Path> = (0..members.len())
                .filter(|&i| i != gone)
                .map(|i| members[i])
                .collect();
            let g = gone.to_string();
            assert_eq!(
                assemble(&rest, &["--missing", &g]),
                want,
                "{} without slot {gone}",
                layout(&a)
            );
        }
        // --order: the sources given backwards, slot 2's left out.
        let given: Vec<usize> = (0..members.len()).rev().filter(|&s| s != 2).collect();
        let order: Vec<String> = (0..members.len())
            .map(|s| match given.iter().position(|&g| g == s) {
                Some(i) => i.to_string(),
                None => "x".to_string(),
            })
            .collect();
        let given: Vec<&Path> = given.iter().map(|&s| members[s]).collect();
        assert_eq!(
            assemble(&given, &["--order", &order.join(",")]),
            want,
            "{} by --order {}",
            layout(&a),
            order.join(",")
        );
    }
}

#[test]
fn a_delay_spelled_wrong_is_refused() {
    let Some(a) = geometries().into_iter().next() else {
        return;
    };
    let out = Out::new("bad");
    let o = out.file("array.raw");
    for bad in [
        "left-asymmetric+delay=0",
        "left-asymmetric+delay=x",
        "left-asymmetric+wait=16",
    ] {
        let mut args = vec!["assemble".to_string()];
        args.extend(paths(
            &a.members.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        ));
        args.extend(
            [
                "-o",
                o.to_str().unwrap(),
                "--level",
                "5",
                "--chunk",
                "64K",
                "--layout",
                bad,
            ]
            .map(String::from),
        );
        let r = recover(&args);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("layout"), "{bad}: {}", r.stderr);
        assert!(!o.exists(), "{bad}: an output was written");
    }
}

#[test]
fn inference_finds_the_delayed_layout_and_assembles_it_bit_exact() {
    let out = Out::new("infer");
    for a in geometries() {
        let want = sha256_file(&a.image);
        let n = a.members.len();
        // Given scrambled: the i-th source is slot (3i + 2) mod n.
        let given: Vec<usize> = (0..n).map(|i| (i * 3 + 2) % n).collect();
        let sources: Vec<&Path> = given.iter().map(|&s| a.members[s].as_path()).collect();
        let mut args = vec!["scan".to_string(), "--infer".into(), "--json".into()];
        args.extend(paths(&sources));
        let r = recover(&args);
        // 1: the members holding the ext4's start show it truncated there.
        assert!(r.code <= 1, "{}", r.stderr);
        let doc = r.json();
        let arr = node(&doc, "inferred0");
        assert_eq!(arr["level"], "raid5");
        assert_eq!(arr["layout"]["neutral"], layout(&a).as_str());
        assert_eq!(arr["chunk_size"], a.chunk);
        assert_eq!(arr["size"], fixtures::hp_delayed::IMAGE_SIZE);
        let conf = arr["confidence"].as_f64().unwrap();
        assert!(conf >= 0.5, "{}: confidence {conf}", layout(&a));
        // Slot s holds the source given at the position of s.
        let order: Vec<String> = arr["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap().to_string())
            .collect();
        let want_order: Vec<String> = (0..n)
            .map(|s| format!("d{}", given.iter().position(|&g| g == s).unwrap()))
            .collect();
        assert_eq!(order, want_order);
        assert!(arr["mdadm"]["command"].is_null(), "{}", arr["mdadm"]);
        assert!(
            arr["mdadm"]["warning"]
                .as_str()
                .unwrap()
                .contains("no mdadm command"),
            "{}",
            arr["mdadm"]
        );
        assert_eq!(node(&doc, "inferred0/ext4")["format"], "ext4");
        // assemble --infer, whole and with slot 1 gone.
        for gone in [None, Some(1)] {
            let o = out.file("inferred.raw");
            let _ = std::fs::remove_file(&o);
            let rest: Vec<&Path> = given
                .iter()
                .filter(|&&s| Some(s) != gone)
                .map(|&s| a.members[s].as_path())
                .collect();
            let mut args = vec![
                "assemble".to_string(),
                "--infer".into(),
                "-o".into(),
                o.display().to_string(),
            ];
            args.extend(paths(&rest));
            let r = recover(&args);
            assert_eq!(
                r.code,
                0,
                "{}, slot {gone:?} gone: {}",
                layout(&a),
                r.stderr
            );
            assert!(r.stderr.contains(&layout(&a)), "{}", r.stderr);
            assert_eq!(
                sha256_file(&o),
                want,
                "{}, slot {gone:?} gone: {}",
                layout(&a),
                r.stderr
            );
        }
        // The degraded array names its missing slot.
        let rest: Vec<&Path> = given
            .iter()
            .filter(|&&s| s != 1)
            .map(|&s| a.members[s].as_path())
            .collect();
        let mut args = vec!["scan".to_string(), "--infer".into(), "--json".into()];
        args.extend(paths(&rest));
        let doc = recover(&args).json();
        let arr = node(&doc, "inferred0");
        assert_eq!(arr["layout"]["neutral"], layout(&a).as_str());
        assert_eq!(arr["missing"], serde_json::json!([1]));
    }
}
