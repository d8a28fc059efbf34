//! Synthetic arrays built by a small striper written here, independent of
//! `raid::map` and of the engine: the md placements as md documents them
//! (raid5.c's four classic algorithms and parity-first, RAID0, RAID1,
//! RAID6 with Q = sum of g^i D_i), over content that looks like a disk: a
//! GPT, an ext-like superblock, and runs of text, random and structured
//! data with zeros between them.

use super::*;
use crate::io::MemVolume;
use crate::raid::model::ArrayModel;
use crate::raid::parity::{gf_exp, gf_mul};
use crate::raid::volume::ArrayVolume;

/// xorshift64*: deterministic bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: [&str; 8] = [
    "raid ", "stripe ", "parity ", "mirror ", "chunk ", "member ", "offset\n", "layout ",
];

/// A disk-like array image of `size` bytes: an MBR at 0 with a partition
/// at 1 MiB, then runs of content of random kinds and lengths (4 KiB to
/// 512 KiB), some zero gaps.
fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut d = vec![0u8; size];
    // MBR: one partition at 1 MiB to the end.
    d[446 + 4] = 0x83;
    d[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    d[446 + 12..446 + 16].copy_from_slice(&(((size >> 9) - 2048) as u32).to_le_bytes());
    d[440..444].copy_from_slice(&(seed as u32).to_le_bytes());
    d[510] = 0x55;
    d[511] = 0xAA;
    let mut pos = 1 << 20;
    while pos < size {
        let len = (4096 * (1 + r.below(128)) as usize).min(size - pos);
        let kind = r.below(5);
        let run = &mut d[pos..pos + len];
        match kind {
            0 => {} // zeros
            1 => {
                let mut i = 0;
                while i < run.len() {
                    let w = WORDS[r.below(8) as usize].as_bytes();
                    let n = w.len().min(run.len() - i);
                    run[i..i + n].copy_from_slice(&w[..n]);
                    i += n;
                }
            }
            2 => run.iter_mut().for_each(|b| *b = r.next() as u8),
            3 => {
                // Records: a counter, a tag, zero padding (like inode tables).
                for (i, rec) in run.chunks_mut(256).enumerate() {
                    let v = (pos / 256 + i) as u64;
                    rec[..8].copy_from_slice(&v.to_le_bytes());
                    if rec.len() >= 16 {
                        rec[8..16].copy_from_slice(b"RECORD\x01\x02");
                    }
                }
            }
            _ => run.fill(0x5a),
        }
        pos += len;
    }
    d
}

/// md's RAID5 placement of stripe `s` over `n` disks: (parity disk, data
/// disks in order), per raid5.c's algorithms 0..=4.
fn r5_stripe(algo: u32, n: usize, s: usize) -> (usize, Vec<usize>) {
    let dd = n - 1;
    match algo {
        // left-asymmetric: parity from the last disk backwards, data from disk 0.
        0 => {
            let p = dd - s % n;
            (p, (0..n).filter(|&d| d != p).collect())
        }
        // right-asymmetric: parity from disk 0 forwards, data from disk 0.
        1 => {
            let p = s % n;
            (p, (0..n).filter(|&d| d != p).collect())
        }
        // left-symmetric: parity backwards, data starts after parity.
        2 => {
            let p = dd - s % n;
            (p, (1..n).map(|i| (p + i) % n).collect())
        }
        // right-symmetric: parity forwards, data starts after parity.
        3 => {
            let p = s % n;
            (p, (1..n).map(|i| (p + i) % n).collect())
        }
        // parity-first.
        _ => (0, (1..n).collect()),
    }
}

/// Splits `array` into `n` members of RAID `level` (0, 1, 5 with `algo`,
/// 6 with `algo` as a RAID5 algorithm and Q after P per md's classic
/// RAID6 (Q on the disk after P, data after Q for symmetric layouts)),
/// `chunk` bytes, data at `offset` on every member (zeros before).
fn stripe(
    array: &[u8],
    level: u32,
    algo: u32,
    n: usize,
    chunk: usize,
    offset: usize,
) -> Vec<Vec<u8>> {
    let dd = match level {
        0 => n,
        1 => 1,
        5 => n - 1,
        _ => n - 2,
    };
    let rows = array.len() / (chunk * dd);
    let mlen = offset + rows * chunk + 3 * 4096;
    let mut m = vec![vec![0u8; mlen]; n];
    for row in 0..rows {
        let base = row * chunk * dd;
        let at = offset + row * chunk;
        match level {
            1 => {
                for d in m.iter_mut() {
                    d[at..at + chunk].copy_from_slice(&array[base..base + chunk]);
                }
            }
            0 => {
                for (i, d) in m.iter_mut().enumerate() {
                    let a = base + i * chunk;
                    d[at..at + chunk].copy_from_slice(&array[a..a + chunk]);
                }
            }
            5 => {
                let (p, data) = r5_stripe(algo, n, row);
                let mut par = vec![0u8; chunk];
                for (i, &d) in data.iter().enumerate() {
                    let a = base + i * chunk;
                    m[d][at..at + chunk].copy_from_slice(&array[a..a + chunk]);
                    par.iter_mut()
                        .zip(&array[a..a + chunk])
                        .for_each(|(x, y)| *x ^= y);
                }
                m[p][at..at + chunk].copy_from_slice(&par);
            }
            _ => {
                // md RAID6 left-symmetric (2): P at n-1-row%n, Q after it,
                // data after Q; Q = sum of g^i D_i over data in order.
                assert_eq!(algo, 2);
                let p = n - 1 - row % n;
                let q = (p + 1) % n;
                let data: Vec<usize> = (2..n).map(|i| (p + i) % n).collect();
                let mut par = vec![0u8; chunk];
                let mut qs = vec![0u8; chunk];
                for (i, &d) in data.iter().enumerate() {
                    let a = base + i * chunk;
                    let src = &array[a..a + chunk];
                    m[d][at..at + chunk].copy_from_slice(src);
                    let g = gf_exp(i as u32);
                    for j in 0..chunk {
                        par[j] ^= src[j];
                        qs[j] ^= gf_mul(g, src[j]);
                    }
                }
                m[p][at..at + chunk].copy_from_slice(&par);
                m[q][at..at + chunk].copy_from_slice(&qs);
            }
        }
    }
    m
}

fn vols(members: &[Vec<u8>], order: &[usize]) -> Vec<VolumeRef> {
    order
        .iter()
        .map(|&i| Arc::new(MemVolume::new(format!("m{i}"), members[i].clone())) as VolumeRef)
        .collect()
}

/// Infers, assembles the best candidate, and compares its first `want.len()` bytes.
fn same_as(v: &[VolumeRef], c: &Candidate, want: &[u8]) -> bool {
    let Ok(model) = ArrayModel::new(c.spec(v)) else {
        return false;
    };
    let Ok(vol) = ArrayVolume::new("t".into(), model, false) else {
        return false;
    };
    if vol.len() < want.len() as u64 {
        return false;
    }
    let mut buf = vec![0u8; want.len()];
    vol.read_at(0, &mut buf).is_ok() && buf == want
}

/// The best candidate inferred from `v` with no hints, which must read
/// as `want`; `what` names the case when it does not.
fn inferred_as(v: &[VolumeRef], want: &[u8], what: &str) -> Candidate {
    let inf = infer(v, &Hints::default(), &|_, _| {}).unwrap();
    let best = inf.candidates.first().expect("a candidate");
    assert!(same_as(v, best, want), "{what}: got{}", describe(&inf));
    best.clone()
}

fn describe(inf: &Inference) -> String {
    let mut s = String::new();
    for c in inf.candidates.iter().take(
        std::env::var("DESCRIBE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4),
    ) {
        s.push_str(&format!(
            "\n  {:.3} {:.2} {} {:?}",
            c.confidence,
            c.score,
            c.summary(),
            c.evidence
        ));
    }
    s.push_str(&format!("\n  notes {:?}", inf.notes));
    s
}

/// One case: `level`, `algo`, `n`, `chunk`, `offset`, members shuffled
/// by `perm`.
fn case(level: u32, algo: u32, n: usize, chunk: usize, offset: usize, seed: u64) {
    let dd = match level {
        0 => n,
        1 => 1,
        5 => n - 1,
        _ => n - 2,
    };
    // At least 48 rows, so that large chunks have boundaries to go by.
    let size = ((24 << 20) / (chunk * dd)).max(48) * (chunk * dd);
    let array = content(size, seed);
    let members = stripe(&array, level, algo, n, chunk, offset);
    let mut perm: Vec<usize> = (0..n).collect();
    let mut r = Rng(seed.wrapping_mul(7) | 1);
    for i in (1..n).rev() {
        perm.swap(i, r.below(i as u64 + 1) as usize);
    }
    let v = vols(&members, &perm);
    let inf = infer(&v, &Hints::default(), &|_, _| {}).unwrap();
    let best = inf
        .candidates
        .first()
        .unwrap_or_else(|| panic!("no candidate{}", describe(&inf)));
    assert!(
        same_as(&v, best, &array),
        "raid{level} algo {algo} n {n} chunk {chunk} offset {offset} perm {perm:?}: got{}",
        describe(&inf)
    );
    assert!(best.confidence >= 0.3, "low confidence{}", describe(&inf));
}

#[test]
fn raid5_every_md_layout() {
    for (algo, n, chunk, off) in [
        (0, 4, 64 << 10, 1 << 20),
        (1, 3, 64 << 10, 1 << 20),
        (2, 3, 512 << 10, 2 << 20),
        (3, 4, 64 << 10, 0),
        (4, 3, 64 << 10, 1 << 20),
        (2, 5, 16 << 10, 0),
        (2, 6, 32 << 10, 1 << 20),
    ] {
        case(5, algo, n, chunk, off, 11 + algo as u64 + n as u64);
    }
}

#[test]
fn raid0_and_raid1() {
    case(0, 0, 3, 64 << 10, 1 << 20, 3);
    case(0, 0, 2, 512 << 10, 1 << 20, 4);
    case(0, 0, 4, 16 << 10, 0, 5);
    case(1, 0, 2, 4096, 1 << 20, 6);
    case(1, 0, 3, 4096, 0, 7);
}

#[test]
fn raid6_left_symmetric() {
    case(6, 2, 4, 64 << 10, 1 << 20, 8);
    case(6, 2, 5, 128 << 10, 0, 9);
}

/// A nearly empty array over many members: an MBR and a few scattered
/// blocks of text and random bytes, zeros elsewhere. Content continuity
/// sees almost nothing; the rows where a lone block and its parity are the
/// only data place parity, and with it the order.
#[test]
fn raid5_nearly_empty_over_eight_members() {
    let (n, chunk) = (8usize, 8usize << 10);
    let size = 7 * chunk * 1024;
    let mut array = content(size, 21);
    let mut r = Rng(99);
    // Zero all but the MBR and 40 blocks of 4 KiB.
    let keep: Vec<usize> = (0..40)
        .map(|_| 256 + r.below((size / 4096 - 256) as u64) as usize)
        .collect();
    for (i, b) in array.chunks_mut(4096).enumerate().skip(1) {
        if !keep.contains(&i) {
            b.fill(0);
        } else if b.iter().all(|&x| x == 0) {
            b.iter_mut().for_each(|x| *x = r.next() as u8);
        }
    }
    let members = stripe(&array, 5, 0, n, chunk, 1 << 20);
    let perm = [3usize, 6, 0, 7, 1, 5, 2, 4];
    let v = vols(&members, &perm);
    inferred_as(&v, &array, "all eight");
    // One member gone: the block rebuilt as the XOR of the others is the
    // missing one, zero or not, and its rows place parity as before.
    let v = vols(&members, &perm[1..]);
    inferred_as(&v, &array, "one missing");
}

#[test]
fn raid5_with_a_member_missing() {
    let array = content((12 << 20) / (3 * 65536) * 3 * 65536, 21);
    let members = stripe(&array, 5, 2, 4, 65536, 1 << 20);
    let v = vols(&members, &[0, 2, 3]);
    inferred_as(&v, &array, "slot 1 of four gone");
}

#[test]
fn raid6_of_random_data_over_eight_with_a_member_missing() {
    // Incompressible data: no continuity, no zero blocks, no row that
    // XORs to zero but where Q is the missing block. The rows' one GF
    // relation names P and Q (see `pq`).
    let (n, chunk) = (8usize, 64usize << 10);
    let size = 6 * chunk * 48;
    let mut array = content(size, 31);
    let mut r = Rng(7);
    array[1 << 20..]
        .iter_mut()
        .for_each(|b| *b = r.next() as u8);
    let members = stripe(&array, 6, 2, n, chunk, 1 << 20);
    let v = vols(&members, &[0, 1, 3, 4, 5, 6, 7]);
    let best = inferred_as(&v, &array, "slot 2 of eight gone");
    assert_eq!(best.slots.iter().filter(|s| s.is_none()).count(), 1);
}

#[test]
fn raid6_with_two_members_missing() {
    let (n, chunk) = (5, 64 << 10);
    let array = content((12 << 20) / (3 * chunk) * 3 * chunk, 22);
    let members = stripe(&array, 6, 2, n, chunk, 1 << 20);
    // Slots 1 and 3 gone: no row can be tested, the content decides.
    let v = vols(&members, &[0, 2, 4]);
    let best = inferred_as(&v, &array, "slots 1 and 3 gone");
    assert_eq!(best.slots.iter().filter(|s| s.is_none()).count(), 2);
}

#[test]
fn nothing_to_go_by_gives_no_confident_answer() {
    // All zero.
    let z = vec![vec![0u8; 4 << 20]; 3];
    let inf = infer(&vols(&z, &[0, 1, 2]), &Hints::default(), &|_, _| {}).unwrap();
    assert!(inf.best(0.3).is_none(), "{}", describe(&inf));
    // Random members.
    let mut r = Rng(99);
    let rnd: Vec<Vec<u8>> = (0..3)
        .map(|_| (0..(6 << 20)).map(|_| r.next() as u8).collect())
        .collect();
    let inf = infer(&vols(&rnd, &[0, 1, 2]), &Hints::default(), &|_, _| {}).unwrap();
    assert!(inf.best(0.3).is_none(), "random: {}", describe(&inf));
    // Members of two different arrays.
    let a = stripe(&content(12 << 20, 31), 5, 2, 3, 65536, 1 << 20);
    let b = stripe(&content(12 << 20, 32), 5, 2, 3, 65536, 1 << 20);
    let mixed = vec![a[0].clone(), a[1].clone(), b[2].clone()];
    let inf = infer(&vols(&mixed, &[0, 1, 2]), &Hints::default(), &|_, _| {}).unwrap();
    assert!(inf.best(0.5).is_none(), "mixed: {}", describe(&inf));
    // One member given twice.
    let twice = vec![a[0].clone(), a[1].clone(), a[1].clone()];
    let inf = infer(&vols(&twice, &[0, 1, 2]), &Hints::default(), &|_, _| {}).unwrap();
    assert!(inf.best(0.3).is_none(), "twice: {}", describe(&inf));
}

#[test]
fn tiny_and_odd_members_do_not_panic() {
    for sizes in [
        vec![0usize, 0],
        vec![1, 513],
        vec![4095, 4097, 70000],
        vec![512],
    ] {
        let m: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&s| (0..s).map(|i| (i * 31) as u8).collect())
            .collect();
        let order: Vec<usize> = (0..m.len()).collect();
        let _ = infer(&vols(&m, &order), &Hints::default(), &|_, _| {});
    }
}

#[test]
fn a_blank_spare_is_left_out() {
    let array = content(24 << 20, 41);
    let mut members = stripe(&array, 5, 2, 3, 65536, 1 << 20);
    members.insert(1, vec![0u8; members[0].len()]);
    let v = vols(&members, &[0, 1, 2, 3]);
    let inf = infer(&v, &Hints::default(), &|_, _| {}).unwrap();
    let best = inf.candidates.first().expect("a candidate");
    assert!(!best.slots.contains(&Some(1)), "{}", describe(&inf));
    assert!(same_as(&v, best, &array), "{}", describe(&inf));
}

/// md RAID10 with two copies, per md(4): "n" puts the copies of chunk k at
/// positions 2k and 2k+1 of the members read row by row; "f" puts the
/// first copies striped over the first half of every member and the second
/// copies over the second half, one member on; "o" repeats each row of
/// first copies in the next row, one member on.
fn stripe10(array: &[u8], layout: char, n: usize, chunk: usize, offset: usize) -> Vec<Vec<u8>> {
    let chunks = array.len() / chunk;
    // Member chunks: what the array needs, two copies over n members.
    let mc = match layout {
        'f' => 2 * chunks.div_ceil(n),
        'o' => 2 * chunks.div_ceil(n),
        _ => (2 * chunks).div_ceil(n),
    };
    let mut m = vec![vec![0u8; offset + mc * chunk + 4096]; n];
    for k in 0..chunks {
        let src = &array[k * chunk..(k + 1) * chunk];
        let places = match layout {
            'n' => vec![
                ((2 * k) % n, (2 * k) / n),
                ((2 * k + 1) % n, (2 * k + 1) / n),
            ],
            'f' => vec![(k % n, k / n), ((k % n + 1) % n, mc / 2 + k / n)],
            _ => vec![(k % n, 2 * (k / n)), ((k % n + 1) % n, 2 * (k / n) + 1)],
        };
        for (d, row) in places {
            let at = offset + row * chunk;
            m[d][at..at + chunk].copy_from_slice(src);
        }
    }
    m
}

#[test]
fn raid10_near_far_offset() {
    for (layout, n, chunk, off, words) in [
        ('n', 4, 64 << 10, 1 << 20, "near=2"),
        ('n', 3, 512 << 10, 1 << 20, "near=2"),
        ('f', 4, 64 << 10, 0, "far=2"),
        ('f', 3, 64 << 10, 1 << 20, "far=2"),
        ('o', 3, 16 << 10, 1 << 20, "offset=2"),
    ] {
        let array = content(24 << 20, 50 + n as u64);
        let members = stripe10(&array, layout, n, chunk, off);
        let order: Vec<usize> = (0..n).rev().collect();
        let v = vols(&members, &order);
        let best = inferred_as(&v, &array, &format!("{words} n {n} chunk {chunk}"));
        assert_eq!(best.layout, words);
    }
}

#[test]
fn raid10_with_a_member_missing() {
    for (layout, n, chunk, gone, words) in [
        ('n', 4, 64 << 10, 1, "near=2"),
        ('n', 5, 64 << 10, 2, "near=2"),
        ('f', 3, 64 << 10, 1, "far=2"),
        ('o', 4, 16 << 10, 3, "offset=2"),
    ] {
        let array = content(24 << 20, 60 + n as u64);
        let members = stripe10(&array, layout, n, chunk, 1 << 20);
        let order: Vec<usize> = (0..n).filter(|&i| i != gone).collect();
        let v = vols(&members, &order);
        let best = inferred_as(&v, &array, &format!("{words} n {n} without {gone}"));
        assert_eq!(best.layout, words);
        assert_eq!(best.slots.get(gone), Some(&None));
    }
}

#[test]
fn huge_members_are_sampled_within_the_budget() {
    use crate::io::{Concat, Zeros};
    let array = content(24 << 20, 61);
    let members = stripe(&array, 5, 2, 3, 65536, 1 << 20);
    let v: Vec<VolumeRef> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Arc::new(Concat::new(
                vec![
                    Arc::new(MemVolume::new(format!("m{i}"), m.clone())) as VolumeRef,
                    Arc::new(Zeros::new(1 << 40, format!("z{i}"))) as VolumeRef,
                ],
                format!("big{i}"),
            )) as VolumeRef
        })
        .collect();
    let t = std::time::Instant::now();
    let inf = infer(&v, &Hints::default(), &|_, _| {}).unwrap();
    assert!(t.elapsed().as_secs() < 60);
    for r in &inf.bytes_read {
        assert!(*r <= DEFAULT_BUDGET + (32 << 20), "read {r}");
    }
    let best = inf.candidates.first().expect("a candidate");
    assert!(same_as(&v, best, &array), "{}", describe(&inf));
}

#[test]
fn hints_narrow_the_search() {
    let array = content(24 << 20, 71);
    let members = stripe(&array, 5, 0, 4, 128 << 10, 1 << 20);
    let v = vols(&members, &[2, 0, 3, 1]);
    let hints = Hints {
        level: Some(Level::Raid5),
        chunk: Some(128 << 10),
        members: Some(4),
        offset: Some(1 << 20),
    };
    let inf = infer(&v, &hints, &|_, _| {}).unwrap();
    assert!(inf
        .candidates
        .iter()
        .all(|c| c.chunk == 128 << 10 && c.level == Level::Raid5));
    assert!(
        same_as(&v, &inf.candidates[0], &array),
        "{}",
        describe(&inf)
    );
    // A hint the data contradicts gives no confident answer.
    let wrong = Hints {
        level: Some(Level::Raid1),
        ..Hints::default()
    };
    let inf = infer(&v, &wrong, &|_, _| {}).unwrap();
    assert!(inf.best(0.3).is_none(), "{}", describe(&inf));
}

#[test]
fn two_arrays_one_after_the_other() {
    // IMSM "matrix RAID": a RAID1 volume, then a RAID0 volume, on the same two disks.
    let vol0 = content(24 << 20, 81);
    let vol1 = content(16 << 20, 82);
    let r1 = stripe(&vol0, 1, 0, 2, 4096, 0);
    let r0 = stripe(&vol1, 0, 0, 2, 128 << 10, 0);
    let start1 = 25usize << 20;
    let members: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            let mut m = vec![0u8; start1 + r0[i].len()];
            m[..vol0.len()].copy_from_slice(&r1[i][..vol0.len()]);
            m[start1..].copy_from_slice(&r0[i]);
            m
        })
        .collect();
    let v = vols(&members, &[1, 0]);
    let inf = infer(&v, &Hints::default(), &|_, _| {}).unwrap();
    let best = inf.candidates.first().expect("a candidate");
    assert!(same_as(&v, best, &vol0), "first: {}", describe(&inf));
    let second = inf.further.first().and_then(|f| f.first());
    let second = second.unwrap_or_else(|| panic!("no second array: {}", describe(&inf)));
    assert!(
        same_as(&v, second, &vol1),
        "second: {} {:?}",
        second.summary(),
        second.evidence
    );
}

mod any_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Any members (sizes from empty to a few windows' worth of
        /// sectors, bytes of any kind, the same member repeated) and any
        /// hints: an answer or an error, never a panic, and in bounded time.
        #[test]
        fn never_panics(
            sizes in proptest::collection::vec(0usize..40_000, 1..6),
            seed in any::<u64>(),
            fill in 0u8..3,
            level in proptest::option::of(0usize..6),
            chunk in proptest::option::of(0u64..(1 << 21)),
            offset in proptest::option::of(0u64..(1 << 16)),
            slots in proptest::option::of(0usize..9),
        ) {
            let mut r = Rng(seed | 1);
            let members: Vec<Vec<u8>> = sizes
                .iter()
                .map(|&n| match fill {
                    0 => (0..n).map(|_| r.next() as u8).collect(),
                    1 => (0..n).map(|i| if i % 4096 < 512 { r.next() as u8 } else { 0 }).collect(),
                    _ => content(n.max(1 << 20) & !4095, seed)[..n].to_vec(),
                })
                .collect();
            let order: Vec<usize> = (0..members.len()).collect();
            let levels = [Level::Raid0, Level::Raid1, Level::Raid5, Level::Raid6, Level::Raid10, Level::Linear];
            let hints = Hints {
                level: level.map(|l| levels[l]),
                chunk,
                members: slots,
                offset,
            };
            let t = std::time::Instant::now();
            if let Ok(inf) = infer(&vols(&members, &order), &hints, &|_, _| {}) {
                for c in &inf.candidates {
                    prop_assert!((0.0..=1.0).contains(&c.confidence));
                }
            }
            prop_assert!(t.elapsed().as_secs() < 30);
        }
    }
}

#[test]
fn progress_goes_forward_to_the_end() {
    let array = content(12 << 20, 91);
    let members = stripe(&array, 0, 0, 2, 65536, 0);
    let seen = std::sync::Mutex::new(Vec::new());
    let _ = infer(&vols(&members, &[0, 1]), &Hints::default(), &|d, t| {
        seen.lock().unwrap().push((d, t));
    });
    let seen = seen.into_inner().unwrap();
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    let last = seen.last().copied().unwrap_or_default();
    assert!(last.0 == last.1 && last.1 > 0, "{seen:?}");
}

/// RAID10 far=2 over members of 4 GiB whose used part stops short of
/// their end (as md 1.0 keeps its superblock there): the second copies lie
/// half the used part on, beyond the sample, and are found by reading
/// where they must be; the stride they give places every far copy.
#[test]
fn raid10_far_on_large_members() {
    use crate::io::{Concat, Zeros};
    let (n, chunk, off) = (3usize, 64usize << 10, 1usize << 20);
    let array = content(24 << 20, 77);
    let rows = array.len() / chunk / n;
    let mc: usize = (4 << 30) / chunk - 32;
    let half = mc / 2;
    let len = (off + mc * chunk + (5 << 20)) as u64;
    let mut first = vec![vec![0u8; off + rows * chunk]; n];
    let mut second = vec![vec![0u8; rows * chunk]; n];
    for k in 0..array.len() / chunk {
        let src = &array[k * chunk..(k + 1) * chunk];
        let (d, r) = (k % n, k / n);
        first[d][off + r * chunk..off + (r + 1) * chunk].copy_from_slice(src);
        second[(d + 1) % n][r * chunk..(r + 1) * chunk].copy_from_slice(src);
    }
    let v: Vec<VolumeRef> = (0..n)
        .map(|d| {
            let a = first[d].len() as u64;
            let gap = (off + half * chunk) as u64 - a;
            let b = second[d].len() as u64;
            Arc::new(Concat::new(
                vec![
                    Arc::new(MemVolume::new(format!("a{d}"), first[d].clone())) as VolumeRef,
                    Arc::new(Zeros::new(gap, format!("g{d}"))) as VolumeRef,
                    Arc::new(MemVolume::new(format!("b{d}"), second[d].clone())) as VolumeRef,
                    Arc::new(Zeros::new(len - a - gap - b, format!("z{d}"))) as VolumeRef,
                ],
                format!("m{d}"),
            )) as VolumeRef
        })
        .collect();
    let inf = infer(&v, &Hints::default(), &|_, _| {}).unwrap();
    let best = inf.candidates.first().expect("a candidate");
    assert_eq!(best.layout, "far=2", "{}", describe(&inf));
    assert_eq!(best.member_size, (mc * chunk) as u64, "{}", describe(&inf));
    assert!(same_as(&v, best, &array), "{}", describe(&inf));
    for r in &inf.bytes_read {
        assert!(*r <= DEFAULT_BUDGET + (48 << 20), "read {r}");
    }
}
