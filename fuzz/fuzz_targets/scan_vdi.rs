#![no_main]
//! The deep scan's validator for VDI headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VDI header"], data));
