//! LVM2: physical volume labels (and, later, metadata and logical volumes).

pub mod label;
