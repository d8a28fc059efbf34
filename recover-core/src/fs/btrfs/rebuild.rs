//! RAID5/6 data rebuilt from the other columns of its row and the parity.
//!
//! Btrfs computes parity with the kernel's lib/raid6 over the row's data
//! columns in data order (raid56.c hands the generator the data stripes,
//! then P, then Q): P is their XOR, Q their syndrome with the data
//! column's index as its slot. The arithmetic is [`crate::parity`].

use crate::parity;

/// The bytes of one row at one offset: a data column or parity block is
/// `None` when it cannot be read.
#[derive(Debug)]
pub struct Row {
    /// Data columns in data order.
    pub data: Vec<Option<Vec<u8>>>,
    /// P.
    pub p: Option<Vec<u8>>,
    /// Q (RAID6).
    pub q: Option<Vec<u8>>,
}

/// Rebuilds data column `x` of `row` into `out` (whose length every block
/// has); false when too much of the row is missing. Column `x` itself is
/// never read from `row` (a caller checking a copy against its checksum
/// treats it as unknown).
pub fn rebuild(row: &Row, x: usize, out: &mut [u8]) -> bool {
    let n = out.len();
    let fits = |b: &Vec<u8>| b.len() == n;
    let lost: Vec<usize> = (0..row.data.len())
        .filter(|&i| {
            i == x
                || !row
                    .data
                    .get(i)
                    .is_some_and(|d| d.as_ref().is_some_and(fits))
        })
        .collect();
    let p = row.p.as_ref().filter(|b| fits(b));
    let q = row.q.as_ref().filter(|b| fits(b));
    // XOR of every data column here, and their syndrome (slots of the
    // columns not here count as zeros).
    let present = || {
        row.data
            .iter()
            .enumerate()
            .filter(|(i, _)| !lost.contains(i))
            .filter_map(|(i, d)| Some((i, d.as_ref()?)))
    };
    let xor_present = |into: &mut [u8]| {
        for (_, d) in present() {
            parity::xor_into(into, d);
        }
    };
    let syndrome = || {
        let mut s = vec![0u8; n];
        let zeros = vec![0u8; n];
        for i in (0..row.data.len()).rev() {
            let d = present().find(|(k, _)| *k == i).map_or(&zeros, |(_, d)| d);
            parity::syndrome_step(&mut s, d);
        }
        s
    };
    let slot = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    match (lost.as_slice(), p, q) {
        ([_], Some(p), _) => {
            out.copy_from_slice(p);
            xor_present(out);
            true
        }
        ([_], None, Some(q)) => {
            let mut qd = syndrome();
            parity::xor_into(&mut qd, q);
            parity::recover_data_from_q(out, &qd, slot(x));
            true
        }
        (&[a, b], Some(p), Some(q)) => {
            let mut pd = p.clone();
            xor_present(&mut pd);
            let mut qd = syndrome();
            parity::xor_into(&mut qd, q);
            let mut da = vec![0u8; n];
            let mut db = vec![0u8; n];
            parity::recover_two_data(&mut da, &mut db, &pd, &qd, slot(a), slot(b));
            out.copy_from_slice(if a == x { &da } else { &db });
            true
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn row(data: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let n = data[0].len();
        let mut p = vec![0u8; n];
        let mut q = vec![0u8; n];
        for d in data.iter().rev() {
            parity::xor_into(&mut p, d);
            parity::syndrome_step(&mut q, d);
        }
        (p, q)
    }

    #[test]
    fn every_one_and_two_column_loss_is_rebuilt() {
        let data: Vec<Vec<u8>> = (0..4u8)
            .map(|c| {
                (0..64u8)
                    .map(|i| i.wrapping_mul(31) ^ c.wrapping_mul(77))
                    .collect()
            })
            .collect();
        let (p, q) = row(&data);
        for x in 0..4 {
            for y in 0..4 {
                for (has_p, has_q) in [(true, true), (true, false), (false, true)] {
                    let mut r = Row {
                        data: data.iter().cloned().map(Some).collect(),
                        p: has_p.then(|| p.clone()),
                        q: has_q.then(|| q.clone()),
                    };
                    r.data[y] = None;
                    let lost = if x == y { 1 } else { 2 };
                    let can = lost == 1 || (has_p && has_q);
                    let mut out = vec![0u8; 64];
                    assert_eq!(
                        rebuild(&r, x, &mut out),
                        can,
                        "x {x} y {y} p {has_p} q {has_q}"
                    );
                    if can {
                        assert_eq!(out, data[x]);
                    }
                }
            }
        }
        // A wrong-sized block counts as missing, not a panic.
        let r = Row {
            data: vec![Some(vec![1; 3]), None],
            p: Some(vec![0; 64]),
            q: None,
        };
        assert!(!rebuild(&r, 1, &mut [0u8; 64]));
    }
}
