//! The VMFS filesystem descriptor (the superblock), at 2 MiB of the LVM
//! volume, and the geometry every other structure is found by.
//!
//! Field offsets (little-endian, packed; `FS3_Descriptor` as dissect.vmfs's
//! `c_vmfs.py` documents vmfs3.ko's use of it): magic 0x00 (0x2fabf15e,
//! VMFS-L 0x2fabf15f), majorVersion 0x04 (14 for VMFS5, 24 for VMFS6),
//! minorVersion 0x08 (u8), UUID 0x09, config 0x19, label 0x1d (128 bytes),
//! diskBlockSize 0x9d, fileBlockSize 0xa1 (u64), creationTime 0xa9,
//! fdcClusterGroupOffset 0xd1, fdcClustersPerGroup 0xd5, subBlockSize
//! 0xd9, pb2VolAddr 0xe1 (u64), pb2FDAddr 0xe9, sddVolAddr 0x105 (u64),
//! sddFDAddr 0x10d, mdAlignment 0x134, sfbToLfbShift 0x138 (u16).

#![deny(clippy::indexing_slicing)]

use crate::bytes::{padded_str, Bytes};
use crate::error::{Error, Result};

use super::lvm::vmfs_uuid;

/// Where the descriptor sits in the volume.
pub const OFFSET: u64 = 0x20_0000;
/// Bytes of it that are read.
pub const LEN: usize = 0x200;
/// The magic of a VMFS volume.
pub const MAGIC: u32 = 0x2fab_f15e;
/// The magic of a VMFS-L volume (ESXi's own system partitions).
pub const MAGIC_L: u32 = 0x2fab_f15f;
/// Major versions from here on are VMFS6.
const VMFS6_MAJOR: u32 = 24;
/// config: sub-block addresses carry two more resource bits.
const DENSE_SBPC: u32 = 0x4;

const STRUCTURE: &str = "VMFS descriptor";

/// The descriptor's fields that reading needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// VMFS-L rather than VMFS.
    pub local: bool,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u8,
    /// The filesystem UUID.
    pub uuid: String,
    /// Configuration flags.
    pub config: u32,
    /// The datastore's label.
    pub label: Option<String>,
    /// File block size (VMFS6: the small file block).
    pub file_block_size: u64,
    /// Creation, seconds since the epoch.
    pub creation_time: u32,
    /// Where the file descriptors' first cluster group starts, and its size
    /// in clusters (to find the system files before their map is known).
    pub fdc_group_offset: u32,
    /// See `fdc_group_offset`.
    pub fdc_clusters_per_group: u32,
    /// Sub-block size.
    pub sub_block_size: u32,
    /// Where `.pb2.sf`'s descriptor is when not where the others are.
    pub pb2_vol_addr: u64,
    /// `.pb2.sf`'s descriptor address.
    pub pb2_fd_addr: u32,
    /// Where `.sdd.sf`'s descriptor is, likewise.
    pub sdd_vol_addr: u64,
    /// `.sdd.sf`'s descriptor address.
    pub sdd_fd_addr: u32,
    /// Metadata alignment (VMFS6: the size of a descriptor's half).
    pub md_alignment: u32,
    /// log2 of large file block over small file block (VMFS6).
    pub sfb_to_lfb_shift: u16,
}

impl Descriptor {
    /// VMFS6 (and 6L) rather than VMFS5 or earlier.
    pub fn vmfs6(&self) -> bool {
        self.major >= VMFS6_MAJOR
    }

    /// Sub-block addresses use the dense encoding.
    pub fn dense_sub_blocks(&self) -> bool {
        self.config & DENSE_SBPC != 0
    }

    /// The format name: vmfs5 or vmfs6 (VMFS-L shows as a detail).
    pub fn format(&self) -> &'static str {
        if self.vmfs6() {
            "vmfs6"
        } else {
            "vmfs5"
        }
    }
}

fn bad(field: usize, detail: impl Into<String>) -> Error {
    Error::corrupt(STRUCTURE, OFFSET + field as u64, detail)
}

fn pow2_in(v: u64, lo: u64, hi: u64) -> bool {
    v.is_power_of_two() && (lo..=hi).contains(&v)
}

/// Parses the descriptor from its first [`LEN`] bytes. `None` when the
/// magic is not there; an error naming the field when it is, but the
/// sizes that everything else is found by are impossible.
pub fn parse(b: &[u8]) -> Option<Result<Descriptor>> {
    let b = Bytes(b);
    let magic = b.le_u32(0)?;
    if magic != MAGIC && magic != MAGIC_L {
        return None;
    }
    Some(parse_fields(b, magic))
}

fn parse_fields(b: Bytes, magic: u32) -> Result<Descriptor> {
    let short = || bad(0, "the descriptor is cut short");
    let d = Descriptor {
        local: magic == MAGIC_L,
        major: b.le_u32(0x04).ok_or_else(short)?,
        minor: b.u8(0x08).ok_or_else(short)?,
        uuid: vmfs_uuid(&b.array(0x09).ok_or_else(short)?),
        config: b.le_u32(0x19).ok_or_else(short)?,
        label: b.get(0x1d, 128).and_then(padded_str),
        file_block_size: b.le_u64(0xa1).ok_or_else(short)?,
        creation_time: b.le_u32(0xa9).ok_or_else(short)?,
        fdc_group_offset: b.le_u32(0xd1).ok_or_else(short)?,
        fdc_clusters_per_group: b.le_u32(0xd5).ok_or_else(short)?,
        sub_block_size: b.le_u32(0xd9).ok_or_else(short)?,
        pb2_vol_addr: b.le_u64(0xe1).ok_or_else(short)?,
        pb2_fd_addr: b.le_u32(0xe9).ok_or_else(short)?,
        sdd_vol_addr: b.le_u64(0x105).ok_or_else(short)?,
        sdd_fd_addr: b.le_u32(0x10d).ok_or_else(short)?,
        md_alignment: b.le_u32(0x134).ok_or_else(short)?,
        sfb_to_lfb_shift: b.le_u16(0x138).ok_or_else(short)?,
    };
    if !(3..=64).contains(&d.major) {
        return Err(bad(4, format!("major version {} is not 3 to 64", d.major)));
    }
    if !pow2_in(d.file_block_size, 4096, 1 << 30) {
        return Err(bad(
            0xa1,
            format!(
                "file block size {} is not a power of two in 4 KiB..=1 GiB",
                d.file_block_size
            ),
        ));
    }
    if !pow2_in(u64::from(d.sub_block_size), 512, 1 << 20) {
        return Err(bad(
            0xd9,
            format!(
                "sub-block size {} is not a power of two in 512..=1 MiB",
                d.sub_block_size
            ),
        ));
    }
    if d.vmfs6() {
        if !pow2_in(u64::from(d.md_alignment), 1024, 1 << 20) {
            return Err(bad(
                0x134,
                format!(
                    "metadata alignment {} is not a power of two in 1 KiB..=1 MiB",
                    d.md_alignment
                ),
            ));
        }
        if d.sfb_to_lfb_shift > 16 {
            return Err(bad(
                0x138,
                format!("large file blocks of 2^{} small ones", d.sfb_to_lfb_shift),
            ));
        }
    }
    if d.fdc_clusters_per_group == 0 || d.fdc_clusters_per_group > 1 << 20 {
        return Err(bad(
            0xd5,
            format!("{} descriptor clusters per group", d.fdc_clusters_per_group),
        ));
    }
    Ok(d)
}

/// Where a version keeps the parts of a file descriptor, and how big its
/// pointer blocks are (vmfs3.ko's Vol3OpenStage1VMFS5 and ...VMFS6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// VMFS6.
    pub vmfs6: bool,
    /// A whole descriptor: the lock block, the metadata, the data.
    pub fd_size: usize,
    /// Where the metadata (`FS3_FileMetadata`) starts in it.
    pub meta_at: usize,
    /// Where resident data starts, and how much fits.
    pub data_at: usize,
    /// See `data_at`.
    pub data_len: usize,
    /// Where the block pointer array starts, and how many pointers it has.
    pub addrs_at: usize,
    /// See `addrs_at`.
    pub addrs: usize,
    /// Bytes a pointer takes: 4 (VMFS5) or 8 (VMFS6).
    pub addr_bytes: usize,
    /// log2 of the pointers in a pointer block.
    pub ptr_shift: u32,
    /// File block size and its log2.
    pub file_block: u64,
    /// See `file_block`.
    pub fb_shift: u32,
    /// Sub-block size and its log2.
    pub sub_block: u64,
    /// See `sub_block`.
    pub sb_shift: u32,
    /// log2 of the large file block (VMFS6).
    pub lfb_shift: u32,
    /// Small file blocks per cluster before `.fbb.sf` says (VMFS6).
    pub sfb_per_cluster: u64,
    /// Size of one cluster's lock and metadata header in resource files.
    pub cluster_header: u64,
    /// Sub-block addresses use the dense encoding (VMFS5).
    pub dense: bool,
}

impl Descriptor {
    /// The geometry this descriptor implies (its sizes already checked).
    pub fn geometry(&self) -> Geometry {
        let fb_shift = self.file_block_size.trailing_zeros();
        let sb_shift = self.sub_block_size.trailing_zeros();
        if !self.vmfs6() {
            // A 512-byte lock, 512 bytes of metadata, 1 KiB holding either
            // resident data or 256 32-bit pointers; pointer blocks of 1024.
            return Geometry {
                vmfs6: false,
                fd_size: 2048,
                meta_at: 512,
                data_at: 1024,
                data_len: 1024,
                addrs_at: 1024,
                addrs: 256,
                addr_bytes: 4,
                ptr_shift: 10,
                file_block: self.file_block_size,
                fb_shift,
                sub_block: u64::from(self.sub_block_size),
                sb_shift,
                lfb_shift: fb_shift,
                sfb_per_cluster: 0,
                cluster_header: 1024,
                dense: self.dense_sub_blocks(),
            };
        }
        // Two metadata blocks: the lock, then the metadata with resident
        // data after its 512 bytes; the 64-bit pointers end the second.
        let md = self.md_alignment as usize; // ok: checked <= 1 MiB
        let (addrs_len, addrs) = if md <= 0x1000 {
            (2560, 320)
        } else {
            (md / 2, md / 16)
        };
        let ptrs: u64 = if md < 0x10000 { 8192 } else { md as u64 / 8 };
        Geometry {
            vmfs6: true,
            fd_size: 2 * md,
            meta_at: md,
            data_at: md + 512,
            data_len: md - 512,
            addrs_at: 2 * md - addrs_len,
            addrs,
            addr_bytes: 8,
            ptr_shift: ptrs.trailing_zeros(),
            file_block: self.file_block_size,
            fb_shift,
            sub_block: u64::from(self.sub_block_size),
            sb_shift,
            lfb_shift: fb_shift + u32::from(self.sfb_to_lfb_shift),
            sfb_per_cluster: (0x2000u64).min(0x2000_0000 / self.file_block_size),
            cluster_header: 2 * md as u64,
            dense: false,
        }
    }

    /// Where the descriptor of system file `resource` (of cluster 0) sits
    /// in the volume, found before `.fdc.sf` can be read (vmfs3.ko's
    /// Res3_GetSFDOffset): past the first cluster group's headers.
    pub fn system_fd_offset(&self, address: u32, resource: u64) -> Option<u64> {
        let cpg = u64::from(self.fdc_clusters_per_group);
        let cg = u64::from(self.fdc_group_offset);
        if self.vmfs6() {
            let md = u64::from(self.md_alignment);
            let base = ((md << 10) + 0x3F_FFFF) & !0xF_FFFF;
            let rs = 2 * md;
            return base
                .checked_add(cg)?
                .checked_add(cpg * rs)?
                .checked_add(resource * rs);
        }
        if !self.dense_sub_blocks() {
            if address == self.pb2_fd_addr && self.pb2_vol_addr != 0 {
                return Some(self.pb2_vol_addr);
            }
            if address == self.sdd_fd_addr && self.sdd_vol_addr != 0 {
                return Some(self.sdd_vol_addr);
            }
        }
        let fbs = self.file_block_size;
        let base = fbs.checked_mul(fbs.checked_add(0x3F_FFFF)? / fbs)?;
        base.checked_add(cg)?
            .checked_add(cpg * 1024)?
            .checked_add(resource << 11)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn raw(major: u32, fbs: u64, md: u32) -> Vec<u8> {
        let mut b = vec![0u8; LEN];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&major.to_le_bytes());
        b[0x1d..0x21].copy_from_slice(b"test");
        b[0xa1..0xa9].copy_from_slice(&fbs.to_le_bytes());
        b[0xd5..0xd9].copy_from_slice(&16u32.to_le_bytes());
        b[0xd9..0xdd].copy_from_slice(&65536u32.to_le_bytes());
        b[0x134..0x138].copy_from_slice(&md.to_le_bytes());
        b
    }

    #[test]
    fn versions_and_geometry() {
        let d5 = parse(&raw(14, 1 << 20, 0)).unwrap().unwrap();
        assert_eq!(d5.format(), "vmfs5");
        assert_eq!(d5.label.as_deref(), Some("test"));
        let g = d5.geometry();
        assert_eq!((g.fd_size, g.addrs, g.ptr_shift), (2048, 256, 10));
        let d6 = parse(&raw(24, 1 << 20, 4096)).unwrap().unwrap();
        let g = d6.geometry();
        assert_eq!(d6.format(), "vmfs6");
        assert_eq!(
            (g.fd_size, g.meta_at, g.data_at, g.addrs_at),
            (8192, 4096, 4608, 5632)
        );
        assert_eq!((g.addrs, g.ptr_shift, g.sfb_per_cluster), (320, 13, 512));
        let g = parse(&raw(24, 1 << 20, 0x10000))
            .unwrap()
            .unwrap()
            .geometry();
        assert_eq!((g.addrs, g.ptr_shift), (4096, 13));
    }

    #[test]
    fn impossible_sizes_are_named() {
        assert!(parse(&[0u8; LEN]).is_none());
        let e = parse(&raw(14, 3000, 0)).unwrap().unwrap_err();
        assert!(e.to_string().contains("file block size"), "{e}");
        assert!(parse(&raw(24, 1 << 20, 100)).unwrap().is_err());
        assert!(parse(&raw(14, 1 << 20, 0)[..0x100]).unwrap().is_err());
    }
}
