#![no_main]
//! The deep scan's validator for LUKS1/2 headers and LUKS2's second header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["LUKS header", "LUKS2 second header"], data));
