//! Chunk size, member order and layout from content continuity: for a
//! candidate geometry, every array chunk boundary pairs the last sector of
//! one chunk with the first sector of the next, which in the right
//! geometry are neighbours in the array and look alike. Scored from the
//! sample alone (no assembly); the best few are then checked in full.

use super::candidate::Shape;
use super::features::{classify, similarity, Feat, SECTOR};
use super::sample::Sample;
use crate::raid::map::{ParityGeometry, Raid10Geometry, Stripe};
use crate::raid::model::raid10_word;

/// The sample's sectors, classified once.
#[derive(Debug)]
pub struct Feats {
    starts: Vec<u64>,
    /// `[member][window][sector]`.
    f: Vec<Vec<Vec<Feat>>>,
}

impl Feats {
    /// Classifies every sector of `s`.
    pub fn new(s: &Sample) -> Feats {
        use rayon::prelude::*;
        let f = s
            .data
            .par_iter()
            .map(|wins| {
                wins.iter()
                    .map(|w| w.chunks(SECTOR).map(classify).collect())
                    .collect()
            })
            .collect();
        Feats {
            starts: s.starts.clone(),
            f,
        }
    }

    /// The sector of member `m` starting at member offset `off` (sector aligned).
    pub fn at(&self, m: usize, off: u64) -> Option<Feat> {
        let i = self.starts.partition_point(|&s| s <= off).checked_sub(1)?;
        let rel = off.checked_sub(*self.starts.get(i)?)?;
        if rel % SECTOR as u64 != 0 {
            return None;
        }
        self.f
            .get(m)?
            .get(i)?
            .get(usize::try_from(rel / SECTOR as u64).ok()?)
            .copied()
    }

    /// (start, bytes) of each window.
    fn windows(&self) -> Vec<(u64, u64)> {
        let len = |i: usize| {
            self.f
                .first()
                .and_then(|m| m.get(i))
                .map_or(0, |w| (w.len() * SECTOR) as u64)
        };
        self.starts
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, len(i)))
            .collect()
    }
}

/// Where data chunks live under one shape over `n` slots.
#[derive(Debug)]
pub struct Mapper {
    n: u64,
    geom: Option<ParityGeometry>,
    /// RAID10's geometry.
    pub r10: Option<Raid10Geometry>,
}

impl Mapper {
    /// `None` when the shape cannot have `n` members; `member_chunks` is
    /// what each member holds (RAID10's far copies depend on it).
    pub fn new(shape: Shape, n: usize, member_chunks: u64) -> Option<Mapper> {
        let (mut geom, mut r10) = (None, None);
        match shape {
            Shape::Parity { level, algo, delay } => {
                geom = Some(
                    ParityGeometry::new(level, n as u32, algo)
                        .and_then(|g| g.delayed(delay))
                        .ok()?,
                )
            }
            Shape::Raid0 if n >= 2 => {}
            Shape::Raid10(words) if n >= 2 => {
                let word = raid10_word(words)?;
                let g = Raid10Geometry::from_md(n as u32, word, member_chunks).ok()?;
                if g.array_chunks == 0 {
                    return None;
                }
                r10 = Some(g);
            }
            _ => return None,
        };
        Some(Mapper {
            n: n as u64,
            geom,
            r10,
        })
    }

    /// Data chunks per row, as a fraction (numerator, denominator).
    fn per_row(&self) -> (u64, u64) {
        match (&self.geom, &self.r10) {
            (Some(g), _) => (u64::from(g.data_disks()), 1),
            (None, Some(g)) => (
                self.n,
                u64::from(g.near) * if g.offset { u64::from(g.far) } else { 1 },
            ),
            _ => (self.n, 1),
        }
    }

    /// Where copies of array chunk 0 lie, as (slot, member chunk row), when
    /// the rest of its row is zero (an array's start is mostly zeros
    /// around a partition table): chunk 0's own place, P, Q where chunk
    /// 0's coefficient is 1, RAID10's second copy (a row on for offset
    /// copies, half a member on for far ones).
    pub fn chunk0_copies(&self) -> Vec<(usize, u64)> {
        match (&self.geom, &self.r10) {
            (Some(g), _) => {
                let st = g.stripe(0);
                let mut out: Vec<(usize, u64)> = st
                    .data
                    .first()
                    .map(|&d| (d as usize, 0))
                    .into_iter()
                    .collect();
                out.push((st.p as usize, 0));
                if let (Some(q), Some(0)) = (st.q, st.q_slot.first()) {
                    out.push((q as usize, 0));
                }
                out
            }
            (None, Some(g)) => g
                .copies(0)
                .iter()
                .map(|&(d, row)| (d as usize, row))
                .collect(),
            _ => vec![(0, 0)],
        }
    }

    /// (slot, member chunk row) of array data chunk `k` (RAID10: its first copy).
    pub fn locate(&self, k: u64) -> Option<(usize, u64)> {
        match (&self.geom, &self.r10) {
            (Some(g), _) => {
                let dd = u64::from(g.data_disks());
                let row = k / dd;
                let slot = *g.stripe(row).data.get((k % dd) as usize)?;
                Some((slot as usize, row))
            }
            (None, Some(g)) => {
                if k >= g.array_chunks {
                    return None;
                }
                let (d, row) = *g.copies(k).first()?;
                Some((d as usize, row))
            }
            _ => Some(((k % self.n) as usize, k / self.n)),
        }
    }
}

/// Places in a chunk where [`copies_agree`] compares the copies.
const SPOTS: u64 = 8;

/// (chunks whose copies all agree, chunks tested) under a RAID10 candidate:
/// up to 512 bytes at `SPOTS` places of every copy of sampled chunks,
/// where all are sampled and some is not zero.
pub fn copies_agree(
    s: &Sample,
    g: &Raid10Geometry,
    order: &[usize],
    chunk: u64,
    offset: u64,
    max: u32,
) -> (u32, u32) {
    let (mut ok, mut tested) = (0u32, 0u32);
    let len = chunk.min(512) as usize;
    // An odd step meets every copy set (an even one can meet only those
    // of even chunks, all on a pair with a member missing).
    let step = (g.array_chunks / (4 * u64::from(max.max(1)))).max(1) | 1;
    let mut k = 0u64;
    let mut guard = 0u32;
    while k < g.array_chunks && tested < max && guard < 1 << 16 {
        guard += 1;
        // A few spots spread over the chunk: a sparse chunk is often zero
        // at its start.
        let copies = g.copies(k);
        let (mut data, mut equal) = (false, true);
        for spot in 0..SPOTS {
            let within = (chunk / SPOTS * spot) & !511;
            let blocks: Option<Vec<&[u8]>> = copies
                .iter()
                .map(|&(d, row)| {
                    let m = *order.get(d as usize)?;
                    let at = row.checked_mul(chunk)?.checked_add(within)?;
                    s.bytes(m, offset.checked_add(at)?, len)
                })
                .collect();
            if let Some(b) = blocks {
                if b.iter().any(|x| x.iter().any(|&y| y != 0)) {
                    data = true;
                    equal &= b.windows(2).all(|w| w[0] == w[1]);
                }
            }
        }
        if data {
            tested += 1;
            ok += u32::from(equal);
        }
        k += step;
    }
    (ok, tested)
}

/// How much better `head` continues `tail` than `alt` does, in -2..=2;
/// `None` when all three are zero.
pub fn contrast(tail: Feat, head: Feat, alt: Feat) -> Option<f64> {
    let (h, a) = (similarity(tail, head), similarity(tail, alt));
    if h.is_none() && a.is_none() {
        return None;
    }
    // Zeros continuing zeros: mild continuity.
    Some(h.unwrap_or(0.3) - a.unwrap_or(0.3))
}

/// Continuity of one candidate: (sum of similarities, boundaries that said
/// something).
#[derive(Debug, Clone, Copy, Default)]
pub struct Continuity {
    /// Sum of similarities.
    pub sum: f64,
    /// Informative boundaries.
    pub count: u32,
    /// Sum of squared similarities (for the spread).
    pub sq: f64,
}

impl Continuity {
    /// The mean, shrunk toward 0 when few boundaries spoke.
    pub fn strength(self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / (f64::from(self.count) + 8.0)
        }
    }

    /// Evidence on a log-likelihood-like scale: the mean contrast times
    /// the square root of the boundaries that spoke (a mean over more
    /// boundaries is surer).
    pub fn weight(self) -> f64 {
        self.sum / (f64::from(self.count) + 8.0).sqrt()
    }

    /// How many standard errors the mean lies from zero (0 with fewer
    /// than 8 boundaries): well below zero, the boundaries are not real.
    pub fn z(self) -> f64 {
        if self.count < 8 {
            return 0.0;
        }
        let n = f64::from(self.count);
        let mean = self.sum / n;
        let var = (self.sq / n - mean * mean).max(1e-6);
        mean / (var / n).sqrt()
    }
}

/// Scores chunk boundaries of the candidate (`map`, `chunk`, `order`: slot
/// to sample member, `offset`), at most `max` of them.
pub fn continuity(
    feats: &Feats,
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    offset: u64,
    max: u32,
) -> Continuity {
    let mut c = Continuity::default();
    if chunk < SECTOR as u64 {
        return c;
    }
    let (num, den) = map.per_row();
    let wins = feats.windows();
    let total_rows: u64 = wins.iter().map(|(_, l)| l / chunk).sum();
    let mut step = (total_rows * num / den.max(1) / u64::from(max.max(1))).max(1);
    // A step that shares a factor with the data chunks of a row would look
    // at the same few slot boundaries in every row (with 8 data members
    // and a step of 8, only one): step coprime to it, every pair is seen.
    while num > 1 && gcd(step, num) != 1 {
        step += 1;
    }
    let mut seen = 0u32;
    for (start, len) in wins {
        let end = start + len;
        if end <= offset {
            continue;
        }
        let r_lo = start.saturating_sub(offset).div_ceil(chunk);
        let r_hi = match ((end - offset) / chunk).checked_sub(1) {
            Some(r) => r,
            None => continue,
        };
        if r_hi < r_lo {
            continue;
        }
        let mut k = r_lo * num / den.max(1);
        let mut guard = 0u64;
        loop {
            guard += 1;
            if guard > 1 << 20 || seen >= max {
                break;
            }
            let Some((sa, ra)) = map.locate(k) else { break };
            if ra > r_hi {
                break;
            }
            if ra >= r_lo {
                if let Some((sb, rb)) = map.locate(k + 1) {
                    let end = offset + (ra + 1) * chunk;
                    let tail = order
                        .get(sa)
                        .and_then(|&m| feats.at(m, end - SECTOR as u64));
                    // What follows the tail on its own member: the
                    // continuation if this were no boundary.
                    let alt = order.get(sa).and_then(|&m| feats.at(m, end));
                    let head = order
                        .get(sb)
                        .and_then(|&m| feats.at(m, offset + rb * chunk));
                    if let (Some(t), Some(h), Some(a)) = (tail, head, alt) {
                        seen += 1;
                        if let Some(d) = contrast(t, h, a) {
                            c.sum += d;
                            c.sq += d * d;
                            c.count += 1;
                        }
                    }
                }
            }
            k += step;
        }
    }
    c
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// About `max` entries of `trace` spread over it, those at or after the
/// data offset `offset`, each with the stripe of the geometry `g` (at
/// `chunk`) that its member offset (`at`) falls in.
fn sampled_stripes<'t, T>(
    trace: &'t [T],
    at: impl Fn(&T) -> u64 + 't,
    g: &'t ParityGeometry,
    chunk: u64,
    offset: u64,
    max: usize,
) -> impl Iterator<Item = (&'t T, &'t Stripe)> + 't {
    let step = (trace.len() / max.max(1)).max(1);
    trace.iter().step_by(step).filter_map(move |e| {
        let row = at(e).checked_sub(offset)?.checked_div(chunk)?;
        Some((e, g.stripe(row)))
    })
}

/// (rows where the candidate puts Q on the member that the rows say holds
/// it, rows compared): `trace` is (member offset, sample member) of rows
/// that XOR to zero without that member.
pub fn q_agreement(
    trace: &[(u64, usize)],
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    offset: u64,
    max: usize,
) -> (u32, u32) {
    let Some(g) = &map.geom else { return (0, 0) };
    let (mut ok, mut n) = (0u32, 0u32);
    for (&(_, m), st) in sampled_stripes(trace, |e| e.0, g, chunk, offset, max) {
        let Some(q) = st.q.and_then(|q| order.get(q as usize)) else {
            continue;
        };
        n += 1;
        if *q == m {
            ok += 1;
        }
    }
    (ok, n)
}

/// (rows the candidate explains, rows looked at) of `trace` (member
/// offset, a, b, k: the block of member b is g^k times member a's): Q must
/// be on b and a hold the data block of coefficient g^k, or P (which
/// copies the lone data block of its row); or the same the other way round
/// (a = g^-k · b). Members the order leaves out are not in the trace.
pub fn gf_agreement(
    trace: &[(u64, usize, usize, u8)],
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    offset: u64,
    max: usize,
) -> (u32, u32) {
    let Some(g) = &map.geom else { return (0, 0) };
    let (mut ok, mut n) = (0u32, 0u32);
    let slot_of = |m: usize| order.iter().position(|&x| x == m).map(|s| s as u32);
    for (&(_, a, b, k), st) in sampled_stripes(trace, |e| e.0, g, chunk, offset, max) {
        let (Some(sa), Some(sb), Some(q)) = (slot_of(a), slot_of(b), st.q) else {
            continue;
        };
        n += 1;
        // Is `slot` P, or the data block whose Q coefficient is g^e?
        let source = |slot: u32, e: u32| {
            slot == st.p
                || st
                    .data
                    .iter()
                    .zip(&st.q_slot)
                    .any(|(&d, &c)| d == slot && c % 255 == e)
        };
        let k = u32::from(k);
        if (sb == q && source(sa, k)) || (sa == q && source(sb, (255 - k) % 255)) {
            ok += 1;
        }
    }
    (ok, n)
}

/// The orders of `n` members a RAID6 shape (`map`, `chunk`, `offset`)
/// gives where `trace` (member offset, member holding Q) says which member
/// holds Q row by row: the layout names Q's slot in each row, so each row
/// votes that member into that slot. Slots left without a clear member are
/// filled every way with the members left (when at most 4 are).
pub fn orders_from_q(
    trace: &[(u64, usize)],
    map: &Mapper,
    chunk: u64,
    offset: u64,
    n: usize,
) -> Vec<Vec<usize>> {
    let Some(g) = &map.geom else {
        return Vec::new();
    };
    let mut votes = vec![vec![0u32; n]; n];
    for &(off, m) in trace {
        if off < offset || chunk == 0 || m >= n {
            continue;
        }
        let st = g.stripe((off - offset) / chunk);
        if let Some(v) =
            st.q.and_then(|q| votes.get_mut(q as usize))
                .and_then(|row| row.get_mut(m))
        {
            *v += 1;
        }
    }
    // A slot's member: the one most of its rows name, by a clear margin.
    let mut slot_of: Vec<Option<usize>> = vec![None; n];
    let mut used = vec![false; n];
    for (slot, row) in votes.iter().enumerate() {
        let total: u32 = row.iter().sum();
        let Some((m, &best)) = row.iter().enumerate().max_by_key(|(_, &c)| c) else {
            continue;
        };
        if best >= 2 && best * 10 >= total * 9 && !used[m] {
            slot_of[slot] = Some(m);
            used[m] = true;
        }
    }
    let free: Vec<usize> = (0..n).filter(|&m| !used[m]).collect();
    if free.len() > 4 {
        return Vec::new();
    }
    permutations(free.len())
        .into_iter()
        .map(|p| {
            let mut rest = p.into_iter().map(|i| free[i]);
            slot_of
                .iter()
                .map(|s| s.or_else(|| rest.next()).unwrap_or(0))
                .collect()
        })
        .collect()
}

/// (rows agreeing, rows compared) for a RAID6 candidate whose slot holding
/// sample member `missing` has no member: the rows where it puts Q on the
/// missing member must be those whose present members XOR to zero
/// (`trace`: member offset, XORs to zero). Returned as (agreeing, rows)
/// with the agreeing share balanced over the rows it puts Q there and the
/// others; rows: those predicted there or zero.
pub fn missing_q_agreement(
    trace: &[(u64, bool)],
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    offset: u64,
    missing: usize,
    max: usize,
) -> (u32, u32) {
    let Some(g) = &map.geom else { return (0, 0) };
    // (predicted there, zero) counts.
    let mut k = [[0u32; 2]; 2];
    for (&(_, zero), st) in sampled_stripes(trace, |e| e.0, g, chunk, offset, max) {
        let there = st.q.and_then(|q| order.get(q as usize)) == Some(&missing);
        k[usize::from(there)][usize::from(zero)] += 1;
    }
    // Balanced: the rows it puts Q there that are zero, and those it does
    // not that are not, each as a share. A layout that keeps Q on the
    // missing member in every row (parity-first) predicts nothing: rows
    // of a sparse array XOR to zero wherever the missing member is.
    let (yes, no) = (k[1][0] + k[1][1], k[0][0] + k[0][1]);
    if yes == 0 || no == 0 {
        return (0, 0);
    }
    let balanced = (f64::from(k[1][1]) / f64::from(yes) + f64::from(k[0][0]) / f64::from(no)) / 2.0;
    let n = k[1][1] + k[1][0] + k[0][1];
    ((balanced * f64::from(n)).round() as u32, n)
}

/// What the rows where some members are zero say of a parity placement:
/// (stripe rows where the members the candidate puts parity on hold data,
/// stripe rows looked at, the log-likelihood ratio of the placement being
/// right against being chance, in nats). `trace` is (member offset, mask
/// of the sample members holding data) (see [`super::rows::RowStats::sparse`]);
/// `rate` is how often each member holds data in them, the chance that a
/// wrong placement finds data on it. Through the right placement parity
/// holds data in all but a few rows (blocks that cancel): each row it
/// does counts for it as much as the member is rarely busy, and each it
/// does not counts heavily against it, so a placement right in most rows
/// only (a wrong chunk inside the right one, a fixed parity member that is
/// seldom zero) loses. A parity slot on a member without a rate (absent,
/// or rebuilt) says nothing.
pub fn parity_agreement(
    trace: &[(u64, u32)],
    rate: &[f64],
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    offset: u64,
    max: usize,
) -> (u32, u32, f64) {
    /// Rows a right placement misses (blocks that cancel, stale parity).
    const MISS: f64 = 0.02;
    let Some(g) = &map.geom else {
        return (0, 0, 0.0);
    };
    // The rows of one stripe row vote once (a large chunk holds hundreds
    // of them, all alike): agreeing when parity holds data in nearly all
    // of them.
    let mut votes: std::collections::HashMap<(u64, u32), (u32, u32, usize)> =
        std::collections::HashMap::new();
    for (&(at, mask), st) in sampled_stripes(trace, |e| e.0, g, chunk, offset, max) {
        let row = (at - offset) / chunk.max(1);
        for slot in std::iter::once(st.p).chain(st.q) {
            let Some(&m) = order.get(slot as usize).filter(|&&m| m < rate.len()) else {
                continue;
            };
            let v = votes.entry((row, slot)).or_insert((0, 0, m));
            v.0 += u32::from(mask & (1 << m) != 0);
            v.1 += 1;
        }
    }
    let (mut ok, mut llr) = (0u32, 0.0);
    for &(held, rows, m) in votes.values() {
        let busy = rate.get(m).copied().unwrap_or(0.5).clamp(0.05, 0.95);
        if held * 10 >= rows * 9 {
            ok += 1;
            llr += ((1.0 - MISS) / busy).ln();
        } else {
            llr += (MISS / (1.0 - busy)).ln();
        }
    }
    (ok, u32::try_from(votes.len()).unwrap_or(u32::MAX), llr)
}

/// How often each of the first `n` members holds data in the rows of
/// `trace` (see [`parity_agreement`]).
pub fn member_rates(trace: &[(u64, u32)], n: usize) -> Vec<f64> {
    let rows = trace.len().max(1) as f64;
    (0..n.min(32))
        .map(|m| trace.iter().filter(|(_, k)| k & (1 << m) != 0).count() as f64 / rows)
        .collect()
}

/// The orders of `n` slots a parity shape (`map`, `chunk`, `offset`)
/// gives where `trace` (see [`parity_agreement`]) says which members hold
/// data row by row: the layout names the parity slots of each row, whose
/// members must be among them. A slot whose rows all name one member not
/// placed yet takes it, and that repeats while it places more; the slots
/// left are filled as [`fill_orders`] does. Slot indices of members absent
/// from the sample (`present` and above) are never placed.
pub fn orders_from_parity(
    trace: &[(u64, u32)],
    map: &Mapper,
    chunk: u64,
    offset: u64,
    n: usize,
    present: usize,
    seeds: &[Vec<usize>],
) -> Vec<(Vec<usize>, bool)> {
    let Some(g) = &map.geom else {
        return Vec::new();
    };
    let present = present.min(32);
    // Per slot: rows looked at, and for each member the rows it held data in.
    let mut rows = vec![0u32; n];
    let mut held = vec![vec![0u32; present]; n];
    for (&(_, mask), st) in sampled_stripes(trace, |e| e.0, g, chunk, offset, 4096) {
        for slot in std::iter::once(st.p).chain(st.q) {
            let slot = slot as usize;
            let (Some(r), Some(h)) = (rows.get_mut(slot), held.get_mut(slot)) else {
                continue;
            };
            *r += 1;
            for (m, c) in h.iter_mut().enumerate() {
                if mask & (1 << m) != 0 {
                    *c += 1;
                }
            }
        }
    }
    // Members each slot can hold: those with data in nearly all its rows
    // (a few rows whose blocks cancel, or with stale parity, are noise).
    let mut can: Vec<Vec<usize>> = (0..n)
        .map(|slot| {
            let r = rows.get(slot).copied().unwrap_or(0);
            if r < 2 {
                return Vec::new();
            }
            held.get(slot).map_or_else(Vec::new, |h| {
                (0..present).filter(|&m| h[m] * 10 >= r * 9).collect()
            })
        })
        .collect();
    let mut slot_of: Vec<Option<usize>> = vec![None; n];
    loop {
        let next = (0..n).find_map(|slot| match can.get(slot).map(Vec::as_slice) {
            Some([m]) if slot_of.get(slot) == Some(&None) => Some((slot, *m)),
            _ => None,
        });
        let Some((slot, m)) = next else { break };
        slot_of[slot] = Some(m);
        for (i, c) in can.iter_mut().enumerate() {
            if i != slot {
                c.retain(|&x| x != m);
            }
        }
    }
    if slot_of.iter().all(Option::is_none) {
        return Vec::new();
    }
    fill_orders(&slot_of, n, seeds)
}

/// Orders of `n` members with the slots `slot_of` places fixed: the
/// members left fill the slots left every way when at most four are,
/// else in the order of each of `seeds` (orders of all the members, best
/// first). The bool says every way was tried.
pub fn fill_orders(
    slot_of: &[Option<usize>],
    n: usize,
    seeds: &[Vec<usize>],
) -> Vec<(Vec<usize>, bool)> {
    let free: Vec<usize> = (0..n).filter(|m| !slot_of.contains(&Some(*m))).collect();
    let fill = |members: &[usize]| -> Vec<usize> {
        let mut rest = members.iter().copied();
        slot_of
            .iter()
            .map(|x| x.or_else(|| rest.next()).unwrap_or(0))
            .collect()
    };
    let mut out: Vec<(Vec<usize>, bool)> = Vec::new();
    let mut push = |o: Vec<usize>, complete: bool| {
        if !out.iter().any(|(x, _)| *x == o) {
            out.push((o, complete));
        }
    };
    if free.len() <= 4 {
        for p in permutations(free.len()) {
            let ms: Vec<usize> = p.iter().filter_map(|&i| free.get(i).copied()).collect();
            push(fill(&ms), true);
        }
    } else {
        for seed in seeds {
            let ms: Vec<usize> = seed.iter().copied().filter(|m| free.contains(m)).collect();
            push(fill(&ms), false);
        }
    }
    out
}

/// Every order of `n` items (n! of them; callers keep n small).
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::with_capacity(n);
    let mut used = vec![false; n];
    fn go(n: usize, cur: &mut Vec<usize>, used: &mut [bool], out: &mut Vec<Vec<usize>>) {
        if cur.len() == n {
            out.push(cur.clone());
            return;
        }
        for i in 0..n {
            if !used[i] {
                used[i] = true;
                cur.push(i);
                go(n, cur, used, out);
                cur.pop();
                used[i] = false;
            }
        }
    }
    go(n, &mut cur, &mut used, &mut out);
    out
}

/// The `keep` best orders by a beam search over slots, each order scored
/// by the summed `adj[a][b]` of consecutive slots (how well member b's
/// chunks continue member a's in the same row).
pub fn beam_orders(adj: &[Vec<f64>], keep: usize) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut beam: Vec<(f64, Vec<usize>)> = (0..n).map(|i| (0.0, vec![i])).collect();
    for _ in 1..n {
        let mut next: Vec<(f64, Vec<usize>)> = Vec::new();
        for (s, p) in &beam {
            let last = *p.last().unwrap_or(&0);
            for b in 0..n {
                if !p.contains(&b) {
                    let mut q = p.clone();
                    q.push(b);
                    let w = adj.get(last).and_then(|r| r.get(b)).copied().unwrap_or(0.0);
                    next.push((s + w, q));
                }
            }
        }
        next.sort_by(|a, b| b.0.total_cmp(&a.0));
        next.truncate(keep.max(1));
        beam = next;
    }
    beam.into_iter().map(|(_, p)| p).collect()
}

/// `adj[a][b]`: mean similarity of member a's chunk tails to member b's
/// chunk heads in the same row, for chunk `chunk` at `offset`.
pub fn adjacency(feats: &Feats, n: usize, chunk: u64, offset: u64) -> Vec<Vec<f64>> {
    let mut adj = vec![vec![0.0; n]; n];
    for (a, row) in adj.iter_mut().enumerate() {
        for (b, cell) in row.iter_mut().enumerate() {
            if a == b {
                continue;
            }
            let mut c = Continuity::default();
            for (start, len) in feats.windows() {
                let mut r = start.saturating_sub(offset).div_ceil(chunk);
                let mut guard = 0;
                while offset + (r + 1) * chunk <= start + len && guard < 64 {
                    let t = feats.at(a, offset + (r + 1) * chunk - SECTOR as u64);
                    let h = feats.at(b, offset + r * chunk);
                    if let (Some(t), Some(h)) = (t, h) {
                        if let Some(s) = similarity(t, h) {
                            c.sum += s;
                            c.count += 1;
                        }
                    }
                    r += 1;
                    guard += 1;
                }
            }
            *cell = c.strength();
        }
    }
    adj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raid::map::ParityAlgo;
    use proptest::prelude::*;

    #[test]
    fn permutations_count() {
        assert_eq!(permutations(4).len(), 24);
        assert_eq!(permutations(0).len(), 1);
    }

    #[test]
    fn beam_finds_the_chain() {
        let mut adj = vec![vec![0.0; 5]; 5];
        for (a, b) in [(3, 1), (1, 4), (4, 0), (0, 2)] {
            adj[a][b] = 1.0;
        }
        assert_eq!(beam_orders(&adj, 4)[0], vec![3, 1, 4, 0, 2]);
    }

    proptest! {
        #[test]
        fn locate_stays_inside(n in 2usize..9, k in 0u64..1_000_000, algo in 0u32..6) {
            for shape in [Shape::Raid0, Shape::Raid10("near=2"), Shape::Raid10("far=2"), Shape::Parity { level: 5, algo: ParityAlgo::from_md(algo).unwrap_or(ParityAlgo::LeftSymmetric), delay: 1 }, Shape::Parity { level: 5, algo: ParityAlgo::LeftAsymmetric, delay: 16 }] {
                if let Some(m) = Mapper::new(shape, n, 1 << 20) {
                    let (slot, _) = m.locate(k).unwrap();
                    prop_assert!(slot < n);
                }
            }
        }
    }
}
