//! The full check of shortlisted candidates through the assembled array
//! (structures, RAID6 syndromes, members a concatenation does not need),
//! the merging of candidates that serve the same bytes, and the turning of
//! scores into confidences.

use super::anchors;
use super::candidate::{Candidate, Shape};
use super::rows::RowStats;
use super::sample::Sample;
use super::syndrome;
use crate::io::{Volume, VolumeRef};
use crate::raid::map::ParityGeometry;
use crate::raid::metadata::Level;
use crate::raid::model::ArrayModel;
use crate::raid::volume::ArrayVolume;

/// The first, cheap check of many candidates: assembled over the sampled
/// members (`sampled`, by sample member), their structures verified where
/// the sample holds them; the points are added to the score.
pub(super) fn light_check(c: &mut Candidate, sampled: &[VolumeRef]) {
    let mut spec = c.spec(sampled);
    spec.size = None;
    let Ok(model) = ArrayModel::new(spec) else {
        return;
    };
    let Ok(vol) = ArrayVolume::new("sampled".into(), model, true) else {
        return;
    };
    let v = anchors::verify(&vol);
    let p = v.points + stripe_points(c, v.stripe, &mut Vec::new());
    c.score += p;
    // Kept here until the full check replaces it.
    c.checks = p;
}

/// Candidates that serve the same bytes (RAID0 and a RAID5 missing its
/// parity-first disk, say) merged into one: the one with fewest missing
/// members, scored as the best of them. Sorted best first.
pub(super) fn merge_equivalent(all: Vec<Candidate>, prints: Vec<Option<u64>>) -> Vec<Candidate> {
    let mut groups: Vec<(Option<u64>, Candidate)> = Vec::new();
    for (c, p) in all.into_iter().zip(prints) {
        // Checks that differ (or fail differently) read different bytes,
        // whatever the fingerprint's few blocks say.
        let same = |q: &Option<u64>, g: &Candidate| {
            p.is_some()
                && *q == p
                && (g.checks - c.checks).abs() < 1e-6
                && g.contradictions == c.contradictions
        };
        match groups.iter_mut().find(|(q, g)| same(q, g)) {
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
pub(super) fn check(c: &mut Candidate, vols: &[VolumeRef], s: &Sample) -> Option<u64> {
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
    // The full check's points replace the light check's, and verify the
    // structures the pins ranked it by.
    c.score -= c.checks + c.pin_points;
    c.pin_points = 0.0;
    c.checks = 0.0;
    let v = anchors::verify(&vol);
    let before = c.score;
    let mut taken = 0.0;
    c.score += v.points;
    c.evidence.extend(v.evidence);
    if v.failed > 0 {
        // A sound volume read through its geometry fails no checksum:
        // however much else reads right, this one is not it (a wrong chunk
        // can place most structures where they are).
        c.contradictions += 1;
        c.evidence.push(format!(
            "{} checksummed structure(s) fail through it",
            v.failed
        ));
    }
    let mut ev = Vec::new();
    c.score += stripe_points(c, v.stripe, &mut ev);
    c.evidence.extend(ev);
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
                "the partition table (or filesystem) at the start ends at {needed:#x}, before the last member: it is not needed"
            ));
        }
    }
    if let Some(hint) = v.size_hint.filter(|&h| h <= c.size && h > 0) {
        c.size = hint;
        c.evidence.push(format!(
            "array size {hint} from the GPT's backup header or the PV's recorded size"
        ));
    }
    if let Shape::Parity {
        level: 6,
        algo,
        delay,
    } = c.shape
    {
        if let Ok(g) =
            ParityGeometry::new(6, c.slots.len() as u32, algo).and_then(|g| g.delayed(delay))
        {
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
            // it, one that fails in most rows disproves it, and then what the
            // ranking's Q positions gave it too (rows of a mirrored pair
            // beside a lone member look like Q and are not).
            c.score += (12.0 * f - 6.0) * f64::from(tested.min(64)).sqrt() / 2.0;
            if tested >= 16 && f < 0.5 {
                c.score -= c.q_points;
                taken = c.q_points;
                c.q_points = 0.0;
            }
            c.evidence.push(format!(
                "Q syndrome matches in {ok} of {tested} rows with data in this order"
            ));
        }
    }
    // The ranking's Q points taken back are no finding of the checks.
    c.checks += c.score - before + taken;
    fingerprint(&vol, s.len.saturating_mul(2))
}

/// Points for the candidate from the stripe its filesystem was made for
/// (mke2fs and mkfs.xfs take it from the md device): a unit that is the
/// chunk and a width that is the data members' chunks speak for it, others
/// against it (less: it can be set by hand).
fn stripe_points(c: &Candidate, stripe: Option<(u64, u64)>, ev: &mut Vec<String>) -> f64 {
    let Some((unit, width)) = stripe else {
        return 0.0;
    };
    if c.chunk == 0 {
        return 0.0;
    }
    let data = match c.shape {
        Shape::Raid0 => c.slots.len() as u64,
        Shape::Parity { level: 6, .. } => c.slots.len().saturating_sub(2) as u64,
        Shape::Parity { .. } => c.slots.len().saturating_sub(1) as u64,
        _ => 0,
    };
    let mut p = 0.0;
    if unit > 0 {
        if unit == c.chunk {
            p += 2.0;
            ev.push(format!(
                "the filesystem was made for a {unit}-byte stripe unit: the chunk"
            ));
        } else {
            p -= 1.0;
            ev.push(format!(
                "the filesystem was made for a {unit}-byte stripe unit, not this chunk"
            ));
        }
    }
    if width > 0 && data > 0 {
        if width == c.chunk.saturating_mul(data) {
            p += 2.0;
            ev.push(format!(
                "and a {width}-byte stripe width: the data members' chunks"
            ));
        } else {
            p -= 1.0;
        }
    }
    p
}

/// Check points above which a RAID10 whose surviving pair is equal is
/// taken for one (a partition table and a filesystem whose checksums match
/// through it), rather than for a member given twice.
const DUP_CHECKS: f64 = 10.0;

/// Turns scores into confidences: the level's confidence times the share
/// of the candidate in a softmax over the shortlist (so that candidates the
/// evidence cannot tell apart split it), lowered without any structure
/// checked and when members look duplicated.
pub(super) fn calibrate(all: &mut [Candidate], dup: &[(usize, usize)], notes: &mut Vec<String>) {
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
        // Chunk boundaries the content runs straight across: the chunk
        // (or order) is wrong, whatever else reads right through it.
        if c.continuity < -2.0 {
            c.contradictions += 1;
            c.evidence.push(format!(
                "content runs across its chunk boundaries ({:.1} standard errors)",
                c.continuity
            ));
        }
        if c.checks < 0.0 || c.contradictions > 0 {
            // What was read through it contradicts it, whatever the others.
            conf *= 0.3;
        }
        if c.slots.iter().any(Option::is_none) {
            conf *= 0.9;
        }
        // An order from the heuristic search is only as sure as the
        // content continuity that led it: orders it never tried may fit
        // as well.
        if c.searched_order && c.continuity < 4.0 {
            conf *= 0.5;
            c.evidence.push(format!(
                "the member order comes from a search over {} members that weak content continuity guided: orders it did not try may fit as well",
                c.slots.len()
            ));
        }
        if !dup.is_empty() {
            // Structures that read right through a RAID10 with a member
            // missing (whose surviving pair is equal) speak for it.
            let mirror10 = c.level == Level::Raid10 && c.checks >= DUP_CHECKS;
            conf *= if mirror10 { 0.6 } else { 0.2 };
        }
        c.confidence = conf.clamp(0.0, 1.0);
    }
    // Scores tie where the evidence cannot tell: the level's prior (a
    // complete array over one with a member missing) then decides, then
    // the order the members were given in (the ports they were imaged
    // from, most often): members that hold only zeros and incompressible
    // data in the same places cannot be told apart by any structure.
    all.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| inversions(a).cmp(&inversions(b)))
    });
    if let [a, b, ..] = &*all {
        if a.confidence == b.confidence && a.confidence > 0.0 && a.slots != b.slots {
            notes.push(format!(
                "the data cannot tell orders {} and {} apart: the order the members were given in is kept",
                a.order_text(),
                b.order_text()
            ));
        }
    }
    if all.first().is_some_and(|c| c.confidence < 0.3) {
        notes.push("no geometry stands out: low confidence".into());
    }
}

/// Pairs of members out of the order they were given in (absent slots
/// left out).
fn inversions(c: &Candidate) -> usize {
    let m: Vec<usize> = c.slots.iter().flatten().copied().collect();
    m.iter()
        .enumerate()
        .map(|(i, a)| m.iter().skip(i + 1).filter(|b| *b < a).count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raid0(order: &[usize]) -> Candidate {
        Candidate {
            level: Level::Raid0,
            layout: String::new(),
            chunk: 65536,
            slots: order.iter().copied().map(Some).collect(),
            data_offset: vec![0; order.len()],
            member_size: 1 << 20,
            size: order.len() as u64 * (1 << 20),
            confidence: 0.9,
            evidence: vec!["the array's start lies on slot 0's member at the offset".into()],
            score: 10.0,
            checks: 5.0,
            contradictions: 0,
            continuity: 1.0,
            shape: Shape::Raid0,
            searched_order: false,
            pin_points: 0.0,
            q_points: 0.0,
        }
    }

    #[test]
    fn orders_the_data_cannot_tell_apart_keep_the_order_given() {
        let mut all = vec![raid0(&[0, 2, 1, 3]), raid0(&[0, 1, 2, 3])];
        let mut notes = Vec::new();
        calibrate(&mut all, &[], &mut notes);
        assert_eq!(all[0].slots, vec![Some(0), Some(1), Some(2), Some(3)]);
        assert!(notes
            .iter()
            .any(|n| n.contains("cannot tell orders 0,1,2,3 and 0,2,1,3")));
    }

    #[test]
    fn candidates_that_fail_differently_are_not_merged() {
        let mut bad = raid0(&[0, 2, 1, 3]);
        bad.contradictions = 1;
        let merged = merge_equivalent(vec![bad, raid0(&[0, 1, 2, 3])], vec![Some(7), Some(7)]);
        assert_eq!(merged.len(), 2);
        let same = merge_equivalent(
            vec![raid0(&[0, 2, 1, 3]), raid0(&[0, 1, 2, 3])],
            vec![Some(7), Some(7)],
        );
        assert_eq!(same.len(), 1);
    }
}
