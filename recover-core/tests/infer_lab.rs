//! RAID geometry inference checked against the real md driver: every
//! "nometa" variant of the lab corpus (fixtures/lab: member images made by
//! mdadm and the md driver, every byte outside the data extents zeroed, so
//! no superblock is left) is inferred from its data alone, the best
//! candidate assembled, and the SHA-256 of its first `array_size_bytes`
//! compared with the hash of the array as the md driver served it. Then
//! the same with members left out, as many as the level survives: slot 1
//! (RAID1, 4, 5, 6 and 10), and slots 1 and 2 (RAID6); `RECOVER_INFER_SLOT=K`
//! leaves out slot K (and K + 1) instead.
//!
//! Prints a table (scenario, expected, got, confidence), top-1 accuracy by
//! family and by confidence band; asserts that every complete variant is
//! right but for the scenarios in `NOT_YET`, that no wrong answer has a
//! confidence of 0.5 or more, and a floor for the variants with members
//! left out. Run with
//! `RECOVER_LAB_DIR=/work/lab cargo test -p recover-core --test infer_lab -- --nocapture`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};
use recover_core::raid::infer::{infer, Hints};
use recover_core::raid::model::ArrayModel;
use recover_core::raid::volume::ArrayVolume;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sha256_prefix(v: &dyn Volume, len: u64) -> Option<String> {
    if v.len() < len {
        return None;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < len {
        let n = (len - off).min(buf.len() as u64) as usize;
        v.read_at(off, &mut buf[..n]).ok()?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    Some(format!("{:x}", h.finalize()))
}

struct Row {
    scenario: String,
    family: String,
    expected: String,
    got: String,
    confidence: f64,
    ok: bool,
    secs: f64,
    read_mib: f64,
}

/// The family a scenario is counted in: md/ddf/imsm and the level.
fn family(name: &str, level: &str) -> String {
    let kind = if name.starts_with("ddf") {
        "ddf"
    } else if name.starts_with("imsm") {
        "imsm"
    } else {
        "md"
    };
    format!("{kind} {level}")
}

fn run_one(dir: &Path, images: &[String], truth: &Value, label: &str) -> Option<Row> {
    let vols: Vec<VolumeRef> = images
        .iter()
        .map(|i| open_source(&dir.join(i), MapPolicy::Auto).map(|s| s.volume))
        .collect::<Result<_, _>>()
        .ok()?;
    let arrays = truth["arrays"].as_array()?;
    let first = arrays.first()?;
    let level = first["level"].as_str().unwrap_or("?").to_string();
    let expected = format!(
        "{} {} {}K [{}] @{:#x}",
        level,
        first["layout"].as_str().unwrap_or(""),
        first["chunk_size_bytes"].as_u64().unwrap_or(0) / 1024,
        first["member_order"]
            .as_array()
            .map(|o| o
                .iter()
                .map(|v| v
                    .as_str()
                    .unwrap_or("?")
                    .trim_end_matches(".img")
                    .to_string())
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default(),
        first["members"][0]["data_offset_bytes"]
            .as_u64()
            .unwrap_or(0)
    );
    let t = Instant::now();
    let inf = infer(&vols, &Hints::default(), &|_, _| {}).ok()?;
    let secs = t.elapsed().as_secs_f64();
    let read_mib = inf.bytes_read.iter().copied().max().unwrap_or(0) as f64 / 1048576.0;
    // A second volume on the same members (containers): its own candidate.
    let second_ok = inf.further.first().and_then(|f| f.first()).map(|c| {
        ArrayModel::new(c.spec(&vols))
            .ok()
            .and_then(|m| ArrayVolume::new("inferred".into(), m, false).ok())
            .is_some_and(|v| {
                arrays.iter().skip(1).any(|a| {
                    let len = a["array_size_bytes"].as_u64().unwrap_or(u64::MAX);
                    sha256_prefix(&v, len).as_deref() == a["sha256"].as_str()
                })
            })
    });
    let (got, confidence, ok) = match inf.candidates.first() {
        None => ("none".to_string(), 0.0, false),
        Some(c) => {
            let ok = ArrayModel::new(c.spec(&vols))
                .ok()
                .and_then(|m| ArrayVolume::new("inferred".into(), m, false).ok())
                .is_some_and(|v| {
                    arrays.iter().any(|a| {
                        let len = a["array_size_bytes"].as_u64().unwrap_or(u64::MAX);
                        sha256_prefix(&v, len).as_deref() == a["sha256"].as_str()
                    })
                });
            let names: Vec<String> = c
                .slots
                .iter()
                .map(|s| {
                    s.map_or("x".into(), |i| {
                        images[i].trim_end_matches(".img").to_string()
                    })
                })
                .collect();
            (
                format!(
                    "{} {} {}K [{}] @{:#x}",
                    c.level.as_str(),
                    c.layout,
                    c.chunk / 1024,
                    names.join(","),
                    c.data_offset.first().copied().unwrap_or(0)
                ),
                c.confidence,
                ok,
            )
        }
    };
    let label = match second_ok {
        Some(true) => format!("{label} (+2nd array right)"),
        Some(false) => format!("{label} (+2nd array wrong)"),
        None => label.to_string(),
    };
    Some(Row {
        scenario: format!("{}{label}", dir.file_name()?.to_string_lossy()),
        family: family(&dir.file_name()?.to_string_lossy(), &level),
        expected,
        got,
        confidence,
        ok,
        secs,
        read_mib,
    })
}

/// Scenarios of the asserted families that the engine does not infer yet:
/// the lab's variety (issue 13) brought them. They are printed with the
/// others but not asserted; one that comes out right is named, so that it
/// can be taken off this list and asserted from then on.
const NOT_YET: &[&str] = &[
    // Eight members 95% full of incompressible bytes: the right chunk;
    // the partition table and the filesystem place slots 0 and 4, the
    // others (random file data) are told apart by nothing read. Right
    // here only because the lab gives the members in order, which a tie
    // keeps.
    "raid0-8d-256k-1.2-random",
    // Eight members of a sparse NTFS: the MFT records place slots 0 to 5,
    // slots 6 and 7 hold nothing that tells them apart (a tie, at 0.05,
    // kept in the order given, as above).
    "raid0-8d-32k-1.0-ntfs",
];

fn not_yet(scenario: &str) -> bool {
    NOT_YET
        .iter()
        .any(|n| scenario.strip_suffix(".nometa") == Some(n))
}

#[test]
fn nometa_arrays_are_inferred() {
    let Some(lab) = fixtures::lab::lab_corpus("") else {
        return;
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lab.join("variants"))
        .map(|r| r.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    dirs.retain(|p| p.to_string_lossy().ends_with(".nometa"));
    dirs.sort();
    let mut rows: Vec<Row> = Vec::new();
    for dir in &dirs {
        let Ok(text) = std::fs::read(dir.join("manifest.json")) else {
            continue;
        };
        let Ok(vm) = serde_json::from_slice::<Value>(&text) else {
            continue;
        };
        let truth: Value = match vm["truth"].as_str() {
            Some(t) => std::fs::read(dir.join(t))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null),
            None => vm.clone(),
        };
        let mut images: Vec<String> = std::fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| {
                    let n = e.ok()?.file_name().to_string_lossy().to_string();
                    n.ends_with(".img").then_some(n)
                })
                .collect()
            })
            .unwrap_or_default();
        images.sort();
        if let Some(r) = run_one(dir, &images, &truth, "") {
            rows.push(r);
        }
        // Members of the first array left out, as many as its level
        // survives: slot 1, and for RAID6 slots 1 and 2 as well.
        let slot = |k: usize| {
            truth["arrays"][0]["member_order"][k]
                .as_str()
                .map(str::to_string)
        };
        let level = truth["arrays"][0]["level"].as_str().unwrap_or("");
        // RECOVER_INFER_SLOT=K leaves out slot K (and K + 1 for RAID6's
        // second) instead.
        let k: usize = std::env::var("RECOVER_INFER_SLOT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let width = truth["arrays"][0]["member_order"]
            .as_array()
            .map_or(1, |o| o.len().max(1));
        let mut removals: Vec<(Vec<String>, String)> = Vec::new();
        if matches!(level, "raid1" | "raid4" | "raid5" | "raid6" | "raid10") {
            removals.extend(slot(k % width).map(|s| (vec![s], format!(" -slot{}", k % width))));
        }
        if level == "raid6" {
            let (a, b) = (k % width, (k + 1) % width);
            if let (Some(x), Some(y)) = (slot(a), slot(b)) {
                removals.push((vec![x, y], format!(" -slots{a},{b}")));
            }
        }
        for (gone, label) in removals {
            let fewer: Vec<String> = images
                .iter()
                .filter(|i| !gone.contains(i))
                .cloned()
                .collect();
            if let Some(mut r) = run_one(dir, &fewer, &truth, &label) {
                r.family.push_str(" degraded");
                rows.push(r);
            }
        }
    }
    eprintln!(
        "{:<48} {:>5} {:>6} {:>7}  {:<44} {:<44}",
        "scenario", "ok", "conf", "secs", "expected", "got"
    );
    for r in &rows {
        eprintln!(
            "{:<48} {:>5} {:>6.3} {:>7.2}  {:<44} {:<44}  ({:.0} MiB read)",
            r.scenario, r.ok, r.confidence, r.secs, r.expected, r.got, r.read_mib
        );
    }
    let mut fams: Vec<String> = rows.iter().map(|r| r.family.clone()).collect();
    fams.sort();
    fams.dedup();
    for f in &fams {
        let of: Vec<&Row> = rows.iter().filter(|r| &r.family == f).collect();
        let ok = of.iter().filter(|r| r.ok).count();
        eprintln!("top-1 {f}: {ok}/{}", of.len());
    }
    let ok = rows.iter().filter(|r| r.ok).count();
    eprintln!("top-1 overall: {ok}/{}", rows.len());
    let degraded = |r: &&Row| r.family.ends_with("degraded");
    let (whole, fewer): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| !degraded(r));
    let right = |v: &[&Row]| v.iter().filter(|r| r.ok).count();
    eprintln!(
        "top-1 complete: {}/{}, with members left out: {}/{}",
        right(&whole),
        whole.len(),
        right(&fewer),
        fewer.len()
    );
    for (lo, hi) in [(0.0, 0.1), (0.1, 0.3), (0.3, 0.5), (0.5, 0.8), (0.8, 1.01)] {
        let band: Vec<&Row> = rows
            .iter()
            .filter(|r| r.confidence >= lo && r.confidence < hi)
            .collect();
        eprintln!(
            "top-1 at confidence {lo:.1} to {:.1}: {}/{}",
            hi.min(1.0),
            right(&band),
            band.len()
        );
    }
    // A confident answer is a right one.
    let confident_wrong: Vec<&String> = rows
        .iter()
        .filter(|r| !r.ok && r.confidence >= 0.5)
        .map(|r| &r.scenario)
        .collect();
    assert!(
        confident_wrong.is_empty(),
        "wrong at confidence 0.5 or more: {confident_wrong:?}"
    );
    // With a member left out, most (the floor measured when last changed).
    assert!(
        right(&fewer) * 100 >= fewer.len() * 92,
        "with members left out, {} of {} right",
        right(&fewer),
        fewer.len()
    );
    for r in rows.iter().filter(|r| r.ok && not_yet(&r.scenario)) {
        eprintln!(
            "now right: {} (take it off NOT_YET in {})",
            r.scenario,
            file!()
        );
    }
    let wrong: Vec<&Row> = rows
        .iter()
        .filter(|r| !degraded(r) && !r.ok && !not_yet(&r.scenario))
        .collect();
    assert!(
        wrong.is_empty(),
        "wrong in supported families: {:?}",
        wrong.iter().map(|r| &r.scenario).collect::<Vec<_>>()
    );
}
