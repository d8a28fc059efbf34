//! The deep scan's scanner: every sector of the 1 GiB GPT image made by the
//! real tools (28 partitions of every filesystem recover identifies),
//! mapped, on one thread and on all; jumping past found filesystems; and
//! over 256 MiB of random bytes in memory (the per-sector dispatch alone,
//! no page cache behind it).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recover_core::io::{open_source, MapPolicy, MemVolume, VolumeRef};
use recover_core::scan::{scan, Finding, ScanOptions};

fn run(vol: &VolumeRef, opts: &ScanOptions, threads: usize) -> usize {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut found: Vec<Finding> = Vec::new();
    pool.install(|| scan(vol, opts, &mut found)).unwrap();
    found.len()
}

fn bench(c: &mut Criterion) {
    let all = rayon::current_num_threads();
    let fx = fixtures::gpt_1g();
    let src = open_source(&fx.path, MapPolicy::Auto).unwrap();
    let vol = src.volume.clone();
    let mut g = c.benchmark_group("deep_scan_1GiB_gpt");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(vol.len()));
    g.bench_function("thorough_1_thread", |b| {
        b.iter(|| run(&vol, &ScanOptions::default(), 1))
    });
    g.bench_function(format!("thorough_{all}_threads"), |b| {
        b.iter(|| run(&vol, &ScanOptions::default(), all))
    });
    g.bench_function(format!("skipping_{all}_threads"), |b| {
        b.iter(|| run(&vol, &ScanOptions::skipping(), all))
    });
    g.finish();

    // xorshift: random bytes hold a magic now and then, as real data does.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..256usize << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mem: VolumeRef = Arc::new(MemVolume::new("random", data));
    let mut g = c.benchmark_group("deep_scan_256MiB_random_in_memory");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(mem.len()));
    g.bench_function("1_thread", |b| {
        b.iter(|| run(&mem, &ScanOptions::default(), 1))
    });
    g.bench_function(format!("{all}_threads"), |b| {
        b.iter(|| run(&mem, &ScanOptions::default(), all))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
