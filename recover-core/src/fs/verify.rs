//! The file part of the restore drill (`recover check`): every byte of a
//! file read, and a verdict from what the read met. The layers below say
//! where the bytes came from ([`Volume::origins`]): zeros for lost data,
//! bytes from a stripe row a scrub found inconsistent; an error from the
//! filesystem's own structures (an extent past the end, a checksum that
//! fails everywhere) makes the file damaged.

use std::ops::Range;

use crate::error::Error;
use crate::io::{Origin, Origins, Volume};

/// What a file's read showed, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// A structure at fault: some of it could not be read at all.
    Damaged,
    /// Some bytes are zeros in place of data that could not be had (bad
    /// sectors, members missing beyond the redundancy).
    PartlyUnreadable,
    /// Read whole, but some bytes come from a stripe row whose parity or
    /// copies disagree: they may not be the bytes written.
    Suspect,
    /// Every byte read, from consistent storage (rebuilt from parity or a
    /// mirror counts as ok).
    Ok,
    /// Not read: its data is not on these sources, or in a form this build
    /// does not read (a VMFS raw device mapping). Not damage.
    Skipped,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 5] = [
        Verdict::Ok,
        Verdict::Suspect,
        Verdict::Damaged,
        Verdict::PartlyUnreadable,
        Verdict::Skipped,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Damaged => "damaged",
            Verdict::PartlyUnreadable => "partly_unreadable",
            Verdict::Suspect => "suspect",
            Verdict::Ok => "ok",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One volume (a file, a named stream) read through.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Bytes it has.
    pub size: u64,
    /// Where its bytes came from, normalized (in its own offsets).
    pub origins: Origins,
    /// Pieces that failed to read, and why (in its own offsets).
    pub errors: Vec<(Range<u64>, String)>,
    /// Why it was not read, when its data is not here to read.
    pub skipped: Option<String>,
}

/// At most this many failed pieces are kept per file: a file whose every
/// extent fails says so in the first few.
const MAX_ERRORS: usize = 16;

impl Verified {
    /// A file that could not be opened or read at all.
    pub fn failed(size: u64, e: &Error) -> Verified {
        match e {
            Error::Unsupported { .. } => Verified {
                size,
                skipped: Some(e.to_string()),
                ..Default::default()
            },
            _ => Verified {
                size,
                errors: vec![(0..size, e.to_string())],
                ..Default::default()
            },
        }
    }

    /// The verdict: the worst thing the read met.
    pub fn verdict(&self) -> Verdict {
        if self.skipped.is_some() {
            Verdict::Skipped
        } else if !self.errors.is_empty() {
            Verdict::Damaged
        } else if self.origins.iter().any(|(_, o)| o.is_loss()) {
            Verdict::PartlyUnreadable
        } else if self.origins.iter().any(|(_, o)| *o == Origin::Inconsistent) {
            Verdict::Suspect
        } else {
            Verdict::Ok
        }
    }
}

/// Reads all of `vol` through `buf` (holes are skipped: they are zeros by
/// the volume's own account), calling `progress` with the bytes done so
/// far, then asks where the bytes came from: the bad sectors and rebuilt
/// rows met are known once read.
pub fn read_through(vol: &dyn Volume, buf: &mut [u8], progress: &mut dyn FnMut(u64)) -> Verified {
    let size = vol.len();
    let mut errors: Vec<(Range<u64>, String)> = Vec::new();
    let mut pos = 0u64;
    let step = buf.len().max(1) as u64;
    while pos < size {
        let hole = vol.hole_at(pos).min(size - pos);
        if hole > 0 {
            pos += hole;
            progress(pos);
            continue;
        }
        let n = step.min(size - pos);
        let Some(piece) = buf.get_mut(..n as usize) else {
            break; // n <= buf.len(): not reached
        };
        if let Err(e) = vol.read_at(pos, piece) {
            if matches!(e, Error::Unsupported { .. }) {
                return Verified::failed(size, &e);
            }
            let why = e.to_string();
            let full = errors.len() >= MAX_ERRORS;
            match errors.last_mut() {
                // One structure failing piece after piece is one finding.
                Some((r, w)) if r.end == pos && *w == why => r.end = pos + n,
                _ if full => {}
                _ => errors.push((pos..pos + n, why)),
            }
        }
        pos += n;
        progress(pos);
    }
    Verified {
        size,
        origins: vol.origins(0, size).normalized(),
        errors,
        skipped: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn a_clean_volume_is_ok() {
        let v = MemVolume::new("m", vec![7u8; 3000]);
        let mut buf = vec![0u8; 1024];
        let mut last = 0;
        let r = read_through(&v, &mut buf, &mut |n| last = n);
        assert_eq!(r.size, 3000);
        assert_eq!(last, 3000);
        assert_eq!(r.verdict(), Verdict::Ok);
    }

    #[test]
    fn the_worst_finding_wins() {
        let mut v = Verified::default();
        v.origins.add(0..10, Origin::Parity);
        assert_eq!(v.verdict(), Verdict::Ok);
        v.origins.add(10..20, Origin::Inconsistent);
        assert_eq!(v.verdict(), Verdict::Suspect);
        v.origins.add(20..30, Origin::Missing);
        assert_eq!(v.verdict(), Verdict::PartlyUnreadable);
        v.errors.push((0..1, "x".into()));
        assert_eq!(v.verdict(), Verdict::Damaged);
    }
}
