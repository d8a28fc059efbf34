//! Quick ranking of the geometries of one level hypothesis, from the
//! sample alone: every chunk size, order and data offset scored by content
//! continuity at chunk boundaries, the array start on slot 0's member,
//! RAID6 Q positions and RAID10 copies; the best go on to the full check.

use std::collections::HashMap;

use super::anchors;
use super::candidate::{Candidate, Shape};
use super::levels::Hypothesis;
use super::rows::RowStats;
use super::sample::Sample;
use super::search::{self, Feats, Mapper};
use super::Hints;
use super::{located, pins};
use crate::raid::map::ParityLayout;

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

/// Members up to which every order is tried (beyond, a beam search).
const FULL_ORDERS: usize = 6;
/// Candidates of one shape kept from the quick ranking.
const SHORTLIST: usize = 24;
/// Candidates of one shape and data offset kept beyond the shortlist.
const PER_OFFSET: usize = 6;
/// Candidates of one shape and chunk kept beyond the shortlist when a
/// member is missing (continuity is seen at fewer boundaries and can
/// favour a wrong chunk).
const PER_CHUNK_MISSING: usize = 2;

/// What a delayed-parity shape (HP's) starts behind the rotating ones
/// with: a rarer layout must be read better than md's, not as well, to be
/// chosen. On a nearly empty array many layouts read alike; without this
/// the delays win such ties and split the confidence of the right answer
/// (measured on the lab corpus: ties up to 0.4 apart, and a RAID0 whose
/// confidence fell below 0.5 with less than 2). A delayed array read
/// through md's placement keeps most chunks in place, so its own margin is
/// modest (4.5 on the synthetic fixture of 4 members): 2 keeps both.
const DELAYED_PRIOR: f64 = 2.0;

/// The least strip HP's Smart Arrays configure (HP's technology brief
/// "HP Smart Array Controllers and basic RAID performance factors": 16 KiB
/// to 1024 KiB): delayed-parity shapes are not tried below it unless the
/// chunk is given.
const HP_MIN_STRIP: u64 = 16 << 10;

/// Orders tried for a delayed-parity shape: the best of its base
/// placement's at the same chunk and offset.
const DELAYED_ORDERS: usize = 6;

/// Candidates of one delayed-parity shape kept from the quick ranking:
/// each is a near copy of a rotating candidate, and many of them would
/// crowd the full check and split the confidence of the right answer.
const DELAYED_SHORTLIST: usize = 4;

/// Ranking points for each structure the array's start names that lies
/// where the geometry puts it (a filesystem header found at a given member
/// offset by chance is rare), and against each place that holds other data
/// instead. They only rank: the full check verifies the same structures
/// and takes them back out (a wrong chunk given as a hint can put every
/// chunk-aligned structure in place and must not gain confidence by it).
const PIN_FOUND: f64 = 2.0;
const PIN_MISSED: f64 = 1.0;

/// Ranking points per nat of the parity placement's likelihood ratio
/// (see [`search::parity_agreement`]), and at most this many either way:
/// rows with some members zero are common and exact, and weigh about as
/// the RAID6 syndrome's rows do.
const PARITY_WEIGHT: f64 = 0.5;
const PARITY_CAP: f64 = 24.0;

/// Rows naming Q by a zero XOR without it that must be found for them to
/// count where members are missing.
const Q_ROWS_MISSING: usize = 16;

/// Ranking points taken from a candidate whose data area holds none of
/// the sampled data, in proportion to the share it leaves out.
const COVER_WEIGHT: f64 = 10.0;

/// Rows that must be looked at for parity placement to count where a
/// member is missing.
const PARITY_ROWS_MISSING: u32 = 16;

/// An order and the quick score it ranked with.
type ScoredOrder = (f64, Vec<usize>);

/// Data offsets to try: the hint alone, else 0 and where array starts were
/// found (partition tables first), at most 6.
pub(super) fn offsets(starts: &[(usize, u64, anchors::StartKind)], hints: &Hints) -> Vec<u64> {
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

/// The quick ranking of one level hypothesis over one sample: what every
/// geometry is scored with, kept for scoring more orders later.
pub(super) struct Ranker<'a> {
    s: &'a Sample,
    h: &'a Hypothesis,
    starts: &'a [(usize, u64, anchors::StartKind)],
    st: &'a RowStats,
    feats: Feats,
    located: Vec<located::Located>,
    /// (member offset, member holding Q) of the rows that name Q: those
    /// that XOR to zero without it (all members there), and those where Q
    /// is a GF multiple of another block.
    q_trace: Vec<(u64, usize)>,
    /// Rows where some members are zero (see [`RowStats::sparse`]), for
    /// parity shapes: they name the members parity can be on; under a
    /// RAID6 that lost one member, with the rows whose P and Q the blocks'
    /// relation names (see [`RowStats::pq_trace`]).
    sparse: Vec<(u64, u32)>,
    /// How often each member read holds data in those rows.
    sparse_rate: Vec<f64>,
    /// The rows that XOR to zero without one member count (see `new`).
    own_q: bool,
}

impl<'a> Ranker<'a> {
    /// Classifies the sample's sectors once for every score that follows.
    pub(super) fn new(
        s: &'a Sample,
        h: &'a Hypothesis,
        starts: &'a [(usize, u64, anchors::StartKind)],
        st: &'a RowStats,
    ) -> Ranker<'a> {
        // In a GF multiple b = g^k·a, b is Q when k is the coefficient of
        // a data block (few: the data slots), else a is (b = g^-k·a).
        let data = h.slots.saturating_sub(2);
        // Rows that XOR to zero without one member name it as Q, members
        // missing or not: with some missing, where the missing blocks of
        // the row are zero (most rows of a sparse array). Beside missing
        // members they count when many and when they name Q on more than
        // one member, as rotating parity does: a few can be chance, and a
        // surviving mirrored pair beside a third member names that member
        // in every row (as Q kept on one member would).
        let own_q = h.missing == 0 || {
            let mut per = vec![0usize; s.members()];
            for &(_, m) in &st.q_trace {
                if let Some(c) = per.get_mut(m) {
                    *c += 1;
                }
            }
            per.sort_unstable_by(|a, b| b.cmp(a));
            let second = per.get(1).copied().unwrap_or(0);
            st.q_trace.len() >= Q_ROWS_MISSING && second * 10 >= st.q_trace.len()
        };
        let mut q_trace = if own_q {
            st.q_trace.clone()
        } else {
            Vec::new()
        };
        q_trace.extend(st.gf_trace.iter().filter_map(|&(off, a, b, k)| {
            let k = usize::from(k);
            if k < data {
                Some((off, b))
            } else if 255 - k < data {
                Some((off, a))
            } else {
                None
            }
        }));
        let parity = h.shapes.iter().any(|sh| matches!(sh, Shape::Parity { .. }));
        let six_lost_one = h.missing == 1
            && h.slots == s.members() + 1
            && h.shapes
                .iter()
                .any(|sh| matches!(sh, Shape::Parity { level: 6, .. }));
        // Taken over the members read: a member rebuilt as the XOR of the
        // others holds data wherever they do.
        // With a member rebuilt as the XOR of the others (RAID4/5 that lost
        // one), the rebuilt block is the missing one: zero or not as it
        // was, so its rows name parity as a complete array's do.
        let mut sparse: Vec<(u64, u32)> = if !parity {
            Vec::new()
        } else if h.xor_member {
            // The plain row pass: the P and Q solving is for RAID6.
            super::rows::row_stats_in(s, 0..s.starts.len()).sparse
        } else {
            st.sparse.clone()
        };
        if six_lost_one {
            q_trace.extend(st.pq_trace.iter().map(|&(off, r)| (off, r.q)));
            // Rows that lost P name Q alone: as a mask they would make the
            // missing member's slot look held by Q's.
            sparse.extend(st.pq_trace.iter().filter_map(|&(off, r)| {
                let p = r.p.filter(|&p| p < 32 && r.q < 32)?;
                Some((off, 1u32 << p | 1 << r.q))
            }));
            sparse.sort_unstable();
        }
        q_trace.sort_unstable();
        Ranker {
            s,
            h,
            starts,
            st,
            feats: Feats::new(s),
            located: located::scan(s),
            q_trace,
            sparse_rate: search::member_rates(&sparse, s.members()),
            sparse,
            own_q,
        }
    }

    fn start_at(&self, m: usize, off: u64) -> bool {
        self.starts.iter().any(|&(sm, so, _)| sm == m && so == off)
    }

    /// A candidate of `shape` with its sizes; `score` and evidence as given.
    fn make(
        &self,
        shape: Shape,
        chunk: u64,
        order: Vec<usize>,
        off: u64,
        score: f64,
        ev: String,
    ) -> Candidate {
        let n = self.h.slots;
        let least = s_len(self.s);
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
            continuity: 0.0,
            shape,
            searched_order: false,
            pin_points: 0.0,
            q_points: 0.0,
        }
    }

    /// The placement of a striped `shape` at `chunk` and `off`, and the
    /// chunks each member holds; `None` when the shape cannot be.
    fn mapper(&self, shape: Shape, chunk: u64, off: u64) -> Option<(Mapper, u64)> {
        // Far copies measured on the members fix the member size md used
        // (and rule out chunks the stride is no multiple of).
        let mut member_chunks = s_len(self.s).saturating_sub(off) / chunk.max(1);
        if let (Some(far), Some(shift)) = (far_copies(shape), self.st.far_shift) {
            if shift % chunk.max(1) != 0 {
                return None;
            }
            member_chunks = far * (shift / chunk.max(1));
        }
        Mapper::new(shape, self.h.slots, member_chunks).map(|m| (m, member_chunks))
    }

    /// The data offsets tried for `shape` at `chunk`: `offsets`, and with
    /// a RAID10 member missing, those a start found at a second copy of
    /// chunk 0 implies (a row before for offset copies, a far stride
    /// before for far ones: the first copy was on the missing member).
    fn offsets_for(&self, shape: Shape, chunk: u64, offsets: &[u64]) -> Vec<u64> {
        let mut out = offsets.to_vec();
        if self.h.missing == 0 || !matches!(shape, Shape::Raid10(_)) {
            return out;
        }
        let Some((map, _)) = self.mapper(shape, chunk, 0) else {
            return out;
        };
        for (_, row) in map.chunk0_copies() {
            for &o in offsets {
                let Some(at) = row.checked_mul(chunk).and_then(|d| o.checked_sub(d)) else {
                    continue;
                };
                if row > 0 && !out.contains(&at) {
                    out.push(at);
                }
            }
        }
        out
    }

    /// Scores one order of a striped shape from the sample: continuity at
    /// its chunk boundaries, the array's start on slot 0's member, RAID6 Q
    /// positions, RAID10 copies.
    fn score(
        &self,
        shape: Shape,
        chunk: u64,
        off: u64,
        (map, member_chunks): (&Mapper, u64),
        order: Vec<usize>,
    ) -> Candidate {
        let (s, st, h) = (self.s, self.st, self.h);
        let delayed = matches!(shape, Shape::Parity { delay: 2.., .. });
        // Two members missing: most boundaries are unseen and the light
        // check decides; fewer are looked at.
        let boundaries = if h.missing >= 2 { 384 } else { 1536 };
        let c = search::continuity(&self.feats, map, chunk, &order, off, boundaries);
        let first = map.locate(0).and_then(|(slot, _)| order.get(slot).copied());
        // Chunk 0 on a missing slot: the start cannot be seen there, but a
        // copy of it can (a parity block of a row otherwise zero, RAID10's
        // other copy), where the geometry puts the copies.
        let absent = first.is_some_and(|m| m >= s.members());
        let start = first.is_some_and(|m| self.start_at(m, off))
            || (absent
                && map.chunk0_copies().iter().any(|&(slot, row)| {
                    order.get(slot).is_some_and(|&m| {
                        row.checked_mul(chunk)
                            .and_then(|d| d.checked_add(off))
                            .is_some_and(|at| self.start_at(m, at))
                    })
                }));
        let mut score = c.weight() + if start { 3.0 } else { 0.0 };
        let mut q_points = 0.0;
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
        if delayed {
            score -= DELAYED_PRIOR;
            ev.push_str("; delayed parity, rarer than rotation: scored down");
        }
        if matches!(shape, Shape::Parity { level: 6, .. }) {
            // Rows whose Q is a multiple of their one data block (or of
            // P) name Q and that block's place, with members missing too.
            let (mut ok, mut tested) =
                search::gf_agreement(&st.gf_trace, map, chunk, &order, off, 1024);
            let (a, b) = if self.own_q {
                search::q_agreement(&st.q_trace, map, chunk, &order, off, 1024)
            } else {
                (0, 0)
            };
            ok += a;
            tested += b;
            if h.missing == 1 {
                // Rows whose Q is present name it as above; those whose Q
                // is the missing member XOR to zero.
                let (a, b) = search::missing_q_agreement(
                    &st.row_trace,
                    map,
                    chunk,
                    &order,
                    off,
                    s.members(),
                    1024,
                );
                ok += a;
                tested += b;
            }
            let f = RowStats::frac(u64::from(ok), u64::from(tested));
            q_points = 4.0 * (f - 0.5) * f64::from(tested).sqrt();
            score += q_points;
            ev.push_str(&format!(
                "; Q where the rows put it in {ok} of {tested} rows"
            ));
        }
        if matches!(shape, Shape::Parity { .. }) {
            let (ok, tested, llr) = search::parity_agreement(
                &self.sparse,
                &self.sparse_rate,
                map,
                chunk,
                &order,
                off,
                1024,
            );
            // With a member missing nothing shows the level has parity at
            // all (a striped array reads as RAID5 missing one as well), and
            // among the thousands of orders tried a few rows fit one by
            // luck: they count there only when more.
            let least = if h.xor_member || h.missing > 0 {
                PARITY_ROWS_MISSING
            } else {
                1
            };
            if tested >= least {
                score += (PARITY_WEIGHT * llr).clamp(-PARITY_CAP, PARITY_CAP);
                ev.push_str(&format!(
                    "; parity where the rows hold data in {ok} of {tested} rows"
                ));
            }
        }
        let pinned = pins::agreement(s, &self.located, map, chunk, &order, off);
        let pin_points =
            PIN_FOUND * f64::from(pinned.found) - PIN_MISSED * f64::from(pinned.missed);
        if pinned.found + pinned.missed > 0 {
            score += pin_points;
            ev.push_str(&format!(
                "; {} of {} structures the array's start names found where it puts them",
                pinned.found,
                pinned.found + pinned.missed
            ));
        }
        if pinned.located_tested > 0 {
            let f = RowStats::frac(u64::from(pinned.located), u64::from(pinned.located_tested));
            // Measured against chance (a block lands on its own member in
            // one order of n): a right geometry never loses by them, even
            // where some blocks do not lie where their filesystem's start
            // says (an MFT that grew in pieces).
            let chance = 1.0 / h.slots.max(1) as f64;
            score += 4.0 * (f - chance) * f64::from(pinned.located_tested).sqrt();
            ev.push_str(&format!(
                "; {} of {} blocks that record their place lie where it puts them",
                pinned.located, pinned.located_tested
            ));
        }
        if let Some(g) = &map.r10 {
            let (ok, tested) = search::copies_agree(s, g, &order, chunk, off, 64);
            let f = RowStats::frac(u64::from(ok), u64::from(tested));
            score += 4.0 * (f - 0.5) * f64::from(tested).sqrt();
            ev.push_str(&format!("; copies agree in {ok} of {tested} chunks"));
        }
        let mut cand = self.make(shape, chunk, order, off, score, ev);
        if far_copies(shape).is_some() && st.far_shift.is_some() {
            cand.member_size = member_chunks * chunk;
            cand.evidence.push(format!(
                "far copies {:#x} bytes on, measured on the members",
                st.far_shift.unwrap_or(0)
            ));
        }
        // An array holds the data on its members: one whose data area
        // leaves most of it out (a stretch at the members' ends, where a
        // few rows fit anything) explains little of what was read.
        let cov = st.coverage(off, off.saturating_add(cand.member_size));
        cand.score -= COVER_WEIGHT * (1.0 - cov);
        if cov < 0.5 {
            if let Some(e) = cand.evidence.first_mut() {
                e.push_str(&format!(
                    "; its data area holds only {:.0}% of the sampled rows with data",
                    cov * 100.0
                ));
            }
        }
        cand.continuity = c.z();
        cand.pin_points = pin_points;
        cand.q_points = q_points;
        cand
    }

    /// The orders one step from `c`'s (two slots swapped, or one member
    /// moved to another slot), scored as the ranking scores: where content
    /// continuity is weak (small chunks, incompressible data) the ranking
    /// can leave the right order out while a near one checks out well, and
    /// the checks then tell them apart. Striped shapes only.
    pub(super) fn neighbours(&self, c: &Candidate) -> Vec<Candidate> {
        let n = c.slots.len();
        let order: Option<Vec<usize>> = c.slots.iter().copied().collect();
        let (Some(order), true) = (order, c.shape.striped()) else {
            return Vec::new();
        };
        let off = c.data_offset.first().copied().unwrap_or(0);
        let Some((map, mc)) = self.mapper(c.shape, c.chunk, off) else {
            return Vec::new();
        };
        let mut orders: Vec<Vec<usize>> = Vec::new();
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let mut o = order.clone();
                if a < b {
                    o.swap(a, b);
                    orders.push(o.clone());
                    o = order.clone();
                }
                let m = o.remove(a);
                o.insert(b, m);
                orders.push(o);
            }
        }
        let mut seen = std::collections::HashSet::new();
        orders
            .into_iter()
            .filter(|o| *o != order && seen.insert(o.clone()))
            .map(|o| {
                let mut cand = self.score(c.shape, c.chunk, off, (&map, mc), o);
                cand.searched_order = c.searched_order;
                cand
            })
            .collect()
    }

    /// Quick-ranks the geometries of the hypothesis from the sample.
    pub(super) fn rank(&self, offsets: &[u64], hints: &Hints) -> Vec<Candidate> {
        let h = self.h;
        let n = h.slots;
        let mut out: Vec<Candidate> = Vec::new();
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
                    let start = order.first().is_some_and(|&m| self.start_at(m, off));
                    if !start {
                        continue;
                    }
                    let mut c = self.make(Shape::Linear, 0, order.clone(), off, 3.0, String::new());
                    c.evidence =
                        vec!["the array's start lies on the first member at the offset".into()];
                    out.push(c);
                }
            }
            return out;
        }
        if h.shapes.contains(&Shape::Raid1) {
            for &off in offsets {
                let bonus = if (0..n).any(|m| self.start_at(m, off)) {
                    1.0
                } else {
                    0.0
                };
                out.push(self.make(
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
        let chunks: Vec<u64> = match hints.chunk {
            Some(c) => vec![c],
            None => CHUNKS.to_vec(),
        };
        // The best orders of HP's base placement without delay, by (chunk,
        // offset): the delayed shapes place row 0 and most chunks of every row
        // as it does, so their order is among these.
        let mut base_orders: HashMap<(u64, u64), Vec<ScoredOrder>> = HashMap::new();
        for &shape in &h.shapes {
            let delayed = matches!(shape, Shape::Parity { delay: 2.., .. });
            let hp_base = shape
                == Shape::Parity {
                    level: 5,
                    algo: ParityLayout::HP,
                    delay: 1,
                };
            for &chunk in &chunks {
                if delayed && chunk < HP_MIN_STRIP && hints.chunk.is_none() {
                    continue;
                }
                for off in self.offsets_for(shape, chunk, offsets) {
                    let Some((map, member_chunks)) = self.mapper(shape, chunk, off) else {
                        continue;
                    };
                    let mut pinned: Vec<Vec<usize>> = Vec::new();
                    let orders = match base_orders.get_mut(&(chunk, off)) {
                        Some(best) if delayed => {
                            best.sort_by(|a, b| b.0.total_cmp(&a.0));
                            best.iter()
                                .take(DELAYED_ORDERS)
                                .map(|(_, o)| o.clone())
                                .collect()
                        }
                        _ if n <= FULL_ORDERS => search::permutations(n),
                        _ => {
                            let mut o = search::beam_orders(
                                &search::adjacency(&self.feats, n, chunk, off),
                                64,
                            );
                            // RAID6 rows name the member holding Q, and the
                            // layout names the slot: the order follows,
                            // whatever the content.
                            if matches!(shape, Shape::Parity { level: 6, .. }) {
                                for q in search::orders_from_q(&self.q_trace, &map, chunk, off, n) {
                                    if !o.contains(&q) {
                                        o.insert(0, q.clone());
                                    }
                                    pinned.push(q);
                                }
                            }
                            // Parity lies where the rows hold data: the
                            // layout names its slot row by row.
                            if matches!(shape, Shape::Parity { .. }) {
                                for (p, complete) in search::orders_from_parity(
                                    &self.sparse,
                                    &map,
                                    chunk,
                                    off,
                                    n,
                                    self.s.members(),
                                    &o,
                                ) {
                                    if complete {
                                        pinned.push(p.clone());
                                    }
                                    if !o.contains(&p) {
                                        o.insert(0, p);
                                    }
                                }
                            }
                            // The structures the array's start names
                            // place the members that hold them.
                            for (p, complete) in
                                pins::orders(self.s, &self.located, &map, chunk, off, n, &o)
                            {
                                if complete {
                                    pinned.push(p.clone());
                                }
                                if !o.contains(&p) {
                                    o.insert(0, p);
                                }
                            }
                            o
                        }
                    };
                    // Absent members are alike: one order of them is enough.
                    let present = self.s.members();
                    let orders = orders
                        .into_iter()
                        .filter(|o: &Vec<usize>| o.iter().filter(|&&m| m >= present).is_sorted());
                    for order in orders {
                        let searched = n > FULL_ORDERS && !pinned.contains(&order);
                        let mut cand = self.score(shape, chunk, off, (&map, member_chunks), order);
                        if hp_base {
                            base_orders
                                .entry((chunk, off))
                                .or_default()
                                .push((cand.score, cand.slots.iter().flatten().copied().collect()));
                        }
                        cand.searched_order = searched;
                        out.push(cand);
                    }
                }
            }
            // Keep the hypothesis' best few per shape so that no shape floods the shortlist.
            out.sort_by(|a, b| b.score.total_cmp(&a.score));
            let keep_other: Vec<Candidate> =
                out.iter().filter(|c| c.shape != shape).cloned().collect();
            let (short, per) = if delayed {
                (DELAYED_SHORTLIST, 0)
            } else {
                (SHORTLIST, PER_OFFSET)
            };
            let per_chunk_keep = if h.missing == 1 && !delayed {
                PER_CHUNK_MISSING
            } else {
                0
            };
            // Two members missing: chunk 0 and most boundaries are unseen,
            // the ranking ties widely, and the light check (cheap on the
            // sample) decides among all.
            let keep_all = h.missing >= 2 && !delayed;
            let mut mine: Vec<Candidate> = Vec::new();
            let mut per_offset: HashMap<u64, usize> = HashMap::new();
            let mut per_chunk: HashMap<u64, usize> = HashMap::new();
            for c in out.into_iter().filter(|c| c.shape == shape) {
                // The best few of every data offset too: a stray table deeper
                // on a member must not push the real start out of the list;
                // and of every chunk: where members are missing, continuity
                // is seen at few boundaries and can favour a wrong chunk.
                let off = c.data_offset.first().copied().unwrap_or(0);
                let k = per_offset.entry(off).or_insert(0);
                *k += 1;
                let j = per_chunk.entry(c.chunk).or_insert(0);
                *j += 1;
                if keep_all || mine.len() < short || *k <= per || *j <= per_chunk_keep {
                    mine.push(c);
                }
            }
            out = keep_other;
            out.extend(mine);
        }
        out
    }
}

/// Copies of a RAID10 far layout (not offset), `None` for other shapes.
fn far_copies(shape: Shape) -> Option<u64> {
    let Shape::Raid10(words) = shape else {
        return None;
    };
    let word = crate::raid::model::raid10_word(words)?;
    let far = u64::from((word >> 8) & 0xff);
    (far > 1 && word & 0x1_0000 == 0).then_some(far)
}

/// The least member length in the sample's terms (the members' lengths are
/// not in the sample: the last window's end is a lower bound).
fn s_len(s: &Sample) -> u64 {
    s.len
}
