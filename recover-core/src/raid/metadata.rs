//! What RAID metadata says, in format-neutral words. The types live in
//! [`crate::ident::raid`], beside the other identification words, since a
//! probe's result carries them and every format module uses them; this
//! path keeps the name the RAID code has always used.

pub use crate::ident::raid::*;
