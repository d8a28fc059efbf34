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
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            range: None,
            block: 8 << 20,
            signatures: SIGNATURES,
            no_zero_copy: false,
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
        let sector = &bytes[off..];
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
    let blocks: Vec<(u64, u64)> = (0..(b - a).div_ceil(block))
        .map(|i| (a + i * block, (a + (i + 1) * block).min(b)))
        .collect();
    let window = rayon::current_num_threads().max(1) * 4;
    let total = b - a;
    for w in blocks.chunks(window) {
        let results: Vec<Result<Vec<Finding>>> = w
            .par_iter()
            .map(|&(s, e)| {
                let stop = (e + overlap).min(len);
                match mapped {
                    Some(all) => {
                        vol.prefetch(s, stop - s);
                        // ok: s < stop <= len, the mapping's length
                        Ok(scan_block(
                            vol,
                            opts.signatures,
                            &d,
                            s,
                            e,
                            &all[s as usize..stop as usize],
                        ))
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
        for (r, &(_, e)) in results.into_iter().zip(w) {
            for f in r? {
                if !sink.finding(f) {
                    return Ok(());
                }
            }
            sink.progress(e - a, total);
        }
    }
    Ok(())
}
