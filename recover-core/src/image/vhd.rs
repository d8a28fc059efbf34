//! VHD (Microsoft's Virtual Hard Disk Image Format Specification, 2006):
//! fixed disks (the data, then a footer) and dynamic and differencing
//! disks (a footer copy, a dynamic header, the block allocation table,
//! blocks each led by a sector bitmap, the footer).
//!
//! Footer, big-endian: cookie "conectix" 0, features 8, version 0x0C, data
//! offset 0x10 (the dynamic header; all ones for a fixed disk), creator
//! application 0x1C, original size 0x28, current size 0x30, disk type 0x3C
//! (2 fixed, 3 dynamic, 4 differencing), checksum 0x40 (ones' complement
//! of the byte sum without it). Dynamic header: cookie "cxsparse" 0, table
//! offset 0x10, max table entries 0x1C, block size 0x20, checksum 0x24,
//! parent unicode name 0x40 (512 bytes, UTF-16BE).

use std::sync::Arc;

use crate::bytes::{arrays, Bytes};
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{bytes_at, check_range, for_each_block, Gather, Origins, Slice, Volume, VolumeRef};

const FOOTER: u64 = 512;
const UNALLOCATED: u32 = 0xFFFF_FFFF;

/// Disk types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskType {
    /// The data as it is, then the footer.
    Fixed,
    /// Blocks allocated as written.
    Dynamic,
    /// Blocks over a parent disk.
    Differencing,
}

impl DiskType {
    /// "fixed", "dynamic", "differencing".
    pub fn as_str(self) -> &'static str {
        match self {
            DiskType::Fixed => "fixed",
            DiskType::Dynamic => "dynamic",
            DiskType::Differencing => "differencing",
        }
    }
}

/// A parsed footer.
#[derive(Debug, Clone)]
pub struct Footer {
    /// The disk's size.
    pub size: u64,
    /// Its type.
    pub disk_type: DiskType,
    /// Where the dynamic header is.
    pub data_offset: u64,
    /// Whether the checksum matched.
    pub checksum_ok: bool,
}

fn checksum(b: &[u8], skip: std::ops::Range<usize>) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    !sum
}

/// Parses a 512-byte footer; `None` without the cookie.
pub fn parse_footer(b: &[u8]) -> Option<std::result::Result<Footer, (u64, String)>> {
    let bb = Bytes(b);
    if !bb.has(0, b"conectix") {
        return None;
    }
    Some((|| {
        let short = || (0u64, "footer truncated".to_string());
        let disk_type = match bb.be_u32(0x3C).ok_or_else(short)? {
            2 => DiskType::Fixed,
            3 => DiskType::Dynamic,
            4 => DiskType::Differencing,
            t => return Err((0x3C, format!("disk type {t}"))),
        };
        let stored = bb.be_u32(0x40).ok_or_else(short)?;
        Ok(Footer {
            size: bb.be_u64(0x30).ok_or_else(short)?,
            disk_type,
            data_offset: bb.be_u64(0x10).ok_or_else(short)?,
            checksum_ok: stored == checksum(b.get(..512).ok_or_else(short)?, 0x40..0x44),
        })
    })())
}

/// A dynamic or differencing VHD's virtual disk.
#[derive(Debug)]
pub struct Vhd {
    file: VolumeRef,
    size: u64,
    block: u64,
    bitmap: u64,
    bat: Vec<u32>,
    parent: Option<VolumeRef>,
    /// The parent's name, for a differencing disk.
    pub parent_name: Option<String>,
    name: String,
}

impl Vhd {
    /// Opens `file`: a fixed disk as a slice of it, a dynamic or
    /// differencing one through its block table (sectors a differencing
    /// disk does not hold come from `parent`, or read as zeros without it).
    pub fn open(
        file: VolumeRef,
        parent: Option<VolumeRef>,
    ) -> Result<(Footer, VolumeRef, Option<String>)> {
        let name = file.describe();
        let bad = |at: u64, why: String| Error::corrupt("VHD", at, why).within(&name, 0);
        let len = file.len();
        if len < FOOTER {
            return Err(bad(0, "shorter than a footer".into()));
        }
        // The footer at the end; a dynamic disk also keeps a copy at 0.
        let tail = bytes_at(file.as_ref(), len - FOOTER, FOOTER as usize)?;
        let head = bytes_at(file.as_ref(), 0, FOOTER as usize)?;
        let footer = match parse_footer(&tail).or_else(|| parse_footer(&head)) {
            Some(Ok(f)) => f,
            Some(Err((at, why))) => return Err(bad(len - FOOTER + at, why)),
            None => return Err(bad(len - FOOTER, "no conectix footer".into())),
        };
        if footer.disk_type == DiskType::Fixed {
            if footer.size > len - FOOTER {
                return Err(bad(
                    len - FOOTER + 0x30,
                    format!("a {}-byte fixed disk in a {len}-byte file", footer.size),
                ));
            }
            let v: VolumeRef = Arc::new(Slice::new(file, 0, footer.size, format!("{name}:vhd")));
            return Ok((footer, v, None));
        }
        let dh = bytes_at(file.as_ref(), footer.data_offset, 1024).map_err(|_| {
            bad(
                0x10,
                format!(
                    "dynamic header at {:#x} lies past the end",
                    footer.data_offset
                ),
            )
        })?;
        let d = Bytes(&dh);
        if !d.has(0, b"cxsparse") {
            return Err(bad(footer.data_offset, "no cxsparse dynamic header".into()));
        }
        let table = d.be_u64(0x10).unwrap_or(0);
        let entries = u64::from(d.be_u32(0x1C).unwrap_or(0));
        let block = u64::from(d.be_u32(0x20).unwrap_or(0));
        if !block.is_power_of_two() || !(4096..=256 << 20).contains(&block) {
            return Err(bad(
                footer.data_offset + 0x20,
                format!("block size {block}"),
            ));
        }
        if entries < footer.size.div_ceil(block) || entries > 1 << 24 {
            return Err(bad(
                footer.data_offset + 0x1C,
                format!("{entries} table entries for a {}-byte disk", footer.size),
            ));
        }
        let raw = bytes_at(file.as_ref(), table, (entries * 4) as usize).map_err(|_| {
            bad(
                footer.data_offset + 0x10,
                format!("block table at {table:#x} lies past the end"),
            )
        })?; // ok: <= 64 MiB
        let bat = arrays(&raw).map(u32::from_be_bytes).collect();
        let parent_name = (footer.disk_type == DiskType::Differencing).then(|| {
            let units: Vec<u16> = arrays(d.get(0x40, 512).unwrap_or(&[]))
                .map(u16::from_be_bytes)
                .take_while(|&u| u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        });
        // The bitmap: a bit per sector, padded to whole sectors.
        let bitmap = (block / 512).div_ceil(8).div_ceil(512) * 512;
        let v = Vhd {
            file,
            size: footer.size,
            block,
            bitmap,
            bat,
            parent: if footer.disk_type == DiskType::Differencing {
                parent
            } else {
                None
            },
            parent_name: parent_name.clone(),
            name: format!("{name}:vhd"),
        };
        Ok((footer, Arc::new(v), parent_name))
    }

    /// Bytes of the file holding guest blocks.
    pub fn allocated(&self) -> u64 {
        self.bat.iter().filter(|&&e| e != UNALLOCATED).count() as u64 * self.block
    }
}

impl Volume for Vhd {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        for_each_block(offset, buf, self.block, |b, within, out| {
            let pos = b * self.block + within;
            let entry = self.bat.get(b as usize).copied().unwrap_or(UNALLOCATED);
            if entry == UNALLOCATED {
                return self.parent_read(pos, out);
            }
            let start = u64::from(entry) * 512;
            if self.parent.is_none() {
                return self.file.read_at(start + self.bitmap + within, out);
            }
            // Differencing: the block's bitmap says, a sector at a time,
            // whether this image holds it or the parent does.
            let bm = bytes_at(self.file.as_ref(), start, self.bitmap as usize)?; // ok: <= 64 KiB
            for_each_block(within, out, 512, |s, w, piece| {
                let here = bm
                    .get((s / 8) as usize)
                    .is_some_and(|x| x >> (7 - s % 8) & 1 != 0);
                let p = s * 512 + w;
                if here {
                    self.file.read_at(start + self.bitmap + p, piece)
                } else {
                    self.parent_read(pos - within + p, piece)
                }
            })
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Blocks carry the file's origins (a differencing disk's, sector by
    /// sector as the block's bitmap says), the rest the parent's. A
    /// bitmap that cannot be read ends the answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.size);
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (b, within) = (pos / self.block, pos % self.block);
            let n = (self.block - within).min(end - pos);
            let entry = self.bat.get(b as usize).copied().unwrap_or(UNALLOCATED);
            let data = u64::from(entry) * 512 + self.bitmap;
            if entry == UNALLOCATED {
                self.parent_origins(&mut g, pos, n);
            } else if self.parent.is_none() {
                g.map(self.file.as_ref(), data + within, pos, n);
            } else {
                let bm = bytes_at(self.file.as_ref(), data - self.bitmap, self.bitmap as usize); // ok: <= 64 KiB
                let Ok(bm) = bm else { break };
                let mut p = within;
                while p < within + n {
                    let s = p / 512;
                    let m = (512 - p % 512).min(within + n - p);
                    let here = bm
                        .get((s / 8) as usize)
                        .is_some_and(|x| x >> (7 - s % 8) & 1 != 0);
                    if here {
                        g.map(self.file.as_ref(), data + p, pos - within + p, m);
                    } else {
                        self.parent_origins(&mut g, pos - within + p, m);
                    }
                    p += m;
                }
            }
            pos += n;
        }
        g.finish()
    }
}

impl Vhd {
    fn parent_origins<'a>(&'a self, g: &mut Gather<'a>, pos: u64, n: u64) {
        if let Some(p) = &self.parent {
            g.map(p.as_ref(), pos, pos, n);
        }
    }

    fn parent_read(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        read_padded(self.parent.as_deref(), pos, out)
    }
}

/// Structural check of a VHD file (see [`crate::image::check`]): the
/// footer at the end (and its copy at 0 for a dynamic disk) with its
/// checksum, the dynamic header's checksum, and every block table entry:
/// its block (sector bitmap and data) inside the file, before the footer,
/// not overlapping another block or the table. Offsets are of the file.
pub fn check(file: &dyn Volume) -> Result<crate::image::check::Findings> {
    let mut f = crate::image::check::Findings::default();
    let len = file.len();
    if len < FOOTER {
        f.corrupt(0, "shorter than a footer");
        return Ok(f);
    }
    let end = len - FOOTER;
    let tail = bytes_at(file, end, FOOTER as usize)?;
    let head = bytes_at(file, 0, FOOTER as usize)?;
    let footer = match (parse_footer(&tail), parse_footer(&head)) {
        (Some(Ok(t)), h) => {
            if !t.checksum_ok {
                f.corrupt(end + 0x40, "footer checksum does not match");
            }
            if let Some(Ok(h)) = &h {
                if !h.checksum_ok {
                    f.corrupt(0x40, "footer copy checksum does not match");
                }
                if head != tail {
                    f.corrupt(0, "the footer copy at the start differs from the footer");
                }
            } else if t.disk_type != DiskType::Fixed {
                f.corrupt(0, "no footer copy at the start of a dynamic disk");
            }
            t
        }
        (Some(Err((at, why))), _) => {
            f.corrupt(end + at, format!("footer: {why}"));
            return Ok(f);
        }
        (None, Some(Ok(h))) => {
            f.corrupt(end, "no footer at the end (only the copy at the start)");
            if !h.checksum_ok {
                f.corrupt(0x40, "footer copy checksum does not match");
            }
            h
        }
        (None, _) => {
            f.corrupt(end, "no conectix footer");
            return Ok(f);
        }
    };
    if footer.disk_type == DiskType::Fixed {
        if footer.size > end {
            f.corrupt(
                end + 0x30,
                format!("a {}-byte fixed disk in a {len}-byte file", footer.size),
            );
        }
        return Ok(f);
    }
    let dho = footer.data_offset;
    let Ok(dh) = bytes_at(file, dho, 1024) else {
        f.corrupt(
            0x10,
            format!("dynamic header at {dho:#x} lies past the end"),
        );
        return Ok(f);
    };
    let d = Bytes(&dh);
    if !d.has(0, b"cxsparse") {
        f.corrupt(dho, "no cxsparse dynamic header");
        return Ok(f);
    }
    if d.be_u32(0x24) != Some(checksum(&dh, 0x24..0x28)) {
        f.corrupt(dho + 0x24, "dynamic header checksum does not match");
    }
    let table = d.be_u64(0x10).unwrap_or(0);
    let entries = u64::from(d.be_u32(0x1C).unwrap_or(0));
    let block = u64::from(d.be_u32(0x20).unwrap_or(0));
    if !block.is_power_of_two() || !(4096..=256 << 20).contains(&block) {
        f.corrupt(dho + 0x20, format!("block size {block}"));
        return Ok(f);
    }
    if entries > 1 << 24 {
        f.corrupt(dho + 0x1C, format!("{entries} table entries"));
        return Ok(f);
    }
    if entries < footer.size.div_ceil(block) {
        f.corrupt(
            dho + 0x1C,
            format!("{entries} table entries for a {}-byte disk", footer.size),
        );
    }
    let Ok(raw) = bytes_at(file, table, (entries * 4) as usize) else {
        // ok: entries <= 2^24
        f.corrupt(
            dho + 0x10,
            format!("block table at {table:#x} lies past the end"),
        );
        return Ok(f);
    };
    let bitmap = (block / 512).div_ceil(8).div_ceil(512) * 512;
    let table_end = table + entries * 4;
    let mut blocks: Vec<(u64, u64, u64)> = Vec::new();
    for (i, e) in arrays(&raw).map(u32::from_be_bytes).enumerate() {
        if e == UNALLOCATED {
            continue;
        }
        let at = table + i as u64 * 4;
        let start = u64::from(e) * 512;
        let stop = start + bitmap + block;
        if stop > end {
            f.corrupt(at, format!("block {i} at {start:#x} ends at {stop:#x}, past the data (the footer is at {end:#x})"));
            continue;
        }
        if start < table_end && table < stop {
            f.corrupt(
                at,
                format!("block {i} at {start:#x} overlaps the block table"),
            );
            continue;
        }
        blocks.push((start, stop, at));
    }
    overlaps(&mut blocks, &mut f, "block");
    Ok(f)
}

/// Reports each range that overlaps the one before it (by start), at the
/// entry (third field) that names it.
pub(crate) fn overlaps(
    ranges: &mut [(u64, u64, u64)],
    f: &mut crate::image::check::Findings,
    what: &str,
) {
    ranges.sort_unstable();
    let mut reach: Option<(u64, u64)> = None;
    for &(start, stop, at) in ranges.iter() {
        if let Some((end, first)) = reach {
            if start < end {
                f.corrupt(
                    at,
                    format!("{what} at {start:#x} overlaps the {what} named at {first:#x}"),
                );
            }
        }
        if reach.is_none_or(|(end, _)| stop > end) {
            reach = Some((stop, at));
        }
    }
}
