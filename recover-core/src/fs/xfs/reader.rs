//! Reading files from xfs (not written yet).

use crate::error::{Error, Result};
use crate::fs::FileSystemRef;
use crate::io::VolumeRef;

/// Opens the xfs filesystem on `vol`.
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    Err(Error::Unsupported {
        layer: vol.describe(),
        what: "reading files from xfs".into(),
    })
}
