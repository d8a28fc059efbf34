//! Helpers shared by the CLI tests: run `recover`, and read the oracles
//! (sfdisk --json, blkid -p) for the same images.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a `recover` run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    /// stdout as written (binary output: `cat`).
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the `recover` binary with `args`, under a 2 GiB address-space limit
/// (a huge allocation fails instead of swapping) and a 120 s deadline (a
/// hang fails the test instead of stalling it).
pub fn recover<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recover"));
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only this child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("run recover");
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for recover") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("recover did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout_bytes = out_t.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

/// `recover scan --json PATHS` parsed; asserts the exit code.
pub fn scan_json(paths: &[&Path], want_code: i32) -> Value {
    let mut args = vec!["scan".as_ref(), "--json".as_ref()];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let r = recover(&args);
    assert_eq!(r.code, want_code, "exit code; stderr:\n{}", r.stderr);
    r.json()
}

/// The node at `path` in a scan's JSON.
pub fn node<'a>(doc: &'a Value, path: &str) -> &'a Value {
    fn walk<'a>(n: &'a Value, path: &str) -> Option<&'a Value> {
        if n["path"] == path {
            return Some(n);
        }
        n["children"].as_array()?.iter().find_map(|c| walk(c, path))
    }
    doc["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find_map(|n| walk(n, path)))
        .unwrap_or_else(|| {
            panic!(
                "no node {path} in {}",
                serde_json::to_string_pretty(doc).unwrap()
            )
        })
}

/// `sfdisk --json` of an image or device.
pub fn sfdisk(path: &Path) -> Value {
    fixtures::disk::sfdisk_json(path)
}

/// Checks a partition_table node against `sfdisk --json` of the same disk,
/// field by field: label, id, first/last LBA, sector size, and each
/// partition's number, start, size, type, uuid, name and boot flag.
pub fn assert_table_matches_sfdisk(table: &Value, sf: &Value) {
    let t = &sf["partitiontable"];
    let label = t["label"].as_str().unwrap();
    assert_eq!(table["kind"], "partition_table");
    assert_eq!(table["format"], if label == "dos" { "mbr" } else { "gpt" });
    assert_eq!(
        table["disk_id"].as_str().unwrap(),
        t["id"].as_str().unwrap(),
        "disk id"
    );
    assert_eq!(table["sector_size"], t["sectorsize"], "sector size");
    if label == "gpt" {
        assert_eq!(table["first_lba"], t["firstlba"], "first usable LBA");
        assert_eq!(table["last_lba"], t["lastlba"], "last usable LBA");
    }
    let ss = t["sectorsize"].as_u64().unwrap();
    let ours = table["children"].as_array().unwrap();
    let theirs = t["partitions"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "partition count");
    for (o, s) in ours.iter().zip(theirs) {
        let node = s["node"].as_str().unwrap();
        let number: u64 = node
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(o["number"], number, "{node}: number");
        assert_eq!(o["kind"], "partition");
        assert_eq!(o["start_lba"], s["start"], "{node}: start");
        assert_eq!(o["sectors"], s["size"], "{node}: size");
        assert_eq!(
            o["offset"].as_u64().unwrap(),
            s["start"].as_u64().unwrap() * ss,
            "{node}: offset"
        );
        assert_eq!(
            o["size"].as_u64().unwrap(),
            s["size"].as_u64().unwrap() * ss,
            "{node}: byte size"
        );
        assert_eq!(o["type"], s["type"], "{node}: type");
        if label == "gpt" {
            assert_eq!(o["guid"], s["uuid"], "{node}: uuid");
            assert_eq!(
                o["name"].as_str().unwrap(),
                s["name"].as_str().unwrap_or(""),
                "{node}: name"
            );
        } else {
            assert_eq!(
                o["bootable"].as_bool().unwrap(),
                s["bootable"].as_bool().unwrap_or(false),
                "{node}: bootable"
            );
        }
    }
}

/// `blkid -p` (low-level probe, no cache) of `len` bytes at `offset` of an image.
pub fn blkid(path: &Path, offset: u64, len: u64) -> BTreeMap<String, String> {
    let out = Command::new("blkid")
        .args([
            "-p",
            "-o",
            "export",
            "-O",
            &offset.to_string(),
            "-S",
            &len.to_string(),
        ])
        .arg(path)
        .output()
        .expect("run blkid");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape(v)))
        .collect()
}

/// Undoes `blkid -o export`'s shell escaping (a backslash before specials).
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in v.chars() {
        if c == '\\' && !esc {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out
}

/// Checks a filesystem node against blkid's view of the same bytes: TYPE
/// (mapped to our format names), LABEL, UUID, UUID_SUB, VERSION.
pub fn assert_fs_matches_blkid(fs: &Value, b: &BTreeMap<String, String>, what: &str) {
    let format = fs["format"].as_str().unwrap();
    let ty = b
        .get("TYPE")
        .unwrap_or_else(|| panic!("{what}: blkid found nothing: {b:?}"));
    let expect_type = match format {
        "fat12" | "fat16" | "fat32" => "vfat",
        "luks" => "crypto_LUKS",
        "lvm2" => "LVM2_member",
        "md" => "linux_raid_member",
        f => f,
    };
    assert_eq!(ty, expect_type, "{what}: type");
    if expect_type == "vfat" {
        assert_eq!(b["VERSION"].to_lowercase(), format, "{what}: FAT version");
    }
    assert_eq!(
        fs["label"].as_str(),
        b.get("LABEL").map(String::as_str),
        "{what}: label"
    );
    assert_eq!(
        fs["uuid"].as_str(),
        b.get("UUID").map(String::as_str),
        "{what}: uuid"
    );
    if let Some(sub) = b.get("UUID_SUB") {
        assert_eq!(
            fs["details"]["uuid_sub"].as_str(),
            Some(sub.as_str()),
            "{what}: uuid_sub"
        );
    }
    if let Some(v) = b.get("VERSION").filter(|_| expect_type != "vfat") {
        assert_eq!(fs["version"].as_str(), Some(v.as_str()), "{what}: version");
    }
}

/// SHA-256 of a file's bytes `offset..offset+len`.
pub fn sha256_range(path: &Path, offset: u64, len: u64) -> String {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut h = Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n]).unwrap();
        h.update(&buf[..n]);
        left -= n as u64;
    }
    format!("{:x}", h.finalize())
}

/// SHA-256 of a whole file.
pub fn sha256_file(path: &Path) -> String {
    let len = std::fs::metadata(path).unwrap().len();
    sha256_range(path, 0, len)
}

/// The lab corpus (real md arrays, fixtures/lab), or `None` (with a
/// SKIPPED note) when it was not built and RECOVER_REQUIRE_LAB is unset.
pub fn lab() -> Option<PathBuf> {
    fixtures::lab::lab_corpus("")
}

/// The member images (*.img) of a lab scenario directory, in name order.
pub fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "img"))
        .collect();
    v.sort();
    v
}
