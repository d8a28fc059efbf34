#![no_main]
//! The deep scan's validator for ext2/3/4 superblocks, primary and backups.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["ext superblock"], data));
