//! Hosted sparse extents (VMware "Virtual Disk Format 5.0", "Hosted Sparse
//! Extents" and "Stream-Optimized Compressed Sparse Extents"),
//! little-endian.
//!
//! Header (one sector): magic "KDMV" 0, version 4 (1..3), flags 8,
//! capacity 12 (sectors), grain size 20 (sectors, a power of two),
//! descriptor offset 28 and size 36 (sectors), grain table entries per
//! table 44 (512), redundant grain directory offset 48 and grain directory
//! offset 56 (sectors), overhead 64 (sectors), unclean shutdown 72, the
//! newline test bytes `\n`, ` `, `\r`, `\n` at 73..77, compression
//! algorithm 77 (0 none, 1 deflate).
//!
//! Flags: bit 0 the newline test is valid, bit 1 the redundant grain
//! directory is kept, bit 2 a grain table entry of 1 means a grain of
//! zeros, bit 16 grains are compressed, bit 17 there are markers.
//!
//! A guest grain `g` is entry `g % per_table` of the grain table whose
//! sector the grain directory's entry `g / per_table` (u32) gives; the
//! grain table entry (u32) is the grain's sector, 0 when the extent does
//! not hold it (the parent's bytes, or zeros). A compressed grain starts
//! with a marker: its guest sector (u64) and the compressed size (u32),
//! then a zlib stream. A stream-optimized extent may store the grain
//! directory offset as all ones (GD_AT_END): the real one is in the
//! footer, a copy of the header in the second-to-last sector, after a
//! footer marker and before the end-of-stream marker.

use std::collections::HashSet;

use crate::bytes::{arrays, Bytes};
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{
    bytes_at, check_range, for_each_block, Gather, LastBlock, Origins, Volume, VolumeRef,
};
use crate::problem::Problem;

/// The header's magic: "KDMV" on disk.
pub const MAGIC: &[u8; 4] = b"KDMV";
/// The grain directory offset of a stream-optimized extent whose grain
/// directory follows the grains.
pub const GD_AT_END: u64 = u64::MAX;

const FLAG_NEWLINE_TEST: u32 = 1;
const FLAG_REDUNDANT_GD: u32 = 1 << 1;
const FLAG_ZERO_GRAIN: u32 = 1 << 2;
const FLAG_MARKERS: u32 = 1 << 17;
const ZERO_GTE: u32 = 1;
/// Marker types (the u32 at 12 of a metadata marker).
const MARKER_FOOTER: u32 = 3;

/// The largest grain read: 32 MiB (qemu-img and VMware use 64 KiB).
const MAX_GRAIN_SECTORS: u64 = 1 << 16;
/// The most grain table entries per table (VMware always writes 512).
const MAX_GTES: u32 = 8192;
/// The most grain directory entries read (64 MiB of directory).
const MAX_GD_ENTRIES: u64 = 1 << 24;

/// A parsed sparse extent header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseHeader {
    /// 1, 2 or 3.
    pub version: u32,
    /// The flags (bits named above).
    pub flags: u32,
    /// The extent's size, in sectors.
    pub capacity: u64,
    /// Sectors per grain.
    pub grain: u64,
    /// Where the embedded descriptor is, in sectors (0 without one).
    pub descriptor_offset: u64,
    /// Its size, in sectors.
    pub descriptor_size: u64,
    /// Grain table entries per grain table.
    pub gtes_per_gt: u32,
    /// The redundant grain directory, in sectors.
    pub rgd_offset: u64,
    /// The grain directory, in sectors ([`GD_AT_END`]: see the footer).
    pub gd_offset: u64,
    /// Whether the extent was not closed cleanly.
    pub unclean: bool,
    /// Whether the newline test bytes are as written.
    pub newline_ok: bool,
    /// Whether grains are deflate-compressed.
    pub compressed: bool,
}

impl SparseHeader {
    /// Bytes per grain.
    pub fn grain_bytes(&self) -> u64 {
        self.grain * 512
    }

    /// The extent's size in bytes.
    pub fn size(&self) -> u64 {
        self.capacity * 512
    }

    /// Grain directory entries: one per grain table the capacity needs.
    pub fn gd_entries(&self) -> u64 {
        self.capacity
            .div_ceil(self.grain)
            .div_ceil(u64::from(self.gtes_per_gt))
    }

    /// True when grains start with a marker.
    pub fn markers(&self) -> bool {
        self.flags & FLAG_MARKERS != 0
    }
}

/// Parses a header sector; `None` without the magic, `Err((field offset,
/// why))` when a field is out of range.
pub fn parse_header(b: &[u8]) -> Option<std::result::Result<SparseHeader, (u64, String)>> {
    let bb = Bytes(b);
    if !bb.has(0, MAGIC) {
        return None;
    }
    Some((|| {
        let short = || (0u64, "header truncated".to_string());
        let u32_at = |at: usize| bb.le_u32(at).ok_or_else(short);
        let u64_at = |at: usize| bb.le_u64(at).ok_or_else(short);
        let version = u32_at(4)?;
        if !(1..=3).contains(&version) {
            return Err((4, format!("version {version} (1 to 3 are read)")));
        }
        let flags = u32_at(8)?;
        let capacity = u64_at(12)?;
        if capacity > u64::MAX / 512 {
            return Err((12, format!("capacity of {capacity} sectors")));
        }
        let grain = u64_at(20)?;
        if !grain.is_power_of_two() || grain > MAX_GRAIN_SECTORS {
            return Err((
                20,
                format!("grain of {grain} sectors (a power of two up to {MAX_GRAIN_SECTORS})"),
            ));
        }
        let gtes_per_gt = u32_at(44)?;
        if gtes_per_gt == 0 || gtes_per_gt > MAX_GTES {
            return Err((
                44,
                format!("{gtes_per_gt} grain table entries per table (1 to {MAX_GTES})"),
            ));
        }
        let compress = bb.le_u16(77).ok_or_else(short)?;
        if compress > 1 {
            return Err((
                77,
                format!("compression algorithm {compress} (0 none and 1 deflate are read)"),
            ));
        }
        let h = SparseHeader {
            version,
            flags,
            capacity,
            grain,
            descriptor_offset: u64_at(28)?,
            descriptor_size: u64_at(36)?,
            gtes_per_gt,
            rgd_offset: u64_at(48)?,
            gd_offset: u64_at(56)?,
            unclean: bb.u8(72).ok_or_else(short)? != 0,
            newline_ok: bb.get(73, 4) == Some(b"\n \r\n"),
            compressed: compress == 1,
        };
        if h.gd_entries() > MAX_GD_ENTRIES {
            return Err((
                12,
                format!(
                    "a capacity of {capacity} sectors needs {} grain tables (at most {MAX_GD_ENTRIES})",
                    h.gd_entries()
                ),
            ));
        }
        Ok(h)
    })())
}

/// What one grain of the extent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    /// Not in this extent: the parent's bytes, or zeros.
    Unallocated,
    /// Reads as zeros.
    Zero,
    /// At this byte offset of the file.
    Data(u64),
    /// Compressed, starting (with its marker, if any) at this byte offset.
    Compressed(u64),
}

/// A hosted sparse extent, read as the `len` bytes of the virtual disk it
/// covers.
#[derive(Debug)]
pub struct SparseExtent {
    file: VolumeRef,
    header: SparseHeader,
    /// Grain directory entries (sectors of grain tables).
    gd: Vec<u32>,
    /// Where the grain directory in use is, in bytes.
    gd_at: u64,
    len: u64,
    /// The parent disk and where this extent starts in it.
    backing: Option<(VolumeRef, u64)>,
    name: String,
    last: LastBlock,
}

impl SparseExtent {
    /// Opens the sparse extent in `file`; with the problems found that do
    /// not stop reading (an unclean shutdown, a bad primary grain
    /// directory replaced by the redundant one).
    pub fn open(file: VolumeRef) -> Result<(SparseExtent, Vec<Problem>)> {
        let name = file.describe();
        let bad =
            |s: &'static str, at: u64, why: String| Error::corrupt(s, at, why).within(&name, 0);
        let head = bytes_at(file.as_ref(), 0, 512).map_err(|_| {
            bad(
                "VMDK sparse header",
                0,
                format!("file of {} bytes is shorter than a header", file.len()),
            )
        })?;
        let mut header = match parse_header(&head) {
            None => return Err(bad("VMDK sparse header", 0, "no KDMV magic".into())),
            Some(Err((at, why))) => return Err(bad("VMDK sparse header", at, why)),
            Some(Ok(h)) => h,
        };
        let mut problems = Vec::new();
        if header.gd_offset == GD_AT_END {
            header =
                footer(file.as_ref(), &header).map_err(|(at, why)| bad("VMDK footer", at, why))?;
        }
        if header.flags & FLAG_NEWLINE_TEST != 0 && !header.newline_ok {
            problems.push(Problem::error(
                "VMDK sparse header",
                Some(73),
                "the newline test bytes are altered: the file went through a text-mode copy, and its data is damaged",
            ));
        }
        if header.unclean {
            problems.push(Problem::warning(
                "VMDK sparse header",
                Some(72),
                "marked as not closed cleanly (the grain tables are read as they are)",
            ));
        }
        let primary = read_gd(file.as_ref(), &header, header.gd_offset);
        let (gd, gd_at) = match primary {
            Ok(gd) => (gd, header.gd_offset * 512),
            Err((at, why)) => {
                let redundant = (header.flags & FLAG_REDUNDANT_GD != 0 && header.rgd_offset != 0)
                    .then(|| read_gd(file.as_ref(), &header, header.rgd_offset));
                match redundant {
                    Some(Ok(gd)) => {
                        problems.push(Problem::error(
                            "VMDK grain directory",
                            Some(at),
                            format!(
                                "{why}; the redundant grain directory at {:#x} is read instead",
                                header.rgd_offset * 512
                            ),
                        ));
                        (gd, header.rgd_offset * 512)
                    }
                    _ => return Err(bad("VMDK grain directory", at, why)),
                }
            }
        };
        let len = header.size();
        Ok((
            SparseExtent {
                name: format!("{name}:vmdk"),
                file,
                header,
                gd,
                gd_at,
                len,
                backing: None,
                last: LastBlock::default(),
            },
            problems,
        ))
    }

    /// The same extent read as `len` bytes of the virtual disk (its size in
    /// the descriptor; what lies past its capacity reads as zeros), under
    /// `name`, its unallocated grains read from `backing` at `base` on.
    pub fn placed(mut self, len: u64, backing: Option<VolumeRef>, base: u64, name: String) -> Self {
        self.len = len;
        self.backing = backing.map(|b| (b, base));
        self.name = name;
        self
    }

    /// The header (from the footer, for a stream-optimized extent whose
    /// grain directory is at the end).
    pub fn header(&self) -> &SparseHeader {
        &self.header
    }

    /// The embedded descriptor's text, when the header places one in the
    /// file (empty when its sectors hold nothing).
    pub fn embedded_descriptor(&self) -> Result<Option<String>> {
        let h = &self.header;
        if h.descriptor_offset == 0 || h.descriptor_size == 0 {
            return Ok(None);
        }
        let at = h.descriptor_offset.saturating_mul(512);
        let size = h
            .descriptor_size
            .saturating_mul(512)
            .min(super::descriptor::MAX_DESCRIPTOR as u64)
            .min(self.file.len().saturating_sub(at));
        if size == 0 {
            return Err(self.corrupt(
                "VMDK sparse header",
                28,
                format!("embedded descriptor at {at:#x} lies past the end of the file"),
            ));
        }
        let raw = bytes_at(self.file.as_ref(), at, size as usize)?; // ok: <= 1 MiB
        let text = super::descriptor::text(&raw);
        Ok((!text.trim().is_empty()).then_some(text))
    }

    /// Bytes of the file that hold guest data: allocated grains (the
    /// compressed size, for compressed ones). Each grain table is read
    /// once.
    pub fn allocated(&self) -> Result<u64> {
        let h = &self.header;
        let mut seen = HashSet::new();
        let mut total = 0u64;
        for &gde in &self.gd {
            if gde == 0 || !seen.insert(gde) {
                continue;
            }
            let at = u64::from(gde) * 512;
            let gt = bytes_at(self.file.as_ref(), at, h.gtes_per_gt as usize * 4)?; // ok: checked at open, <= 32 KiB
            for e in arrays(&gt) {
                match self.classify(u32::from_le_bytes(e)) {
                    Grain::Data(_) => total = total.saturating_add(h.grain_bytes()),
                    Grain::Compressed(off) if h.markers() => {
                        let m = bytes_at(self.file.as_ref(), off, 12).ok();
                        let size = m
                            .and_then(|m| Bytes(&m).le_u32(8))
                            .map_or(0, |s| u64::from(s) + 12);
                        total = total.saturating_add(size);
                    }
                    Grain::Compressed(_) => total = total.saturating_add(h.grain_bytes()),
                    _ => {}
                }
            }
        }
        Ok(total)
    }

    fn corrupt(&self, structure: &'static str, at: u64, why: String) -> Error {
        Error::corrupt(structure, at, why).within(&self.file.describe(), 0)
    }

    fn classify(&self, gte: u32) -> Grain {
        let h = &self.header;
        match gte {
            0 => Grain::Unallocated,
            ZERO_GTE if h.flags & FLAG_ZERO_GRAIN != 0 => Grain::Zero,
            e if h.compressed => Grain::Compressed(u64::from(e) * 512),
            e => Grain::Data(u64::from(e) * 512),
        }
    }

    /// What grain `g` is.
    fn grain_at(&self, g: u64) -> Result<Grain> {
        let h = &self.header;
        let per = u64::from(h.gtes_per_gt);
        let gde = self.gd.get((g / per) as usize).copied().unwrap_or(0);
        if gde == 0 {
            return Ok(Grain::Unallocated);
        }
        let at = u64::from(gde) * 512 + (g % per) * 4;
        let raw = bytes_at(self.file.as_ref(), at, 4)?; // ok: the table was checked to fit at open
        let gte = Bytes(&raw).le_u32(0).unwrap_or(0);
        let grain = self.classify(gte);
        if let Grain::Data(off) = grain {
            let need = h.grain_bytes().min(h.size() - g * h.grain_bytes());
            if off
                .checked_add(need)
                .is_none_or(|end| end > self.file.len())
            {
                return Err(self.corrupt(
                    "VMDK grain table",
                    at,
                    format!(
                        "grain {g} at {off:#x} lies past the end of the extent file ({:#x} bytes)",
                        self.file.len()
                    ),
                ));
            }
        }
        if let Grain::Compressed(off) = grain {
            if off >= self.file.len() {
                return Err(self.corrupt(
                    "VMDK grain table",
                    at,
                    format!(
                        "compressed grain {g} at {off:#x} lies past the end of the extent file ({:#x} bytes)",
                        self.file.len()
                    ),
                ));
            }
        }
        Ok(grain)
    }

    /// Inflates the compressed grain `g` at `off` into a grain-sized buffer.
    fn inflate(&self, g: u64, off: u64) -> Result<Vec<u8>> {
        let h = &self.header;
        let gb = h.grain_bytes();
        let (data_at, size) = self.compressed_range(off)?;
        let data = bytes_at(self.file.as_ref(), data_at, size as usize)?; // ok: <= 64 MiB + 1 KiB
        let mut out = vec![0u8; gb as usize]; // ok: grain <= 32 MiB
        let mut st = miniz_oxide::inflate::stream::InflateState::new(miniz_oxide::DataFormat::Zlib);
        let r = miniz_oxide::inflate::stream::inflate(
            &mut st,
            &data,
            &mut out,
            miniz_oxide::MZFlush::Finish,
        );
        let need = gb.min(h.size().saturating_sub(g * gb)) as usize;
        match r.status {
            Ok(_) if r.bytes_written >= need => Ok(out),
            Ok(_) => Err(self.corrupt(
                "VMDK compressed grain",
                off,
                format!(
                    "grain {g}: deflate gave {} of {need} bytes",
                    r.bytes_written
                ),
            )),
            Err(e) => Err(self.corrupt(
                "VMDK compressed grain",
                off,
                format!("grain {g}: deflate: {e:?}"),
            )),
        }
    }

    /// Where the compressed grain at `off` keeps its stream: offset and
    /// bytes (with markers, as the marker says; without, up to a bound).
    fn compressed_range(&self, off: u64) -> Result<(u64, u64)> {
        let h = &self.header;
        let gb = h.grain_bytes();
        let avail = self.file.len().saturating_sub(off);
        let (data_at, size) = if h.markers() {
            let m = bytes_at(self.file.as_ref(), off, 12)
                .map_err(|_| self.corrupt("VMDK grain marker", off, "truncated".into()))?;
            let size = u64::from(Bytes(&m).le_u32(8).unwrap_or(0));
            if size == 0 || size > avail.saturating_sub(12) {
                return Err(self.corrupt(
                    "VMDK grain marker",
                    off,
                    format!(
                        "compressed size {size} (the file has {} bytes after the marker)",
                        avail.saturating_sub(12)
                    ),
                ));
            }
            (off + 12, size)
        } else {
            (off, avail)
        };
        // zlib never expands a grain by more than a little; past twice the
        // grain the stream is garbage anyway.
        Ok((data_at, size.min(2 * gb + 1024)))
    }

    fn backing_read(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        match &self.backing {
            Some((b, base)) => read_padded(Some(b.as_ref()), base.saturating_add(pos), out),
            None => read_padded(None, pos, out),
        }
    }

    /// Where the grain directory in use is, in bytes.
    pub fn gd_offset(&self) -> u64 {
        self.gd_at
    }
}

/// The header kept in a stream-optimized extent's footer: the sector
/// before the end-of-stream marker, after a footer marker.
fn footer(
    file: &dyn Volume,
    header: &SparseHeader,
) -> std::result::Result<SparseHeader, (u64, String)> {
    let len = file.len();
    let Some(at) = len.checked_sub(1536) else {
        return Err((
            56,
            "grain directory at the end, but the file is too short for a footer".into(),
        ));
    };
    let raw = bytes_at(file, at, 1536).map_err(|e| (at, e.to_string()))?;
    let b = Bytes(&raw);
    if !header.markers() || b.le_u32(12) != Some(MARKER_FOOTER) || b.le_u32(8) != Some(0) {
        return Err((
            at,
            "grain directory at the end, but no footer marker before the last two sectors".into(),
        ));
    }
    match parse_header(b.get(512, 512).unwrap_or(&[])) {
        Some(Ok(f)) if f.gd_offset != GD_AT_END => {
            if f.capacity != header.capacity
                || f.grain != header.grain
                || f.gtes_per_gt != header.gtes_per_gt
            {
                return Err((
                    at + 512,
                    "the footer's capacity or grain layout differs from the header's".into(),
                ));
            }
            Ok(f)
        }
        Some(Ok(_)) => Err((
            at + 512 + 56,
            "the footer's grain directory offset is also GD_AT_END".into(),
        )),
        Some(Err((o, why))) => Err((at + 512 + o, format!("footer: {why}"))),
        None => Err((at + 512, "no KDMV magic in the footer".into())),
    }
}

/// Reads and checks the grain directory at `sector`: it and every grain
/// table it names must lie inside the file.
fn read_gd(
    file: &dyn Volume,
    h: &SparseHeader,
    sector: u64,
) -> std::result::Result<Vec<u32>, (u64, String)> {
    let n = h.gd_entries();
    let at = sector
        .checked_mul(512)
        .ok_or((56, format!("grain directory sector {sector}")))?;
    let bytes = n * 4;
    check_range(file, at, bytes).map_err(|_| {
        (56, format!("grain directory of {bytes} bytes at {at:#x} lies past the end of the file ({:#x} bytes)", file.len()))
    })?;
    let raw = bytes_at(file, at, bytes as usize).map_err(|e| (at, e.to_string()))?; // ok: <= 64 MiB and inside the file
    let gd: Vec<u32> = arrays(&raw).map(u32::from_le_bytes).collect();
    let table = u64::from(h.gtes_per_gt) * 4;
    for (i, &e) in gd.iter().enumerate() {
        if e != 0 && (u64::from(e) * 512 + table) > file.len() {
            return Err((
                at + i as u64 * 4,
                format!(
                    "grain table {i} at {:#x} lies past the end of the file ({:#x} bytes)",
                    u64::from(e) * 512,
                    file.len()
                ),
            ));
        }
    }
    Ok(gd)
}

impl Volume for SparseExtent {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let gb = self.header.grain_bytes();
        let cap = self.header.size();
        for_each_block(offset, buf, gb, |g, within, out| {
            let pos = g * gb + within;
            if pos >= cap {
                // Past the extent's capacity, inside its descriptor size.
                out.fill(0);
                return Ok(());
            }
            // The last grain may end past the capacity.
            let n = (out.len() as u64).min(cap - pos) as usize;
            let (out, rest) = out.split_at_mut(n);
            rest.fill(0);
            match self.grain_at(g)? {
                Grain::Unallocated => self.backing_read(pos, out),
                Grain::Zero => {
                    out.fill(0);
                    Ok(())
                }
                Grain::Data(host) => self.file.read_at(host + within, out),
                Grain::Compressed(host) => {
                    let c = self.last.get(host, || self.inflate(g, host))?;
                    let w = within as usize;
                    let src = c.get(w..w + out.len()).ok_or_else(|| {
                        Error::corrupt(
                            "VMDK compressed grain",
                            host,
                            format!("{} bytes inflated, short of {}", c.len(), w + out.len()),
                        )
                    })?;
                    out.copy_from_slice(src);
                    Ok(())
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Grains the table leaves out (without a parent, or where the
    /// parent has a hole), zero grains, and what lies past the capacity:
    /// what `qemu-img map` calls `"data": false`. At most 65536 grains are
    /// looked at per call; a caller asks again from where the answer ends.
    fn hole_at(&self, offset: u64) -> u64 {
        let gb = self.header.grain_bytes().max(1);
        let cap = self.header.size().min(self.len);
        let mut pos = offset;
        for _ in 0..65536 {
            if pos >= self.len {
                break;
            }
            if pos >= cap {
                pos = self.len;
                break;
            }
            let end = ((pos / gb + 1) * gb).min(cap);
            let to = match self.grain_at(pos / gb) {
                Ok(Grain::Zero) => end,
                Ok(Grain::Unallocated) => match &self.backing {
                    None => end,
                    Some((b, base)) => {
                        let at = base.saturating_add(pos);
                        if at >= b.len() {
                            end
                        } else {
                            pos + b.hole_at(at).min(end - pos)
                        }
                    }
                },
                _ => pos,
            };
            if to < end {
                pos = to;
                break;
            }
            pos = end;
        }
        pos.min(self.len).saturating_sub(offset)
    }

    /// Grains the extent holds carry its file's origins (a compressed one
    /// whole, any origin of its marker and stream), the others the
    /// parent's. A grain whose entry cannot be read ends the answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let gb = self.header.grain_bytes().max(1);
        let end = offset
            .saturating_add(len)
            .min(self.len)
            .min(self.header.size());
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (grain, within) = (pos / gb, pos % gb);
            let n = (gb - within).min(end - pos);
            match self.grain_at(grain) {
                Ok(Grain::Unallocated) => {
                    if let Some((b, base)) = &self.backing {
                        g.map(b.as_ref(), base.saturating_add(pos), pos, n);
                    }
                }
                Ok(Grain::Zero) => {}
                Ok(Grain::Data(host)) => g.map(self.file.as_ref(), host + within, pos, n),
                Ok(Grain::Compressed(host)) => {
                    let Ok((at, size)) = self.compressed_range(host) else {
                        break;
                    };
                    // The marker too: a lost marker loses the grain.
                    g.whole(self.file.as_ref(), host, at - host + size, pos, n);
                }
                Err(_) => break,
            }
            pos += n;
        }
        g.finish()
    }
}

/// Grain table entries a structural check visits at most.
const MAX_CHECKED_GTES: u64 = 1 << 28;

/// Structural check of a hosted sparse extent (see
/// [`crate::image::check`]): the header (and a stream-optimized extent's
/// footer), the newline test bytes, the grain directory and every grain
/// table inside the file, every grain inside the file, no grain named
/// twice, and the redundant grain directory's tables holding the same
/// entries as the primary's.
pub fn check(file: &dyn Volume) -> Result<crate::image::check::Findings> {
    let mut f = crate::image::check::Findings::default();
    let Ok(head) = bytes_at(file, 0, 512) else {
        f.corrupt(0, "shorter than a header");
        return Ok(f);
    };
    let mut h = match parse_header(&head) {
        None => {
            f.corrupt(0, "no KDMV magic");
            return Ok(f);
        }
        Some(Err((at, why))) => {
            f.corrupt(at, why);
            return Ok(f);
        }
        Some(Ok(h)) => h,
    };
    if h.gd_offset == GD_AT_END {
        match footer(file, &h) {
            Ok(foot) => h = foot,
            Err((at, why)) => {
                f.corrupt(at, why);
                return Ok(f);
            }
        }
    }
    if h.flags & FLAG_NEWLINE_TEST != 0 && !h.newline_ok {
        f.corrupt(73, "the newline test bytes are altered (a text-mode copy)");
    }
    let mut budget = MAX_CHECKED_GTES;
    let primary = tables(file, &h, h.gd_offset, 56, &mut f, &mut budget, true);
    if h.flags & FLAG_REDUNDANT_GD != 0 && h.rgd_offset != 0 && h.gd_offset != h.rgd_offset {
        let redundant = tables(file, &h, h.rgd_offset, 48, &mut f, &mut budget, false);
        if let (Some(p), Some(r)) = (primary, redundant) {
            for (i, (a, b)) in p.iter().zip(&r).enumerate() {
                if a.1 != b.1 {
                    f.corrupt(
                        b.0,
                        format!(
                            "grain table {i} of the redundant grain directory (at {:#x}) differs from the primary's (at {:#x})",
                            b.0, a.0
                        ),
                    );
                }
            }
        }
    }
    Ok(f)
}

/// Checks the grain directory at `sector` (its offset stored in the header
/// at `field`) and its grain tables; returns each table's offset and
/// entries (for the comparison of the two directories), `None` when the
/// directory cannot be read. Grains are checked for the primary only.
fn tables(
    file: &dyn Volume,
    h: &SparseHeader,
    sector: u64,
    field: u64,
    f: &mut crate::image::check::Findings,
    budget: &mut u64,
    grains: bool,
) -> Option<Vec<(u64, Vec<u32>)>> {
    let len = file.len();
    let n = h.gd_entries();
    let at = sector
        .checked_mul(512)
        .filter(|at| check_range(file, *at, n * 4).is_ok());
    let Some(at) = at else {
        f.corrupt(field, format!("grain directory of {n} entries at sector {sector} lies past the end of the file ({len:#x} bytes)"));
        return None;
    };
    let raw = bytes_at(file, at, (n * 4) as usize).ok()?; // ok: n <= MAX_GD_ENTRIES, inside the file
    let per = u64::from(h.gtes_per_gt);
    let grain = h.grain_bytes();
    let mut out = Vec::new();
    let mut seen: HashSet<u32> = HashSet::new();
    for (i, gt) in arrays(&raw).map(u32::from_le_bytes).enumerate() {
        let e_at = at + i as u64 * 4;
        if gt == 0 {
            out.push((0, Vec::new()));
            continue;
        }
        let gt_at = u64::from(gt) * 512;
        let Ok(t) = bytes_at(file, gt_at, (per * 4) as usize) else {
            // ok: per <= MAX_GTES
            f.corrupt(
                e_at,
                format!(
                    "grain table {i} at {gt_at:#x} lies past the end of the file ({len:#x} bytes)"
                ),
            );
            out.push((gt_at, Vec::new()));
            continue;
        };
        if *budget < per {
            f.push(
                crate::image::check::Kind::CheckError,
                e_at,
                format!("more than {MAX_CHECKED_GTES} grain table entries: the check stops here"),
            );
            return None;
        }
        *budget -= per;
        let entries: Vec<u32> = arrays(&t).map(u32::from_le_bytes).collect();
        if grains {
            for (j, &g) in entries.iter().enumerate() {
                if g == 0 || (g == ZERO_GTE && h.flags & FLAG_ZERO_GRAIN != 0) {
                    continue;
                }
                let g_at = u64::from(g) * 512;
                let gte_at = gt_at + j as u64 * 4;
                // A compressed grain is shorter than a grain: its start must
                // be in the file; a plain one whole.
                let need = if h.compressed { 1 } else { grain };
                if g_at + need > len {
                    f.corrupt(gte_at, format!("grain {} of table {i} at {g_at:#x} lies past the end of the file ({len:#x} bytes)", j));
                } else if !seen.insert(g) {
                    f.corrupt(
                        gte_at,
                        format!("grain at {g_at:#x} is named by two grain table entries"),
                    );
                }
            }
        }
        out.push((gt_at, entries));
    }
    Some(out)
}
