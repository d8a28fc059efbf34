//! `recover check` on VM images against `qemu-img check`: qcow2 images
//! made by qemu-img and qemu-io (cluster sizes 512 B to 2 MiB, refcount
//! widths 1 to 64 bits, extended L2, compressed clusters, internal
//! snapshots, lazy refcounts left dirty by a crash), clean and then damaged
//! by byte edits at known entries; every count `qemu-img check
//! --output=json` prints must come out equal. VHD, VHDX, VMDK and VDI
//! images qemu-img converts are clean; byte-damaged ones are reported at
//! the damaged structure's offset. Skipped without qemu-img.

// Every damage has one signature, and `leaked` grows the file.
#![allow(clippy::ptr_arg)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use fixtures::cache::{cached, Scratch};
use fixtures::tools::{have, run};
use serde_json::Value;

/// The fields of `qemu-img check --output=json` compared (absent is 0).
const FIELDS: [&str; 8] = [
    "corruptions",
    "leaks",
    "check-errors",
    "image-end-offset",
    "total-clusters",
    "allocated-clusters",
    "fragmented-clusters",
    "compressed-clusters",
];

fn qemu_check(img: &Path, format: &str) -> Value {
    let out = Command::new("qemu-img")
        .args(["check", "--output=json", "-f", format])
        .arg(img)
        .output()
        .expect("run qemu-img check");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "qemu-img check {}: no JSON ({e}): {}",
            img.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn qemu_counts(v: &Value) -> Vec<u64> {
    FIELDS.iter().map(|f| v[*f].as_u64().unwrap_or(0)).collect()
}

/// recover check's entry for the one image in `img`, and its exit code.
fn recover_check(img: &Path) -> (i32, Value) {
    let r = recover([Path::new("check"), Path::new("--json"), img]);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    let doc = r.json();
    let images = doc["images"].as_array().expect("images");
    assert_eq!(images.len(), 1, "{doc:#}");
    (r.code, images[0].clone())
}

fn be64(b: &[u8], at: u64) -> u64 {
    u64::from_be_bytes(b[at as usize..at as usize + 8].try_into().unwrap())
}

fn put64(b: &mut [u8], at: u64, v: u64) {
    b[at as usize..at as usize + 8].copy_from_slice(&v.to_be_bytes());
}

fn be32(b: &[u8], at: u64) -> u32 {
    u32::from_be_bytes(b[at as usize..at as usize + 4].try_into().unwrap())
}

/// A qcow2 image's layout, read from its bytes.
struct Layout {
    cb: u32,
    cs: u64,
    order: u32,
    l1: u64,
    rt: u64,
    es: u64,
}

impl Layout {
    fn of(b: &[u8]) -> Layout {
        let version = be32(b, 4);
        let cb = be32(b, 20);
        let extended = version >= 3 && be64(b, 72) & 16 != 0;
        Layout {
            cb,
            cs: 1 << cb,
            order: if version >= 3 { be32(b, 96) } else { 4 },
            l1: be64(b, 40),
            rt: be64(b, 48),
            es: if extended { 16 } else { 8 },
        }
    }

    /// The offset of L2 entry `i` of the table L1 entry `l1i` names.
    fn l2e(&self, b: &[u8], l1i: u64, i: u64) -> u64 {
        let l2 = be64(b, self.l1 + l1i * 8) & 0x00FF_FFFF_FFFF_FE00;
        assert!(l2 != 0, "L1 entry {l1i} is empty");
        l2 + i * self.es
    }

    /// Sets the stored refcount of cluster `k`.
    fn set_refcount(&self, b: &mut [u8], k: u64, v: u64) {
        let block_bits = self.cb + 3 - self.order;
        let block = be64(b, self.rt + (k >> block_bits) * 8) & !0x1FF;
        assert!(block != 0, "no refcount block for cluster {k}");
        let i = k & ((1 << block_bits) - 1);
        match self.order {
            0..=2 => {
                let bits = 1u64 << self.order;
                let per = 8 / bits;
                let at = (block + i / per) as usize;
                let shift = (i % per) * bits;
                let mask = ((1u64 << bits) - 1) << shift;
                b[at] = ((u64::from(b[at]) & !mask) | ((v << shift) & mask)) as u8;
            }
            3 => b[(block + i) as usize] = v as u8,
            4 => b[(block + i * 2) as usize..][..2].copy_from_slice(&(v as u16).to_be_bytes()),
            5 => b[(block + i * 4) as usize..][..4].copy_from_slice(&(v as u32).to_be_bytes()),
            _ => put64(b, block + i * 8, v),
        }
    }
}

/// A qcow2 made by qemu-img create with `opts` and written by qemu-io.
fn made(name: &str, opts: &str, snapshot: bool) -> PathBuf {
    cached(&format!("check-images-{name}-v1.qcow2"), |p| {
        run(Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-o", opts])
            .arg(p)
            .arg("64M"));
        let writes = [
            "write -P 0x11 0 3M",
            "write -P 0x22 8M 1M",
            "write -z 20M 1M",
            "write -P 0x33 40M 64k",
            "write -P 0x44 63M 512",
        ];
        let mut cmd = Command::new("qemu-io");
        for w in writes {
            cmd.args(["-c", w]);
        }
        run(cmd.arg("-f").arg("qcow2").arg(p));
        if snapshot {
            run(Command::new("qemu-img")
                .args(["snapshot", "-q", "-c", "first"])
                .arg(p));
            run(Command::new("qemu-io")
                .args([
                    "-f",
                    "qcow2",
                    "-c",
                    "write -P 0x55 1M 128k",
                    "-c",
                    "write -P 0x66 30M 64k",
                ])
                .arg(p));
            run(Command::new("qemu-img")
                .args(["snapshot", "-q", "-c", "second"])
                .arg(p));
        }
    })
}

/// A qcow2 with lazy refcounts that qemu-io left by aborting after writes:
/// dirty, its refcounts stale.
fn crashed() -> PathBuf {
    cached("check-images-lazy-crashed-v1.qcow2", |p| {
        run(Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on"])
            .arg(p)
            .arg("64M"));
        // qemu-io's abort command kills it (SIGABRT): the status is expected.
        let _ = Command::new("qemu-io")
            .args([
                "-f",
                "qcow2",
                "-c",
                "write -P 0x11 0 2M",
                "-c",
                "write -P 0x22 10M 256k",
                "-c",
                "abort",
            ])
            .arg(p)
            .stderr(std::process::Stdio::null())
            .output();
    })
}

/// One image to compare: a base and the damage done to a copy.
struct Case {
    name: &'static str,
    base: fn() -> PathBuf,
    damage: fn(&mut Vec<u8>),
}

fn base64k() -> PathBuf {
    made("64k", "cluster_size=64k", false)
}
fn base512() -> PathBuf {
    made("512", "cluster_size=512", false)
}
fn base2m() -> PathBuf {
    made("2m", "cluster_size=2M", false)
}
fn base_rc1() -> PathBuf {
    made("refcount1", "refcount_bits=1", false)
}
fn base_rc64() -> PathBuf {
    made("refcount64", "refcount_bits=64", false)
}
fn base_ext() -> PathBuf {
    made("extl2", "extended_l2=on", false)
}
fn base_v2() -> PathBuf {
    made("v2", "compat=0.10,cluster_size=4k", false)
}
fn base_snap() -> PathBuf {
    made("snapshots", "cluster_size=64k", true)
}
fn base_compressed() -> PathBuf {
    let (p, _) = fixtures::qcow2_image::qcow2_image(&fixtures::qcow2_image::QCOW2_VARIANTS[2])
        .expect("qemu-img");
    p
}
fn base_crashed() -> PathBuf {
    crashed()
}

fn none(_: &mut Vec<u8>) {}

/// The stored refcount of L2[0]'s data cluster set to 0.
fn refcount_zeroed(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let data = be64(b, l.l2e(b, 0, 0)) & 0x00FF_FFFF_FFFF_FE00;
    l.set_refcount(b, data >> l.cb, 0);
}

/// ... set to 2: a leak and a COPIED flag that disagrees.
fn refcount_bumped(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let data = be64(b, l.l2e(b, 0, 0)) & 0x00FF_FFFF_FFFF_FE00;
    l.set_refcount(b, data >> l.cb, 2);
}

/// A cluster appended to the file with refcount 1 and no reference.
fn leaked(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let len = (b.len() as u64).div_ceil(l.cs) * l.cs;
    b.resize((len + l.cs) as usize, 0);
    l.set_refcount(b, len >> l.cb, 1);
}

/// L2 entry 1 points 100 clusters past the end of the file.
fn l2_past_eof(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let past = ((b.len() as u64).div_ceil(l.cs) + 100) * l.cs;
    let at = l.l2e(b, 0, 1);
    put64(b, at, (1 << 63) | past);
}

/// L2 entries 0 and 1 map the same data cluster.
fn l2_shared(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let e = be64(b, l.l2e(b, 0, 0));
    let at = l.l2e(b, 0, 1);
    put64(b, at, e);
}

/// L1 entry 0 points 512 bytes into its L2 table's cluster.
fn l1_misaligned(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let e = be64(b, l.l1);
    put64(b, l.l1, e + 512);
}

/// L2 entry 1 maps the first refcount block's cluster.
fn l2_on_refblock(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let block = be64(b, l.rt) & !0x1FF;
    let at = l.l2e(b, 0, 1);
    put64(b, at, (1 << 63) | block);
}

/// A reserved bit set in L2 entry 0.
fn l2_reserved(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let at = l.l2e(b, 0, 0);
    let e = be64(b, at);
    put64(b, at, e | 2);
}

/// The first compressed entry of L2 table 0.
fn first_compressed(b: &[u8]) -> u64 {
    let l = Layout::of(b);
    (0..l.cs / l.es)
        .map(|i| l.l2e(b, 0, i))
        .find(|&at| be64(b, at) & (1 << 62) != 0)
        .expect("a compressed cluster")
}

/// Its host offset moved 10 clusters past the end of the file.
fn compressed_past_eof(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let at = first_compressed(b);
    let shift = 62 - (l.cb - 8);
    let e = be64(b, at);
    let off = (b.len() as u64 + 10 * l.cs) & ((1 << shift) - 1);
    put64(b, at, (e & !((1 << shift) - 1)) | off);
}

/// Its sector count at the maximum: the range overlaps what follows.
fn compressed_grown(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let at = first_compressed(b);
    let shift = 62 - (l.cb - 8);
    let e = be64(b, at);
    put64(b, at, e | (((1 << (l.cb - 8)) - 1) << shift));
}

/// COPIED set on it.
fn compressed_copied(b: &mut Vec<u8>) {
    let at = first_compressed(b);
    let e = be64(b, at);
    put64(b, at, e | (1 << 63));
}

/// Extended L2: subcluster 0 of entry 0 both allocated and zero.
fn ext_bitmap(b: &mut Vec<u8>) {
    let l = Layout::of(b);
    let at = l.l2e(b, 0, 0) + 8;
    let m = be64(b, at);
    put64(b, at, m | (1 << 32) | 1);
}

const CASES: &[Case] = &[
    Case {
        name: "64k clean",
        base: base64k,
        damage: none,
    },
    Case {
        name: "64k refcount zeroed",
        base: base64k,
        damage: refcount_zeroed,
    },
    Case {
        name: "64k refcount bumped",
        base: base64k,
        damage: refcount_bumped,
    },
    Case {
        name: "64k leaked cluster",
        base: base64k,
        damage: leaked,
    },
    Case {
        name: "64k L2 entry past EOF",
        base: base64k,
        damage: l2_past_eof,
    },
    Case {
        name: "64k two L2 entries one cluster",
        base: base64k,
        damage: l2_shared,
    },
    Case {
        name: "64k L1 entry misaligned",
        base: base64k,
        damage: l1_misaligned,
    },
    Case {
        name: "64k L2 entry on a refcount block",
        base: base64k,
        damage: l2_on_refblock,
    },
    Case {
        name: "64k L2 reserved bit",
        base: base64k,
        damage: l2_reserved,
    },
    Case {
        name: "512 clean",
        base: base512,
        damage: none,
    },
    Case {
        name: "512 refcount zeroed",
        base: base512,
        damage: refcount_zeroed,
    },
    Case {
        name: "512 leaked cluster",
        base: base512,
        damage: leaked,
    },
    Case {
        name: "2M clean",
        base: base2m,
        damage: none,
    },
    Case {
        name: "2M refcount zeroed",
        base: base2m,
        damage: refcount_zeroed,
    },
    Case {
        name: "2M two L2 entries one cluster",
        base: base2m,
        damage: l2_shared,
    },
    Case {
        name: "refcount_bits=1 clean",
        base: base_rc1,
        damage: none,
    },
    Case {
        name: "refcount_bits=1 refcount zeroed",
        base: base_rc1,
        damage: refcount_zeroed,
    },
    Case {
        name: "refcount_bits=1 two L2 entries one cluster",
        base: base_rc1,
        damage: l2_shared,
    },
    Case {
        name: "refcount_bits=64 clean",
        base: base_rc64,
        damage: none,
    },
    Case {
        name: "refcount_bits=64 refcount bumped",
        base: base_rc64,
        damage: refcount_bumped,
    },
    Case {
        name: "refcount_bits=64 leaked cluster",
        base: base_rc64,
        damage: leaked,
    },
    Case {
        name: "extended L2 clean",
        base: base_ext,
        damage: none,
    },
    Case {
        name: "extended L2 bitmap allocated and zero",
        base: base_ext,
        damage: ext_bitmap,
    },
    Case {
        name: "extended L2 refcount zeroed",
        base: base_ext,
        damage: refcount_zeroed,
    },
    Case {
        name: "v2 4k clean",
        base: base_v2,
        damage: none,
    },
    Case {
        name: "v2 4k two L2 entries one cluster",
        base: base_v2,
        damage: l2_shared,
    },
    Case {
        name: "snapshots clean",
        base: base_snap,
        damage: none,
    },
    Case {
        name: "snapshots shared cluster refcount zeroed",
        base: base_snap,
        damage: refcount_zeroed,
    },
    Case {
        name: "snapshots leaked cluster",
        base: base_snap,
        damage: leaked,
    },
    Case {
        name: "compressed clean",
        base: base_compressed,
        damage: none,
    },
    Case {
        name: "compressed offset past EOF",
        base: base_compressed,
        damage: compressed_past_eof,
    },
    Case {
        name: "compressed size grown",
        base: base_compressed,
        damage: compressed_grown,
    },
    Case {
        name: "compressed with COPIED",
        base: base_compressed,
        damage: compressed_copied,
    },
    Case {
        name: "lazy refcounts after a crash",
        base: base_crashed,
        damage: none,
    },
];

#[test]
fn qcow2_counts_equal_qemu_img_check() {
    if !have("qemu-img") || !have("qemu-io") {
        eprintln!("SKIPPED: qemu-img and qemu-io are needed (qemu-utils)");
        return;
    }
    let s = Scratch::new("check-images");
    let mut damaged = 0;
    let mut failures = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let base = (c.base)();
        let mut b = std::fs::read(&base).unwrap();
        (c.damage)(&mut b);
        let img = s.join(&format!("{i}.qcow2"));
        std::fs::write(&img, &b).unwrap();
        let q = qemu_check(&img, "qcow2");
        let want = qemu_counts(&q);
        let (code, got) = recover_check(&img);
        let have: Vec<u64> = FIELDS
            .iter()
            .map(|f| got["qcow2"][*f].as_u64().unwrap_or(u64::MAX))
            .collect();
        let dirty = want[0] + want[1] + want[2] > 0;
        eprintln!("{}: qemu-img {want:?}, recover {have:?}", c.name);
        if have != want {
            failures.push(format!(
                "{}: qemu-img check {want:?} but recover {have:?} ({FIELDS:?})\n{:#}",
                c.name, got["findings"]
            ));
        }
        if code != i32::from(dirty) || got["consistent"] != !dirty {
            failures.push(format!("{}: exit {code}, qemu-img {want:?}", c.name));
        }
        if dirty {
            damaged += 1;
            assert!(
                !got["findings"].as_array().unwrap().is_empty(),
                "{}: no findings listed",
                c.name
            );
        } else {
            assert!(
                c.name.contains("clean"),
                "{}: the damage did not show in qemu-img check",
                c.name
            );
        }
    }
    eprintln!(
        "{} images, {damaged} with findings, {} disagreeing",
        CASES.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every qcow2 variant the reader tests use is clean, as qemu-img says.
#[test]
fn qcow2_variants_are_clean() {
    if !have("qemu-img") {
        eprintln!("SKIPPED: qemu-img is not installed (qemu-utils)");
        return;
    }
    for v in fixtures::qcow2_image::QCOW2_VARIANTS {
        let (img, _) = fixtures::qcow2_image::qcow2_image(v).unwrap();
        let want = qemu_counts(&qemu_check(&img, "qcow2"));
        let (code, got) = recover_check(&img);
        let have: Vec<u64> = FIELDS
            .iter()
            .map(|f| got["qcow2"][*f].as_u64().unwrap_or(u64::MAX))
            .collect();
        assert_eq!(have, want, "{}", v.name);
        assert_eq!(code, 0, "{}: {got:#}", v.name);
    }
    // Clusters in an external data file are not refcounted; qemu-img finds
    // the data file from the image's directory.
    for raw in [false, true] {
        let Some((img, _)) = fixtures::qcow2_image::qcow2_external_data(raw) else {
            return;
        };
        let out = Command::new("qemu-img")
            .args(["check", "--output=json", "-f", "qcow2", "vm.qcow2"])
            .current_dir(img.parent().unwrap())
            .output()
            .unwrap();
        let want = qemu_counts(&serde_json::from_slice(&out.stdout).unwrap());
        let (code, got) = recover_check(&img);
        let have: Vec<u64> = FIELDS
            .iter()
            .map(|f| got["qcow2"][*f].as_u64().unwrap_or(u64::MAX))
            .collect();
        assert_eq!(have, want, "external data file (raw {raw})");
        assert_eq!(code, 0, "external data file (raw {raw}): {got:#}");
    }
}

/// `base64k` converted by qemu-img to `format` (vpc, vhdx, vmdk, vdi).
fn converted(format: &str) -> PathBuf {
    let base = base64k();
    cached(&format!("check-images-64k-v1.{format}"), |p| {
        run(Command::new("qemu-img")
            .args(["convert", "-q", "-f", "qcow2", "-O", format])
            .arg(&base)
            .arg(p));
    })
}

fn le32(b: &[u8], at: u64) -> u32 {
    u32::from_le_bytes(b[at as usize..at as usize + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(b[at as usize..at as usize + 8].try_into().unwrap())
}

/// The corruptions qemu-img check counts (formats it checks).
fn qemu_corruptions(img: &Path, format: &str) -> u64 {
    qemu_check(img, format)["corruptions"].as_u64().unwrap_or(0)
}

/// recover check of `img`: its exit code and the offsets of its findings.
fn finding_offsets(img: &Path) -> (i32, Value, Vec<u64>) {
    let (code, got) = recover_check(img);
    let offs = got["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["offset"].as_u64().unwrap())
        .collect();
    (code, got, offs)
}

#[test]
fn other_formats_clean_and_damaged() {
    if !have("qemu-img") || !have("qemu-io") {
        eprintln!("SKIPPED: qemu-img and qemu-io are needed (qemu-utils)");
        return;
    }
    let s = Scratch::new("check-images-other");
    // Clean conversions: nothing found, as qemu-img check says where it checks.
    for (format, checks) in [
        ("vpc", false),
        ("vhdx", true),
        ("vmdk", true),
        ("vdi", true),
    ] {
        let img = converted(format);
        let (code, got, offs) = finding_offsets(&img);
        assert_eq!((code, offs.len()), (0, 0), "{format}: {got:#}");
        assert_eq!(got["consistent"], true, "{format}");
        if checks {
            assert_eq!(qemu_corruptions(&img, format), 0, "{format}");
        }
    }
    // --at names the image; a damaged and a clean one together exit 1.
    let vpc = converted("vpc");
    let r = recover([
        Path::new("check"),
        &vpc,
        Path::new("--at"),
        Path::new("d0/vhd"),
        Path::new("--json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["images"][0]["path"], "d0/vhd");
    let damaged = |name: &str, format: &str, edit: &dyn Fn(&mut Vec<u8>) -> u64| {
        let mut b = std::fs::read(converted(format)).unwrap();
        let at = edit(&mut b);
        let img = s.join(name);
        std::fs::write(&img, &b).unwrap();
        let (code, got, offs) = finding_offsets(&img);
        assert_eq!(code, 1, "{name}: {got:#}");
        assert!(offs.contains(&at), "{name}: {at:#x} not among {got:#}");
        (img, offs)
    };
    // VHD: the footer's checksum.
    damaged("footer.vhd", "vpc", &|b| {
        let at = b.len() as u64 - 512 + 0x40;
        b[at as usize] ^= 0x5a;
        at
    });
    // VHD: block table entry 0 past the end of the file.
    damaged("bat.vhd", "vpc", &|b| {
        let dh = be64(b, 0x10);
        let table = be64(b, dh + 0x10);
        let past = (b.len() as u32 / 512) + 100_000;
        b[table as usize..table as usize + 4].copy_from_slice(&past.to_be_bytes());
        table
    });
    // VHD: the dynamic header's checksum.
    damaged("dynheader.vhd", "vpc", &|b| {
        let dh = be64(b, 0x10);
        b[(dh + 0x24) as usize] ^= 1;
        dh + 0x24
    });
    // VDI: two block map entries naming one stored block.
    let (img, offs) = damaged("dup.vdi", "vdi", &|b| {
        let map = u64::from(le32(b, 0x154));
        let first = le32(b, map);
        b[map as usize + 4..map as usize + 8].copy_from_slice(&first.to_le_bytes());
        map + 4
    });
    assert_eq!(qemu_corruptions(&img, "vdi"), offs.len() as u64, "dup.vdi");
    // VDI: an entry past the block count (and the allocated count off).
    let (img, offs) = damaged("big.vdi", "vdi", &|b| {
        let map = u64::from(le32(b, 0x154));
        let blocks = le32(b, 0x180);
        b[map as usize..map as usize + 4].copy_from_slice(&(blocks + 7).to_le_bytes());
        map
    });
    assert_eq!(qemu_corruptions(&img, "vdi"), offs.len() as u64, "big.vdi");
    // VHDX: BAT entry 0 (fully present) a hundred MiB past the end.
    let (img, offs) = damaged("bat.vhdx", "vhdx", &|b| {
        const BAT: [u8; 16] = [
            0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd,
            0x4a, 0x08,
        ];
        let n = u64::from(le32(b, 0x30000 + 8));
        let bat = (0..n)
            .map(|i| 0x30000 + 16 + i * 32)
            .find(|&e| b[e as usize..e as usize + 16] == BAT)
            .map(|e| le64(b, e + 16))
            .expect("a BAT region");
        let mb = (b.len() as u64 >> 20) + 100;
        b[bat as usize..bat as usize + 8].copy_from_slice(&((mb << 20) | 6).to_le_bytes());
        bat
    });
    // The region table's checksum no longer matters here: the BAT is not in it.
    assert_eq!(
        qemu_corruptions(&img, "vhdx"),
        offs.len() as u64,
        "bat.vhdx"
    );
    // VHDX: header 1's checksum.
    damaged("header.vhdx", "vhdx", &|b| {
        b[0x10000 + 200] ^= 1;
        0x10000 + 4
    });
    // VMDK: grain 0 of grain table 0 past the end (primary directory).
    let (img, _) = damaged("grain.vmdk", "vmdk", &|b| {
        let gd = le64(b, 56) * 512;
        let gt = u64::from(le32(b, gd)) * 512;
        let past = (b.len() as u32 / 512) + 100_000;
        b[gt as usize..gt as usize + 4].copy_from_slice(&past.to_le_bytes());
        gt
    });
    // qemu-img check stops at the first such grain, with an error and no JSON.
    let q = Command::new("qemu-img")
        .args(["check", "-f", "vmdk"])
        .arg(&img)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&q.stderr);
    assert!(
        said.contains("points after EOF"),
        "grain.vmdk: qemu-img check said {said}"
    );
    let bad = s.join("footer.vhd");
    let r = recover([Path::new("check"), &vpc, &bad, Path::new("--json")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let images = r.json()["images"].clone();
    let states: Vec<(&str, bool)> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap(),
                i["consistent"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("d0/vhd", true), ("d1/vhd", false)], "{images:#}");
    // VMDK: the redundant directory's first table differs from the primary's.
    damaged("rgd.vmdk", "vmdk", &|b| {
        let rgd = le64(b, 48) * 512;
        let gt = u64::from(le32(b, rgd)) * 512;
        let e = le32(b, gt + 8);
        b[gt as usize + 8..gt as usize + 12].copy_from_slice(&(e ^ 0x10).to_le_bytes());
        gt
    });
}
