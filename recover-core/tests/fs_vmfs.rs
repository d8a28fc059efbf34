//! Damage in VMFS volumes made by ESXi (dissect.vmfs's `vmfs5` and
//! `vmfs6`): pointer blocks or a file descriptor overwritten fail only the
//! files that need them, with the structure and offset named; the rest
//! still reads.

use std::ops::Range;
use std::sync::Arc;

use recover_core::fs::vmfs::reader::Vmfs;
use recover_core::fs::vmfs::{lvm, span};
use recover_core::fs::{lookup, FileSystem};
use recover_core::io::{check_range, open_source, MapPolicy, Volume, VolumeRef};

/// A volume whose bytes in `bad` read as 0xFF: a pointer block area
/// overwritten.
struct Overwritten {
    inner: VolumeRef,
    bad: Vec<Range<u64>>,
}

impl Volume for Overwritten {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> recover_core::Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        self.inner.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for r in &self.bad {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s < e {
                buf[(s - offset) as usize..(e - offset) as usize].fill(0xFF);
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "overwritten".into()
    }
}

/// The sample's datastore volume, gathered from its device as discovery does.
fn datastore(name: &str) -> Option<VolumeRef> {
    let paths = fixtures::vmfs_samples::sample(name)?;
    let vol = open_source(&paths[0], MapPolicy::Never).unwrap().volume;
    let dev = lvm::read_device(vol.as_ref()).unwrap();
    let m = span::Member {
        path: name.into(),
        vol,
        dev,
    };
    let mut ds = span::gather(&[m]);
    assert_eq!(ds.len(), 1);
    assert!(ds[0].problems.is_empty());
    Some(ds.remove(0).volume)
}

fn read(fs: &Vmfs, path: &str, offset: u64, len: usize) -> recover_core::Result<Vec<u8>> {
    let id = lookup(fs, path)?;
    let v = fs.open(id)?;
    let mut b = vec![0u8; len];
    v.read_at(offset, &mut b)?;
    Ok(b)
}

#[test]
fn broken_pointer_blocks_fail_only_their_files() {
    let Some(vol) = datastore("vmfs5") else {
        return;
    };
    let fs = Vmfs::open(vol.clone()).unwrap();
    assert_eq!(
        read(&fs, "/large-flat.vmdk", 117 << 30, 512).unwrap(),
        vec![0x42; 512]
    );
    // Every block of .pbc.sf past its headers, overwritten.
    let pbc = lookup(&fs, "/.pbc.sf").unwrap();
    let size = fs.stat(pbc).unwrap().size;
    let mut bad = Vec::new();
    let mut off = 0;
    while off < size {
        if let Some(at) = fs.locate(pbc, off).unwrap() {
            let skip = if off == 0 { 0x10000 } else { 0 };
            bad.push(at + skip..at + (1 << 20));
        }
        off += 1 << 20;
    }
    assert!(!bad.is_empty());
    let broken = Arc::new(Overwritten {
        inner: vol.clone(),
        bad,
    });
    let fs = Vmfs::open(broken).unwrap();
    let e = read(&fs, "/large-flat.vmdk", 117 << 30, 512)
        .unwrap_err()
        .to_string();
    assert!(e.contains("VMFS") && e.contains("0x"), "{e}");
    let e = read(&fs, "/normal-flat.vmdk", 42 << 30, 512)
        .unwrap_err()
        .to_string();
    assert!(e.contains("VMFS"), "{e}");
    // Files of direct blocks, resident files and directories still read.
    assert_eq!(read(&fs, "/small", 0, 5).unwrap(), b"tiny\n");
    assert_eq!(read(&fs, "/bigger", 100 << 20, 4).unwrap(), vec![100; 4]);
    assert_eq!(fs.read_dir(fs.root()).unwrap().len(), 19);
    assert_eq!(read(&fs, "/directory/file7", 0, 7).unwrap(), b"File 7\n");
}

#[test]
fn a_descriptor_overwritten_fails_only_its_file() {
    let Some(vol) = datastore("vmfs6") else {
        return;
    };
    let fs = Vmfs::open(vol.clone()).unwrap();
    // Where `big`'s descriptor is: .fdc.sf's bytes at its resource.
    let big = lookup(&fs, "/big").unwrap();
    let fdc = lookup(&fs, "/.fdc.sf").unwrap();
    let fdc_len = fs.stat(fdc).unwrap().size;
    // Find the descriptor by its own address at the metadata's start.
    let md = 4096u64;
    let mut found = None;
    let mut off = 0;
    while off + 2 * md <= fdc_len && found.is_none() {
        if let Some(at) = fs.locate(fdc, off + md).unwrap() {
            let mut w = [0u8; 4];
            vol.read_at(at, &mut w).unwrap();
            if u64::from(u32::from_le_bytes(w)) == big {
                found = Some(at);
            }
        }
        off += 2 * md;
    }
    let at = found.expect("big's descriptor");
    let broken = Arc::new(Overwritten {
        inner: vol.clone(),
        bad: std::iter::once(at..at + md).collect(),
    });
    let fs = Vmfs::open(broken).unwrap();
    let e = fs.stat(big).unwrap_err().to_string();
    assert!(e.contains("file descriptor"), "{e}");
    assert_eq!(read(&fs, "/small", 0, 5).unwrap(), b"tiny\n");
    assert_eq!(read(&fs, "/bigger", 7 << 20, 4).unwrap(), vec![7; 4]);
}
