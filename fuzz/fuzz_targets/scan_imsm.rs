#![no_main]
//! The deep scan's validator for IMSM MPBs.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["IMSM MPB"], data));
