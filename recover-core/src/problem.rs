//! Damage and oddities found while reading, attached to the node they concern.
//!
//! Parsers return [`Error`]s; discovery keeps going and turns each into a
//! [`Problem`] on the node where it was found, so one bad structure never
//! hides the rest of a disk.

use crate::error::Error;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Odd but consistent: a hybrid MBR, a backup GPT that is not at the end,
    /// a filesystem smaller than its partition. Data is all there.
    Warning,
    /// A structure is damaged or unreadable; something was lost or had to be
    /// taken from a backup copy.
    Error,
}

impl Severity {
    /// "warning" or "error".
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// Which structure, such as "GPT primary header".
    pub structure: String,
    /// Byte offset of the structure within the volume it was read from.
    pub offset: Option<u64>,
    /// What is wrong.
    pub detail: String,
}

impl Problem {
    /// A damaged structure.
    pub fn error(
        structure: impl Into<String>,
        offset: Option<u64>,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Error,
            structure: structure.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// An oddity that loses nothing.
    pub fn warning(
        structure: impl Into<String>,
        offset: Option<u64>,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(structure, offset, detail)
        }
    }

    /// A problem from a library error: corrupt structures keep their name
    /// and offset, I/O errors become "read" problems.
    pub fn from_error(severity: Severity, fallback_structure: &str, e: &Error) -> Self {
        let (structure, offset, detail) = match e {
            Error::Corrupt {
                structure,
                offset,
                detail,
                ..
            } => (structure.to_string(), Some(*offset), detail.clone()),
            Error::Io { offset, source, .. } => (
                fallback_structure.to_string(),
                Some(*offset),
                format!("read failed: {source}"),
            ),
            Error::OutOfRange {
                offset, len, size, ..
            } => (
                fallback_structure.to_string(),
                Some(*offset),
                format!(
                    "{len} bytes at {offset:#x} lie past the end of the volume ({size:#x} bytes)"
                ),
            ),
            Error::Unsupported { what, .. } => (
                fallback_structure.to_string(),
                None,
                format!("{what} is not supported"),
            ),
            Error::Open { detail, .. } => (fallback_structure.to_string(), None, detail.clone()),
            Error::NotFound { .. } | Error::BadPath { .. } | Error::Geometry { .. } => {
                (fallback_structure.to_string(), None, e.to_string())
            }
        };
        Problem {
            severity,
            structure,
            offset,
            detail,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} at {o:#x}: {}", self.structure, self.detail),
            None => write!(f, "{}: {}", self.structure, self.detail),
        }
    }
}
