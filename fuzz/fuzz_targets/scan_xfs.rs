#![no_main]
//! The deep scan's validator for XFS superblocks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["XFS superblock"], data));
