#![no_main]
//! The deep scan's validator for VHD footers (and their header copies).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VHD footer"], data));
