#![no_main]
//! The deep scan's validator for FAT12/16/32 boot sectors and FAT32's backup.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["FAT boot sector"], data));
