//! RAID6's Q syndrome, checked in a candidate's order: unlike P (a plain
//! XOR, blind to order), Q weighs each data block by its place, so rows
//! whose Q matches prove the order, the layout and the chunk size.

use super::rows::ROW;
use super::sample::Sample;
use crate::raid::map::ParityGeometry;
use crate::raid::parity;

/// (rows whose syndromes matched, rows tested) under the candidate:
/// `geom` (level 6), `order` (slot to sample member; a member not in the
/// sample is missing), `chunk`, `offset`; at most `max` rows with some
/// data. With one block of a row missing, the others still check: a
/// missing data block is rebuilt from P and Q is checked; a missing P
/// leaves Q to check. Rows without Q, or missing more, are skipped.
pub fn q_matches(
    s: &Sample,
    geom: &ParityGeometry,
    order: &[usize],
    chunk: u64,
    offset: u64,
    max: u32,
) -> (u32, u32) {
    let (mut ok, mut tested) = (0u32, 0u32);
    if chunk < ROW as u64 {
        return (0, 0);
    }
    let block = |slot: u32, off: u64| order.get(slot as usize).and_then(|&m| s.bytes(m, off, ROW));
    let mut q = vec![0u8; ROW];
    let mut p = vec![0u8; ROW];
    let mut rebuilt = vec![0u8; ROW];
    for start in &s.starts {
        let mut off = start.max(&offset).next_multiple_of(ROW as u64);
        let mut guard = 0;
        while tested < max && guard < 1024 {
            guard += 1;
            if s.bytes(0, off, ROW).is_none() {
                break;
            }
            let stripe = geom.stripe((off - offset) / chunk);
            let Some(qs) = stripe.q else { break };
            let (pb, qb) = (block(stripe.p, off), block(qs, off));
            let data: Vec<Option<&[u8]>> = stripe.data.iter().map(|&d| block(d, off)).collect();
            let lost = data.iter().filter(|d| d.is_none()).count()
                + usize::from(pb.is_none())
                + usize::from(qb.is_none());
            off += ROW as u64 * 7;
            if lost > 1 {
                continue;
            }
            // P from the present data; a missing data block is P's remainder.
            p.fill(0);
            for d in data.iter().flatten() {
                parity::xor_into(&mut p, d);
            }
            let missing_data = data.iter().position(|d| d.is_none());
            if let (Some(_), Some(pb)) = (missing_data, pb) {
                rebuilt.copy_from_slice(&p);
                parity::xor_into(&mut rebuilt, pb);
            }
            let any = data.iter().flatten().any(|d| d.iter().any(|&x| x != 0))
                || (missing_data.is_some() && rebuilt.iter().any(|&x| x != 0));
            // A row whose Q is missing checks only P: no more than RAID5
            // would, and where Q is missing in every row (parity-first)
            // the rows a sparse array's missing member is zero in pass
            // whatever the geometry. Only rows with Q say anything of it.
            let Some(qb) = qb.filter(|_| any) else {
                continue;
            };
            tested += 1;
            q.fill(0);
            for (i, d) in data.iter().enumerate() {
                let e = parity::gf_exp(stripe.q_slot.get(i).copied().unwrap_or(0));
                parity::mul_xor_into(&mut q, d.unwrap_or(&rebuilt), e);
            }
            if q == qb {
                ok += 1;
            }
        }
    }
    (ok, tested)
}
