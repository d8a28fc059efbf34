#![no_main]
//! Btrfs on untrusted bytes. Its structures sit megabytes apart (the
//! superblock at 64 KiB, the trees wherever the chunks put them), so the
//! input is a list of patches over zeros (`recover_fuzz::Patches`, offsets
//! modulo 128 MiB; seed_btrfs.py makes them from mkfs.btrfs images). The
//! first byte picks the path:
//! - 0: the filesystem through every `FileSystem` call, as patched;
//! - 1: the same with every checksum made right first (the superblock at
//!   64 KiB and every tree block carrying its fsid), so mutations reach
//!   the trees and items instead of failing their checksums;
//! - 2: the LZO1X decompressor, raw and in Btrfs's sector framing, and
//!   the zlib/zstd paths of the extent decompressor;
//! - 3: the byte-slice parsers: sys_chunk_array, chunk items, tree block
//!   headers, dir items, file extent items, inode, root and root ref items.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::checksum::crc32c;
use recover_core::fs::btrfs::{chunk, compress, csum::CsumType, items, lzo, tree::Node};
use recover_fuzz::{filesystem_on, Patches};

const MAX_FILE: u64 = 128 << 20;
const SB: u64 = 0x10000;

/// Rewrites the crc32c of the superblock and of every tree block (a
/// 4 KiB-aligned run of nodesize bytes whose header names the fsid).
fn fix_checksums(p: &mut Patches) {
    let Some(sb) = p
        .patches
        .iter()
        .find(|(at, b)| *at == SB && b.len() >= 0x1000)
        .map(|(_, b)| b.clone())
    else {
        return;
    };
    let fsid = sb[0x20..0x30].to_vec();
    let nodesize = u32::from_le_bytes([sb[0x94], sb[0x95], sb[0x96], sb[0x97]]) as usize;
    if !(4096..=65536).contains(&nodesize) {
        return;
    }
    for (at, b) in &mut p.patches {
        let mut k = ((4096 - *at % 4096) % 4096) as usize;
        while k + 0x30 <= b.len() {
            if *at + k as u64 == SB && k + 0x1000 <= b.len() {
                let c = crc32c(&b[k + 0x20..k + 0x1000]);
                b[k..k + 4].copy_from_slice(&c.to_le_bytes());
            } else if b[k + 0x20..k + 0x30] == fsid[..] && k + nodesize <= b.len() {
                let c = crc32c(&b[k + 0x20..k + nodesize]);
                b[k..k + 4].copy_from_slice(&c.to_le_bytes());
            }
            k += 4096;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => filesystem_on("btrfs", Arc::new(Patches::new(rest, MAX_FILE))),
        1 => {
            let mut p = Patches::new(rest, MAX_FILE);
            fix_checksums(&mut p);
            filesystem_on("btrfs", Arc::new(p));
        }
        2 => {
            let mut out = Vec::new();
            let _ = lzo::decompress(rest, &mut out, 1 << 17);
            let _ = lzo::decompress_btrfs(rest, 1 << 17, 4096);
            let _ = lzo::decompress_btrfs(rest, usize::from(which), 65536);
            for c in [items::Compression::Zlib, items::Compression::Zstd] {
                let _ = compress::decompress(c, rest, 1 << 17, 4096);
            }
        }
        _ => {
            let _ = chunk::parse_sys_array(rest);
            let _ = chunk::Chunk::parse(rest, u64::from(which) << 20);
            for c in [CsumType::Crc32c, CsumType::Xxhash64, CsumType::Blake2b] {
                if let Ok(n) = Node::parse(rest.to_vec(), 0, 0, &[0; 16], c) {
                    for i in 0..n.len().min(64) {
                        let _ = n.item(i);
                        let _ = n.ptr(i);
                    }
                }
            }
            let _ = items::DirItem::parse_all(rest);
            let _ = items::FileExtent::parse(rest);
            let _ = items::InodeItem::parse(rest);
            let _ = items::RootItem::parse(rest);
            let _ = items::RootRef::parse(rest);
        }
    }
});
