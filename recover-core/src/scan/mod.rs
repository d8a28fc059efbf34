//! The deep scan: every sector of a volume probed for the structures that
//! outlive a lost partition table (superblocks and their backups, boot
//! sectors, RAID and LVM metadata, stray partition tables, VM image
//! headers), at the speed of memory or of the disk, then combined into
//! candidate partitions.
//!
//! The scanner reads mapped volumes in place (no copy) and others in large
//! blocks, splits the volume among rayon's threads, and pushes findings to
//! a caller's sink in offset order; the candidate assembly is a pure
//! function of the findings.

pub mod candidates;
pub mod finding;
pub mod scanner;
pub mod signature;
pub mod validators;

pub use candidates::{assemble, Candidate};
pub use finding::{Finding, FindingKind};
pub use scanner::{scan, ScanOptions, Sink};
pub use signature::{Signature, SIGNATURES};
