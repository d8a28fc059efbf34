//! File contents as volumes: the logical address space with data
//! checksums verified on read ([`Data`]), and a file of inline, compressed
//! and plain extents ([`BtrfsFile`]). A file of plain extents and holes
//! only is a [`FileVolume`](crate::fs::FileVolume) over [`Data`] instead.
//!
//! Data checksums (the csum tree, id 7): EXTENT_CSUM items keyed
//! (EXTENT_CSUM_OBJECTID, EXTENT_CSUM, logical start) hold one digest per
//! sector from that start on (ctree.h, struct btrfs_csum_item). They cover
//! the bytes on disk: a compressed extent's compressed bytes.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::bytes::take_front;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::io::{check_range, Gather, Origin, Origins, Volume};
use crate::problem::Problem;

use super::compress::decompress;
use super::items::{Compression, Key, EXTENT_CSUM, EXTENT_CSUM_OBJECTID};
use super::tree::Trees;

/// The logical address space as a volume; reads of data covered by the
/// csum tree are checked sector by sector, and a mismatch is reported
/// (with its logical and device position) while the bytes are returned.
#[derive(Debug)]
pub struct Data {
    trees: Arc<Trees>,
    csum_root: Option<(u64, u8)>,
    sectorsize: u64,
    problems: Arc<ProblemLog>,
    name: String,
    /// Sectors read from another copy because their first failed its
    /// checksum, for [`Volume::origins`].
    repaired: Mutex<Vec<Range<u64>>>,
}

/// Most repaired sectors remembered for origins (reports go on).
const MAX_REPAIRED: usize = 1 << 16;

impl Data {
    /// Over `trees`' space; checksums from the csum tree at `csum_root`.
    pub fn new(
        trees: Arc<Trees>,
        csum_root: Option<(u64, u8)>,
        sectorsize: u32,
        problems: Arc<ProblemLog>,
        name: String,
    ) -> Data {
        let csum_root = csum_root.filter(|_| trees.csum.verifiable());
        Data {
            trees,
            csum_root,
            sectorsize: u64::from(sectorsize),
            problems,
            name,
            repaired: Mutex::new(Vec::new()),
        }
    }

    /// Checks `data`, which starts at sector-aligned `start`; a sector
    /// that fails is read again from the other copies (a mirror, or the
    /// RAID5/6 rebuild from its row) and replaced by the first that
    /// checks. Every failure is reported with its logical and device
    /// position, and what was done about it.
    fn verify(&self, root: (u64, u8), start: u64, data: &mut [u8]) {
        let ss = self.sectorsize;
        let cs = self.trees.csum.size();
        let end = start.saturating_add(data.len() as u64);
        let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
        let key = |at| Key::new(EXTENT_CSUM_OBJECTID, EXTENT_CSUM, at);
        let found = self.trees.floor(root, key(start)).and_then(|first| {
            if let Some((k, d, _)) = first {
                if k.objectid == EXTENT_CSUM_OBJECTID && k.typ == EXTENT_CSUM {
                    runs.push((k.offset, d));
                }
            }
            if end > start.saturating_add(1) {
                self.trees
                    .range(root, key(start + 1), key(end - 1), &mut |it| {
                        runs.push((it.key.offset, it.data.to_vec()));
                        Ok(true)
                    })?;
            }
            Ok(())
        });
        if let Err(e) = found {
            self.problems.push(Problem::from_error(
                crate::problem::Severity::Warning,
                "Btrfs csum tree",
                &e,
            ));
            return;
        }
        for (first, sums) in runs {
            for (k, sum) in sums.chunks_exact(cs).enumerate() {
                let sector = first.saturating_add((k as u64).saturating_mul(ss));
                if sector < start {
                    continue;
                }
                if sector.saturating_add(ss) > end {
                    break;
                }
                let at = (sector - start) as usize; // ok: < data.len()
                let Some(bytes) = data.get_mut(at..at + ss as usize) else {
                    break;
                };
                if self.trees.csum.matches(sum, bytes) == Some(false) {
                    self.repair(sector, sum, bytes);
                }
            }
        }
    }

    /// `bytes`, the sector at `sector` read by way 0, failed its checksum
    /// `sum`: tries the other ways, keeps the first that checks, reports.
    fn repair(&self, sector: u64, sum: &[u8], bytes: &mut [u8]) {
        let space = &self.trees.space;
        let bad_at = space.position(sector, 0);
        let phys = space.physical(sector);
        let mut fixed = None;
        for m in 1..space.mirrors(sector) {
            let mut alt = vec![0u8; bytes.len()];
            if space.read(sector, &mut alt, m).is_ok()
                && self.trees.csum.matches(sum, &alt) == Some(true)
            {
                bytes.copy_from_slice(&alt);
                fixed = Some(space.position(sector, m));
                break;
            }
        }
        let name = self.trees.csum.name();
        let what = match &fixed {
            Some(from) => {
                let mut r = self.repaired.lock().unwrap_or_else(|e| e.into_inner());
                if r.len() < MAX_REPAIRED {
                    r.push(sector..sector.saturating_add(bytes.len() as u64));
                }
                format!("; read instead from the copy at {from}, which checks")
            }
            None => "; no other copy checks, the damaged bytes are returned".into(),
        };
        self.problems.push(Problem::error(
            "Btrfs data checksum",
            phys,
            format!("{name} mismatch in the sector at logical {sector:#x} ({bad_at}){what}"),
        ));
    }

    /// Reads `buf.len()` bytes at `logical` without checking checksums.
    pub fn read_raw(&self, logical: u64, buf: &mut [u8]) -> Result<()> {
        self.trees.space.read(logical, buf, 0)
    }
}

impl Volume for Data {
    fn len(&self) -> u64 {
        self.trees.space.end()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let Some(root) = self.csum_root else {
            return self.read_raw(offset, buf);
        };
        let ss = self.sectorsize;
        let start = offset - offset % ss;
        let end = offset.saturating_add(buf.len() as u64);
        let end_al = end.div_ceil(ss).saturating_mul(ss).min(self.len());
        if start == offset && end_al == end {
            self.read_raw(offset, buf)?;
            self.verify(root, start, buf);
            return Ok(());
        }
        let mut tmp = vec![0u8; (end_al - start) as usize]; // ok: buf.len() plus under two sectors
        self.read_raw(start, &mut tmp)?;
        self.verify(root, start, &mut tmp);
        let from = (offset - start) as usize;
        let src = tmp
            .get(from..from + buf.len())
            .ok_or_else(|| Error::corrupt("Btrfs data", offset, "read out of range"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// The space's origins, and [`Origin::Mirror`] over the sectors read
    /// from another copy after their first failed its checksum (those
    /// read so far).
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let len = len.min(self.len().saturating_sub(offset));
        let mut o = self.trees.space.origins(offset, len);
        let end = offset.saturating_add(len);
        for r in self
            .repaired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s < e {
                o.add(s..e, Origin::Mirror);
            }
        }
        o
    }
}

/// Where a run of a file's bytes comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Zeros: a hole or preallocated space.
    Zero,
    /// Plain bytes at this logical address.
    Plain(u64),
    /// Bytes held in memory (an inline extent, decompressed).
    Bytes(Arc<Vec<u8>>),
    /// A compressed extent: its logical address and length on disk, its
    /// decompressed length and compression, and where the run starts in
    /// the decompressed bytes.
    Compressed {
        /// Logical address.
        bytenr: u64,
        /// Bytes on disk.
        disk_len: u64,
        /// Decompressed length.
        ram: u64,
        /// The compression.
        algo: Compression,
        /// Where the run starts within the decompressed bytes.
        skip: u64,
    },
}

/// A run of a file.
#[derive(Debug, Clone)]
pub struct Run {
    /// Offset in the file.
    pub at: u64,
    /// Length.
    pub len: u64,
    /// Its bytes.
    pub src: Source,
}

/// A file with inline or compressed extents.
#[derive(Debug)]
pub struct BtrfsFile {
    data: Arc<Data>,
    size: u64,
    runs: Vec<Run>,
    sectorsize: usize,
    name: String,
    last: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl BtrfsFile {
    /// A file of `size` bytes from `runs` (sorted, not overlapping).
    pub fn new(data: Arc<Data>, size: u64, runs: Vec<Run>, sectorsize: u32, name: String) -> Self {
        BtrfsFile {
            data,
            size,
            runs,
            sectorsize: sectorsize as usize,
            name,
            last: Mutex::new(None),
        }
    }

    fn extent(
        &self,
        bytenr: u64,
        disk_len: u64,
        ram: u64,
        algo: Compression,
    ) -> Result<Arc<Vec<u8>>> {
        if let Some((b, v)) = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *b == bytenr {
                return Ok(v.clone());
            }
        }
        let mut raw = vec![0u8; disk_len as usize]; // ok: <= MAX_COMPRESSED, checked by the reader
        self.data.read_at(bytenr, &mut raw)?;
        let out = decompress(algo, &raw, ram as usize, self.sectorsize).map_err(|why| {
            let phys = self.data.trees.space.physical(bytenr).unwrap_or(bytenr);
            Error::corrupt(
                "Btrfs compressed extent",
                phys,
                format!("{}: extent at logical {bytenr:#x}: {why}", self.name),
            )
        })?;
        let out = Arc::new(out);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((bytenr, out.clone()));
        Ok(out)
    }
}

impl Volume for BtrfsFile {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let mut pos = offset;
        let mut out = buf;
        let mut i = self
            .runs
            .partition_point(|r| r.at.saturating_add(r.len) <= pos);
        while !out.is_empty() {
            match self.runs.get(i) {
                Some(r) if r.at <= pos => {
                    let within = pos - r.at;
                    let part = take_front(&mut out, r.len - within);
                    match &r.src {
                        Source::Zero => part.fill(0),
                        Source::Plain(l) => self.data.read_at(l.saturating_add(within), part)?,
                        Source::Bytes(b) => {
                            let from = within as usize; // ok: within < r.len <= b.len()
                            let src = b.get(from..from + part.len()).ok_or_else(|| {
                                Error::corrupt("Btrfs inline extent", 0, "run past its data")
                            })?;
                            part.copy_from_slice(src);
                        }
                        Source::Compressed {
                            bytenr,
                            disk_len,
                            ram,
                            algo,
                            skip,
                        } => {
                            let d = self.extent(*bytenr, *disk_len, *ram, *algo)?;
                            let from = (skip + within) as usize; // ok: skip + len <= ram, checked by the reader
                            let src = d.get(from..from + part.len()).ok_or_else(|| {
                                Error::corrupt(
                                    "Btrfs compressed extent",
                                    *bytenr,
                                    "run past its decompressed data",
                                )
                            })?;
                            part.copy_from_slice(src);
                        }
                    }
                    pos += part.len() as u64;
                    i += 1;
                }
                next => {
                    let gap = next.map_or(u64::MAX, |r| r.at - pos);
                    let part = take_front(&mut out, gap);
                    part.fill(0);
                    pos += part.len() as u64;
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn hole_at(&self, offset: u64) -> u64 {
        let mut pos = offset;
        let mut i = self
            .runs
            .partition_point(|r| r.at.saturating_add(r.len) <= pos);
        while pos < self.size {
            match self.runs.get(i) {
                Some(r) if r.at <= pos && !matches!(r.src, Source::Zero) => break,
                Some(r) if r.at <= pos => {
                    pos = r.at.saturating_add(r.len);
                    i += 1;
                }
                next => pos = next.map_or(self.size, |r| r.at),
            }
        }
        pos.min(self.size).saturating_sub(offset)
    }

    /// Plain runs carry the logical space's origins; a compressed run
    /// whole carries any origin of its extent's bytes on disk. Inline
    /// bytes came with the tree leaf that holds them.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.size);
        let mut g = Gather::new();
        let first = self
            .runs
            .partition_point(|r| r.at.saturating_add(r.len) <= offset);
        for r in self.runs.get(first..).unwrap_or(&[]) {
            if r.at >= end {
                break;
            }
            let s = offset.max(r.at);
            let n = end.min(r.at.saturating_add(r.len)) - s;
            match &r.src {
                Source::Zero | Source::Bytes(_) => {}
                Source::Plain(l) => g.map(self.data.as_ref(), l.saturating_add(s - r.at), s, n),
                Source::Compressed {
                    bytenr, disk_len, ..
                } => g.whole(self.data.as_ref(), *bytenr, *disk_len, s, n),
            }
        }
        g.finish()
    }
}
