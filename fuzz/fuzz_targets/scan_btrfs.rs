#![no_main]
//! The deep scan's validator for Btrfs superblocks and their mirrors.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["Btrfs superblock"], data));
