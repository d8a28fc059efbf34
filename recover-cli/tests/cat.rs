//! `recover cat`: the bytes of a file are the bytes `cp` writes, those of
//! a node the bytes `extract` writes, and a range is the same slice of
//! them; a range crossing extent boundaries, a 15 TiB thin file read at its
//! end, a directory refused, a closed pipe taken quietly, bad sectors read
//! as zeros and reported.

mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use fixtures::ext_image::{ext_image, EXT_VARIANTS};

fn ext(name: &str) -> Option<PathBuf> {
    ext_image(EXT_VARIANTS.iter().find(|v| v.name == name).unwrap())
}

/// `recover cat IMG --at AT EXTRA...`.
fn cat(img: &Path, at: &str, extra: &[&str]) -> Run {
    let mut args = vec!["cat", img.to_str().unwrap(), "--at", at];
    args.extend(extra);
    recover(args)
}

/// `recover cat` of `at` with `--offset` and `--length`; asserts success.
fn cat_range(img: &Path, at: &str, offset: u64, length: u64) -> Vec<u8> {
    let (o, l) = (offset.to_string(), length.to_string());
    let r = cat(img, at, &["--offset", &o, "--length", &l]);
    assert_eq!(r.code, 0, "{at} {offset}+{length}: {}", r.stderr);
    assert!(r.stderr.is_empty(), "{at}: {}", r.stderr);
    r.stdout_bytes
}

/// What `recover CMD IMG --at AT -o FILE` writes (`cp` or `extract`).
fn written_by(cmd: &str, img: &Path, at: &str) -> Vec<u8> {
    // Tests run on threads and write the same file: each call its own name.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = fixtures::cache_dir().join(format!(
        "cat-{cmd}-{}-{n}-{}",
        std::process::id(),
        at.replace(['/', ':'], "_")
    ));
    let _ = std::fs::remove_file(&out);
    let r = recover([
        cmd,
        img.to_str().unwrap(),
        "--at",
        at,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{cmd} {at}: {}", r.stderr);
    let b = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    b
}

/// `b[r]`, clamped to its end as `cat` clamps.
fn slice(b: &[u8], r: Range<u64>) -> &[u8] {
    let len = b.len() as u64;
    &b[r.start.min(len) as usize..r.end.min(len) as usize]
}

/// Equal bytes, without printing megabytes when they are not.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// Where the physical blocks of `path` in the ext image stop running on
/// (file offsets), from debugfs: the places a read goes from one extent
/// (or one indirect block's run) to the next. Empty without debugfs.
fn extent_boundaries(img: &Path, path: &str) -> Vec<u64> {
    if !fixtures::tools::have("debugfs") {
        eprintln!("SKIPPED the debugfs extent boundaries: debugfs is not installed");
        return Vec::new();
    }
    let run = |req: &str| {
        let out = fixtures::tools::run(Command::new("debugfs").args(["-R", req]).arg(img));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bs: u64 = run("stats")
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("debugfs stats: block size");
    let blocks: Vec<u64> = run(&format!("blocks {path}"))
        .split_whitespace()
        .map(|b| b.parse().unwrap())
        .collect();
    blocks
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] != w[0] + 1)
        .map(|(i, _)| (i as u64 + 1) * bs)
        .collect()
}

/// (a) A whole file is the file `cp` writes: ext4 and FAT32, small,
/// empty, sparse and large (more than one read buffer).
#[test]
fn a_file_is_what_cp_writes() {
    let files = [
        "large.bin",
        "sparse.img",
        "sizes/len-4097-6",
        "empty",
        "names/Ελληνικά/Ωμέγα.bin",
    ];
    for (img, fs) in [
        (ext("ext4"), "ext4"),
        (fixtures::fat_image::fat_image(32), "fat32"),
    ] {
        let Some(img) = img else { continue };
        for f in files {
            let at = format!("d0/{fs}:/{f}");
            let r = cat(&img, &at, &[]);
            assert_eq!(r.code, 0, "{at}: {}", r.stderr);
            assert!(r.stderr.is_empty(), "{at}: {}", r.stderr);
            assert_same(&r.stdout_bytes, &written_by("cp", &img, &at), &at);
            let src = std::fs::read(fixtures::tree::source_tree().join(f)).unwrap();
            assert_same(&r.stdout_bytes, &src, &format!("{at} against the tree"));
        }
    }
}

/// (b) `--offset`/`--length` give that slice of the file `cp` writes:
/// across holes and data of a sparse file, across the places where a
/// file's blocks stop being contiguous (ext4 extents, ext2 indirect
/// blocks), across read buffers, clamped at the end, nothing past it.
#[test]
fn a_range_of_a_file_is_that_slice_of_it() {
    for variant in ["ext4", "ext2"] {
        let Some(img) = ext(variant) else { return };
        let sparse = format!("d0/{variant}:/sparse.img");
        let whole = written_by("cp", &img, &sparse);
        let mib = 1u64 << 20;
        for r in [
            0..4097,                         // data into the first hole
            5 * mib - 100..5 * mib + 200,    // hole into data
            5 * mib + 4000..5 * mib + 4200,  // data into a hole
            mib - 1..3 * mib + 1,            // hole only, over read buffers
            16 * mib - 4097..16 * mib + 100, // the last data, clamped
            16 * mib..16 * mib + 10,         // at the end: nothing
            1 << 40..(1 << 40) + 10,         // past it: nothing
        ] {
            let got = cat_range(&img, &sparse, r.start, r.end - r.start);
            assert_same(&got, slice(&whole, r.clone()), &format!("{sparse} {r:?}"));
        }
        let large = format!("d0/{variant}:/large.bin");
        let whole = written_by("cp", &img, &large);
        let edges = extent_boundaries(&img, "/large.bin");
        if fixtures::tools::have("debugfs") {
            assert!(!edges.is_empty(), "{variant}: large.bin in one run");
        }
        let mut ranges: Vec<Range<u64>> = edges
            .iter()
            .map(|&e| e.saturating_sub(3000)..e + 3000)
            .collect();
        ranges.push(mib - 7..4 * mib + 7);
        ranges.push(0..1);
        for r in ranges {
            let got = cat_range(&img, &large, r.start, r.end - r.start);
            assert_same(&got, slice(&whole, r.clone()), &format!("{large} {r:?}"));
        }
        // Sizes with units, and an offset alone (to the end).
        let r = cat(&img, &large, &["--offset", "20M", "--length", "3K"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_same(
            &r.stdout_bytes,
            slice(&whole, 20 * mib..20 * mib + 3072),
            "20M+3K",
        );
        let r = cat(&img, &large, &["--offset", "46000s"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_same(
            &r.stdout_bytes,
            slice(&whole, 46000 * 512..u64::MAX),
            "46000s..",
        );
        let r = cat(&img, &large, &["--length", "0"]);
        assert_eq!((r.code, r.stdout_bytes.len()), (0, 0), "{}", r.stderr);
    }
}

/// (c) A node's range is that slice of what `extract` writes: a partition,
/// a filesystem node, the whole disk.
#[test]
fn a_range_of_a_node_is_that_slice_of_extract() {
    let fx = fixtures::gpt_small();
    for at in ["d0/gpt/p1", "d0/gpt/p2/fat32", "d0"] {
        let whole = written_by("extract", &fx.path, at);
        let len = whole.len() as u64;
        for r in [
            0..4096,
            (1 << 20) - 5..(3 << 20) + 10,
            len - 100..len + 1000,
            len..len + 1,
        ] {
            let got = cat_range(&fx.path, at, r.start, r.end - r.start);
            assert_same(&got, slice(&whole, r.clone()), &format!("{at} {r:?}"));
        }
    }
    let whole = written_by("extract", &fx.path, "d0/gpt/p2");
    let r = cat(&fx.path, "d0/gpt/p2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_same(&r.stdout_bytes, &whole, "d0/gpt/p2");
    let r = cat(&fx.path, "d0/gpt/p2", &["--offset", "1T", "--length", "1M"]);
    assert_eq!((r.code, r.stdout_bytes.len()), (0, 0), "{}", r.stderr);
}

/// (d) What is not a file's bytes: a directory, a symbolic link, a path
/// that does not exist (exit 1, as extract); a bad size (exit 2).
#[test]
fn a_directory_and_other_mistakes_are_refused() {
    let Some(img) = ext("ext4") else { return };
    for (at, code, says) in [
        (
            "d0/ext4:/deep",
            1,
            "d0/ext4:/deep is a directory, not a file",
        ),
        ("d0/ext4:/", 1, "d0/ext4:/ is a directory, not a file"),
        ("d0:/names", 1, "d0/ext4:/names is a directory, not a file"),
        (
            "d0/ext4:/link-to-file",
            1,
            "is a symbolic link to deep/level-00/file-0.dat",
        ),
        (
            "d0/ext4:/no/such",
            1,
            "d0/ext4:/no: no such file or directory",
        ),
        ("d0/gpt", 1, "no such node"),
    ] {
        let r = cat(&img, at, &[]);
        assert_eq!(r.code, code, "{at}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{at}: {}", r.stderr);
        assert!(r.stdout_bytes.is_empty(), "{at}");
    }
    for bad in [["--offset", "12Q"], ["--length", "-1"], ["--offset", ""]] {
        let r = cat(&img, "d0/ext4:/large.bin", &bad);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stdout_bytes.is_empty());
    }
}

/// (e) A reader that stops early (`| head -c 10`): exit 0, nothing on stderr.
#[test]
fn a_closed_pipe_is_no_error() {
    use std::io::Read;
    use std::process::Stdio;
    let Some(img) = ext("ext4") else { return };
    let want = std::fs::read(fixtures::tree::source_tree().join("large.bin")).unwrap();
    for at in ["d0/ext4:/large.bin", "d0"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recover"))
            .args(["cat", img.to_str().unwrap(), "--at", at])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut head = [0u8; 10];
        out.read_exact(&mut head).unwrap();
        if at.contains(':') {
            assert_eq!(head, want[..10]);
        }
        drop(out);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{at}: {status:?}: {err}");
        assert!(err.is_empty(), "{at}: {err}");
    }
}

/// A file of 15 TiB holding 5000 bytes near its end: a range there, and
/// the tail, come back at once (reading from the start would take many
/// minutes), under the test's 2 GiB address-space limit.
#[test]
fn a_thin_file_is_read_only_where_asked() {
    use std::os::unix::fs::FileExt;
    if !fixtures::tools::have("mke2fs") {
        eprintln!("SKIPPED a_thin_file_is_read_only_where_asked: mke2fs is not installed");
        return;
    }
    const SIZE: u64 = 15 << 40;
    const AT: u64 = SIZE - (1 << 20) - 3;
    let data = fixtures::tree::bytes(42, 5000);
    let img = fixtures::cached("cat-thin-15t-v1.img", |p| {
        let tree = fixtures::cache::Scratch::new("cat-thin");
        let f = std::fs::File::create(tree.join("thin.bin")).unwrap();
        f.set_len(SIZE).unwrap();
        f.write_all_at(&data, AT).unwrap();
        drop(f);
        std::fs::File::create(p).unwrap().set_len(64 << 20).unwrap();
        fixtures::tools::run(
            Command::new("mke2fs")
                .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-d"])
                .arg(&tree.0)
                .arg(p),
        );
    });
    let at = "d0/ext4:/thin.bin";
    let start = std::time::Instant::now();
    let got = cat_range(&img, at, AT - 10, 5020);
    let mut want = vec![0u8; 10];
    want.extend_from_slice(&data);
    want.extend_from_slice(&[0; 10]);
    assert_same(&got, &want, "around the data");
    let got = cat_range(&img, at, 7 << 40, 3 << 20);
    assert_same(&got, &vec![0u8; 3 << 20], "a hole");
    let r = cat(&img, at, &["--offset", &(SIZE - 100).to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_same(&r.stdout_bytes, &[0; 100], "the tail");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

/// Bad sectors: read as zeros, reported on stderr, exit 1, as extract; a
/// range that does not touch them reads cleanly (nothing else is read).
#[test]
fn bad_sectors_read_as_zeros_and_are_reported() {
    let fx = fixtures::gpt_small();
    let bad = 30 << 20..(30 << 20) + 4096;
    let Some(fuse) = fixtures::fuse::BadFile::mount(
        &fx.path,
        std::slice::from_ref(&bad),
        "bad_sectors_read_as_zeros_and_are_reported",
    ) else {
        return;
    };
    let src = fuse.path();
    let mut want = std::fs::read(&fx.path).unwrap();
    want[bad.start as usize..bad.end as usize].fill(0);
    let r = cat(&src, "d0", &["--offset", "20M", "--length", "1M"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_same(
        &r.stdout_bytes,
        slice(&want, 20 << 20..21 << 20),
        "clean range",
    );
    let range = (30 << 20) - 1000..(30 << 20) + 9000;
    let (o, l) = (
        range.start.to_string(),
        (range.end - range.start).to_string(),
    );
    let r = cat(&src, "d0", &["--offset", &o, "--length", &l]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_same(&r.stdout_bytes, slice(&want, range), "salvaged range");
    let line = format!("at {:#x}..{:#x} could not be read", bad.start, bad.end);
    assert!(
        r.stderr.contains(&line),
        "missing '{line}' in\n{}",
        r.stderr
    );
}
