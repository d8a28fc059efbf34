//! File descriptors: VMFS's inodes, resources of `.fdc.sf`. A descriptor
//! is a lock block (its first field after the type, at 0x04, is the
//! descriptor's own volume offset), the metadata (`FS3_FileMetadata`, at
//! [`Geometry::meta_at`]), and either resident data or the block pointer
//! array that the zero-level address type says how to read.
//!
//! Metadata offsets (as dissect.vmfs's `c_vmfs.py` lays it out): descAddr
//! 0x00, generation 0x04, linkCount 0x08, type 0x0c, flags 0x10,
//! fileLength 0x14 (u64), blockSize 0x1c (u64), numBlocks 0x24 (u64),
//! mtime 0x2c, ctime 0x30, atime 0x34, uid 0x38, gid 0x3c, mode 0x40,
//! zeroLevelAddrType 0x44, blockOffsetShift 0x89 (u8).

#![deny(clippy::indexing_slicing)]

use crate::bytes::Bytes;
use crate::error::{Error, Result};

use super::descriptor::Geometry;

/// Descriptor types (`FS3_DescriptorType`).
pub mod types {
    /// A directory.
    pub const DIRECTORY: u32 = 2;
    /// A regular file.
    pub const REGFILE: u32 = 3;
    /// A symbolic link.
    pub const SYMLINK: u32 = 4;
    /// A system file (`.fdc.sf`, ...; `.sdd.sf` is a directory).
    pub const SYSFILE: u32 = 5;
    /// A raw device mapping: the data is on another LUN.
    pub const RDM: u32 = 6;
}

/// How the pointer array is read (`zeroLevelAddrType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zla {
    /// Each pointer addresses a file block (or sub-block) of the file.
    Direct,
    /// Each pointer addresses a pointer block of file block addresses.
    Indirect,
    /// Each pointer addresses a pointer block of pointer block addresses.
    DoubleIndirect,
    /// The data is in the descriptor.
    Resident,
}

impl Zla {
    fn from_raw(v: u32) -> Option<Zla> {
        Some(match v {
            1 | 2 => Zla::Direct,
            3 | 5 => Zla::Indirect,
            0x10D0 => Zla::DoubleIndirect,
            0x10D1 => Zla::Resident,
            _ => return None,
        })
    }
}

/// A parsed file descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fd {
    /// Its address (what directory entries name).
    pub addr: u32,
    /// Its type ([`types`]).
    pub kind: u32,
    /// Hard links.
    pub links: u32,
    /// Length in bytes.
    pub size: u64,
    /// Its block size and log2 (file offsets to pointer indexes).
    pub block_size: u64,
    /// See `block_size`.
    pub block_shift: u32,
    /// Blocks allocated.
    pub blocks_allocated: u64,
    /// Times, seconds since the epoch.
    pub mtime: u32,
    /// See `mtime`.
    pub ctime: u32,
    /// See `mtime`.
    pub atime: u32,
    /// Owner and group.
    pub uid: u32,
    /// See `uid`.
    pub gid: u32,
    /// Mode bits as stored (the type bits only for directories).
    pub mode: u32,
    /// How the pointers are read; `None` for an empty address type.
    pub zla: Option<Zla>,
    /// The raw type, for messages.
    pub zla_raw: u32,
    /// The pointer array (empty for resident files).
    pub pointers: Vec<u64>,
    /// The resident data area (resident files, symlinks, RDM mappings).
    pub data: Vec<u8>,
}

/// What a descriptor is, as `FileKind` says it.
pub fn unix_mode(fd: &Fd) -> u32 {
    if fd.mode & 0o170000 != 0 {
        return fd.mode;
    }
    let t = match fd.kind {
        types::DIRECTORY => 0o040000,
        types::SYMLINK => 0o120000,
        types::SYSFILE if fd.mode & 0o040000 != 0 => 0o040000,
        _ => 0o100000,
    };
    fd.mode | t
}

/// Parses the descriptor at address `addr` from its `g.fd_size` bytes
/// `raw`. Errors name offsets within the descriptor.
pub fn parse(raw: &[u8], addr: u32, g: &Geometry) -> Result<Fd> {
    const S: &str = "VMFS file descriptor";
    let m = Bytes(raw.get(g.meta_at..).unwrap_or(&[]));
    let at = |o: usize| (g.meta_at + o) as u64;
    let short = || Error::corrupt(S, at(0), "cut short");
    let stored = m.le_u32(0x00).ok_or_else(short)?;
    if stored != addr {
        return Err(Error::corrupt(
            S,
            at(0),
            format!("holds descriptor {stored:#x}, not {addr:#x} (free or overwritten)"),
        ));
    }
    let zla_raw = m.le_u32(0x44).ok_or_else(short)?;
    let mut fd = Fd {
        addr,
        kind: m.le_u32(0x0c).ok_or_else(short)?,
        links: m.le_u32(0x08).ok_or_else(short)?,
        size: m.le_u64(0x14).ok_or_else(short)?,
        block_size: m.le_u64(0x1c).ok_or_else(short)?,
        block_shift: u32::from(m.u8(0x89).ok_or_else(short)?),
        blocks_allocated: m.le_u64(0x24).ok_or_else(short)?,
        mtime: m.le_u32(0x2c).ok_or_else(short)?,
        ctime: m.le_u32(0x30).ok_or_else(short)?,
        atime: m.le_u32(0x34).ok_or_else(short)?,
        uid: m.le_u32(0x38).ok_or_else(short)?,
        gid: m.le_u32(0x3c).ok_or_else(short)?,
        mode: m.le_u32(0x40).ok_or_else(short)?,
        zla: Zla::from_raw(zla_raw),
        zla_raw,
        pointers: Vec::new(),
        data: Vec::new(),
    };
    if fd.zla.is_none() && zla_raw != 0 {
        return Err(Error::corrupt(
            S,
            at(0x44),
            format!("zero-level address type {zla_raw:#x} is none VMFS writes"),
        ));
    }
    // Older versions left the shift zero: it follows from the block size.
    if fd.block_shift == 0 && fd.block_size.is_power_of_two() {
        fd.block_shift = fd.block_size.trailing_zeros();
    }
    if fd.zla.is_some_and(|z| z != Zla::Resident)
        && (!(9..=40).contains(&fd.block_shift) || fd.block_size != 1u64 << fd.block_shift)
    {
        return Err(Error::corrupt(
            S,
            at(0x1c),
            format!(
                "block size {} does not match its shift {}",
                fd.block_size, fd.block_shift
            ),
        ));
    }
    fd.data = raw
        .get(g.data_at..g.data_at + g.data_len) // ok: get
        .ok_or_else(short)?
        .to_vec();
    if fd.zla.is_some_and(|z| z != Zla::Resident) {
        let p = raw
            .get(g.addrs_at..g.addrs_at + g.addrs * g.addr_bytes) // ok: get
            .ok_or_else(short)?;
        fd.pointers = p
            .chunks_exact(g.addr_bytes)
            .map(|c| {
                let mut w = [0u8; 8];
                w.get_mut(..c.len()).unwrap_or(&mut []).copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
    }
    Ok(fd)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(super) mod tests {
    use super::*;
    use crate::fs::vmfs::descriptor;

    /// A VMFS5 geometry for tests.
    pub fn g5() -> Geometry {
        let mut b = vec![0u8; descriptor::LEN];
        b[0..4].copy_from_slice(&descriptor::MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&14u32.to_le_bytes());
        b[0xa1..0xa9].copy_from_slice(&(1u64 << 20).to_le_bytes());
        b[0xd5..0xd9].copy_from_slice(&16u32.to_le_bytes());
        b[0xd9..0xdd].copy_from_slice(&8192u32.to_le_bytes());
        descriptor::parse(&b).unwrap().unwrap().geometry()
    }

    /// A VMFS5 descriptor of `kind` and `zla` with `ptrs`.
    pub fn raw5(addr: u32, kind: u32, zla: u32, size: u64, ptrs: &[u32]) -> Vec<u8> {
        let mut r = vec![0u8; 2048];
        let m = 512;
        r[m..m + 4].copy_from_slice(&addr.to_le_bytes());
        r[m + 0xc..m + 0x10].copy_from_slice(&kind.to_le_bytes());
        r[m + 0x14..m + 0x1c].copy_from_slice(&size.to_le_bytes());
        r[m + 0x1c..m + 0x24].copy_from_slice(&(1u64 << 20).to_le_bytes());
        r[m + 0x44..m + 0x48].copy_from_slice(&zla.to_le_bytes());
        r[m + 0x89] = 20;
        for (i, p) in ptrs.iter().enumerate() {
            r[1024 + 4 * i..1028 + 4 * i].copy_from_slice(&p.to_le_bytes());
        }
        r
    }

    #[test]
    fn parses_and_checks() {
        let g = g5();
        let fd = parse(&raw5(0x4, types::DIRECTORY, 1, 4096, &[0x41]), 0x4, &g).unwrap();
        assert_eq!(fd.pointers.len(), 256);
        assert_eq!(fd.pointers[0], 0x41);
        assert_eq!(unix_mode(&fd) & 0o170000, 0o040000);
        // Another descriptor's bytes, or a free slot, are damage.
        assert!(parse(&raw5(0x4, 3, 1, 0, &[]), 0x400004, &g).is_err());
        assert!(parse(&raw5(0x4, 3, 0x99, 0, &[]), 0x4, &g).is_err());
        assert!(parse(&[0u8; 100], 0, &g).is_err());
        let mut r = raw5(0x4, 3, 1, 0, &[]);
        r[512 + 0x89] = 3;
        assert!(parse(&r, 0x4, &g).is_err());
    }
}
