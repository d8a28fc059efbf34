#![no_main]
//! The deep scan's validator for Linux swap headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["swap signature"], data));
