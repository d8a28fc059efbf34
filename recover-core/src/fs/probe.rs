//! The filesystems' side of identification: the words come from the
//! neutral `ident` module (re-exported here) and the list of every
//! format's probe is the `registry`; this keeps what only filesystems need.

pub use crate::ident::{
    check_fits, corrupt, warn, Detail, Identified, ProbeFn, ProbeResult, Usage, HEAD_BYTES,
};
use crate::io::{bytes_up_to, Volume};

/// The filesystems that own sector 0 with a boot sector (FAT, NTFS, exFAT).
/// When one of these is at offset 0, the 0x55AA there is the boot sector's,
/// not an MBR's.
pub fn boot_sector_filesystem(vol: &dyn Volume) -> Option<Identified> {
    let head = bytes_up_to(vol, 0, 4096).ok()?;
    for probe in [
        super::ntfs::identify as ProbeFn,
        super::exfat::identify,
        super::fat::identify,
    ] {
        if let Some(Ok(id)) = probe(&head, vol) {
            return Some(id);
        }
    }
    None
}
