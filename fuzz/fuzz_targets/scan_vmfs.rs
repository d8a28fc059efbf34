#![no_main]
//! The deep scan's validator for VMFS LVM device headers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VMFS LVM device header"], data));
