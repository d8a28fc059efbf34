//! The promise this tool is built on: it never writes a source. Every
//! subcommand and every option that writes is tried against a source named
//! by the same path, a hard link, a symbolic link and a `dir/../` spelling;
//! sources named twice are refused; an existing file is replaced only with
//! --force; and a property test runs random commands over the fixtures and
//! checks every source's SHA-256 afterwards.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use proptest::prelude::*;

/// A scratch directory holding a copy of the 64 MiB GPT fixture (ext4,
/// FAT32, swap) as `disk.img`, a second plain member `other.img`, and the
/// other spellings of `disk.img`: `hard` (a hard link), `soft` (a symbolic
/// link) and `sub/../disk.img`.
struct Bench {
    dir: PathBuf,
}

impl Bench {
    fn new(name: &str) -> Bench {
        let dir = fixtures::cache_dir().join(format!("guard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let fx = fixtures::gpt_small();
        // A reflink or a plain copy: the test must never touch the cache's file.
        std::fs::copy(&fx.path, dir.join("disk.img")).unwrap();
        std::fs::write(dir.join("other.img"), fixtures::tree::bytes(7, 1 << 20)).unwrap();
        std::fs::hard_link(dir.join("disk.img"), dir.join("hard")).unwrap();
        std::os::unix::fs::symlink(dir.join("disk.img"), dir.join("soft")).unwrap();
        Bench { dir }
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn src(&self) -> String {
        self.p("disk.img")
    }

    /// Every spelling of the source.
    fn spellings(&self) -> Vec<String> {
        vec![
            self.src(),
            self.p("hard"),
            self.p("soft"),
            self.p("sub/../disk.img"),
        ]
    }

    /// SHA-256 of every file in the bench (the sources and the links).
    fn hashes(&self) -> Vec<(String, String)> {
        ["disk.img", "other.img"]
            .iter()
            .map(|n| (n.to_string(), sha256_file(&self.dir.join(n))))
            .collect()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The first regular file of the ext4 in the fixture, as an `--at` path.
fn some_file(src: &str) -> String {
    let r = recover(["ls", src, "--at", "d0/gpt/p1/ext4", "-R", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    fn first(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("kind").and_then(|k| k.as_str()) == Some("file") {
                    if let Some(p) = m.get("path").and_then(|p| p.as_str()) {
                        return Some(p.to_string());
                    }
                }
                m.values().find_map(first)
            }
            serde_json::Value::Array(a) => a.iter().find_map(first),
            _ => None,
        }
    }
    let p = first(&v).unwrap_or_else(|| panic!("no file in {v}"));
    format!("d0/gpt/p1/ext4:{p}")
}

/// Every subcommand and option that writes, with `OUT` standing for the
/// output and `SRC` for the source.
fn writers(file: &str) -> Vec<Vec<String>> {
    let cmds: Vec<&[&str]> = vec![
        &["extract", "SRC", "--at", "d0/gpt/p1", "-o", "OUT"],
        &["extract", "SRC", "--at", "d0", "-o", "OUT"],
        &["scan", "SRC", "--deep", "--emit-sfdisk", "OUT"],
        &[
            "scan",
            "SRC",
            "--deep",
            "--thorough",
            "--emit-sfdisk",
            "OUT",
        ],
        &["cp", "SRC", "--at", "FILE", "-o", "OUT"],
        &["cp", "SRC", "--at", "d0/gpt/p1/ext4", "-o", "OUT"],
        &["cp", "SRC", "--at", "d0/gpt/p2/fat32", "-o", "OUT"],
        &[
            "cp",
            "SRC",
            "--at",
            "FILE",
            "-o",
            "FRESH",
            "--manifest",
            "OUT",
        ],
        &[
            "cp",
            "SRC",
            "--at",
            "d0/gpt/p2/fat32",
            "-o",
            "FRESH",
            "--dfxml",
            "OUT",
        ],
        &[
            "extract",
            "SRC",
            "--at",
            "d0/gpt/p1",
            "-o",
            "FRESH",
            "--manifest",
            "OUT",
        ],
        &[
            "extract",
            "SRC",
            "--at",
            "d0/gpt/p1",
            "-o",
            "FRESH",
            "--dfxml",
            "OUT",
        ],
        &["assemble", "SRC", "OTHER", "--level", "1", "-o", "OUT"],
        &[
            "assemble",
            "OTHER",
            "SRC",
            "--level",
            "0",
            "--chunk",
            "64K",
            "--ignore-metadata",
            "-o",
            "OUT",
        ],
    ];
    cmds.into_iter()
        .map(|c| {
            c.iter()
                .map(|a| {
                    if *a == "FILE" {
                        file.to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect()
        })
        .collect()
}

fn fill(cmd: &[String], b: &Bench, out: &str) -> Vec<String> {
    cmd.iter()
        .map(|a| match a.as_str() {
            "SRC" => b.src(),
            "OTHER" => b.p("other.img"),
            "OUT" => out.to_string(),
            "FRESH" => b.p("fresh-out"),
            _ => a.clone(),
        })
        .collect()
}

#[test]
fn no_output_option_writes_over_a_source() {
    let b = Bench::new("spellings");
    let before = b.hashes();
    let file = some_file(&b.src());
    for cmd in writers(&file) {
        for out in b.spellings() {
            for force in [false, true] {
                let mut args = fill(&cmd, &b, &out);
                if force {
                    args.push("--force".into());
                }
                let r = recover(&args);
                assert_eq!(r.code, 2, "{args:?}: exit code; stderr:\n{}", r.stderr);
                assert!(
                    r.stderr.contains("refusing to write over a source"),
                    "{args:?}:\n{}",
                    r.stderr
                );
                assert_eq!(b.hashes(), before, "{args:?} changed a source");
            }
        }
    }
    // Into a directory where a source sits under the name of what is copied.
    let name = file.rsplit('/').next().unwrap();
    let into = b.dir.join("into");
    std::fs::create_dir(&into).unwrap();
    std::fs::hard_link(b.dir.join("disk.img"), into.join(name)).unwrap();
    let r = recover([
        "cp",
        &b.src(),
        "--at",
        &file,
        "-o",
        into.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to write over a source"),
        "{}",
        r.stderr
    );
    assert_eq!(b.hashes(), before);
}

#[test]
fn a_partition_of_a_source_disk_is_a_source_too() {
    // /dev/loopN's partitions and the file behind a loop device: only where
    // loop devices can be had.
    if !fixtures::loopdev::loop_available("guard: loop device as source") {
        return;
    }
    let b = Bench::new("loop");
    let before = b.hashes();
    let Some(dev) = fixtures::loopdev::Loop::attach(&b.dir.join("disk.img"), 512, false) else {
        return;
    };
    let dev_path = dev.path().display().to_string();
    // The loop device as the source and its backing file as the output,
    // and the other way round.
    for (src, out) in [(dev_path.clone(), b.src()), (b.src(), dev_path.clone())] {
        let r = recover(["extract", &src, "--at", "d0/gpt/p1", "-o", &out, "--force"]);
        assert_eq!(r.code, 2, "{src} -> {out}: {}", r.stderr);
        assert!(
            r.stderr.contains("refusing to write over a source"),
            "{}",
            r.stderr
        );
    }
    // The same disk named as the loop device and as its file.
    let r = recover(["scan", &dev_path, &b.src()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    drop(dev);
    assert_eq!(b.hashes(), before);
}

#[test]
fn a_source_named_twice_is_refused_by_every_subcommand() {
    let b = Bench::new("twice");
    let before = b.hashes();
    let out = b.p("out.raw");
    for second in [b.src(), b.p("hard"), b.p("soft"), b.p("sub/../disk.img")] {
        let src = b.src();
        let cmds: Vec<Vec<&str>> = vec![
            vec!["scan", &src, &second],
            vec!["scan", "--deep", &src, &second],
            vec!["ls", &src, &second, "--at", "d0/gpt/p1/ext4"],
            vec!["cp", &src, &second, "--at", "d0/gpt/p1/ext4", "-o", &out],
            vec!["extract", &src, &second, "--at", "d0", "-o", &out],
            vec!["cat", &src, &second, "--at", "d0"],
            vec!["assemble", &src, &second, "--level", "1", "-o", &out],
            vec![
                "assemble",
                &src,
                &second,
                "--level",
                "5",
                "--chunk",
                "512K",
                "--ignore-metadata",
                "-o",
                &out,
            ],
            // Metadata mode.
            vec!["assemble", &src, &second, "-o", &out],
        ];
        for args in cmds {
            let r = recover(&args);
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains("name each source once"),
                "{args:?}: {}",
                r.stderr
            );
            assert!(!Path::new(&out).exists(), "{args:?} wrote {out}");
        }
    }
    assert_eq!(b.hashes(), before);
}

#[test]
fn emit_sfdisk_replaces_a_file_only_with_force() {
    let b = Bench::new("sfdisk");
    let script = b.dir.join("script.sfdisk");
    std::fs::write(&script, b"keep me").unwrap();
    let args = [
        "scan",
        &b.src(),
        "--deep",
        "--emit-sfdisk",
        script.to_str().unwrap(),
    ];
    let r = recover(args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("add --force"), "{}", r.stderr);
    assert_eq!(std::fs::read(&script).unwrap(), b"keep me");
    let mut forced = args.to_vec();
    forced.push("--force");
    let r = recover(&forced);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains("label: gpt") || text.contains("label: dos"),
        "{text}"
    );
    // A symbolic link that leads nowhere is not followed to make a file.
    let dangling = b.dir.join("dangling");
    std::os::unix::fs::symlink(b.dir.join("nowhere/x"), &dangling).unwrap();
    let r = recover([
        "scan",
        &b.src(),
        "--deep",
        "--emit-sfdisk",
        dangling.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn an_output_in_a_missing_directory_is_named() {
    let b = Bench::new("nodir");
    let out = b.dir.join("nodir/x.raw");
    for args in [
        vec![
            "extract",
            &b.src(),
            "--at",
            "d0",
            "-o",
            out.to_str().unwrap(),
        ],
        vec![
            "assemble",
            &b.src(),
            "--level",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
        vec![
            "scan",
            &b.src(),
            "--deep",
            "--emit-sfdisk",
            out.to_str().unwrap(),
        ],
    ] {
        let r = recover(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains("nodir/x.raw"))
            .unwrap_or_else(|| panic!("{args:?}: no line names the output:\n{}", r.stderr));
        assert!(line.contains("cannot write"), "{line}");
        assert!(line.contains("does not exist"), "{line}");
    }
}

/// One random command line: a subcommand, its options, and an output that
/// may be fresh, an existing file, a directory, or any spelling of a source.
#[derive(Debug, Clone)]
struct Cmd {
    which: usize,
    out: usize,
    force: bool,
    no_mmap: bool,
    json: bool,
}

fn cmd() -> impl Strategy<Value = Cmd> {
    (
        0usize..12,
        0usize..7,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(which, out, force, no_mmap, json)| Cmd {
            which,
            out,
            force,
            no_mmap,
            json,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever is run, every source reads the same afterwards; a command
    /// whose output is a source fails.
    #[test]
    fn sources_are_never_written(cmds in prop::collection::vec(cmd(), 1..4)) {
        let b = Bench::new("prop");
        let before = b.hashes();
        let file = some_file(&b.src());
        std::fs::write(b.dir.join("existing"), b"x").unwrap();
        std::fs::create_dir_all(b.dir.join("outdir")).unwrap();
        for c in cmds {
            let spellings = b.spellings();
            let (out, is_source) = match c.out {
                0 => (b.p("fresh"), false),
                1 => (b.p("existing"), false),
                2 => (b.p("outdir"), false),
                k => (spellings[k - 3].clone(), true),
            };
            let mut args: Vec<String> = match c.which {
                0 => vec!["scan".into(), b.src()],
                1 => vec!["scan".into(), b.src(), "--deep".into()],
                2 => vec!["scan".into(), b.src(), "--deep".into(), "--emit-sfdisk".into(), out.clone()],
                3 => vec!["ls".into(), b.src(), "--at".into(), "d0/gpt/p1/ext4".into(), "-R".into()],
                4 => vec!["cp".into(), b.src(), "--at".into(), file.clone(), "-o".into(), out.clone()],
                5 => vec!["cp".into(), b.src(), "--at".into(), "d0/gpt/p2/fat32".into(), "-o".into(), out.clone()],
                6 => vec!["extract".into(), b.src(), "--at".into(), "d0/gpt/p3".into(), "-o".into(), out.clone()],
                7 => vec!["extract".into(), b.src(), "--at".into(), "d0/recovered/p1".into(), "-o".into(), out.clone()],
                8 => vec!["assemble".into(), b.src(), b.p("other.img"), "--level".into(), "1".into(), "-o".into(), out.clone()],
                9 => vec!["assemble".into(), b.p("other.img"), b.src(), "--level".into(), "5".into(), "--chunk".into(), "4K".into(), "--missing".into(), "2".into(), "-o".into(), out.clone()],
                10 => vec!["assemble".into(), b.src(), "-o".into(), out.clone()],
                _ => vec!["scan".into(), b.src(), b.p("other.img"), "--at".into(), "d0/gpt/p1".into()],
            };
            let writes = matches!(c.which, 2 | 4..=10);
            if c.force && writes { args.push("--force".into()); }
            if c.no_mmap { args.push("--no-mmap".into()); }
            if c.json && matches!(c.which, 0 | 1 | 3) { args.push("--json".into()); }
            let r = recover(&args);
            prop_assert!(r.code >= 0 && r.code <= 2, "{:?}: exit {}\n{}", args, r.code, r.stderr);
            if writes && is_source {
                prop_assert_eq!(r.code, 2, "{:?} wrote over a source?\n{}", args, r.stderr);
            }
            prop_assert_eq!(b.hashes(), before.clone(), "{:?} changed a source", args);
            // The next command starts from a fresh output.
            let _ = std::fs::remove_file(b.dir.join("fresh"));
            let _ = std::fs::remove_dir_all(b.dir.join("fresh"));
        }
    }
}
