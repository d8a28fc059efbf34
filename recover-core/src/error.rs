//! Errors carry the layer they happened in (a volume's description, such as
//! `d0/gpt/p2`), the structure being read and the byte offset within that
//! layer, so the CLI can print one line that says where to look.

use std::io;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of damage a [`Error::Corrupt`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// A field holds a value the format does not allow.
    Invalid,
    /// A checksum does not match what it covers.
    Checksum,
    /// A reference points outside its volume or its structure.
    Bounds,
    /// A sound structure that records it lives elsewhere (a GPT header
    /// whose own LBA is another sector: a copy seen through another layer).
    Misplaced,
    /// A chain or tree that comes back to itself, or runs deeper than any
    /// real one.
    Loop,
    /// Fewer bytes than the structure needs.
    Truncated,
}

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source could not be opened.
    #[error("{path}: {detail}")]
    Open {
        /// The path as the user gave it.
        path: String,
        /// What went wrong, in words.
        detail: String,
        /// The OS error, when there was one.
        #[source]
        source: Option<io::Error>,
    },
    /// The OS failed a read and salvage was not possible (or not enabled).
    #[error("{layer}: read at {offset:#x}: {source}")]
    Io {
        /// The volume the read was made on.
        layer: String,
        /// Byte offset of the read within that volume.
        offset: u64,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A read that does not fit inside the volume: a structure points past the end.
    #[error("{layer}: {}", out_of_range(*offset, *len, *size))]
    OutOfRange {
        /// The volume the read was made on.
        layer: String,
        /// Byte offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// Size of the volume.
        size: u64,
    },
    /// An on-disk structure is not what its format says it must be.
    #[error("{}{structure} at {offset:#x}: {detail}", layer_prefix(.layer))]
    Corrupt {
        /// The volume the structure sits in (empty while a parser still
        /// works on bare bytes; filled in by [`Error::within`]).
        layer: String,
        /// Name of the structure, such as "GPT header".
        structure: &'static str,
        /// Byte offset of the structure (or of the bad field) within `layer`.
        offset: u64,
        /// What is wrong, with expected and actual values where they help.
        detail: String,
        /// What kind of damage, for callers that act on it (they branch on
        /// this, never on the text or the offset).
        kind: Damage,
    },
    /// An array's geometry (given by the user, or read from metadata)
    /// that cannot be assembled: members too small, a layout the level
    /// does not have, too many members missing.
    #[error("{detail}")]
    Geometry {
        /// What is wrong with it.
        detail: String,
    },
    /// A path inside a filesystem names nothing.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path up to the component that was not found.
        path: String,
    },
    /// A node path (what the CLI's `--at` takes) that names nothing, or
    /// names something that cannot be what was asked.
    #[error("{path}: {why}")]
    BadPath {
        /// The path as given.
        path: String,
        /// Why it does not resolve.
        why: String,
    },
    /// A valid structure this build cannot handle.
    #[error("{}{what} is not supported", layer_prefix(.layer))]
    Unsupported {
        /// The volume it was found in.
        layer: String,
        /// What is unsupported.
        what: String,
    },
}

/// What an out-of-range read asked for, in words: a position past the end
/// is said as such (a read of nothing there is a reference to nowhere).
fn out_of_range(offset: u64, len: u64, size: u64) -> String {
    if len == 0 || offset >= size {
        format!("position {offset:#x} lies past the end of the volume ({size:#x} bytes)")
    } else {
        format!("{len} bytes at {offset:#x} run past the end of the volume ({size:#x} bytes)")
    }
}

fn layer_prefix(layer: &str) -> String {
    if layer.is_empty() {
        String::new()
    } else {
        format!("{layer}: ")
    }
}

impl Error {
    /// A corruption error from a parser that sees only bytes; [`Error::within`]
    /// later names the layer and rebases the offset.
    pub fn corrupt(structure: &'static str, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            layer: String::new(),
            structure,
            offset,
            detail: detail.into(),
            kind: Damage::Invalid,
        }
    }

    /// The same error with its damage said more precisely.
    #[must_use]
    pub fn with(mut self, damage: Damage) -> Self {
        if let Error::Corrupt { kind, .. } = &mut self {
            *kind = damage;
        }
        self
    }

    /// The kind of damage, for a corruption error.
    pub fn damage(&self) -> Option<Damage> {
        match self {
            Error::Corrupt { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A geometry that cannot be assembled.
    pub fn geometry(detail: impl Into<String>) -> Self {
        Error::Geometry {
            detail: detail.into(),
        }
    }

    /// Places a parser's error in a volume: names the layer when the parser
    /// could not, and adds `base` (where the parsed bytes were read from) to
    /// the offset.
    #[must_use]
    pub fn within(mut self, layer: &str, base: u64) -> Self {
        match &mut self {
            Error::Corrupt {
                layer: l, offset, ..
            } if l.is_empty() => {
                *l = layer.to_string();
                *offset = offset.saturating_add(base);
            }
            Error::Unsupported { layer: l, .. } if l.is_empty() => *l = layer.to_string(),
            _ => {}
        }
        self
    }

    /// The byte offset the error points at, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Io { offset, .. }
            | Error::OutOfRange { offset, .. }
            | Error::Corrupt { offset, .. } => Some(*offset),
            Error::Open { .. }
            | Error::Unsupported { .. }
            | Error::NotFound { .. }
            | Error::BadPath { .. }
            | Error::Geometry { .. } => None,
        }
    }
}
