//! Which members hold P and Q in a row of a RAID6 that lost one member,
//! found from the row's bytes alone.
//!
//! Q is a weighted sum over GF(2^8) of the row's data blocks, Q = Σ x_i·D_i
//! with x_i = g^c_i (md: c_i counts the data slots from the one after Q;
//! DDF: the slot number), and P = Σ D_i. A row that lost the block of one
//! data member m still holds D_m = P ⊕ Σ D_i, so
//! Q = x_m·P ⊕ Σ (x_i ⊕ x_m)·D_i: Q is a linear combination of the other
//! blocks present. A row that lost P has Q = Σ x_i·D_i directly. Either
//! way the blocks present obey one linear relation, the same at every
//! byte of the row (striped data obeys none), found by elimination over
//! the first bytes and checked on all the others. Its weights then name
//! Q and P: only the right choice turns them into the multipliers of the
//! data, distinct small powers of g.
//!
//! Rows where the missing block was Q XOR to zero and are left to the
//! parity tests; rows with two blocks missing cannot be solved (two
//! unknown blocks fit any P and Q).

use crate::raid::parity::{gf_inv, gf_log, gf_mul};

/// What a solved row says: the member holding P (`None`: P was the
/// missing block) and the member holding Q, as sample members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The member holding P, if present.
    pub p: Option<usize>,
    /// The member holding Q.
    pub q: usize,
}

/// The roles of a row of `blocks` (one per member present, equal lengths,
/// every one holding varied data) of a RAID6 over at most `slots` members
/// with one block missing; `None` when no choice, or more than one, fits.
pub fn roles(blocks: &[&[u8]], slots: usize) -> Option<Roles> {
    let k = blocks.len();
    if !(3..=32).contains(&k) || blocks.iter().any(|b| b.len() != blocks[0].len()) {
        return None;
    }
    // The one linear relation among the blocks, scaled so member 0's
    // weight is 1 (every member of a RAID6 row weighs in it).
    let cols: Vec<usize> = (1..k).collect();
    let a = solve(blocks, &cols, 0)?;
    let w: Vec<u8> = std::iter::once(1).chain(a).collect();
    if w.contains(&0) {
        return None;
    }
    let mut found = None;
    for q in 0..k {
        let inv = gf_inv(w[q]);
        let others: Vec<usize> = (0..k).filter(|&j| j != q).collect();
        let a: Vec<u8> = others.iter().map(|&j| gf_mul(w[j], inv)).collect();
        for p in fitting_p(&a, slots) {
            let r = Roles {
                p: p.map(|i| others[i]),
                q,
            };
            if found.replace(r).is_some() {
                return None;
            }
        }
    }
    found
}

/// The multipliers a_j with blocks[q] = Σ a_j·blocks[cols[j]], byte by
/// byte, when exactly one set fits every byte. `blocks` are of one length
/// and `cols` and `q` index them (as `roles` makes sure).
fn solve(blocks: &[&[u8]], cols: &[usize], q: usize) -> Option<Vec<u8>> {
    let u = cols.len();
    let len = blocks[q].len();
    // Rows of the reduced system: coefficients, then the right side;
    // `pivot[r]` is the column row r leads with (normalized to 1).
    let mut sys: Vec<Vec<u8>> = Vec::with_capacity(u);
    let mut pivot: Vec<usize> = Vec::with_capacity(u);
    let mut b = 0;
    while b < len && sys.len() < u {
        // ok: b < len, every block that long; c, q < blocks.len().
        let mut eq: Vec<u8> = cols.iter().map(|&c| blocks[c][b]).collect();
        eq.push(blocks[q][b]);
        b += 1;
        for (row, &pc) in sys.iter().zip(&pivot) {
            let f = eq[pc];
            if f != 0 {
                for (e, &r) in eq.iter_mut().zip(row) {
                    *e ^= gf_mul(f, r);
                }
            }
        }
        let Some(pc) = (0..u).find(|&c| eq[c] != 0) else {
            // Dependent: consistent only if its right side is zero.
            if eq[u] != 0 {
                return None;
            }
            continue;
        };
        let inv = gf_inv(eq[pc]);
        eq.iter_mut().for_each(|e| *e = gf_mul(*e, inv));
        // Keep the system reduced: the new pivot column leaves the others.
        for row in sys.iter_mut() {
            let f = row[pc];
            if f != 0 {
                for (r, &e) in row.iter_mut().zip(&eq) {
                    *r ^= gf_mul(f, e);
                }
            }
        }
        sys.push(eq);
        pivot.push(pc);
    }
    if sys.len() < u {
        return None;
    }
    let mut a = vec![0u8; u];
    for (row, &pc) in sys.iter().zip(&pivot) {
        a[pc] = row[u];
    }
    // Every byte left must fit (the first ones made the system).
    for (i, &want) in blocks[q].iter().enumerate().skip(b) {
        let s = cols
            .iter()
            .zip(&a)
            .fold(0u8, |acc, (&c, &x)| acc ^ gf_mul(x, blocks[c][i])); // ok: as above
        if s != want {
            return None;
        }
    }
    Some(a)
}

/// The P members (as indices into `a`; `None`: P missing) under which the
/// multipliers `a` are distinct powers of g below `slots`: P missing, the
/// a_j themselves; P at j, the missing member's x_m = a_j and x_i =
/// a_i ⊕ a_j for the others.
fn fitting_p(a: &[u8], slots: usize) -> Vec<Option<usize>> {
    let small = |xs: &mut Vec<u8>| {
        let ok = xs
            .iter()
            .all(|&x| x != 0 && usize::from(gf_log(x)) < slots.max(1));
        xs.sort_unstable();
        ok && xs.windows(2).all(|w| w[0] != w[1])
    };
    let mut out = Vec::new();
    if small(&mut a.to_vec()) {
        out.push(None);
    }
    for (j, &xm) in a.iter().enumerate() {
        let mut xs: Vec<u8> = a
            .iter()
            .enumerate()
            .map(|(i, &ai)| if i == j { xm } else { ai ^ xm })
            .collect();
        if small(&mut xs) {
            out.push(Some(j));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raid::parity::gf_exp;
    use proptest::prelude::*;

    /// A RAID6 row of `data` blocks of pseudo-random bytes: (data, P, Q),
    /// Q with coefficients g^0, g^1, ...
    fn row(data: usize, seed: u64, len: usize) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        let d: Vec<Vec<u8>> = (0..data)
            .map(|_| (0..len).map(|_| next()).collect())
            .collect();
        let mut p = vec![0u8; len];
        let mut q = vec![0u8; len];
        for (i, b) in d.iter().enumerate() {
            let c = gf_exp(i as u32);
            for (k, &v) in b.iter().enumerate() {
                p[k] ^= v;
                q[k] ^= gf_mul(c, v);
            }
        }
        (d, p, q)
    }

    #[test]
    fn a_lost_data_block_leaves_p_and_q_named() {
        let (d, p, q) = row(6, 7, 4096);
        // Data block 2 lost; members given as D0 D1 Q D3 P D4 D5.
        let blocks: Vec<&[u8]> = vec![&d[0], &d[1], &q, &d[3], &p, &d[4], &d[5]];
        assert_eq!(roles(&blocks, 8), Some(Roles { p: Some(4), q: 2 }));
    }

    #[test]
    fn rows_whose_roles_swap_name_nothing() {
        // P lost: Q and the block weighed g^0 can swap.
        let (d, _, q) = row(5, 9, 4096);
        let blocks: Vec<&[u8]> = vec![&d[3], &q, &d[0], &d[1], &d[2], &d[4]];
        assert_eq!(roles(&blocks, 7), None);
        // The block weighed g^0 lost: P and Q can swap.
        let (d, p, q) = row(5, 9, 4096);
        let blocks: Vec<&[u8]> = vec![&d[3], &q, &p, &d[1], &d[2], &d[4]];
        assert_eq!(roles(&blocks, 7), None);
    }

    #[test]
    fn striped_random_blocks_name_nothing() {
        let (d, _, _) = row(7, 11, 4096);
        let blocks: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
        assert_eq!(roles(&blocks, 9), None);
    }

    proptest! {
        #[test]
        fn any_lost_data_block_of_any_row(data in 2usize..10, lost in 1usize..10, seed: u64) {
            // Lost the block weighed g^0, P and Q weigh alike and swap:
            // such rows say nothing (below).
            let lost = (lost % (data - 1)) + 1;
            let (d, p, q) = row(data, seed, 1024);
            let mut blocks: Vec<&[u8]> = d.iter().enumerate().filter(|(i, _)| *i != lost).map(|(_, b)| b.as_slice()).collect();
            blocks.push(&p);
            blocks.push(&q);
            let k = blocks.len();
            prop_assert_eq!(roles(&blocks, data + 2), Some(Roles { p: Some(k - 2), q: k - 1 }));
        }

        #[test]
        fn arbitrary_bytes_never_panic(a in proptest::collection::vec(any::<u8>(), 0..64), k in 1usize..6) {
            let blocks: Vec<&[u8]> = (0..k).map(|_| a.as_slice()).collect();
            let _ = roles(&blocks, k + 1);
        }
    }
}
