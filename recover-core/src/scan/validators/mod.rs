//! The validators of the signature table, by family. Each checks the
//! structure around a magic and says where the thing it belongs to starts,
//! how large it is, and how sure the checks make it.

pub mod containers;
pub mod filesystems;
pub mod images;
pub mod tables;

use crate::io::{bytes_at, Volume};

/// Bytes of the volume, or `None` past its end or on a read error: the
/// validators only ever look, and a failed look is a failed check.
pub(crate) fn peek(vol: &dyn Volume, at: u64, len: usize) -> Option<Vec<u8>> {
    bytes_at(vol, at, len).ok().map(|c| c.into_owned())
}
