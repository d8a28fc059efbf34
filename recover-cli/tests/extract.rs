//! `recover extract`: bytes of a node, bit-exact; never over a source.

mod common;

use common::*;

#[test]
fn partition_bytes_are_exact_and_sparse() {
    let fx = fixtures::gpt_small();
    let doc = scan_json(&[&fx.path], 0);
    let p1 = node(&doc, "d0/gpt/p1");
    let (off, size) = (p1["offset"].as_u64().unwrap(), p1["size"].as_u64().unwrap());
    let out = fixtures::cache_dir().join("extract-p1.img");
    let _ = std::fs::remove_file(&out);
    let r = recover([
        "extract",
        fx.path.to_str().unwrap(),
        "--at",
        "d0/gpt/p1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
    assert_eq!(sha256_file(&out), sha256_range(&fx.path, off, size));
    use std::os::unix::fs::MetadataExt;
    assert!(
        std::fs::metadata(&out).unwrap().blocks() * 512 < size,
        "zeros become holes"
    );
    // Not over an existing file without --force, and with it.
    let r = recover([
        "extract",
        fx.path.to_str().unwrap(),
        "--at",
        "d0/gpt/p3",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let r = recover([
        "extract",
        fx.path.to_str().unwrap(),
        "--at",
        "d0/gpt/p3",
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p3 = node(&doc, "d0/gpt/p3");
    assert_eq!(
        sha256_file(&out),
        sha256_range(
            &fx.path,
            p3["offset"].as_u64().unwrap(),
            p3["size"].as_u64().unwrap()
        )
    );
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn refuses_to_write_over_a_source() {
    let fx = fixtures::gpt_small();
    let before = sha256_file(&fx.path);
    // Through another spelling of the same path, and with --force.
    let other = format!(
        "{}/./{}",
        fx.path.parent().unwrap().display(),
        fx.path.file_name().unwrap().to_str().unwrap()
    );
    let r = recover([
        "extract",
        fx.path.to_str().unwrap(),
        "--at",
        "d0/gpt/p1",
        "-o",
        &other,
        "--force",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("refusing to write over a source"),
        "{}",
        r.stderr
    );
    assert_eq!(sha256_file(&fx.path), before);
}

/// `extract --at d0/qcow2` writes the virtual disk: the bytes
/// `qemu-img convert -O raw` writes, for every variant qemu-img makes.
#[test]
fn qcow2_exports_as_qemu_img_converts_it() {
    for v in fixtures::qcow2_image::QCOW2_VARIANTS {
        let Some((img, want)) = fixtures::qcow2_image::qcow2_image(v) else {
            return;
        };
        let out = fixtures::cache_dir().join(format!("extract-{}.raw", v.name));
        let _ = std::fs::remove_file(&out);
        let r = recover([
            "extract",
            img.to_str().unwrap(),
            "--at",
            "d0/qcow2",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}: {}", v.name, r.stderr);
        assert_eq!(sha256_file(&out), want, "{}", v.name);
        std::fs::remove_file(&out).unwrap();
    }
}

/// VHD (fixed and dynamic) and VDI (static and dynamic) found by content
/// and exported as `qemu-img convert -O raw` writes them.
#[test]
fn vhd_and_vdi_export_as_qemu_img_converts_them() {
    for (format, opts, at, sub) in [
        ("vpc", "subformat=dynamic", "d0/vhd", "dynamic"),
        ("vpc", "subformat=fixed", "d0/vhd", "fixed"),
        ("vdi", "static=off", "d0/vdi", "dynamic"),
        ("vdi", "static=on", "d0/vdi", "static"),
    ] {
        let Some((img, want)) = fixtures::qcow2_image::other_image(format, opts) else {
            return;
        };
        assert_exports(&img, at, sub, None, &want);
    }
}

#[test]
fn vhdx_exports_as_qemu_img_converts_it() {
    for v in fixtures::vhdx_image::VHDX_VARIANTS {
        let Some((img, want)) = fixtures::vhdx_image::vhdx_image(v) else {
            return;
        };
        assert_exports(
            &img,
            "d0/vhdx",
            v.subformat,
            Some(fixtures::qcow2_image::SIZE),
            &want,
        );
    }
}

#[test]
fn a_vhdx_log_left_to_replay_is_replayed_and_said() {
    let Some((img, want)) = fixtures::vhdx_image::dirty_log_vhdx() else {
        return;
    };
    let doc = scan_json(&[&img], 0);
    let p = &node(&doc, "d0/vhdx")["problems"][0];
    assert_eq!(p["structure"], "VHDX log", "{doc}");
    assert_eq!(p["severity"], "warning", "{doc}");
    let out = fixtures::cache_dir().join("extract-vhdx-dirty-log.raw");
    let _ = std::fs::remove_file(&out);
    let r = recover([
        "extract",
        img.to_str().unwrap(),
        "--at",
        "d0/vhdx",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sha256_file(&out), want);
    std::fs::remove_file(&out).unwrap();
}

/// A qcow2 whose backing file is named by a relative path: read through it
/// when it is beside the image, reported (and read as zeros) when it is
/// not, found again with `--backing-dir`; a chain that loops is refused.
#[test]
fn backing_files_are_found_beside_the_image_or_in_backing_dir() {
    use std::process::Command;
    let Some((base, _)) =
        fixtures::qcow2_image::qcow2_image(&fixtures::qcow2_image::QCOW2_VARIANTS[1])
    else {
        return;
    };
    if !fixtures::tools::have("qemu-io") {
        eprintln!("SKIPPED: qemu-io is not installed");
        return;
    }
    let a = fixtures::cache::Scratch::new("backing-a");
    let b = fixtures::cache::Scratch::new("backing-b");
    std::fs::copy(&base, a.join("base.qcow2")).unwrap();
    let top = a.join("top.qcow2");
    // An overlay named by a relative path, as qemu-img keeps it.
    let overlay = |backing: &str, img: &std::path::Path| {
        fixtures::tools::run(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing])
                .arg(img),
        );
    };
    overlay("base.qcow2", &top);
    fixtures::tools::run(
        Command::new("qemu-io")
            .args(["-c", "write -P 0x5a 1M 64k", "-c", "write -z 5M 1M"])
            .arg(&top),
    );
    let raw = a.join("oracle.raw");
    fixtures::tools::run(
        Command::new("qemu-img")
            .args(["convert", "-f", "qcow2", "-O", "raw"])
            .arg(&top)
            .arg(&raw),
    );
    let want = sha256_file(&raw);
    let extract = |img: &std::path::Path, extra: &[&str]| {
        let out = b.join("out.raw");
        let _ = std::fs::remove_file(&out);
        let mut args = vec!["extract", img.to_str().unwrap(), "--at", "d0/qcow2", "-o"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let r = recover(args);
        (r, sha256_file(&out))
    };
    // Beside it.
    let (r, got) = extract(&top, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(got, want);
    // Moved away from it: reported, and the base's clusters read as zeros.
    let moved = b.join("top.qcow2");
    std::fs::rename(&top, &moved).unwrap();
    let doc = scan_json(&[&moved], 1);
    let problems = node(&doc, "d0/qcow2")["problems"].to_string();
    assert!(
        problems.contains("base.qcow2") && problems.contains("cannot be read"),
        "{problems}"
    );
    let (_, got) = extract(&moved, &[]);
    assert_ne!(got, want);
    // Found through --backing-dir.
    let (r, got) = extract(&moved, &["--backing-dir", a.0.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(got, want);
    // A loop: c1 -> c2 -> c1.
    let c1 = a.join("c1.qcow2");
    let c2 = a.join("c2.qcow2");
    overlay("base.qcow2", &c1);
    overlay("c1.qcow2", &c2);
    fixtures::tools::run(
        Command::new("qemu-img")
            .args([
                "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", "c2.qcow2",
            ])
            .arg(&c1),
    );
    let doc = scan_json(&[&c2], 1);
    let problems = node(&doc, "d0/qcow2")["problems"].to_string();
    assert!(problems.contains("loops back"), "{problems}");
}

/// `extract --at lvm/VG/LV` writes an LV's bytes as device-mapper served
/// them (the LVM lab corpus), and `scan --json` describes the VG and LV.
#[test]
fn logical_volumes_extract_as_device_mapper_served_them() {
    let Some(lvm) = fixtures::lab::lab_corpus("lvm") else {
        return;
    };
    let dir = lvm.join("lvm-span-2pv");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let imgs = images(&dir);
    let paths: Vec<&std::path::Path> = imgs.iter().map(|p| p.as_path()).collect();
    let doc = scan_json(&paths, 0);
    let vg = node(&doc, "lvm/vg0");
    assert_eq!(vg["kind"], "volume_group");
    assert_eq!(vg["uuid"], m["vg"]["uuid"]);
    assert_eq!(vg["seqno"], m["final_seqno"]);
    assert_eq!(vg["pvs"][1]["found_at"], "d1/lvm2");
    let copies = vg["metadata_copies"].as_array().unwrap();
    assert!(copies
        .iter()
        .any(|c| c["lvs_not_in_used"] == serde_json::json!(["gap"])));
    let span = node(&doc, "lvm/vg0/span");
    assert_eq!(span["kind"], "logical_volume");
    assert_eq!(span["format"], "linear");
    assert_eq!(span["segments"].as_array().unwrap().len(), 3);
    assert_eq!(span["segments"][1]["areas"][0]["pv"], "pv0");
    assert_eq!(span["segments"][1]["areas"][0]["start_extent"], 40);
    assert_eq!(node(&doc, "lvm/vg0/span/ext4")["label"], "span");
    let want = m["lvs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "span")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let scratch = fixtures::cache::Scratch::new("lv-extract");
    let out = scratch.join("span.raw");
    let mut args: Vec<&str> = vec!["extract"];
    args.extend(imgs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--at", "lvm/vg0/span", "-o", out.to_str().unwrap()]);
    let r = recover(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sha256_file(&out), want);
    // And a file inside it.
    let dest = out.with_file_name("hello.txt");
    let mut args: Vec<&str> = vec!["cp"];
    args.extend(imgs.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--at",
        "lvm/vg0/span/ext4:/docs/hello.txt",
        "-o",
        dest.to_str().unwrap(),
    ]);
    let r = recover(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&dest),
        m["lvs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "span")
            .unwrap()["filesystem"]["files"]["docs/hello.txt"]
    );
}

/// VMDK in every subformat qemu-img writes: `scan --json` shows the disk
/// as d0/vmdk with its createType, and `extract --at d0/vmdk` writes what
/// `qemu-img convert -O raw` writes. The source of a multi-file disk is
/// its descriptor; the extents are found beside it.
#[test]
fn vmdk_exports_as_qemu_img_converts_it() {
    for v in fixtures::vmdk_image::VMDK_VARIANTS {
        let Some((img, want)) = fixtures::vmdk_image::vmdk_image(v) else {
            return;
        };
        assert_exports(
            &img,
            "d0/vmdk",
            v.create_type,
            Some(fixtures::vmdk_image::SIZE),
            &want,
        );
    }
}

/// ESXi snapshot deltas (VMFSSPARSE and SESPARSE, from the fixtures'
/// builder) over parents qemu-img made: the source is the delta's
/// descriptor, and `extract --at d0/vmdk` writes what `qemu-img convert
/// -O raw` writes, through the parent.
#[test]
fn esx_deltas_export_as_qemu_img_converts_them() {
    use fixtures::esx_delta::{esx_delta, DeltaKind, ESX_DELTA_VARIANTS, SIZE};
    for v in ESX_DELTA_VARIANTS {
        let Some(d) = esx_delta(v) else {
            return;
        };
        let create = match v.kind {
            DeltaKind::Cowd(_) => "vmfsSparse",
            DeltaKind::SeSparse => "seSparse",
        };
        assert_exports(&d.descriptor, "d0/vmdk", create, Some(SIZE), &d.sha);
    }
}

/// A descriptor whose extent is missing: the disk is still a node, its
/// problem names the extent file, and the scan's exit code says so.
#[test]
fn vmdk_with_a_missing_extent_names_it() {
    let v = &fixtures::vmdk_image::VMDK_VARIANTS[1];
    let Some((img, _)) = fixtures::vmdk_image::vmdk_image(v) else {
        return;
    };
    let s = fixtures::cache::Scratch::new("vmdk-cli-missing");
    let lone = s.join("disk.vmdk");
    std::fs::copy(&img, &lone).unwrap();
    let r = recover(["scan", "--json", lone.to_str().unwrap()]);
    let doc = r.json();
    let n = node(&doc, "d0/vmdk");
    assert_eq!(n["subformat"], "monolithicFlat");
    let problems = n["problems"].to_string();
    assert!(problems.contains("disk-flat.vmdk"), "{problems}");
}

/// `scan --json` shows the VM image `img` at `at` (a vm_image of `format`
/// and `subformat`, `size` bytes when given), and `extract --at` writes
/// bytes whose SHA-256 is `want` (qemu-img's raw conversion).
fn assert_exports(img: &std::path::Path, at: &str, subformat: &str, size: Option<u64>, want: &str) {
    let what = img.display().to_string();
    let doc = scan_json(&[img], 0);
    let n = node(&doc, at);
    assert_eq!(n["kind"], "vm_image", "{what}");
    assert_eq!(n["format"], at.rsplit('/').next().unwrap(), "{what}");
    assert_eq!(n["subformat"], subformat, "{what}");
    if let Some(size) = size {
        assert_eq!(n["size"], size, "{what}");
    }
    let scratch = fixtures::cache::Scratch::new("export");
    let out = scratch.join("disk.raw");
    let r = recover([
        "extract",
        img.to_str().unwrap(),
        "--at",
        at,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    assert_eq!(sha256_file(&out), want, "{what}");
}

/// A qcow2 whose clusters are in an external data file beside it (plain,
/// and raw with `data_file_raw=on`) reads through that file.
#[test]
fn qcow2_with_an_external_data_file_exports_as_qemu_img_converts_it() {
    for raw in [false, true] {
        let Some((img, want)) = fixtures::qcow2_image::qcow2_external_data(raw) else {
            return;
        };
        let doc = scan_json(&[&img], 0);
        let sub = node(&doc, "d0/qcow2")["subformat"].to_string();
        assert!(
            sub.contains("external data file \\\"vm-data.img\\\""),
            "{sub}"
        );
        assert_exports(
            &img,
            "d0/qcow2",
            node(&doc, "d0/qcow2")["subformat"].as_str().unwrap(),
            None,
            &want,
        );
    }
}
