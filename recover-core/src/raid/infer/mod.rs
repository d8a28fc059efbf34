//! RAID geometry inference for arrays whose metadata is gone: level, member
//! order, chunk size, parity layout, data offset and missing members, from
//! the members' data alone, ranked with a confidence.
//!
//! How, one job per module:
//! - [`sample`]: a bounded sample of every member (the first 8 MiB whole,
//!   128 MiB, windows spread to the end), read in parallel, every read
//!   counted and capped;
//! - [`rows`]: rows (one member offset on every member) that are equal
//!   (RAID1), equal in pairs (RAID10 near=2), XOR to zero (RAID4/5), XOR to
//!   zero without one member (RAID6, and which member holds Q), and blocks
//!   found again on another member (RAID10 far/offset); all-zero rows prove
//!   nothing and are not counted;
//! - `levels`: the level hypotheses that evidence (and the [`Hints`])
//!   allows, with a confidence each, including a RAID5, RAID6 or RAID10
//!   with a member missing, a RAID6 with two, one member alone (half a
//!   mirror), and two arrays one after the other on the same members;
//! - [`anchors`]: what starts an array (a partition table, a filesystem,
//!   an LVM label), found on the members, gives data offsets and slot 0;
//! - [`features`] and [`search`]: content continuity across chunk
//!   boundaries, RAID6 Q positions and RAID10 copies rank chunk size, order
//!   and layout on the sample, without assembling (`rank`);
//! - [`pins`] and [`located`]: what places members whatever the content
//!   (incompressible or nearly empty): the partitions a table at the
//!   array's start names, a filesystem's secondary headers, and blocks that
//!   record their own place (XFS v5 metadata, NTFS MFT records), each of
//!   which a geometry must put on the member and offset it was found at;
//!   for more members than every order is tried for, they build orders;
//! - the light check of the shortlist over the sample, then orders one
//!   swap or move from the best, while the best improves;
//! - `check`: the best of every hypothesis are assembled
//!   ([`crate::raid::volume::ArrayVolume`]) and checked: GPT CRCs (the
//!   entry array spans chunks), the backup GPT at the array's end, ext
//!   superblock, group descriptor, bitmap, inode and directory checksums,
//!   free blocks that should not hold data, the RAID6 Q syndrome in the
//!   candidate's order ([`syndrome`]); candidates serving the same bytes
//!   are merged, and scores become confidences: the level's confidence
//!   times the candidate's share among the alternatives, cut when what was
//!   read contradicts it.
//!
//! - [`crosscheck`]: an array read from its metadata checked against its
//!   data (the level's redundancy in sampled rows).
//!
//! Not covered: members whose data offsets differ (DDF virtual disks that
//! start at different places per disk), RAID50/60 spans, layouts that
//! differ only in rows no checked structure falls in (reported as ties,
//! with the alternatives listed).

pub mod anchors;
pub mod candidate;
mod check;
pub mod crosscheck;
pub mod features;
mod levels;
pub mod located;
pub mod pins;
pub mod pq;
mod rank;
pub mod rows;
pub mod sample;
pub mod search;
pub mod syndrome;

use std::collections::HashSet;
use std::sync::Arc;

pub use candidate::{Candidate, Shape};
pub use rank::CHUNKS;

use crate::error::{Error, Result};
use crate::io::{Volume, VolumeRef};
use crate::raid::metadata::Level;
use check::{calibrate, check, merge_equivalent};
use levels::{duplicates, hypotheses, split_point};
use rank::offsets;
use sample::{Counted, Sample};

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
    /// The best candidate when it is more than `min` confident (two
    /// geometries the evidence cannot tell apart share 0.5 each).
    pub fn best(&self, min: f64) -> Option<&Candidate> {
        self.candidates.first().filter(|c| c.confidence > min)
    }
}

/// The sample read of each member by default (the head plus windows).
pub const DEFAULT_BUDGET: u64 = 48 << 20;

/// Candidates of one level hypothesis given the light check (on the sample).
const LIGHT_CHECKS: usize = 400;
/// Candidates of one level hypothesis kept for the full check.
const PER_HYPOTHESIS: usize = 40;
/// The best candidates of a hypothesis whose neighbouring orders are tried
/// after the light check, and how many times (while the best improves).
const REFINE_TOP: usize = 2;
const REFINE_ROUNDS: usize = 3;

/// Infers the geometry of the array `members` belong to. `progress(done,
/// total)` is called as work proceeds, in bytes of the sample (and a
/// quarter more for the ranking and checks); further arrays on the same
/// members start again with a total of their own. Never panics on any input; reads at
/// most [`sample::HARD_CAP`] bytes of each member (in the common case the
/// sample budget, [`DEFAULT_BUDGET`], and a few MiB of checks).
///
/// The best candidate becomes an array the way a geometry given by hand
/// does:
///
/// ```no_run
/// use recover_core::io::VolumeRef;
/// use recover_core::raid::infer::{infer, Hints};
/// use recover_core::raid::model::ArrayModel;
/// use recover_core::raid::volume::ArrayVolume;
///
/// fn assemble(members: &[VolumeRef]) -> Option<ArrayVolume> {
///     let found = infer(members, &Hints::default(), &|_, _| {}).ok()?;
///     for note in &found.notes {
///         eprintln!("{note}");
///     }
///     // Only a geometry the evidence singles out.
///     let best = found.best(0.5)?;
///     let model = ArrayModel::new(best.spec(members)).ok()?;
///     ArrayVolume::new("inferred".into(), model, false).ok()
/// }
/// ```
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
    infer_at(members, hints, budget, progress, 0, false)
}

/// [`infer_with_budget`] at a depth of splitting (members split into the
/// stretches of several arrays are not split again); `keep_blank`: blank
/// members stay in (they may be members nothing was written to yet).
fn infer_at(
    members: &[VolumeRef],
    hints: &Hints,
    budget: u64,
    progress: &dyn Fn(u64, u64),
    depth: u32,
    keep_blank: bool,
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
    // Progress in bytes: the sample as it is read (most of the time on a
    // real disk), then the ranking and the checks as a quarter more.
    let sampled = (plan.len() as u64)
        .saturating_mul(sample::WINDOW)
        .saturating_mul(n as u64);
    let total = sampled + sampled / 4;
    let read_so_far = || {
        counted
            .iter()
            .map(|c| c.bytes_read())
            .sum::<u64>()
            .min(sampled)
    };
    progress(0, total);
    let mut s = std::thread::scope(|sc| {
        let reader = sc.spawn(|| Sample::read(&counted, &plan));
        while !reader.is_finished() {
            progress(read_so_far(), total);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match reader.join() {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        }
    });
    let mut stats = rows::row_stats(&s);
    // No parity or mirror in the rows, and members larger than the sample:
    // RAID10 far=2 keeps its second copies half a member on, where the
    // sample does not reach. Read where they would be.
    let f = |x| rows::RowStats::frac(x, stats.nonzero);
    let related = f(stats.all_equal) >= 0.98 || f(stats.xor_zero) >= 0.97;
    if !related && least > budget && hints.level.is_none_or(|l| l == Level::Raid10) {
        let probes = sample::far_probes(least);
        if !probes.is_empty() {
            s = s.merged(Sample::read(&counted, &probes));
            stats = rows::row_stats(&s);
        }
    }
    progress(sampled, total);
    if stats.nonzero == 0 {
        inf.notes
            .push("every sampled row is zero on every member: nothing to infer from".into());
        inf.bytes_read = counted.iter().map(|c| c.bytes_read()).collect();
        progress(total, total);
        return Ok(inf);
    }
    // A member blank wherever sampled (a spare, a wiped disk) says nothing:
    // infer over the others and name it.
    let blank: Vec<usize> = (0..n)
        .filter(|&m| stats.member_nonzero.get(m) == Some(&0))
        .collect();
    if !blank.is_empty() && blank.len() < n && !keep_blank {
        let keep: Vec<usize> = (0..n).filter(|m| !blank.contains(m)).collect();
        let sub: Vec<VolumeRef> = keep.iter().map(|&m| members[m].clone()).collect();
        let mut inner = infer_at(&sub, hints, budget, progress, depth, false)?;
        // A nearly empty striped array can leave members untouched: with
        // them in, the structures read may fit better (a filesystem the
        // array without them is too small for).
        let with = infer_at(members, hints, budget, progress, depth, true)?;
        let checks = |i: &Inference| i.candidates.first().map_or(f64::MIN, |c| c.checks);
        if checks(&with) > checks(&inner) + 1.0 {
            let mut with = with;
            with.notes.insert(
                0,
                format!("members {blank:?} are blank in every sampled row, yet the array's structures need them"),
            );
            return Ok(with);
        }
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
    // A mirror on two members before an array over all: kept only where
    // the two arrays explain more than one array over all does (a sparse
    // parity array holds pairs of equal chunks too: a data chunk alone in
    // its row and the parity that copies it).
    let mut mirror_split = None;
    if depth == 0 && hints.offset.is_none() {
        if let Some((a, b, last, first_ne)) = rows::partial_mirror(&s) {
            mirror_split = split_mirror(members, budget, progress, (a, b), last, first_ne)?;
        }
    }
    let starts = anchors::find_starts(&s, 256);
    let (twins, far_shift) = rows::repeats(&s);
    stats.far_shift = far_shift;
    let hyps = hypotheses(&stats, twins, n, hints, &mut inf.notes);
    let dup = duplicates(&stats, n, &hyps);
    for (a, b) in &dup {
        inf.notes.push(format!(
            "members {a} and {b} hold the same bytes in every sampled row: one member given twice (or the surviving pair of a RAID10)?"
        ));
    }
    let offsets = offsets(&starts, hints);
    let vols: Vec<VolumeRef> = counted.iter().map(|c| c.clone() as VolumeRef).collect();
    let mut all: Vec<Candidate> = Vec::new();
    for h in &hyps {
        let xs;
        let hs = if h.xor_member {
            xs = s.with_xor_member();
            &xs
        } else {
            &s
        };
        // The rebuilt member holds array starts too (chunk 0 on the
        // missing member, a parity copy of it elsewhere).
        let xstarts;
        let hstarts = if h.xor_member {
            xstarts = anchors::find_starts(hs, 256);
            &xstarts
        } else {
            &starts
        };
        let ranker = rank::Ranker::new(hs, h, hstarts, &stats);
        let mut found = ranker.rank(&offsets, hints);
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut seen = HashSet::new();
        found.retain(|c| seen.insert(c.key()));
        // Where content says little (a nearly empty array), many rank
        // alike: the structures the sample holds sort the best hundreds
        // before the best few of every hypothesis go on to the full check.
        // Two members missing leave chunk 0 and most boundaries unseen:
        // the ranking ties widely and the light check must decide more.
        found.truncate(if h.missing >= 2 {
            10 * LIGHT_CHECKS
        } else {
            LIGHT_CHECKS
        });
        let sampled: Vec<VolumeRef> = (0..hs.members())
            .map(|m| {
                let len = members.get(m).map_or(hs.len, |v| v.len());
                Arc::new(sample::SampledMember::new(hs, m, len)) as VolumeRef
            })
            .collect();
        let light_checked = |cs: Vec<Candidate>| -> Vec<Candidate> {
            use rayon::prelude::*;
            cs.into_par_iter()
                .map(|mut c| {
                    check::light_check(&mut c, &sampled);
                    c
                })
                .collect()
        };
        found = light_checked(found);
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        // Orders one step from the best: weak continuity (small chunks,
        // incompressible data) can rank the right order out of the
        // shortlist while a near one is in and checks out almost as well.
        let mut seen: HashSet<_> = found.iter().map(Candidate::key).collect();
        for _ in 0..REFINE_ROUNDS {
            let best = found.first().map_or(f64::MIN, |c| c.score);
            let near: Vec<Candidate> = found
                .iter()
                .take(REFINE_TOP)
                .flat_map(|c| ranker.neighbours(c))
                .filter(|c| seen.insert(c.key()))
                .collect();
            if near.is_empty() {
                break;
            }
            found.extend(light_checked(near));
            found.sort_by(|a, b| b.score.total_cmp(&a.score));
            if found.first().map_or(f64::MIN, |c| c.score) <= best {
                break;
            }
        }
        found.truncate(PER_HYPOTHESIS);
        for c in &mut found {
            c.confidence = h.level_conf;
            c.evidence.insert(0, h.why.clone());
            if h.xor_member || h.missing > 0 {
                // The rebuilt (or absent) members are the missing slots.
                for slot in c.slots.iter_mut() {
                    if slot.is_some_and(|m| m >= n) {
                        *slot = None;
                    }
                }
            }
        }
        all.extend(found);
    }
    progress(sampled + sampled / 8, total);
    // Full check of the shortlist, through the assembled array.
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let prints: Vec<Option<u64>> = all.iter_mut().map(|c| check(c, &vols, &s)).collect();
    let mut all = merge_equivalent(all, prints);
    calibrate(&mut all, &dup, &mut inf.notes);
    progress(total, total);
    if let Some(split) = mirror_split {
        let top = |v: &[Candidate]| v.first().map_or(0.0, |c| c.checks);
        let (one, two) = (
            top(&split.candidates),
            split.further.first().map_or(0.0, |f| top(f)),
        );
        if one > 2.0 && two > 2.0 && one + two > top(&all) + 2.0 {
            return Ok(split);
        }
    }
    inf.candidates = all;
    inf.bytes_read = counted.iter().map(|c| c.bytes_read()).collect();
    Ok(inf)
}

/// A RAID1 on members `pair` up to somewhere in (`last`, `first_ne`],
/// then an array over all the members starting there on the pair and at 0
/// on the others (as a container places a volume on two of its disks
/// before one on all of them). Each end on a MiB boundary in that range is
/// tried (else on a 64 KiB one, at most four), the one whose second array
/// checks out best kept. `None` when the second array does not check out.
fn split_mirror(
    members: &[VolumeRef],
    budget: u64,
    progress: &dyn Fn(u64, u64),
    pair: (usize, usize),
    last: u64,
    first_ne: u64,
) -> Result<Option<Inference>> {
    use crate::io::Slice;
    let ends = |step: u64| -> Vec<u64> {
        let mut e: Vec<u64> = (last.div_ceil(step)..=first_ne / step)
            .map(|k| k * step)
            .filter(|&e| e > 0)
            .collect();
        e.reverse();
        e.truncate(4);
        e
    };
    let mut tries = ends(1 << 20);
    if tries.is_empty() {
        tries = ends(64 << 10);
    }
    let on_pair = |m: usize| m == pair.0 || m == pair.1;
    let mut best: Option<(f64, u64, Inference)> = None;
    for end in tries {
        let sliced: Vec<VolumeRef> = members
            .iter()
            .enumerate()
            .map(|(m, v)| {
                let lo = if on_pair(m) { end } else { 0 };
                Arc::new(Slice::new(v.clone(), lo, u64::MAX, v.describe())) as VolumeRef
            })
            .collect();
        let mut second = infer_at(&sliced, &Hints::default(), budget, progress, 1, false)?;
        let Some(top) = second.candidates.first() else {
            continue;
        };
        let checks = top.checks;
        if checks <= 2.0 || best.as_ref().is_some_and(|b| b.0 >= checks) {
            continue;
        }
        for c in &mut second.candidates {
            for (slot, o) in c.data_offset.iter_mut().enumerate() {
                if c.slots.get(slot).copied().flatten().is_some_and(on_pair) {
                    *o += end;
                }
            }
        }
        best = Some((checks, end, second));
    }
    let Some((_, end, second)) = best else {
        return Ok(None);
    };
    let halves: Vec<VolumeRef> = [pair.0, pair.1]
        .iter()
        .filter_map(|&m| members.get(m))
        .map(|v| Arc::new(Slice::new(v.clone(), 0, end, v.describe())) as VolumeRef)
        .collect();
    let mut first = infer_at(&halves, &Hints::default(), budget, progress, 1, false)?;
    for c in &mut first.candidates {
        for s in c.slots.iter_mut() {
            *s = s.map(|i| if i == 0 { pair.0 } else { pair.1 });
        }
    }
    first.notes.insert(
        0,
        format!(
            "members {} and {} mirror each other up to {end:#x}, where an array over all the members starts on them (at 0 on the others)",
            pair.0, pair.1
        ),
    );
    first
        .notes
        .extend(second.notes.iter().map(|n| format!("second array: {n}")));
    first.further.push(second.candidates);
    let mut read = vec![0u64; members.len()];
    for (i, r) in read.iter_mut().enumerate() {
        *r = second.bytes_read.get(i).copied().unwrap_or(0);
    }
    for (k, &m) in [pair.0, pair.1].iter().enumerate() {
        if let Some(r) = read.get_mut(m) {
            *r += first.bytes_read.get(k).copied().unwrap_or(0);
        }
    }
    first.bytes_read = read;
    Ok(Some(first))
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
        false,
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
    let mut first = infer_at(&slice(0, end), hints, budget, progress, 1, false)?;
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

#[cfg(test)]
mod tests;
