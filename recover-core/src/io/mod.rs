//! Sources and the volume layer: how bytes are read, and how volumes stack.

// Unsafe code is allowed here only, for statfs(2), to tell local filesystems (mapped) from FUSE and
// network ones (read); each block says why it is sound.
#![allow(unsafe_code)]

pub mod blocks;
pub mod concat;
pub mod ddrescue;
pub mod device;
pub mod ewf;
pub mod faults;
pub mod file;
pub mod origin;
pub mod salvage;
pub mod slice;
pub mod split;
pub mod volume;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

pub use blocks::{for_each_block, read_padded, LastBlock};
pub use concat::Concat;
pub use origin::{Gather, Origin, Origins};
pub use slice::Slice;
pub use volume::{bytes_at, bytes_up_to, check_range, MemVolume, Volume, VolumeRef, Zeros};

use crate::error::{Error, Result};
use device::PreadSource;
use file::MappedFile;
use salvage::Salvaging;

/// Whether image files may be memory-mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapPolicy {
    /// Map regular files on local disk filesystems; pread the rest.
    #[default]
    Auto,
    /// Never map: every source is read with pread and salvages bad sectors.
    Never,
}

/// How a source was opened, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file, memory-mapped.
    MappedFile,
    /// A regular file read with pread.
    File,
    /// A block device read with pread.
    BlockDevice,
    /// Numbered parts of a split raw image.
    Split {
        /// How many parts were joined.
        parts: usize,
    },
    /// An EWF (E01) image: its media data, and what it says about itself.
    Ewf(Arc<ewf::EwfInfo>),
}

/// An opened source: its volume and how it was opened.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user gave it.
    pub name: String,
    /// The bytes.
    pub volume: VolumeRef,
    /// How it is read.
    pub kind: SourceKind,
}

/// Opens `path` read-only as a volume named `path` as given.
pub fn open_source(path: &Path, policy: MapPolicy) -> Result<Source> {
    let name = path.display().to_string();
    let open_err = |detail: &str, e: Option<std::io::Error>| Error::Open {
        path: name.clone(),
        detail: match &e {
            Some(e) => format!("{detail}: {e}"),
            None => detail.to_string(),
        },
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(|e| open_err("cannot open", Some(e)))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(open_err("is a directory, not a disk image or device", None));
    }
    if ft.is_block_device() {
        let src = PreadSource::open(path, name.clone())
            .map_err(|e| open_err("cannot open block device", Some(e)))?;
        return Ok(Source {
            name,
            volume: Arc::new(Salvaging::new(src)),
            kind: SourceKind::BlockDevice,
        });
    }
    if !ft.is_file() {
        return Err(open_err(
            "is neither a regular file nor a block device",
            None,
        ));
    }
    if let Some(parts) = split::split_parts(path) {
        let mut vols = Vec::with_capacity(parts.len());
        for p in &parts {
            let part = open_file(p, p.display().to_string(), policy)
                .map_err(|e| open_err(&format!("cannot open part {}", p.display()), Some(e)))?;
            vols.push(part.0);
        }
        let n = vols.len();
        return Ok(Source {
            volume: Arc::new(Concat::new(vols, format!("{name}+{}", n - 1))),
            name,
            kind: SourceKind::Split { parts: n },
        });
    }
    let (volume, kind) =
        open_file(path, name.clone(), policy).map_err(|e| open_err("cannot open", Some(e)))?;
    // An EWF image is its media data, found by content; later segments by
    // name beside the first.
    if bytes_up_to(volume.as_ref(), 0, 16).is_ok_and(|h| ewf::is_ewf(&h)) {
        let opener = |n: &str| -> Result<Option<VolumeRef>> {
            let p = Path::new(n);
            if !p.is_file() {
                return Ok(None);
            }
            open_plain(p, policy).map(Some)
        };
        let e = ewf::open(volume, &name, &opener)?;
        return Ok(Source {
            name,
            volume: e.volume,
            kind: SourceKind::Ewf(Arc::new(e.info)),
        });
    }
    Ok(Source { name, volume, kind })
}

/// Opens a regular file as a volume named by its path, mapped or read as
/// `policy` says (the segments of an EWF set).
pub fn open_plain(path: &Path, policy: MapPolicy) -> Result<VolumeRef> {
    let name = path.display().to_string();
    open_file(path, name.clone(), policy)
        .map(|(v, _)| v)
        .map_err(|e| Error::Open {
            path: name,
            detail: format!("cannot open: {e}"),
            source: Some(e),
        })
}

fn open_file(
    path: &Path,
    name: String,
    policy: MapPolicy,
) -> std::io::Result<(VolumeRef, SourceKind)> {
    if policy == MapPolicy::Auto && on_local_disk_fs(path) {
        match MappedFile::open(path, name.clone()) {
            Ok(m) => return Ok((Arc::new(m), SourceKind::MappedFile)),
            // No address space for the mapping (a limit, a 32-bit process,
            // many large sources): read it instead.
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {}
            Err(e) => return Err(e),
        }
    }
    let src = PreadSource::open(path, name)?;
    Ok((Arc::new(Salvaging::new(src)), SourceKind::File))
}

/// True when `path` is on a filesystem whose read errors are rare enough to
/// risk mmap (a failed page there is SIGBUS). FUSE and network filesystems
/// fail reads routinely and are read with pread.
fn on_local_disk_fs(path: &Path) -> bool {
    // statfs(2) f_type magics, linux/magic.h.
    const LOCAL: &[i64] = &[
        0xEF53,      // ext2/3/4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x0102_1994, // tmpfs
        0x8584_58f6, // ramfs
        0xF2F5_2010, // f2fs
        0x2FC1_2FC1, // zfs
        0x794c_7630, // overlayfs
        0x7371_7368, // squashfs
        0xE0F5_E1E2, // erofs
        0x4d44,      // msdos/vfat
        0x2011_BAB0, // exfat
        0x5346_544e, // ntfs (ntfs3)
    ];
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `st` is a plain C struct that statfs fills in; `c` is a valid
    // NUL-terminated path that outlives the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let ftype = st.f_type as i64;
    rc == 0 && LOCAL.contains(&ftype)
}
