//! Level evidence from rows: the bytes at one member offset on every member.
//! A RAID5 row XORs to zero; a RAID6 row XORs to zero without its Q
//! block (and the member left out says where Q is); a mirror row is the
//! same on every member; RAID10 near=2 rows are equal in pairs. All-zero
//! rows prove nothing and are not counted.

use super::sample::Sample;

/// Rows [`super::pq::roles`] is tried on at most (each costs a few
/// eliminations over one row).
const PQ_ROWS: usize = 512;

/// Bytes in one row tested.
pub const ROW: usize = 4096;

/// What the rows say.
#[derive(Debug, Clone, Default)]
pub struct RowStats {
    /// Rows tested.
    pub rows: u64,
    /// Rows where some member is not zero.
    pub nonzero: u64,
    /// Rows where at least two members are not zero.
    pub multi: u64,
    /// Nonzero rows equal on every member.
    pub all_equal: u64,
    /// Nonzero rows whose XOR over every member is zero.
    pub xor_zero: u64,
    /// (member offset, roles) of rows where every member holds data and
    /// the blocks obey the one relation of a RAID6 row that lost a block
    /// (see [`super::pq`]), in offset order.
    pub pq_trace: Vec<(u64, super::pq::Roles)>,
    /// Rows where two members hold the same varied block: a mirror, or,
    /// over the survivors of a sparse parity array, parity beside the
    /// lone data block of its row. Striping seldom puts one block at one
    /// offset on two members.
    pub copies: u64,
    /// Rows that XOR to zero, with or without one member, where at least
    /// three members hold data and no two hold the same block (equal
    /// blocks in pairs XOR to zero too: copies, not parity).
    pub parity_like: u64,
    /// Rows of `parity_like` that XOR to zero only without one member, and
    /// rows where exactly three members hold one varied block (a lone data
    /// block whose Q weight is g^0, with its P and Q): Q's marks, which
    /// two equal blocks beside a third (a chance copy) are not.
    pub q_like: u64,
    /// Nonzero rows that XOR to zero over all members but one (and not over
    /// all): `q_at[m]` counts the rows where that one is member `m`.
    pub drop_one: u64,
    /// See `drop_one`.
    pub q_at: Vec<u64>,
    /// `pair_equal[a][b]`: nonzero rows where members a and b are equal and
    /// not zero.
    pub pair_equal: Vec<Vec<u64>>,
    /// Per member: rows where it is not zero.
    pub member_nonzero: Vec<u64>,
    /// (member offset, member holding Q) of drop-one rows, in offset order
    /// (bounded), for locating RAID6 chunk boundaries.
    pub q_trace: Vec<(u64, usize)>,
    /// (member offset, XORs to zero) of nonzero rows, in offset order
    /// (bounded): with a RAID6 member missing, the rows whose Q is the
    /// missing one are those that XOR to zero.
    pub row_trace: Vec<(u64, bool)>,
    /// Nonzero rows where one member's block is another's times g^k, k
    /// not 0 (RAID6's Q beside the one data block of its row, or beside P
    /// that copies it): no other level makes them.
    pub gf_rows: u64,
    /// (member offset, a, b, k) of such rows, block b = g^k · block a, in
    /// offset order (bounded).
    pub gf_trace: Vec<(u64, usize, usize, u8)>,
    /// Rows where at least two members hold data and at least half are
    /// zero, as (member offset, mask of the members holding data), at most
    /// [`MAX_TRACE`] spread over the sample, in offset order. Through the
    /// right parity geometry the members holding P (and Q) are among them:
    /// parity of data that is not all zero is not zero (but for blocks
    /// that cancel: rows with a block of a few byte values are left out).
    /// Nearly every array has such rows (a block of a file beside free
    /// space), a nearly empty one most of all, so they place parity, and
    /// with it the order, where content says little. Rows where most
    /// members hold data say little (any member is likely among them) and
    /// are where structured blocks can cancel. Up to 32 members.
    pub sparse: Vec<(u64, u32)>,
    /// (member offset of a 64 KiB block, rows with data in it) for every
    /// block of the sample holding data, in offset order: how much of the
    /// members' data a candidate's data area holds.
    pub filled: Vec<(u64, u32)>,
    /// How far RAID10's far copies lie behind their first copies on the
    /// next member (md's stride: half the used part of a member for
    /// far=2), when blocks found again on another member say so.
    pub far_shift: Option<u64>,
}

/// The blocks `filled` counts rows with data in.
const FILLED_BLOCK: u64 = 64 << 10;

/// Most entries kept in `q_trace`.
const MAX_TRACE: usize = 1 << 16;

impl RowStats {
    /// The share of the sampled rows with data that lie in member offsets
    /// `from..to` (1 when none have data).
    pub fn coverage(&self, from: u64, to: u64) -> f64 {
        let all: u64 = self.filled.iter().map(|&(_, k)| u64::from(k)).sum();
        let inside: u64 = self
            .filled
            .iter()
            .filter(|&&(b, _)| b >= from && b < to)
            .map(|&(_, k)| u64::from(k))
            .sum();
        if all == 0 {
            1.0
        } else {
            inside as f64 / all as f64
        }
    }

    /// Fraction of `part` in `of`, 0 when `of` is 0.
    pub fn frac(part: u64, of: u64) -> f64 {
        if of == 0 {
            0.0
        } else {
            part as f64 / of as f64
        }
    }
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Nonzero bytes a block needs for a GF multiple of it to mean anything (a
/// block of a few bytes is a multiple of many).
const GF_LEAST: usize = 64;

/// Distinct byte values a block needs for the same reason.
const GF_DISTINCT: usize = 8;

/// Whether `b` holds at least [`GF_DISTINCT`] byte values: a fill of one
/// byte (or a few) repeats across members and rows by itself.
fn varied(b: &[u8]) -> bool {
    let mut seen = [false; 256];
    b.iter().for_each(|&x| seen[usize::from(x)] = true);
    seen.iter().filter(|&&s| s).count() >= GF_DISTINCT
}

/// k (1..255) with `y` = g^k · `x`, byte by byte in GF(2^8), when there is
/// one; equal blocks (k = 0) are copies and not counted.
pub fn gf_multiple(x: &[u8], y: &[u8]) -> Option<u8> {
    use crate::raid::parity::{gf_inv, gf_log, gf_mul};
    if x.len() != y.len() || x == y {
        return None;
    }
    let i = x.iter().position(|&b| b != 0)?;
    let (a, b) = (*x.get(i)?, *y.get(i)?);
    if b == 0 {
        return None;
    }
    let c = gf_mul(b, gf_inv(a));
    if x.iter().zip(y).any(|(&p, &q)| gf_mul(c, p) != q) {
        return None;
    }
    if x.iter().filter(|&&b| b != 0).count() < GF_LEAST {
        return None;
    }
    // Blocks of one repeated byte (or a few) are multiples of each other
    // whatever the level.
    if !varied(x) {
        return None;
    }
    Some(gf_log(c)).filter(|&k| k != 0)
}

/// Tests every row of the sample, and solves for P and Q where a RAID6
/// row may have lost a block (see [`RowStats::pq_trace`]).
pub fn row_stats(s: &Sample) -> RowStats {
    tally(s, 0..s.starts.len(), true)
}

/// What one stretch of sampled windows holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowClass {
    /// Too little data to tell.
    Empty,
    /// Equal on every member.
    Mirror,
    /// XORs to zero.
    Parity,
    /// XORs to zero without one member.
    Six,
    /// None of these.
    Other,
}

/// The class of each sampled window, from its own rows.
pub fn window_classes(s: &Sample) -> Vec<WindowClass> {
    let n = s.members();
    (0..s.starts.len())
        .map(|w| {
            let st = row_stats_in(s, w..w + 1);
            let f = |x| RowStats::frac(x, st.nonzero);
            if st.nonzero < 8 {
                WindowClass::Empty
            } else if f(st.all_equal) >= 0.98 {
                WindowClass::Mirror
            } else if n >= 3 && f(st.xor_zero) >= 0.97 {
                WindowClass::Parity
            } else if n >= 4 && f(st.drop_one) >= 0.9 {
                // Over fewer members, a row "without one" is one member
                // alone, or two equal ones: nothing RAID6 about it.
                WindowClass::Six
            } else {
                WindowClass::Other
            }
        })
        .collect()
}

/// Tests the rows of the windows `range` of the sample.
pub fn row_stats_in(s: &Sample, range: std::ops::Range<usize>) -> RowStats {
    tally(s, range, false)
}

/// [`row_stats_in`]; `solve`: tries [`super::pq::roles`] on rows spread
/// over the range (at most [`PQ_ROWS`]).
fn tally(s: &Sample, range: std::ops::Range<usize>, solve: bool) -> RowStats {
    let n = s.members();
    let all_rows: usize = s
        .starts
        .iter()
        .enumerate()
        .filter(|(w, _)| range.contains(w))
        .map(|(w, _)| {
            s.data
                .iter()
                .filter_map(|m| m.get(w))
                .map(Vec::len)
                .min()
                .unwrap_or(0)
                / ROW
        })
        .sum();
    // Spread over the sample: stripe rows, not 4 KiB rows, place parity.
    let stride = (all_rows / PQ_ROWS).max(1);
    let mut row_no = 0usize;
    let mut st = RowStats {
        q_at: vec![0; n],
        pair_equal: vec![vec![0; n]; n],
        member_nonzero: vec![0; n],
        ..Default::default()
    };
    let mut x = vec![0u8; ROW];
    let mut sparse = Vec::new();
    let mut solved = 0usize;
    for (w, start) in s.starts.iter().enumerate() {
        if !range.contains(&w) {
            continue;
        }
        let wins: Vec<&Vec<u8>> = s.data.iter().filter_map(|m| m.get(w)).collect();
        if wins.len() != n {
            continue;
        }
        let len = wins.iter().map(|b| b.len()).min().unwrap_or(0);
        let mut off = 0;
        while off + ROW <= len {
            st.rows += 1;
            row_no += 1;
            let rows: Vec<&[u8]> = wins.iter().filter_map(|b| b.get(off..off + ROW)).collect();
            let zero: Vec<bool> = rows.iter().map(|r| is_zero(r)).collect();
            let nz = zero.iter().filter(|z| !**z).count();
            if nz > 0 {
                st.nonzero += 1;
                let block = (start + off as u64) & !(FILLED_BLOCK - 1);
                match st.filled.last_mut() {
                    Some((b, k)) if *b == block => *k += 1,
                    _ => st.filled.push((block, 1)),
                }
                // Two data blocks of one fill (0xFF bitmaps, a pattern)
                // cancel in parity: rows holding one say nothing.
                if nz >= 2
                    && 2 * nz <= n
                    && n <= 32
                    && rows.iter().zip(&zero).all(|(r, &z)| z || varied(r))
                {
                    let mask = zero
                        .iter()
                        .enumerate()
                        .filter(|(_, &z)| !z)
                        .fold(0u32, |k, (m, _)| k | 1 << m);
                    sparse.push((start + off as u64, mask));
                }
                if nz > 1 {
                    st.multi += 1;
                }
                for (m, z) in zero.iter().enumerate() {
                    if !z {
                        st.member_nonzero[m] += 1;
                    }
                }
                let equal = rows.iter().all(|r| *r == rows[0]);
                if equal {
                    st.all_equal += 1;
                }
                x.fill(0);
                for r in &rows {
                    crate::raid::parity::xor_into(&mut x, r);
                }
                let xz = is_zero(&x);
                if st.row_trace.len() < MAX_TRACE {
                    st.row_trace.push((start + off as u64, xz));
                }
                if xz {
                    st.xor_zero += 1;
                } else if let Some(q) = rows
                    .iter()
                    .position(|r| *r == x.as_slice())
                    // One member alone holding data "XORs to zero without
                    // it" trivially; a RAID6 row with data has P and Q too.
                    .filter(|_| nz >= 3)
                {
                    st.drop_one += 1;
                    // Where a row holds one data block alone, P, Q and
                    // that block can be equal: which of them is Q is then
                    // not said, and the row stays out of the trace.
                    let alike = rows.iter().filter(|r| **r == x.as_slice()).count();
                    if alike == 1 {
                        st.q_at[q] += 1;
                        if st.q_trace.len() < MAX_TRACE {
                            st.q_trace.push((start + off as u64, q));
                        }
                    }
                }
                let mut paired = None;
                for a in 0..n {
                    for b in a + 1..n {
                        if !zero[a] && rows[a] == rows[b] {
                            st.pair_equal[a][b] += 1;
                            st.pair_equal[b][a] += 1;
                            paired = Some(a);
                        }
                    }
                }
                if paired.is_some_and(|a| varied(rows[a])) {
                    st.copies += 1;
                }
                let paired = paired.is_some();
                // Q beside the lone data block of its row (or P copying
                // it): rows where two or three members hold data.
                if (2..=3).contains(&nz) && !equal {
                    let found = (0..n)
                        .flat_map(|a| (0..n).map(move |b| (a, b)))
                        .filter(|&(a, b)| a != b && !zero[a] && !zero[b])
                        .find_map(|(a, b)| Some((a, b, gf_multiple(rows[a], rows[b])?)));
                    if let Some((a, b, k)) = found {
                        st.gf_rows += 1;
                        if st.gf_trace.len() < MAX_TRACE {
                            st.gf_trace.push((start + off as u64, a, b, k));
                        }
                    }
                }
                let dropped = !xz && rows.contains(&x.as_slice());
                // Every member holding varied data and no parity relation
                // among them all: a RAID6 row that lost a block names its
                // P and Q by the one relation left (see `pq`).
                if solve
                    && row_no % stride == 0
                    && nz == n
                    && n >= 3
                    && !xz
                    && !dropped
                    && solved < PQ_ROWS
                    && rows.iter().all(|r| varied(r))
                {
                    solved += 1;
                    if let Some(r) = super::pq::roles(&rows, n + 1) {
                        st.pq_trace.push((start + off as u64, r));
                    }
                }
                if nz >= 3 && !paired && !equal && (xz || dropped) {
                    st.parity_like += 1;
                    st.q_like += u64::from(dropped);
                }
                // A lone data block weighed g^0 among zeros: P and Q copy
                // it, three equal blocks (two are a chance copy, three
                // seldom).
                if nz == 3 && n >= 4 && !equal {
                    let mut held = rows.iter().zip(&zero).filter(|(_, &z)| !z).map(|(r, _)| *r);
                    if let (Some(a), Some(b), Some(c)) = (held.next(), held.next(), held.next()) {
                        if a == b && b == c && varied(a) {
                            st.q_like += 1;
                        }
                    }
                }
            }
            off += ROW;
        }
    }
    if sparse.len() > MAX_TRACE {
        let step = sparse.len().div_ceil(MAX_TRACE);
        sparse = sparse.into_iter().step_by(step).collect();
    }
    st.sparse = sparse;
    st
}

/// Blocks found again: (4 KiB blocks with data, those of them found on
/// another member too, at any offset) — near all for RAID10, whatever its
/// layout — and the stride of RAID10 far copies: among blocks found again
/// on another member at another offset, the displacement most of them
/// share, when it is larger than any chunk (near and offset copies lie at
/// most a chunk apart) and at least 64 blocks, and most of those found
/// again, agree on it. Blocks of one repeated byte are not counted (they
/// repeat in any array). One pass over the sample, each block hashed once.
pub fn repeats(s: &Sample) -> ((u64, u64), Option<u64>) {
    use std::collections::hash_map::Entry;
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    // Per block content: where it was first seen, and whether it was seen
    // on another member too.
    let mut first: HashMap<u64, (usize, u64, bool)> = HashMap::new();
    let mut keys: Vec<u64> = Vec::new();
    let mut shifts: HashMap<u64, u32> = HashMap::new();
    for (m, wins) in s.data.iter().enumerate() {
        for (w, start) in wins.iter().zip(&s.starts) {
            for (i, b) in w.chunks_exact(ROW).enumerate() {
                if b.iter().all(|&x| x == b[0]) {
                    continue;
                }
                let mut h = std::hash::DefaultHasher::new();
                b.hash(&mut h);
                let key = h.finish();
                keys.push(key);
                let off = start + (i * ROW) as u64;
                match first.entry(key) {
                    Entry::Vacant(e) => {
                        e.insert((m, off, false));
                    }
                    Entry::Occupied(mut e) => {
                        let (fm, fo, _) = *e.get();
                        if fm != m {
                            e.get_mut().2 = true;
                            // Either copy may be met first (with a member
                            // missing, only the far one's member may come
                            // first).
                            if off != fo {
                                *shifts.entry(off.abs_diff(fo)).or_insert(0) += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    let twinned = keys
        .iter()
        .filter(|k| first.get(k).is_some_and(|e| e.2))
        .count();
    let pairs: u32 = shifts.values().sum();
    let far = shifts
        .iter()
        .max_by_key(|(&s, &c)| (c, std::cmp::Reverse(s)))
        .filter(|(&shift, &count)| {
            // Most blocks found again lie this far on: unrelated data
            // repeats at scattered distances, not at one.
            shift > MAX_NEAR_SHIFT && count >= 64 && 2 * count >= pairs
        })
        .map(|(&shift, _)| shift);
    ((keys.len() as u64, twinned as u64), far)
}

/// A mirror on two of the members at the start, the others holding
/// something else there (a container's RAID1 on two of its disks before a
/// volume on all of them): (a, b, end of the last row they hold equal,
/// start of the first row where they differ).
pub fn partial_mirror(s: &Sample) -> Option<(usize, usize, u64, u64)> {
    let n = s.members();
    // Containers hold a handful of disks; the rows looked at are bounded.
    if !(3..=MAX_MIRROR_SET).contains(&n) {
        return None;
    }
    let mut best: Option<(usize, usize, u64, u64, u32)> = None;
    for a in 0..n {
        for b in a + 1..n {
            let (mut eq, mut last_eq, mut first_ne) = (0u32, 0u64, None);
            let mut others_differ = 0u32;
            'rows: for (w, start) in s.starts.iter().enumerate() {
                let (Some(x), Some(y)) = (
                    s.data.get(a).and_then(|m| m.get(w)),
                    s.data.get(b).and_then(|m| m.get(w)),
                ) else {
                    continue;
                };
                for (i, (p, q)) in x.chunks_exact(ROW).zip(y.chunks_exact(ROW)).enumerate() {
                    let off = start + (i * ROW) as u64;
                    if eq >= MAX_MIRROR_ROWS {
                        break 'rows;
                    }
                    let (pz, qz) = (is_zero(p), is_zero(q));
                    if pz && qz {
                        continue;
                    }
                    if p == q {
                        eq += 1;
                        last_eq = off + ROW as u64;
                        let other = (0..n).filter(|&m| m != a && m != b).any(|m| {
                            s.data
                                .get(m)
                                .and_then(|d| d.get(w))
                                .and_then(|d| d.get(i * ROW..(i + 1) * ROW))
                                .is_some_and(|r| r != p)
                        });
                        if other {
                            others_differ += 1;
                        }
                    } else {
                        first_ne = Some(off);
                        break 'rows;
                    }
                }
            }
            let Some(ne) = first_ne else { continue };
            if eq >= 32 && others_differ * 2 >= eq && best.is_none_or(|x| eq > x.4) {
                best = Some((a, b, last_eq, ne, eq));
            }
        }
    }
    best.map(|(a, b, e, ne, _)| (a, b, e, ne))
}

/// Members up to which a mirror on two of them is looked for.
const MAX_MIRROR_SET: usize = 8;
/// Equal rows after which a pair is not followed further (the mirror
/// then runs past what is looked at, and no split is proposed).
const MAX_MIRROR_ROWS: u32 = 1 << 14;

/// Near and offset copies lie at most a chunk apart (4 MiB at most).
const MAX_NEAR_SHIFT: u64 = 4 << 20;

/// The largest power-of-two chunk (4 KiB to 1 MiB) that every change of
/// the Q member along `trace` respects, relative to the data offset
/// `offset`: RAID6's Q moves only at chunk boundaries. `None` without two
/// changes to go by.
pub fn chunk_from_q_trace(trace: &[(u64, usize)], offset: u64) -> Option<u64> {
    let mut best: Option<u64> = None;
    let mut changes = 0;
    for w in trace.windows(2) {
        let ((a, qa), (b, qb)) = (w[0], w[1]);
        if qa == qb || b <= a || b < offset {
            continue;
        }
        // Q changed somewhere in (a, b]: the boundary is b when rows are adjacent.
        if b - a != ROW as u64 {
            continue;
        }
        changes += 1;
        let rel = b - offset;
        let align = if rel == 0 {
            1 << 20
        } else {
            1u64 << rel.trailing_zeros().min(20)
        };
        best = Some(best.map_or(align, |c: u64| c.min(align)));
    }
    best.filter(|&c| c >= ROW as u64 && changes >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sparse_rows_name_the_members_holding_varied_data() {
        let varied: Vec<u8> = (0..ROW).map(|i| (i * 7 % 251) as u8).collect();
        let fill = vec![0xFFu8; ROW];
        let zero = vec![0u8; ROW];
        // Rows: two of four members with data; one with a fill; three of
        // four (more than half); one alone.
        let rows: [[&[u8]; 4]; 4] = [
            [&varied, &zero, &varied, &zero],
            [&fill, &varied, &zero, &zero],
            [&varied, &varied, &varied, &zero],
            [&zero, &zero, &zero, &varied],
        ];
        let data: Vec<Vec<Vec<u8>>> = (0..4)
            .map(|m| vec![rows.iter().flat_map(|r| r[m].iter().copied()).collect()])
            .collect();
        let s = Sample {
            starts: vec![1 << 20],
            data,
            len: 4 << 20,
        };
        assert_eq!(row_stats(&s).sparse, vec![(1 << 20, 0b0101)]);
        // Over the first three members only (a fourth rebuilt from them).
        let three = Sample {
            starts: s.starts.clone(),
            data: s.data[..3].to_vec(),
            len: s.len,
        };
        assert_eq!(row_stats(&three).sparse, Vec::<(u64, u32)>::new());
    }

    proptest! {
        #[test]
        fn gf_multiples_are_found_with_their_exponent(
            x in proptest::collection::vec(any::<u8>(), ROW..=ROW),
            k in 1u32..255,
        ) {
            use crate::raid::parity::{gf_exp, gf_mul};
            let y: Vec<u8> = x.iter().map(|&b| gf_mul(gf_exp(k), b)).collect();
            let rich = x.iter().filter(|&&b| b != 0).count() >= GF_LEAST;
            let got = gf_multiple(&x, &y);
            if rich {
                prop_assert_eq!(got, Some(k as u8));
            }
            // Never the block with itself, never a block of one byte.
            prop_assert_eq!(gf_multiple(&x, &x), None);
            prop_assert_eq!(gf_multiple(&[7u8; ROW], &[9u8; ROW]), None);
        }

        #[test]
        fn gf_multiple_never_panics(x in proptest::collection::vec(any::<u8>(), 0..600),
                                    y in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = gf_multiple(&x, &y);
        }
    }

    fn sample(members: Vec<Vec<u8>>) -> Sample {
        let len = members.iter().map(|m| m.len() as u64).min().unwrap_or(0);
        Sample {
            starts: vec![0],
            data: members.into_iter().map(|m| vec![m]).collect(),
            len,
        }
    }

    #[test]
    fn a_parity_row_xors_to_zero_and_zeros_prove_nothing() {
        let a: Vec<u8> = (0..ROW * 2).map(|i| (i * 7 + 1) as u8).collect();
        let b: Vec<u8> = (0..ROW * 2).map(|i| (i * 13 + 5) as u8).collect();
        let p: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x ^ y).collect();
        let mut z = vec![0u8; ROW * 2];
        z[..ROW].copy_from_slice(&p[..ROW]);
        let st = row_stats(&sample(vec![a.clone(), b.clone(), p]));
        assert_eq!((st.nonzero, st.xor_zero), (2, 2));
        let st = row_stats(&sample(vec![vec![0; ROW * 3]; 3]));
        assert_eq!((st.rows, st.nonzero), (3, 0));
    }

    #[test]
    fn q_changes_give_the_chunk() {
        let c = 64 * 1024u64;
        let trace: Vec<(u64, usize)> = (0..64u64)
            .map(|i| (4096 + i * 4096, ((4096 + i * 4096 - 4096) / c) as usize % 4))
            .collect();
        assert_eq!(chunk_from_q_trace(&trace, 4096), Some(c));
    }

    proptest! {
        #[test]
        fn stats_never_panic(a in proptest::collection::vec(any::<u8>(), 0..9000), n in 1usize..5) {
            let st = row_stats(&sample(vec![a; n]));
            prop_assert!(st.xor_zero <= st.nonzero && st.nonzero <= st.rows);
        }
    }
}
