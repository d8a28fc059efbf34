#![no_main]
//! DDF: headers and every section parser on raw bytes, and the whole
//! reader (anchor search, header choice, sections) over the input as the
//! tail of a disk.

use libfuzzer_sys::fuzz_target;
use recover_core::io::MemVolume;
use recover_core::raid::ddf::{self, raw};

fuzz_target!(|data: &[u8]| {
    for le in [false, true] {
        let _ = raw::parse_header(data);
        let _ = raw::parse_controller(data, le);
        let _ = raw::parse_phys(data, le);
        let _ = raw::parse_virt(data, le);
        let _ = raw::parse_disk_data(data, le);
        let _ = raw::parse_vd_config(data, le, 256, 0);
        let _ = raw::check_crc(data, le);
    }
    let vol = MemVolume::new("fuzz", data.to_vec());
    if let Some(anchor) = ddf::find_anchor(&vol, true) {
        let _ = ddf::read(&vol, &anchor);
    }
});
