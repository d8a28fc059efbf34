//! VHDX (Microsoft's [MS-VHDX] Virtual Hard Disk v2 File Format, v1.0):
//! fixed, dynamic and differencing disks, read through the block
//! allocation table (§2.5).
//!
//! The file is opened as the spec orders it: the current header (§2.2.2),
//! the log replayed when the header names one (§2.3.3, [`log`]), then the
//! region table (§2.2.3), the metadata items (§2.6) and the BAT. Payload
//! blocks are `block_size` bytes of the virtual disk each; after every
//! `chunk_ratio` payload entries the BAT holds one sector bitmap entry
//! (§2.5), the bitmap that says, for a differencing disk, which sectors of
//! a partially present block this file holds (§2.4).

pub mod header;
pub mod log;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{bytes_at, check_range, for_each_block, Gather, Origins, Volume, VolumeRef};
use crate::problem::Problem;
use header::{Header, Metadata, Regions};

/// BAT entry states (§2.5.1.1 payload, §2.5.1.2 sector bitmap), bits 0-2.
const NOT_PRESENT: u64 = 0;
const ZERO: u64 = 2;
const FULLY_PRESENT: u64 = 6;
const PARTIALLY_PRESENT: u64 = 7;
/// A sector bitmap block's size (§2.4).
const BITMAP_BLOCK: u64 = 1 << 20;
/// Bits 20-63 of a BAT entry: the file offset in MiB (§2.5.1).
const OFFSET_MASK: u64 = !((1 << 20) - 1);

/// A VHDX image's virtual disk.
#[derive(Debug)]
pub struct Vhdx {
    file: VolumeRef,
    meta: Metadata,
    regions: Regions,
    header: Header,
    bat: Vec<u64>,
    chunk_ratio: u64,
    payload_blocks: u64,
    parent: Option<VolumeRef>,
    name: String,
    /// Whether the log was replayed on open.
    pub log_replayed: bool,
}

impl Vhdx {
    /// Opens the image in `file`, its log replayed in memory when it has
    /// one (the file is never written). What is wrong but does not stop
    /// the reading comes back as problems.
    pub fn open(file: VolumeRef) -> Result<(Vhdx, Vec<Problem>)> {
        let name = file.describe();
        let bad =
            |s: &'static str, (at, why): header::Bad| Error::corrupt(s, at, why).within(&name, 0);
        let mut problems = Vec::new();
        let id = bytes_at(file.as_ref(), 0, 8)
            .map_err(|_| bad("VHDX file identifier", (0, "truncated".into())))?;
        if id.as_ref() != header::IDENTIFIER {
            return Err(bad(
                "VHDX file identifier",
                (0, "no \"vhdxfile\" signature".into()),
            ));
        }
        let read_header = |i: usize, at: u64| match bytes_at(file.as_ref(), at, header::HEADER_SIZE)
        {
            Ok(b) => header::parse_header(&b, i, at),
            Err(_) => Err((at, "lies past the end of the file".into())),
        };
        let (hdr, other) = header::current_header(
            read_header(0, header::HEADERS[0]),
            read_header(1, header::HEADERS[1]),
        )
        .map_err(|e| bad("VHDX header", e))?;
        if let Some((at, why)) = other {
            problems.push(Problem::warning(
                "VHDX header",
                Some(at),
                format!(
                    "header {} is not valid ({why}); header {} is used",
                    2 - hdr.index,
                    hdr.index + 1
                ),
            ));
        }
        // The log first: until it is replayed, the structures after the
        // headers may be stale (§2.3.3).
        let mut log_replayed = false;
        let file = if hdr.log_pending() {
            match log::replay(&file, &hdr) {
                Ok(v) => {
                    log_replayed = true;
                    problems.push(Problem::warning(
                        "VHDX log",
                        Some(hdr.log_offset),
                        "the log held updates not yet written in place (the image was not closed cleanly); they were replayed in memory",
                    ));
                    v
                }
                Err(e) => {
                    problems.push(Problem::error(
                        "VHDX log",
                        Some(hdr.log_offset),
                        format!("the log holds updates that cannot be replayed ({e}); the image is read without them and may be stale"),
                    ));
                    file
                }
            }
        } else {
            file
        };
        let len = file.len();
        let read_regions = |at: u64| match bytes_at(file.as_ref(), at, header::TABLE_SIZE) {
            Ok(b) => header::parse_region_table(&b, at, len),
            Err(_) => Err((at, "lies past the end of the file".into())),
        };
        let regions = match (
            read_regions(header::REGION_TABLES[0]),
            read_regions(header::REGION_TABLES[1]),
        ) {
            (Ok(r), _) => r,
            (Err((at, why)), Ok(r)) => {
                problems.push(Problem::warning(
                    "VHDX region table",
                    Some(at),
                    format!("region table 1 is not valid ({why}); its copy is used"),
                ));
                r
            }
            (Err((at, why)), Err((at2, why2))) => {
                return Err(bad(
                    "VHDX region table",
                    (
                        at,
                        format!("neither copy is valid ({why}; copy at {at2:#x}: {why2})"),
                    ),
                ))
            }
        };
        let mr = regions.metadata;
        let table = bytes_at(
            file.as_ref(),
            mr.offset,
            header::TABLE_SIZE.min(mr.length as usize),
        )?;
        let items =
            header::parse_metadata_table(&table, mr).map_err(|e| bad("VHDX metadata table", e))?;
        let meta = header::parse_metadata(mr.offset, &items, |at, n| {
            bytes_at(file.as_ref(), at, n).ok().map(|b| b.into_owned())
        })
        .map_err(|e| bad("VHDX metadata", e))?;

        // §2.5: the chunk ratio, and the BAT entries the disk needs.
        let block = meta.block_size;
        let chunk_ratio = ((1u64 << 23) * meta.logical_sector) / block; // >= 16: block <= 256 MiB
        let payload_blocks = meta.virtual_size.div_ceil(block);
        let entries = if meta.has_parent {
            payload_blocks.div_ceil(chunk_ratio) * (chunk_ratio + 1)
        } else if payload_blocks == 0 {
            0
        } else {
            payload_blocks + (payload_blocks - 1) / chunk_ratio
        };
        let br = regions.bat;
        if entries * 8 > u64::from(br.length) {
            return Err(bad(
                "VHDX BAT",
                (
                    br.offset,
                    format!(
                        "a {}-byte region holds {} entries; a {}-byte disk of {block}-byte blocks needs {entries}",
                        br.length,
                        br.length / 8,
                        meta.virtual_size
                    ),
                ),
            ));
        }
        // ok: entries * 8 <= the region's length, which lies in the file.
        let raw = bytes_at(file.as_ref(), br.offset, (entries * 8) as usize)?;
        let bat: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| Bytes(c).le_u64(0).unwrap_or(0))
            .collect();
        let v = Vhdx {
            name: format!("{name}:vhdx"),
            file,
            meta,
            regions,
            header: hdr,
            bat,
            chunk_ratio,
            payload_blocks,
            parent: None,
            log_replayed,
        };
        if let Some(p) = v.blocks_past_end() {
            problems.push(p);
        }
        Ok((v, problems))
    }

    /// The same disk, reading what a differencing disk does not hold from
    /// `parent`.
    pub fn with_parent(mut self, parent: Option<VolumeRef>) -> Vhdx {
        self.parent = parent.filter(|_| self.meta.has_parent);
        self
    }

    /// The metadata items.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// The current header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// "differencing", "fixed" (blocks kept allocated, and every block
    /// present or, as qemu-img creates fixed disks, zero), or "dynamic".
    pub fn subformat(&self) -> &'static str {
        if self.meta.has_parent {
            "differencing"
        } else if self.meta.leave_blocks_allocated
            && self
                .payload_entries()
                .all(|(_, e)| matches!(e & 7, FULLY_PRESENT | ZERO))
        {
            "fixed"
        } else {
            "dynamic"
        }
    }

    /// Bytes of the file holding payload blocks.
    pub fn allocated(&self) -> u64 {
        let n = self
            .payload_entries()
            .filter(|(_, e)| matches!(e & 7, FULLY_PRESENT | PARTIALLY_PRESENT))
            .count() as u64;
        n * self.meta.block_size
    }

    /// The parent's names, as the parent locator gives them: the relative
    /// path first, then the absolute and volume paths (§2.6.2.6.1).
    pub fn parent_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["relative_path", "absolute_win32_path", "volume_path"]
            .iter()
            .filter_map(|k| self.meta.locator(k))
            .map(str::to_string)
            .collect();
        names.dedup();
        names
    }

    /// (payload block index, BAT entry) for every payload block.
    fn payload_entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..self.payload_blocks).map(|b| (b, self.entry(b + b / self.chunk_ratio)))
    }

    /// Bytes of payload block `b` that are in the disk (the last one may be short).
    fn block_len(&self, b: u64) -> u64 {
        self.meta.block_size.min(
            self.meta
                .virtual_size
                .saturating_sub(b * self.meta.block_size),
        )
    }

    fn entry(&self, i: u64) -> u64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.bat.get(i))
            .copied()
            .unwrap_or(NOT_PRESENT)
    }

    /// Where BAT entry `i` (of a block `size` bytes long) puts its block,
    /// or why it cannot be read there.
    fn locate(&self, i: u64, size: u64) -> Result<u64> {
        let at = self.entry(i) & OFFSET_MASK;
        if at < 1 << 20 || at.checked_add(size).is_none_or(|end| end > self.file.len()) {
            return Err(Error::corrupt(
                "VHDX BAT",
                self.regions.bat.offset + i * 8,
                format!(
                    "entry {i} puts a {size}-byte block at {at:#x}, outside the {}-byte file after the header section",
                    self.file.len()
                ),
            )
            .within(&self.file.describe(), 0));
        }
        Ok(at)
    }

    /// A problem naming the present blocks that lie past the end of the
    /// file (a truncated copy, usually).
    fn blocks_past_end(&self) -> Option<Problem> {
        let mut bad = self
            .payload_entries()
            .filter(|(_, e)| matches!(e & 7, FULLY_PRESENT | PARTIALLY_PRESENT))
            .filter(|(b, _)| {
                self.locate(b + b / self.chunk_ratio, self.block_len(*b))
                    .is_err()
            });
        let (first, e) = bad.next()?;
        let more = bad.count();
        Some(Problem::error(
            "VHDX BAT",
            Some(self.regions.bat.offset + (first + first / self.chunk_ratio) * 8),
            format!(
                "{} payload block(s) lie outside the file, the first block {first} at {:#x} (truncated?): reads there fail",
                more + 1,
                e & OFFSET_MASK
            ),
        ))
    }

    fn parent_read(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        read_padded(self.parent.as_deref(), pos, out)
    }
}

impl Volume for Vhdx {
    fn len(&self) -> u64 {
        self.meta.virtual_size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let block = self.meta.block_size;
        for_each_block(offset, buf, block, |b, within, out| {
            let i = b + b / self.chunk_ratio;
            let pos = b * block + within;
            match self.entry(i) & 7 {
                NOT_PRESENT => self.parent_read(pos, out),
                PARTIALLY_PRESENT if self.meta.has_parent => {
                    let at = self.locate(i, self.block_len(b))?;
                    // The chunk's sector bitmap entry follows its payload entries.
                    let chunk = b / self.chunk_ratio;
                    let sb = chunk * (self.chunk_ratio + 1) + self.chunk_ratio;
                    let sector = self.meta.logical_sector;
                    let first_bit = (b % self.chunk_ratio) * (block / sector) + within / sector;
                    let last_bit = (b % self.chunk_ratio) * (block / sector)
                        + (within + out.len() as u64 - 1) / sector;
                    let bits = if self.entry(sb) & 7 == FULLY_PRESENT {
                        let bm = self.locate(sb, BITMAP_BLOCK)?;
                        let n = (last_bit / 8 - first_bit / 8 + 1) as usize; // ok: <= 1 MiB
                        Some(bytes_at(self.file.as_ref(), bm + first_bit / 8, n)?)
                    } else {
                        None // no bitmap: every sector is the parent's
                    };
                    for_each_block(within, out, sector, |s, w, piece| {
                        let bit = (b % self.chunk_ratio) * (block / sector) + s;
                        let here = bits.as_ref().is_some_and(|bm| {
                            bm.get(((bit / 8) - first_bit / 8) as usize)
                                .is_some_and(|x| x >> (bit % 8) & 1 != 0)
                        });
                        let p = s * sector + w;
                        if here {
                            self.file.read_at(at + p, piece)
                        } else {
                            self.parent_read(b * block + p, piece)
                        }
                    })
                }
                FULLY_PRESENT | PARTIALLY_PRESENT => {
                    let at = self.locate(i, self.block_len(b))?;
                    self.file.read_at(at + within, out)
                }
                // UNDEFINED, ZERO, UNMAPPED and the reserved states read as zeros.
                _ => {
                    out.fill(0);
                    Ok(())
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Present blocks carry the file's origins (a differencing disk's
    /// partly present ones, sector by sector as the bitmap says), absent
    /// ones the parent's. A block that cannot be located ends the answer
    /// there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.meta.virtual_size);
        let block = self.meta.block_size;
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (b, within) = (pos / block, pos % block);
            let n = (block - within).min(end - pos);
            let i = b + b / self.chunk_ratio;
            let done = match self.entry(i) & 7 {
                NOT_PRESENT => {
                    self.parent_origins(&mut g, pos, n);
                    Ok(())
                }
                PARTIALLY_PRESENT if self.meta.has_parent => {
                    self.partial_origins(&mut g, b, within, n)
                }
                FULLY_PRESENT | PARTIALLY_PRESENT => self
                    .locate(i, self.block_len(b))
                    .map(|at| g.map(self.file.as_ref(), at + within, pos, n)),
                _ => Ok(()),
            };
            if done.is_err() {
                break;
            }
            pos += n;
        }
        g.finish()
    }
}

impl Vhdx {
    fn parent_origins<'a>(&'a self, g: &mut Gather<'a>, pos: u64, n: u64) {
        if let Some(p) = &self.parent {
            g.map(p.as_ref(), pos, pos, n);
        }
    }

    /// Origins of `n` bytes at `within` of the partly present block `b`
    /// of a differencing disk, sector by sector as its bitmap says.
    fn partial_origins<'a>(
        &'a self,
        g: &mut Gather<'a>,
        b: u64,
        within: u64,
        n: u64,
    ) -> Result<()> {
        let block = self.meta.block_size;
        let at = self.locate(b + b / self.chunk_ratio, self.block_len(b))?;
        let chunk = b / self.chunk_ratio;
        let sb = chunk * (self.chunk_ratio + 1) + self.chunk_ratio;
        let sector = self.meta.logical_sector;
        let first_bit = (b % self.chunk_ratio) * (block / sector) + within / sector;
        let last_bit = (b % self.chunk_ratio) * (block / sector) + (within + n - 1) / sector;
        let bits = if self.entry(sb) & 7 == FULLY_PRESENT {
            let bm = self.locate(sb, BITMAP_BLOCK)?;
            let k = (last_bit / 8 - first_bit / 8 + 1) as usize; // ok: <= 1 MiB
            Some(bytes_at(self.file.as_ref(), bm + first_bit / 8, k)?)
        } else {
            None
        };
        let mut p = within;
        while p < within + n {
            let s = p / sector;
            let m = (sector - p % sector).min(within + n - p);
            let bit = (b % self.chunk_ratio) * (block / sector) + s;
            let here = bits.as_ref().is_some_and(|bm| {
                bm.get(((bit / 8) - first_bit / 8) as usize)
                    .is_some_and(|x| x >> (bit % 8) & 1 != 0)
            });
            if here {
                g.map(self.file.as_ref(), at + p, b * block + p, m);
            } else {
                self.parent_origins(g, b * block + p, m);
            }
            p += m;
        }
        Ok(())
    }
}

/// Opens a differencing disk's parent through `chain`, trying each name
/// the parent locator gives in turn (the chain also looks for each one's
/// last component beside the image): the parent's disk, or `None` with a
/// problem saying why what this file lacks reads as zeros.
pub fn open_parent(
    chain: &super::Chain,
    names: &[String],
    problems: &mut Vec<Problem>,
) -> Option<VolumeRef> {
    let mut errors = Vec::new();
    for name in names {
        match super::open_backing(chain, name, "parent") {
            Ok((v, inner)) => {
                problems.extend(inner.into_iter().map(|mut p| {
                    p.detail = format!("parent {name:?}: {}", p.detail);
                    p
                }));
                return Some(v);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    problems.push(Problem::error(
        "VHDX parent locator",
        None,
        if names.is_empty() {
            "a differencing disk whose parent locator names no parent: what this image does not hold reads as zeros".to_string()
        } else {
            format!(
                "the parent cannot be read ({}): what this image does not hold reads as zeros",
                errors.join("; ")
            )
        },
    ));
    None
}

/// Structural check of a VHDX file (see [`crate::image::check`]): both
/// headers and both region tables with their CRC-32C checksums, the log
/// (replayed in memory when it is pending: its entries' checksums), the
/// metadata, and every BAT entry of a present payload or sector bitmap
/// block: inside the file past the header section, not overlapping
/// another block, the BAT, the metadata region or the log.
pub fn check(file: &VolumeRef) -> Result<crate::image::check::Findings> {
    let mut f = crate::image::check::Findings::default();
    for (i, &at) in header::HEADERS.iter().enumerate() {
        match bytes_at(file.as_ref(), at, header::HEADER_SIZE) {
            Ok(b) => {
                if let Err((o, why)) = header::parse_header(&b, i, at) {
                    f.corrupt(o, format!("header {}: {why}", i + 1));
                }
            }
            Err(_) => f.corrupt(
                at,
                format!("header {} lies past the end of the file", i + 1),
            ),
        }
    }
    for (i, &at) in header::REGION_TABLES.iter().enumerate() {
        match bytes_at(file.as_ref(), at, header::TABLE_SIZE) {
            Ok(b) => {
                if let Err((o, why)) = header::parse_region_table(&b, at, file.len()) {
                    f.corrupt(o, format!("region table {}: {why}", i + 1));
                }
            }
            Err(_) => f.corrupt(
                at,
                format!("region table {} lies past the end of the file", i + 1),
            ),
        }
    }
    let (v, problems) = match Vhdx::open(file.clone()) {
        Ok(x) => x,
        Err(e) => {
            let at = match &e {
                Error::Corrupt { offset, .. } => *offset,
                _ => 0,
            };
            f.corrupt(at, format!("cannot be opened: {e}"));
            return Ok(f);
        }
    };
    for p in problems
        .iter()
        .filter(|p| p.severity == crate::problem::Severity::Error)
    {
        if p.structure == "VHDX log" {
            f.corrupt(p.offset.unwrap_or(0), p.detail.clone());
        }
    }
    let len = v.file.len();
    let bat_at = v.regions.bat.offset;
    let mut fixed: Vec<(u64, u64, u64)> = vec![
        (bat_at, bat_at + u64::from(v.regions.bat.length), bat_at),
        (
            v.regions.metadata.offset,
            v.regions.metadata.offset + u64::from(v.regions.metadata.length),
            v.regions.metadata.offset,
        ),
    ];
    if v.header.log_length > 0 {
        let lo = v.header.log_offset;
        fixed.push((lo, lo.saturating_add(u64::from(v.header.log_length)), lo));
    }
    let mut blocks = Vec::new();
    for (i, &e) in v.bat.iter().enumerate() {
        let i = i as u64;
        let bitmap = (i + 1) % (v.chunk_ratio + 1) == 0;
        let present = if bitmap {
            e & 7 == FULLY_PRESENT
        } else {
            matches!(e & 7, FULLY_PRESENT | PARTIALLY_PRESENT)
        };
        if !present {
            continue;
        }
        let size = if bitmap {
            BITMAP_BLOCK
        } else {
            let b = i - i / (v.chunk_ratio + 1);
            v.block_len(b)
        };
        let at = e & OFFSET_MASK;
        let entry_at = bat_at + i * 8;
        let Some(end) = at
            .checked_add(size)
            .filter(|&end| at >= 1 << 20 && end <= len)
        else {
            f.corrupt(entry_at, format!("BAT entry {i} puts a {size}-byte block at {at:#x}, outside the {len}-byte file after the header section"));
            continue;
        };
        if let Some(&(s, _, _)) = fixed.iter().find(|(s, t, _)| at < *t && *s < end) {
            f.corrupt(
                entry_at,
                format!("BAT entry {i}: the block at {at:#x} overlaps the region at {s:#x}"),
            );
            continue;
        }
        blocks.push((at, end, entry_at));
    }
    crate::image::vhd::overlaps(&mut blocks, &mut f, "block");
    Ok(f)
}
