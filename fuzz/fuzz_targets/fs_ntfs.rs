#![no_main]
//! The ntfs reader: boot sector, MFT records, attribute lists, runlists,
//! indexes and LZNT1 from untrusted bytes, through every call the
//! FileSystem trait has.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::filesystem("ntfs", data));
