#![no_main]
//! The deep scan's validator for NTFS boot sectors and their backups.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::validator(&["NTFS boot sector"], data));
