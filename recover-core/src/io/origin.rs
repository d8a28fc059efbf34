//! Where a volume's bytes came from, when not simply read where they are
//! stored: the provenance a forensic report gives for each recovered file.
//!
//! Every layer answers for a range of itself in its own coordinates, asking
//! the layers below for the ranges it maps onto them and shifting their
//! answers back (see [`crate::io::Volume::origins`]). The answer is layout
//! math plus what the sources have recorded so far (bad sectors found by
//! reads), so it is complete only for bytes that have been read.

use std::ops::Range;

use super::volume::Volume;

/// How a run of bytes was obtained, when not read as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Rebuilt from parity and the other members of its stripe, because its
    /// own member is missing.
    Parity,
    /// Read from another copy (a RAID1 or RAID10 mirror, a second Btrfs
    /// copy), because the first copy is missing or failed its checksum.
    Mirror,
    /// Zeros in place of bytes a source could not read: bad sectors, a range
    /// a ddrescue mapfile does not mark finished, a corrupt EWF chunk.
    Unreadable,
    /// Zeros in place of bytes on a member or device that is missing and
    /// that no redundancy could rebuild.
    Missing,
    /// Found through metadata taken from an older or backup copy, because
    /// the newest one was damaged.
    OlderMetadata,
    /// Read as stored, from a stripe row whose parity or copies disagree
    /// (found by a scrub, `recover check`): the bytes may not be the ones
    /// written.
    Inconsistent,
}

impl Origin {
    /// Every kind, in report order.
    pub const ALL: [Origin; 6] = [
        Origin::Parity,
        Origin::Mirror,
        Origin::Unreadable,
        Origin::Missing,
        Origin::OlderMetadata,
        Origin::Inconsistent,
    ];

    /// The name used in JSON and DFXML.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Parity => "parity",
            Origin::Mirror => "mirror",
            Origin::Unreadable => "unreadable",
            Origin::Missing => "missing",
            Origin::OlderMetadata => "older_metadata",
            Origin::Inconsistent => "inconsistent",
        }
    }

    /// True when the bytes are zeros standing in for lost data.
    pub fn is_loss(self) -> bool {
        matches!(self, Origin::Unreadable | Origin::Missing)
    }
}

/// Runs of a volume and how each was obtained. Runs of different kinds may
/// overlap (a byte rebuilt from parity whose other members had a bad sector
/// is both); [`Origins::normalized`] sorts and merges each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Vec<(Range<u64>, Origin)>);

impl Origins {
    /// No runs: every byte read as stored.
    pub fn new() -> Self {
        Origins(Vec::new())
    }

    /// True when every byte was read as stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a run, joined to the last one when it continues it.
    pub fn add(&mut self, range: Range<u64>, origin: Origin) {
        if range.is_empty() {
            return;
        }
        if let Some((last, o)) = self.0.last_mut() {
            if *o == origin && last.end == range.start {
                last.end = range.end;
                return;
            }
        }
        self.0.push((range, origin));
    }

    /// Adds `lower`'s runs, which are in a lower volume's coordinates where
    /// `lower_start` stands for `start` here.
    pub fn add_shifted(&mut self, lower: Origins, lower_start: u64, start: u64) {
        for (r, o) in lower.0 {
            let s = r.start.saturating_sub(lower_start).saturating_add(start);
            let e = r.end.saturating_sub(lower_start).saturating_add(start);
            self.add(s..e, o);
        }
    }

    /// Adds the parts of `ranges` that fall inside `within`, as `origin`.
    pub fn add_clipped(&mut self, ranges: &[Range<u64>], within: Range<u64>, origin: Origin) {
        for r in ranges {
            let (s, e) = (r.start.max(within.start), r.end.min(within.end));
            if s < e {
                self.add(s..e, origin);
            }
        }
    }

    /// The runs, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &(Range<u64>, Origin)> {
        self.0.iter()
    }

    /// Sorted by kind then offset, overlapping and touching runs of one
    /// kind merged.
    pub fn normalized(mut self) -> Origins {
        self.0.sort_by_key(|(r, o)| (*o, r.start, r.end));
        let mut out: Vec<(Range<u64>, Origin)> = Vec::with_capacity(self.0.len());
        for (r, o) in self.0 {
            match out.last_mut() {
                Some((last, lo)) if *lo == o && r.start <= last.end => {
                    last.end = last.end.max(r.end);
                }
                _ => out.push((r, o)),
            }
        }
        Origins(out)
    }

    /// The merged runs of one kind, sorted.
    pub fn of(&self, origin: Origin) -> Vec<Range<u64>> {
        self.clone()
            .normalized()
            .0
            .into_iter()
            .filter(|(_, o)| *o == origin)
            .map(|(r, _)| r)
            .collect()
    }

    /// Bytes of one kind (overlaps counted once).
    pub fn bytes(&self, origin: Origin) -> u64 {
        self.of(origin).iter().map(|r| r.end - r.start).sum()
    }
}

/// Gathers a layer's origins from the pieces of it that are other
/// volumes' bytes, asking each volume once per run of pieces that follow
/// one another there: blocks laid out in order (as image tools write
/// them) cost one question below, not one per block.
#[derive(Default)]
pub struct Gather<'a> {
    out: Origins,
    /// The run being extended: the volume, where it starts there, and
    /// where here.
    run: Option<(&'a dyn Volume, u64, Range<u64>)>,
}

impl std::fmt::Debug for Gather<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gather")
            .field("out", &self.out)
            .field(
                "run",
                &self.run.as_ref().map(|(v, l, r)| (v.describe(), l, r)),
            )
            .finish()
    }
}

impl<'a> Gather<'a> {
    /// Nothing gathered yet.
    pub fn new() -> Self {
        Gather::default()
    }

    /// `n` bytes at `at` here are `vol`'s bytes at `lower`; past `vol`'s
    /// end they read as zeros (a parent shorter than its child), which
    /// come from nowhere.
    pub fn map(&mut self, vol: &'a dyn Volume, lower: u64, at: u64, n: u64) {
        let n = n.min(vol.len().saturating_sub(lower));
        if n == 0 {
            return;
        }
        if let Some((v, l, r)) = &mut self.run {
            let continues = std::ptr::addr_eq(*v as *const dyn Volume, vol as *const dyn Volume)
                && r.end == at
                && l.saturating_add(r.end - r.start) == lower;
            if continues {
                r.end = at.saturating_add(n);
                return;
            }
        }
        self.flush();
        self.run = Some((vol, lower, at..at.saturating_add(n)));
    }

    /// `n` bytes at `at` here are decoded from the `stored` bytes of `vol`
    /// at `lower` (a compressed cluster, a whole unit): every kind of
    /// origin found anywhere in those holds for all of them.
    pub fn whole(&mut self, vol: &dyn Volume, lower: u64, stored: u64, at: u64, n: u64) {
        let stored = stored.min(vol.len().saturating_sub(lower));
        if n == 0 || stored == 0 {
            return;
        }
        let found = vol.origins(lower, stored);
        for origin in Origin::ALL {
            if found.iter().any(|(_, o)| *o == origin) {
                self.out.add(at..at.saturating_add(n), origin);
            }
        }
    }

    /// A run obtained as `origin` by this layer itself.
    pub fn add(&mut self, range: Range<u64>, origin: Origin) {
        self.out.add(range, origin);
    }

    fn flush(&mut self) {
        if let Some((v, l, r)) = self.run.take() {
            self.out
                .add_shifted(v.origins(l, r.end - r.start), l, r.start);
        }
    }

    /// What was gathered.
    pub fn finish(mut self) -> Origins {
        self.flush();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_join_shift_and_merge() {
        let mut low = Origins::new();
        low.add(100..110, Origin::Parity);
        low.add(110..120, Origin::Parity);
        low.add(115..130, Origin::Unreadable);
        assert_eq!(low.iter().count(), 2);
        let mut up = Origins::new();
        up.add_shifted(low, 100, 0);
        up.add(5..40, Origin::Parity);
        let n = up.normalized();
        assert_eq!(n.of(Origin::Parity), vec![0..40]);
        assert_eq!(n.of(Origin::Unreadable), vec![15..30]);
        assert_eq!(n.bytes(Origin::Parity), 40);
        let mut c = Origins::new();
        c.add_clipped(&[0..10, 20..30, 50..60], 5..25, Origin::Missing);
        assert_eq!(c.of(Origin::Missing), vec![5..10, 20..25]);
    }

    #[test]
    fn gather_joins_runs_and_taints_whole_pieces() {
        use crate::io::{Concat, MemVolume, VolumeRef, Zeros};
        use std::sync::Arc;
        // 100 bytes as stored, then 50 missing.
        let low: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("m", vec![0u8; 100])),
                Arc::new(Zeros::missing(50, "z".into())),
            ],
            "c".into(),
        ));
        let mut g = Gather::new();
        // Two pieces that continue each other down below, at 1000 here.
        g.map(low.as_ref(), 90, 1000, 20);
        g.map(low.as_ref(), 110, 1020, 10);
        // Past the lower volume's end: nothing.
        g.map(low.as_ref(), 140, 2000, 30);
        // Decoded from 95..105: all 64 bytes at 3000 are touched.
        g.whole(low.as_ref(), 95, 10, 3000, 64);
        g.whole(low.as_ref(), 0, 10, 4000, 64);
        g.add(5000..5001, Origin::Parity);
        let o = g.finish();
        assert_eq!(
            o.of(Origin::Missing),
            vec![1010..1030, 2000..2010, 3000..3064]
        );
        assert_eq!(o.of(Origin::Parity), vec![5000..5001]);
    }
}
