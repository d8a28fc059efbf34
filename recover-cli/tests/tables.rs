//! Partition tables and filesystems on images made by the real tools,
//! checked field by field against sfdisk --json and blkid -p.

mod common;

use common::*;
use fixtures::{Damage, Fixture};
use serde_json::Value;

/// Every partition of `fx` that got content: our filesystem node agrees with
/// the recipe and with blkid on the same bytes.
fn check_contents(doc: &Value, table_path: &str, fx: &Fixture) {
    let table = node(doc, table_path);
    for p in table["children"].as_array().unwrap() {
        let number = p["number"].as_u64().unwrap() as u32;
        let what = format!("{} ({})", p["path"], fx.path.display());
        let kids = p["children"].as_array().unwrap();
        match fx.content(number) {
            None => assert!(
                kids.is_empty(),
                "{what}: nothing was put there, found {kids:?}"
            ),
            Some(c) => {
                assert_eq!(kids.len(), 1, "{what}: one content node");
                let fs = &kids[0];
                assert_eq!(fs["kind"], "filesystem", "{what}");
                assert_eq!(fs["format"], c.kind.format(), "{what}: format");
                assert_eq!(
                    fs["path"],
                    format!("{}/{}", p["path"].as_str().unwrap(), c.kind.format())
                );
                let errors: Vec<_> = fs["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["severity"] == "error")
                    .collect();
                assert!(errors.is_empty(), "{what}: {errors:?}");
                assert_ne!(fs["checksum"], "mismatch", "{what}: checksum");
                if let Some(l) = &c.label {
                    if !l.is_empty() && c.kind != fixtures::FsKind::LvmPv {
                        assert_eq!(fs["label"].as_str(), Some(l.as_str()), "{what}: label");
                    }
                }
                let b = blkid(
                    &fx.path,
                    p["offset"].as_u64().unwrap(),
                    p["size"].as_u64().unwrap(),
                );
                assert_fs_matches_blkid(fs, &b, &what);
            }
        }
    }
}

#[test]
fn gpt_with_every_filesystem_matches_sfdisk_and_blkid() {
    let fx = fixtures::gpt_mixed();
    let doc = scan_json(&[&fx.path], 0);
    let disk = node(&doc, "d0");
    assert_eq!(disk["kind"], "disk");
    assert_eq!(disk["size"], 768u64 << 20);
    let table = node(&doc, "d0/gpt");
    assert_table_matches_sfdisk(table, &sfdisk(&fx.path));
    assert_eq!(table["gpt"]["used"], "primary");
    assert_eq!(table["gpt"]["mbr"], "protective");
    assert_eq!(table["problems"], serde_json::json!([]));
    check_contents(&doc, "d0/gpt", &fx);
    // The ext4 partition's name and label, spelled out.
    let p2 = node(&doc, "d0/gpt/p2");
    assert_eq!(p2["name"], "root");
    assert_eq!(p2["type_name"], "Linux filesystem");
    let ext4 = node(&doc, "d0/gpt/p2/ext4");
    assert_eq!(ext4["label"], "rootfs");
    assert_eq!(ext4["checksum"], "ok");
    assert_eq!(ext4["size"], 48u64 << 20);
    assert_eq!(node(&doc, "d0/gpt/p3/xfs")["checksum"], "ok");
    assert_eq!(node(&doc, "d0/gpt/p4/btrfs")["checksum"], "ok");
    assert_eq!(node(&doc, "d0/gpt/p7/exfat")["checksum"], "ok");
    assert_eq!(node(&doc, "d0/gpt/p9/md")["checksum"], "ok");
    assert_eq!(node(&doc, "d0/gpt/p9/md")["version"], "1.2");
}

#[test]
fn mbr_with_logical_partitions_matches_sfdisk_and_blkid() {
    let fx = fixtures::mbr_logical();
    let doc = scan_json(&[&fx.path], 0);
    let table = node(&doc, "d0/mbr");
    assert_table_matches_sfdisk(table, &sfdisk(&fx.path));
    let roles: Vec<&str> = table["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["primary", "primary", "extended", "logical", "logical", "logical", "logical", "logical"]
    );
    assert_eq!(node(&doc, "d0/mbr/p1")["bootable"], true);
    check_contents(&doc, "d0/mbr", &fx);
}

#[test]
fn damaged_primary_gpt_falls_back_to_the_backup() {
    let good = sfdisk(&fixtures::gpt_small().path);
    for (damage, header, state) in [
        (Damage::PrimaryHeaderCrc, "GPT primary header", "damaged"),
        (Damage::PrimaryEntries, "GPT primary entry array", "damaged"),
        (Damage::PrimaryWiped, "GPT primary header", "missing"),
    ] {
        let fx = fixtures::gpt_damaged(damage);
        let r = recover(["scan", "--json", fx.path.to_str().unwrap()]);
        assert_eq!(
            r.code, 1,
            "{damage:?}: damage means exit 1; stderr:\n{}",
            r.stderr
        );
        let doc = r.json();
        let table = node(&doc, "d0/gpt");
        assert_table_matches_sfdisk(table, &good);
        assert_eq!(table["gpt"]["used"], "backup", "{damage:?}");
        assert_eq!(table["gpt"]["primary"]["state"], state, "{damage:?}");
        assert_eq!(table["gpt"]["backup"]["state"], "ok", "{damage:?}");
        let probs = table["problems"].as_array().unwrap();
        let p = probs
            .iter()
            .find(|p| p["structure"] == header)
            .unwrap_or_else(|| panic!("{damage:?}: no {header} problem in {probs:?}"));
        assert_eq!(p["severity"], "error");
        assert_eq!(
            p["offset"].as_u64().unwrap() & !0x3ff,
            if header.contains("entry") { 1024 } else { 0 },
            "{damage:?}: {p}"
        );
        // The error line names the source, the structure and the offset.
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(header))
            .expect("an error line");
        assert!(
            line.contains(fx.path.to_str().unwrap()) && line.contains(" at 0x"),
            "{line}"
        );
        check_contents(&doc, "d0/gpt", &fx);
    }
}

#[test]
fn damaged_backup_is_reported_and_the_primary_used() {
    let fx = fixtures::gpt_damaged(Damage::BackupHeader);
    let doc = scan_json(&[&fx.path], 1);
    let table = node(&doc, "d0/gpt");
    assert_table_matches_sfdisk(table, &sfdisk(&fixtures::gpt_small().path));
    assert_eq!(table["gpt"]["used"], "primary");
    assert_eq!(table["gpt"]["backup"]["state"], "damaged");
}

#[test]
fn gpt_claiming_four_billion_entries_of_size_zero() {
    let fx = fixtures::gpt_damaged(Damage::HugeEntryCount);
    let r = recover(["scan", "--json", fx.path.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let doc = r.json();
    let table = node(&doc, "d0/gpt");
    assert_eq!(table["gpt"]["used"], "backup");
    assert_eq!(table["children"].as_array().unwrap().len(), 3);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("GPT primary header at 0x254"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(line.contains("entry size 0"), "{line}");
}

#[test]
fn hybrid_mbr_is_shown_with_the_gpt() {
    let fx = fixtures::gpt_hybrid();
    let doc = scan_json(&[&fx.path], 0);
    let table = node(&doc, "d0/gpt");
    assert_table_matches_sfdisk(table, &sfdisk(&fixtures::gpt_small().path));
    assert_eq!(table["gpt"]["mbr"], "hybrid");
    let hy = table["gpt"]["hybrid_entries"].as_array().unwrap();
    assert_eq!(hy.len(), 2);
    assert_eq!(hy[0]["start_lba"], node(&doc, "d0/gpt/p1")["start_lba"]);
    assert_eq!(hy[1]["start_lba"], node(&doc, "d0/gpt/p2")["start_lba"]);
    assert!(table["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["severity"] == "warning" && p["detail"].as_str().unwrap().contains("hybrid")));
}

#[test]
fn ebr_chain_that_loops_keeps_the_logicals_read_before() {
    let fx = fixtures::mbr_ebr_loop();
    let r = recover(["scan", "--json", fx.path.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let table = node(&doc, "d0/mbr");
    // All five logicals were read before the loop closed.
    assert_table_matches_sfdisk(table, &sfdisk(&fixtures::mbr_logical().path));
    let p = &table["problems"][0];
    assert_eq!(p["structure"], "EBR chain");
    assert!(p["detail"].as_str().unwrap().contains("loops back"), "{p}");
    assert!(r.stderr.contains("EBR chain at 0x"), "{}", r.stderr);
}

#[test]
fn gpt_on_4kn_loop_device_and_its_image() {
    let Some(fx) = fixtures::gpt_4kn() else {
        return;
    };
    // The image file: the sector size comes from where the GPT header is.
    let doc = scan_json(&[&fx.path], 0);
    let table = node(&doc, "d0/gpt");
    assert_eq!(table["sector_size"], 4096);
    assert_eq!(table["sector_size_source"], "gpt_header");
    let Some(lo) = fixtures::loopdev::Loop::attach(&fx.path, 4096, false) else {
        return;
    };
    assert_table_matches_sfdisk(table, &sfdisk(lo.path()));
    check_contents(&doc, "d0/gpt", &fx);
    // The loop device: the kernel says 4096, and the tree is the same.
    let dev = scan_json(&[lo.path()], 0);
    assert_eq!(node(&dev, "d0")["device_sector_size"], 4096);
    assert_eq!(node(&dev, "d0")["source_kind"], "block_device");
    assert_eq!(node(&dev, "d0/gpt")["sector_size_source"], "gpt_header");
    assert_eq!(strip_source(node(&dev, "d0/gpt")), strip_source(table));
}

#[test]
fn mbr_on_4kn_is_read_with_4096_byte_sectors() {
    let Some(fx) = fixtures::mbr_4kn() else {
        return;
    };
    let doc = scan_json(&[&fx.path], 0);
    let table = node(&doc, "d0/mbr");
    assert_eq!(table["sector_size"], 4096);
    assert_eq!(table["sector_size_source"], "filesystems");
    let Some(lo) = fixtures::loopdev::Loop::attach(&fx.path, 4096, false) else {
        return;
    };
    assert_table_matches_sfdisk(table, &sfdisk(lo.path()));
    check_contents(&doc, "d0/mbr", &fx);
    let dev = scan_json(&[lo.path()], 0);
    assert_eq!(node(&dev, "d0/mbr")["sector_size_source"], "device");
}

/// A node's JSON without the fields that name how the source was opened.
fn strip_source(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("sector_size_source");
    }
    v
}

#[test]
fn whole_disk_filesystems_without_a_table() {
    for (kind, mib) in [
        (fixtures::FsKind::Fat32, 64),
        (fixtures::FsKind::Ntfs, 16),
        (fixtures::FsKind::Exfat, 16),
        (fixtures::FsKind::Ext4, 16),
    ] {
        let p = fixtures::whole_disk(kind, mib);
        let doc = scan_json(&[&p], 0);
        let d0 = node(&doc, "d0");
        let kids = d0["children"].as_array().unwrap();
        assert_eq!(kids.len(), 1, "{kind:?}: {kids:?}");
        assert_eq!(kids[0]["format"], kind.format());
        assert_fs_matches_blkid(&kids[0], &blkid(&p, 0, mib << 20), &format!("{kind:?}"));
    }
}
