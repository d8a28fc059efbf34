#![no_main]
//! The deep scan's validator for VMDK sparse extent headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VMDK sparse header"], data));
