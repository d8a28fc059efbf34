//! Reading files from FAT12/16/32.
//!
//! A file's id is the byte offset (within the volume) of its short
//! directory entry; the root directory, which has no entry, is id 0 (the
//! boot sector, never a directory entry). `stat` reads that one entry.
//!
//! Times: FAT stores local time with no zone; they are reported as if
//! they were UTC (a volume written with TZ=UTC reads back exactly).
//! Write times have 2-second steps; creation times carry 10 ms units;
//! access times are dates only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::dirent::{attr_flags, LongName, LongNameProblem, ShortEntry, ATTR_VOLUME_ID, ENTRY};
use super::geometry::{Geometry, Root};
use super::table::{FatKind, FatTable, FileChain, Next, Stop};
use crate::error::{Error, Result};
use crate::fs::file::{Extent, ExtentList};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, FileId, FileKind, FileSystem, FileSystemRef, Stat};
use crate::io::{bytes_at, bytes_up_to, VolumeRef};
use crate::problem::{Problem, Severity};

/// The root directory's id.
pub const ROOT: FileId = 0;

/// A directory holds at most 65,536 entries (fatgen103 "FAT Directory
/// Structure"); longer chains are damage and are read no further.
const MAX_DIR_BYTES: u64 = 65_536 * ENTRY as u64;

/// FAT copies compared at open, up to this many bytes each.
const FAT_COMPARE_BYTES: u64 = 16 << 20;

/// A FAT12/16/32 filesystem opened for reading.
#[derive(Debug)]
pub struct FatFs {
    vol: VolumeRef,
    geo: Geometry,
    fat: FatTable,
    /// FAT copy 2, when there is one: chains broken in copy 1 are
    /// tried there.
    fat2: Option<FatTable>,
    problems: ProblemLog,
    /// Names of the entries read_dir returned, for messages.
    names: Mutex<HashMap<FileId, String>>,
}

/// Opens the FAT filesystem on `vol`, whatever its FAT width: the boot
/// sector decides, not the name it was asked for by.
pub fn open(vol: VolumeRef) -> Result<FileSystemRef> {
    FatFs::open(vol).map(|f| Arc::new(f) as FileSystemRef)
}

impl FatFs {
    /// Opens the filesystem on `vol`.
    pub fn open(vol: VolumeRef) -> Result<FatFs> {
        let layer = vol.describe();
        let head = bytes_up_to(vol.as_ref(), 0, 512)?;
        let bpb = match super::parse_bpb(&head) {
            Some(r) => r.map_err(|e| e.within(&layer, 0))?,
            None => {
                return Err(
                    Error::corrupt("FAT boot sector", 0, "not a FAT boot sector").within(&layer, 0),
                )
            }
        };
        let geo = Geometry::new(&bpb).map_err(|e| e.within(&layer, 0))?;
        let fat = FatTable::new(
            vol.clone(),
            geo.fat_offset,
            geo.fat_len,
            geo.kind,
            geo.max_cluster,
        );
        let fat2 = (geo.fats >= 2).then(|| {
            FatTable::new(
                vol.clone(),
                geo.fat_offset + geo.fat_len,
                geo.fat_len,
                geo.kind,
                geo.max_cluster,
            )
        });
        let fs = FatFs {
            vol,
            geo,
            fat,
            fat2,
            problems: ProblemLog::default(),
            names: Mutex::new(HashMap::new()),
        };
        if fs.fat.max_cluster() < u32::try_from(fs.geo.max_cluster).unwrap_or(u32::MAX) {
            fs.problems.push(Problem::warning(
                "FAT",
                Some(fs.geo.fat_offset),
                format!(
                    "the FAT has room for clusters up to {} only, the volume for {}",
                    fs.fat.max_cluster(),
                    fs.geo.max_cluster
                ),
            ));
        }
        fs.compare_fat_copies();
        Ok(fs)
    }

    fn corrupt(&self, structure: &'static str, offset: u64, detail: String) -> Error {
        Error::corrupt(structure, offset, detail).within(&self.vol.describe(), 0)
    }

    fn note(&self, p: Problem) {
        self.problems.push(p);
    }

    fn note_lfn(&self, p: Option<LongNameProblem>, severe: bool) {
        if let Some(p) = p {
            let s = "FAT long-name entry";
            self.note(if severe {
                Problem::error(s, Some(p.offset), p.detail)
            } else {
                Problem::warning(s, Some(p.offset), p.detail)
            });
        }
    }

    /// Notes the first difference between FAT copy 1 and copy 2.
    fn compare_fat_copies(&self) {
        if self.geo.fats < 2 {
            return;
        }
        let len = self.geo.fat_len.min(FAT_COMPARE_BYTES);
        let second = self.geo.fat_offset + self.geo.fat_len;
        let mut at = 0u64;
        while at < len {
            let n = (64u64 << 10).min(len - at) as usize;
            let (Ok(a), Ok(b)) = (
                bytes_at(self.vol.as_ref(), self.geo.fat_offset + at, n),
                bytes_at(self.vol.as_ref(), second + at, n),
            ) else {
                return;
            };
            if let Some(i) = a.iter().zip(b.iter()).position(|(x, y)| x != y) {
                let byte = at + i as u64;
                self.note(Problem::warning(
                    "FAT copy 2",
                    Some(second + byte),
                    format!(
                        "differs from FAT copy 1 (first at entry {}); copy 1 is used",
                        byte * 8 / self.geo.kind.bits()
                    ),
                ));
                return;
            }
            at += n as u64;
        }
    }

    /// A file's chain from FAT copy 1, or from copy 2 when copy 1's is
    /// damaged and copy 2's is whole (noted as a problem).
    fn file_chain(&self, first: u32, needed: u64, name: &str) -> Result<FileChain> {
        match self.fat.file_chain(first, needed, name) {
            Ok(r) => Ok(r),
            Err(e) => {
                let second = self
                    .fat2
                    .as_ref()
                    .and_then(|f| f.file_chain(first, needed, name).ok());
                match second {
                    Some(r) => {
                        let mut p = Problem::from_error(Severity::Error, "FAT", &e);
                        p.detail
                            .push_str("; read through FAT copy 2, whose chain is whole");
                        self.note(p);
                        Ok(r)
                    }
                    None => Err(e.within(&self.vol.describe(), 0)),
                }
            }
        }
    }

    fn name_of(&self, id: FileId) -> String {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        match names.get(&id) {
            Some(n) => format!("{n:?} (entry {id:#x})"),
            None => format!("the file of entry {id:#x}"),
        }
    }

    /// The short entry `id` names, checked to be where entries live and
    /// to describe a file or directory.
    fn entry(&self, id: FileId) -> Result<ShortEntry> {
        let s = "FAT directory entry";
        let aligned = match self.geo.root {
            Root::Fixed { offset, len } if (offset..offset + len).contains(&id) => {
                (id - offset) % ENTRY as u64 == 0
            }
            _ => id >= self.geo.data_offset && (id - self.geo.data_offset) % ENTRY as u64 == 0,
        };
        if !aligned {
            return Err(self.corrupt(s, id, "no directory entry starts here".into()));
        }
        let raw = bytes_at(self.vol.as_ref(), id, ENTRY)?;
        let e =
            ShortEntry::parse(&raw).ok_or_else(|| self.corrupt(s, id, "entry cut short".into()))?;
        if e.name[0] == 0 || e.name[0] == 0xE5 || e.is_long() || e.attr & ATTR_VOLUME_ID != 0 {
            return Err(self.corrupt(s, id, "not the entry of a file or directory".into()));
        }
        Ok(e)
    }

    /// The bytes of a directory, as (volume offset, bytes) segments.
    fn dir_segments(&self, dir: FileId) -> Result<Vec<(u64, Vec<u8>)>> {
        let first = if dir == ROOT {
            match self.geo.root {
                Root::Fixed { offset, len } => {
                    let len = len.min(MAX_DIR_BYTES);
                    let b = bytes_at(self.vol.as_ref(), offset, len as usize)?;
                    return Ok(vec![(offset, b.into_owned())]);
                }
                Root::Cluster(c) => {
                    if !self.fat.is_data(c) {
                        return Err(self.corrupt(
                            "FAT boot sector",
                            44,
                            format!("root directory cluster {c} is not a data cluster"),
                        ));
                    }
                    c
                }
            }
        } else {
            let e = self.entry(dir)?;
            if !e.is_dir() {
                return Err(self.corrupt(
                    "FAT directory entry",
                    dir,
                    format!("{} is not a directory", self.name_of(dir)),
                ));
            }
            let c = e.first_cluster(self.geo.kind == FatKind::Fat32);
            if !self.fat.is_data(c) {
                return Err(self.corrupt(
                    "FAT directory entry",
                    dir,
                    format!(
                        "directory {}: first cluster {c} is not a data cluster",
                        self.name_of(dir)
                    ),
                ));
            }
            c
        };
        let what = if dir == ROOT {
            "the root directory".to_string()
        } else {
            format!("directory {}", self.name_of(dir))
        };
        let limit = MAX_DIR_BYTES.div_ceil(self.geo.cluster_size);
        let mut chain = self.fat.chain(first, limit)?;
        let good = |s: Stop| matches!(s, Stop::End | Stop::Limit(Next::End));
        if !good(chain.stop) {
            if let Some(c2) = self.fat2.as_ref().and_then(|f| f.chain(first, limit).ok()) {
                if good(c2.stop) {
                    self.note(Problem::error(
                        "FAT",
                        Some(self.fat.entry_offset(first)),
                        format!("{what}: the cluster chain is damaged in FAT copy 1; read through copy 2"),
                    ));
                    chain = c2;
                }
            }
        }
        match chain.stop {
            Stop::End | Stop::Limit(Next::End) => {}
            Stop::Limit(_) => self.note(Problem::warning(
                "FAT",
                Some(self.fat.entry_offset(first)),
                format!("{what}: longer than 65,536 entries; the rest is ignored"),
            )),
            Stop::Broken { after, next } => self.note(Problem::error(
                "FAT",
                Some(self.fat.entry_offset(after)),
                format!("{what}: cluster {after} is followed by {next}; the directory is read up to there"),
            )),
            Stop::Loop { after, to } => self.note(Problem::error(
                "FAT",
                Some(self.fat.entry_offset(after)),
                format!("{what}: the cluster chain loops (cluster {after} leads back to {to}); read up to there"),
            )),
        }
        let mut segs = Vec::new();
        for r in &chain.runs {
            let off = self.geo.cluster_offset(r.first);
            let len = u64::from(r.count) * self.geo.cluster_size;
            match bytes_at(self.vol.as_ref(), off, len as usize) {
                Ok(b) => segs.push((off, b.into_owned())),
                Err(e) if segs.is_empty() => return Err(e),
                Err(e) => {
                    self.note(Problem::from_error(
                        Severity::Error,
                        "FAT directory cluster",
                        &e,
                    ));
                    break;
                }
            }
        }
        Ok(segs)
    }
}

impl FileSystem for FatFs {
    fn format(&self) -> &'static str {
        match self.geo.kind {
            FatKind::Fat12 => "fat12",
            FatKind::Fat16 => "fat16",
            _ => "fat32",
        }
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
        let e = self.entry(id)?;
        let dir = e.is_dir();
        let size = if dir { 0 } else { u64::from(e.size) };
        Ok(Stat {
            id,
            kind: Some(if dir { FileKind::Dir } else { FileKind::File }),
            size,
            allocated: (!dir).then(|| size.div_ceil(self.geo.cluster_size) * self.geo.cluster_size),
            mtime: e.mtime(),
            atime: e.atime(),
            crtime: e.crtime(),
            flags: attr_flags(u16::from(e.attr)),
            ..Stat::default()
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let segs = self.dir_segments(dir)?;
        let mut out = Vec::new();
        let mut lfn = LongName::default();
        let mut names = Vec::new();
        'all: for (base, data) in &segs {
            for (i, raw) in data.chunks_exact(ENTRY).enumerate() {
                let off = base + (i * ENTRY) as u64;
                match raw.first() {
                    None | Some(0x00) => break 'all,
                    Some(0xE5) => {
                        self.note_lfn(lfn.reset("a deleted entry follows"), false);
                        continue;
                    }
                    _ => {}
                }
                let Some(e) = ShortEntry::parse(raw) else {
                    continue;
                };
                if e.is_long() {
                    self.note_lfn(lfn.push(raw, off), false);
                    continue;
                }
                if e.attr & ATTR_VOLUME_ID != 0 || e.is_dot() {
                    self.note_lfn(lfn.reset("a label or dot entry follows"), false);
                    continue;
                }
                let (long, p) = lfn.take(&e.name);
                self.note_lfn(p, true);
                let name = long.unwrap_or_else(|| e.short_name());
                names.push((off, name.clone()));
                out.push(DirEntry {
                    name: name.into_bytes(),
                    id: off,
                    kind: if e.is_dir() {
                        FileKind::Dir
                    } else {
                        FileKind::File
                    },
                });
            }
        }
        self.note_lfn(lfn.reset("the directory ends"), false);
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(names);
        Ok(out)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let e = if id == ROOT {
            None
        } else {
            Some(self.entry(id)?)
        };
        let Some(e) = e.filter(|e| !e.is_dir()) else {
            return Err(Error::Unsupported {
                layer: self.vol.describe(),
                what: format!("opening directory {id:#x} as a file"),
            });
        };
        let name = self.name_of(id);
        let size = u64::from(e.size);
        let cs = self.geo.cluster_size;
        let mut list = ExtentList::new();
        if size > self.vol.len() {
            return Err(self.corrupt(
                "FAT directory entry",
                id + 28,
                format!("{name}: size {size} is larger than the whole volume"),
            ));
        }
        if size > 0 {
            let first = e.first_cluster(self.geo.kind == FatKind::Fat32);
            let (runs, warning) = self.file_chain(first, size.div_ceil(cs), &name)?;
            if let Some((at, w)) = warning {
                self.note(Problem::warning("FAT", Some(at), w));
            }
            let mut logical = 0u64;
            for r in &runs {
                let len = u64::from(r.count) * cs;
                list.push(Extent {
                    logical,
                    len,
                    physical: Some(self.geo.cluster_offset(r.first)),
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
            what: format!("symbolic links on FAT (entry {id:#x})"),
        })
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}
