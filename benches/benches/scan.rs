//! Table parsing and identification over a 1 GiB GPT image made by the real
//! tools (28 partitions: every filesystem recover identifies): the whole
//! `discover` of a source, through mmap and through pread, and its parts.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recover_core::discover::{discover_source, Options};
use recover_core::io::{open_source, MapPolicy, Slice, VolumeRef};
use recover_core::part;

fn bench(c: &mut Criterion) {
    let fx = fixtures::gpt_1g();
    let mut g = c.benchmark_group("scan_1GiB_gpt");
    g.throughput(Throughput::Elements(1));
    for (name, policy) in [
        ("discover_mmap", MapPolicy::Auto),
        ("discover_pread", MapPolicy::Never),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let src = open_source(&fx.path, policy).unwrap();
                let n = discover_source(&src, 0, &Options::default());
                assert_eq!(n.children.len(), 1);
                n
            })
        });
    }
    let src = open_source(&fx.path, MapPolicy::Auto).unwrap();
    let vol = src.volume.clone();
    g.bench_function("partition_tables", |b| {
        b.iter(|| {
            let probe = part::probe_tables(vol.as_ref());
            part::tables(vol.as_ref(), &probe, (512, part::SectorSizeSource::Default))
        })
    });
    let probe = part::probe_tables(vol.as_ref());
    let tables = part::tables(vol.as_ref(), &probe, (512, part::SectorSizeSource::Default));
    let slices: Vec<VolumeRef> = tables[0]
        .partitions
        .iter()
        .map(|p| {
            Arc::new(Slice::new(
                vol.clone(),
                p.start_lba * 512,
                p.sectors * 512,
                String::new(),
            )) as VolumeRef
        })
        .collect();
    g.bench_function("identify_all_partitions", |b| {
        b.iter(|| {
            slices
                .iter()
                .map(|s| recover_core::registry::identify(s.as_ref()).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
