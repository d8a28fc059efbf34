//! A full scrub of an assembled array's members: every stripe row checked
//! against its parity (XOR for RAID4/5, P and Q for RAID6) or its copies
//! (RAID1, RAID10), as md's `check` does on a running array, but offline
//! and saying where.
//!
//! Rows are chunk-sized stripe rows counted from the start of each member's
//! data area (row `r` is member bytes `r * chunk ..` on every member). RAID1
//! has no chunk: its rows are md's resync blocks of 64 KiB
//! ([`MD_RESYNC_BYTES`]). Member offsets in reports are from the start of
//! the member's data area too, as md's own "mismatch sector in range"
//! messages count them.
//!
//! What is told of a mismatch:
//! - RAID6 locates the single bad member of a row as mdadm's `raid6check`
//!   does (raid6check.c, `raid6_collect`): per byte, with Pd = P ^ P' and
//!   Qd = Q ^ Q' (P', Q' computed from the data), Pd alone blames P, Qd alone
//!   blames Q, and both blame the data block in syndrome slot
//!   z = log_g(Qd / Pd). When every inconsistent byte of the row blames the
//!   same member it is named; otherwise the member is unknown.
//! - RAID4/5 parity cannot tell which member is wrong: the member is unknown.
//! - Mirrors (RAID1, RAID10): with three or more copies, the one copy that
//!   disagrees with all the others (which agree) is named; with two it
//!   cannot be told.
//!
//! [`Report::mismatch_sectors`] counts as md's `mismatch_cnt` does after
//! `echo check > sync_action`; see [`md_count_rule`].
//!
//! Memory stays flat in the array's size: rows are checked in batches of
//! pieces of at most [`SEGMENT`] bytes per member (a chunk larger than
//! that is cut into column segments: the parity equations hold byte by
//! byte), in parallel with rayon, with a budget for the batch.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use super::map::{ParityGeometry, Raid10Geometry};
use super::metadata::Level;
use super::model::{ArrayModel, Placement};
use super::parity;
use super::volume::ArrayVolume;
use crate::error::{Error, Result};
use crate::io::{bytes_at, check_range, Slice, Volume, VolumeRef};

/// md's unit of parity checking: one `stripe_head`, STRIPE_SIZE bytes of
/// each member at the same member offset (raid5.h: `STRIPE_SIZE` is
/// PAGE_SIZE unless `stripe_size` is set, 4 KiB on x86).
pub const MD_STRIPE_BYTES: u64 = 4096;

/// md's unit of mirror checking: one resync request (raid1-10.c:
/// `RESYNC_BLOCK_SIZE` = 64 KiB, `RESYNC_PAGES` pages).
pub const MD_RESYNC_BYTES: u64 = 64 * 1024;

/// The most bytes of one member looked at in one piece of work (a chunk
/// larger than this is checked in column segments).
pub const SEGMENT: u64 = 1 << 20;

/// Mismatches listed at most; more are counted (in
/// [`Report::unlisted`]) but not kept, so a member of garbage does not
/// make a report as large as the array.
pub const MAX_LISTED: usize = 100_000;

/// Read errors kept at most (the rest are counted).
const MAX_ERRORS: usize = 1000;

/// md's rule for `mismatch_cnt` (the `resync_mismatches` counter), which
/// [`Report::mismatch_sectors`] follows:
///
/// - RAID4/5: drivers/md/raid5.c `handle_parity_checks5`, state
///   `check_state_check_result`: when the P check of a stripe_head fails,
///   `atomic64_add(RAID5_STRIPE_SECTORS(conf), &mddev->resync_mismatches)`:
///   8 sectors per 4 KiB of member offset ([`MD_STRIPE_BYTES`]) whose row
///   does not verify, whatever the number of bad bytes or members in it.
/// - RAID6: raid5.c `handle_parity_checks6`: the same 8 sectors once per
///   stripe_head when P or Q (or both) fail (with one member failed, the
///   syndrome that remains).
/// - RAID1: drivers/md/raid1.c `process_checks`: each resync request
///   (`r1_bio`, [`MD_RESYNC_BYTES`] from sector 0 on, shorter at the end)
///   is compared page by page with the first mirror that read it
///   (`primary`); every other mirror that differs anywhere adds the
///   request's sectors (`atomic64_add(r1_bio->sectors, ...)`).
/// - RAID10: drivers/md/raid10.c `sync_request_write`: the same with each
///   request over array sectors, at most 64 KiB and never past a chunk's
///   end (`raid10_sync_request`: `r10_bio->sectors = (sector_nr |
///   chunk_mask) - sector_nr + 1`, then at most `RESYNC_PAGES`); every copy
///   that differs from the first readable copy adds the request's sectors.
///
/// Limits: a stripe_size other than 4 KiB, or an md bitmap chunk smaller
/// than 64 KiB on RAID1 (it ends requests early), changes md's count.
///
/// md itself is the oracle: `recover-cli/tests/check.rs`
/// (`mismatch_sectors_are_mds_own_count`) compares this count with the
/// `mismatch_cnt` the real driver's `check` gave on the same damaged
/// members (fixtures/lab/mismatch.py: RAID4/5/6, RAID1 of 2 and 3 copies,
/// RAID10 near, far, and near=3 of 32 KiB chunks).
pub fn md_count_rule() -> &'static str {
    "raid4/5/6: 8 sectors per 4 KiB of member offset whose row fails (raid5.c handle_parity_checks5/6); \
     raid1/10: each 64 KiB resync request (not past a chunk end on raid10) adds its sectors once per copy \
     differing from the first (raid1.c process_checks, raid10.c sync_request_write)"
}

/// How to scrub.
#[derive(Debug, Clone)]
pub struct Options {
    /// Slots to treat as missing (members the user knows to be bad).
    pub leave_out: Vec<u32>,
    /// Bytes of member data held at once (a batch); at least one piece.
    pub budget: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            leave_out: Vec::new(),
            budget: 128 << 20,
        }
    }
}

/// One copy's place on its member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The member's slot.
    pub slot: u32,
    /// Offset in the member's data area.
    pub member_offset: u64,
}

/// One inconsistent row (parity), chunk (RAID10) or resync block (RAID1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The row: chunk-sized stripe row from the start of the members' data
    /// areas (RAID1: 64 KiB block). For mirrors, the row of the named copy,
    /// or of the first copy when none is named.
    pub row: u64,
    /// Where the row's (or the chunk's) data starts in the array.
    pub array_offset: u64,
    /// The array bytes the row holds (several runs for RAID50/60 spans).
    pub array_ranges: Vec<Range<u64>>,
    /// The member found at fault, by slot; `None` when parity or two
    /// copies cannot tell.
    pub slot: Option<u32>,
    /// The first inconsistent byte, in the data area of the member at
    /// fault (of every member of the row when none is named; of the first
    /// copy for mirrors).
    pub member_offset: u64,
    /// Mirrors: where every copy checked lies.
    pub copies: Vec<Place>,
    /// The array bytes a read may get wrong: all of the row's data when
    /// the member at fault is not known; when it is, only its chunk, and
    /// nothing when it holds P or Q (the data is intact). Mirrors: the
    /// bytes, whichever copy a read takes.
    pub suspect: Vec<Range<u64>>,
}

/// What a scrub found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The array's level.
    pub level: Level,
    /// False for linear and RAID0: nothing to check against.
    pub redundancy: bool,
    /// Rows checked (in whole or in part).
    pub rows: u64,
    /// Rows the array has.
    pub total_rows: u64,
    /// Inconsistent rows, in order (at most [`MAX_LISTED`]).
    pub mismatches: Vec<Mismatch>,
    /// Inconsistent rows found past [`MAX_LISTED`].
    pub unlisted: u64,
    /// The count md's `mismatch_cnt` would show (512-byte sectors), by
    /// [`md_count_rule`].
    pub mismatch_sectors: u64,
    /// What could not be checked, and why.
    pub unchecked: Vec<String>,
    /// Reads that failed (the pieces they belong to were not checked).
    pub read_errors: Vec<String>,
    /// Member bytes read.
    pub bytes_read: u64,
}

impl Report {
    /// True when everything checked agreed and every read succeeded.
    pub fn consistent(&self) -> bool {
        self.mismatches.is_empty() && self.unlisted == 0 && self.read_errors.is_empty()
    }
}

/// Which member a piece of evidence blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// This slot.
    Member(u32),
    /// Evidence that cannot name one member (RAID5, two copies, or members
    /// disagreeing).
    Unknown,
}

fn combine(a: Option<Verdict>, b: Verdict) -> Verdict {
    match a {
        None => b,
        Some(a) if a == b => a,
        Some(_) => Verdict::Unknown,
    }
}

/// What one piece of work found in one row/chunk/block.
#[derive(Debug, Clone)]
struct Finding {
    /// Parity: the row; RAID10: the array chunk; RAID1: the 64 KiB block.
    key: u64,
    /// First inconsistent byte: within the chunk (parity, RAID10), or
    /// the member offset (RAID1).
    first: u64,
    verdict: Verdict,
}

/// What one piece of work found.
#[derive(Debug, Default)]
struct Out {
    findings: Vec<Finding>,
    /// md's count for mirrors (exact per request).
    sectors: u64,
    /// Parity: bad md stripe_heads as (first, last, count) of their
    /// indices (member offset / 4 KiB), so pieces that share one (chunks
    /// below 4 KiB) count it once.
    pages: Option<(u64, u64, u64)>,
    /// Nothing could be checked here (too few members).
    unchecked: bool,
    error: Option<String>,
    bytes: u64,
}

/// One piece of work: `len` bytes at `w` of row/chunk/block `key`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    key: u64,
    w: u64,
    len: u64,
}

/// Buffers reused by one worker.
#[derive(Default)]
struct Scratch {
    p: Vec<u8>,
    q: Vec<u8>,
    zero: Vec<u8>,
}

fn sized(v: &mut Vec<u8>, len: usize) -> &mut [u8] {
    v.clear();
    v.resize(len, 0);
    &mut v[..]
}

fn all_zero(b: &[u8]) -> bool {
    // Folded in blocks so the compiler vectorizes; the early exit per
    // block keeps a mismatch cheap to find.
    b.chunks(256)
        .all(|c| c.iter().fold(0u8, |a, &x| a | x) == 0)
}

/// The data blocks of a stripe by Q slot, highest first (None: a slot
/// no block fills, which DDF leaves between physical disks), for
/// [`consistent`]; for RAID5 (no slots), the blocks in order.
fn by_slot<'b>(q_slot: &[u32], data: &'b [Option<Cow<'_, [u8]>>]) -> Vec<Option<&'b [u8]>> {
    if q_slot.len() != data.len() {
        return data.iter().map(|d| d.as_deref()).collect();
    }
    let top = q_slot.iter().copied().max().unwrap_or(0);
    (0..=top)
        .rev()
        .map(|slot| {
            let i = q_slot.iter().position(|&x| x == slot)?;
            data.get(i)?.as_deref()
        })
        .collect()
}

/// True when P (and Q, for RAID6) equal what the data blocks give, over
/// every member present. Recomputed 4 KiB at a time: the running P and Q
/// stay in the core's first-level cache and each member's bytes are read
/// once, where whole-piece passes go out to the second level once per
/// block and per syndrome. A piece found inconsistent is gone through
/// again by the full path, which finds the bytes and the member.
fn consistent(slots: &[Option<&[u8]>], p: &[u8], q: Option<&[u8]>, len: usize) -> bool {
    const TILE: usize = 4096;
    static ZERO: [u8; TILE] = [0; TILE];
    let mut pt = [0u8; TILE];
    let mut qt = [0u8; TILE];
    let mut at = 0;
    while at < len {
        let n = TILE.min(len - at);
        // ok: n <= TILE
        let (Some(pb), pt, qt) = (p.get(at..at + n), &mut pt[..n], &mut qt[..n]) else {
            return false;
        };
        pt.copy_from_slice(pb);
        match q {
            None => {
                for d in slots.iter().flatten() {
                    let Some(db) = d.get(at..at + n) else {
                        return false;
                    };
                    parity::xor_into(pt, db);
                }
            }
            Some(qv) => {
                qt.fill(0);
                for d in slots {
                    match d.map(|d| d.get(at..at + n)) {
                        Some(Some(db)) => parity::pq_step(qt, pt, db),
                        Some(None) => return false,
                        None => parity::syndrome_step(qt, &ZERO[..n]), // ok: n <= TILE
                    }
                }
                let Some(qb) = qv.get(at..at + n) else {
                    return false;
                };
                parity::xor_into(qt, qb);
                if !all_zero(qt) {
                    return false;
                }
            }
        }
        if !all_zero(pt) {
            return false;
        }
        at += n;
    }
    true
}

/// How a placement is checked.
enum Kind<'a> {
    Parity(&'a ParityGeometry),
    Mirror,
    Raid10(&'a Raid10Geometry),
}

struct Ctx<'a> {
    kind: Kind<'a>,
    chunk: u64,
    member_size: u64,
    size: u64,
    /// Each slot's data area (None: missing or left out).
    data: Vec<Option<VolumeRef>>,
}

impl<'a> Ctx<'a> {
    /// The check of `placement` (a span's own, for RAID50/60); `None` for
    /// placements with no redundancy.
    fn new(
        placement: &'a Placement,
        model: &ArrayModel,
        data: Vec<Option<VolumeRef>>,
    ) -> Option<Self> {
        let (kind, chunk) = match placement {
            Placement::Parity(g) => (Kind::Parity(g), model.chunk),
            Placement::Raid10(g) => (Kind::Raid10(g), model.chunk),
            Placement::Mirror => (Kind::Mirror, MD_RESYNC_BYTES),
            _ => return None,
        };
        Some(Ctx {
            kind,
            chunk,
            member_size: model.member_size,
            size: model.size,
            data,
        })
    }

    fn read(&self, slot: u32, off: u64, len: u64) -> Result<Option<Cow<'_, [u8]>>> {
        let Some(v) = self.data.get(slot as usize).and_then(Option::as_ref) else {
            return Ok(None);
        };
        v.prefetch(off, len);
        // ok: len <= SEGMENT, a usize
        bytes_at(v.as_ref(), off, len as usize).map(Some)
    }

    fn present(&self, slot: u32) -> bool {
        self.data.get(slot as usize).is_some_and(Option::is_some)
    }

    /// Pieces of work per row/chunk (a chunk larger than [`SEGMENT`] is
    /// cut into column segments).
    fn per_key(&self) -> u64 {
        self.chunk.div_ceil(SEGMENT).max(1)
    }

    /// How many pieces of work there are, and the rows the array has.
    fn piece_count(&self) -> (u64, u64) {
        match &self.kind {
            Kind::Parity(_) => {
                let rows = self.member_size / self.chunk;
                (rows.saturating_mul(self.per_key()), rows)
            }
            Kind::Raid10(g) => (
                g.array_chunks.saturating_mul(self.per_key()),
                self.member_size / self.chunk,
            ),
            Kind::Mirror => (
                self.member_size.div_ceil(SEGMENT),
                self.member_size.div_ceil(MD_RESYNC_BYTES),
            ),
        }
    }

    /// Piece `i`, computed rather than listed, so the list of work is no
    /// larger for a large array.
    fn piece(&self, i: u64) -> Piece {
        match &self.kind {
            // Mirror pieces are whole 64 KiB blocks (SEGMENT is a
            // multiple), so a resync request never straddles two.
            Kind::Mirror => {
                let w = i * SEGMENT;
                Piece {
                    key: w / MD_RESYNC_BYTES,
                    w,
                    len: (self.member_size - w).min(SEGMENT),
                }
            }
            _ => {
                let k = self.per_key();
                let w = (i % k) * SEGMENT;
                Piece {
                    key: i / k,
                    w,
                    len: (self.chunk - w).min(SEGMENT),
                }
            }
        }
    }

    /// The member bytes pieces `a..b` read, where they lie in order on
    /// the members (parity rows, mirror blocks; not RAID10's array chunks,
    /// whose copies are spread).
    fn member_span(&self, a: u64, b: u64) -> Option<Range<u64>> {
        if a >= b {
            return None;
        }
        let (first, last) = (self.piece(a), self.piece(b - 1));
        let end = |p: Piece| p.w.saturating_add(p.len);
        match self.kind {
            Kind::Parity(_) => Some(
                first.key.saturating_mul(self.chunk) + first.w
                    ..last
                        .key
                        .saturating_mul(self.chunk)
                        .saturating_add(end(last)),
            ),
            Kind::Mirror => Some(first.w..end(last)),
            Kind::Raid10(_) => None,
        }
    }

    /// Member bytes read per byte of a piece (for progress).
    fn fan_out(&self) -> u64 {
        match &self.kind {
            Kind::Raid10(g) => u64::from(g.near * g.far),
            _ => self.data.iter().flatten().count() as u64,
        }
    }

    fn check(&self, p: Piece, s: &mut Scratch) -> Out {
        let r = match &self.kind {
            Kind::Parity(g) => self.check_parity(g, p, s),
            Kind::Mirror => self.check_mirror(p),
            Kind::Raid10(g) => self.check_raid10(g, p),
        };
        r.unwrap_or_else(|e| Out {
            error: Some(e.to_string()),
            ..Default::default()
        })
    }

    fn check_parity(&self, g: &ParityGeometry, p: Piece, s: &mut Scratch) -> Result<Out> {
        let st = g.stripe(p.key);
        let moff = p.key * self.chunk + p.w;
        let len = p.len as usize; // ok: <= SEGMENT
        let mut out = Out::default();
        let missing_data: Vec<usize> = (0..st.data.len())
            .filter(|&i| !self.present(st.data[i]))
            .collect();
        let p_ok = self.present(st.p);
        let q_ok = st.q.is_some_and(|q| self.present(q));
        let lost = missing_data.len() + usize::from(!p_ok) + usize::from(st.q.is_some() && !q_ok);
        let can = if st.q.is_some() { 1 } else { 0 };
        if lost > can {
            out.unchecked = true;
            return Ok(out);
        }
        let mut data: Vec<Option<Cow<'_, [u8]>>> = Vec::with_capacity(st.data.len());
        for &m in &st.data {
            data.push(self.read(m, moff, p.len)?);
        }
        let pp = self.read(st.p, moff, p.len)?;
        let qq = match st.q {
            Some(q) => self.read(q, moff, p.len)?,
            None => None,
        };
        out.bytes = p.len * (st.data.len() + 2 - lost - usize::from(st.q.is_none())) as u64;
        if lost == 0 {
            if let Some(pv) = &pp {
                let slots = by_slot(&st.q_slot, &data);
                if consistent(&slots, pv, qq.as_deref(), len) {
                    return Ok(out);
                }
            }
        }
        // P': the XOR of the data present (with P when present, making it
        // P's difference; with one data block missing, that block rebuilt).
        let pd = sized(&mut s.p, len);
        let mut have_p = false;
        if let Some(pv) = &pp {
            pd.copy_from_slice(pv);
            have_p = true;
        }
        for d in data.iter().flatten() {
            if have_p {
                parity::xor_into(pd, d);
            } else {
                pd.copy_from_slice(d);
                have_p = true;
            }
        }
        // Q's difference: Q ^ the syndrome of the data (Horner's rule from
        // the highest slot down, as lib/raid6 computes it); a missing data
        // block enters as its rebuilt value (pd, which is then not a
        // difference but the block).
        let qdiff = match (&qq, st.q) {
            (Some(qv), Some(_)) => {
                let top = st.q_slot.iter().copied().max().unwrap_or(0);
                // Zeros for the slots no data block fills (DDF numbers
                // slots by physical disk, with gaps); never written.
                if s.zero.len() < len {
                    s.zero.resize(len, 0);
                }
                let qd = sized(&mut s.q, len);
                for slot in (0..=top).rev() {
                    match st.q_slot.iter().position(|&x| x == slot) {
                        Some(i) => match &data[i] {
                            Some(d) => parity::syndrome_step(qd, d),
                            None => parity::syndrome_step(qd, &s.zero[..len]),
                        },
                        None => parity::syndrome_step(qd, &s.zero[..len]),
                    }
                }
                if let Some(&i) = missing_data.first() {
                    parity::mul_xor_into(qd, &s.p[..len], parity::gf_exp(st.q_slot[i]));
                }
                parity::xor_into(qd, qv);
                true
            }
            _ => false,
        };
        // Which differences are evidence: P's when P was checked against
        // complete data; Q's when Q was there.
        let p_evidence = pp.is_some() && missing_data.is_empty();
        let pdz = !p_evidence || all_zero(&s.p[..len]);
        let qdz = !qdiff || all_zero(&s.q[..len]);
        if pdz && qdz {
            return Ok(out);
        }
        let pdiff: &[u8] = if p_evidence { &s.p[..len] } else { &[] };
        let qd: &[u8] = if qdiff { &s.q[..len] } else { &[] };
        let bad =
            |i: usize| pdiff.get(i).is_some_and(|&b| b != 0) || qd.get(i).is_some_and(|&b| b != 0);
        // md's stripe_heads (4 KiB of member offset) with a bad byte.
        let mut first_page = None;
        let mut last_page = 0;
        let mut pages = 0;
        let mut i = 0usize;
        while i < len {
            let page = (moff + i as u64) / MD_STRIPE_BYTES;
            let end = (((page + 1) * MD_STRIPE_BYTES - moff) as usize).min(len);
            let hit = pdiff.get(i..end).is_some_and(|b| !all_zero(b))
                || qd.get(i..end).is_some_and(|b| !all_zero(b));
            if hit {
                first_page.get_or_insert(page);
                last_page = page;
                pages += 1;
            }
            i = end;
        }
        out.pages = first_page.map(|f| (f, last_page, pages));
        let first = (0..len).find(|&i| bad(i)).unwrap_or(0);
        // raid6check's location: only with every member present (with one
        // missing, one equation is left and it cannot say which).
        let verdict = if p_evidence && qdiff && lost == 0 {
            let mut v: Option<Verdict> = None;
            for i in first..len {
                let (a, b) = (pdiff[i], qd[i]);
                let this = match (a != 0, b != 0) {
                    (false, false) => continue,
                    (true, false) => Verdict::Member(st.p),
                    (false, true) => Verdict::Member(st.q.unwrap_or(st.p)),
                    (true, true) => {
                        let z = (u32::from(parity::gf_log(b)) + 255 - u32::from(parity::gf_log(a)))
                            % 255;
                        match st.q_slot.iter().position(|&x| x == z) {
                            Some(d) => Verdict::Member(st.data[d]),
                            None => Verdict::Unknown,
                        }
                    }
                };
                let c = combine(v, this);
                v = Some(c);
                if c == Verdict::Unknown {
                    break;
                }
            }
            v.unwrap_or(Verdict::Unknown)
        } else {
            Verdict::Unknown
        };
        out.findings.push(Finding {
            key: p.key,
            first: p.w + first as u64,
            verdict,
        });
        Ok(out)
    }

    /// Compares copies (the first is md's reference) over md's resync
    /// requests of `window` bytes: adds md's count to `out`, and returns
    /// the first differing byte and the verdict, if any differ.
    fn compare_copies(
        copies: &[(u32, Cow<'_, [u8]>)],
        window: u64,
        out: &mut Out,
    ) -> Option<(usize, Verdict)> {
        let len = copies.first()?.1.len();
        let mut first: Option<usize> = None;
        let mut verdict: Option<Verdict> = None;
        let w = (window as usize).max(1);
        let mut at = 0;
        while at < len {
            let end = (at + w).min(len);
            // ok: every copy was read `len` bytes long (the caller's one length), end <= len
            let r = &copies[0].1[at..end]; // ok: see above
            let differs: Vec<bool> = copies[1..].iter().map(|(_, c)| &c[at..end] != r).collect(); // ok: see above
            let n = differs.iter().filter(|&&d| d).count() as u64;
            if n > 0 {
                out.sectors += n * ((end - at) as u64).div_ceil(512);
                for (k, _) in differs.iter().enumerate().filter(|(_, d)| **d) {
                    let c = &copies[k + 1].1[at..end]; // ok: k + 1 < copies.len(), end <= len
                    if let Some(i) = r.iter().zip(c).position(|(a, b)| a != b) {
                        first = Some(first.map_or(at + i, |f| f.min(at + i)));
                    }
                }
                // The odd one out: one copy against all the others, which agree.
                let v = if copies.len() < 3 {
                    Verdict::Unknown
                } else if n == 1 {
                    let k = differs.iter().position(|&d| d).unwrap_or(0);
                    Verdict::Member(copies[k + 1].0)
                } else if n as usize == copies.len() - 1 && {
                    let first = &copies[1].1[at..end]; // ok: len >= 3 here, end <= len
                    copies[2..].iter().all(|(_, c)| &c[at..end] == first) // ok: as above
                } {
                    Verdict::Member(copies[0].0)
                } else {
                    Verdict::Unknown
                };
                verdict = Some(combine(verdict, v));
            }
            at = end;
        }
        Some((first?, verdict.unwrap_or(Verdict::Unknown)))
    }

    fn check_mirror(&self, p: Piece) -> Result<Out> {
        let mut out = Out::default();
        let mut copies = Vec::new();
        for slot in 0..self.data.len() as u32 {
            if let Some(b) = self.read(slot, p.w, p.len)? {
                copies.push((slot, b));
            }
        }
        out.bytes = p.len * copies.len() as u64;
        if copies.len() < 2 {
            out.unchecked = true;
            return Ok(out);
        }
        // One finding per 64 KiB block.
        let mut at = 0u64;
        while at < p.len {
            let end = (at + MD_RESYNC_BYTES).min(p.len);
            let sub: Vec<(u32, Cow<'_, [u8]>)> = copies
                .iter()
                .map(|(s, b)| (*s, Cow::Borrowed(&b[at as usize..end as usize])))
                .collect();
            if let Some((i, v)) = Self::compare_copies(&sub, MD_RESYNC_BYTES, &mut out) {
                out.findings.push(Finding {
                    key: (p.w + at) / MD_RESYNC_BYTES,
                    first: p.w + at + i as u64,
                    verdict: v,
                });
            }
            at = end;
        }
        Ok(out)
    }

    fn check_raid10(&self, g: &Raid10Geometry, p: Piece) -> Result<Out> {
        let mut out = Out::default();
        let mut copies = Vec::new();
        for (d, mc) in g.copies(p.key) {
            if let Some(b) = self.read(d, mc * self.chunk + p.w, p.len)? {
                copies.push((d, b));
            }
        }
        out.bytes = p.len * copies.len() as u64;
        if copies.len() < 2 {
            out.unchecked = true;
            return Ok(out);
        }
        let window = MD_RESYNC_BYTES.min(self.chunk);
        if let Some((i, v)) = Self::compare_copies(&copies, window, &mut out) {
            out.findings.push(Finding {
                key: p.key,
                first: p.w + i as u64,
                verdict: v,
            });
        }
        Ok(out)
    }

    /// A finding in report terms.
    fn mismatch(&self, f: &Finding) -> Mismatch {
        let slot = match f.verdict {
            Verdict::Member(m) => Some(m),
            Verdict::Unknown => None,
        };
        let clamp = |r: Range<u64>| r.start.min(self.size)..r.end.min(self.size);
        match &self.kind {
            Kind::Parity(g) => {
                let row_bytes = self.chunk * u64::from(g.data_disks());
                let start = f.key * row_bytes;
                let suspect = match slot {
                    None => vec![clamp(start..start + row_bytes)],
                    Some(m) => match g.stripe(f.key).data.iter().position(|&d| d == m) {
                        Some(i) => {
                            let at = start + i as u64 * self.chunk;
                            vec![clamp(at..at + self.chunk)]
                        }
                        None => Vec::new(),
                    },
                };
                Mismatch {
                    row: f.key,
                    array_offset: start,
                    array_ranges: vec![clamp(start..start + row_bytes)],
                    slot,
                    member_offset: f.key * self.chunk + f.first,
                    copies: Vec::new(),
                    suspect,
                }
            }
            Kind::Mirror => {
                let start = f.key * MD_RESYNC_BYTES;
                Mismatch {
                    row: f.key,
                    array_offset: start,
                    array_ranges: vec![clamp(start..start + MD_RESYNC_BYTES)],
                    suspect: vec![clamp(start..start + MD_RESYNC_BYTES)],
                    slot,
                    member_offset: f.first,
                    copies: (0..self.data.len() as u32)
                        .filter(|&s| self.present(s))
                        .map(|s| Place {
                            slot: s,
                            member_offset: f.first,
                        })
                        .collect(),
                }
            }
            Kind::Raid10(g) => {
                let copies: Vec<Place> = g
                    .copies(f.key)
                    .into_iter()
                    .filter(|(d, _)| self.present(*d))
                    .map(|(d, mc)| Place {
                        slot: d,
                        member_offset: mc * self.chunk + f.first,
                    })
                    .collect();
                let at = copies
                    .iter()
                    .find(|c| Some(c.slot) == slot)
                    .or(copies.first())
                    .map_or(0, |c| c.member_offset);
                let start = f.key * self.chunk;
                Mismatch {
                    row: at / self.chunk,
                    array_offset: start,
                    array_ranges: vec![clamp(start..start + self.chunk)],
                    suspect: vec![clamp(start..start + self.chunk)],
                    slot,
                    member_offset: at,
                    copies,
                }
            }
        }
    }
}

fn data_volumes(model: &ArrayModel, leave_out: &[u32]) -> Vec<Option<VolumeRef>> {
    model
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let m = m.as_ref().filter(|_| !leave_out.contains(&(i as u32)))?;
            let len = model
                .member_size
                .min(m.volume.len().saturating_sub(m.data_offset));
            let v: VolumeRef = Arc::new(Slice::new(
                m.volume.clone(),
                m.data_offset,
                len,
                m.name.clone(),
            ));
            Some(v)
        })
        .collect()
}

/// Scrubs `model`'s members: every row checked, `progress(done, total)`
/// told the member bytes read so far. Slots in `opts.leave_out` are taken
/// as missing.
pub fn scrub(
    model: &ArrayModel,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report> {
    let mut report = Report {
        level: model.level,
        redundancy: true,
        rows: 0,
        total_rows: 0,
        mismatches: Vec::new(),
        unlisted: 0,
        mismatch_sectors: 0,
        unchecked: Vec::new(),
        read_errors: Vec::new(),
        bytes_read: 0,
    };
    let data = data_volumes(model, &opts.leave_out);
    let missing: Vec<u32> = (0..data.len() as u32)
        .filter(|&i| data[i as usize].is_none())
        .collect();
    if !missing.is_empty() {
        report.unchecked.push(format!(
            "slot(s) {missing:?} missing or left out: only what the others still cover is checked"
        ));
    }
    match &model.placement {
        Placement::Linear | Placement::Raid0 { .. } => {
            report.redundancy = false;
            report.unchecked.push(format!(
                "{} has no redundancy: there is nothing to check its data against",
                model.level.as_str()
            ));
            Ok(report)
        }
        Placement::Parity(_) | Placement::Mirror | Placement::Raid10(_) => {
            let ctx = Ctx::new(&model.placement, model, data)
                .ok_or_else(|| Error::geometry("not a redundant placement"))?;
            let (rows, total) = run(&ctx, opts, progress, &mut report, &|m| m)?;
            report.rows = rows;
            report.total_rows = total;
            Ok(report)
        }
        Placement::Spans {
            count,
            per_span,
            inner,
        } => {
            // Each span is an array of its own over per_span slots; its
            // chunk c is the array's chunk c * count + span. The spans
            // share the members' rows.
            let k = u64::from(*count);
            let chunk = model.chunk;
            let mut rows: Option<u64> = None;
            for s in 0..*count {
                let lo = (s * per_span) as usize;
                let hi = lo + *per_span as usize;
                let sub_data = data.get(lo..hi).map(<[_]>::to_vec).unwrap_or_default();
                let base = s * per_span;
                let remap = move |mut m: Mismatch| -> Mismatch {
                    let to_array = |x: u64| ((x / chunk) * k + u64::from(s)) * chunk + x % chunk;
                    let remap_ranges = |rs: &[Range<u64>]| {
                        let mut ranges = Vec::new();
                        for r in rs {
                            let mut at = r.start;
                            while at < r.end {
                                let n = (chunk - at % chunk).min(r.end - at);
                                ranges.push(to_array(at)..to_array(at) + n);
                                at += n;
                            }
                        }
                        ranges
                    };
                    m.array_offset = to_array(m.array_offset);
                    m.array_ranges = remap_ranges(&m.array_ranges);
                    m.suspect = remap_ranges(&m.suspect);
                    m.slot = m.slot.map(|x| x + base);
                    for c in &mut m.copies {
                        c.slot += base;
                    }
                    m
                };
                let mut sub = model.clone();
                sub.size = model.size / k;
                let Some(ctx) = Ctx::new(inner, &sub, sub_data) else {
                    report.unchecked.push(format!(
                        "span {s} has no redundancy: there is nothing to check it against"
                    ));
                    continue;
                };
                let (checked, total) = run(&ctx, opts, progress, &mut report, &remap)?;
                rows = Some(rows.map_or(checked, |r| r.min(checked)));
                report.total_rows = report.total_rows.max(total);
            }
            report.rows = rows.unwrap_or(0);
            report.mismatches.sort_by_key(|m| (m.row, m.array_offset));
            Ok(report)
        }
    }
}

/// Checks every piece of `ctx` in bounded parallel batches, merging
/// findings (in order) into `report`. Returns (rows checked, rows).
fn run(
    ctx: &Ctx<'_>,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
    report: &mut Report,
    remap: &dyn Fn(Mismatch) -> Mismatch,
) -> Result<(u64, u64)> {
    if ctx.chunk == 0 {
        return Err(Error::geometry("a striped array with a chunk of 0 bytes"));
    }
    let (count, rows) = ctx.piece_count();
    let fan = ctx.fan_out();
    let total = ctx.member_size.saturating_mul(ctx.data.len() as u64);
    // Bytes one piece holds at most (a chunk, or a segment of one).
    let piece_len = match ctx.kind {
        Kind::Mirror => SEGMENT,
        _ => ctx.chunk.min(SEGMENT),
    };
    let per_piece = (piece_len.saturating_mul(fan.max(1))) as usize;
    let batch =
        ((opts.budget / per_piece.max(1)) as u64).max(rayon::current_num_threads().max(1) as u64);
    let mut done = 0u64;
    let mut pending: Option<Finding> = None;
    let mut last_page: Option<u64> = None;
    let mut unchecked = 0u64;
    let flush = |f: Finding, report: &mut Report| {
        if report.mismatches.len() < MAX_LISTED {
            report.mismatches.push(remap(ctx.mismatch(&f)));
        } else {
            report.unlisted += 1;
        }
    };
    let mut start = 0u64;
    while start < count {
        let end = start.saturating_add(batch).min(count);
        let outs: Vec<(Piece, Out)> = (start..end)
            .into_par_iter()
            .map_init(Scratch::default, |s, i| {
                let p = ctx.piece(i);
                (p, ctx.check(p, s))
            })
            .collect();
        // Checked: out of the process (memory flat in the size of the
        // members).
        if let Some(r) = ctx.member_span(start, end) {
            for v in ctx.data.iter().flatten() {
                v.release(r.start, r.end - r.start);
            }
        }
        start = end;
        for (p, o) in outs {
            done = done.saturating_add(p.len.saturating_mul(fan));
            report.bytes_read += o.bytes;
            if o.unchecked || o.error.is_some() {
                unchecked += 1;
            }
            if let Some(e) = o.error {
                if report.read_errors.len() < MAX_ERRORS {
                    report.read_errors.push(e);
                }
            }
            report.mismatch_sectors += o.sectors;
            if let Some((first, last, n)) = o.pages {
                // Pieces of chunks under 4 KiB share md's stripe_heads.
                let dup = u64::from(last_page == Some(first));
                report.mismatch_sectors += (n - dup) * (MD_STRIPE_BYTES / 512);
                last_page = Some(last);
            }
            for f in o.findings {
                match pending.take() {
                    Some(mut q) if q.key == f.key => {
                        q.verdict = combine(Some(q.verdict), f.verdict);
                        q.first = q.first.min(f.first);
                        pending = Some(q);
                    }
                    Some(q) => {
                        flush(q, report);
                        pending = Some(f);
                    }
                    None => pending = Some(f),
                }
            }
        }
        progress(done.min(total), total);
    }
    if let Some(q) = pending {
        flush(q, report);
    }
    if unchecked > 0 {
        report.unchecked.push(match ctx.kind {
            Kind::Parity(_) => format!(
                "{unchecked} of {count} piece(s) of rows lack more members than parity covers, or could not be read: not checked"
            ),
            _ => format!("{unchecked} of {count} piece(s) have one copy left, or could not be read: not checked"),
        });
    }
    // Rows checked, in proportion to the pieces (a RAID10 piece is an
    // array chunk, not a row).
    let checked = if unchecked == 0 {
        rows
    } else {
        (u128::from(rows) * u128::from(count - unchecked) / u128::from(count)) as u64
    };
    Ok((checked, rows))
}

/// The array as it should read: [`ArrayVolume`] with the members left out
/// (`leave_out`, and the missing) rebuilt from parity or copies, and
/// every row whose bad member a scrub located read with that member left
/// out too (RAID6: rebuilt around it from P and Q; mirrors: from the
/// copies that agree). What `check --repair-to` writes.
pub struct Repaired {
    name: String,
    base: ArrayVolume,
    /// The array without each member at fault, by slot.
    without: Vec<(u32, ArrayVolume)>,
    /// Array ranges to read without a member, sorted.
    fixes: Vec<(Range<u64>, u32)>,
}

impl std::fmt::Debug for Repaired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repaired({}, {} fixes)", self.name, self.fixes.len())
    }
}

impl Repaired {
    /// `model` with `leave_out` taken as missing, and the rows of
    /// `report` whose member is known read without it. Fails when the
    /// members left out are more than the level can rebuild.
    pub fn new(name: &str, model: &ArrayModel, leave_out: &[u32], report: &Report) -> Result<Self> {
        let mut base_model = model.clone();
        for &s in leave_out {
            if let Some(m) = base_model.members.get_mut(s as usize) {
                *m = None;
            }
        }
        let base = ArrayVolume::new(name.to_string(), base_model.clone(), false)?;
        let mut without: Vec<(u32, ArrayVolume)> = Vec::new();
        let mut fixes = Vec::new();
        for m in &report.mismatches {
            let Some(slot) = m.slot.filter(|s| !leave_out.contains(s)) else {
                continue;
            };
            if !without.iter().any(|(s, _)| *s == slot) {
                let mut w = base_model.clone();
                if let Some(x) = w.members.get_mut(slot as usize) {
                    *x = None;
                }
                // Too much missing already to leave it out too: the row
                // stays as read.
                let Ok(v) = ArrayVolume::new(format!("{name} without slot {slot}"), w, false)
                else {
                    continue;
                };
                without.push((slot, v));
            }
            for r in &m.array_ranges {
                if r.start < r.end {
                    fixes.push((r.clone(), slot));
                }
            }
        }
        fixes.sort_by_key(|(r, _)| r.start);
        Ok(Repaired {
            name: name.to_string(),
            base,
            without,
            fixes,
        })
    }

    /// Array ranges read with a member left out.
    pub fn fixes(&self) -> &[(Range<u64>, u32)] {
        &self.fixes
    }
}

impl Volume for Repaired {
    fn len(&self) -> u64 {
        self.base.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let end = offset + buf.len() as u64;
        let mut at = offset;
        // The first fix that ends after `offset`.
        let mut i = self.fixes.partition_point(|(r, _)| r.end <= offset);
        while at < end {
            let (upto, vol): (u64, &dyn Volume) = match self.fixes.get(i) {
                Some((r, _)) if r.end <= at => {
                    // Overlapped by the one before.
                    i += 1;
                    continue;
                }
                Some((r, slot)) if r.start <= at => {
                    let v = self
                        .without
                        .iter()
                        .find(|(s, _)| s == slot)
                        .map_or(&self.base, |(_, v)| v);
                    i += 1;
                    (r.end.min(end), v)
                }
                Some((r, _)) => (r.start.min(end), &self.base),
                None => (end, &self.base),
            };
            let (a, b) = ((at - offset) as usize, (upto - offset) as usize);
            // ok: offset <= at < upto <= end = offset + buf.len()
            vol.read_at(at, &mut buf[a..b])?; // ok: see above
            at = upto;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn io_alignment(&self) -> u64 {
        self.base.io_alignment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use crate::raid::map::ParityAlgo;
    use crate::raid::model::{MemberData, Spec};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Bytes before each member's data area, so offsets are checked to be
    /// data-area relative.
    const DATA_OFFSET: u64 = 1024;

    /// A tiny deterministic generator (the content only has to differ).
    fn fill(seed: u64, buf: &mut [u8]) {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for b in buf {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }

    /// How the test arrays are laid out.
    #[derive(Debug, Clone)]
    enum Layout {
        Parity(u8, ParityAlgo),
        Mirror,
        Raid10(&'static str),
    }

    /// Consistent members (data areas) of an array of `disks` members with
    /// `rows` rows of `chunk` bytes.
    fn members(layout: &Layout, disks: u32, chunk: u64, rows: u64, seed: u64) -> Vec<Vec<u8>> {
        let size = (rows * chunk) as usize;
        let mut m = vec![vec![0u8; size]; disks as usize];
        let c = chunk as usize;
        match layout {
            Layout::Parity(level, algo) => {
                let g = ParityGeometry::new(*level, disks, *algo).unwrap();
                for r in 0..rows {
                    let st = g.stripe(r);
                    let at = r as usize * c;
                    let mut p = vec![0u8; c];
                    let mut q = vec![0u8; c];
                    for (i, &d) in st.data.iter().enumerate() {
                        let mut b = vec![0u8; c];
                        fill(seed ^ (r << 8) ^ i as u64, &mut b);
                        parity::xor_into(&mut p, &b);
                        if let Some(&slot) = st.q_slot.get(i) {
                            parity::mul_xor_into(&mut q, &b, parity::gf_exp(slot));
                        }
                        m[d as usize][at..at + c].copy_from_slice(&b);
                    }
                    m[st.p as usize][at..at + c].copy_from_slice(&p);
                    if let Some(qm) = st.q {
                        m[qm as usize][at..at + c].copy_from_slice(&q);
                    }
                }
            }
            Layout::Mirror => {
                let mut b = vec![0u8; size];
                fill(seed, &mut b);
                for x in &mut m {
                    x.copy_from_slice(&b);
                }
            }
            Layout::Raid10(words) => {
                let word = crate::raid::model::raid10_word(words).unwrap();
                let g = Raid10Geometry::from_md(disks, word, rows).unwrap();
                for ac in 0..g.array_chunks {
                    let mut b = vec![0u8; c];
                    fill(seed ^ ac, &mut b);
                    for (d, mc) in g.copies(ac) {
                        let at = mc as usize * c;
                        m[d as usize][at..at + c].copy_from_slice(&b);
                    }
                }
            }
        }
        m
    }

    fn model(layout: &Layout, chunk: u64, rows: u64, data: &[Option<Vec<u8>>]) -> ArrayModel {
        let (level, words) = match layout {
            Layout::Parity(4, _) => (Level::Raid4, String::new()),
            Layout::Parity(5, a) => (Level::Raid5, a.name().to_string()),
            Layout::Parity(_, a) => (Level::Raid6, a.name().to_string()),
            Layout::Mirror => (Level::Raid1, String::new()),
            Layout::Raid10(w) => (Level::Raid10, w.to_string()),
        };
        let members = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let d = d.as_ref()?;
                let mut img = vec![0xeeu8; DATA_OFFSET as usize];
                img.extend_from_slice(d);
                let v: VolumeRef = Arc::new(MemVolume::new(format!("d{i}"), img));
                Some(MemberData {
                    volume: v,
                    data_offset: DATA_OFFSET,
                    data_size: d.len() as u64,
                    name: format!("d{i}"),
                })
            })
            .collect();
        ArrayModel::new(Spec {
            level,
            layout: words,
            chunk: if matches!(layout, Layout::Mirror) {
                0
            } else {
                chunk
            },
            members,
            member_size: Some(rows * chunk),
            size: None,
            spans: None,
        })
        .unwrap()
    }

    fn scrub_all(m: &ArrayModel, leave_out: &[u32]) -> Report {
        // A small budget: many batches, so batch edges are crossed.
        let opts = Options {
            leave_out: leave_out.to_vec(),
            budget: 1,
        };
        scrub(m, &opts, &|_, _| {}).unwrap()
    }

    fn layouts() -> impl Strategy<Value = (Layout, u32)> {
        prop_oneof![
            (prop::sample::select(vec![0u32, 1, 2, 3, 4, 5]), 3u32..7)
                .prop_map(|(a, n)| (Layout::Parity(5, ParityAlgo::from_md(a).unwrap()), n)),
            (3u32..6).prop_map(|n| (Layout::Parity(4, ParityAlgo::ParityLast), n)),
            (
                prop::sample::select(vec![0u32, 1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 18, 19, 20]),
                4u32..8
            )
                .prop_map(|(a, n)| (Layout::Parity(6, ParityAlgo::from_md(a).unwrap()), n)),
            (2u32..5).prop_map(|n| (Layout::Mirror, n)),
            (
                prop::sample::select(vec!["near=2", "far=2", "offset=2", "near=3"]),
                3u32..7
            )
                .prop_map(|(w, n)| (Layout::Raid10(w), n)),
        ]
    }

    /// For each (member, row) holding data, the array chunk whose copy it
    /// is (RAID10; other layouts use every place).
    fn raid10_places(words: &str, disks: u32, rows: u64) -> BTreeMap<(u32, u64), u64> {
        let word = crate::raid::model::raid10_word(words).unwrap();
        let g = Raid10Geometry::from_md(disks, word, rows).unwrap();
        let mut out = BTreeMap::new();
        for ac in 0..g.array_chunks {
            for (d, mc) in g.copies(ac) {
                out.insert((d, mc), ac);
            }
        }
        out
    }

    #[test]
    fn clean_arrays_report_nothing() {
        for (layout, n) in [
            (Layout::Parity(5, ParityAlgo::LeftSymmetric), 4),
            (Layout::Parity(6, ParityAlgo::RotatingNContinue), 5),
            (Layout::Parity(6, ParityAlgo::LeftSymmetric6), 5),
            (Layout::Mirror, 3),
            (Layout::Raid10("far=2"), 4),
        ] {
            let m = members(&layout, n, 4096, 7, 1);
            let data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
            let r = scrub_all(&model(&layout, 4096, 7, &data), &[]);
            assert!(r.consistent(), "{layout:?}: {r:?}");
            assert_eq!(r.mismatch_sectors, 0);
            assert_eq!(r.rows, r.total_rows, "{layout:?}");
            assert!(r.rows > 0);
        }
    }

    #[test]
    fn raid0_has_nothing_to_check() {
        let data = [Some(vec![1u8; 8192]), Some(vec![2u8; 8192])];
        let members = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                Some(MemberData {
                    volume: Arc::new(MemVolume::new("x", d.clone().unwrap())) as VolumeRef,
                    data_offset: 0,
                    data_size: 8192,
                    name: format!("d{i}"),
                })
            })
            .collect();
        let m = ArrayModel::new(Spec {
            level: Level::Raid0,
            layout: String::new(),
            chunk: 4096,
            members,
            member_size: None,
            size: None,
            spans: None,
        })
        .unwrap();
        let r = scrub_all(&m, &[]);
        assert!(!r.redundancy);
        assert_eq!(r.rows, 0);
        assert!(r.consistent());
        assert!(r.unchecked[0].contains("no redundancy"));
    }

    #[test]
    fn raid6_two_bad_members_in_a_row_are_unknown() {
        let layout = Layout::Parity(6, ParityAlgo::LeftSymmetric);
        let mut m = members(&layout, 6, 4096, 4, 3);
        m[0][2 * 4096 + 10] ^= 0x55;
        m[1][2 * 4096 + 3000] ^= 0x11;
        let data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
        let r = scrub_all(&model(&layout, 4096, 4, &data), &[]);
        assert_eq!(r.mismatches.len(), 1);
        assert_eq!(r.mismatches[0].row, 2);
        assert_eq!(r.mismatches[0].slot, None);
        assert_eq!(r.mismatches[0].member_offset, 2 * 4096 + 10);
        assert_eq!(r.mismatch_sectors, 8);
    }

    #[test]
    fn raid6_missing_one_still_checks_the_other_syndrome() {
        let layout = Layout::Parity(6, ParityAlgo::LeftSymmetric);
        for missing in 0..5u32 {
            let mut m = members(&layout, 5, 4096, 10, 4);
            // A flip in a member that is present, in every row it holds.
            let bad = (missing + 1) % 5;
            m[bad as usize][5 * 4096 + 7] ^= 1;
            let mut data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
            data[missing as usize] = None;
            let r = scrub_all(&model(&layout, 4096, 10, &data), &[]);
            // With one member gone one equation is left, and it covers
            // every other member: the row is found, but not who is at fault.
            assert_eq!(r.mismatches.len(), 1, "missing {missing}, bad {bad}: {r:?}");
            assert_eq!(r.mismatches[0].row, 5);
            assert_eq!(r.mismatches[0].slot, None);
            assert_eq!(r.mismatch_sectors, 8);
            assert_eq!(r.rows, 10);
        }
    }

    #[test]
    fn raid5_missing_one_checks_nothing_and_says_so() {
        let layout = Layout::Parity(5, ParityAlgo::LeftSymmetric);
        let m = members(&layout, 3, 4096, 4, 5);
        let mut data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
        data[1] = None;
        let r = scrub_all(&model(&layout, 4096, 4, &data), &[]);
        assert_eq!(r.rows, 0);
        assert!(
            r.unchecked.iter().any(|u| u.contains("not checked")),
            "{r:?}"
        );
    }

    #[test]
    fn repair_rebuilds_raid6_rows_around_their_bad_member() {
        let layout = Layout::Parity(6, ParityAlgo::LeftSymmetric);
        let clean = members(&layout, 5, 4096, 12, 6);
        let mut bad = clean.clone();
        for (d, row) in [(0usize, 1u64), (2, 4), (3, 4 + 5), (1, 11)] {
            bad[d][row as usize * 4096 + 100] ^= 0xa5;
            bad[d][row as usize * 4096 + 4000] ^= 0x01;
        }
        let cm = model(
            &layout,
            4096,
            12,
            &clean.into_iter().map(Some).collect::<Vec<_>>(),
        );
        let bm = model(
            &layout,
            4096,
            12,
            &bad.into_iter().map(Some).collect::<Vec<_>>(),
        );
        let r = scrub_all(&bm, &[]);
        assert_eq!(r.mismatches.len(), 4);
        let want = ArrayVolume::new("clean".into(), cm, false).unwrap();
        let fixed = Repaired::new("md0", &bm, &[], &r).unwrap();
        let mut a = vec![0u8; want.len() as usize];
        let mut b = vec![0u8; want.len() as usize];
        want.read_at(0, &mut a).unwrap();
        // Odd-sized reads, to cross fix edges mid-read.
        let mut at = 0usize;
        while at < b.len() {
            let n = 5000.min(b.len() - at);
            fixed.read_at(at as u64, &mut b[at..at + n]).unwrap();
            at += n;
        }
        assert!(a == b, "repaired array differs");
    }

    #[test]
    fn repair_leaves_out_a_member_named_bad() {
        let layout = Layout::Parity(5, ParityAlgo::LeftSymmetric);
        let clean = members(&layout, 4, 4096, 6, 7);
        let mut bad = clean.clone();
        fill(99, &mut bad[2]);
        let cm = model(
            &layout,
            4096,
            6,
            &clean.into_iter().map(Some).collect::<Vec<_>>(),
        );
        let bm = model(
            &layout,
            4096,
            6,
            &bad.into_iter().map(Some).collect::<Vec<_>>(),
        );
        let r = scrub_all(&bm, &[]);
        assert_eq!(r.mismatches.len(), 6);
        assert!(r.mismatches.iter().all(|m| m.slot.is_none()));
        let want = ArrayVolume::new("clean".into(), cm, false).unwrap();
        let fixed = Repaired::new("md0", &bm, &[2], &r).unwrap();
        let mut a = vec![0u8; want.len() as usize];
        let mut b = vec![0u8; want.len() as usize];
        want.read_at(0, &mut a).unwrap();
        fixed.read_at(0, &mut b).unwrap();
        assert!(a == b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A RAID6 of every md layout without any two of its members reads
        /// as the complete array (two data blocks of a stripe rebuilt from
        /// P's and Q's deltas, in one Horner pass, or one with P or Q).
        #[test]
        fn raid6_without_two_members_reads_as_complete(
            algo in prop::sample::select(vec![0u32, 1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 18, 19, 20]),
            disks in 4u32..9,
            chunk in prop::sample::select(vec![512u64, 4096]),
            rows in 2u64..8,
            seed in any::<u64>(),
            (a, b) in (any::<u32>(), any::<u32>()),
        ) {
            let layout = Layout::Parity(6, ParityAlgo::from_md(algo).unwrap());
            let (x, y) = ((a % disks) as usize, (b % disks) as usize);
            prop_assume!(x != y);
            let data: Vec<Option<Vec<u8>>> =
                members(&layout, disks, chunk, rows, seed).into_iter().map(Some).collect();
            let mut without = data.clone();
            without[x] = None;
            without[y] = None;
            let full = ArrayVolume::new("full".into(), model(&layout, chunk, rows, &data), false).unwrap();
            let deg = ArrayVolume::new("deg".into(), model(&layout, chunk, rows, &without), false).unwrap();
            let mut want = vec![0u8; full.len() as usize];
            let mut got = vec![1u8; deg.len() as usize];
            full.read_at(0, &mut want).unwrap();
            deg.read_at(0, &mut got).unwrap();
            prop_assert!(want == got);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Bytes flipped in known members at known rows: exactly those rows
        /// are reported; RAID6 (and mirrors of three or more copies) name
        /// the member; the count follows md's rule.
        #[test]
        fn injected_damage_is_reported_where_it_is(
            (layout, disks) in layouts(),
            chunk in prop::sample::select(vec![1024u64, 4096, 16384]),
            rows in 2u64..10,
            seed in any::<u64>(),
            flips in prop::collection::vec((any::<u32>(), any::<u64>(), any::<u32>(), 1u8..=255), 1..5),
        ) {
            let mut m = members(&layout, disks, chunk, rows, seed);
            let r10 = match &layout {
                Layout::Raid10(w) => Some(raid10_places(w, disks, rows)),
                _ => None,
            };
            // One flip per row (per array chunk for RAID10), so each row
            // has one member at fault.
            let mut done: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
            for (d, row, at, x) in flips {
                let d = d % disks;
                let row = row % rows;
                let at = u64::from(at) % chunk;
                let key = match &r10 {
                    Some(p) => match p.get(&(d, row)) {
                        Some(&ac) => ac,
                        None => continue,
                    },
                    None => row,
                };
                // Mirrors: one block per 64 KiB, the row is the block.
                let key = if matches!(layout, Layout::Mirror) { (row * chunk + at) / MD_RESYNC_BYTES } else { key };
                if done.contains_key(&key) {
                    continue;
                }
                m[d as usize][(row * chunk + at) as usize] ^= x;
                done.insert(key, (d, row * chunk + at));
            }
            let data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
            let model = model(&layout, chunk, rows, &data);
            let r = scrub_all(&model, &[]);
            prop_assert!(r.read_errors.is_empty());
            prop_assert_eq!(r.mismatches.len(), done.len(), "{:?}", r);
            let named = |copies: u32| copies >= 3;
            let mut sectors = 0u64;
            let mut pages = BTreeSet::new();
            for (mm, (&key, &(d, moff))) in r.mismatches.iter().zip(&done) {
                match &layout {
                    Layout::Parity(level, _) => {
                        prop_assert_eq!(mm.row, key);
                        prop_assert_eq!(mm.member_offset, moff);
                        let want = if *level == 6 { Some(d) } else { None };
                        prop_assert_eq!(mm.slot, want);
                        pages.insert(moff / MD_STRIPE_BYTES);
                    }
                    Layout::Mirror => {
                        prop_assert_eq!(mm.row, key);
                        prop_assert_eq!(mm.member_offset, moff);
                        prop_assert_eq!(mm.slot, named(disks).then_some(d));
                        let block = (model.member_size - key * MD_RESYNC_BYTES).min(MD_RESYNC_BYTES);
                        let against = if d == 0 { u64::from(disks) - 1 } else { 1 };
                        sectors += against * block.div_ceil(512);
                    }
                    Layout::Raid10(w) => {
                        let copies = if *w == "near=3" { 3 } else { 2 };
                        prop_assert_eq!(mm.array_offset, key * chunk);
                        prop_assert!(mm.copies.iter().any(|c| c.slot == d && c.member_offset == moff), "{:?}", mm);
                        prop_assert_eq!(mm.slot, named(copies).then_some(d));
                        if mm.slot.is_some() {
                            prop_assert_eq!(mm.member_offset, moff);
                            prop_assert_eq!(mm.row, moff / chunk);
                        }
                        let first = mm.copies[0].slot == d;
                        let against = if first { copies - 1 } else { 1 };
                        sectors += u64::from(against) * MD_RESYNC_BYTES.min(chunk).div_ceil(512);
                    }
                }
            }
            if matches!(layout, Layout::Parity(..)) {
                sectors = pages.len() as u64 * 8;
            }
            prop_assert_eq!(r.mismatch_sectors, sectors);
        }

        /// Clean arrays of every layout report nothing, and every row is checked.
        #[test]
        fn clean_is_clean((layout, disks) in layouts(), chunk in prop::sample::select(vec![512u64, 4096]), rows in 1u64..8, seed in any::<u64>()) {
            let m = members(&layout, disks, chunk, rows, seed);
            let data: Vec<Option<Vec<u8>>> = m.into_iter().map(Some).collect();
            let r = scrub_all(&model(&layout, chunk, rows, &data), &[]);
            prop_assert!(r.consistent(), "{:?}", r);
            prop_assert_eq!(r.mismatch_sectors, 0);
            prop_assert_eq!(r.rows, r.total_rows);
        }
    }
}
