//! Sources read with pread: block devices, and image files that must not be
//! memory-mapped (on FUSE or network filesystems, or when the user says so).

// Unsafe code is allowed here only, for the block-device ioctls (size, sector size); each block
// says why it is sound.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::salvage::RawRead;

// linux/fs.h: BLKSSZGET = _IO(0x12, 104), BLKGETSIZE64 = _IOR(0x12, 114, size_t).
const BLKSSZGET: libc::c_ulong = 0x1268;
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

/// A file or block device read with pread.
#[derive(Debug)]
pub struct PreadSource {
    name: String,
    file: File,
    /// A second descriptor opened with O_DIRECT, for salvage reads that must
    /// fail per sector rather than per page-cache page; `None` where the
    /// filesystem refuses O_DIRECT.
    direct: Option<File>,
    len: u64,
    sector: u32,
    device_sector: Option<u32>,
}

impl PreadSource {
    /// Opens `path` read-only. Block devices get their size and logical
    /// sector size from the kernel; files from their metadata.
    pub fn open(path: &Path, name: String) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let is_dev = meta.file_type().is_block_device();
        let (len, device_sector) = if is_dev {
            (block_size64(&file)?, Some(block_sector_size(&file)?))
        } else {
            (meta.len(), None)
        };
        let direct = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok();
        Ok(PreadSource {
            name,
            file,
            direct,
            len,
            sector: device_sector.unwrap_or(512),
            device_sector,
        })
    }
}

fn block_size64(f: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which points
    // at a live, aligned u64; the descriptor is open for the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

fn block_sector_size(f: &File) -> io::Result<u32> {
    let mut ss: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which points at a
    // live, aligned c_int; the descriptor is open for the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKSSZGET, &mut ss as *mut libc::c_int) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(ss)
        .ok()
        .filter(|s| s.is_power_of_two() && *s >= 512)
        .ok_or_else(|| io::Error::other(format!("kernel reports sector size {ss}")))
}

impl RawRead for PreadSource {
    fn raw_len(&self) -> u64 {
        self.len
    }

    fn pread(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn pread_salvage(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let ss = u64::from(self.sector);
        let aligned = offset % ss == 0 && buf.len() as u64 % ss == 0;
        match &self.direct {
            Some(d) if aligned => match d.read_exact_at(buf, offset) {
                // Some filesystems accept O_DIRECT at open and refuse it per read.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.file.read_exact_at(buf, offset)
                }
                r => r,
            },
            _ => self.file.read_exact_at(buf, offset),
        }
    }

    fn sector_size(&self) -> u32 {
        self.sector
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn device_sector_size(&self) -> Option<u32> {
        self.device_sector
    }
}

/// The drive serial number of a block device, as mdadm's IMSM code reads
/// it (imsm_read_serial): from sysfs (NVMe `serial`, SCSI/ATA VPD page
/// 0x80), keeping bytes above 0x20, ':' turned into ';', and only the last
/// 16 characters. Partitions answer for their disk.
pub fn block_serial(path: &Path) -> Option<String> {
    let dev = std::fs::canonicalize(path).ok()?;
    let name = dev.file_name()?.to_str()?.to_string();
    let mut sys = std::path::PathBuf::from("/sys/class/block").join(&name);
    if sys.join("partition").exists() {
        sys = std::fs::canonicalize(&sys).ok()?.parent()?.to_path_buf();
    }
    let raw = std::fs::read(sys.join("device/serial")).ok().or_else(|| {
        let vpd = std::fs::read(sys.join("device/vpd_pg80")).ok()?;
        let n = usize::from(*vpd.get(3)?);
        vpd.get(4..4 + n).map(<[u8]>::to_vec)
    })?;
    let s: String = raw
        .iter()
        .filter(|&&b| b > 0x20 && b < 0x7f)
        .map(|&b| if b == b':' { ';' } else { char::from(b) })
        .collect();
    let skip = s.chars().count().saturating_sub(16);
    let s: String = s.chars().skip(skip).collect();
    (!s.is_empty()).then_some(s)
}
