//! RAID geometry inference for arrays whose metadata is gone: level, member
//! order, chunk size, parity layout, data offset and missing members, from
//! the members' data alone, ranked with a confidence.
//!
//! The evidence, each kind from its own module:
//! - [`rows`]: rows (the same member offset on every member) that XOR to
//!   zero (RAID4/5), to zero without one member (RAID6, and where Q is),
//!   or are equal (RAID1) or equal in pairs (RAID10 near=2);
//! - [`anchors`]: what starts an array (a partition table, a filesystem,
//!   an LVM label) found on a member proposes the data offset and slot 0;
//! - [`search`]: content continuity across chunk boundaries ranks chunk
//!   size, order and layout, computed on the sample without assembling;
//! - the best few are then assembled virtually ([`ArrayVolume`]) and their
//!   structures checked ([`anchors::verify`]: GPT CRCs across chunks, the
//!   backup GPT at the array's end, ext superblock and group descriptor
//!   checksums at partition starts), and for RAID6 the Q syndrome is
//!   checked in each candidate's order ([`syndrome`]).
//!
//! Work is bounded: a fixed sample per member ([`sample::plan`]), every read
//! counted and capped at [`sample::HARD_CAP`] per member, a bounded number
//! of candidates, no loop without a bound.

pub mod anchors;
pub mod candidate;
pub mod features;
pub mod rows;
pub mod sample;
pub mod search;
pub mod syndrome;

use std::collections::HashSet;
use std::sync::Arc;

pub use candidate::{Candidate, Shape};

use crate::error::{Error, Result};
use crate::io::{Volume, VolumeRef};
use crate::raid::map::{ParityAlgo, ParityGeometry};
use crate::raid::metadata::Level;
use crate::raid::model::ArrayModel;
use crate::raid::volume::ArrayVolume;
use rows::RowStats;
use sample::{Counted, Sample};
use search::{Feats, Mapper};

/// What the user knows already; each given field narrows the search.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// The level.
    pub level: Option<Level>,
    /// The chunk size in bytes.
    pub chunk: Option<u64>,
    /// How many members the array had (more than given: some are missing).
    pub members: Option<usize>,
    /// The data offset on every member, in bytes.
    pub offset: Option<u64>,
}

/// The result: candidates best first, what was read, what was noticed.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// Candidates, best first (empty: no consistent geometry).
    pub candidates: Vec<Candidate>,
    /// Bytes read of each member.
    pub bytes_read: Vec<u64>,
    /// Observations for the report (why confidence is low, what was odd).
    pub notes: Vec<String>,
    /// Further arrays found on the same members after the first (as
    /// containers place volumes one after another): the candidates of
    /// each, best first; offsets are on the whole members.
    pub further: Vec<Vec<Candidate>>,
}

impl Inference {
    /// The best candidate when it is at least `min` confident.
    pub fn best(&self, min: f64) -> Option<&Candidate> {
        self.candidates.first().filter(|c| c.confidence >= min)
    }
}

/// The sample read of each member by default (the head plus windows).
pub const DEFAULT_BUDGET: u64 = 48 << 20;

/// Chunk sizes tried: 4 KiB to 1 MiB.
pub const CHUNKS: [u64; 9] = [
    4 << 10,
    8 << 10,
    16 << 10,
    32 << 10,
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
];

/// Candidates kept from the quick ranking for the full check.
const SHORTLIST: usize = 24;
/// Candidates of one level hypothesis kept for the full check.
const PER_HYPOTHESIS: usize = 40;
/// Members up to which every order is tried (beyond, a beam search).
const FULL_ORDERS: usize = 6;

/// A level hypothesis and what supports it.
#[derive(Debug, Clone)]
struct Hypothesis {
    shapes: Vec<Shape>,
    /// Slots (more than members when some are missing).
    slots: usize,
    /// The sample has an extra member rebuilt as the XOR of the others.
    xor_member: bool,
    /// One slot more than members, the extra one (sample member index
    /// `members`) missing and not rebuilt.
    missing: bool,
    /// 0..=1 from the row evidence.
    level_conf: f64,
    why: String,
}

/// Infers the geometry of the array `members` belong to. `progress(done,
/// total)` is called as work proceeds. Never panics on any input; reads at
/// most [`sample::HARD_CAP`] bytes of each member.
pub fn infer(
    members: &[VolumeRef],
    hints: &Hints,
    progress: &dyn Fn(u64, u64),
) -> Result<Inference> {
    infer_with_budget(members, hints, DEFAULT_BUDGET, progress)
}

/// [`infer`] with a sample budget per member (bytes).
pub fn infer_with_budget(
    members: &[VolumeRef],
    hints: &Hints,
    budget: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<Inference> {
    infer_at(members, hints, budget, progress, 0)
}

/// [`infer_with_budget`] at a depth of splitting (members split into the
/// stretches of several arrays are not split again).
fn infer_at(
    members: &[VolumeRef],
    hints: &Hints,
    budget: u64,
    progress: &dyn Fn(u64, u64),
    depth: u32,
) -> Result<Inference> {
    let n = members.len();
    if n == 0 || n > 32 {
        return Err(Error::Unsupported {
            layer: String::new(),
            what: format!("RAID inference over {n} members (1 to 32 are taken)"),
        });
    }
    let counted: Vec<Arc<Counted>> = members
        .iter()
        .map(|m| Counted::new(m.clone(), sample::HARD_CAP))
        .collect();
    let mut inf = Inference::default();
    let least = counted.iter().map(|m| m.len()).min().unwrap_or(0);
    let plan = sample::plan(least, budget.min(sample::HARD_CAP / 2));
    progress(0, 4);
    let s = Sample::read(&counted, &plan);
    progress(1, 4);
    let stats = rows::row_stats(&s);
    if stats.nonzero == 0 {
        inf.notes
            .push("every sampled row is zero on every member: nothing to infer from".into());
        inf.bytes_read = counted.iter().map(|c| c.bytes_read()).collect();
        return Ok(inf);
    }
    // A member blank wherever sampled (a spare, a wiped disk) says nothing:
    // infer over the others and name it.
    let blank: Vec<usize> = (0..n)
        .filter(|&m| stats.member_nonzero.get(m) == Some(&0))
        .collect();
    if !blank.is_empty() && blank.len() < n {
        let keep: Vec<usize> = (0..n).filter(|m| !blank.contains(m)).collect();
        let sub: Vec<VolumeRef> = keep.iter().map(|&m| members[m].clone()).collect();
        let mut inner = infer_at(&sub, hints, budget, progress, depth)?;
        for c in &mut inner.candidates {
            for slot in c.slots.iter_mut() {
                *slot = slot.and_then(|i| keep.get(i).copied());
            }
        }
        inner.notes.insert(
            0,
            format!("members {blank:?} are blank in every sampled row (spares?): left out"),
        );
        let mut read: Vec<u64> = counted.iter().map(|c| c.bytes_read()).collect();
        for (k, &m) in keep.iter().enumerate() {
            if let (Some(r), Some(i)) = (read.get_mut(m), inner.bytes_read.get(k)) {
                *r += i;
            }
        }
        inner.bytes_read = read;
        return Ok(inner);
    }
    if depth == 0 && hints.offset.is_none() {
        if let Some(cut) = split_point(&s) {
            return split(members, hints, budget, progress, cut, &counted);
        }
    }
    let starts = anchors::find_starts(&s, 256);
    let twins = rows::twins(&s);
    let hyps = hypotheses(&stats, twins, n, hints, &mut inf.notes);
    let dup = duplicates(&stats, n, &hyps);
    for (a, b) in &dup {
        inf.notes.push(format!(
            "members {a} and {b} hold the same bytes in every sampled row: one member given twice?"
        ));
    }
    let offsets = offsets(&starts, hints);
    let vols: Vec<VolumeRef> = counted.iter().map(|c| c.clone() as VolumeRef).collect();
    let mut all: Vec<Candidate> = Vec::new();
    for (hi, h) in hyps.iter().enumerate() {
        progress(1 + hi as u64, 2 + hyps.len() as u64);
        let xs;
        let hs = if h.xor_member {
            xs = s.with_xor_member();
            &xs
        } else {
            &s
        };
        let mut found = rank(hs, h, &offsets, &starts, hints, &stats);
        // The best few of every hypothesis go on to the full check.
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut seen = HashSet::new();
        found.retain(|c| seen.insert(c.key()));
        found.truncate(PER_HYPOTHESIS);
        for c in &mut found {
            c.confidence = h.level_conf;
            c.evidence.insert(0, h.why.clone());
            if h.xor_member || h.missing {
                // The rebuilt (or absent) member is the missing slot.
                for slot in c.slots.iter_mut() {
                    if *slot == Some(n) {
                        *slot = None;
                    }
                }
            }
        }
        all.extend(found);
    }
    // Full check of the shortlist, through the assembled array.
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let prints: Vec<Option<u64>> = all.iter_mut().map(|c| check(c, &vols, &s)).collect();
    let mut all = merge_equivalent(all, prints);
    calibrate(&mut all, &dup, &mut inf.notes);
    progress(4, 4);
    inf.candidates = all;
    inf.bytes_read = counted.iter().map(|c| c.bytes_read()).collect();
    Ok(inf)
}

/// Where a second array starts, when the sampled windows hold two kinds of
/// rows one after the other (a mirror, then stripes, say): the start of the
/// first window after the last of the first kind.
fn split_point(s: &Sample) -> Option<u64> {
    use rows::WindowClass::*;
    let classes = rows::window_classes(s);
    let data: Vec<(usize, rows::WindowClass)> = classes
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| *c != Empty)
        .collect();
    let (_, first) = *data.first()?;
    if !matches!(first, Mirror | Parity | Six) {
        return None;
    }
    let change = data.iter().position(|(_, c)| *c != first)?;
    // The rest must be one kind too, and at least two windows of each.
    let (_, second) = *data.get(change)?;
    if change < 2 || data.len() - change < 2 || data[change..].iter().any(|(_, c)| *c != second) {
        return None;
    }
    let last_first = data.get(change - 1)?.0;
    s.starts.get(last_first + 1).copied()
}

/// Infers the array after `cut` on slices of the members, then the array
/// before it, clipped where the second starts.
fn split(
    members: &[VolumeRef],
    hints: &Hints,
    budget: u64,
    progress: &dyn Fn(u64, u64),
    cut: u64,
    counted: &[Arc<Counted>],
) -> Result<Inference> {
    use crate::io::Slice;
    let slice = |lo: u64, len: u64| -> Vec<VolumeRef> {
        members
            .iter()
            .map(|m| Arc::new(Slice::new(m.clone(), lo, len, m.describe())) as VolumeRef)
            .collect()
    };
    let mut second = infer_at(
        &slice(cut, u64::MAX),
        &Hints::default(),
        budget,
        progress,
        1,
    )?;
    for c in &mut second.candidates {
        for o in c.data_offset.iter_mut() {
            *o += cut;
        }
    }
    let end = second
        .candidates
        .first()
        .and_then(|c| c.data_offset.first().copied())
        .unwrap_or(cut);
    let mut first = infer_at(&slice(0, end), hints, budget, progress, 1)?;
    first.notes.insert(
        0,
        format!(
            "two arrays on the same members: the rows change kind at member offset {cut:#x}; the second starts at {end:#x}"
        ),
    );
    first
        .notes
        .extend(second.notes.iter().map(|n| format!("second array: {n}")));
    first.further.push(second.candidates);
    let own: Vec<u64> = counted.iter().map(|c| c.bytes_read()).collect();
    for (i, r) in first.bytes_read.iter_mut().enumerate() {
        *r += own.get(i).copied().unwrap_or(0) + second.bytes_read.get(i).copied().unwrap_or(0);
    }
    Ok(first)
}

/// The level hypotheses the row evidence (and the hints) allow.
fn hypotheses(
    st: &RowStats,
    twins: (u64, u64),
    n: usize,
    hints: &Hints,
    notes: &mut Vec<String>,
) -> Vec<Hypothesis> {
    let f = |x| RowStats::frac(x, st.nonzero);
    let enough = (st.nonzero as f64 / 64.0).min(1.0);
    let mirror = f(st.all_equal);
    let parity = f(st.xor_zero);
    let six = f(st.drop_one);
    notes.push(format!(
        "{} of {} sampled rows hold data; equal on every member: {:.1}%, XOR to zero: {:.1}%, XOR to zero without one member: {:.1}%",
        st.nonzero,
        st.rows,
        mirror * 100.0,
        parity * 100.0,
        six * 100.0
    ));
    let slots = hints.members.filter(|&m| m >= n && m <= n + 2).unwrap_or(n);
    let want = |l: Level| hints.level.is_none_or(|h| h == l);
    let mut out = Vec::new();
    let r5: Vec<Shape> = [0u32, 1, 2, 3, 4]
        .iter()
        .filter_map(|&c| ParityAlgo::from_md(c))
        .map(|algo| Shape::Parity { level: 5, algo })
        .collect();
    if n == 1 && want(Level::Raid1) {
        // One member alone: a half of a mirror (or a single disk) is all
        // it can be shown to be; the array start places the offset.
        out.push(Hypothesis {
            shapes: vec![Shape::Raid1],
            slots: 1,
            xor_member: false,
            missing: false,
            level_conf: 0.5 * enough,
            why: "one member: read as one half of a mirror".into(),
        });
        return out;
    }
    if n >= 2 && mirror >= 0.98 && slots == n && want(Level::Raid1) {
        out.push(Hypothesis {
            shapes: vec![Shape::Raid1],
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: mirror * enough,
            why: format!(
                "every member holds the same bytes ({:.1}% of rows with data)",
                mirror * 100.0
            ),
        });
        return out;
    }
    // Members equal in pairs at the same offsets: RAID10 near=2 over an
    // even count (whose rows also XOR to zero, the pairs cancelling).
    let paired = n >= 4
        && n % 2 == 0
        && (0..n).all(|a| {
            (0..n).any(|b| {
                let of = st.member_nonzero[a].max(st.member_nonzero[b]);
                a != b && of >= 8 && RowStats::frac(st.pair_equal[a][b], of) >= 0.98
            })
        });
    if paired && slots == n && want(Level::Raid10) {
        out.push(Hypothesis {
            shapes: vec![Shape::Raid10("near=2")],
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: mirror.max(0.9) * enough,
            why: "the members are equal in pairs: RAID10 near=2".into(),
        });
        return out;
    }
    if n >= 3 && parity >= 0.97 && slots == n {
        let mut shapes = Vec::new();
        if want(Level::Raid5) {
            shapes.extend(r5.iter().copied());
        }
        if want(Level::Raid4) {
            shapes.push(Shape::Parity {
                level: 4,
                algo: ParityAlgo::ParityLast,
            });
        }
        out.push(Hypothesis {
            shapes,
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: parity * enough,
            why: format!(
                "the members XOR to zero in {:.1}% of rows with data: RAID4/5",
                parity * 100.0
            ),
        });
        return out;
    }
    if n >= 4 && six >= 0.9 && slots == n && want(Level::Raid6) {
        let shapes = [0u32, 1, 2, 3, 4, 8, 9, 10]
            .iter()
            .filter_map(|&c| ParityAlgo::from_md(c))
            .map(|algo| Shape::Parity { level: 6, algo })
            .collect();
        out.push(Hypothesis {
            shapes,
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: six * enough,
            why: format!(
                "the members XOR to zero without one of them (Q) in {:.1}% of rows with data: RAID6",
                six * 100.0
            ),
        });
        return out;
    }
    let twin = RowStats::frac(twins.1, twins.0);
    if n >= 2 && twins.0 >= 16 && twin >= 0.9 && slots == n && want(Level::Raid10) {
        out.push(Hypothesis {
            shapes: vec![
                Shape::Raid10("near=2"),
                Shape::Raid10("far=2"),
                Shape::Raid10("offset=2"),
            ],
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: twin * enough,
            why: format!(
                "{:.1}% of the blocks with data are found on another member too: RAID10",
                twin * 100.0
            ),
        });
        return out;
    }
    // No redundancy seen: striping, or a parity array with a member missing
    // (its rows cannot be tested), or members of different arrays.
    if n >= 2 && slots == n && want(Level::Raid0) {
        out.push(Hypothesis {
            shapes: vec![Shape::Raid0],
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: 0.8 * enough,
            why: "no parity or mirror relation between the members: striping (RAID0)".into(),
        });
    }
    if n >= 2 && slots == n && want(Level::Linear) {
        out.push(Hypothesis {
            shapes: vec![Shape::Linear],
            slots: n,
            xor_member: false,
            missing: false,
            level_conf: 0.7 * enough,
            why: "no parity or mirror relation between the members: concatenation (linear)".into(),
        });
    }
    if n >= 2
        && (slots == n + 1 || hints.members.is_none())
        && (want(Level::Raid5) || want(Level::Raid4))
    {
        let mut shapes: Vec<Shape> = Vec::new();
        if want(Level::Raid5) {
            shapes.extend(r5.iter().copied());
        }
        out.push(Hypothesis {
            shapes,
            slots: n + 1,
            xor_member: true,
            missing: false,
            level_conf: 0.6 * enough,
            why: format!(
                "no redundancy among the {n} members: RAID5 over {} with one missing (its chunks rebuilt as the XOR of the others) is possible",
                n + 1
            ),
        });
    }
    if n >= 3 && (slots == n + 1 || hints.members.is_none()) && want(Level::Raid6) {
        let shapes = [0u32, 1, 2, 3, 4, 8, 9, 10]
            .iter()
            .filter_map(|&c| ParityAlgo::from_md(c))
            .map(|algo| Shape::Parity { level: 6, algo })
            .collect();
        out.push(Hypothesis {
            shapes,
            slots: n + 1,
            xor_member: false,
            missing: true,
            level_conf: 0.6 * enough,
            why: format!(
                "no redundancy among the {n} members: RAID6 over {} with one missing is possible",
                n + 1
            ),
        });
    }
    if out.is_empty() {
        notes.push("no level fits both the hints and the rows".into());
    }
    out
}

/// Pairs of members equal wherever either holds data, when no mirror level
/// explains it.
fn duplicates(st: &RowStats, n: usize, hyps: &[Hypothesis]) -> Vec<(usize, usize)> {
    if hyps.iter().any(|h| {
        h.shapes
            .iter()
            .any(|s| matches!(s, Shape::Raid1 | Shape::Raid10(_)))
    }) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let of = st.member_nonzero[a].max(st.member_nonzero[b]);
            if of >= 8 && RowStats::frac(st.pair_equal[a][b], of) >= 0.95 {
                out.push((a, b));
            }
        }
    }
    out
}

/// Data offsets to try: the hint alone, else 0 and where array starts were
/// found (partition tables first), at most 6.
fn offsets(starts: &[(usize, u64, anchors::StartKind)], hints: &Hints) -> Vec<u64> {
    if let Some(o) = hints.offset {
        return vec![o];
    }
    let mut found: Vec<(anchors::StartKind, u64)> =
        starts.iter().map(|&(_, o, k)| (k, o)).collect();
    found.sort();
    let mut out = vec![0u64];
    for (_, o) in found {
        if !out.contains(&o) && out.len() < 6 {
            out.push(o);
        }
    }
    out
}

/// Quick-ranks the geometries of one hypothesis from the sample.
fn rank(
    s: &Sample,
    h: &Hypothesis,
    offsets: &[u64],
    starts: &[(usize, u64, anchors::StartKind)],
    hints: &Hints,
    st: &RowStats,
) -> Vec<Candidate> {
    let n = h.slots;
    let least = s_len(s);
    let mut out: Vec<Candidate> = Vec::new();
    let mk = |shape: Shape, chunk: u64, order: Vec<usize>, off: u64, score: f64, ev: String| {
        let member_size = if shape.striped() && chunk > 0 {
            least.saturating_sub(off) / chunk * chunk
        } else {
            least.saturating_sub(off)
        };
        let data = match shape {
            Shape::Raid0 => n as u64,
            Shape::Parity { level: 6, .. } => n.saturating_sub(2) as u64,
            Shape::Parity { .. } => n.saturating_sub(1) as u64,
            Shape::Raid10(_) => n as u64 / 2, // refined by the model in `check`
            Shape::Linear => n as u64,
            Shape::Raid1 => 1,
        };
        Candidate {
            level: shape.level(),
            layout: shape.layout(),
            chunk,
            slots: order.into_iter().map(Some).collect(),
            data_offset: vec![off; n],
            member_size,
            size: member_size.saturating_mul(data),
            confidence: 0.0,
            evidence: vec![ev],
            score,
            checks: 0.0,
            contradictions: 0,
            shape,
        }
    };
    let start_at = |m: usize, off: u64| starts.iter().any(|&(sm, so, _)| sm == m && so == off);
    if h.shapes.contains(&Shape::Linear) {
        // Members end to end: content cannot be compared across member
        // ends in the sample, so every order goes to the full check, the
        // member holding the array's start first.
        let orders = if n <= FULL_ORDERS {
            search::permutations(n)
        } else {
            vec![(0..n).collect()]
        };
        for &off in offsets {
            for order in &orders {
                let start = order.first().is_some_and(|&m| start_at(m, off));
                if !start {
                    continue;
                }
                let mut c = mk(Shape::Linear, 0, order.clone(), off, 3.0, String::new());
                c.evidence =
                    vec!["the array's start lies on the first member at the offset".into()];
                out.push(c);
            }
        }
        return out;
    }
    if h.shapes.contains(&Shape::Raid1) {
        for &off in offsets {
            let bonus = if (0..n).any(|m| start_at(m, off)) {
                1.0
            } else {
                0.0
            };
            out.push(mk(
                Shape::Raid1,
                0,
                (0..n).collect(),
                off,
                bonus,
                "mirror".into(),
            ));
        }
        return out;
    }
    let feats = Feats::new(s);
    let chunks: Vec<u64> = match hints.chunk {
        Some(c) => vec![c],
        None => CHUNKS.to_vec(),
    };
    for &shape in &h.shapes {
        for &chunk in &chunks {
            for &off in offsets {
                let Some(map) = Mapper::new(shape, n, least.saturating_sub(off) / chunk.max(1))
                else {
                    continue;
                };
                let orders = if n <= FULL_ORDERS {
                    search::permutations(n)
                } else {
                    search::beam_orders(&search::adjacency(&feats, n, chunk, off), 64)
                };
                for order in orders {
                    let c = search::continuity(&feats, &map, chunk, &order, off, 1536);
                    let first = map.locate(0).and_then(|(slot, _)| order.get(slot).copied());
                    // Chunk 0 on the missing slot: the start cannot be seen
                    // there, but a parity block that copies it can.
                    let absent = first.is_some_and(|m| m >= s.members());
                    let start = first.is_some_and(|m| start_at(m, off))
                        || (absent && (0..s.members()).any(|m| start_at(m, off)));
                    let mut score = c.weight() + if start { 3.0 } else { 0.0 };
                    let mut ev = format!(
                        "continuity at {} chunk boundaries: {:+.2}{}",
                        c.count,
                        c.strength(),
                        if start {
                            "; the array's start lies on slot 0's member at the offset"
                        } else {
                            ""
                        }
                    );
                    if matches!(shape, Shape::Parity { level: 6, .. }) {
                        let (ok, tested) = if h.missing {
                            search::missing_q_agreement(
                                &st.row_trace,
                                &map,
                                chunk,
                                &order,
                                off,
                                s.members(),
                                1024,
                            )
                        } else {
                            search::q_agreement(&st.q_trace, &map, chunk, &order, off, 1024)
                        };
                        let f = RowStats::frac(u64::from(ok), u64::from(tested));
                        score += 4.0 * (f - 0.5) * f64::from(tested).sqrt();
                        ev.push_str(&format!(
                            "; Q where the rows put it in {ok} of {tested} rows"
                        ));
                    }
                    if let Some(g) = &map.r10 {
                        let (ok, tested) = search::copies_agree(s, g, &order, chunk, off, 64);
                        let f = RowStats::frac(u64::from(ok), u64::from(tested));
                        score += 4.0 * (f - 0.5) * f64::from(tested).sqrt();
                        ev.push_str(&format!("; copies agree in {ok} of {tested} chunks"));
                    }
                    out.push(mk(shape, chunk, order, off, score, ev));
                }
            }
        }
        // Keep the hypothesis' best few per shape so that no shape floods the shortlist.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        let keep_other: Vec<Candidate> = out.iter().filter(|c| c.shape != shape).cloned().collect();
        let mine: Vec<Candidate> = out
            .into_iter()
            .filter(|c| c.shape == shape)
            .take(SHORTLIST)
            .collect();
        out = keep_other;
        out.extend(mine);
    }
    out
}

/// The least member length in the sample's terms (the members' lengths are
/// not in the sample: the last window's end is a lower bound).
fn s_len(s: &Sample) -> u64 {
    s.len
}

/// Candidates that serve the same bytes (RAID0 and a RAID5 missing its
/// parity-first disk, say) merged into one: the one with fewest missing
/// members, scored as the best of them. Sorted best first.
fn merge_equivalent(all: Vec<Candidate>, prints: Vec<Option<u64>>) -> Vec<Candidate> {
    let mut groups: Vec<(Option<u64>, Candidate)> = Vec::new();
    for (c, p) in all.into_iter().zip(prints) {
        match groups.iter_mut().find(|(q, _)| p.is_some() && *q == p) {
            Some((_, g)) => {
                let missing = |c: &Candidate| c.slots.iter().filter(|s| s.is_none()).count();
                let best = g.score.max(c.score);
                if (missing(&c), -c.score) < (missing(g), -g.score) {
                    *g = c;
                }
                g.score = best;
            }
            None => groups.push((p, c)),
        }
    }
    let mut out: Vec<Candidate> = groups.into_iter().map(|(_, c)| c).collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// A fingerprint of an assembled array's bytes: the first 64 KiB and 64
/// blocks of 4 KiB spread over its first `span` bytes.
fn fingerprint(vol: &dyn Volume, span: u64) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    let mut buf = vec![0u8; 4096];
    let span = span.min(vol.len());
    for i in 0..16u64 {
        vol.read_at(i * 4096, &mut buf).ok()?;
        buf.hash(&mut h);
    }
    for i in 0..64u64 {
        let off = (span / 64 * i) / 4096 * 4096;
        if off + 4096 <= span {
            vol.read_at(off, &mut buf).ok()?;
            buf.hash(&mut h);
        }
    }
    Some(h.finish())
}

/// The full check of one candidate: assembled over the members and its
/// structures verified; RAID6 also by its Q syndrome. Returns a fingerprint
/// of its bytes.
fn check(c: &mut Candidate, vols: &[VolumeRef], s: &Sample) -> Option<u64> {
    let mut spec = c.spec(vols);
    // The model knows the level's size; the candidate takes it from there.
    spec.size = None;
    let model = match ArrayModel::new(spec) {
        Ok(m) => m,
        Err(e) => {
            c.score -= 10.0;
            c.evidence.push(format!("cannot be assembled: {e}"));
            return None;
        }
    };
    c.size = model.size;
    let Ok(vol) = ArrayVolume::new("inferred".into(), model, false) else {
        c.score -= 10.0;
        return None;
    };
    let v = anchors::verify(&vol);
    let before = c.score;
    c.score += v.points;
    c.evidence.extend(v.evidence);
    if let (Level::Linear, Some(needed)) = (c.level, v.needed) {
        // Members after the partition table's end hold nothing of the
        // array: a concatenation that does not need its last member is
        // more likely a disk (or a mirror half) among strangers.
        let last = c
            .slots
            .last()
            .copied()
            .flatten()
            .and_then(|m| vols.get(m))
            .map_or(0, |v| {
                v.len()
                    .saturating_sub(c.data_offset.last().copied().unwrap_or(0))
            });
        if needed <= c.size.saturating_sub(last) {
            c.score -= 8.0;
            c.contradictions += 1;
            c.evidence.push(format!(
                "the partition table ends at {needed:#x}, before the last member: it is not needed"
            ));
        }
    }
    if let Some(hint) = v.size_hint.filter(|&h| h <= c.size && h > 0) {
        c.size = hint;
        c.evidence.push(format!(
            "array size {hint} from the GPT's backup header location"
        ));
    }
    if let Shape::Parity { level: 6, algo } = c.shape {
        if let Ok(g) = ParityGeometry::new(6, c.slots.len() as u32, algo) {
            let order: Vec<usize> = c.slots.iter().map(|s| s.unwrap_or(usize::MAX)).collect();
            let (ok, tested) = syndrome::q_matches(
                s,
                &g,
                &order,
                c.chunk,
                c.data_offset.first().copied().unwrap_or(0),
                512,
            );
            let f = RowStats::frac(u64::from(ok), u64::from(tested));
            // Decisive either way: a syndrome that holds in this order proves
            // it, one that fails in most rows disproves it.
            c.score += (12.0 * f - 6.0) * f64::from(tested.min(64)).sqrt() / 2.0;
            c.evidence.push(format!(
                "Q syndrome matches in {ok} of {tested} rows with data in this order"
            ));
        }
    }
    c.checks += c.score - before;
    fingerprint(&vol, s.len.saturating_mul(2))
}

/// Turns scores into confidences: the level's confidence times the share
/// of the candidate in a softmax over the shortlist (so that candidates the
/// evidence cannot tell apart split it), lowered without any structure
/// checked and when members look duplicated.
fn calibrate(all: &mut [Candidate], dup: &[(usize, usize)], notes: &mut Vec<String>) {
    let Some(top) = all.first().map(|c| c.score) else {
        notes.push("no consistent geometry".into());
        return;
    };
    let z: f64 = all.iter().map(|c| (c.score - top).exp()).sum();
    for c in all.iter_mut() {
        let share = (c.score - top).exp() / z.max(1e-9);
        let started = c
            .evidence
            .iter()
            .any(|e| e.contains("the array's start lies"))
            || c.level == Level::Raid1;
        let mut conf = c.confidence * share;
        if !started {
            conf *= 0.5;
        }
        if c.checks < 0.0 || c.contradictions > 0 {
            // What was read through it contradicts it, whatever the others.
            conf *= 0.3;
        }
        if c.slots.iter().any(Option::is_none) {
            conf *= 0.8;
        }
        if !dup.is_empty() {
            conf *= 0.2;
        }
        c.confidence = conf.clamp(0.0, 1.0);
    }
    if all.first().is_some_and(|c| c.confidence < 0.3) {
        notes.push("no geometry stands out: low confidence".into());
    }
}

#[cfg(test)]
mod tests;
