//! Reading files from ext2/3/4 (not written yet).

use crate::error::{Error, Result};
use crate::fs::{DirEntry, FileId, FileSystem, Stat};
use crate::io::VolumeRef;

/// An ext2/3/4 filesystem opened for reading.
#[derive(Debug)]
pub struct Ext4 {
    vol: VolumeRef,
}

impl Ext4 {
    /// Opens the filesystem on `vol`.
    pub fn open(vol: VolumeRef) -> Result<Ext4> {
        Err(Error::Unsupported {
            layer: vol.describe(),
            what: "reading files from ext4".into(),
        })
    }
}

impl FileSystem for Ext4 {
    fn format(&self) -> &'static str {
        "ext4"
    }
    fn root(&self) -> FileId {
        2
    }
    fn stat(&self, _id: FileId) -> Result<Stat> {
        Err(Error::Unsupported {
            layer: self.vol.describe(),
            what: "stat".into(),
        })
    }
    fn read_dir(&self, _dir: FileId) -> Result<Vec<DirEntry>> {
        Err(Error::Unsupported {
            layer: self.vol.describe(),
            what: "read_dir".into(),
        })
    }
    fn open(&self, _id: FileId) -> Result<VolumeRef> {
        Err(Error::Unsupported {
            layer: self.vol.describe(),
            what: "open".into(),
        })
    }
    fn read_link(&self, _id: FileId) -> Result<Vec<u8>> {
        Err(Error::Unsupported {
            layer: self.vol.describe(),
            what: "read_link".into(),
        })
    }
}
