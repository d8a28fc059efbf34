//! Level hypotheses from the rows: which levels the parity, mirror and
//! twin evidence allows (with the hints), how sure each is, where the
//! sampled windows change kind (two arrays one after the other), and
//! members that look duplicated.

use super::candidate::Shape;
use super::rows::{self, RowStats};
use super::sample::Sample;
use super::Hints;
use crate::raid::map::{ParityAlgo, ParityLayout};
use crate::raid::metadata::Level;

/// A level hypothesis and what supports it.
#[derive(Debug, Clone)]
pub(super) struct Hypothesis {
    pub(super) shapes: Vec<Shape>,
    /// Slots (more than members when some are missing).
    pub(super) slots: usize,
    /// The sample has an extra member rebuilt as the XOR of the others.
    pub(super) xor_member: bool,
    /// Slots more than members, missing and not rebuilt (sample member
    /// indices `members` and on).
    pub(super) missing: usize,
    /// 0..=1 from the row evidence.
    pub(super) level_conf: f64,
    pub(super) why: String,
}

/// Where a second array starts, when the sampled windows hold two kinds of
/// rows one after the other (a mirror, then stripes, say): the start of the
/// first window after the last of the first kind.
pub(super) fn split_point(s: &Sample) -> Option<u64> {
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
    let rest = &data[change..]; // ok: change < data.len()
    if change < 2 || rest.len() < 2 || rest.iter().any(|(_, c)| *c != second) {
        return None;
    }
    let last_first = data.get(change - 1)?.0;
    s.starts.get(last_first + 1).copied()
}

/// Delays tried for HP Smart Array's delayed parity (rows its base placement
/// is held for; see [`ParityLayout`]): the recovery tools know 2 to 32,
/// and 64 costs little more.
const HP_DELAYS: [u32; 6] = [2, 4, 8, 16, 32, 64];

/// The rotating parity shapes of `level` with md's algorithm numbers `codes`.
fn md_shapes(level: u8, codes: &[u32]) -> impl Iterator<Item = Shape> + '_ {
    codes
        .iter()
        .filter_map(|&c| ParityAlgo::from_md(c))
        .map(move |algo| Shape::Parity {
            level,
            algo,
            delay: 1,
        })
}

/// The RAID5 shapes tried: md's algorithms 0 to 4, then HP's delayed
/// parity over its base placement.
fn raid5_shapes() -> Vec<Shape> {
    let md = md_shapes(5, &[0, 1, 2, 3, 4]);
    let hp = HP_DELAYS.iter().map(|&delay| Shape::Parity {
        level: 5,
        algo: ParityLayout::HP,
        delay,
    });
    md.chain(hp).collect()
}

/// Fewer blocks with data than this, all found again on another member,
/// do not show that no member of a RAID10 is missing.
const FEW_TWINS: u64 = 256;

/// A RAID10 over `n + 1` members, one of them missing.
fn raid10_missing_one(n: usize, level_conf: f64, why: String) -> Hypothesis {
    Hypothesis {
        shapes: vec![
            Shape::Raid10("near=2"),
            Shape::Raid10("far=2"),
            Shape::Raid10("offset=2"),
        ],
        slots: n + 1,
        xor_member: false,
        missing: 1,
        level_conf,
        why,
    }
}

/// Rows with a GF multiple (see [`RowStats::gf_rows`]) that make a RAID6.
const GF_ROWS: u64 = 2;

/// The level hypotheses the row evidence (and the hints) allow.
pub(super) fn hypotheses(
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
    let r5 = raid5_shapes();
    if n == 1 && want(Level::Raid1) {
        // One member alone: a half of a mirror (or a single disk) is all
        // it can be shown to be; the array start places the offset.
        out.push(Hypothesis {
            shapes: vec![Shape::Raid1],
            slots: 1,
            xor_member: false,
            missing: 0,
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
            missing: 0,
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
    let equal = |a: usize, b: usize| {
        let of = st.member_nonzero[a].max(st.member_nonzero[b]); // ok: a, b < n
        a != b && of >= 8 && RowStats::frac(st.pair_equal[a][b], of) >= 0.98 // ok: a, b < n
    };
    let paired = n >= 4 && n % 2 == 0 && (0..n).all(|a| (0..n).any(|b| equal(a, b)));
    let some_pairs = (0..n).any(|a| (a + 1..n).any(|b| equal(a, b)));
    if paired && slots == n && want(Level::Raid10) {
        out.push(Hypothesis {
            shapes: vec![Shape::Raid10("near=2")],
            slots: n,
            xor_member: false,
            missing: 0,
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
                delay: 1,
            });
        }
        out.push(Hypothesis {
            shapes,
            slots: n,
            xor_member: false,
            missing: 0,
            level_conf: parity * enough,
            why: format!(
                "the members XOR to zero in {:.1}% of rows with data: RAID4/5",
                parity * 100.0
            ),
        });
        return out;
    }
    if n >= 4 && six >= 0.9 && slots == n && want(Level::Raid6) {
        let shapes = md_shapes(6, &[0, 1, 2, 3, 4, 8, 9, 10]).collect();
        out.push(Hypothesis {
            shapes,
            slots: n,
            xor_member: false,
            missing: 0,
            level_conf: six * enough,
            why: format!(
                "the members XOR to zero without one of them (Q) in {:.1}% of rows with data: RAID6",
                six * 100.0
            ),
        });
        // On a complete RAID6 every row fits. Rows that do not are those
        // of a larger RAID6 that lost a member, where the rows that fit
        // are the ones whose missing chunk was Q or zeros (most rows of a
        // sparse array).
        if six < 0.99 && (slots == n + 1 || hints.members.is_none()) {
            out.push(Hypothesis {
                shapes: md_shapes(6, &[0, 1, 2, 3, 4, 8, 9, 10]).collect(),
                slots: n + 1,
                xor_member: false,
                missing: 1,
                level_conf: 0.9 * enough,
                why: format!(
                    "the members XOR to zero without one of them in only {:.1}% of rows with data: RAID6 over {} with one missing",
                    six * 100.0,
                    n + 1
                ),
            });
        }
        // Equal pairs make the rows XOR to zero without the member left
        // over: a RAID10 near=2 with a member missing looks so (below).
        if !some_pairs {
            return out;
        }
    }
    let twin = RowStats::frac(twins.1, twins.0);
    // Blocks found again one stride on, on the next member: far copies
    // (whose stride put them beyond most of the sample).
    let far = st.far_shift.is_some();
    let mut far_seen = false;
    if n >= 2 && (twins.0 >= 16 && twin >= 0.9 || far) && slots == n && want(Level::Raid10) {
        far_seen = far;
        out.push(Hypothesis {
            shapes: vec![
                Shape::Raid10("near=2"),
                Shape::Raid10("far=2"),
                Shape::Raid10("offset=2"),
            ],
            slots: n,
            xor_member: false,
            missing: 0,
            level_conf: if far { twin.max(0.9) } else { twin } * enough,
            why: match st.far_shift {
                Some(shift) if twin < 0.9 => format!(
                    "blocks are found again {shift:#x} bytes on, on another member: RAID10 far copies"
                ),
                _ => format!(
                    "{:.1}% of the blocks with data are found on another member too: RAID10",
                    twin * 100.0
                ),
            },
        });
        // Far copies with many blocks found nowhere else: a member of a
        // larger RAID10 may be missing (below); no other level makes far
        // copies. Where few blocks hold data, they may all have had both
        // copies on the members given: one missing stays possible.
        if twin >= 0.9 {
            if twins.0 < FEW_TWINS && (slots == n + 1 || hints.members.is_none()) {
                out.push(raid10_missing_one(n, 0.5 * enough, format!(
                    "only {} blocks hold data, each found on another member too: RAID10 over {} with one missing is possible",
                    twins.0,
                    n + 1
                )));
            }
            return out;
        }
    }
    // RAID10 with a member missing: every chunk has two copies on
    // neighbouring members, so a block whose other copy was on the missing
    // member is found nowhere else: 1 - 1/n of the blocks are found again
    // (n members left). A sparse parity array with a member gone copies
    // blocks too (a parity chunk copying the one data chunk of its row),
    // so this stands beside the parity hypotheses, and the checks decide.
    let expected = 1.0 - 1.0 / n.max(1) as f64;
    if n >= 2
        && twins.0 >= 16
        && (twin - expected).abs() <= 0.15
        && (slots == n + 1 || hints.members.is_none())
        && want(Level::Raid10)
    {
        out.push(raid10_missing_one(
            n,
            0.8 * enough,
            format!(
                "{:.1}% of the blocks with data are found on another member too (RAID10 over {} with one missing: {:.0}%)",
                twin * 100.0,
                n + 1,
                expected * 100.0
            ),
        ));
    }
    if far_seen {
        return out;
    }
    // Rows of several distinct blocks that XOR to zero (with or without
    // one of them) are rare by chance: a parity array with a member missing
    // (the rows where the missing member holds Q, or a zero chunk) gains.
    let xor_some = RowStats::frac(st.parity_like, st.multi);
    // Parity beside the lone data block of a row is a copy of it: such
    // rows speak for a parity array that lost members (or a mirror) and
    // against striping.
    let copied = st.copies >= 4 && RowStats::frac(st.copies, st.multi) >= 0.005;
    let degraded_conf = if n >= 3 && st.multi >= 32 && xor_some >= 0.1 || copied {
        0.9
    } else {
        0.7
    };
    // No redundancy seen: striping, or a parity array with a member missing
    // (its rows cannot be tested), or members of different arrays. Blocks
    // found again on another member speak against plain striping: on a
    // sparse parity array with a member gone, a parity chunk is a copy of
    // the one chunk of its row that holds data.
    let striped_conf = 0.8 * (1.0 - twin).max(0.0) * if copied { 0.5 } else { 1.0 };
    if n >= 2 && slots == n && want(Level::Raid0) {
        out.push(Hypothesis {
            shapes: vec![Shape::Raid0],
            slots: n,
            xor_member: false,
            missing: 0,
            level_conf: striped_conf * enough,
            why: "no parity or mirror relation between the members: striping (RAID0)".into(),
        });
    }
    if n >= 2 && slots == n && want(Level::Linear) {
        out.push(Hypothesis {
            shapes: vec![Shape::Linear],
            slots: n,
            xor_member: false,
            missing: 0,
            level_conf: 0.7 * (1.0 - twin).max(0.0) * if copied { 0.5 } else { 1.0 } * enough,
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
            missing: 0,
            level_conf: degraded_conf * enough,
            why: format!(
                "no redundancy among the {n} members: RAID5 over {} with one missing (its chunks rebuilt as the XOR of the others) is possible",
                n + 1
            ),
        });
    }
    if n >= 3 && (slots == n + 1 || hints.members.is_none()) && want(Level::Raid6) {
        let shapes = md_shapes(6, &[0, 1, 2, 3, 4, 8, 9, 10]).collect();
        out.push(Hypothesis {
            shapes,
            slots: n + 1,
            xor_member: false,
            missing: 1,
            level_conf: degraded_conf * enough,
            why: format!(
                "no redundancy among the {n} members: RAID6 over {} with one missing is possible",
                n + 1
            ),
        });
    }
    // Two members of a RAID6 missing leave no redundancy to test: only the
    // structures read through it can show it, and it is rarer than one.
    // Tried where a row shows RAID6's Q as a multiple of a block, where
    // the hints ask for it (each order of n + 2 slots costs), and over two
    // or three members (orders are few, and a RAID6 of four or five that
    // lost two shows no such row where its data is dense).
    // Rows of distinct blocks that XOR to zero without one member are Q's
    // mark too (see `RowStats::q_like`): on the survivors of a sparse
    // RAID6, the rows whose missing blocks were zero. A few make the
    // hypothesis worth trying; many make the level (a RAID10 whose
    // surviving pair cancels makes such rows too, hence the pairs).
    let q_rows = st.q_like >= 8 && f(st.q_like) >= 0.05 && !some_pairs;
    let asked = hints.level == Some(Level::Raid6) || hints.members == Some(n + 2);
    if n >= 2
        && (slots == n + 2 || hints.members.is_none())
        && want(Level::Raid6)
        && (st.gf_rows > 0 || asked || n <= 3 || st.q_like >= 2)
    {
        let shapes = md_shapes(6, &[0, 1, 2, 3, 4, 8, 9, 10]).collect();
        out.push(Hypothesis {
            shapes,
            slots: n + 2,
            xor_member: false,
            missing: 2,
            level_conf: 0.8 * degraded_conf * enough,
            why: format!(
                "no redundancy among the {n} members: RAID6 over {} with two missing is possible",
                n + 2
            ),
        });
    }
    // Blocks that are GF multiples of another member's at the same offset
    // are RAID6's Q beside the lone data block of a row: the level is
    // RAID6 whatever else is missing (none were found on the lab's other
    // levels, complete or degraded).
    if st.gf_rows >= GF_ROWS || q_rows {
        for h in out.iter_mut() {
            if h.shapes.iter().any(|s| s.level() == Level::Raid6) {
                h.level_conf = h.level_conf.max(0.9 * enough);
                h.why.push_str(&if st.gf_rows >= GF_ROWS {
                    format!(
                        "; {} rows hold a block that is another's times a power of g (RAID6's Q)",
                        st.gf_rows
                    )
                } else {
                    format!(
                        "; {} rows of distinct blocks XOR to zero without one member (RAID6's Q)",
                        st.q_like
                    )
                });
            } else {
                h.level_conf *= 0.3;
            }
        }
    }
    if out.is_empty() {
        notes.push("no level fits both the hints and the rows".into());
    }
    out
}

/// Pairs of members equal wherever either holds data, when no complete
/// mirror level explains it (the surviving pair of a RAID10 with a member
/// missing looks the same as one member given twice).
pub(super) fn duplicates(st: &RowStats, n: usize, hyps: &[Hypothesis]) -> Vec<(usize, usize)> {
    if hyps.iter().any(|h| {
        h.missing == 0
            && h.shapes
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(nonzero: u64) -> RowStats {
        RowStats {
            rows: 4096,
            nonzero,
            multi: nonzero,
            member_nonzero: vec![nonzero; 8],
            pair_equal: vec![vec![0; 8]; 8],
            q_at: vec![0; 8],
            ..Default::default()
        }
    }

    #[test]
    fn a_raid6_whose_rows_mostly_fit_may_have_lost_a_member() {
        let mut st = stats(500);
        st.drop_one = 500;
        let all = hypotheses(&st, (0, 0), 5, &Hints::default(), &mut Vec::new());
        assert!(all.iter().all(|h| h.slots == 5), "{all:?}");
        st.drop_one = 477;
        let some = hypotheses(&st, (0, 0), 5, &Hints::default(), &mut Vec::new());
        assert!(
            some.iter().any(|h| h.slots == 6 && h.missing == 1),
            "{some:?}"
        );
    }

    #[test]
    fn rows_naming_q_beside_two_missing_members_make_a_raid6() {
        // The survivors of a sparse RAID6 over eight: where both missing
        // blocks were zero, a row XORs to zero without its Q.
        let mut st = stats(150);
        st.drop_one = 70;
        st.q_like = 70;
        let h = hypotheses(&st, (0, 0), 6, &Hints::default(), &mut Vec::new());
        let two = h.iter().find(|h| h.slots == 8 && h.missing == 2);
        let best = h
            .iter()
            .max_by(|a, b| a.level_conf.total_cmp(&b.level_conf));
        assert!(two.is_some(), "{h:?}");
        assert!(
            best.is_some_and(|b| b.shapes.iter().all(|s| s.level() == Level::Raid6)),
            "{h:?}"
        );
    }

    #[test]
    fn copies_at_one_offset_speak_against_striping() {
        let conf = |st: &RowStats| {
            hypotheses(st, (0, 0), 2, &Hints::default(), &mut Vec::new())
                .iter()
                .find(|h| h.shapes == [Shape::Raid0])
                .map_or(0.0, |h| h.level_conf)
        };
        let mut st = stats(600);
        let plain = conf(&st);
        st.copies = 6;
        assert!(conf(&st) < plain * 0.6, "{} {plain}", conf(&st));
    }

    #[test]
    fn few_blocks_all_twinned_leave_a_missing_raid10_member_possible() {
        let st = stats(48);
        let h = hypotheses(&st, (48, 48), 3, &Hints::default(), &mut Vec::new());
        assert!(h.iter().any(|h| h.slots == 4 && h.missing == 1), "{h:?}");
        let h = hypotheses(&st, (4000, 4000), 3, &Hints::default(), &mut Vec::new());
        assert!(h.iter().all(|h| h.slots == 3), "{h:?}");
    }
}
