#![no_main]
//! The deep scan's validator for exFAT boot regions.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["exFAT boot sector"], data));
