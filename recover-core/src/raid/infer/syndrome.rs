//! RAID6's Q syndrome, checked in a candidate's order: unlike P (a plain
//! XOR, blind to order), Q weighs each data block by its place, so rows
//! whose Q matches prove the order, the layout and the chunk size.

use super::rows::ROW;
use super::sample::Sample;
use crate::raid::map::ParityGeometry;
use crate::raid::parity;

/// (rows whose Q matched, rows tested) under the candidate: `geom` (level
/// 6), `order` (slot to sample member), `chunk`, `offset`; at most `max`
/// rows with some data.
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
    let mut q = vec![0u8; ROW];
    for start in &s.starts {
        let mut off = start.max(&offset).next_multiple_of(ROW as u64);
        let mut guard = 0;
        while tested < max && guard < 1024 {
            guard += 1;
            let stripe = geom.stripe((off - offset) / chunk);
            let Some(qm) = stripe.q.and_then(|q| order.get(q as usize)) else {
                break;
            };
            let Some(qb) = s.bytes(*qm, off, ROW) else {
                break;
            };
            q.fill(0);
            let mut any = false;
            for (i, &slot) in stripe.data.iter().enumerate() {
                let Some(d) = order.get(slot as usize).and_then(|&m| s.bytes(m, off, ROW)) else {
                    any = false;
                    break;
                };
                if d.iter().any(|&x| x != 0) {
                    any = true;
                }
                let e = stripe.q_slot.get(i).copied().unwrap_or(0);
                parity::mul_xor_into(&mut q, d, parity::gf_exp(e));
            }
            if any {
                tested += 1;
                if q == qb {
                    ok += 1;
                }
            }
            off += ROW as u64 * 7;
        }
    }
    (ok, tested)
}
