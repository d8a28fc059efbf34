//! RAID metadata: Linux md, SNIA DDF (Dell PERC, LSI/Broadcom MegaRAID,
//! Adaptec), Intel IMSM and the BIOS RAID formats dmraid reads (Adaptec
//! HostRAID, HighPoint, JMicron, LSI MegaRAID IDE, NVIDIA, Promise, Silicon
//! Image, VIA), read into one neutral description, and members gathered
//! into arrays.

pub mod asr;
pub mod ataraid;
pub mod ddf;
pub mod group;
pub mod hpt37x;
pub mod hpt45x;
pub mod imsm;
pub mod infer;
pub mod jmicron;
pub mod lsi;
pub mod map;
pub mod md;
pub mod metadata;
pub mod model;
pub mod nvidia;
// The parity arithmetic is its own top-level module (Btrfs RAID5/6 uses
// it too); `raid::parity` stays its name here.
pub use crate::parity;
pub mod promise;
pub mod scrub;
pub mod sil;
pub mod via;
pub mod volume;
