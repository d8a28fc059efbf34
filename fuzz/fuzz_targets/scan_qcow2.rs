#![no_main]
//! The deep scan's validator for qcow2 headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["qcow2 header"], data));
