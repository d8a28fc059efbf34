//! From findings to candidate partitions: every copy of a filesystem's
//! superblock (or boot sector) that says the same start and identity is
//! one candidate, confirmed by each extra copy; overlapping candidates
//! are ranked and the weaker dropped.

use std::collections::BTreeMap;

use super::finding::{Finding, FindingKind};

/// A filesystem or container the findings say was there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Filesystem or container.
    pub kind: FindingKind,
    /// Its format.
    pub format: &'static str,
    /// Byte offset of its start in the scanned volume.
    pub start: u64,
    /// Its size in bytes, as its own structures say.
    pub size: Option<u64>,
    /// Label.
    pub label: Option<String>,
    /// UUID or serial.
    pub uuid: Option<String>,
    /// How sure, 0 to 100.
    pub confidence: u8,
    /// The structures that say so: (what, where).
    pub evidence: Vec<(String, u64)>,
    /// Why, from the strongest finding.
    pub reasons: Vec<String>,
    /// True when the structure at the start (primary superblock, boot
    /// sector) was not among the findings: only backups survive.
    pub from_backups_only: bool,
}

impl Candidate {
    /// End of the candidate, or its start when the size is unknown.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size.unwrap_or(0))
    }
}

/// Combines findings into candidates, strongest first among overlaps, then
/// in start order. Findings of a volume of `len` bytes; a candidate that
/// would end past it is kept (a truncated image) with lower confidence.
pub fn assemble(findings: &[Finding], len: u64) -> Vec<Candidate> {
    let mut groups: BTreeMap<(u64, &'static str, Option<String>), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        if !matches!(f.kind, FindingKind::Filesystem | FindingKind::Container) {
            continue;
        }
        let Some(start) = f.start else { continue };
        groups
            .entry((start, family(f.format), f.uuid.clone()))
            .or_default()
            .push(f);
    }
    let mut all: Vec<Candidate> = groups
        .into_iter()
        .map(|((start, _, uuid), fs)| {
            let best = fs
                .iter()
                .max_by_key(|f| (f.confidence, f.is_primary()))
                .copied()
                .unwrap_or(fs[0]); // ok: groups are never empty
            let copies = fs.len() as u8;
            let primary = fs.iter().any(|f| f.is_primary());
            let mut confidence = best.confidence.saturating_add(10 * (copies.min(4) - 1));
            let mut reasons = best.reasons.clone();
            if copies > 1 {
                reasons.push(format!("{copies} copies agree on the start"));
            }
            let size = fs.iter().filter_map(|f| f.size).max();
            if size.is_some_and(|s| start.saturating_add(s) > len) {
                confidence = confidence.saturating_sub(20);
                reasons.push("runs past the end of the volume".into());
            }
            Candidate {
                kind: best.kind,
                format: best.format,
                start,
                size,
                label: fs.iter().find_map(|f| f.label.clone()),
                uuid,
                confidence: confidence.min(100),
                evidence: fs.iter().map(|f| (f.what.clone(), f.at)).collect(),
                reasons,
                from_backups_only: !primary,
            }
        })
        .collect();
    // Strongest first; a candidate overlapping a stronger one is dropped
    // (an old filesystem's remnants, or a filesystem inside a container).
    all.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then(b.evidence.len().cmp(&a.evidence.len()))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Candidate> = Vec::new();
    for c in all {
        let overlaps = kept
            .iter()
            .any(|k| c.start < k.end().max(k.start + 1) && k.start < c.end().max(c.start + 1));
        if !overlaps {
            kept.push(c);
        }
    }
    kept.sort_by_key(|c| c.start);
    kept
}

/// ext2, ext3 and ext4 found at one start are one filesystem (its backups
/// may predate a feature change); likewise the FAT widths.
fn family(format: &'static str) -> &'static str {
    match format {
        "ext2" | "ext3" | "ext4" => "ext",
        "fat12" | "fat16" | "fat32" => "fat",
        f => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        format: &'static str,
        what: &str,
        at: u64,
        start: u64,
        size: u64,
        conf: u8,
        uuid: &str,
    ) -> Finding {
        let mut x = Finding::new(FindingKind::Filesystem, format, what, at);
        x.start = Some(start);
        x.size = Some(size);
        x.confidence = conf;
        x.uuid = Some(uuid.into());
        x
    }

    #[test]
    fn copies_confirm_and_overlaps_are_dropped() {
        let fs = vec![
            f(
                "ext4",
                "primary superblock",
                1024 + 1024,
                1024,
                1 << 20,
                80,
                "a",
            ),
            f(
                "ext4",
                "backup superblock (group 1)",
                1024 + 8192 * 1024,
                1024,
                1 << 20,
                80,
                "a",
            ),
            // An older filesystem's backup inside the first.
            f(
                "ext4",
                "backup superblock (group 3)",
                500_000,
                100_000,
                1 << 20,
                60,
                "old",
            ),
            f("ntfs", "boot sector", 2 << 20, 2 << 20, 1 << 20, 70, "n"),
        ];
        let c = assemble(&fs, 8 << 20);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].format, c[0].start, c[0].evidence.len()),
            ("ext4", 1024, 2)
        );
        assert_eq!(c[0].confidence, 90);
        assert!(!c[0].from_backups_only);
        assert_eq!(c[1].format, "ntfs");
    }
}
