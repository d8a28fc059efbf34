#![no_main]
//! VMFS on untrusted bytes. VMFS structures sit megabytes apart (the LVM
//! header at 1 MiB, the descriptor at 2 MiB, the system files past 4 MiB),
//! so the input is a list of patches over zeros (`recover_fuzz::Patches`,
//! offsets modulo 64 MiB; seed_vmfs.py makes them from ESXi's volumes).
//! The first byte picks the path:
//! - 0: the filesystem through every `FileSystem` call (walked, stat'ed,
//!   every file read at both ends, links read), and `locate`;
//! - 1: two LVM devices (the patches cut in two) gathered into datastores,
//!   each read at its start, middle and end, and their descriptor parsed;
//! - 2: the byte-slice parsers on the raw input: descriptor, file
//!   descriptor (both versions), resource header, VMFS5 and VMFS6
//!   directory blocks.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::fs::vmfs::{descriptor, dir, fd, lvm, reader::Vmfs, resource, span};
use recover_core::fs::FileSystem;
use recover_core::io::VolumeRef;
use recover_fuzz::{reads, Patches};

const MAX_FILE: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let vol: VolumeRef = Arc::new(Patches::new(rest, MAX_FILE));
            recover_fuzz::filesystem_on("vmfs6", vol.clone());
            if let Ok(fs) = Vmfs::open(vol) {
                for off in [0, 1 << 20, 117 << 30] {
                    let _ = fs.locate(u64::from(0x0080_0004u32), off);
                    let _ = fs.locate(fs.root(), off);
                }
            }
        }
        1 => {
            let cut = rest.len() / 2;
            let (a, b) = rest.split_at(cut); // ok: cut <= len
            let members: Vec<span::Member> = [a, b]
                .iter()
                .enumerate()
                .filter_map(|(i, bytes)| {
                    let vol: VolumeRef = Arc::new(Patches::new(bytes, MAX_FILE));
                    let dev = lvm::read_device(vol.as_ref()).ok()?;
                    Some(span::Member { path: format!("d{i}"), vol, dev })
                })
                .collect();
            for ds in span::gather(&members) {
                reads(ds.volume.as_ref());
                let _ = Vmfs::open(ds.volume.clone());
            }
        }
        _ => {
            if let Some(Ok(d)) = descriptor::parse(rest) {
                let g = d.geometry();
                let _ = fd::parse(rest, 0x4, &g);
                let _ = d.system_fd_offset(0x0080_0004, 2);
            }
            let _ = resource::parse(rest, "fuzz", true);
            let _ = resource::parse(rest, "fuzz", false);
            let _ = dir::entries5(rest).count();
            let _ = dir::header6(rest);
            let _ = dir::entries6(rest);
            let _ = dir::map_types(rest).count();
        }
    }
});
