//! `recover serve`: nodes and files as read-only NBD exports, checked with
//! the clients people use as the oracles: libnbd's nbdinfo (--list, --map)
//! and nbdcopy, and qemu-img (compare, map). Skipped with a message when
//! those tools are missing, unless RECOVER_REQUIRE_NBD is set.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The NBD clients and qemu's tools, or `false` with a SKIPPED note
/// (a failure when RECOVER_REQUIRE_NBD is set).
fn tools() -> bool {
    let missing: Vec<&str> = ["nbdinfo", "nbdcopy", "qemu-img", "qemu-io"]
        .into_iter()
        .filter(|t| !fixtures::tools::have(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("RECOVER_REQUIRE_NBD").is_none(),
        "{} not installed (RECOVER_REQUIRE_NBD is set)",
        missing.join(", ")
    );
    eprintln!(
        "SKIPPED: {} not installed (libnbd-bin, qemu-utils)",
        missing.join(", ")
    );
    false
}

/// A running `recover serve`, stopped (SIGTERM) by [`Server::stop`] or
/// killed on drop.
struct Server {
    child: Option<Child>,
    socket: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `recover serve SOURCES --at AT... --socket SOCKET` and waits
    /// for its line per export.
    fn start(sources: &[&Path], ats: &[&str], socket: &Path) -> Server {
        Server::start_with(
            sources,
            ats,
            &["--socket", socket.to_str().unwrap()],
            socket,
        )
    }

    fn start_with(sources: &[&Path], ats: &[&str], extra: &[&str], socket: &Path) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_recover"));
        cmd.arg("serve").args(sources);
        for a in ats {
            cmd.args(["--at", a]);
        }
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run recover serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, text) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let said = stderr.lock().unwrap().matches("recover: serving").count();
            if said == ats.len() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "recover serve exited ({status}) before serving:\n{}",
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "recover serve did not start within 120 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child: Some(child),
            socket: socket.to_path_buf(),
            stderr,
        }
    }

    /// The URI of `export` on this server's socket.
    fn uri(&self, export: &str) -> String {
        format!("nbd+unix:///{export}?socket={}", self.socket.display())
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM; the exit code and what it said.
    fn stop(mut self) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("recover serve did not stop on SIGTERM:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        (status.code().unwrap_or(-1), self.stderr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// Runs a tool; its stdout, or a panic with what it said.
fn tool(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nbdcopy URI FILE`, and the file's SHA-256.
fn nbdcopy_sha(uri: &str, out: &Path) -> String {
    let _ = std::fs::remove_file(out);
    tool(&["nbdcopy", uri, out.to_str().unwrap()]);
    let sha = sha256_file(out);
    let _ = std::fs::remove_file(out);
    sha
}

/// `recover extract` of `at`, and the file's SHA-256.
fn extract_sha(sources: &[&Path], at: &str, out: &Path) -> String {
    let _ = std::fs::remove_file(out);
    let mut args: Vec<&str> = vec!["extract"];
    args.extend(sources.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--at", at, "-o", out.to_str().unwrap()]);
    let r = recover(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sha = sha256_file(out);
    let _ = std::fs::remove_file(out);
    sha
}

/// Data ranges (start, end), adjacent ones merged: from `nbdinfo --map
/// --json` (type bit 0 clear: allocated) or `qemu-img map --output=json`
/// (`"data": true`).
fn data_ranges(entries: &Value, nbdinfo: bool) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for e in entries.as_array().unwrap() {
        let (start, len, data) = if nbdinfo {
            (
                e["offset"].as_u64().unwrap(),
                e["length"].as_u64().unwrap(),
                e["type"].as_u64().unwrap() & 1 == 0,
            )
        } else {
            (
                e["start"].as_u64().unwrap(),
                e["length"].as_u64().unwrap(),
                e["data"].as_bool().unwrap(),
            )
        };
        if !data {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 == start => last.1 += len,
            _ => out.push((start, start + len)),
        }
    }
    out
}

/// `nbdinfo --map` of `uri` against `qemu-img map` of `image`: data in the
/// same places, holes elsewhere; and some holes at all.
fn assert_same_map(uri: &str, image: &Path) {
    let ours: Value = serde_json::from_str(&tool(&["nbdinfo", "--map", "--json", uri])).unwrap();
    let theirs: Value = serde_json::from_str(&tool(&[
        "qemu-img",
        "map",
        "--output=json",
        image.to_str().unwrap(),
    ]))
    .unwrap();
    let (o, t) = (data_ranges(&ours, true), data_ranges(&theirs, false));
    assert_eq!(o, t, "data ranges: nbdinfo --map of {uri} vs qemu-img map");
    let holes = ours
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(3))
        .count();
    assert!(holes > 0, "no holes reported: {ours}");
}

/// The URI the server said it serves `export` at.
fn said_uri(said: &str, export: &str) -> String {
    let line = said
        .lines()
        .find(|l| l.starts_with(&format!("recover: serving {export} (")))
        .unwrap_or_else(|| panic!("no line for {export}: {said}"));
    line.split_whitespace()
        .find(|w| w.starts_with("nbd"))
        .unwrap()
        .trim_end_matches(',')
        .to_string()
}

/// A qcow2 made by qemu-img, written by qemu-io at known places: data
/// across a cluster boundary, a partial cluster, a zeroed range, a
/// pattern at the end; and the raw bytes qemu-img converts it to.
fn qcow2(dir: &Path) -> (PathBuf, PathBuf) {
    let img = dir.join("vm.qcow2");
    tool(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        img.to_str().unwrap(),
        "64M",
    ]);
    tool(&[
        "qemu-io",
        "-f",
        "qcow2",
        "-c",
        "write -P 0xab 960k 192k",
        "-c",
        "write -P 0x5c 10M 4k",
        "-c",
        "write -P 0x11 20M 1M",
        "-c",
        "write -z 20M 512k",
        "-c",
        "write -P 0xee 63M 1M",
        img.to_str().unwrap(),
    ]);
    let raw = dir.join("vm.raw");
    tool(&[
        "qemu-img",
        "convert",
        "-O",
        "raw",
        img.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    (img, raw)
}

#[test]
fn partitions_listed_and_copied_exactly() {
    if !tools() {
        return;
    }
    let fx = fixtures::gpt_small();
    let doc = scan_json(&[&fx.path], 0);
    let scratch = fixtures::cache::Scratch::new("serve-parts");
    let sock = scratch.join("parts.sock");
    let ats = [
        "d0/gpt/p1",
        "d0/gpt/p3",
        "d0/gpt/p1/ext4:/docs/deep/er/data.bin",
        "d0/gpt/p1/ext4:/żółw.txt",
    ];
    let srv = Server::start(&[&fx.path], &ats, &sock);
    let said = srv.stderr();
    assert!(
        said.contains(&format!("at {}", srv.uri("d0/gpt/p1"))),
        "the URI is said: {said}"
    );

    // Every export listed with its size (the node's, the file's).
    let list: Value =
        serde_json::from_str(&tool(&["nbdinfo", "--list", "--json", &srv.uri("")])).unwrap();
    let listed: Vec<(String, u64)> = list["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["export-name"].as_str().unwrap().to_string(),
                e["export-size"].as_u64().unwrap(),
            )
        })
        .collect();
    let files: Vec<Vec<u8>> = ats[2..]
        .iter()
        .map(|at| {
            let r = recover(["cat", fx.path.to_str().unwrap(), "--at", at]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout_bytes
        })
        .collect();
    let want = vec![
        (
            ats[0].to_string(),
            node(&doc, "d0/gpt/p1")["size"].as_u64().unwrap(),
        ),
        (
            ats[1].to_string(),
            node(&doc, "d0/gpt/p3")["size"].as_u64().unwrap(),
        ),
        (ats[2].to_string(), 200000),
        (ats[3].to_string(), files[1].len() as u64),
    ];
    assert_eq!(listed, want);
    assert!(list["exports"][0]["is_read_only"].as_bool().unwrap());

    // Bytes: nbdcopy equals extract; the default export is the first.
    let out = scratch.join("out.raw");
    let ex = scratch.join("extract.raw");
    for at in &ats[..2] {
        assert_eq!(
            nbdcopy_sha(&srv.uri(at), &out),
            extract_sha(&[&fx.path], at, &ex),
            "{at}"
        );
    }
    let p1 = node(&doc, "d0/gpt/p1");
    assert_eq!(
        nbdcopy_sha(&srv.uri(""), &out),
        sha256_range(
            &fx.path,
            p1["offset"].as_u64().unwrap(),
            p1["size"].as_u64().unwrap()
        ),
        "the default export"
    );
    // Files, by the URIs the server said (a name that must be escaped).
    for (at, bytes) in ats[2..].iter().zip(&files) {
        let uri = said_uri(&said, at);
        tool(&["nbdcopy", &uri, out.to_str().unwrap()]);
        assert_eq!(&std::fs::read(&out).unwrap(), bytes, "{at}");
        let _ = std::fs::remove_file(&out);
    }

    // A second server on the same live socket is refused; so is a socket
    // over a file or over the source.
    let r = recover([
        "serve",
        fx.path.to_str().unwrap(),
        "--at",
        "d0",
        "--socket",
        sock.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("listening"), "{}", r.stderr);
    let file = scratch.join("file");
    std::fs::write(&file, b"keep").unwrap();
    for over in [file.as_path(), fx.path.as_path()] {
        let r = recover([
            "serve",
            fx.path.to_str().unwrap(),
            "--at",
            "d0",
            "--socket",
            over.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");

    // SIGTERM: a clean stop, the socket removed.
    let (code, said) = srv.stop();
    assert_eq!(code, 0, "{said}");
    assert!(!sock.exists(), "the socket is removed");
}

#[test]
fn qcow2_holes_bytes_and_two_clients() {
    if !tools() {
        return;
    }
    let scratch = fixtures::cache::Scratch::new("serve-qcow2");
    let (img, raw) = qcow2(&scratch.0);
    let sock = scratch.join("q.sock");
    let before = sha256_file(&img);
    let srv = Server::start(&[&img], &["d0/qcow2"], &sock);
    let uri = srv.uri("d0/qcow2");

    // Holes where qemu-img says, data elsewhere.
    assert_same_map(&uri, &img);
    // qemu-img's own view of the image, and extract's.
    let out = tool(&[
        "qemu-img",
        "compare",
        "-f",
        "qcow2",
        "-F",
        "raw",
        img.to_str().unwrap(),
        &uri,
    ]);
    assert!(out.contains("identical"), "{out}");
    let want = sha256_file(&raw);
    let ex = scratch.join("extract.raw");
    assert_eq!(extract_sha(&[&img], "d0/qcow2", &ex), want);

    // Two clients at once.
    let copies: Vec<_> = (0..2)
        .map(|i| {
            let (uri, out) = (uri.clone(), scratch.join(&format!("copy{i}.raw")));
            std::thread::spawn(move || nbdcopy_sha(&uri, &out))
        })
        .collect();
    for c in copies {
        assert_eq!(c.join().unwrap(), want);
    }

    // Writes are refused: by the clients, told the export is read-only...
    let st = Command::new("nbdcopy")
        .args([raw.to_str().unwrap(), &uri])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success(), "nbdcopy into the export");
    let st = Command::new("qemu-io")
        .args(["-f", "raw", "-c", "write -P 1 0 4k", &uri])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success(), "qemu-io write");
    // ...and by the server, to a client that writes anyway.
    assert_eq!(raw_write(&sock, "d0/qcow2"), 1, "NBD_EPERM");
    assert_eq!(sha256_file(&img), before, "the image is unchanged");

    let (code, said) = srv.stop();
    assert_eq!(code, 0, "{said}");
    assert!(!sock.exists());
}

/// A client that ignores the read-only flag: the handshake by hand,
/// `NBD_OPT_EXPORT_NAME`, then a 512-byte `NBD_CMD_WRITE`; the error the
/// server answers.
fn raw_write(sock: &Path, export: &str) -> u32 {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut greeting = [0u8; 18];
    s.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting[..8], b"NBDMAGIC");
    assert_eq!(&greeting[8..16], b"IHAVEOPT");
    let mut msg = 3u32.to_be_bytes().to_vec(); // fixed newstyle, no zeroes
    msg.extend_from_slice(b"IHAVEOPT");
    msg.extend_from_slice(&1u32.to_be_bytes()); // NBD_OPT_EXPORT_NAME
    msg.extend_from_slice(&(export.len() as u32).to_be_bytes());
    msg.extend_from_slice(export.as_bytes());
    s.write_all(&msg).unwrap();
    let mut info = [0u8; 10];
    s.read_exact(&mut info).unwrap();
    let mut req = 0x2560_9513u32.to_be_bytes().to_vec();
    req.extend_from_slice(&0u16.to_be_bytes());
    req.extend_from_slice(&1u16.to_be_bytes()); // NBD_CMD_WRITE
    req.extend_from_slice(&77u64.to_be_bytes());
    req.extend_from_slice(&0u64.to_be_bytes());
    req.extend_from_slice(&512u32.to_be_bytes());
    req.extend_from_slice(&[0x42; 512]);
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 16];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply[..4], &0x6744_6698u32.to_be_bytes());
    assert_eq!(&reply[8..], &77u64.to_be_bytes());
    // NBD_CMD_DISC.
    let mut disc = 0x2560_9513u32.to_be_bytes().to_vec();
    disc.extend_from_slice(&[0, 0, 0, 2]);
    disc.extend_from_slice(&[0; 20]);
    s.write_all(&disc).unwrap();
    u32::from_be_bytes(reply[4..8].try_into().unwrap())
}

/// The case: a degraded RAID5 of the lab (a member gone, md0
/// rebuilt from parity on every read), served whole and as the virtual
/// disk of a qcow2 in the ext4 on it.
#[test]
fn degraded_array_and_the_qcow2_inside_it() {
    if !tools() {
        return;
    }
    let Some(lab) = lab() else { return };
    let dir = lab.join("variants/raid5-4d-64k-ls-0.90.degraded-1");
    let man: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.join("scenarios/raid5-4d-64k-ls-0.90/manifest.json")).unwrap(),
    )
    .unwrap();
    let array = &man["arrays"][0];
    let imgs = images(&dir);
    assert_eq!(imgs.len(), 3, "one member of four is gone");
    let paths: Vec<&Path> = imgs.iter().map(|p| p.as_path()).collect();
    let scratch = fixtures::cache::Scratch::new("serve-md");
    let sock = scratch.join("md.sock");
    let vm = "md0/mbr/p1/ext4:/vm/disk.qcow2/qcow2";
    let srv = Server::start(&paths, &["md0", vm], &sock);
    let out = scratch.join("md0.raw");
    assert_eq!(
        nbdcopy_sha(&srv.uri("md0"), &out),
        array["sha256"].as_str().unwrap(),
        "md0 as mdadm wrote it"
    );
    // The qcow2 file, copied out and checked against the manifest, is
    // qemu-img's oracle for the virtual disk served from inside the array.
    let copy = scratch.join("disk.qcow2");
    let mut args: Vec<&str> = vec!["cp"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--at",
        "md0/mbr/p1/ext4:/vm/disk.qcow2",
        "-o",
        copy.to_str().unwrap(),
    ]);
    let r = recover(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&copy),
        array["partitions"][0]["files"]["vm/disk.qcow2"]
            .as_str()
            .unwrap()
    );
    let uri = srv.uri(vm);
    let said = tool(&[
        "qemu-img",
        "compare",
        "-f",
        "qcow2",
        "-F",
        "raw",
        copy.to_str().unwrap(),
        &uri,
    ]);
    assert!(said.contains("identical"), "{said}");
    assert_same_map(&uri, &copy);
    let (code, said) = srv.stop();
    assert_eq!(code, 0, "{said}");
}

#[test]
fn tcp_on_the_address_given() {
    if !tools() {
        return;
    }
    let fx = fixtures::gpt_small();
    let scratch = fixtures::cache::Scratch::new("serve-tcp");
    let none = scratch.join("no.sock");
    let srv = Server::start_with(
        &[&fx.path],
        &["d0/gpt/p3"],
        &["--listen", "127.0.0.1:0"],
        &none,
    );
    let said = srv.stderr();
    let uri = said
        .split_whitespace()
        .find(|w| w.starts_with("nbd://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no TCP URI said: {said}"))
        .trim_end_matches(',')
        .to_string();
    assert!(uri.ends_with("/d0/gpt/p3"), "{uri}");
    let out = scratch.join("p3.raw");
    let ex = scratch.join("p3-extract.raw");
    assert_eq!(
        nbdcopy_sha(&uri, &out),
        extract_sha(&[&fx.path], "d0/gpt/p3", &ex)
    );
    assert!(!none.exists(), "no socket made");
    let (code, said) = srv.stop();
    assert_eq!(code, 0, "{said}");
}

/// Ranges a ddrescue mapfile says were never read: served as zeros (as
/// extract writes them), said once on stderr however often clients read
/// them, and the exit code says so.
#[test]
fn unreadable_ranges_are_zeros_said_once() {
    if !tools() {
        return;
    }
    let fx = fixtures::gpt_small();
    let doc = scan_json(&[&fx.path], 0);
    let p3 = node(&doc, "d0/gpt/p3");
    let bad = p3["offset"].as_u64().unwrap() + (1 << 20);
    let size = std::fs::metadata(&fx.path).unwrap().len();
    let scratch = fixtures::cache::Scratch::new("serve-map");
    let map = scratch.join("disk.map");
    std::fs::write(
        &map,
        format!(
            "# Mapfile. Created by GNU ddrescue version 1.27\n\
             0x00000000     +               1\n\
             0x00000000  {bad:#010x}  +\n\
             {bad:#010x}  0x00010000  -\n\
             {:#010x}  {:#010x}  +\n",
            bad + 0x10000,
            size - bad - 0x10000
        ),
    )
    .unwrap();
    let sock = scratch.join("m.sock");
    let srv = Server::start_with(
        &[&fx.path],
        &["d0/gpt/p3"],
        &[
            "--map",
            map.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ],
        &sock,
    );
    let out = scratch.join("p3.raw");
    let first = nbdcopy_sha(&srv.uri("d0/gpt/p3"), &out);
    // Past the reporter's once-a-second look, and read again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(nbdcopy_sha(&srv.uri("d0/gpt/p3"), &out), first);
    let ex = scratch.join("p3-extract.raw");
    let r = recover([
        "extract",
        fx.path.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--at",
        "d0/gpt/p3",
        "-o",
        ex.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(sha256_file(&ex), first, "zeros where extract writes zeros");
    let (code, said) = srv.stop();
    assert_eq!(code, 1, "damage met: {said}");
    let range = format!("65536 bytes at {bad:#x}..{:#x}", bad + 0x10000);
    assert_eq!(said.matches(&range).count(), 1, "said once: {said}");
}

/// SIGTERM with a client connected and idle: its connection is shut down
/// and the server stops well before the grace period runs out.
#[test]
fn stops_with_an_idle_client() {
    if !tools() {
        return;
    }
    let fx = fixtures::gpt_small();
    let scratch = fixtures::cache::Scratch::new("serve-idle");
    let sock = scratch.join("idle.sock");
    let srv = Server::start(&[&fx.path], &["d0/gpt/p1"], &sock);
    let mut idle = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let mut greeting = [0u8; 18];
    idle.read_exact(&mut greeting).unwrap();
    let t = Instant::now();
    let (code, said) = srv.stop();
    assert_eq!(code, 0, "{said}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        t.elapsed()
    );
    assert!(!sock.exists());
    // The client sees its connection end.
    let mut rest = Vec::new();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
}
