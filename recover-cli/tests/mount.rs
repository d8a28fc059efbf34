//! `recover mount`: the files of ext4, XFS, FAT32, exFAT and NTFS images
//! walked through the FUSE mount with std::fs are the tree they were made
//! from (names, kinds, sizes, SHA-256, link targets, mtimes, modes); hard
//! links share an inode, the filesystem's own number; writes fail with
//! EROFS; the tree view's `raw` file of a partition is `recover extract`'s
//! bytes, and the kernel's own ext4 mounts it (through a loop device) and
//! lists the same files; bad sectors read as zeros and are reported once;
//! SIGTERM and `fusermount3 -u` unmount and end the process.
//!
//! Skipped (with a message) without /dev/fuse or fusermount3, unless
//! RECOVER_REQUIRE_FUSE is set (CI), where that fails instead.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fixtures::tree::{manifest, source_tree, Entry};

/// True when FUSE mounts can be made here; otherwise says why (and fails
/// under RECOVER_REQUIRE_FUSE).
fn fuse_available(test: &str) -> bool {
    let why = if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if !fixtures::tools::have("fusermount3") {
        Some("fusermount3 is not installed (fuse3)")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) => skip(test, why),
    }
}

fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os("RECOVER_REQUIRE_FUSE").is_none(),
        "{test}: {why}, and RECOVER_REQUIRE_FUSE is set"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// True when `dir` is a mount point now.
fn is_mounted(dir: &Path) -> bool {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.as_str()))
}

/// A `recover mount` running in the background; unmounted (fusermount3
/// -u, lazily if busy) and ended on drop, so a failing test never leaves
/// a mount behind.
struct Mounted {
    child: Option<Child>,
    dir: PathBuf,
    stderr: PathBuf,
}

impl Mounted {
    /// `recover mount SOURCE MNT ARGS...`, once the mount is there.
    /// `None` when the mount could not be made (skipped, or a failure
    /// under RECOVER_REQUIRE_FUSE).
    fn new(source: &Path, args: &[&str], test: &str) -> Option<Mounted> {
        let dir = fixtures::cache_dir().join(format!("cli-mount-{test}-{}", std::process::id()));
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(&dir)
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // As the kernel names it in mountinfo (the cache path may hold `..`).
        let dir = dir.canonicalize().unwrap();
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let stderr = dir.join("stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_recover"))
            .arg("mount")
            .arg(source)
            .arg(&mnt)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("run recover mount");
        let mut me = Mounted {
            child: Some(child),
            dir,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !is_mounted(&mnt) {
            let exited = me.child.as_mut().unwrap().try_wait().unwrap();
            if let Some(st) = exited {
                let why = format!("recover mount exited ({st}): {}", me.stderr());
                me.child = None;
                skip(test, &why);
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "no mount after 120 s: {}",
                me.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(me)
    }

    fn mnt(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops it with `sig`; its exit status. The mount must be gone.
    fn stop(mut self, how: &str) -> i32 {
        let mut child = self.child.take().unwrap();
        match how {
            "fusermount" => {
                let st = Command::new("fusermount3")
                    .arg("-u")
                    .arg(self.mnt())
                    .status()
                    .unwrap();
                assert!(st.success(), "fusermount3 -u");
            }
            sig => {
                let st = Command::new("kill")
                    .args([&format!("-{sig}"), &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(st.success());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let st = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("recover mount still running 20 s after {how}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!is_mounted(&self.mnt()), "still mounted after {how}");
        st.code().unwrap_or(-1)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let mnt = self.mnt();
        if is_mounted(&mnt) {
            let ok = Command::new("fusermount3")
                .arg("-u")
                .arg(&mnt)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("fusermount3").arg("-uz").arg(&mnt).status();
            }
        }
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if !is_mounted(&mnt) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The manifest entries of `got` whose paths `want` has, compared on
/// path, kind, size and SHA-256 (or link target); mtimes too if asked.
fn assert_files(name: &str, got: &[Entry], want: &[Entry], mtimes: bool) {
    let got: Vec<&Entry> = got
        .iter()
        .filter(|g| want.iter().any(|w| w.path == g.path))
        .collect();
    assert_eq!(got.len(), want.len(), "{name}: entries");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (&g.path, g.kind, g.size, &g.digest),
            (&w.path, w.kind, w.size, &w.digest),
            "{name}"
        );
        if mtimes && w.kind == "file" {
            assert_eq!(g.mtime, w.mtime, "{name}: mtime of {}", w.path);
        }
    }
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// Every kind of change is refused with EROFS.
fn assert_read_only(mnt: &Path, file: &Path) {
    use std::fs::OpenOptions;
    assert_eq!(
        errno_of(std::fs::File::create(mnt.join("new"))),
        Some(libc::EROFS)
    );
    assert_eq!(
        errno_of(OpenOptions::new().write(true).open(file)),
        Some(libc::EROFS)
    );
    assert_eq!(
        errno_of(std::fs::create_dir(mnt.join("newdir"))),
        Some(libc::EROFS)
    );
    assert_eq!(errno_of(std::fs::remove_file(file)), Some(libc::EROFS));
    assert_eq!(
        errno_of(std::fs::rename(file, mnt.join("moved"))),
        Some(libc::EROFS)
    );
    assert_eq!(
        errno_of(std::fs::set_permissions(
            file,
            std::fs::Permissions::from_mode(0o600)
        )),
        Some(libc::EROFS)
    );
    assert_eq!(
        errno_of(std::os::unix::fs::symlink("x", mnt.join("newlink"))),
        Some(libc::EROFS)
    );
}

/// With --at, each filesystem's files through the mount are the files it
/// was made from; modes too where the format keeps them.
#[test]
fn files_of_each_filesystem_through_the_mount() {
    use fixtures::ext_image::{ext_image, EXT_VARIANTS};
    use fixtures::fat_image::{exfat_image, fat_image, fat_manifest};
    if !fuse_available("files_of_each_filesystem_through_the_mount") {
        return;
    }
    let ext4 = ext_image(EXT_VARIANTS.iter().find(|v| v.name == "ext4").unwrap());
    let cases = [
        ("ext4", ext4, "d0/ext4", manifest(&source_tree()), true),
        (
            "xfs",
            fixtures::xfs_image::xfs_kernel("mount_xfs"),
            "d0/xfs:/tree",
            manifest(&source_tree()),
            true,
        ),
        (
            "fat32",
            fat_image(32),
            "d0/fat32",
            fat_manifest("fat32"),
            false,
        ),
        (
            "exfat",
            exfat_image(),
            "d0/exfat",
            fat_manifest("exfat"),
            true,
        ),
        (
            "ntfs",
            fixtures::ntfs_image::ntfs_image(),
            "d0/ntfs",
            manifest(&source_tree()),
            true,
        ),
        (
            "btrfs",
            fixtures::btrfs_image::mkfs_btrfs_available("mount btrfs")
                .then(fixtures::btrfs_image::btrfs_rootdir),
            "d0/btrfs",
            manifest(&source_tree()),
            true,
        ),
    ];
    let mut done = 0;
    for (name, img, at, want, mtimes) in cases {
        let Some(img) = img else { continue };
        let Some(m) = Mounted::new(&img, &["--at", at], &format!("files-{name}")) else {
            return;
        };
        let mnt = m.mnt();
        let got = manifest(&mnt);
        assert_files(name, &got, &want, mtimes);
        if name == "ext4" || name == "xfs" {
            // Modes (and owners) as the host had them.
            for w in &want {
                if w.kind == "symlink" {
                    continue;
                }
                let (s, d) = (
                    std::fs::symlink_metadata(source_tree().join(&w.path)).unwrap(),
                    std::fs::symlink_metadata(mnt.join(&w.path)).unwrap(),
                );
                assert_eq!(
                    s.permissions().mode() & 0o7777,
                    d.permissions().mode() & 0o7777,
                    "{name}: mode of {}",
                    w.path
                );
                assert_eq!((s.uid(), s.gid()), (d.uid(), d.gid()), "{name}: {}", w.path);
            }
        }
        assert_read_only(
            &mnt,
            &mnt.join(&want.iter().find(|w| w.kind == "file").unwrap().path),
        );
        assert_eq!(m.stop("TERM"), 0, "{name}");
        done += 1;
    }
    eprintln!("{done} filesystems checked through the mount");
}

/// A 16 MiB GPT disk whose partition is an ext4 of a small tree with hard
/// links, a symlink and a subdirectory (sgdisk, mke2fs -d).
fn links_disk() -> Option<PathBuf> {
    if !fixtures::tools::have("mke2fs") || !fixtures::tools::have("sgdisk") {
        eprintln!("SKIPPED: mke2fs or sgdisk is not installed");
        return None;
    }
    Some(fixtures::cached("mount-links-disk-v1.img", |p| {
        let s = fixtures::cache::Scratch::new("mount-links");
        let t = s.join("tree");
        std::fs::create_dir_all(t.join("sub")).unwrap();
        std::fs::write(t.join("a"), fixtures::tree::bytes(7, 300_000)).unwrap();
        std::fs::hard_link(t.join("a"), t.join("b")).unwrap();
        std::fs::hard_link(t.join("a"), t.join("sub/c")).unwrap();
        std::fs::write(t.join("other"), fixtures::tree::bytes(8, 5000)).unwrap();
        std::os::unix::fs::symlink("sub/c", t.join("link")).unwrap();
        fixtures::ext_image::gpt_disk_with_ext4(p, &t, &s);
    }))
}

/// Hard links are one inode, numbered as the filesystem numbers it (the
/// id `recover ls --json` gives); nlink says how many names it has.
#[test]
fn hard_links_share_the_filesystem_inode_number() {
    if !fuse_available("hard_links_share_the_filesystem_inode_number") {
        return;
    }
    let Some(img) = links_disk() else { return };
    let at = "d0/gpt/p1/ext4";
    let r = recover(["ls", "--json", img.to_str().unwrap(), "--at", at]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids: HashMap<String, u64> = r.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["id"].as_u64().unwrap(),
            )
        })
        .collect();
    let Some(m) = Mounted::new(&img, &["--at", at], "links") else {
        return;
    };
    let mnt = m.mnt();
    let meta = |p: &str| std::fs::symlink_metadata(mnt.join(p)).unwrap();
    let (a, b, c, other) = (meta("a"), meta("b"), meta("sub/c"), meta("other"));
    assert_eq!(a.ino(), ids["a"]);
    assert_eq!(other.ino(), ids["other"]);
    assert_eq!((a.ino(), a.ino()), (b.ino(), c.ino()));
    assert_ne!(a.ino(), other.ino());
    assert_eq!((a.nlink(), other.nlink()), (3, 1));
    assert_eq!(
        std::fs::read_link(mnt.join("link")).unwrap(),
        Path::new("sub/c")
    );
    assert_eq!(
        sha256_file(&mnt.join("link")),
        fixtures::tree::sha256(&fixtures::tree::bytes(7, 300_000))
    );
    assert!(meta("sub").is_dir());
    // fusermount3 -u ends the process cleanly.
    assert_eq!(m.stop("fusermount"), 0);
}

/// A signal while a file is open in the mount: the mount point is let go
/// at once (a lazy unmount), the open file still reads, and the process
/// ends cleanly once it is closed.
#[test]
fn a_signal_with_a_file_open_detaches_and_serves_it_until_closed() {
    use std::io::Read;
    if !fuse_available("a_signal_with_a_file_open_detaches_and_serves_it_until_closed") {
        return;
    }
    let Some(img) = links_disk() else { return };
    let Some(m) = Mounted::new(&img, &["--at", "d0/gpt/p1/ext4"], "busy") else {
        return;
    };
    let mut f = std::fs::File::open(m.mnt().join("a")).unwrap();
    let mut head = [0u8; 1000];
    f.read_exact(&mut head).unwrap();
    let pid = m.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while is_mounted(&m.mnt()) {
        assert!(Instant::now() < deadline, "still mounted: {}", m.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).unwrap();
    let mut all = head.to_vec();
    all.extend(rest);
    assert!(
        all == fixtures::tree::bytes(7, 300_000),
        "the open file's bytes"
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut m = m;
    assert!(
        m.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "ended with a file still open: {}",
        m.stderr()
    );
    drop(f);
    // Closed: the process ends by itself, exit 0.
    let mut child = m.child.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "still running: {}", m.stderr());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(st.code(), Some(0), "{}", m.stderr());
    assert!(m.stderr().contains("served until closed"), "{}", m.stderr());
}

/// Without --at: a directory per node, the partition's bytes as `raw`
/// (extract's bytes), its filesystem's files in `files/`; the kernel's
/// own ext4 mounts `raw` through a loop device and lists the same files.
#[test]
fn the_tree_view_holds_each_node_and_the_kernel_mounts_its_raw_file() {
    let test = "the_tree_view_holds_each_node_and_the_kernel_mounts_its_raw_file";
    if !fuse_available(test) {
        return;
    }
    let Some(img) = links_disk() else { return };
    let out = fixtures::cache_dir().join(format!("cli-mount-extract-{}", std::process::id()));
    let r = recover([
        "extract",
        img.to_str().unwrap(),
        "--at",
        "d0/gpt/p1",
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let Some(m) = Mounted::new(&img, &[], "tree") else {
        return;
    };
    let mnt = m.mnt();
    let names = |p: &str| {
        let mut v: Vec<String> = std::fs::read_dir(mnt.join(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(""), ["d0"]);
    assert_eq!(names("d0"), ["gpt", "raw"]);
    assert_eq!(names("d0/gpt/p1"), ["ext4", "raw"]);
    assert_eq!(names("d0/gpt/p1/ext4"), ["files", "raw"]);
    let raw = mnt.join("d0/gpt/p1/raw");
    assert_eq!(
        std::fs::metadata(&raw).unwrap().len(),
        std::fs::metadata(&out).unwrap().len()
    );
    assert_eq!(sha256_file(&raw), sha256_file(&out));
    assert_eq!(
        std::fs::metadata(mnt.join("d0/raw")).unwrap().len(),
        std::fs::metadata(&img).unwrap().len()
    );
    let _ = std::fs::remove_file(&out);
    let files = manifest(&mnt.join("d0/gpt/p1/ext4/files"));
    assert!(
        files.iter().any(|e| e.path == "sub/c" && e.size == 300_000),
        "{files:?}"
    );
    let a = std::fs::metadata(mnt.join("d0/gpt/p1/ext4/files/a")).unwrap();
    let c = std::fs::metadata(mnt.join("d0/gpt/p1/ext4/files/sub/c")).unwrap();
    assert_eq!(a.ino(), c.ino());
    assert_read_only(&mnt.join("d0"), &raw);

    // The kernel as the oracle: its ext4 reads the raw file as we do.
    if !fixtures::loopdev::loop_available(test) {
        assert_eq!(m.stop("INT"), 0);
        return;
    }
    let lo = fixtures::loopdev::Loop::attach(&raw, 512, false).expect("losetup");
    let kmnt = m.dir.join("kernel");
    std::fs::create_dir(&kmnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "ext4", "-o", "ro,noload"])
        .arg(lo.path())
        .arg(&kmnt)
        .status()
        .unwrap();
    if !st.success() {
        drop(lo);
        skip(test, "the kernel's ext4 would not mount the loop device");
        return;
    }
    struct Umount<'a>(&'a Path);
    impl Drop for Umount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let kernel = {
        let _u = Umount(&kmnt);
        let mut k = manifest(&kmnt);
        k.retain(|e| !e.path.starts_with("lost+found"));
        k
    };
    drop(lo);
    let mut ours = files;
    ours.retain(|e| !e.path.starts_with("lost+found"));
    assert_eq!(kernel, ours);
    assert_eq!(m.stop("INT"), 0);

    // --at a node that is not a filesystem: that node's directory.
    let Some(m) = Mounted::new(&img, &["--at", "d0/gpt"], "tree-gpt") else {
        return;
    };
    let mut top: Vec<String> = std::fs::read_dir(m.mnt())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["p1", "raw"]);
    assert!(m.mnt().join("p1/ext4/files/sub/c").is_file());
    assert_eq!(m.stop("TERM"), 0);
}

/// Sectors that cannot be read come through as zeros (not EIO) and are
/// reported on stderr once; the exit status then says so.
#[test]
fn bad_sectors_read_as_zeros_and_are_reported_once() {
    let test = "bad_sectors_read_as_zeros_and_are_reported_once";
    if !fuse_available(test) {
        return;
    }
    let Some(img) = links_disk() else { return };
    let bad = (4 << 20)..(4 << 20) + 4096;
    let Some(fuse) = fixtures::fuse::BadFile::mount(&img, std::slice::from_ref(&bad), test) else {
        return;
    };
    let Some(m) = Mounted::new(&fuse.path(), &["--no-mmap"], "bad") else {
        return;
    };
    let raw = m.mnt().join("d0/raw");
    let mut want = std::fs::read(&img).unwrap();
    want[bad.start as usize..bad.end as usize].fill(0);
    for _ in 0..2 {
        let got = std::fs::read(&raw).unwrap();
        assert!(got == want, "the bytes read through the mount differ");
        // Again, past the kernel's cache of the file.
        let f = std::fs::File::open(&raw).unwrap();
        // SAFETY: a valid open descriptor; the call only drops cached pages.
        let r = unsafe {
            libc::posix_fadvise(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                0,
                0,
                libc::POSIX_FADV_DONTNEED,
            )
        };
        assert_eq!(r, 0);
    }
    let line = format!("at {:#x}..{:#x} could not be read", bad.start, bad.end);
    let err = m.stderr();
    assert_eq!(err.matches(&line).count(), 1, "{err}");
    assert_eq!(m.stop("TERM"), 1);
    drop(fuse);
}

/// VMFS5 and VMFS6 datastores made by ESXi (dissect.vmfs's samples, fetched
/// by the fixtures): their files through the mount read as the samples
/// document them (the same oracle as tests/vmfs.rs).
#[test]
fn vmfs_files_through_the_mount() {
    use sha2::{Digest, Sha256};
    if !fuse_available("vmfs_files_through_the_mount") {
        return;
    }
    let sha = |b: &[u8]| format!("{:x}", Sha256::digest(b));
    for (name, v) in [("vmfs5", "vmfs5"), ("vmfs6", "vmfs6")] {
        let Some(paths) = fixtures::vmfs_samples::sample(name) else {
            return;
        };
        let at = format!("vmfs/{name}/{v}");
        let Some(m) = Mounted::new(&paths[0], &["--at", &at], &format!("vmfs-{name}")) else {
            return;
        };
        let mnt = m.mnt();
        assert_eq!(
            std::fs::read(mnt.join("small")).unwrap(),
            b"tiny\n",
            "{name}"
        );
        let mut big = b"Kusjes van SRT<3".repeat(1024 * 64);
        big.push(b'\n');
        assert_eq!(
            sha(&std::fs::read(mnt.join("big")).unwrap()),
            sha(&big),
            "{name}: big"
        );
        let bigger: Vec<u8> = (0..128u32).flat_map(|i| vec![i as u8; 1 << 20]).collect();
        assert_eq!(
            sha(&std::fs::read(mnt.join("bigger")).unwrap()),
            sha(&bigger),
            "{name}: bigger"
        );
        assert!(mnt.join("directory").is_dir(), "{name}: directory");
        assert_read_only(&mnt, &mnt.join("small"));
    }
}
