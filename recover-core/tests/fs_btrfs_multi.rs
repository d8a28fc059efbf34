//! Multi-device Btrfs made by the kernel over loop devices, one
//! filesystem per profile (single, DUP metadata, RAID0, RAID1, RAID1C3,
//! RAID1C4, RAID10, RAID5, RAID6, and RAID1 with BLAKE2b checksums), read
//! complete and with devices left out as far as the profile's redundancy
//! allows: every file's SHA-256 and size and every symlink's target equal
//! the kernel's. Without redundancy, the files on the missing device fail
//! with an error naming it and the rest come out. A damaged data sector
//! on one copy is read from the other copy (or rebuilt from parity) and
//! reported with its logical and device position.

use std::path::Path;

use fixtures::btrfs_multi::{btrfs_multi, layout_named, Built};
use fixtures::tree::sha256;
use recover_core::error::Result;
use recover_core::fs::btrfs::reader::Btrfs;
use recover_core::fs::filesystem::FileSystem;
use recover_core::fs::{lookup, FileKind};
use recover_core::io::{open_source, MapPolicy, Origin, Volume, VolumeRef};

fn volume(p: &Path) -> VolumeRef {
    open_source(p, MapPolicy::Auto).expect("open image").volume
}

/// The filesystem over the devices of `b` but those (0-based) in `out`.
fn try_open_without(b: &Built, out: &[usize]) -> Result<Btrfs> {
    let vols = b
        .devices
        .iter()
        .enumerate()
        .filter(|(i, _)| !out.contains(i))
        .map(|(_, p)| volume(p))
        .collect();
    Btrfs::open_devices(vols)
}

fn open_without(b: &Built, out: &[usize]) -> Btrfs {
    try_open_without(b, out).expect("open the filesystem")
}

fn read_all(fs: &dyn FileSystem, id: u64) -> Result<Vec<u8>> {
    let v = fs.open(id)?;
    let mut buf = vec![0u8; v.len() as usize];
    v.read_at(0, &mut buf)?;
    Ok(buf)
}

/// Compares every manifest entry; wrong bytes always fail the test, an
/// error is returned (path and message) for the caller to judge.
fn compare(fs: &dyn FileSystem, b: &Built) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for e in &b.manifest {
        let id = match lookup(fs, &e.path) {
            Ok(id) => id,
            Err(err) => {
                errors.push((e.path.clone(), err.to_string()));
                continue;
            }
        };
        let st = match fs.stat(id) {
            Ok(s) => s,
            Err(err) => {
                errors.push((e.path.clone(), err.to_string()));
                continue;
            }
        };
        assert_eq!(st.kind().as_str(), e.kind, "{}", e.path);
        match e.kind {
            "file" => {
                assert_eq!(st.size, e.size, "size of {}", e.path);
                match read_all(fs, id) {
                    Ok(data) => assert_eq!(sha256(&data), e.digest, "contents of {}", e.path),
                    Err(err) => errors.push((e.path.clone(), err.to_string())),
                }
            }
            "symlink" => {
                let t = fs.read_link(id).expect("read_link");
                assert_eq!(String::from_utf8(t).expect("utf-8"), e.digest, "{}", e.path);
            }
            _ => assert_eq!(st.kind(), FileKind::Dir),
        }
    }
    errors
}

/// Every way of leaving out up to `r` devices that the test reads: each
/// single device, and for more redundancy the first and the last `r`.
fn degradations(n: usize, r: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if r >= 1 {
        out.extend((0..n).map(|i| vec![i]));
    }
    if r >= 2 {
        out.push((0..r).collect());
        out.push((n - r..n).collect());
    }
    out
}

fn profile(name: &str, test: &str) {
    let l = layout_named(name);
    let Some(b) = btrfs_multi(&l, test) else {
        return;
    };
    assert!(b.manifest.len() > 25, "{} entries", b.manifest.len());
    // Complete: everything, no damage, every device listed.
    let fs = open_without(&b, &[]);
    assert_eq!(compare(&fs, &b), vec![], "{name} complete");
    assert!(fs.problems().is_empty(), "{name}: {:?}", fs.problems());
    assert_eq!(fs.devices().len(), l.devices);
    assert!(fs.devices().iter().all(|d| d.found.is_some()));
    for out in degradations(l.devices, l.redundancy) {
        let fs = open_without(&b, &out);
        let missing: Vec<u64> = fs
            .devices()
            .iter()
            .filter(|d| d.found.is_none())
            .map(|d| d.devid)
            .collect();
        assert_eq!(
            missing,
            out.iter().map(|&i| i as u64 + 1).collect::<Vec<_>>(),
            "{name}: the missing devids are named"
        );
        assert!(fs
            .problems()
            .iter()
            .any(|p| p.detail.contains("missing: devid")));
        assert_eq!(compare(&fs, &b), vec![], "{name} without devices {out:?}");
        if matches!(name, "raid5" | "raid6") {
            let id = lookup(&fs, "big-random.bin").unwrap();
            let v = fs.open(id).unwrap();
            assert!(
                !v.origins(0, v.len()).of(Origin::Parity).is_empty(),
                "{name} without {out:?}: rebuilt bytes are named parity"
            );
        }
    }
    if l.redundancy == 0 {
        // The last device out: its files fail, named; the rest come out.
        let last = l.devices - 1;
        let fs = match try_open_without(&b, &[last]) {
            Ok(fs) => fs,
            // Metadata kept on that device alone (DUP): the filesystem
            // cannot be read, and the error says why.
            Err(e) => {
                assert!(
                    e.to_string().contains(&format!("devid {}", last + 1)),
                    "{name}: {e}"
                );
                return;
            }
        };
        let errors = compare(&fs, &b);
        let files = b.manifest.iter().filter(|e| e.kind == "file").count();
        assert!(errors.len() < files, "{name}: some files come out");
        for (path, e) in &errors {
            assert!(
                e.contains(&format!("devid {}", last + 1)),
                "{name}: {path}: {e}"
            );
        }
        if name == "raid0" {
            assert!(!errors.is_empty(), "RAID0 loses the striped files");
        }
    }
}

#[test]
fn single() {
    profile("single", "single");
}

#[test]
fn dup() {
    profile("dup", "dup");
}

#[test]
fn raid0() {
    profile("raid0", "raid0");
}

#[test]
fn raid1() {
    profile("raid1", "raid1");
}

#[test]
fn raid1c3() {
    profile("raid1c3", "raid1c3");
}

#[test]
fn raid1c4() {
    profile("raid1c4", "raid1c4");
}

#[test]
fn raid10() {
    profile("raid10", "raid10");
}

#[test]
fn raid5() {
    profile("raid5", "raid5");
}

#[test]
fn raid6() {
    profile("raid6", "raid6");
}

#[test]
fn blake2() {
    profile("blake2", "blake2");
}

/// A volume with some bytes overwritten.
#[derive(Debug)]
struct Patched {
    base: VolumeRef,
    at: u64,
    bytes: Vec<u8>,
}

impl Volume for Patched {
    fn len(&self) -> u64 {
        self.base.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.base.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (k, b) in self.bytes.iter().enumerate() {
            let p = self.at + k as u64;
            if p >= offset && p < end {
                buf[(p - offset) as usize] = *b;
            }
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("patched {}", self.base.describe())
    }
}

/// One sector of `big-random.bin` damaged on its first copy: the file
/// still comes out whole, read from the other copy (or the parity
/// rebuild), and the damage is reported with both positions.
fn damaged_copy(name: &str) {
    let l = layout_named(name);
    let Some(b) = btrfs_multi(&l, name) else {
        return;
    };
    let fs = open_without(&b, &[]);
    let id = lookup(&fs, "big-random.bin").unwrap();
    let logical = fs.logical_of(id, 1 << 20).unwrap().expect("stored plainly");
    let (devid, off) = fs.locate(logical, 0).unwrap();
    let vols: Vec<VolumeRef> = b
        .devices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = volume(p);
            if i as u64 + 1 == devid {
                std::sync::Arc::new(Patched {
                    base: v,
                    at: off,
                    bytes: vec![0x5a; 4096],
                })
            } else {
                v
            }
        })
        .collect();
    let fs = Btrfs::open_devices(vols).unwrap();
    let id = lookup(&fs, "big-random.bin").unwrap();
    let want = b
        .manifest
        .iter()
        .find(|e| e.path == "big-random.bin")
        .unwrap();
    let v = fs.open(id).unwrap();
    let mut data = vec![0u8; v.len() as usize];
    v.read_at(0, &mut data).unwrap();
    assert_eq!(
        sha256(&data),
        want.digest,
        "{name}: read from the good copy"
    );
    let p = fs.problems();
    let hit = p
        .iter()
        .find(|p| p.structure == "Btrfs data checksum")
        .unwrap_or_else(|| panic!("{name}: the damage is reported: {p:?}"));
    assert!(
        hit.detail.contains(&format!("logical {logical:#x}"))
            && hit
                .detail
                .contains(&format!("devid {devid} offset {off:#x}"))
            && hit.detail.contains("read instead from"),
        "{name}: {}",
        hit.detail
    );
    let rebuilt = if l.data == "raid5" || l.data == "raid6" {
        "rebuilt from parity"
    } else {
        "devid "
    };
    assert!(hit.detail.contains(rebuilt), "{}", hit.detail);
    assert!(
        !v.origins(0, v.len()).of(Origin::Mirror).is_empty(),
        "{name}: the repaired sector is named mirror"
    );
}

#[test]
fn damaged_copy_raid1() {
    damaged_copy("raid1");
}

#[test]
fn damaged_copy_blake2() {
    damaged_copy("blake2");
}

#[test]
fn damaged_copy_raid5() {
    damaged_copy("raid5");
}

#[test]
fn damaged_copy_raid6() {
    damaged_copy("raid6");
}

/// The same device given twice is one device; a device of another
/// filesystem is left out, named.
#[test]
fn duplicates_and_strangers() {
    let (Some(a), Some(c)) = (
        btrfs_multi(&layout_named("raid1"), "duplicates_and_strangers"),
        btrfs_multi(&layout_named("raid10"), "duplicates_and_strangers"),
    ) else {
        return;
    };
    let mut vols: Vec<VolumeRef> = a.devices.iter().map(|p| volume(p)).collect();
    vols.push(volume(&a.devices[0]));
    vols.push(volume(&c.devices[0]));
    let fs = Btrfs::open_devices(vols).unwrap();
    assert_eq!(compare(&fs, &a), vec![]);
    let p = fs.problems();
    assert!(
        p.iter().any(|p| p.detail.contains("two copies of devid 1")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.detail.contains("another Btrfs filesystem")),
        "{p:?}"
    );
}

/// A damaged copy of a metadata leaf on RAID1 metadata: the other copy is
/// read, every file comes out, and the bad copy is named by its device.
#[test]
fn damaged_leaf_copy_raid1() {
    use recover_core::fs::btrfs::items::{Key, INODE_ITEM};
    use recover_core::fs::btrfs::reader::split_id;
    let Some(b) = btrfs_multi(&layout_named("raid1"), "damaged_leaf_copy_raid1") else {
        return;
    };
    let fs = open_without(&b, &[]);
    let (tree, ino) = split_id(lookup(&fs, "big-random.bin").unwrap());
    let (leaf, _) = fs.leaf_of(tree, Key::new(ino, INODE_ITEM, 0)).unwrap();
    let (devid, off) = fs.locate(leaf, 0).unwrap();
    let vols: Vec<VolumeRef> = b
        .devices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = volume(p);
            if i as u64 + 1 == devid {
                std::sync::Arc::new(Patched {
                    base: v,
                    at: off + 0x200,
                    bytes: vec![0xa5; 64],
                })
            } else {
                v
            }
        })
        .collect();
    let fs = Btrfs::open_devices(vols).unwrap();
    assert_eq!(compare(&fs, &b), vec![]);
    let p = fs.problems();
    assert!(
        p.iter().any(|p| p.structure == "Btrfs tree block"
            && p.detail.contains(&format!("devid {devid} offset {off:#x}"))
            && p.detail.contains("the next copy is read")),
        "{p:?}"
    );
}
