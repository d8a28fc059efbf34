#![no_main]
//! The deep scan's validator for DDF anchors and headers, both byte orders.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(
    &["DDF header", "DDF header (little-endian)"],
    data
));
