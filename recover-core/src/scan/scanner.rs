//! The scanner: every sector of a volume, in parallel blocks, findings in
//! offset order.
//!
//! A mapped volume is scanned in place: each block is a slice of the
//! mapping, no byte is copied. Other volumes are read in large blocks.
//! Blocks overlap by the longest structure a validator wants, so a
//! structure that starts near the end of a block is validated from bytes
//! in hand; each finding belongs to the block its structure starts in, so
//! nothing is found twice. rayon splits the blocks among its threads (the
//! caller's pool: the library never configures the global one), and the
//! results of each window of blocks are pushed to the sink in order.
//!
//! With `skip_inside` the scan jumps past a filesystem once its primary
//! structure is found, as TestDisk's search does: the filesystem is
//! located, and its interior (files, which may hold anything) is not
//! searched. After a jump the window starts at one block and doubles, so
//! the next partition's start is found without reading far into it.

use std::ops::Range;

use rayon::prelude::*;

use super::finding::Finding;
use super::signature::{longest, Context, Signature, SECTOR, SIGNATURES};
use crate::error::Result;
use crate::io::{check_range, VolumeRef};

/// What receives the findings, in offset order; it can stop the scan.
pub trait Sink {
    /// One finding. Return false to stop.
    fn finding(&mut self, f: Finding) -> bool;
    /// `done` of `total` bytes scanned.
    fn progress(&mut self, _done: u64, _total: u64) {}
}

/// A sink that keeps everything.
impl Sink for Vec<Finding> {
    fn finding(&mut self, f: Finding) -> bool {
        self.push(f);
        true
    }
}

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Only this byte range (rounded out to sectors).
    pub range: Option<Range<u64>>,
    /// Bytes per block.
    pub block: usize,
    /// The signatures to look for.
    pub signatures: &'static [Signature],
    /// Read even mapped volumes through `read_at` (for testing that both paths agree).
    pub no_zero_copy: bool,
    /// Jump past a filesystem or container once its primary structure is
    /// found with high confidence ([`Finding::skip_end`]); what lies inside
    /// is not searched.
    pub skip_inside: bool,
}

impl ScanOptions {
    /// Options for a scan that jumps past what it finds, with blocks small
    /// enough that little is read past a partition's start.
    pub fn skipping() -> Self {
        ScanOptions {
            block: 1 << 20,
            skip_inside: true,
            ..ScanOptions::default()
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            range: None,
            block: 8 << 20,
            signatures: SIGNATURES,
            no_zero_copy: false,
            skip_inside: false,
        }
    }
}

/// The signatures grouped by where their magic sits and its first byte,
/// so a sector costs a handful of byte compares.
struct Dispatch {
    /// (magic offset, [(first byte, signature index)])
    groups: Vec<(usize, Vec<(u8, usize)>)>,
}

impl Dispatch {
    fn new(sigs: &[Signature]) -> Dispatch {
        let mut groups: Vec<(usize, Vec<(u8, usize)>)> = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            let Some(&first) = s.magic.first() else {
                continue;
            };
            match groups.iter_mut().find(|(o, _)| *o == s.magic_offset) {
                Some((_, v)) => v.push((first, i)),
                None => groups.push((s.magic_offset, vec![(first, i)])),
            }
        }
        Dispatch { groups }
    }
}

/// Scans the sectors starting in `[start, end)` of `vol`, whose bytes from
/// `start` (through the overlap) are `bytes`.
fn scan_block(
    vol: &VolumeRef,
    sigs: &[Signature],
    d: &Dispatch,
    start: u64,
    end: u64,
    bytes: &[u8],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let n = ((end - start) as usize).min(bytes.len());
    let mut off = 0usize;
    while off < n {
        let sector = &bytes[off..]; // ok: off < n <= bytes.len()
        for (mo, cands) in &d.groups {
            let Some(&b) = sector.get(*mo) else { continue };
            for &(first, i) in cands {
                if first != b {
                    continue;
                }
                let s = &sigs[i];
                if sector.get(*mo..*mo + s.magic.len()) != Some(s.magic) {
                    continue;
                }
                let ctx = Context {
                    vol,
                    at: start + off as u64,
                    bytes: &sector[..s.need.min(sector.len())],
                };
                if let Some(f) = (s.validate)(&ctx) {
                    out.push(f);
                }
            }
        }
        off += SECTOR as usize;
    }
    out.sort_by_key(|f| f.at);
    out
}

thread_local! {
    /// Each thread's block buffer for volumes that are read, not mapped:
    /// allocated once, so its pages fault in once.
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scans `vol` (or the range of it `opts` names), pushing every finding to
/// `sink` in offset order.
pub fn scan(vol: &VolumeRef, opts: &ScanOptions, sink: &mut dyn Sink) -> Result<()> {
    let len = vol.len();
    let range = opts.range.clone().unwrap_or(0..len);
    let (a, b) = (range.start / SECTOR * SECTOR, range.end.min(len));
    if a >= b {
        return Ok(());
    }
    check_range(vol.as_ref(), a, b - a)?;
    let block = (opts.block.max(SECTOR as usize) as u64) / SECTOR * SECTOR;
    let overlap = longest() as u64;
    let d = Dispatch::new(opts.signatures);
    let mapped = if opts.no_zero_copy {
        None
    } else {
        vol.as_bytes()
    };
    // Up to this many bytes are scanned at once (four blocks a thread at
    // the default block size), whatever the block size.
    let most = (rayon::current_num_threads().max(1) as u64 * 4 * (8 << 20) / block).max(1) as usize;
    let total = b - a;
    let mut pos = a;
    let mut window = most;
    let mut blocks: Vec<(u64, u64)> = Vec::with_capacity(most);
    // Findings before this offset are inside a filesystem jumped past.
    let mut skip_to = 0u64;
    while pos < b {
        blocks.clear();
        while blocks.len() < window && pos < b {
            // A hole the source knows of (a sparse image's unwritten runs)
            // holds only zeros, where no signature starts: the scan
            // follows the data, not the size.
            let to = (pos.saturating_add(vol.hole_at(pos)) / SECTOR * SECTOR).min(b);
            if to > pos {
                pos = to;
                continue;
            }
            let e = (pos + block).min(b);
            blocks.push((pos, e));
            pos = e;
        }
        let results: Vec<Result<Vec<Finding>>> = blocks
            .par_iter()
            .map(|&(s, e)| {
                let stop = (e + overlap).min(len);
                match mapped {
                    Some(all) => {
                        vol.prefetch(s, stop - s);
                        // ok: s < stop <= len, the mapping's length
                        let found = scan_block(
                            vol,
                            opts.signatures,
                            &d,
                            s,
                            e,
                            &all[s as usize..stop as usize],
                        );
                        // Scanned: out of the process, so a pass over a
                        // disk keeps its memory flat. The overlap past `e`
                        // too: the next block may have been scanned and
                        // released already (blocks run in parallel), and
                        // its pages would stay.
                        vol.release(s, stop - s);
                        Ok(found)
                    }
                    None => BUF.with(|b| {
                        let mut buf = b.borrow_mut();
                        buf.resize((stop - s) as usize, 0);
                        vol.read_at(s, &mut buf)?;
                        Ok(scan_block(vol, opts.signatures, &d, s, e, &buf))
                    }),
                }
            })
            .collect();
        let before = skip_to;
        for (r, &(_, e)) in results.into_iter().zip(&blocks) {
            for f in r? {
                if f.at < skip_to {
                    continue;
                }
                let jump = opts.skip_inside.then(|| f.skip_end(len)).flatten();
                if !sink.finding(f) {
                    return Ok(());
                }
                if let Some(j) = jump {
                    skip_to = skip_to.max(j);
                }
            }
            sink.progress(e.max(skip_to).min(b) - a, total);
        }
        window = (window * 2).min(most);
        if skip_to > before && skip_to > pos {
            pos = (skip_to / SECTOR * SECTOR).min(b);
            window = 1;
        }
    }
    Ok(())
}
