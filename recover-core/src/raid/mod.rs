//! RAID metadata: Linux md (identification for now; DDF, IMSM and
//! reconstruction follow).

pub mod md;
