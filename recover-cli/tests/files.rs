//! `recover ls` and `recover cp` against the tree the filesystem was made
//! from: every copied file's SHA-256, size, mtime and mode; link targets;
//! holes kept; damage reported per file; nesting through a disk image
//! inside a filesystem.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use fixtures::ext_image::{ext_image, nested_image, EXT_VARIANTS};
use fixtures::tree::{manifest, source_tree};

fn ext4() -> Option<std::path::PathBuf> {
    ext_image(EXT_VARIANTS.iter().find(|v| v.name == "ext4").unwrap())
}

/// `recover cp IMAGE --at AT -o OUT`.
fn cp(image: &str, at: &str, out: &str) -> Run {
    recover(["cp", image, "--at", at, "-o", out])
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = fixtures::cache_dir().join(format!("cli-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn cp_of_the_root_is_the_tree() {
    let Some(img) = ext4() else { return };
    let out = scratch("root");
    let r = cp(img.to_str().unwrap(), "d0/ext4:/", out.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(out.join("lost+found")).unwrap();
    let want = manifest(&source_tree());
    let got = manifest(&out);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        // Everything, directories' mtimes included.
        assert_eq!(g, w);
    }
    // Modes kept; the sparse file stays sparse.
    for e in &want {
        let (s, d) = (source_tree().join(&e.path), out.join(&e.path));
        let (ms, md) = (
            std::fs::symlink_metadata(&s).unwrap(),
            std::fs::symlink_metadata(&d).unwrap(),
        );
        if e.kind != "symlink" {
            assert_eq!(
                ms.permissions().mode() & 0o777,
                md.permissions().mode() & 0o777,
                "{}",
                e.path
            );
        }
    }
    let sparse = std::fs::metadata(out.join("sparse.img")).unwrap();
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "{} blocks",
        sparse.blocks()
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn cp_of_one_file_and_into_a_directory() {
    let Some(img) = ext4() else { return };
    let out = scratch("one");
    std::fs::create_dir_all(&out).unwrap();
    let at = "d0/ext4:/names/日本語のファイル名.txt";
    let r = cp(img.to_str().unwrap(), at, out.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let src = source_tree().join("names/日本語のファイル名.txt");
    let dst = out.join("日本語のファイル名.txt");
    assert_eq!(sha256_file(&dst), sha256_file(&src));
    // Again: the file exists now.
    let r = cp(img.to_str().unwrap(), at, out.to_str().unwrap());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("exists; add --force"), "{}", r.stderr);
    // Never over a source, even with --force.
    let r = recover([
        "cp",
        img.to_str().unwrap(),
        "--at",
        "d0/ext4:/large.bin",
        "-o",
        img.to_str().unwrap(),
        "--force",
    ]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("refusing to write over a source"),
        "{}",
        r.stderr
    );
    let r = cp(
        img.to_str().unwrap(),
        "d0/ext4:/no/such",
        out.to_str().unwrap(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("d0/ext4:/no: no such file or directory"),
        "{}",
        r.stderr
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn ls_lists_like_ls_and_as_json() {
    let Some(img) = ext4() else { return };
    let r = recover(["ls", img.to_str().unwrap(), "--at", "d0/ext4"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("lrwxrwxrwx")
            && l.ends_with("link-to-file -> deep/level-00/file-0.dat")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().any(|l| l.starts_with("-rw-r--r--")
            && l.contains(" 25165824 2021-03-0")
            && l.ends_with(" large.bin")),
        "{}",
        r.stdout
    );
    let r = recover([
        "ls",
        "--json",
        img.to_str().unwrap(),
        "--at",
        "d0/ext4:/names",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["filesystem"]["format"], "ext4");
    assert_eq!(doc["at"], "d0/ext4:/names");
    let want: Vec<_> = manifest(&source_tree().join("names"))
        .into_iter()
        .filter(|e| !e.path.contains('/'))
        .collect();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), want.len());
    for w in &want {
        let e = entries
            .iter()
            .find(|e| e["name"] == w.path.as_str())
            .unwrap_or_else(|| panic!("{}", w.path));
        assert_eq!(e["kind"], w.kind);
        assert_eq!(e["path"], format!("/names/{}", w.path));
        assert_eq!(e["at"], format!("d0/ext4:/names/{}", w.path));
        if w.kind == "file" {
            assert_eq!(e["size"], w.size);
        }
        assert!(e["mtime"].as_str().unwrap().starts_with("2021-"), "{e}");
    }
    let r = recover([
        "ls",
        "-R",
        "--json",
        img.to_str().unwrap(),
        "--at",
        "d0/ext4:/deep",
    ]);
    assert_eq!(r.json()["entries"].as_array().unwrap().len(), 12 * 9);
}

#[test]
fn damage_fails_one_file_and_the_rest_comes_out() {
    let Some(img) = ext4() else { return };
    let out = scratch("damaged");
    std::fs::create_dir_all(&out).unwrap();
    // Break one file's extent header (found through the library).
    let mut bytes = std::fs::read(&img).unwrap();
    let vol: recover_core::io::VolumeRef =
        std::sync::Arc::new(recover_core::io::MemVolume::new("m", bytes.clone()));
    let fs = recover_core::fs::ext4::Ext4::open(vol).unwrap();
    let id = recover_core::fs::lookup(&fs, "/deep/level-00/file-3.dat").unwrap();
    let at = fs.inode_location(id).unwrap() as usize;
    bytes[at + 0x28] ^= 0xFF;
    let bad = out.join("damaged.img");
    std::fs::write(&bad, &bytes).unwrap();
    let dest = out.join("tree");
    let r = cp(
        bad.to_str().unwrap(),
        "d0/ext4:/deep",
        dest.to_str().unwrap(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("d0/ext4:/deep/level-00/file-3.dat: ")
            && r.stderr.contains("ext4 extent header"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("checksum"),
        "the inode checksum mismatch is reported: {}",
        r.stderr
    );
    assert!(!dest.join("level-00/file-3.dat").exists());
    let src = source_tree().join("deep");
    let copied = manifest(&dest);
    assert_eq!(copied.len(), manifest(&src).len() - 1);
    for e in copied.iter().filter(|e| e.kind == "file") {
        assert_eq!(e.digest, fixtures::tree::sha256_file(&src.join(&e.path)));
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_disk_image_inside_a_filesystem_opens_as_a_disk() {
    let Some(img) = nested_image() else { return };
    let i = img.to_str().unwrap();
    let r = recover(["scan", "--json", i, "--at", "d0/ext4:/images/vm.img"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let root = &doc["nodes"][0];
    assert_eq!(root["path"], "d0/ext4:/images/vm.img");
    assert_eq!(root["kind"], "file");
    let fs = node(&doc, "d0/ext4:/images/vm.img/gpt/p1/ext4");
    assert_eq!(fs["format"], "ext4");
    let out = scratch("nested");
    let r = cp(
        i,
        "d0/ext4:/images/vm.img/gpt/p1/ext4:/",
        out.to_str().unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(out.join("lost+found")).unwrap();
    let names = source_tree().join("names");
    let (got, want) = (manifest(&out), manifest(&names));
    assert_eq!(
        got.iter().map(|e| (&e.path, &e.digest)).collect::<Vec<_>>(),
        want.iter()
            .map(|e| (&e.path, &e.digest))
            .collect::<Vec<_>>()
    );
    // extract of the nested partition: the bytes sgdisk's partition holds.
    let raw = out.join("p1.raw");
    let r = recover([
        "extract",
        i,
        "--at",
        "d0/ext4:/images/vm.img/gpt/p1",
        "-o",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::metadata(&raw).unwrap().len(),
        (32768 - 2048 - 33) * 512
    );
    let r = recover(["ls", i, "--at", "d0/ext4:/images"]);
    assert!(
        r.stdout.contains(" 16777216 ") && r.stdout.ends_with("vm.img\n"),
        "{}",
        r.stdout
    );
    let _ = Path::new(&out);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn cp_out_of_ntfs_with_streams_beside_files() {
    let Some(img) = fixtures::ntfs_image::ntfs_image() else {
        return;
    };
    let out = scratch("ntfs");
    let r = cp(img.to_str().unwrap(), "d0/ntfs", out.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (name, data) = fixtures::ntfs_image::STREAM;
    assert_eq!(
        std::fs::read(out.join(format!("ads.txt:{name}"))).unwrap(),
        data
    );
    for extra in ["compressed", "ads.txt", &format!("ads.txt:{name}")] {
        let p = out.join(extra);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap()
        } else {
            std::fs::remove_file(p).unwrap()
        }
    }
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("many-streams.txt")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let (got, want) = (manifest(&out), manifest(&source_tree()));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    let r = recover(["ls", img.to_str().unwrap(), "--at", "d0/ntfs:/ads.txt"]);
    assert!(
        r.stdout.contains(&format!("ads.txt:{name}")),
        "{}",
        r.stdout
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// TestDisk's workflow: a disk whose table is gone, its lost partition
/// found by the deep scan, then listed and copied from by its recovered path.
#[test]
fn files_come_out_of_a_partition_the_deep_scan_found() {
    let Some(img) = ext4() else { return };
    let out = scratch("recovered");
    std::fs::create_dir_all(&out).unwrap();
    let disk = out.join("no-table.img");
    let mut d = vec![0u8; 1 << 20];
    d.extend(std::fs::read(&img).unwrap());
    d.resize(d.len() + (1 << 20), 0);
    std::fs::write(&disk, &d).unwrap();
    let dk = disk.to_str().unwrap();
    let r = recover(["ls", "--json", dk, "--at", "d0/recovered/p1/ext4:/names"]);
    let doc = r.json();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 6, "{}", r.stderr);
    let to = out.join("large.bin");
    let r = cp(dk, "d0/recovered/p1:/large.bin", to.to_str().unwrap());
    assert!(to.exists(), "{}", r.stderr);
    assert_eq!(
        sha256_file(&to),
        sha256_file(&source_tree().join("large.bin"))
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// `cp` of a whole tree out of XFS (written by the kernel), FAT32 (mtools)
/// and exFAT (exfat-fuse): every file's bytes, and mtimes where the format
/// keeps them to the second.
#[test]
fn cp_out_of_xfs_fat_and_exfat() {
    use fixtures::fat_image::{exfat_image, fat_image, fat_manifest};
    let cases = [
        (
            "xfs",
            fixtures::xfs_image::xfs_kernel("cp_out_of_xfs"),
            "d0/xfs:/tree",
            manifest(&source_tree()),
            true,
        ),
        (
            "fat32",
            fat_image(32),
            "d0/fat32:/",
            fat_manifest("fat32"),
            false,
        ),
        (
            "exfat",
            exfat_image(),
            "d0/exfat:/",
            fat_manifest("exfat"),
            true,
        ),
    ];
    for (name, img, at, want, mtimes) in cases {
        let Some(img) = img else { continue };
        let out = scratch(name);
        let r = cp(img.to_str().unwrap(), at, out.to_str().unwrap());
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let got = manifest(&out);
        let got: Vec<_> = got
            .iter()
            .filter(|g| want.iter().any(|w| w.path == g.path))
            .collect();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                (&g.path, g.kind, g.size, &g.digest),
                (&w.path, w.kind, w.size, &w.digest),
                "{name}"
            );
            if mtimes && w.kind == "file" {
                assert_eq!(g.mtime, w.mtime, "{name}: {}", w.path);
            }
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// A qcow2 image is found by content and opened as its disk, even as a
/// file inside ext4: scan shows it (kind vm_image) with the GPT and ext4
/// inside, and cp takes the guest's files out through both layers.
#[test]
fn a_qcow2_inside_ext4_opens_down_to_the_guest_files() {
    let Some(img) = fixtures::qcow2_image::qcow2_in_ext4() else {
        return;
    };
    let i = img.to_str().unwrap();
    let at = "d0/ext4:/images/vm.qcow2";
    let r = recover(["scan", "--json", i, "--at", at]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let vm = node(&doc, &format!("{at}/qcow2"));
    assert_eq!(vm["kind"], "vm_image");
    assert_eq!(vm["virtual_size"], 16 << 20);
    assert!(vm["subformat"].as_str().unwrap().contains("zstd"), "{vm}");
    assert_eq!(
        node(&doc, &format!("{at}/qcow2/gpt/p1/ext4"))["format"],
        "ext4"
    );
    let out = scratch("qcow2");
    let r = cp(
        i,
        &format!("{at}/qcow2/gpt/p1/ext4:/"),
        out.to_str().unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(out.join("lost+found")).unwrap();
    let (got, want) = (manifest(&out), manifest(&source_tree().join("names")));
    assert_eq!(got, want);
    std::fs::remove_dir_all(&out).unwrap();
}

/// `recover cp` of a Btrfs the kernel wrote with zstd compression: the
/// tree comes back whole (contents, mtimes, modes, links), and `cat` reads
/// a file inside a subvolume.
#[test]
fn cp_out_of_btrfs_is_the_tree() {
    use fixtures::btrfs_image::{btrfs_kernel, kernel_layout, MOUNTS};
    let m = MOUNTS.iter().find(|m| m.name == "zstd").unwrap();
    let Some(img) = btrfs_kernel(m, "cp_out_of_btrfs_is_the_tree") else {
        return;
    };
    let out = scratch("btrfs");
    let r = cp(
        img.to_str().unwrap(),
        "d0/btrfs:/tree",
        out.to_str().unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want = manifest(&source_tree());
    let got = manifest(&out);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        if w.kind != "dir" {
            assert_eq!(g, w);
        }
        if w.kind != "symlink" {
            let ms = std::fs::symlink_metadata(source_tree().join(&w.path)).unwrap();
            let md = std::fs::symlink_metadata(out.join(&g.path)).unwrap();
            assert_eq!(ms.mode() & 0o777, md.mode() & 0o777, "{}", w.path);
        }
    }
    let r = recover([
        "cat",
        img.to_str().unwrap(),
        "--at",
        &format!("d0/btrfs:/{}/file", kernel_layout::INNER),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.as_bytes(), kernel_layout::INNER_FILE);
    std::fs::remove_dir_all(&out).unwrap();
}
