#![no_main]
//! The deep scan's validator for MBR and EBR sectors.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["MBR or EBR"], data));
