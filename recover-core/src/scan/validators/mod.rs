//! The validators of the signature table, by family. Each checks the
//! structure around a magic and says where the thing it belongs to starts,
//! how large it is, and how sure the checks make it.

#![deny(clippy::indexing_slicing)]

pub mod containers;
pub mod filesystems;
pub mod images;
pub mod tables;

use crate::io::{bytes_at, Volume};

/// Bytes of the volume, or `None` past its end or on a read error: the
/// validators only ever look, and a failed look is a failed check.
pub(crate) fn peek(vol: &dyn Volume, at: u64, len: usize) -> Option<Vec<u8>> {
    bytes_at(vol, at, len).ok().map(|c| c.into_owned())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use crate::io::{MemVolume, VolumeRef};
    use crate::scan::signature::{Context, Validator};
    use crate::scan::Finding;

    fn run(v: Validator, bytes: Vec<u8>) -> Option<Finding> {
        let vol: VolumeRef = Arc::new(MemVolume::new("t", bytes.clone()));
        v(&Context {
            vol: &vol,
            at: 0,
            bytes: &bytes,
        })
    }

    /// Found by the scan_ntfs fuzz target: 0xE0 sectors per cluster means
    /// 2^32 sectors, past a u32.
    #[test]
    fn ntfs_cluster_exponent_past_32_bits() {
        let mut b = vec![0u8; 512];
        b[3..11].copy_from_slice(b"NTFS    ");
        b[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        b[0x0D] = 0xE0;
        b[0x28] = 1;
        b[0x1FE..].copy_from_slice(&[0x55, 0xAA]);
        let _ = run(super::filesystems::ntfs, b);
    }

    /// Found by the scan_md fuzz target: a data offset and size at the
    /// top of the u64 range overflowed the member's size.
    #[test]
    fn md_data_area_past_u64() {
        let mut sb = vec![0u8; 4096];
        sb[0..4].copy_from_slice(&crate::raid::md::MAGIC.to_le_bytes());
        sb[4..8].copy_from_slice(&1u32.to_le_bytes());
        for off in [128, 136] {
            sb[off..off + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        }
        let f = run(super::containers::md, sb).expect("an md superblock");
        assert_eq!(f.size, None);
    }
}
