//! Array read throughput, through `ArrayVolume`, against plain reading of
//! the surviving members (page cache): RAID5 complete and with one member
//! missing, RAID6 with two missing. 64 MiB members, 64 KiB chunks.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recover_benches::array as make_array;
use recover_benches::{bench_dir, synthetic_members};
use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};
use recover_core::raid::map::ParityAlgo;
use recover_core::raid::metadata::Level;

const CHUNK: usize = 64 << 10;
const BLOCK: usize = 8 << 20;

fn read_all(v: &dyn Volume, buf: &mut [u8]) {
    let mut at = 0u64;
    while at < v.len() {
        let n = (v.len() - at).min(BLOCK as u64) as usize;
        v.read_at(at, &mut buf[..n]).unwrap();
        at += n as u64;
    }
}

fn bench(c: &mut Criterion) {
    let dir = bench_dir();
    let open = |ps: Vec<std::path::PathBuf>| -> Vec<VolumeRef> {
        ps.iter()
            .map(|p| open_source(p, MapPolicy::Auto).unwrap().volume)
            .collect()
    };
    let v5 = open(synthetic_members(
        &dir,
        5,
        5,
        CHUNK,
        64,
        ParityAlgo::LeftSymmetric,
    ));
    let v6 = open(synthetic_members(
        &dir,
        6,
        6,
        CHUNK,
        64,
        ParityAlgo::LeftSymmetric,
    ));
    let mut buf = vec![0u8; BLOCK];
    let mut g = c.benchmark_group("raid_read");
    g.sample_size(10);
    let bytes = 4 * (64u64 << 20);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("plain_4_members", |b| {
        b.iter(|| v5[1..].iter().for_each(|v| read_all(v.as_ref(), &mut buf)))
    });
    let complete = make_array(Level::Raid5, &v5, &[], CHUNK as u64);
    g.bench_function("raid5_complete", |b| {
        b.iter(|| read_all(&complete, &mut buf))
    });
    let deg5 = make_array(Level::Raid5, &v5, &[1], CHUNK as u64);
    g.bench_function("raid5_one_missing", |b| {
        b.iter(|| read_all(&deg5, &mut buf))
    });
    let deg6 = make_array(Level::Raid6, &v6, &[1, 2], CHUNK as u64);
    g.bench_function("raid6_two_missing", |b| {
        b.iter(|| read_all(&deg6, &mut buf))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
