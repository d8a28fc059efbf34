#![no_main]
//! The deep scan's validator for VHDX file identifiers and headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VHDX file identifier"], data));
