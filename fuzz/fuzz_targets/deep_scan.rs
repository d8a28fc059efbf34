#![no_main]
//! The whole deep scan: every signature, the candidates and the recovered
//! table explored.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::deep_scan(data));
