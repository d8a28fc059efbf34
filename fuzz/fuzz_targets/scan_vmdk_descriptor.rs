#![no_main]
//! The deep scan's validator for VMDK text descriptors.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["VMDK descriptor"], data));
