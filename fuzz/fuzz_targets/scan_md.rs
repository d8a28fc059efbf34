#![no_main]
//! The deep scan's validator for md 0.90 (both byte orders) and 1.x superblocks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(
    &["md superblock", "md 0.90 superblock (big-endian)"],
    data
));
