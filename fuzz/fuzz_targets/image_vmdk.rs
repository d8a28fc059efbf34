#![no_main]
//! The VMDK reader on untrusted bytes: the sparse extent header (and the
//! stream-optimized footer), grain directory and tables, zlib grains with
//! markers, the embedded and standalone descriptor, extents laid end to
//! end (ESXi's COWD and SESPARSE delta extents too, each also a target of
//! its own); reads at the start, across grain boundaries and at the end.
//!
//! First byte even: the rest is one file (a sparse extent or a
//! descriptor), opened with nothing beside it. Odd: the next two bytes
//! (LE) are the length of a descriptor, and every file it names (extents,
//! the parent) is what follows it.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::error::Result;
use recover_core::image::siblings::{Found, Siblings};
use recover_core::image::vmdk;
use recover_core::image::Chain;
use recover_core::io::{MemVolume, Volume, VolumeRef};

/// Every name opens the same bytes.
#[derive(Debug)]
struct Beside(VolumeRef);

impl Siblings for Beside {
    fn open(&self, name: &str) -> Result<Found> {
        Ok(Found {
            identity: name.to_string(),
            volume: self.0.clone(),
            siblings: Arc::new(Beside(self.0.clone())),
        })
    }
}

fn reads(v: &dyn Volume) {
    let mut buf = vec![0u8; 96 << 10];
    let len = v.len();
    for at in [
        0,
        (64 << 10) - 100,
        (1 << 20) - 100,
        len / 2,
        len.saturating_sub(buf.len() as u64),
    ] {
        let n = len.saturating_sub(at).min(buf.len() as u64) as usize;
        let _ = v.read_at(at, &mut buf[..n]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let _ = vmdk::sparse::parse_header(rest);
    let _ = vmdk::descriptor::parse(&vmdk::descriptor::text(rest));
    let (file, chain) = if which & 1 == 0 {
        let file: VolumeRef = Arc::new(MemVolume::new("fuzz.vmdk", rest.to_vec()));
        (file, Chain::default())
    } else {
        let Some((n, rest)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let n = usize::from(u16::from_le_bytes(*n)).min(rest.len());
        let (desc, beside) = rest.split_at(n);
        let file: VolumeRef = Arc::new(MemVolume::new("fuzz.vmdk", desc.to_vec()));
        let other: VolumeRef = Arc::new(MemVolume::new("beside.vmdk", beside.to_vec()));
        (file, Chain::new("fuzz.vmdk".into(), Arc::new(Beside(other))))
    };
    if !vmdk::is_vmdk(rest, file.len()) && which & 2 == 0 {
        return;
    }
    if let Ok(d) = vmdk::open(file, &chain) {
        reads(d.disk.as_ref());
    }
});
