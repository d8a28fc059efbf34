#![no_main]
//! The VM image checks on untrusted bytes: qcow2's reference counting
//! (L1, L2 and refcount tables, snapshots, compressed descriptors) and the
//! structural checks of VHD, VHDX, VMDK and VDI. None may panic, loop
//! without end or allocate from an unchecked field; a check's counts must
//! agree with its findings.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::image::check::{check, Kind};
use recover_core::io::{MemVolume, VolumeRef};

fuzz_target!(|data: &[u8]| {
    let file: VolumeRef = Arc::new(MemVolume::new("fuzz", data.to_vec()));
    let Some(Ok(c)) = check(&file) else {
        return;
    };
    if let Some(q) = c.qcow2 {
        let listed = |k: Kind| c.findings.list.iter().filter(|f| f.kind == k).count() as u64;
        if c.findings.unlisted == 0 {
            assert_eq!(q.corruptions, listed(Kind::Corruption));
            assert_eq!(q.leaks, listed(Kind::Leak));
            assert_eq!(q.check_errors, listed(Kind::CheckError));
        }
    }
});
