#![no_main]
//! The exfat reader: superblock, inodes, directories and file maps from
//! untrusted bytes, through every call the FileSystem trait has.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recover_fuzz::filesystem("exfat", data));
