//! Reading files through the filesystem readers, from page-cached images
//! the real tools made: the 24 MiB file of the standard tree out of ext4
//! (extents) and ext2 (block map), the same out of NTFS, and an
//! LZNT1-compressed file out of NTFS (decompression); plus listing the
//! 2,500-entry directory (ext4 linear and htree, ext2, NTFS index blocks).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recover_core::fs::{lookup, FileSystemRef};
use recover_core::io::{open_source, MapPolicy};

fn open(img: &std::path::Path, format: &str) -> FileSystemRef {
    let src = open_source(img, MapPolicy::Auto).unwrap();
    recover_core::registry::open_filesystem(format, src.volume.clone())
        .unwrap()
        .unwrap()
}

fn read_file(fs: &FileSystemRef, path: &str, buf: &mut [u8]) -> u64 {
    let v = fs.open(lookup(fs.as_ref(), path).unwrap()).unwrap();
    let mut pos = 0;
    while pos < v.len() {
        let n = (v.len() - pos).min(buf.len() as u64) as usize;
        v.read_at(pos, &mut buf[..n]).unwrap();
        pos += n as u64;
    }
    pos
}

fn bench(c: &mut Criterion) {
    let mut buf = vec![0u8; 8 << 20];
    let mut systems = Vec::new();
    for name in ["ext4", "ext4-htree", "ext2"] {
        let v = fixtures::ext_image::EXT_VARIANTS
            .iter()
            .find(|v| v.name == name)
            .unwrap();
        if let Some(img) = fixtures::ext_image::ext_image(v) {
            systems.push((name, open(&img, v.fs_type)));
        }
    }
    let ntfs = fixtures::ntfs_image::ntfs_image().map(|img| open(&img, "ntfs"));
    if let Some(fs) = &ntfs {
        systems.push(("ntfs", fs.clone()));
    }
    let mut g = c.benchmark_group("read_24MiB_file");
    g.throughput(Throughput::Bytes(fixtures::tree::LARGE as u64));
    for (name, fs) in &systems {
        g.bench_function(*name, |b| b.iter(|| read_file(fs, "/large.bin", &mut buf)));
    }
    g.finish();
    if let Some(fs) = &ntfs {
        let mut g = c.benchmark_group("ntfs_lznt1");
        g.throughput(Throughput::Bytes(
            fixtures::ntfs_image::compressible().len() as u64,
        ));
        g.bench_function("compressed_text", |b| {
            b.iter(|| read_file(fs, "/compressed/text.txt", &mut buf))
        });
        g.finish();
    }
    let mut g = c.benchmark_group("list_2500_entries");
    g.throughput(Throughput::Elements(fixtures::tree::MANY as u64));
    for (name, fs) in &systems {
        let dir = lookup(fs.as_ref(), "/many").unwrap();
        g.bench_function(*name, |b| b.iter(|| fs.read_dir(dir).unwrap().len()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
