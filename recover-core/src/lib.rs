//! recover-core: read-only storage recovery and RAID forensics.
//!
//! Everything readable is a [`io::Volume`]: image files, block devices,
//! partitions, and (in later layers) arrays, logical volumes, files inside
//! filesystems and VM disk images, each stacked on the one below.
//! [`discover`] walks sources into a tree of [`discover::Node`]s.
//!
//! The library never prints and never configures the global rayon pool; the
//! CLI owns output, progress and exit codes.

#![deny(missing_docs)]

pub mod bytes;
pub mod discover;
pub mod error;
pub mod fs;
pub mod ident;
pub mod image;
pub mod io;
pub mod part;
pub mod problem;

pub use error::{Error, Result};
pub use problem::{Problem, Severity};
pub mod checksum;
pub mod lvm;
pub mod raid;
pub mod registry;
pub mod scan;
