#![no_main]
//! The nine BIOS RAID readers (dmraid's formats: Adaptec ASR, HighPoint
//! 37x/45x, JMicron, LSI, NVIDIA, Promise, Silicon Image, VIA) on the input
//! as a whole disk, for HighPoint 37x whose block sits at sector 9, and as
//! the tail of a disk (a zero volume in front), where the others keep
//! their metadata; the zero part's length comes from the first input byte
//! so ASR's absolute table pointer and Promise's and Silicon Image's
//! far-apart copies can land inside the input or in front of it.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use recover_core::io::{Concat, MemVolume, Volume, VolumeRef, Zeros};
use recover_core::raid::{asr, hpt37x, hpt45x, jmicron, lsi, nvidia, promise, sil, via};

fn all(vol: &dyn Volume) {
    let _ = asr::read(vol);
    let _ = hpt37x::read(vol);
    let _ = hpt45x::read(vol);
    let _ = jmicron::read(vol);
    let _ = lsi::read(vol);
    let _ = nvidia::read(vol);
    let _ = promise::read(vol);
    let _ = sil::read(vol);
    let _ = via::read(vol);
}

fuzz_target!(|data: &[u8]| {
    let mem: VolumeRef = Arc::new(MemVolume::new("fuzz", data.to_vec()));
    all(mem.as_ref());
    let pad = u64::from(data.first().copied().unwrap_or(0)) * 4096 + 1536 * 512;
    let zeros: VolumeRef = Arc::new(Zeros::new(pad, "zeros".into()));
    let disk = Concat::new(vec![zeros, mem], "disk".into());
    all(&disk);
});
