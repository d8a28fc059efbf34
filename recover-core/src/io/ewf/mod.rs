//! EWF (Expert Witness Compression Format) images as sources: EnCase's
//! `.E01`, libewf's and FTK's variants, SMART's `.s01`. The media data they
//! hold is the disk; everything else nests on it as on a raw image.
//!
//! It lives in `io` beside split raw images because it is a way of opening a
//! source (`open_source` finds the segments from the first one as it finds
//! the parts of a split image), and `io` is below `image` in the one-way
//! order of modules; `image::detect` uses it for E01 files found inside
//! filesystems.
//!
//! EWF2 (`.Ex01`) is recognised and reported unsupported: the libewf here
//! (20140813) writes no EWF2 (`-f encase7-v2` falls back to encase6), so
//! there is no oracle to read it against.

#![deny(clippy::indexing_slicing)]

pub mod raw;

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::io::{bytes_at, bytes_up_to, check_range, Gather, Origin, Origins, Volume, VolumeRef};
use crate::problem::Problem;

/// Largest chunk accepted: libewf writes at most 32768 sectors of 512
/// bytes (16 MiB); 4096-byte sectors make 128 MiB, more than any writer uses
/// in practice. A larger claimed chunk is corruption.
pub const MAX_CHUNK: u64 = 64 << 20;
/// Most sections walked in one segment, whatever the chain says.
const MAX_SECTIONS: usize = 1 << 16;
/// Most segments looked for (the naming scheme ends at `ZZZ`, 14295 names).
const MAX_SEGMENTS: u32 = 14_295;
/// How many numbers past a missing segment are tried before the set is
/// taken to end there.
const PROBE_PAST_MISSING: u32 = 16;
/// Decompressed chunks kept for small sequential reads.
const CACHE_CHUNKS: usize = 8;

/// True when `head` starts like an EWF1 segment.
pub fn is_ewf(head: &[u8]) -> bool {
    head.starts_with(raw::SIGNATURE)
}

/// True when `head` is a variant recognised but not read (EWF2, L01).
pub fn is_unsupported_ewf(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(raw::SIGNATURE_EWF2) {
        Some("EWF2 (Ex01)")
    } else if head.starts_with(raw::SIGNATURE_L01) {
        Some("EWF logical evidence (L01)")
    } else {
        None
    }
}

/// The case metadata of the header and header2 sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseInfo {
    /// `c`: case number.
    pub case_number: Option<String>,
    /// `n`: evidence number.
    pub evidence_number: Option<String>,
    /// `a`: unique description.
    pub description: Option<String>,
    /// `e`: examiner name.
    pub examiner: Option<String>,
    /// `t`: notes.
    pub notes: Option<String>,
    /// `m`: acquisition date (ISO 8601 when stored as POSIX seconds, else as stored).
    pub acquisition_date: Option<String>,
    /// `u`: the acquiring system's date.
    pub system_date: Option<String>,
    /// `ov`: the acquiring system (platform).
    pub system: Option<String>,
    /// `av`: the acquiring software's version.
    pub software: Option<String>,
    /// `md`: the media's model.
    pub model: Option<String>,
    /// `sn`: the media's serial number.
    pub serial_number: Option<String>,
}

impl CaseInfo {
    fn set(&mut self, id: &str, value: &str) {
        let v = value.trim();
        if v.is_empty() {
            return;
        }
        let date = || match v.parse::<i64>() {
            Ok(s) if !v.contains(' ') => raw::iso_date(s),
            _ => v.to_string(),
        };
        let slot = match id {
            "c" => &mut self.case_number,
            "n" => &mut self.evidence_number,
            "a" => &mut self.description,
            "e" => &mut self.examiner,
            "t" => &mut self.notes,
            "m" => {
                self.acquisition_date = Some(date());
                return;
            }
            "u" => {
                self.system_date = Some(date());
                return;
            }
            "ov" => &mut self.system,
            "av" => &mut self.software,
            "md" => &mut self.model,
            "sn" => &mut self.serial_number,
            _ => return,
        };
        *slot = Some(v.to_string());
    }
}

/// What an EWF image says about itself, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EwfInfo {
    /// "EWF-E01" or "EWF-S01" (SMART).
    pub variant: &'static str,
    /// The segment files, in order, as they were found (a missing one by
    /// the name it would have).
    pub segments: Vec<String>,
    /// Numbers of the segments that were not found.
    pub missing_segments: Vec<u32>,
    /// Bytes of media data.
    pub media_size: u64,
    /// Bytes per sector.
    pub bytes_per_sector: u32,
    /// Sectors per chunk.
    pub sectors_per_chunk: u32,
    /// Chunks the volume section claims.
    pub chunk_count: u32,
    /// The compression level, in words, where the volume section says it.
    pub compression: Option<&'static str>,
    /// The media type, in words.
    pub media_type: &'static str,
    /// The segment file set identifier, as a GUID.
    pub set_identifier: Option<String>,
    /// The stored MD5 of the media data, lower-case hex.
    pub md5: Option<String>,
    /// The stored SHA-1 of the media data, lower-case hex.
    pub sha1: Option<String>,
    /// Case metadata.
    pub case: CaseInfo,
    /// Sector runs the acquisition could not read (error2 section), as
    /// byte ranges of the media.
    pub acquisition_errors: Vec<Range<u64>>,
    /// What is wrong, found while opening.
    pub problems: Vec<Problem>,
}

/// Opens the segment files of a set by name: `Ok(None)` when there is no
/// such file.
pub type SegmentOpener<'a> = dyn Fn(&str) -> Result<Option<VolumeRef>> + 'a;

/// Where a stored chunk is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    seg: u32,
    offset: u64,
    /// Bytes available for it in its segment (to the next chunk, or to the
    /// end of the section holding it), capped.
    stored: u32,
    compressed: bool,
}

/// A run of chunks: stored ones, or chunks whose segment is missing.
#[derive(Debug)]
enum Piece {
    Stored { first: u64, locs: Vec<Loc> },
    Missing { first: u64, count: u64 },
}

impl Piece {
    fn first(&self) -> u64 {
        match self {
            Piece::Stored { first, .. } | Piece::Missing { first, .. } => *first,
        }
    }
    fn count(&self) -> u64 {
        match self {
            Piece::Stored { locs, .. } => locs.len() as u64,
            Piece::Missing { count, .. } => *count,
        }
    }
}

/// The media data of an EWF image as a volume.
pub struct EwfVolume {
    name: String,
    segments: Vec<Option<VolumeRef>>,
    chunk_size: u64,
    media_size: u64,
    pieces: Vec<Piece>,
    missing: Vec<Range<u64>>,
    bad: Mutex<Vec<Range<u64>>>,
    cache: Mutex<VecDeque<(u64, Arc<Vec<u8>>)>>,
}

impl std::fmt::Debug for EwfVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EwfVolume({}, {} bytes)", self.name, self.media_size)
    }
}

/// One segment's walk: its chunk tables in order, and the sections met.
#[derive(Default)]
struct SegmentWalk {
    /// (table, table2) pairs: each table's data range.
    tables: Vec<(Range<u64>, Option<Range<u64>>)>,
    /// Every section's span, to bound the last chunk of a table.
    spans: Vec<Range<u64>>,
    /// Sections by kind, data ranges (first of each kind kept).
    volume: Option<Range<u64>>,
    header: Option<Range<u64>>,
    header2: Option<Range<u64>>,
    hash: Option<Range<u64>>,
    digest: Option<Range<u64>>,
    error2: Option<Range<u64>>,
    xhash: Option<Range<u64>>,
    /// Whether the chain ended at "done" (the last segment).
    done: bool,
}

fn corrupt(structure: &'static str, at: u64, detail: impl Into<String>) -> Error {
    Error::corrupt(structure, at, detail)
}

/// Walks the section chain of one segment file.
fn walk(seg: &dyn Volume, problems: &mut Vec<Problem>, name: &str) -> SegmentWalk {
    let mut w = SegmentWalk::default();
    let len = seg.len();
    let mut at = raw::FILE_HEADER_LEN;
    for _ in 0..MAX_SECTIONS {
        let Some(d) = bytes_at(seg, at, raw::DESCRIPTOR_LEN as usize)
            .ok()
            .and_then(|b| raw::descriptor(&b))
        else {
            problems.push(Problem::error(
                "EWF section descriptor",
                Some(at),
                format!("{name}: the section chain runs past the end of the file ({len:#x} bytes); the segment ends without \"next\" or \"done\""),
            ));
            return w;
        };
        if !d.checksum_ok {
            problems.push(Problem::error(
                "EWF section descriptor",
                Some(at),
                format!("{name}: checksum mismatch (type {:?}); the chain is not followed further in this segment", d.kind),
            ));
            return w;
        }
        let data = at + raw::DESCRIPTOR_LEN;
        // The section's end: its size when it has one, else the next
        // section (Expert Witness 1.35 leaves the size 0), within the file.
        let end = if d.size >= raw::DESCRIPTOR_LEN {
            at.saturating_add(d.size)
        } else {
            d.next
        }
        .min(len)
        .max(data);
        let span = data..end;
        match d.kind.as_str() {
            "done" => {
                w.done = true;
                return w;
            }
            "next" => return w,
            "volume" | "disk" => {
                w.volume.get_or_insert(span.clone());
            }
            "header" => {
                w.header.get_or_insert(span.clone());
            }
            "header2" => {
                w.header2.get_or_insert(span.clone());
            }
            "hash" => {
                w.hash.get_or_insert(span.clone());
            }
            "digest" => {
                w.digest.get_or_insert(span.clone());
            }
            "error2" => {
                w.error2.get_or_insert(span.clone());
            }
            "xhash" => {
                w.xhash.get_or_insert(span.clone());
            }
            "table" => w.tables.push((span.clone(), None)),
            "table2" => match w.tables.last_mut() {
                Some((_, t2 @ None)) => *t2 = Some(span.clone()),
                _ => w.tables.push((span.clone(), None)),
            },
            _ => {}
        }
        w.spans.push(at..end);
        if d.next <= at {
            problems.push(Problem::error(
                "EWF section descriptor",
                Some(at + 16),
                format!(
                    "{name}: section {:?} names the next at {:#x}, not after itself; the chain stops",
                    d.kind, d.next
                ),
            ));
            return w;
        }
        at = d.next;
    }
    problems.push(Problem::error(
        "EWF section descriptor",
        Some(at),
        format!("{name}: more than {MAX_SECTIONS} sections; taken for a loop"),
    ));
    w
}

/// Reads a section's data, at most `max` bytes.
fn section_bytes(seg: &dyn Volume, r: &Range<u64>, max: u64) -> Result<Vec<u8>> {
    let n = (r.end - r.start).min(max);
    Ok(bytes_at(seg, r.start, n as usize)?.into_owned()) // ok: n <= max, a small constant
}

/// The chunk entries of one table group (table, table2), the better copy.
fn table_entries(
    seg: &dyn Volume,
    group: &(Range<u64>, Option<Range<u64>>),
    problems: &mut Vec<Problem>,
    name: &str,
) -> Vec<raw::Entry> {
    let parse = |r: &Range<u64>| {
        // A table holds at most 2^32 entries; its bytes are bounded by the
        // segment file itself.
        section_bytes(seg, r, 24 + 4 * (u64::from(u32::MAX) + 1) + 4)
            .ok()
            .and_then(|b| raw::table(&b, r.start))
    };
    let first = parse(&group.0);
    let good = |t: &Option<raw::Table>| {
        t.as_ref()
            .is_some_and(|t| t.header_ok && t.entries_ok != Some(false))
    };
    if good(&first) {
        return first.map(|t| t.entries).unwrap_or_default();
    }
    if let Some(r2) = &group.1 {
        let second = parse(r2);
        if good(&second) {
            problems.push(Problem::warning(
                "EWF table",
                Some(group.0.start),
                format!("{name}: the table's checksum does not match; its table2 copy is used"),
            ));
            return second.map(|t| t.entries).unwrap_or_default();
        }
    }
    problems.push(Problem::error(
        "EWF table",
        Some(group.0.start),
        format!("{name}: the table's checksum does not match (nor a copy's); its entries are used as they are"),
    ));
    first.map(|t| t.entries).unwrap_or_default()
}

/// The chunk locations of one segment, from its tables.
fn segment_chunks(
    seg_index: u32,
    seg: &dyn Volume,
    w: &SegmentWalk,
    max_stored: u64,
    problems: &mut Vec<Problem>,
    name: &str,
) -> Vec<Loc> {
    let mut locs = Vec::new();
    for group in &w.tables {
        let entries = table_entries(seg, group, problems, name);
        for (i, e) in entries.iter().enumerate() {
            // Where its bytes end: the next chunk when it follows, else the
            // end of the section holding it.
            let section_end = w
                .spans
                .iter()
                .find(|s| s.contains(&e.offset))
                .map_or(e.offset, |s| s.end);
            let end = match entries.get(i + 1) {
                Some(n) if n.offset > e.offset && n.offset <= section_end => n.offset,
                _ => section_end,
            };
            let stored = end.saturating_sub(e.offset).min(max_stored);
            locs.push(Loc {
                seg: seg_index,
                offset: e.offset,
                stored: stored as u32, // ok: <= MAX_CHUNK + slack < 2^32
                compressed: e.compressed,
            });
        }
    }
    locs
}

/// An opened EWF image.
#[derive(Debug)]
pub struct Ewf {
    /// The media data.
    pub volume: Arc<EwfVolume>,
    /// What the image says about itself, and its problems.
    pub info: EwfInfo,
}

/// The files that are later segments of the set whose first segment is
/// `first` (by the naming scheme, as [`open`] finds them), for whoever must
/// know every file a source is read from (the output guard).
pub fn segment_paths(first: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Some(base) = first.file_name().and_then(|b| b.to_str()) else {
        return Vec::new();
    };
    let Some((stem, letter)) = raw::first_segment_name(base) else {
        return Vec::new();
    };
    let dir = first.parent().unwrap_or(std::path::Path::new(""));
    let mut out = Vec::new();
    let mut last_found = 1u32;
    for n in 2..=MAX_SEGMENTS {
        if n > last_found + PROBE_PAST_MISSING {
            break;
        }
        let Some(ext) = raw::segment_extension(letter, n) else {
            break;
        };
        let p = dir.join(format!("{stem}.{ext}"));
        if p.is_file() {
            out.push(p);
            last_found = n;
        }
    }
    out
}

/// Opens an EWF set from its first segment `first` (named `first_name`,
/// a file name like `disk.E01`); later segments are opened by name through
/// `open`.
pub fn open(first: VolumeRef, first_name: &str, open: &SegmentOpener<'_>) -> Result<Ewf> {
    let head = bytes_up_to(first.as_ref(), 0, raw::FILE_HEADER_LEN as usize)?;
    if let Some(what) = is_unsupported_ewf(&head) {
        return Err(Error::Unsupported {
            layer: first.describe(),
            what: what.to_string(),
        });
    }
    if raw::file_header(&head).is_none() {
        return Err(corrupt("EWF file header", 0, "no EWF signature").within(&first.describe(), 0));
    }
    let mut info = EwfInfo {
        variant: "EWF-E01",
        ..EwfInfo::default()
    };
    let mut problems = Vec::new();

    // The segments: the first as given, the rest by the naming scheme.
    let base = first_name.rsplit('/').next().unwrap_or(first_name);
    let naming = raw::first_segment_name(base);
    let mut segs: Vec<Option<VolumeRef>> = vec![Some(first.clone())];
    let mut walks = vec![walk(first.as_ref(), &mut problems, base)];
    info.segments.push(first_name.to_string());
    if let Some((stem, letter)) = naming {
        if letter.eq_ignore_ascii_case(&'s') {
            info.variant = "EWF-S01";
        }
        let dir = first_name.strip_suffix(base).unwrap_or("");
        let mut n = 2u32;
        let mut last_found = 1u32;
        while !walks.last().is_some_and(|w| w.done) || segs.last().is_some_and(Option::is_none) {
            if n > MAX_SEGMENTS || n > last_found + PROBE_PAST_MISSING {
                break;
            }
            let Some(ext) = raw::segment_extension(letter, n) else {
                break;
            };
            let name = format!("{dir}{stem}.{ext}");
            match open(&name) {
                Ok(Some(v)) => {
                    let h = bytes_up_to(v.as_ref(), 0, raw::FILE_HEADER_LEN as usize)?;
                    match raw::file_header(&h) {
                        Some(num) if u32::from(num) == n => {}
                        Some(num) => problems.push(Problem::warning(
                            "EWF file header",
                            Some(9),
                            format!(
                                "{name}: says it is segment {num}, its name says {n}; read as {n}"
                            ),
                        )),
                        None => problems.push(Problem::error(
                            "EWF file header",
                            Some(0),
                            format!("{name}: no EWF signature; read as segment {n} anyway"),
                        )),
                    }
                    walks.push(walk(v.as_ref(), &mut problems, &name));
                    segs.push(Some(v));
                    last_found = n;
                }
                Ok(None) => {
                    walks.push(SegmentWalk::default());
                    segs.push(None);
                }
                Err(e) => {
                    problems.push(Problem::error(
                        "EWF segment",
                        None,
                        format!("{name}: cannot be opened ({e})"),
                    ));
                    walks.push(SegmentWalk::default());
                    segs.push(None);
                }
            }
            info.segments.push(name);
            n += 1;
        }
        // Numbers tried past the last found are not part of the set.
        let keep = last_found as usize; // ok: last_found <= MAX_SEGMENTS
        segs.truncate(keep);
        walks.truncate(keep);
        info.segments.truncate(keep);
    }

    // The media geometry, from the first segment's volume section.
    let w0 = walks
        .first()
        .ok_or_else(|| corrupt("EWF", 0, "no segment"))?;
    let vr = w0.volume.clone().ok_or_else(|| {
        corrupt(
            "EWF volume section",
            raw::FILE_HEADER_LEN,
            "no volume section in the first segment",
        )
        .within(&first.describe(), 0)
    })?;
    let vb = section_bytes(first.as_ref(), &vr, 1052)?;
    let vol = raw::volume(&vb).ok_or_else(|| {
        corrupt("EWF volume section", vr.start, "shorter than its 94 bytes")
            .within(&first.describe(), 0)
    })?;
    if !vol.checksum_ok {
        problems.push(Problem::warning(
            "EWF volume section",
            Some(vr.start),
            "checksum mismatch; the geometry is used as it is",
        ));
    }
    if vol.smart_layout {
        info.variant = "EWF-S01";
    }
    let chunk_size = u64::from(vol.sectors_per_chunk) * u64::from(vol.bytes_per_sector);
    if chunk_size == 0 || chunk_size > MAX_CHUNK {
        return Err(corrupt(
            "EWF volume section",
            vr.start + 8,
            format!(
                "{} sectors of {} bytes per chunk: not a chunk size (1 byte to {} MiB)",
                vol.sectors_per_chunk,
                vol.bytes_per_sector,
                MAX_CHUNK >> 20
            ),
        )
        .within(&first.describe(), 0));
    }
    let media_size = vol
        .sector_count
        .checked_mul(u64::from(vol.bytes_per_sector))
        .ok_or_else(|| {
            corrupt(
                "EWF volume section",
                vr.start + 16,
                "the sector count overflows",
            )
            .within(&first.describe(), 0)
        })?;
    info.media_size = media_size;
    info.bytes_per_sector = vol.bytes_per_sector;
    info.sectors_per_chunk = vol.sectors_per_chunk;
    info.chunk_count = vol.chunk_count;
    info.compression = vol.compression.map(|c| match c {
        0 => "none",
        1 => "fast",
        2 => "best",
        _ => "unknown",
    });
    info.media_type = match vol.media_type {
        0 => "removable",
        1 => "fixed",
        3 => "optical",
        0x0e => "logical",
        0x10 => "memory",
        _ => "unknown",
    };
    info.set_identifier = vol.set_identifier.as_ref().map(crate::bytes::uuid_str);

    // Metadata and hashes, wherever they are.
    let mut header_seen = false;
    for (s, w) in segs.iter().zip(&walks) {
        let Some(s) = s else { continue };
        // header2 (UTF-16) first: it has more; then header fills gaps.
        for r in [&w.header2, &w.header].into_iter().flatten() {
            header_seen = true;
            let text = section_bytes(s.as_ref(), r, 16 << 20)
                .ok()
                .and_then(|b| raw::inflate_text(&b));
            match text {
                Some(t) => {
                    let mut c = CaseInfo::default();
                    for (id, v) in raw::header_values(&raw::header_text(&t)) {
                        c.set(&id, &v);
                    }
                    merge_case(&mut info.case, c);
                }
                None => problems.push(Problem::warning(
                    "EWF header section",
                    Some(r.start),
                    "its zlib data does not inflate; the case metadata is not shown",
                )),
            }
        }
        if let Some(r) = &w.digest {
            if let Some((md5, sha1, ok)) = section_bytes(s.as_ref(), r, 80)
                .ok()
                .and_then(|b| raw::digest(&b))
            {
                check_sum(ok, "EWF digest section", r.start, &mut problems);
                info.md5 = nonzero_hex(&md5).or(info.md5.take());
                info.sha1 = nonzero_hex(&sha1).or(info.sha1.take());
            }
        }
        if let Some(r) = &w.hash {
            if let Some((md5, ok)) = section_bytes(s.as_ref(), r, 36)
                .ok()
                .and_then(|b| raw::hash(&b))
            {
                check_sum(ok, "EWF hash section", r.start, &mut problems);
                if info.md5.is_none() {
                    info.md5 = nonzero_hex(&md5);
                }
            }
        }
        if let Some(r) = &w.xhash {
            let xml = section_bytes(s.as_ref(), r, 1 << 20)
                .ok()
                .and_then(|b| raw::inflate_text(&b))
                .map(|t| String::from_utf8_lossy(&t).into_owned());
            if let Some(x) = xml {
                let hex = |t| {
                    raw::xml_value(&x, t)
                        .filter(|v| v.bytes().all(|c| c.is_ascii_hexdigit()) && !v.is_empty())
                        .map(|v| v.to_ascii_lowercase())
                };
                // libewf writes the tags upper-case; its document shows them lower.
                info.md5 = info
                    .md5
                    .take()
                    .or_else(|| hex("MD5").or_else(|| hex("md5")));
                info.sha1 = info
                    .sha1
                    .take()
                    .or_else(|| hex("SHA1").or_else(|| hex("sha1")));
            }
        }
        if let Some(r) = &w.error2 {
            if let Some((runs, ok)) = section_bytes(s.as_ref(), r, 520 + 8 * (1 << 20))
                .ok()
                .and_then(|b| raw::error2(&b))
            {
                check_sum(ok, "EWF error2 section", r.start, &mut problems);
                let bps = u64::from(vol.bytes_per_sector);
                info.acquisition_errors = runs
                    .into_iter()
                    .map(|(a, n)| a.saturating_mul(bps)..a.saturating_add(n).saturating_mul(bps))
                    .collect();
            }
        }
    }
    if !header_seen {
        problems.push(Problem::warning(
            "EWF header section",
            None,
            "none found; no case metadata",
        ));
    }

    // The chunks, segment by segment; a missing segment's share is what
    // the others leave of the total.
    let max_stored = chunk_size + 4 + chunk_size / 8 + 1024;
    let per_seg: Vec<Option<Vec<Loc>>> = segs
        .iter()
        .zip(&walks)
        .enumerate()
        .map(|(i, (s, w))| {
            let name = info.segments.get(i).cloned().unwrap_or_default();
            s.as_ref().map(|s| {
                segment_chunks(i as u32, s.as_ref(), w, max_stored, &mut problems, &name)
                // ok: i < MAX_SEGMENTS
            })
        })
        .collect();
    let needed = media_size.div_ceil(chunk_size);
    let present: u64 = per_seg.iter().flatten().map(|l| l.len() as u64).sum();
    let missing_segs: Vec<usize> = per_seg
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_none())
        .map(|(i, _)| i)
        .collect();
    let last_done = walks.last().is_some_and(|w| w.done);
    let gap = needed.saturating_sub(present);
    let mut shares = vec![0u64; missing_segs.len()];
    if !missing_segs.is_empty() {
        let k = missing_segs.len() as u64;
        for (j, s) in shares.iter_mut().enumerate() {
            *s = gap / k + u64::from((j as u64) < gap % k);
        }
        if missing_segs.len() > 1 {
            problems.push(Problem::warning(
                "EWF segment",
                None,
                "several segments are missing: the chunks the others leave are shared evenly between them, so the place of the data in segments after the first missing one may be off",
            ));
        }
    }
    let mut pieces = Vec::new();
    let mut next = 0u64;
    let mut share = shares.into_iter();
    for (i, l) in per_seg.into_iter().enumerate() {
        match l {
            Some(locs) if !locs.is_empty() => {
                let n = locs.len() as u64;
                pieces.push(Piece::Stored { first: next, locs });
                next += n;
            }
            Some(_) => {}
            None => {
                let count = share.next().unwrap_or(0);
                let num = i as u32 + 1; // ok: i < MAX_SEGMENTS
                info.missing_segments.push(num);
                let name = info.segments.get(i).cloned().unwrap_or_default();
                problems.push(Problem::error(
                    "EWF segment",
                    Some(next.saturating_mul(chunk_size)),
                    format!(
                        "segment {num} ({name}) is missing: its {count} chunks ({:#x}..{:#x} of the media) read as zeros",
                        next.saturating_mul(chunk_size),
                        next.saturating_add(count).saturating_mul(chunk_size).min(media_size)
                    ),
                ));
                if count > 0 {
                    pieces.push(Piece::Missing { first: next, count });
                }
                next += count;
            }
        }
    }
    if next < needed {
        let at = next.saturating_mul(chunk_size);
        problems.push(Problem::error(
            "EWF segment",
            Some(at),
            if last_done {
                format!("the chunk tables hold {next} chunks, the media needs {needed}: {at:#x}..{media_size:#x} reads as zeros")
            } else {
                format!("the last segment found does not end the set (no \"done\" section): later segments are missing, and {at:#x}..{media_size:#x} reads as zeros")
            },
        ));
        pieces.push(Piece::Missing {
            first: next,
            count: needed - next,
        });
    } else if next > needed {
        problems.push(Problem::warning(
            "EWF table",
            None,
            format!("the chunk tables hold {next} chunks, more than the {needed} the media size needs; the rest are ignored"),
        ));
    }
    if u64::from(vol.chunk_count) != needed {
        problems.push(Problem::warning(
            "EWF volume section",
            Some(vr.start + 4),
            format!(
                "claims {} chunks; the media size ({media_size} bytes) needs {needed}",
                vol.chunk_count
            ),
        ));
    }
    let missing: Vec<Range<u64>> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Missing { first, count } => Some(
                first.saturating_mul(chunk_size).min(media_size)
                    ..first
                        .saturating_add(*count)
                        .saturating_mul(chunk_size)
                        .min(media_size),
            ),
            Piece::Stored { .. } => None,
        })
        .filter(|r| !r.is_empty())
        .collect();
    info.problems = problems;
    let volume = Arc::new(EwfVolume {
        name: base.to_string(),
        segments: segs,
        chunk_size,
        media_size,
        pieces,
        missing,
        bad: Mutex::new(Vec::new()),
        cache: Mutex::new(VecDeque::new()),
    });
    Ok(Ewf { volume, info })
}

fn merge_case(into: &mut CaseInfo, from: CaseInfo) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if into.$f.is_none() { into.$f = from.$f; } )* };
    }
    fill!(
        case_number,
        evidence_number,
        description,
        examiner,
        notes,
        acquisition_date,
        system_date,
        system,
        software,
        model,
        serial_number
    );
}

fn check_sum(ok: bool, structure: &'static str, at: u64, problems: &mut Vec<Problem>) {
    if !ok {
        problems.push(Problem::warning(
            structure,
            Some(at),
            "checksum mismatch; the stored hash is shown as it is",
        ));
    }
}

fn nonzero_hex(b: &[u8]) -> Option<String> {
    b.iter().any(|&c| c != 0).then(|| crate::bytes::hex(b))
}

impl EwfVolume {
    /// Bytes of media data in chunk `idx`.
    fn chunk_len(&self, idx: u64) -> u64 {
        self.media_size
            .saturating_sub(idx.saturating_mul(self.chunk_size))
            .min(self.chunk_size)
    }

    fn locate(&self, idx: u64) -> Option<Option<Loc>> {
        let p = self.pieces.partition_point(|p| p.first() <= idx);
        let piece = self.pieces.get(p.checked_sub(1)?)?;
        let k = idx - piece.first();
        if k >= piece.count() {
            return None;
        }
        Some(match piece {
            Piece::Stored { locs, .. } => locs.get(k as usize).copied(), // ok: k < count
            Piece::Missing { .. } => None,
        })
    }

    /// Decodes chunk `idx` into `out` (its exact length); `Err` says why
    /// it cannot be read (then `out` holds zeros).
    fn decode(&self, idx: u64, out: &mut [u8]) -> std::result::Result<(), String> {
        let loc = match self.locate(idx) {
            Some(Some(l)) => l,
            _ => return Err("its segment is missing".into()),
        };
        let seg = self
            .segments
            .get(loc.seg as usize)
            .and_then(Option::as_ref)
            .ok_or("its segment is missing")?;
        let data = bytes_at(seg.as_ref(), loc.offset, loc.stored as usize)
            .map_err(|e| format!("its stored bytes cannot be read: {e}"))?;
        let seg_no = loc.seg + 1;
        if loc.compressed {
            let mut st =
                miniz_oxide::inflate::stream::InflateState::new(miniz_oxide::DataFormat::Zlib);
            let r = miniz_oxide::inflate::stream::inflate(
                &mut st,
                &data,
                out,
                miniz_oxide::MZFlush::Finish,
            );
            match r.status {
                Ok(miniz_oxide::MZStatus::StreamEnd) if r.bytes_written == out.len() => Ok(()),
                Ok(_) => Err(format!(
                    "segment {seg_no} at {:#x}: zlib gave {} of {} bytes",
                    loc.offset,
                    r.bytes_written,
                    out.len()
                )),
                Err(e) => Err(format!(
                    "segment {seg_no} at {:#x}: zlib error {e:?}",
                    loc.offset
                )),
            }
        } else {
            let n = out.len();
            let body = data.get(..n).ok_or_else(|| {
                format!(
                    "segment {seg_no} at {:#x}: {} bytes stored for a {n}-byte chunk",
                    loc.offset,
                    data.len()
                )
            })?;
            if let Some(sum) = data.get(n..n + 4) {
                let stored = u32::from_le_bytes(sum.try_into().unwrap_or([0; 4]));
                if raw::adler32(body) != stored {
                    return Err(format!(
                        "segment {seg_no} at {:#x}: Adler-32 mismatch",
                        loc.offset
                    ));
                }
            }
            out.copy_from_slice(body);
            Ok(())
        }
    }

    /// Decodes chunk `idx` into `out`, zero-filling and recording it when
    /// it cannot be read.
    fn fill(&self, idx: u64, out: &mut [u8]) {
        if let Err(_why) = self.decode(idx, out) {
            out.fill(0);
            let start = idx * self.chunk_size;
            let r = start..start + out.len() as u64;
            let mut bad = self.bad.lock().unwrap_or_else(|p| p.into_inner());
            if !bad.contains(&r) {
                bad.push(r);
            }
        }
    }

    /// Chunk `idx`, decoded, through the cache.
    fn cached(&self, idx: u64) -> Arc<Vec<u8>> {
        {
            let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, d)) = c.iter().find(|(i, _)| *i == idx) {
                return d.clone();
            }
        }
        let mut v = vec![0u8; self.chunk_len(idx) as usize]; // ok: <= MAX_CHUNK
        self.fill(idx, &mut v);
        let d = Arc::new(v);
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.len() >= CACHE_CHUNKS {
            c.pop_front();
        }
        c.push_back((idx, d.clone()));
        d
    }

    /// Why chunks could not be read, in words, for chunk `idx` (tests and
    /// reports).
    pub fn chunk_problem(&self, idx: u64) -> Option<String> {
        let mut v = vec![0u8; self.chunk_len(idx) as usize]; // ok: <= MAX_CHUNK
        self.decode(idx, &mut v).err()
    }

    /// Bytes in a chunk.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }
}

impl Volume for EwfVolume {
    fn len(&self) -> u64 {
        self.media_size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let cs = self.chunk_size;
        // Split the buffer at chunk boundaries: (chunk, offset in it, piece).
        let mut parts: Vec<(u64, usize, &mut [u8])> = Vec::new();
        let mut rest = buf;
        let mut pos = offset;
        while !rest.is_empty() {
            let idx = pos / cs;
            let within = pos % cs;
            let n = (cs - within).min(rest.len() as u64) as usize; // ok: <= rest.len()
            let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
            parts.push((idx, within as usize, a)); // ok: within < cs <= MAX_CHUNK
            rest = b;
            pos += n as u64;
        }
        let one = |(idx, within, out): (u64, usize, &mut [u8])| {
            if within == 0 && out.len() as u64 == self.chunk_len(idx) {
                self.fill(idx, out);
            } else {
                let d = self.cached(idx);
                let src = d.get(within..within + out.len());
                match src {
                    Some(s) => out.copy_from_slice(s),
                    None => out.fill(0),
                }
            }
        };
        if parts.len() >= 4 {
            parts.into_par_iter().for_each(one);
        } else {
            parts.into_iter().for_each(one);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        let mut all = self.missing.clone();
        all.extend(
            self.bad
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned(),
        );
        all.sort_by_key(|r| r.start);
        let mut out: Vec<Range<u64>> = Vec::new();
        for r in all {
            match out.last_mut() {
                Some(l) if r.start <= l.end => l.end = l.end.max(r.end),
                _ => out.push(r),
            }
        }
        out
    }

    fn io_alignment(&self) -> u64 {
        self.chunk_size
    }

    /// Chunks of a missing segment are missing; chunks that failed to
    /// decode unreadable; a chunk read from a segment carries, whole, any
    /// origin of its stored bytes there (a chunk is checked and inflated
    /// as one).
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.media_size);
        let mut g = Gather::new();
        if offset >= end {
            return g.finish();
        }
        for r in &self.missing {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s < e {
                g.add(s..e, Origin::Missing);
            }
        }
        for r in self.bad.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            // A chunk of a missing segment fails too: it is missing.
            if self
                .missing
                .iter()
                .any(|m| m.start <= r.start && r.end <= m.end)
            {
                continue;
            }
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s < e {
                g.add(s..e, Origin::Unreadable);
            }
        }
        let cs = self.chunk_size.max(1);
        let mut pos = offset;
        while pos < end {
            let (idx, within) = (pos / cs, pos % cs);
            let n = (cs - within).min(end - pos);
            if let Some(Some(loc)) = self.locate(idx) {
                if let Some(seg) = self.segments.get(loc.seg as usize).and_then(Option::as_ref) {
                    g.whole(seg.as_ref(), loc.offset, u64::from(loc.stored), pos, n);
                }
            }
            pos += n;
        }
        g.finish()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index what they built
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let v: VolumeRef = Arc::new(MemVolume::new(
            "x.E01",
            b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00\x00\x00garbage".to_vec(),
        ));
        let none = |_: &str| Ok(None);
        assert!(open(v, "x.E01", &none).is_err());
    }
}
