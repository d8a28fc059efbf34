//! RAID parity kernels on 1 MiB buffers: the implementation picked at run
//! time (`parity::kernel_name()`) against the portable `parity::scalar` one.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recover_core::raid::parity;

const LEN: usize = 1 << 20;

/// Deterministic pseudo-random bytes (xorshift64).
fn noise(seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..LEN)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

type Xor = fn(&mut [u8], &[u8]);
type MulXor = fn(&mut [u8], &[u8], u8);
type Step = fn(&mut [u8], &[u8]);
type TwoData = fn(&mut [u8], &mut [u8], &[u8], &[u8], u32, u32);
type FromQ = fn(&mut [u8], &[u8], u32);

struct Kernels {
    name: &'static str,
    xor_into: Xor,
    mul_xor_into: MulXor,
    syndrome_step: Step,
    recover_two_data: TwoData,
    recover_data_from_q: FromQ,
}

fn bench(c: &mut Criterion) {
    let detected = Kernels {
        name: parity::kernel_name(),
        xor_into: parity::xor_into,
        mul_xor_into: parity::mul_xor_into,
        syndrome_step: parity::syndrome_step,
        recover_two_data: parity::recover_two_data,
        recover_data_from_q: parity::recover_data_from_q,
    };
    let scalar = Kernels {
        name: "scalar",
        xor_into: parity::scalar::xor_into,
        mul_xor_into: parity::scalar::mul_xor_into,
        syndrome_step: parity::scalar::syndrome_step,
        recover_two_data: parity::scalar::recover_two_data,
        recover_data_from_q: parity::scalar::recover_data_from_q,
    };
    let mut kernels = vec![detected];
    if kernels[0].name != "scalar" {
        kernels.push(scalar);
    }

    let (a, b) = (noise(1), noise(2));
    let (mut dst, mut dx, mut dy) = (noise(3), vec![0u8; LEN], vec![0u8; LEN]);

    let mut g = c.benchmark_group("parity_1MiB");
    for k in &kernels {
        g.throughput(Throughput::Bytes(LEN as u64));
        g.bench_function(BenchmarkId::new("xor_into", k.name), |bch| {
            bch.iter(|| (k.xor_into)(&mut dst, &a))
        });
        g.bench_function(BenchmarkId::new("mul_xor_into", k.name), |bch| {
            bch.iter(|| (k.mul_xor_into)(&mut dst, &a, 0x8e))
        });
        g.bench_function(BenchmarkId::new("syndrome_step", k.name), |bch| {
            bch.iter(|| (k.syndrome_step)(&mut dst, &a))
        });
        g.bench_function(BenchmarkId::new("recover_data_from_q", k.name), |bch| {
            bch.iter(|| (k.recover_data_from_q)(&mut dx, &a, 5))
        });
        // Two blocks come out of one pass.
        g.throughput(Throughput::Bytes(2 * LEN as u64));
        g.bench_function(BenchmarkId::new("recover_two_data", k.name), |bch| {
            bch.iter(|| (k.recover_two_data)(&mut dx, &mut dy, &a, &b, 2, 7))
        });
    }
    g.finish();
    std::hint::black_box((&dst, &dx, &dy));
}

criterion_group!(benches, bench);
criterion_main!(benches);
