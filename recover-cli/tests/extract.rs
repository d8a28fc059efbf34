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
    assert_eq!(r.code, 1);
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
    assert_eq!(r.code, 1);
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
        let doc = scan_json(&[&img], 0);
        assert_eq!(node(&doc, at)["kind"], "vm_image", "{format} {opts}");
        assert_eq!(node(&doc, at)["subformat"], sub, "{format} {opts}");
        let out = fixtures::cache_dir().join(format!("extract-{format}-{sub}.raw"));
        let _ = std::fs::remove_file(&out);
        let r = recover([
            "extract",
            img.to_str().unwrap(),
            "--at",
            at,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{format} {opts}: {}", r.stderr);
        assert_eq!(sha256_file(&out), want, "{format} {opts}");
        std::fs::remove_file(&out).unwrap();
    }
}
