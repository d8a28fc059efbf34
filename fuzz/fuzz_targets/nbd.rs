#![no_main]
//! The NBD server's parsers and a whole session: the input is what a
//! client sends (after the client flags, options and requests in any
//! order), over two exports, one with holes; the parsers also take it
//! directly as option data and as a request.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{Concat, MemVolume, VolumeRef, Zeros};
use recover_core::nbd::{self, wire, Export, Observer};

struct Quiet;

impl Observer for Quiet {
    fn read_failed(&self, _: &Export, _: u64, _: u64, _: &recover_core::Error) {}
}

fuzz_target!(|data: &[u8]| {
    for opt in 0..12 {
        let _ = wire::parse_option(opt, data);
    }
    let _ = wire::parse_option_header(data);
    let _ = wire::parse_request(data);
    let parts: Vec<VolumeRef> = vec![
        Arc::new(MemVolume::new("d", vec![0x5a; 8192])),
        Arc::new(Zeros::new(1 << 20, "z".into())),
        Arc::new(MemVolume::new("d", (0..=255u8).collect::<Vec<_>>())),
    ];
    let exports = [
        Export {
            name: "d0/gpt/p1".into(),
            description: "bytes".into(),
            volume: Arc::new(MemVolume::new("m", data.to_vec())),
        },
        Export {
            name: "d0/qcow2".into(),
            description: "holes".into(),
            volume: Arc::new(Concat::new(parts, "c".into())),
        },
    ];
    let _ = nbd::serve(data, std::io::sink(), &exports, &Quiet);
});
