#![no_main]
//! The deep scan's validator for LVM2 PV labels.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["LVM2 label"], data));
