//! recover-core: read-only storage recovery and RAID forensics.
//!
//! Everything readable is a [`io::Volume`]: image files, block devices,
//! partitions, RAID arrays, LVM logical volumes, files inside filesystems
//! and VM disk images, each stacked on the one below. [`discover`] walks
//! sources into a tree of [`discover::Node`]s, each with a path
//! (`md0/gpt/p1/ext4`), gathering RAID members into arrays and PVs into
//! volume groups; [`discover::resolve`] turns a path (with `:/dir/file`
//! for a file in a filesystem) back into what it names; and
//! [`discover::search`] runs the deep search for lost partitions. What a
//! volume can be is listed in one place, the [`registry`].
//!
//! From the member disks of an md RAID5 to a file in the ext4 on its first
//! partition, and a deep search of a disk whose table is gone:
//!
//! ```no_run
//! use recover_core::discover::{self, resolve, search};
//! use recover_core::io::{open_source, MapPolicy};
//!
//! let opts = discover::Options::default();
//! let sources = ["m0.img", "m1.img", "m2.img"]
//!     .iter()
//!     .enumerate()
//!     .map(|(i, p)| Ok((i, open_source(p.as_ref(), MapPolicy::Auto)?)))
//!     .collect::<recover_core::Result<Vec<_>>>()?;
//! let mut nodes = discover::discover(&sources, &opts);
//! // The array is a top-level node; its partitions and filesystems below it.
//! let array = discover::find(&nodes, "md0").expect("an md array"); // ok: an example
//! println!("{} {} bytes", array.format, array.size);
//! let file = resolve::file_target(&nodes, "md0/gpt/p1/ext4:/etc/fstab", &opts)?;
//! let bytes = file.fs.open(file.id)?; // a Volume: read_at, len
//! let mut head = vec![0; bytes.len().min(4096) as usize];
//! bytes.read_at(0, &mut head)?;
//!
//! // Partitions lost with their table: found again, then explored.
//! let paths = search::targets(&nodes, Some("d0"));
//! let how = search::SearchOptions::default();
//! for s in search::search(&mut nodes, &paths, &how, &opts, &mut |_, _, _| {})? {
//!     print!("{}", s.sfdisk_script());
//! }
//! # Ok::<(), recover_core::Error>(())
//! ```
//!
//! The library never prints and never configures the global rayon pool; the
//! CLI owns output, progress and exit codes.
//!
//! Parsers of on-disk bytes must not panic on what they read, so the
//! modules that parse bytes from disks and images ([`part`], [`fs`],
//! [`lvm`], [`image`], the RAID metadata readers [`raid::md`],
//! [`raid::ddf`], [`raid::imsm`], [`raid::ataraid`] and the BIOS formats
//! beside it, [`scan::validators`], [`ident`] and [`bytes`]) deny
//! `clippy::indexing_slicing`: an out-of-range read is an error or a `None`
//! (through `get`, [`bytes::Bytes`] or fixed-size arrays), checked by the
//! machine rather than by review. The arithmetic modules (RAID parity,
//! mapping and assembly), `io`, `discover` and `scan::scanner`, which index
//! buffers they sized themselves, are not covered; test modules allow it.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod bytes;
pub mod discover;
pub mod error;
pub mod fs;
pub mod ident;
pub mod image;
pub mod io;
pub mod part;
pub mod problem;

pub use error::{Damage, Error, Result};
pub use problem::{Problem, Severity};
pub mod checksum;
pub mod lvm;
pub mod nbd;
pub mod parity;
pub mod raid;
pub mod registry;
pub mod scan;
