//! Reading files from exFAT.
//!
//! A file's id is the byte offset (within the volume) of the File entry
//! that starts its entry set; the root directory, which has none, is id 0
//! (the boot sector). Sets met by `read_dir` are kept, so `stat` and
//! `open` also work for sets split over non-adjacent directory clusters;
//! an id not seen yet is read as a set stored in one piece, and must then
//! pass its checksum.
//!
//! Timestamps are converted to UTC with their offset field when it is
//! marked valid, and read as UTC otherwise. Bytes past ValidDataLength
//! read as zeros.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::boot::{boot_checksum, Boot};
use super::entry::{parse_set, FileSet, ENTRY, FILE};
use crate::error::{Error, Result};
use crate::fs::fat::dirent::attr_flags;
use crate::fs::fat::table::{FatKind, FatTable, Next, Run, Stop};
use crate::fs::file::{Extent, ExtentList};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, FileId, FileKind, FileSystem, FileSystemRef, Stat};
use crate::io::{bytes_at, bytes_up_to, VolumeRef};
use crate::problem::{Problem, Severity};

/// The root directory's id.
pub const ROOT: FileId = 0;

/// A directory is at most 256 MiB (§6).
const MAX_DIR_BYTES: u64 = 256 << 20;

/// A directory's bytes, flattened, and where each run of them lies on the
/// volume: (index in the bytes, volume offset).
type DirBytes = (Vec<u8>, Vec<(usize, u64)>);

/// An exFAT filesystem opened for reading.
#[derive(Debug)]
pub struct ExFatFs {
    vol: VolumeRef,
    boot: Boot,
    fat: FatTable,
    problems: ProblemLog,
    /// Entry sets read_dir met, by id.
    sets: Mutex<HashMap<FileId, FileSet>>,
}

/// Opens the exFAT filesystem on `vol`.
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    ExFatFs::open(vol).map(|f| Arc::new(f) as FileSystemRef)
}

impl ExFatFs {
    /// Opens the filesystem on `vol`.
    pub fn open(vol: VolumeRef) -> Result<ExFatFs> {
        let layer = vol.describe();
        let problems = ProblemLog::default();
        let head = bytes_up_to(vol.as_ref(), 0, 512)?;
        let (boot, base) = match Boot::parse(&head) {
            Ok(b) => (b, 0),
            Err(e) => {
                let e = e.within(&layer, 0);
                // The backup boot region starts at sector 12, whatever
                // the sector size is.
                let backup = (9..=12u32).find_map(|shift| {
                    let at = 12u64 << shift;
                    let h = bytes_up_to(vol.as_ref(), at, 512).ok()?;
                    let b = Boot::parse(&h).ok()?;
                    (b.sector_size == 1u64 << shift).then_some((b, at))
                });
                let Some((b, at)) = backup else { return Err(e) };
                let mut p = Problem::from_error(Severity::Error, "exFAT boot sector", &e);
                p.detail
                    .push_str(&format!("; the backup boot sector at {at:#x} is used"));
                problems.push(p);
                (b, at)
            }
        };
        // Boot checksum over the region's first 11 sectors.
        let ss = boot.sector_size;
        if let Ok(region) = bytes_at(vol.as_ref(), base, (12 * ss) as usize) {
            // 12 sectors: the 11 summed, then the checksum sector. Were the
            // split to fail, `stored` is None and the mismatch is reported.
            let (summed, tail) = region
                .split_at_checked((11 * ss) as usize)
                .unwrap_or((&region, &[]));
            let sum = boot_checksum(summed);
            let stored = crate::bytes::Bytes(tail).le_u32(0);
            if stored != Some(sum) {
                problems.push(Problem::error(
                    "exFAT boot checksum",
                    Some(base + 11 * ss),
                    format!(
                        "stored {:#010x}, computed {sum:#010x}; the boot sector is read anyway",
                        stored.unwrap_or(0)
                    ),
                ));
            }
        }
        let fat = FatTable::new(
            vol.clone(),
            boot.fat_offset,
            boot.fat_len,
            FatKind::ExFat,
            u64::from(boot.cluster_count) + 1,
        );
        let fs = ExFatFs {
            vol,
            boot,
            fat,
            problems,
            sets: Mutex::new(HashMap::new()),
        };
        if u64::from(fs.fat.max_cluster()) < u64::from(fs.boot.cluster_count) + 1 {
            fs.problems.push(Problem::warning(
                "exFAT FAT",
                Some(fs.boot.fat_offset),
                format!(
                    "FatLength has room for clusters up to {} only, ClusterCount says {}",
                    fs.fat.max_cluster(),
                    u64::from(fs.boot.cluster_count) + 1
                ),
            ));
        }
        Ok(fs)
    }

    fn corrupt(&self, structure: &'static str, offset: u64, detail: String) -> Error {
        Error::corrupt(structure, offset, detail).within(&self.vol.describe(), 0)
    }

    /// The entry set of `id`: from what read_dir kept, else read in one
    /// piece at `id` and required to pass its checksum.
    fn set(&self, id: FileId) -> Result<FileSet> {
        if let Some(s) = self.sets.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(s.clone());
        }
        let st = "exFAT File directory entry";
        if id < self.boot.heap_offset || (id - self.boot.heap_offset) % ENTRY as u64 != 0 {
            return Err(self.corrupt(st, id, "no directory entry starts here".into()));
        }
        let head = bytes_at(self.vol.as_ref(), id, ENTRY)?;
        let [FILE, secondaries, ..] = *head else {
            return Err(self.corrupt(st, id, "not a File directory entry".into()));
        };
        let n = (usize::from(secondaries) + 1) * ENTRY;
        let raw = bytes_at(self.vol.as_ref(), id, n)?;
        let set = parse_set(&raw).map_err(|(at, d)| self.corrupt(st, id + at as u64, d))?;
        if !set.checksum_ok() {
            return Err(self.corrupt(
                st,
                id + 2,
                format!(
                    "SetChecksum {:#06x} does not match the set's {:#06x}",
                    set.stored_checksum, set.checksum
                ),
            ));
        }
        Ok(set)
    }

    /// The runs of `len` bytes from `first`, contiguous or through the FAT.
    fn runs(&self, id: FileId, set: &FileSet, len: u64, name: &str) -> Result<Vec<Run>> {
        if len > self.vol.len() {
            return Err(self.corrupt(
                "exFAT Stream Extension entry",
                id + ENTRY as u64 + 24,
                format!("{name}: DataLength {len} is larger than the whole volume"),
            ));
        }
        let cs = self.boot.cluster_size;
        let needed = len.div_ceil(cs);
        let first = set.first_cluster;
        if set.no_fat_chain() {
            let last = u64::from(first) + needed.saturating_sub(1);
            if !self.fat.is_data(first) || last > u64::from(self.fat.max_cluster()) {
                return Err(self.corrupt(
                    "exFAT Stream Extension entry",
                    id + ENTRY as u64 + 20,
                    format!(
                        "{name}: contiguous clusters {first}..={last} are not all data clusters"
                    ),
                ));
            }
            let count = u32::try_from(needed).unwrap_or(u32::MAX); // ok: <= max_cluster
            return Ok(vec![Run { first, count }]);
        }
        let (runs, warning) = self
            .fat
            .file_chain(first, needed, name)
            .map_err(|e| e.within(&self.vol.describe(), 0))?;
        if let Some((at, w)) = warning {
            self.problems
                .push(Problem::warning("exFAT FAT", Some(at), w));
        }
        Ok(runs)
    }

    /// The directory's bytes (flattened) and where each run of them lies:
    /// (index in the bytes, volume offset).
    fn dir_bytes(&self, dir: FileId) -> Result<DirBytes> {
        let runs = if dir == ROOT {
            let c = self.boot.root_cluster;
            if !self.fat.is_data(c) {
                return Err(self.corrupt(
                    "exFAT boot sector",
                    96,
                    format!("FirstClusterOfRootDirectory {c} is not a data cluster"),
                ));
            }
            let limit = MAX_DIR_BYTES / self.boot.cluster_size;
            let chain = self.fat.chain(c, limit.max(1))?;
            let what = "the root directory";
            match chain.stop {
                Stop::End | Stop::Limit(Next::End) => {}
                Stop::Limit(_) => self.problems.push(Problem::warning(
                    "exFAT FAT",
                    Some(self.fat.entry_offset(c)),
                    format!("{what} is longer than 256 MiB; the rest is ignored"),
                )),
                Stop::Broken { after, next } => self.problems.push(Problem::error(
                    "exFAT FAT",
                    Some(self.fat.entry_offset(after)),
                    format!("{what}: cluster {after} is followed by {next}; read up to there"),
                )),
                Stop::Loop { after, to } => self.problems.push(Problem::error(
                    "exFAT FAT",
                    Some(self.fat.entry_offset(after)),
                    format!("{what}: the cluster chain loops (cluster {after} leads back to {to}); read up to there"),
                )),
            }
            chain.runs
        } else {
            let set = self.set(dir)?;
            if !set.is_dir() {
                return Err(self.corrupt(
                    "exFAT File directory entry",
                    dir,
                    format!("{:?} is not a directory", set.name),
                ));
            }
            if set.data_len > MAX_DIR_BYTES || set.data_len == 0 {
                return Err(self.corrupt(
                    "exFAT Stream Extension entry",
                    dir + ENTRY as u64,
                    format!(
                        "directory {:?}: DataLength {} is not 1..=256 MiB",
                        set.name, set.data_len
                    ),
                ));
            }
            self.runs(
                dir,
                &set,
                set.data_len,
                &format!("directory {:?}", set.name),
            )?
        };
        let mut bytes = Vec::new();
        let mut map = Vec::new();
        for r in &runs {
            let off = self.boot.cluster_offset(r.first);
            let len = u64::from(r.count) * self.boot.cluster_size;
            match bytes_at(self.vol.as_ref(), off, len as usize) {
                Ok(b) => {
                    map.push((bytes.len(), off));
                    bytes.extend_from_slice(&b);
                }
                Err(e) if bytes.is_empty() => return Err(e),
                Err(e) => {
                    self.problems.push(Problem::from_error(
                        Severity::Error,
                        "exFAT directory cluster",
                        &e,
                    ));
                    break;
                }
            }
        }
        Ok((bytes, map))
    }
}

/// The volume offset of byte `i` of a flattened directory.
fn offset_of(map: &[(usize, u64)], i: usize) -> u64 {
    let k = map.partition_point(|&(start, _)| start <= i);
    match k.checked_sub(1).and_then(|k| map.get(k)) {
        Some(&(start, off)) => off + (i - start) as u64,
        None => 0,
    }
}

impl FileSystem for ExFatFs {
    fn format(&self) -> &'static str {
        "exfat"
    }

    fn root(&self) -> FileId {
        ROOT
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        if id == ROOT {
            return Ok(Stat {
                id,
                kind: Some(FileKind::Dir),
                ..Stat::default()
            });
        }
        let s = self.set(id)?;
        let dir = s.is_dir();
        let mut flags = attr_flags(s.attr);
        if s.no_fat_chain() {
            flags.push("nofatchain");
        }
        let cs = self.boot.cluster_size;
        Ok(Stat {
            id,
            kind: Some(if dir { FileKind::Dir } else { FileKind::File }),
            size: if dir { 0 } else { s.data_len },
            allocated: Some(s.data_len.div_ceil(cs).saturating_mul(cs)),
            mtime: s.modified,
            atime: s.accessed,
            crtime: s.created,
            flags,
            ..Stat::default()
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let (bytes, map) = self.dir_bytes(dir)?;
        let mut out = Vec::new();
        let mut found = Vec::new();
        let n = bytes.len() / ENTRY;
        let mut i = 0usize;
        while i < n {
            let at = i * ENTRY;
            let off = offset_of(&map, at);
            // `at` is below n * ENTRY <= bytes.len().
            let Some(&t) = bytes.get(at) else {
                break;
            };
            if t == 0 {
                break;
            }
            if t & 0x80 == 0 {
                i += 1;
                continue;
            }
            if t != FILE {
                // Bitmap, up-case table, label, GUID, padding: not files.
                // A secondary (bit 6) here belongs to no set.
                if t & 0x40 != 0 {
                    self.problems.push(Problem::warning(
                        "exFAT directory entry",
                        Some(off),
                        format!("secondary entry {t:#04x} outside an entry set; skipped"),
                    ));
                }
                i += 1;
                continue;
            }
            let count = usize::from(bytes.get(at + 1).copied().unwrap_or(0)) + 1;
            let end = (at + count * ENTRY).min(n * ENTRY);
            let Some(set_bytes) = bytes.get(at..end) else {
                break; // at < end <= bytes.len(): never taken
            };
            match parse_set(set_bytes) {
                Ok(set) => {
                    if !set.checksum_ok() {
                        self.problems.push(Problem::error(
                            "exFAT File directory entry",
                            Some(off + 2),
                            format!(
                                "entry set of {:?}: SetChecksum {:#06x} does not match the set's {:#06x}; listed as read",
                                set.name, set.stored_checksum, set.checksum
                            ),
                        ));
                    }
                    out.push(DirEntry {
                        name: set.name.clone().into_bytes(),
                        id: off,
                        kind: if set.is_dir() {
                            FileKind::Dir
                        } else {
                            FileKind::File
                        },
                    });
                    i += set.entries;
                    found.push((off, set));
                }
                Err((rel, detail)) => {
                    self.problems.push(Problem::error(
                        "exFAT File directory entry",
                        Some(offset_of(&map, at + rel)),
                        format!("{detail}; the set is skipped"),
                    ));
                    i += 1;
                }
            }
        }
        self.sets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(found);
        Ok(out)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let set = if id == ROOT {
            None
        } else {
            Some(self.set(id)?)
        };
        let Some(set) = set.filter(|s| !s.is_dir()) else {
            return Err(Error::Unsupported {
                layer: self.vol.describe(),
                what: format!("opening directory {id:#x} as a file"),
            });
        };
        let name = format!("{:?} (entry {id:#x})", set.name);
        let size = set.data_len;
        let mut valid = set.valid_len;
        if valid > size {
            self.problems.push(Problem::warning(
                "exFAT Stream Extension entry",
                Some(id + ENTRY as u64 + 8),
                format!("{name}: ValidDataLength {valid} is past DataLength {size}"),
            ));
            valid = size;
        }
        let mut list = ExtentList::new();
        if size > 0 {
            if !set.alloc_possible() {
                return Err(self.corrupt(
                    "exFAT Stream Extension entry",
                    id + ENTRY as u64 + 1,
                    format!("{name}: DataLength {size} but AllocationPossible is clear"),
                ));
            }
            let runs = self.runs(id, &set, size, &name)?;
            let cs = self.boot.cluster_size;
            let mut logical = 0u64;
            for r in &runs {
                let len = u64::from(r.count) * cs;
                // Only bytes below ValidDataLength are stored; the rest is
                // a hole that reads as zeros.
                let stored = len.min(valid.saturating_sub(logical));
                list.push(Extent {
                    logical,
                    len: stored,
                    physical: Some(self.boot.cluster_offset(r.first)),
                });
                logical += len;
            }
        }
        let vol = list.build(
            self.vol.clone(),
            size,
            format!("{}: {name}", self.vol.describe()),
        )?;
        Ok(vol.into_ref())
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        Err(Error::Unsupported {
            layer: self.vol.describe(),
            what: format!("symbolic links on exFAT (entry {id:#x})"),
        })
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}
