//! RAID parity kernels: the arithmetic needed to rebuild missing members of
//! RAID5 and RAID6 arrays.
//!
//! The definitions followed are those of the Linux kernel's `lib/raid6`
//! (the code Linux md uses), described in H. Peter Anvin's paper
//! "The mathematics of RAID-6":
//!
//! * P is the XOR of the data blocks of a stripe.
//! * Q is computed in GF(2^8) built on the polynomial
//!   x^8 + x^4 + x^3 + x^2 + 1 (`0x11d`) with generator g = 2:
//!   Q = XOR over data blocks of g^slot · D_slot. The kernel's syndrome
//!   generators (`lib/raid6/algos.c` picks the fastest of them at boot)
//!   evaluate this by Horner's rule from the highest slot down, one
//!   multiply-by-2 and one XOR per block; [`syndrome_step`] is that step.
//! * Two missing data blocks, or one data block together with P, are
//!   recovered as in `lib/raid6/recov.c`: see [`recover_two_data`] and
//!   [`recover_data_from_q`].
//!
//! Slot numbers are chosen by the caller (the position of a data block in
//! the stripe, after the layout's rotation); this module only takes slot
//! numbers or coefficients.
//!
//! Every function works on equal-length byte slices (checked with
//! `debug_assert_eq!`; in release builds mismatched lengths are processed up
//! to the shortest slice, never out of bounds). At run time the widest
//! available implementation is used: AVX2, then SSSE3 on x86-64, otherwise
//! portable code; [`kernel_name`] says which. [`scalar`] holds the portable
//! implementations, always available, which the SIMD ones equal bit for bit.
//!
//! Multiplication by a constant uses the split-nibble method: for a constant
//! c, two 16-entry tables hold c·i and c·(i << 4), and c·x is
//! `lo[x & 15] ^ hi[x >> 4]`, sixteen or thirty-two bytes at a time with a
//! byte shuffle.

// Unsafe code is allowed here only, for SIMD parity (XOR and GF(2^8) multiply), measured to matter
// for array reads; each block says why it is sound.
#![allow(unsafe_code)]

/// Reduction polynomial x^8 + x^4 + x^3 + x^2 + 1.
const POLY: u16 = 0x11d;

/// `EXP[i]` = g^i for i in 0..510 (doubled so a sum of two logs needs no
/// reduction).
const EXP: [u8; 510] = build_exp();
/// `LOG[a]` = log_g(a) for a != 0; `LOG[0]` is unused (0).
const LOG: [u8; 256] = build_log();
/// `INV[a]` = a^-1 for a != 0; `INV[0]` = 0.
const INV: [u8; 256] = build_inv();
/// Full product table: `MUL[a][b]` = a·b.
static MUL: [[u8; 256]; 256] = build_mul();
/// Split-nibble tables: `NIB[c][0][i]` = c·i, `NIB[c][1][i]` = c·(i << 4).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
static NIB: [[[u8; 16]; 2]; 256] = build_nib();

const fn build_exp() -> [u8; 510] {
    let mut t = [0u8; 510];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        t[i] = x as u8;
        t[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    t
}

const fn build_log() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        t[EXP[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const fn build_inv() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut a = 1;
    while a < 256 {
        t[a] = EXP[(255 - LOG[a] as usize) % 255];
        a += 1;
    }
    t
}

const fn build_mul() -> [[u8; 256]; 256] {
    let mut t = [[0u8; 256]; 256];
    let mut a = 1;
    while a < 256 {
        let la = LOG[a] as usize;
        let mut b = 1;
        while b < 256 {
            t[a][b] = EXP[la + LOG[b] as usize];
            b += 1;
        }
        a += 1;
    }
    t
}

const fn build_nib() -> [[[u8; 16]; 2]; 256] {
    let mut t = [[[0u8; 16]; 2]; 256];
    let mut c = 1;
    while c < 256 {
        let lc = LOG[c] as usize;
        let mut i = 1;
        while i < 16 {
            t[c][0][i] = EXP[lc + LOG[i] as usize];
            t[c][1][i] = EXP[lc + LOG[i << 4] as usize];
            i += 1;
        }
        c += 1;
    }
    t
}

/// Product of `a` and `b` in GF(2^8) modulo `0x11d`.
#[inline]
pub fn gf_mul(a: u8, b: u8) -> u8 {
    MUL[a as usize][b as usize]
}

/// Multiplicative inverse of `a` in GF(2^8) modulo `0x11d`; `a` must be
/// nonzero (zero, which has no inverse, maps to zero).
#[inline]
pub fn gf_inv(a: u8) -> u8 {
    INV[a as usize]
}

/// The exponent e with g^e = `a` for the generator g = 2, in 0..255; `a`
/// must be nonzero (zero, which is no power of g, maps to 0).
#[inline]
pub fn gf_log(a: u8) -> u8 {
    LOG[a as usize]
}

/// g^e for the generator g = 2; `e` is taken modulo 255 (the order of g).
#[inline]
pub fn gf_exp(e: u32) -> u8 {
    EXP[(e % 255) as usize]
}

/// Coefficients (A, B) with Dx = A·p_delta ^ B·q_delta for two missing data
/// blocks at slots x and y.
///
/// With p_delta = Dx ^ Dy and q_delta = g^x·Dx ^ g^y·Dy, substituting
/// Dy = p_delta ^ Dx gives q_delta ^ g^y·p_delta = (g^x ^ g^y)·Dx, so
/// Dx = (g^y·p_delta ^ q_delta) / (g^x ^ g^y); dividing numerator and
/// denominator by g^x: A = g^(y-x) / (g^(y-x) ^ 1), B = g^(-x) / (g^(y-x) ^ 1).
/// When x ≡ y (mod 255) there is no solution and both coefficients are 0.
fn two_data_coeffs(x: u32, y: u32) -> (u8, u8) {
    let (x, y) = (x % 255, y % 255);
    let g_yx = gf_exp(y + 255 - x);
    let denom_inv = gf_inv(g_yx ^ 1);
    (gf_mul(g_yx, denom_inv), gf_mul(gf_exp(255 - x), denom_inv))
}

/// Coefficient g^-x that turns q_delta into the missing data block at slot x.
fn from_q_coeff(x: u32) -> u8 {
    gf_exp(255 - x % 255)
}

/// XOR loop over 32-byte chunks, written so the compiler vectorizes it; also
/// instantiated inside an AVX2 function on x86-64.
#[inline(always)]
fn xor_generic(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (a, b) in (&mut d).zip(&mut s) {
        for i in 0..32 {
            a[i] ^= b[i];
        }
    }
    for (a, b) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *a ^= *b;
    }
}

/// Portable implementations, always available: the reference the SIMD
/// kernels equal bit for bit, and the fallback on other targets.
pub mod scalar {
    use super::{from_q_coeff, two_data_coeffs, xor_generic, MUL};

    /// `dst ^= src`.
    pub fn xor_into(dst: &mut [u8], src: &[u8]) {
        debug_assert_eq!(dst.len(), src.len());
        xor_generic(dst, src);
    }

    /// `dst = c·src` in GF(2^8).
    pub fn mul_into(dst: &mut [u8], src: &[u8], c: u8) {
        debug_assert_eq!(dst.len(), src.len());
        let row = &MUL[c as usize];
        for (d, s) in dst.iter_mut().zip(src) {
            *d = row[*s as usize];
        }
    }

    /// `dst ^= c·src` in GF(2^8).
    pub fn mul_xor_into(dst: &mut [u8], src: &[u8], c: u8) {
        debug_assert_eq!(dst.len(), src.len());
        let row = &MUL[c as usize];
        for (d, s) in dst.iter_mut().zip(src) {
            *d ^= row[*s as usize];
        }
    }

    /// `buf = c·buf` in GF(2^8).
    pub fn mul_in_place(buf: &mut [u8], c: u8) {
        let row = &MUL[c as usize];
        for b in buf.iter_mut() {
            *b = row[*b as usize];
        }
    }

    /// Horner step for building a syndrome from the highest slot down:
    /// `q = g·q ^ d`.
    pub fn syndrome_step(q: &mut [u8], d: &[u8]) {
        debug_assert_eq!(q.len(), d.len());
        for (q, d) in q.iter_mut().zip(d) {
            // g·q: shift left, and reduce by 0x1d when the top bit falls out.
            *q = (*q << 1) ^ (((*q as i8) >> 7) as u8 & 0x1d) ^ *d;
        }
    }

    /// `q = g·q ^ d` and `p ^= d` in one pass.
    pub fn pq_step(q: &mut [u8], p: &mut [u8], d: &[u8]) {
        debug_assert_eq!(q.len(), d.len());
        debug_assert_eq!(p.len(), d.len());
        for ((q, p), d) in q.iter_mut().zip(p.iter_mut()).zip(d) {
            *q = (*q << 1) ^ (((*q as i8) >> 7) as u8 & 0x1d) ^ *d;
            *p ^= *d;
        }
    }

    /// Two missing data blocks at slots `x != y`: see
    /// [`super::recover_two_data`].
    pub fn recover_two_data(
        dx: &mut [u8],
        dy: &mut [u8],
        p_delta: &[u8],
        q_delta: &[u8],
        x: u32,
        y: u32,
    ) {
        debug_assert_ne!(
            x % 255,
            y % 255,
            "recover_two_data needs two distinct slots"
        );
        let (a, b) = two_data_coeffs(x, y);
        two_data_with(dx, dy, p_delta, q_delta, a, b);
    }

    /// Dx = a·p ^ b·q, Dy = p ^ Dx.
    pub(super) fn two_data_with(dx: &mut [u8], dy: &mut [u8], p: &[u8], q: &[u8], a: u8, b: u8) {
        debug_assert_eq!(dx.len(), p.len());
        debug_assert_eq!(dy.len(), p.len());
        debug_assert_eq!(q.len(), p.len());
        let (ra, rb) = (&MUL[a as usize], &MUL[b as usize]);
        for (((dx, dy), p), q) in dx.iter_mut().zip(dy.iter_mut()).zip(p).zip(q) {
            let v = ra[*p as usize] ^ rb[*q as usize];
            *dx = v;
            *dy = *p ^ v;
        }
    }

    /// One missing data block at slot `x`, rebuilt from Q alone: see
    /// [`super::recover_data_from_q`].
    pub fn recover_data_from_q(dx: &mut [u8], q_delta: &[u8], x: u32) {
        mul_into(dx, q_delta, from_q_coeff(x));
    }
}

/// An implementation; a SIMD variant is only ever constructed by
/// [`Kernel::detect`] or [`Kernel::available`], after runtime detection of
/// its CPU feature. The `unsafe` dispatch below relies on that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Ssse3,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The best kernel this CPU supports.
    #[inline]
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            // Both macros cache their answer; this is a load and a test.
            if std::arch::is_x86_feature_detected!("avx2") {
                return Kernel::Avx2;
            }
            if std::arch::is_x86_feature_detected!("ssse3") {
                return Kernel::Ssse3;
            }
        }
        Kernel::Scalar
    }

    /// Every kernel this CPU supports (for tests and comparisons).
    #[cfg(test)]
    fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut v = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("ssse3") {
                v.push(Kernel::Ssse3);
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                v.push(Kernel::Avx2);
            }
        }
        v
    }

    fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => "ssse3",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
        }
    }

    fn xor_into(self, dst: &mut [u8], src: &[u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::xor_into(dst, src) }
            }
            // SSE2, part of the x86-64 baseline, already vectorizes the
            // portable loop.
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => scalar::xor_into(dst, src),
            Kernel::Scalar => scalar::xor_into(dst, src),
        }
    }

    fn mul_into(self, dst: &mut [u8], src: &[u8], c: u8) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::mul_into(dst, src, c) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::mul_into(dst, src, c) }
            }
            Kernel::Scalar => scalar::mul_into(dst, src, c),
        }
    }

    fn mul_xor_into(self, dst: &mut [u8], src: &[u8], c: u8) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::mul_xor_into(dst, src, c) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::mul_xor_into(dst, src, c) }
            }
            Kernel::Scalar => scalar::mul_xor_into(dst, src, c),
        }
    }

    fn mul_in_place(self, buf: &mut [u8], c: u8) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::mul_in_place(buf, c) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::mul_in_place(buf, c) }
            }
            Kernel::Scalar => scalar::mul_in_place(buf, c),
        }
    }

    fn syndrome_step(self, q: &mut [u8], d: &[u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::syndrome_step(q, d) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::syndrome_step(q, d) }
            }
            Kernel::Scalar => scalar::syndrome_step(q, d),
        }
    }

    fn pq_step(self, q: &mut [u8], p: &mut [u8], d: &[u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::pq_step(q, p, d) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::pq_step(q, p, d) }
            }
            Kernel::Scalar => scalar::pq_step(q, p, d),
        }
    }

    fn two_data_with(self, dx: &mut [u8], dy: &mut [u8], p: &[u8], q: &[u8], a: u8, b: u8) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` exists only after AVX2 was detected.
                unsafe { x86::avx2::two_data_with(dx, dy, p, q, a, b) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Ssse3 => {
                // SAFETY: `Kernel::Ssse3` exists only after SSSE3 was detected.
                unsafe { x86::ssse3::two_data_with(dx, dy, p, q, a, b) }
            }
            Kernel::Scalar => scalar::two_data_with(dx, dy, p, q, a, b),
        }
    }

    fn recover_two_data(self, dx: &mut [u8], dy: &mut [u8], p: &[u8], q: &[u8], x: u32, y: u32) {
        debug_assert_ne!(
            x % 255,
            y % 255,
            "recover_two_data needs two distinct slots"
        );
        let (a, b) = two_data_coeffs(x, y);
        self.two_data_with(dx, dy, p, q, a, b);
    }

    fn recover_data_from_q(self, dx: &mut [u8], q_delta: &[u8], x: u32) {
        self.mul_into(dx, q_delta, from_q_coeff(x));
    }
}

/// Which implementation the runtime detection picked: `"avx2"`, `"ssse3"`
/// or `"scalar"`.
pub fn kernel_name() -> &'static str {
    Kernel::detect().name()
}

/// `dst ^= src`.
pub fn xor_into(dst: &mut [u8], src: &[u8]) {
    debug_assert_eq!(dst.len(), src.len());
    Kernel::detect().xor_into(dst, src);
}

/// `dst = c·src` in GF(2^8).
pub fn mul_into(dst: &mut [u8], src: &[u8], c: u8) {
    debug_assert_eq!(dst.len(), src.len());
    match c {
        0 => dst.iter_mut().for_each(|d| *d = 0),
        1 => {
            let n = dst.len().min(src.len());
            dst[..n].copy_from_slice(&src[..n]);
        }
        _ => Kernel::detect().mul_into(dst, src, c),
    }
}

/// `dst ^= c·src` in GF(2^8).
pub fn mul_xor_into(dst: &mut [u8], src: &[u8], c: u8) {
    debug_assert_eq!(dst.len(), src.len());
    match c {
        0 => {}
        1 => xor_into(dst, src),
        _ => Kernel::detect().mul_xor_into(dst, src, c),
    }
}

/// `buf = c·buf` in GF(2^8).
pub fn mul_in_place(buf: &mut [u8], c: u8) {
    match c {
        0 => buf.fill(0),
        1 => {}
        _ => Kernel::detect().mul_in_place(buf, c),
    }
}

/// Horner step for building a syndrome from the highest slot down:
/// `q = g·q ^ d`.
///
/// Starting from a zeroed `q` and stepping with the data blocks of slots
/// n-1, n-2, …, 0 leaves Q = XOR of g^slot·D_slot.
pub fn syndrome_step(q: &mut [u8], d: &[u8]) {
    debug_assert_eq!(q.len(), d.len());
    Kernel::detect().syndrome_step(q, d);
}

/// One data block of a stripe into both syndromes at once, for a check
/// that reads each block once: `q = g·q ^ d` (a [`syndrome_step`]) and
/// `p ^= d`.
pub fn pq_step(q: &mut [u8], p: &mut [u8], d: &[u8]) {
    debug_assert_eq!(q.len(), d.len());
    debug_assert_eq!(p.len(), d.len());
    Kernel::detect().pq_step(q, p, d);
}

/// Two missing data blocks at slots `x != y` (modulo 255). `p_delta` = P ^
/// (XOR of every present data block); `q_delta` = Q ^ (syndrome of every
/// present data block, i.e. XOR of g^slot·D). Writes Dx and Dy.
///
/// Dx = A·p_delta ^ B·q_delta with A = g^(y-x) / (g^(y-x) ^ 1) and
/// B = g^(-x) / (g^(y-x) ^ 1); Dy = p_delta ^ Dx. Both are produced in one
/// pass. Equal slots have no solution: Dx is then zero and Dy = p_delta.
pub fn recover_two_data(
    dx: &mut [u8],
    dy: &mut [u8],
    p_delta: &[u8],
    q_delta: &[u8],
    x: u32,
    y: u32,
) {
    debug_assert_eq!(dx.len(), p_delta.len());
    debug_assert_eq!(dy.len(), p_delta.len());
    debug_assert_eq!(q_delta.len(), p_delta.len());
    Kernel::detect().recover_two_data(dx, dy, p_delta, q_delta, x, y);
}

/// One missing data block at slot `x`, rebuilt from Q alone (P also
/// missing): Dx = g^-x · q_delta, where `q_delta` = Q ^ (syndrome of every
/// present data block).
pub fn recover_data_from_q(dx: &mut [u8], q_delta: &[u8], x: u32) {
    debug_assert_eq!(dx.len(), q_delta.len());
    Kernel::detect().recover_data_from_q(dx, q_delta, x);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! x86-64 kernels. Each function processes the longest prefix that is a
    //! whole number of vectors and hands the tail to [`super::scalar`]. All
    //! accesses are unaligned loads and stores at offsets `i` with
    //! `i + W <= body <= n`, where `n` is the shortest slice's length.

    pub(super) mod avx2 {
        use core::arch::x86_64::*;

        use super::super::{scalar, xor_generic, NIB};

        const W: usize = 32;

        /// Broadcast the two nibble tables of constant `$c` to both lanes.
        macro_rules! tables {
            ($c:expr) => {{
                let t = &NIB[$c as usize];
                (
                    _mm256_broadcastsi128_si256(_mm_loadu_si128(t[0].as_ptr().cast())),
                    _mm256_broadcastsi128_si256(_mm_loadu_si128(t[1].as_ptr().cast())),
                )
            }};
        }

        /// c·x with the nibble tables `($lo, $hi)` and the 0x0f mask `$m`.
        macro_rules! mul {
            ($x:expr, $t:expr, $m:expr) => {{
                let x = $x;
                _mm256_xor_si256(
                    _mm256_shuffle_epi8($t.0, _mm256_and_si256(x, $m)),
                    _mm256_shuffle_epi8($t.1, _mm256_and_si256(_mm256_srli_epi64(x, 4), $m)),
                )
            }};
        }

        /// `dst ^= src`, the portable loop compiled with AVX2.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn xor_into(dst: &mut [u8], src: &[u8]) {
            xor_generic(dst, src);
        }

        /// `dst = c·src`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn mul_into(dst: &mut [u8], src: &[u8], c: u8) {
            let n = dst.len().min(src.len());
            let body = n - n % W;
            let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside both slices.
            unsafe {
                let t = tables!(c);
                let m = _mm256_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm256_loadu_si256(s.add(i).cast());
                    _mm256_storeu_si256(d.add(i).cast(), mul!(x, t, m));
                    i += W;
                }
            }
            scalar::mul_into(&mut dst[body..n], &src[body..n], c);
        }

        /// `dst ^= c·src`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn mul_xor_into(dst: &mut [u8], src: &[u8], c: u8) {
            let n = dst.len().min(src.len());
            let body = n - n % W;
            let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside both slices.
            unsafe {
                let t = tables!(c);
                let m = _mm256_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm256_loadu_si256(s.add(i).cast());
                    let y = _mm256_loadu_si256(d.add(i).cast::<__m256i>());
                    _mm256_storeu_si256(d.add(i).cast(), _mm256_xor_si256(y, mul!(x, t, m)));
                    i += W;
                }
            }
            scalar::mul_xor_into(&mut dst[body..n], &src[body..n], c);
        }

        /// `buf = c·buf`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn mul_in_place(buf: &mut [u8], c: u8) {
            let n = buf.len();
            let body = n - n % W;
            let p = buf.as_mut_ptr();
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside the slice.
            unsafe {
                let t = tables!(c);
                let m = _mm256_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm256_loadu_si256(p.add(i).cast::<__m256i>());
                    _mm256_storeu_si256(p.add(i).cast(), mul!(x, t, m));
                    i += W;
                }
            }
            scalar::mul_in_place(&mut buf[body..n], c);
        }

        /// `q = g·q ^ d`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn syndrome_step(q: &mut [u8], d: &[u8]) {
            let n = q.len().min(d.len());
            let body = n - n % W;
            let (qp, dp) = (q.as_mut_ptr(), d.as_ptr());
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside both slices.
            unsafe {
                let zero = _mm256_setzero_si256();
                let poly = _mm256_set1_epi8(0x1d);
                let mut i = 0;
                while i < body {
                    let v = _mm256_loadu_si256(qp.add(i).cast::<__m256i>());
                    let x = _mm256_loadu_si256(dp.add(i).cast());
                    // Bytes whose top bit is set (negative as i8) need the
                    // reduction after the shift.
                    let carry = _mm256_and_si256(_mm256_cmpgt_epi8(zero, v), poly);
                    let v2 = _mm256_xor_si256(_mm256_add_epi8(v, v), carry);
                    _mm256_storeu_si256(qp.add(i).cast(), _mm256_xor_si256(v2, x));
                    i += W;
                }
            }
            scalar::syndrome_step(&mut q[body..n], &d[body..n]);
        }

        /// `q = g·q ^ d`, `p ^= d`.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn pq_step(q: &mut [u8], p: &mut [u8], d: &[u8]) {
            let n = q.len().min(p.len()).min(d.len());
            let body = n - n % W;
            let (qp, pp, dp) = (q.as_mut_ptr(), p.as_mut_ptr(), d.as_ptr());
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside all three slices.
            unsafe {
                let zero = _mm256_setzero_si256();
                let poly = _mm256_set1_epi8(0x1d);
                let mut i = 0;
                while i < body {
                    let v = _mm256_loadu_si256(qp.add(i).cast::<__m256i>());
                    let x = _mm256_loadu_si256(dp.add(i).cast());
                    let y = _mm256_loadu_si256(pp.add(i).cast::<__m256i>());
                    let carry = _mm256_and_si256(_mm256_cmpgt_epi8(zero, v), poly);
                    let v2 = _mm256_xor_si256(_mm256_add_epi8(v, v), carry);
                    _mm256_storeu_si256(qp.add(i).cast(), _mm256_xor_si256(v2, x));
                    _mm256_storeu_si256(pp.add(i).cast(), _mm256_xor_si256(y, x));
                    i += W;
                }
            }
            scalar::pq_step(&mut q[body..n], &mut p[body..n], &d[body..n]);
        }

        /// `dx = a·p ^ b·q`, `dy = p ^ dx`, in one pass.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn two_data_with(
            dx: &mut [u8],
            dy: &mut [u8],
            p: &[u8],
            q: &[u8],
            a: u8,
            b: u8,
        ) {
            let n = dx.len().min(dy.len()).min(p.len()).min(q.len());
            let body = n - n % W;
            let (xp, yp, pp, qp) = (dx.as_mut_ptr(), dy.as_mut_ptr(), p.as_ptr(), q.as_ptr());
            // SAFETY: the caller detected AVX2; every access is W bytes at
            // offset i with i + W <= body <= n, inside all four slices.
            unsafe {
                let ta = tables!(a);
                let tb = tables!(b);
                let m = _mm256_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let pv = _mm256_loadu_si256(pp.add(i).cast());
                    let qv = _mm256_loadu_si256(qp.add(i).cast());
                    let x = _mm256_xor_si256(mul!(pv, ta, m), mul!(qv, tb, m));
                    _mm256_storeu_si256(xp.add(i).cast(), x);
                    _mm256_storeu_si256(yp.add(i).cast(), _mm256_xor_si256(pv, x));
                    i += W;
                }
            }
            scalar::two_data_with(
                &mut dx[body..n],
                &mut dy[body..n],
                &p[body..n],
                &q[body..n],
                a,
                b,
            );
        }
    }

    pub(super) mod ssse3 {
        use core::arch::x86_64::*;

        use super::super::{scalar, NIB};

        const W: usize = 16;

        /// Load the two nibble tables of constant `$c`.
        macro_rules! tables {
            ($c:expr) => {{
                let t = &NIB[$c as usize];
                (
                    _mm_loadu_si128(t[0].as_ptr().cast()),
                    _mm_loadu_si128(t[1].as_ptr().cast()),
                )
            }};
        }

        /// c·x with the nibble tables `$t` and the 0x0f mask `$m`.
        macro_rules! mul {
            ($x:expr, $t:expr, $m:expr) => {{
                let x = $x;
                _mm_xor_si128(
                    _mm_shuffle_epi8($t.0, _mm_and_si128(x, $m)),
                    _mm_shuffle_epi8($t.1, _mm_and_si128(_mm_srli_epi64(x, 4), $m)),
                )
            }};
        }

        /// `dst = c·src`.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn mul_into(dst: &mut [u8], src: &[u8], c: u8) {
            let n = dst.len().min(src.len());
            let body = n - n % W;
            let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
            // SAFETY: the caller detected SSSE3; every access is W bytes at
            // offset i with i + W <= body <= n, inside both slices.
            unsafe {
                let t = tables!(c);
                let m = _mm_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm_loadu_si128(s.add(i).cast());
                    _mm_storeu_si128(d.add(i).cast(), mul!(x, t, m));
                    i += W;
                }
            }
            scalar::mul_into(&mut dst[body..n], &src[body..n], c);
        }

        /// `dst ^= c·src`.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn mul_xor_into(dst: &mut [u8], src: &[u8], c: u8) {
            let n = dst.len().min(src.len());
            let body = n - n % W;
            let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
            // SAFETY: the caller detected SSSE3; every access is W bytes at
            // offset i with i + W <= body <= n, inside both slices.
            unsafe {
                let t = tables!(c);
                let m = _mm_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm_loadu_si128(s.add(i).cast());
                    let y = _mm_loadu_si128(d.add(i).cast::<__m128i>());
                    _mm_storeu_si128(d.add(i).cast(), _mm_xor_si128(y, mul!(x, t, m)));
                    i += W;
                }
            }
            scalar::mul_xor_into(&mut dst[body..n], &src[body..n], c);
        }

        /// `buf = c·buf`.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn mul_in_place(buf: &mut [u8], c: u8) {
            let n = buf.len();
            let body = n - n % W;
            let p = buf.as_mut_ptr();
            // SAFETY: the caller detected SSSE3; every access is W bytes at
            // offset i with i + W <= body <= n, inside the slice.
            unsafe {
                let t = tables!(c);
                let m = _mm_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let x = _mm_loadu_si128(p.add(i).cast::<__m128i>());
                    _mm_storeu_si128(p.add(i).cast(), mul!(x, t, m));
                    i += W;
                }
            }
            scalar::mul_in_place(&mut buf[body..n], c);
        }

        /// `q = g·q ^ d`.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn syndrome_step(q: &mut [u8], d: &[u8]) {
            let n = q.len().min(d.len());
            let body = n - n % W;
            let (qp, dp) = (q.as_mut_ptr(), d.as_ptr());
            // SAFETY: the caller detected SSSE3 (which includes the SSE2
            // used here); every access is W bytes at offset i with
            // i + W <= body <= n, inside both slices.
            unsafe {
                let zero = _mm_setzero_si128();
                let poly = _mm_set1_epi8(0x1d);
                let mut i = 0;
                while i < body {
                    let v = _mm_loadu_si128(qp.add(i).cast::<__m128i>());
                    let x = _mm_loadu_si128(dp.add(i).cast());
                    let carry = _mm_and_si128(_mm_cmpgt_epi8(zero, v), poly);
                    let v2 = _mm_xor_si128(_mm_add_epi8(v, v), carry);
                    _mm_storeu_si128(qp.add(i).cast(), _mm_xor_si128(v2, x));
                    i += W;
                }
            }
            scalar::syndrome_step(&mut q[body..n], &d[body..n]);
        }

        /// `q = g·q ^ d`, `p ^= d`.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn pq_step(q: &mut [u8], p: &mut [u8], d: &[u8]) {
            let n = q.len().min(p.len()).min(d.len());
            let body = n - n % W;
            let (qp, pp, dp) = (q.as_mut_ptr(), p.as_mut_ptr(), d.as_ptr());
            // SAFETY: the caller detected SSSE3 (which includes the SSE2
            // used here); every access is W bytes at offset i with
            // i + W <= body <= n, inside all three slices.
            unsafe {
                let zero = _mm_setzero_si128();
                let poly = _mm_set1_epi8(0x1d);
                let mut i = 0;
                while i < body {
                    let v = _mm_loadu_si128(qp.add(i).cast::<__m128i>());
                    let x = _mm_loadu_si128(dp.add(i).cast());
                    let y = _mm_loadu_si128(pp.add(i).cast::<__m128i>());
                    let carry = _mm_and_si128(_mm_cmpgt_epi8(zero, v), poly);
                    let v2 = _mm_xor_si128(_mm_add_epi8(v, v), carry);
                    _mm_storeu_si128(qp.add(i).cast(), _mm_xor_si128(v2, x));
                    _mm_storeu_si128(pp.add(i).cast(), _mm_xor_si128(y, x));
                    i += W;
                }
            }
            scalar::pq_step(&mut q[body..n], &mut p[body..n], &d[body..n]);
        }

        /// `dx = a·p ^ b·q`, `dy = p ^ dx`, in one pass.
        ///
        /// # Safety
        /// The CPU must support SSSE3.
        #[target_feature(enable = "ssse3")]
        pub(crate) unsafe fn two_data_with(
            dx: &mut [u8],
            dy: &mut [u8],
            p: &[u8],
            q: &[u8],
            a: u8,
            b: u8,
        ) {
            let n = dx.len().min(dy.len()).min(p.len()).min(q.len());
            let body = n - n % W;
            let (xp, yp, pp, qp) = (dx.as_mut_ptr(), dy.as_mut_ptr(), p.as_ptr(), q.as_ptr());
            // SAFETY: the caller detected SSSE3; every access is W bytes at
            // offset i with i + W <= body <= n, inside all four slices.
            unsafe {
                let ta = tables!(a);
                let tb = tables!(b);
                let m = _mm_set1_epi8(0x0f);
                let mut i = 0;
                while i < body {
                    let pv = _mm_loadu_si128(pp.add(i).cast());
                    let qv = _mm_loadu_si128(qp.add(i).cast());
                    let x = _mm_xor_si128(mul!(pv, ta, m), mul!(qv, tb, m));
                    _mm_storeu_si128(xp.add(i).cast(), x);
                    _mm_storeu_si128(yp.add(i).cast(), _mm_xor_si128(pv, x));
                    i += W;
                }
            }
            scalar::two_data_with(
                &mut dx[body..n],
                &mut dy[body..n],
                &p[body..n],
                &q[body..n],
                a,
                b,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Carry-less product of two bytes, then reduction of bits 14..8 by
    /// 0x11d: the textbook definition, independent of the tables.
    fn ref_mul(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for i in 0..8 {
            if b >> i & 1 != 0 {
                p ^= (a as u16) << i;
            }
        }
        for bit in (8..15).rev() {
            if p >> bit & 1 != 0 {
                p ^= 0x11d << (bit - 8);
            }
        }
        p as u8
    }

    #[test]
    fn mul_matches_reference_for_all_pairs() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), ref_mul(a, b), "{a:#x}·{b:#x}");
            }
        }
    }

    #[test]
    fn known_products() {
        assert_eq!(gf_mul(0x53, 0xca), ref_mul(0x53, 0xca));
        // Worked by hand from the bitwise definition above (and by an
        // independent script): 0x53·0xCA = 0x8F under 0x11d (it is 0x01
        // under AES's 0x11b, which is why it is a useful check).
        assert_eq!(gf_mul(0x53, 0xca), 0x8f);
        assert_eq!(gf_mul(2, 0x80), 0x1d);
        assert_eq!(gf_mul(0x80, 0x80), 0x13);
        assert_eq!(gf_mul(0, 0x77), 0);
        assert_eq!(gf_mul(1, 0x77), 0x77);
    }

    #[test]
    fn field_axioms() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), gf_mul(b, a));
                let ab = gf_mul(a, b);
                for c in 0..=255u8 {
                    assert_eq!(gf_mul(ab, c), gf_mul(a, gf_mul(b, c)));
                    assert_eq!(gf_mul(a, b ^ c), ab ^ gf_mul(a, c));
                }
            }
        }
    }

    #[test]
    fn inverses() {
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inv(a)), 1, "{a:#x}");
        }
        assert_eq!(gf_inv(1), 1);
        assert_eq!(gf_inv(0), 0);
    }

    #[test]
    fn generator_has_order_255() {
        let mut seen = [false; 256];
        let mut x = 1u8;
        for e in 0..255u32 {
            assert_eq!(gf_exp(e), x);
            assert!(e == 0 || x != 1, "g^{e} = 1");
            assert!(!seen[x as usize]);
            seen[x as usize] = true;
            x = ref_mul(x, 2);
        }
        assert_eq!(x, 1);
        assert!(!seen[0]);
        assert_eq!(gf_exp(255), 1);
        assert_eq!(gf_exp(256), 2);
        assert_eq!(gf_exp(u32::MAX), gf_exp(u32::MAX % 255));
        for e in 0..1000u32 {
            assert_eq!(gf_mul(gf_exp(e), gf_exp(255 - e % 255)), 1);
        }
    }

    /// Dx·g^x ^ Dy·g^y and Dx ^ Dy, one byte each, straight from the
    /// definition; the coefficients must recover (Dx, Dy).
    #[test]
    fn two_data_coefficients_brute_force() {
        let samples = [
            (0u8, 0u8),
            (1, 0),
            (0, 1),
            (0x53, 0xca),
            (0xff, 0x80),
            (0x12, 0x12),
        ];
        for x in 0..255u32 {
            for y in 0..255u32 {
                if x == y {
                    continue;
                }
                let (a, b) = two_data_coeffs(x, y);
                let inv_gx = from_q_coeff(x);
                for &(dx, dy) in &samples {
                    let p = dx ^ dy;
                    let q = ref_mul(gf_exp(x), dx) ^ ref_mul(gf_exp(y), dy);
                    let rx = ref_mul(a, p) ^ ref_mul(b, q);
                    assert_eq!((rx, p ^ rx), (dx, dy), "slots {x},{y}");
                    // Data + P lost: with Dy known, q ^ g^y·Dy = g^x·Dx.
                    assert_eq!(ref_mul(inv_gx, q ^ ref_mul(gf_exp(y), dy)), dx);
                }
            }
        }
        // Every pair of bytes for a few slot pairs, including slots past
        // 255 (reduced mod 255) and the reversed order.
        for (x, y) in [(0u32, 1u32), (1, 0), (3, 200), (254, 7), (300, 301)] {
            let (a, b) = two_data_coeffs(x, y);
            for dx in 0..=255u8 {
                for dy in 0..=255u8 {
                    let p = dx ^ dy;
                    let q = ref_mul(gf_exp(x), dx) ^ ref_mul(gf_exp(y), dy);
                    assert_eq!(ref_mul(a, p) ^ ref_mul(b, q), dx);
                }
            }
        }
    }

    #[test]
    fn equal_slots_do_not_panic_in_release_semantics() {
        assert_eq!(two_data_coeffs(4, 4 + 255), (0, 0));
    }

    #[test]
    fn kernel_name_is_known() {
        assert!(["avx2", "ssse3", "scalar"].contains(&kernel_name()));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert_eq!(kernel_name(), "avx2");
        }
    }

    /// Random length 0..5000, a random start offset (to test unaligned
    /// buffers), four random buffers of that length, a constant, two slots.
    fn inputs() -> impl Strategy<Value = (Vec<Vec<u8>>, u8, u32, u32)> {
        (0usize..5000, 0usize..33)
            .prop_flat_map(|(n, off)| {
                (
                    proptest::collection::vec(proptest::collection::vec(any::<u8>(), n + off), 4),
                    Just(off),
                    any::<u8>(),
                    0u32..600,
                    0u32..600,
                )
            })
            .prop_map(|(mut v, off, c, x, y)| {
                for b in &mut v {
                    b.drain(..off);
                }
                (v, c, x, y)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn simd_equals_scalar((bufs, c, x, y) in inputs()) {
            let (a, b, p, q) = (&bufs[0], &bufs[1], &bufs[2], &bufs[3]);
            let n = a.len();
            let y = if x % 255 == y % 255 { y + 1 } else { y };

            let mut want = a.clone();
            scalar::xor_into(&mut want, b);
            let mut want_mul = vec![0u8; n];
            scalar::mul_into(&mut want_mul, b, c);
            let mut want_mx = a.clone();
            scalar::mul_xor_into(&mut want_mx, b, c);
            let mut want_mip = a.clone();
            scalar::mul_in_place(&mut want_mip, c);
            let mut want_syn = a.clone();
            scalar::syndrome_step(&mut want_syn, b);
            let (mut want_dx, mut want_dy) = (vec![0u8; n], vec![0u8; n]);
            scalar::recover_two_data(&mut want_dx, &mut want_dy, p, q, x, y);
            let mut want_fq = vec![0u8; n];
            scalar::recover_data_from_q(&mut want_fq, q, x);

            // Every kernel this CPU has, called explicitly, then the public
            // dispatching functions.
            for k in Kernel::available() {
                let mut got = a.clone();
                k.xor_into(&mut got, b);
                prop_assert_eq!(&got, &want, "{} xor_into", k.name());
                let mut got = vec![0x5au8; n];
                k.mul_into(&mut got, b, c);
                prop_assert_eq!(&got, &want_mul, "{} mul_into", k.name());
                let mut got = a.clone();
                k.mul_xor_into(&mut got, b, c);
                prop_assert_eq!(&got, &want_mx, "{} mul_xor_into", k.name());
                // pq_step is syndrome_step on q and xor_into on p.
                let (mut gq, mut gp) = (a.clone(), p.clone());
                k.pq_step(&mut gq, &mut gp, b);
                prop_assert_eq!(&gq, &want_syn, "{} pq_step q", k.name());
                let mut wp = p.clone();
                scalar::xor_into(&mut wp, b);
                prop_assert_eq!(&gp, &wp, "{} pq_step p", k.name());
                let mut got = a.clone();
                k.mul_in_place(&mut got, c);
                prop_assert_eq!(&got, &want_mip, "{} mul_in_place", k.name());
                let mut got = a.clone();
                k.syndrome_step(&mut got, b);
                prop_assert_eq!(&got, &want_syn, "{} syndrome_step", k.name());
                let (mut dx, mut dy) = (vec![1u8; n], vec![2u8; n]);
                k.recover_two_data(&mut dx, &mut dy, p, q, x, y);
                prop_assert_eq!(&dx, &want_dx, "{} recover_two_data dx", k.name());
                prop_assert_eq!(&dy, &want_dy, "{} recover_two_data dy", k.name());
                let mut got = vec![3u8; n];
                k.recover_data_from_q(&mut got, q, x);
                prop_assert_eq!(&got, &want_fq, "{} recover_data_from_q", k.name());
            }

            let mut got = a.clone();
            xor_into(&mut got, b);
            prop_assert_eq!(&got, &want);
            for c in [c, 0, 1] {
                let mut want_mul = vec![0u8; n];
                scalar::mul_into(&mut want_mul, b, c);
                let mut got = vec![0x5au8; n];
                mul_into(&mut got, b, c);
                prop_assert_eq!(&got, &want_mul);
                let mut want_mx = a.clone();
                scalar::mul_xor_into(&mut want_mx, b, c);
                let mut got = a.clone();
                mul_xor_into(&mut got, b, c);
                prop_assert_eq!(&got, &want_mx);
                let mut want_mip = a.clone();
                scalar::mul_in_place(&mut want_mip, c);
                let mut got = a.clone();
                mul_in_place(&mut got, c);
                prop_assert_eq!(&got, &want_mip);
            }
            let mut got = a.clone();
            syndrome_step(&mut got, b);
            prop_assert_eq!(&got, &want_syn);
            let (mut dx, mut dy) = (vec![1u8; n], vec![2u8; n]);
            recover_two_data(&mut dx, &mut dy, p, q, x, y);
            prop_assert_eq!(&dx, &want_dx);
            prop_assert_eq!(&dy, &want_dy);
            let mut got = vec![3u8; n];
            recover_data_from_q(&mut got, q, x);
            prop_assert_eq!(&got, &want_fq);
        }
    }

    /// k data blocks of `len` bytes at the given slots, with P and Q from
    /// the definition (Q = XOR of g^slot·D_slot, bytewise reference).
    fn stripe(data: &[Vec<u8>], slots: &[u32]) -> (Vec<u8>, Vec<u8>) {
        let len = data[0].len();
        let (mut p, mut q) = (vec![0u8; len], vec![0u8; len]);
        for (d, &s) in data.iter().zip(slots) {
            let g = gf_exp(s);
            for i in 0..len {
                p[i] ^= d[i];
                q[i] ^= ref_mul(g, d[i]);
            }
        }
        (p, q)
    }

    fn stripes() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u32>)> {
        (2usize..12, 0usize..700, any::<bool>()).prop_flat_map(|(k, len, spread)| {
            let data = proptest::collection::vec(proptest::collection::vec(any::<u8>(), len), k);
            // Either slots 0..k, or k distinct slots anywhere in 0..255.
            let slots = if spread {
                proptest::sample::subsequence((0u32..255).collect::<Vec<_>>(), k)
                    .prop_shuffle()
                    .boxed()
            } else {
                Just((0..k as u32).collect::<Vec<_>>()).boxed()
            };
            (data, slots)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn recovery_round_trip((data, slots) in stripes()) {
            let k = data.len();
            let len = data[0].len();
            let (p, q) = stripe(&data, &slots);

            // The Horner syndrome (highest slot first, zero blocks for the
            // absent slots) equals the definition, with both the
            // dispatching and the scalar step.
            let top = *slots.iter().max().unwrap();
            let (mut hq, mut sq) = (vec![0u8; len], vec![0u8; len]);
            let zero = vec![0u8; len];
            for s in (0..=top).rev() {
                let d = slots.iter().position(|&t| t == s).map_or(&zero, |i| &data[i]);
                syndrome_step(&mut hq, d);
                scalar::syndrome_step(&mut sq, d);
            }
            prop_assert_eq!(&hq, &q);
            prop_assert_eq!(&sq, &q);

            for i in 0..k {
                for j in 0..k {
                    if i == j {
                        continue;
                    }
                    let mut pd = p.clone();
                    let mut qd = q.clone();
                    for (m, d) in data.iter().enumerate() {
                        if m != i && m != j {
                            xor_into(&mut pd, d);
                            mul_xor_into(&mut qd, d, gf_exp(slots[m]));
                        }
                    }
                    let (mut dx, mut dy) = (vec![0u8; len], vec![0u8; len]);
                    recover_two_data(&mut dx, &mut dy, &pd, &qd, slots[i], slots[j]);
                    prop_assert_eq!(&dx, &data[i]);
                    prop_assert_eq!(&dy, &data[j]);
                    let (mut sx, mut sy) = (vec![0u8; len], vec![0u8; len]);
                    scalar::recover_two_data(&mut sx, &mut sy, &pd, &qd, slots[i], slots[j]);
                    prop_assert_eq!(&sx, &data[i]);
                    prop_assert_eq!(&sy, &data[j]);
                }

                // Data block i and P lost: Q alone.
                let mut qd = q.clone();
                for (m, d) in data.iter().enumerate() {
                    if m != i {
                        scalar::mul_xor_into(&mut qd, d, gf_exp(slots[m]));
                    }
                }
                let mut dx = vec![0u8; len];
                recover_data_from_q(&mut dx, &qd, slots[i]);
                prop_assert_eq!(&dx, &data[i]);
                let mut sx = vec![0u8; len];
                scalar::recover_data_from_q(&mut sx, &qd, slots[i]);
                prop_assert_eq!(&sx, &data[i]);
            }
        }
    }
}
