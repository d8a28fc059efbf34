//! LVM2 against the real lvm2 tools and device-mapper: every scenario of
//! the lab's LVM corpus (fixtures/lab/make-lvm.sh, run in a user-mode
//! Linux guest) is discovered from its member images, and each LV we can
//! read must hash as the kernel's dm device did; its files as the guest
//! read them; the metadata versions found as `pvck` listed them.
//!
//! The corpus lives in `$RECOVER_LAB_DIR/lvm` or `target/lab/lvm` (build
//! it with `fixtures/lab/make-lvm.sh target/lab/lvm --jobs 2`, as root).
//! Without it these tests say SKIPPED, unless `RECOVER_REQUIRE_LAB=1` (CI).

mod common;
use common::sha_volume as sha;

use std::path::{Path, PathBuf};

use recover_core::discover::{self, Node, NodeInfo, NodeKind};
use recover_core::fs::filesystem;
use recover_core::io::{open_source, MapPolicy};
use serde_json::Value;

fn lvm_dir() -> Option<PathBuf> {
    fixtures::lab::lab_corpus("lvm")
}

fn scenarios(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    names.sort();
    for p in names {
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("manifest.json")).unwrap())
                .unwrap();
        if m["status"] == "ok" {
            out.push((p, m));
        }
    }
    assert!(!out.is_empty(), "no scenarios in {}", dir.display());
    out
}

/// Discovers the scenario's members (all, or those listed).
fn discover(dir: &Path, m: &Value, present: Option<&[u64]>) -> Vec<Node> {
    let sources: Vec<_> = m["members"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(i, _)| present.is_none_or(|p| p.contains(&(*i as u64))))
        .map(|(i, mem)| {
            let img = dir.join(mem["image"].as_str().unwrap());
            (i, open_source(&img, MapPolicy::Auto).unwrap())
        })
        .collect();
    discover::discover(&sources, &discover::Options::default())
}

/// LVs whose bytes we read: linear, striped, RAID, thin and snapshot ones,
/// and the hidden sub-LVs the kernel does not rewrite on activation.
fn readable(lv: &Value) -> bool {
    // One type, or a list of one type per segment (an LV grown onto
    // another PV: lvm-span-2pv, the NAS stacks' vg1000/lv).
    let t = match &lv["segment_type"] {
        Value::Array(ts) if ts.windows(2).all(|w| w[0] == w[1]) => {
            ts.first().and_then(Value::as_str).unwrap_or("")
        }
        t => t.as_str().unwrap_or(""),
    };
    let name = lv["name"].as_str().unwrap_or("");
    (matches!(t, "linear" | "striped" | "mirror" | "thin") || t.starts_with("raid"))
        && !name.contains("_rmeta_")
        && !name.contains("_mlog")
        && !name.ends_with("_tmeta")
        && !name.ends_with("_pmspare")
}

fn vg_node<'a>(nodes: &'a [Node], m: &Value) -> &'a Node {
    let name = m["vg"]["name"].as_str().unwrap();
    discover::find(nodes, &format!("lvm/{name}"))
        .unwrap_or_else(|| panic!("{}: no lvm/{name}", m["scenario"]))
}

#[test]
fn every_lv_reads_as_device_mapper_served_it() {
    let Some(dir) = lvm_dir() else { return };
    let mut checked = 0;
    let mut files = 0;
    for (sdir, m) in scenarios(&dir) {
        let scen = m["scenario"].as_str().unwrap().to_string();
        let nodes = discover(&sdir, &m, None);
        let vg = vg_node(&nodes, &m);
        assert_eq!(vg.kind, NodeKind::VolumeGroup);
        let NodeInfo::VolumeGroup(g) = &vg.info else {
            panic!()
        };
        assert_eq!(g.metadata.id, m["vg"]["uuid"].as_str().unwrap(), "{scen}");
        assert_eq!(
            g.metadata.seqno,
            m["final_seqno"].as_u64().unwrap(),
            "{scen}"
        );
        assert_eq!(
            g.metadata.extent_size,
            m["vg"]["extent_size_bytes"].as_u64().unwrap(),
            "{scen}"
        );
        assert!(
            g.pvs.iter().all(|p| p.found_at.is_some()),
            "{scen}: {:?}",
            g.pvs
        );
        assert!(vg.problems.is_empty(), "{scen}: {:?}", vg.problems);
        for lv in m["lvs"].as_array().unwrap() {
            let name = lv["name"].as_str().unwrap();
            let path = format!("{}/{name}", vg.path);
            let node =
                discover::find(&nodes, &path).unwrap_or_else(|| panic!("{scen}: no node {path}"));
            assert_eq!(node.kind, NodeKind::LogicalVolume);
            assert_eq!(
                node.size,
                lv["size_bytes"].as_u64().unwrap(),
                "{scen} {name}"
            );
            let NodeInfo::LogicalVolume(info) = &node.info else {
                panic!()
            };
            assert_eq!(info.lv.id, lv["uuid"].as_str().unwrap(), "{scen} {name}");
            assert_eq!(
                info.lv.visible,
                lv["visible"].as_bool().unwrap(),
                "{scen} {name}"
            );
            if !readable(lv) {
                continue;
            }
            // A classic snapshot: the dm device of the COW store's LV (the
            // user's name) is the snapshot view, which our snapshotN LV is.
            let cs = &lv["classic_snapshot"];
            let node = if cs["cow_store"] == name {
                let p = format!("{}/{}", vg.path, cs["snapshot_lv"].as_str().unwrap());
                discover::find(&nodes, &p).unwrap()
            } else {
                node
            };
            let vol = node
                .volume
                .as_ref()
                .unwrap_or_else(|| panic!("{scen} {name}: no volume: {:?}", node.problems));
            assert_eq!(
                sha(vol.as_ref()),
                lv["sha256"].as_str().unwrap(),
                "{scen} {name}"
            );
            assert!(
                node.problems.is_empty(),
                "{scen} {name}: {:?}",
                node.problems
            );
            checked += 1;
            // The files in it, as the guest read them through the kernel.
            let Some(want) = lv["filesystem"]["files"].as_object() else {
                continue;
            };
            let kind = lv["filesystem"]["type"].as_str().unwrap_or("ext4");
            let fs = recover_core::registry::open_filesystem(kind, vol.clone())
                .unwrap()
                .unwrap();
            for (p, digest) in want {
                let id = filesystem::lookup(fs.as_ref(), p).unwrap();
                let f = fs.open(id).unwrap();
                assert_eq!(&sha(f.as_ref()), digest, "{scen} {name}:/{p}");
                files += 1;
            }
        }
        // Every metadata version pvck listed, on every PV.
        for pv in m["pvs"].as_array().unwrap() {
            let uuid = pv["uuid"].as_str().unwrap();
            let at = g
                .pvs
                .iter()
                .find(|p| p.id == uuid)
                .and_then(|p| p.found_at.clone())
                .unwrap();
            let mut got: Vec<u64> = g
                .copies
                .iter()
                .filter(|c| c.pv_path == at)
                .map(|c| c.seqno)
                .collect();
            got.sort();
            let want: Vec<u64> = pv["metadata_seqnos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().unwrap())
                .collect();
            assert_eq!(got, want, "{scen} {at}");
        }
        assert!(
            g.copies
                .iter()
                .any(|c| c.used && c.committed && c.checksum_ok == Some(true)),
            "{scen}"
        );
    }
    eprintln!("{checked} LVs and {files} files read as the kernel served them");
    assert!(checked >= 15, "{checked}");
}

/// A removed LV is still named by the older metadata left in the ring.
#[test]
fn older_metadata_remembers_a_removed_lv() {
    let Some(dir) = lvm_dir() else { return };
    let sdir = dir.join("lvm-span-2pv");
    let Some((_, m)) = scenarios(&dir).into_iter().find(|(p, _)| *p == sdir) else {
        panic!("no lvm-span-2pv scenario");
    };
    let nodes = discover(&sdir, &m, None);
    let NodeInfo::VolumeGroup(g) = &vg_node(&nodes, &m).info else {
        panic!()
    };
    assert!(g.metadata.lv("gap").is_none());
    let with_gap: Vec<u64> = g
        .copies
        .iter()
        .filter(|c| c.lvs_not_in_used.iter().any(|l| l == "gap"))
        .map(|c| c.seqno)
        .collect();
    assert!(
        with_gap.contains(&4) && with_gap.contains(&6),
        "{with_gap:?}"
    );
    let span = g.metadata.lv("span").unwrap();
    assert_eq!(span.segments.len(), 3);
}

/// With member m1 left out, what LVM itself could still activate reads
/// the same (raid1 from its other leg; raid4/5/6/10 rebuilt from parity or
/// the other copy; LVs on a degraded md RAID1), and so does the legacy
/// mirror LVM refuses in "degraded" mode; the VG names the missing PV.
#[test]
fn degraded_vgs_read_what_lvm_could() {
    let Some(dir) = lvm_dir() else { return };
    let mut checked = 0;
    let cases: [(&str, &[&str], bool); 3] = [
        ("lvm-raid1-2pv", &["r1", "mir"], true),
        ("lvm-on-md-raid1", &["root", "swap", "data"], false),
        ("lvm-raid456-5pv", &["r5", "r6", "r10", "r4"], true),
    ];
    for (sdir, m) in scenarios(&dir) {
        let scen = m["scenario"].as_str().unwrap().to_string();
        let Some((_, expect, pv_missing)) = cases.iter().find(|c| c.0 == scen) else {
            continue;
        };
        let present: Vec<u64> = (0..m["members"].as_array().unwrap().len() as u64)
            .filter(|&i| i != 1)
            .collect();
        let nodes = discover(&sdir, &m, Some(&present));
        let vg = vg_node(&nodes, &m);
        for name in *expect {
            let lv = m["lvs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == *name)
                .unwrap();
            let node = discover::find(&nodes, &format!("{}/{name}", vg.path)).unwrap();
            let vol = node.volume.as_ref().unwrap();
            assert_eq!(
                sha(vol.as_ref()),
                lv["sha256"].as_str().unwrap(),
                "{scen} degraded {name}"
            );
            // Parity RAID says what it rebuilt; nothing is lost.
            assert!(
                node.problems
                    .iter()
                    .all(|p| p.severity == recover_core::Severity::Warning
                        && p.detail.contains("rebuilt")),
                "{scen} {name}: {:?}",
                node.problems
            );
            checked += 1;
        }
        let says_missing = vg
            .problems
            .iter()
            .any(|p| p.detail.contains("is not among the sources"));
        assert_eq!(says_missing, *pv_missing, "{scen}: {:?}", vg.problems);
    }
    eprintln!("{checked} LVs of degraded VGs read as the kernel served them");
    assert_eq!(checked, 9);
}

/// Writes a one-PV VG (`vg_name`, extents of 4 MiB from 1 MiB) whose one
/// linear LV `lv_name` holds `content`, as pvcreate/vgcreate/lvcreate lay
/// it out: label in sector 1, metadata area at 4 KiB, text after its header.
fn host_pv(vg_name: &str, lv_name: &str, content: &[u8]) -> Vec<u8> {
    use recover_core::checksum::lvm_crc;
    const CRC: u32 = 0xf597_a6cf;
    let extent = 4u64 << 20;
    let extents = (content.len() as u64).div_ceil(extent);
    let pe_start = 1u64 << 20;
    let size = pe_start + extents * extent;
    let mut d = vec![0u8; size as usize];
    d[pe_start as usize..pe_start as usize + content.len()].copy_from_slice(content);
    let uuid = b"HOSTpv0000000000000000000000uuid";
    let text = format!(
        "{vg_name} {{\nid = \"HOSTvg-0000-0000-0000-0000-0000-000uid\"\nseqno = 3\nformat = \"lvm2\"\nstatus = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nextent_size = {}\nphysical_volumes {{\npv0 {{\nid = \"HOSTpv-0000-0000-0000-0000-0000-00uuid\"\ndev_size = {}\npe_start = {}\npe_count = {extents}\n}}\n}}\nlogical_volumes {{\n{lv_name} {{\nid = \"x\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\nsegment1 {{\nstart_extent = 0\nextent_count = {extents}\ntype = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 0]\n}}\n}}\n}}\n}}\ncontents = \"Text Format Volume Group\"\n",
        extent / 512,
        size / 512,
        pe_start / 512
    );
    // Label (sector 1).
    let l = 512;
    d[l..l + 8].copy_from_slice(b"LABELONE");
    d[l + 8..l + 16].copy_from_slice(&1u64.to_le_bytes());
    d[l + 20..l + 24].copy_from_slice(&32u32.to_le_bytes());
    d[l + 24..l + 32].copy_from_slice(b"LVM2 001");
    let pv = l + 32;
    d[pv..pv + 32].copy_from_slice(uuid);
    d[pv + 32..pv + 40].copy_from_slice(&size.to_le_bytes());
    let areas = [(pe_start, 0u64), (0, 0), (4096, pe_start - 4096), (0, 0)];
    for (i, (o, s)) in areas.iter().enumerate() {
        let at = pv + 40 + i * 16;
        d[at..at + 8].copy_from_slice(&o.to_le_bytes());
        d[at + 8..at + 16].copy_from_slice(&s.to_le_bytes());
    }
    let crc = lvm_crc(CRC, &d[l + 20..l + 512]);
    d[l + 16..l + 20].copy_from_slice(&crc.to_le_bytes());
    // Metadata area header and text.
    let m = 4096;
    d[m + 4..m + 20].copy_from_slice(b" LVM2 x[5A%r0N*>");
    d[m + 20..m + 24].copy_from_slice(&1u32.to_le_bytes());
    d[m + 24..m + 32].copy_from_slice(&4096u64.to_le_bytes());
    d[m + 32..m + 40].copy_from_slice(&(pe_start - 4096).to_le_bytes());
    d[m + 40..m + 48].copy_from_slice(&512u64.to_le_bytes());
    d[m + 48..m + 56].copy_from_slice(&(text.len() as u64).to_le_bytes());
    d[m + 56..m + 60].copy_from_slice(&lvm_crc(CRC, text.as_bytes()).to_le_bytes());
    d[m + 512..m + 512 + text.len()].copy_from_slice(text.as_bytes());
    let crc = lvm_crc(CRC, &d[m + 4..m + 512]);
    d[m..m + 4].copy_from_slice(&crc.to_le_bytes());
    d
}

/// A guest's VG on a VM disk that is itself an LV (Proxmox's "lvm"
/// storage): the host VG is gathered, then the guest's PV inside the host
/// LV, and the guest LV reads as the kernel served it.
#[test]
fn a_guest_vg_inside_an_lv_is_gathered_too() {
    let Some(dir) = lvm_dir() else { return };
    let sdir = dir.join("lvm-linear-1pv");
    let Some((_, m)) = scenarios(&dir).into_iter().find(|(p, _)| *p == sdir) else {
        panic!("no lvm-linear-1pv scenario");
    };
    let guest = std::fs::read(sdir.join("m0.img")).unwrap();
    let host = host_pv("hostvg", "vm-100-disk-0", &guest);
    let src = recover_core::io::Source {
        name: "host.img".into(),
        volume: std::sync::Arc::new(recover_core::io::MemVolume::new("host.img", host)),
        kind: recover_core::io::SourceKind::File,
    };
    let nodes = discover::discover(&[(0, src)], &discover::Options::default());
    let host_lv = discover::find(&nodes, "lvm/hostvg/vm-100-disk-0").unwrap();
    assert!(host_lv.problems.is_empty(), "{:?}", host_lv.problems);
    let root = discover::find(&nodes, "lvm/vg0/root")
        .expect("the guest VG, gathered from inside the host LV");
    let want = m["lvs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "root")
        .unwrap()["sha256"]
        .as_str()
        .unwrap();
    assert_eq!(sha(root.volume.as_ref().unwrap().as_ref()), want);
}
