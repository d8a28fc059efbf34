#![no_main]
//! The deep scan's validator for GPT headers, primary and backup.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["GPT header"], data));
