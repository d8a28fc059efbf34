//! RAID metadata: Linux md, SNIA DDF (Dell PERC, LSI/Broadcom MegaRAID,
//! Adaptec) and Intel IMSM, read into one neutral description, and members
//! gathered into arrays.

pub mod ddf;
pub mod group;
pub mod imsm;
pub mod infer;
pub mod map;
pub mod md;
pub mod metadata;
pub mod model;
pub mod parity;
pub mod volume;
