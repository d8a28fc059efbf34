#![no_main]
//! The filesystem readers' byte-slice parsers, called directly (much
//! faster than through a whole filesystem): ext4 inodes (with in-inode
//! attributes) and directory blocks; NTFS MFT records, mapping pairs,
//! index blocks and LZNT1 units. The first byte picks the parser.

use libfuzzer_sys::fuzz_target;
use recover_core::fs::{ext4, ntfs};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Some(i) = ext4::inode::parse(12, rest, Some(0x1234_5678)) {
                let _ = i.inline_xattr(7, b"data");
                let _ = i.csum_seed(1);
            }
        }
        1 => {
            let _ = ext4::dir::parse_block(rest, which & 0x80 != 0, Some(7));
        }
        2 => {
            let _ = ntfs::record::parse(rest);
        }
        3 => {
            let _ = ntfs::runlist::decode(rest, u64::from(which));
        }
        4 => {
            let _ = ntfs::index::entries(rest, usize::from(which >> 3));
        }
        _ => {
            let mut out = vec![0u8; 16 * 4096];
            let _ = ntfs::lznt1::decompress(rest, &mut out);
        }
    }
});
