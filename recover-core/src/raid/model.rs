//! The format-neutral model of an array: what reconstruction needs, built
//! from md, DDF or IMSM metadata (through [`crate::raid::group`]) or from
//! what the user says.

use super::group::{Array, Standing};
use super::map::{
    raid0_zones, ParityAlgo, ParityGeometry, ParityLayout, Raid10Geometry, Raid10Layout, Zone,
};
use super::metadata::{Level, RaidFormat};
use crate::error::{Error, Result};
use crate::io::VolumeRef;

/// How the array's data is placed.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Members end to end.
    Linear,
    /// Striping, in md's zones over members of different sizes.
    Raid0 {
        /// The zones, in chunks.
        zones: Vec<Zone>,
        /// md's alternate multi-zone layout (2) rather than the original (1).
        alternate: bool,
    },
    /// Every member a full copy.
    Mirror,
    /// RAID4/5/6.
    Parity(ParityGeometry),
    /// md RAID10 (also DDF RAID1E and RAID1 spans, IMSM RAID10).
    Raid10(Raid10Geometry),
    /// DDF spans striped together (RAID50, RAID60): each span is an array
    /// of its own over `per_span` consecutive slots, placed with `inner`.
    Spans {
        /// Number of spans.
        count: u32,
        /// Members per span.
        per_span: u32,
        /// Placement inside each span.
        inner: Box<Placement>,
    },
}

/// One member's data area.
#[derive(Debug, Clone)]
pub struct MemberData {
    /// The member device.
    pub volume: VolumeRef,
    /// Where the array's data starts on it, in bytes.
    pub data_offset: u64,
    /// Bytes of array data on it.
    pub data_size: u64,
    /// A name for errors and reports (the node path or the source).
    pub name: String,
}

/// Everything reconstruction needs.
#[derive(Debug, Clone)]
pub struct ArrayModel {
    /// The level, for reports and redundancy checks.
    pub level: Level,
    /// Data placement.
    pub placement: Placement,
    /// Chunk (strip) size in bytes; 0 where the level does not stripe.
    pub chunk: u64,
    /// Members by slot; `None` for a missing one.
    pub members: Vec<Option<MemberData>>,
    /// Bytes of each member the array uses (the least of them for linear and RAID0).
    pub member_size: u64,
    /// Array size in bytes.
    pub size: u64,
}

fn err<T>(s: impl Into<String>) -> Result<T> {
    Err(Error::geometry(s))
}

/// The RAID10 layout word for a neutral layout name ("near=2", "far=2",
/// "offset=2", "near=2, far=2").
pub fn raid10_word(neutral: &str) -> Option<u32> {
    Raid10Layout::parse(neutral).and_then(Raid10Layout::word)
}

/// What the user (or the metadata) says the array is.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Level.
    pub level: Level,
    /// Neutral layout name (md's words), empty for the level's default.
    pub layout: String,
    /// Chunk bytes.
    pub chunk: u64,
    /// Members by slot.
    pub members: Vec<Option<MemberData>>,
    /// Bytes used on each member, if known (else the least member's data size).
    pub member_size: Option<u64>,
    /// Array bytes, if known.
    pub size: Option<u64>,
    /// DDF spans: (count, secondary level).
    pub spans: Option<(u32, String)>,
}

impl ArrayModel {
    /// Builds and checks a model.
    pub fn new(spec: Spec) -> Result<ArrayModel> {
        let n = spec.members.len() as u32;
        if n == 0 {
            return err("an array needs at least one member");
        }
        let striped = !matches!(spec.level, Level::Linear | Level::Raid1 | Level::Jbod);
        if striped && (spec.chunk < 512 || !spec.chunk.is_power_of_two()) {
            return err(format!(
                "chunk size {} is not a power of two of at least 512 bytes",
                spec.chunk
            ));
        }
        let sizes: Vec<Option<u64>> = spec
            .members
            .iter()
            .map(|m| m.as_ref().map(|m| m.data_size))
            .collect();
        let least = sizes.iter().flatten().copied().min().unwrap_or(0);
        let member_size = spec.member_size.unwrap_or(least);
        for m in spec.members.iter().flatten() {
            if m.data_offset.saturating_add(member_size.min(m.data_size)) > m.volume.len() {
                return err(format!(
                    "member {} is too small: the array's data needs {} bytes from offset {:#x}, the member has {}",
                    m.name,
                    member_size,
                    m.data_offset,
                    m.volume.len()
                ));
            }
        }
        let parity_layout = |level: u8| -> Result<ParityLayout> {
            if level == 4 || spec.layout.is_empty() {
                return Ok(ParityLayout::plain(if level == 4 {
                    ParityAlgo::ParityLast
                } else {
                    ParityAlgo::LeftSymmetric
                }));
            }
            ParityLayout::parse(&spec.layout).ok_or_else(|| {
                Error::geometry(format!(
                    "layout {:?} is not a RAID{level} layout (md's words, with +delay=N for delayed parity)",
                    spec.layout
                ))
            })
        };
        let chunk = spec.chunk;
        let per_member_chunks = member_size.checked_div(chunk).unwrap_or(0);
        // Sizes come from untrusted metadata: their products and sums may overflow.
        let too_big = || Error::geometry("the array's size overflows 64 bits");
        let inner_placement = |level: Level, disks: u32| -> Result<Placement> {
            Ok(match level {
                Level::Raid4 => Placement::Parity(
                    ParityGeometry::new(4, disks, ParityAlgo::ParityLast)
                        .map_err(|e| Error::geometry(e.0))?,
                ),
                Level::Raid5 => Placement::Parity(
                    ParityGeometry::with_layout(5, disks, parity_layout(5)?)
                        .map_err(|e| Error::geometry(e.0))?,
                ),
                Level::Raid6 => Placement::Parity(
                    ParityGeometry::with_layout(6, disks, parity_layout(6)?)
                        .map_err(|e| Error::geometry(e.0))?,
                ),
                Level::Raid1 => Placement::Mirror,
                Level::Raid0 => Placement::Raid0 {
                    zones: raid0_zones(&vec![per_member_chunks; disks as usize]),
                    alternate: false,
                },
                l => return err(format!("{} cannot be a span's level", l.as_str())),
            })
        };
        let (placement, size) = match (&spec.spans, spec.level) {
            (Some((count, _)), level)
                if *count > 1 && !matches!(level, Level::Raid10 | Level::Raid1) =>
            {
                if n % count != 0 {
                    return err(format!("{n} members do not split into {count} equal spans"));
                }
                let per_span = n / count;
                let inner = inner_placement(level, per_span)?;
                let data_per_span = match &inner {
                    Placement::Parity(g) => u64::from(g.data_disks()),
                    Placement::Mirror => 1,
                    _ => u64::from(per_span),
                };
                let size = (per_member_chunks * chunk)
                    .checked_mul(data_per_span * u64::from(*count))
                    .ok_or_else(too_big)?;
                (
                    Placement::Spans {
                        count: *count,
                        per_span,
                        inner: Box::new(inner),
                    },
                    size,
                )
            }
            (_, Level::Linear) | (_, Level::Jbod) => {
                let total = sizes
                    .iter()
                    .try_fold(0u64, |t, s| t.checked_add(s.unwrap_or(member_size)))
                    .ok_or_else(too_big)?;
                (Placement::Linear, total)
            }
            (_, Level::Raid0) => {
                let chunks: Vec<u64> = sizes
                    .iter()
                    .map(|s| s.unwrap_or(member_size) / chunk)
                    .collect();
                let zones = raid0_zones(&chunks);
                let total = zones
                    .iter()
                    .try_fold(0u64, |t, z| t.checked_add(z.chunks))
                    .and_then(|t| t.checked_mul(chunk))
                    .ok_or_else(too_big)?;
                (
                    Placement::Raid0 {
                        zones,
                        alternate: spec.layout == "alternate",
                    },
                    total,
                )
            }
            (_, Level::Raid1) if spec.spans.is_none() => (Placement::Mirror, member_size),
            (_, Level::Raid4 | Level::Raid5 | Level::Raid6) => {
                let p = inner_placement(spec.level, n)?;
                let dd = match &p {
                    Placement::Parity(g) => u64::from(g.data_disks()),
                    _ => 1,
                };
                let size = (per_member_chunks * chunk)
                    .checked_mul(dd)
                    .ok_or_else(too_big)?;
                (p, size)
            }
            (_, Level::Raid10 | Level::Raid1E | Level::Raid1) => {
                let layout = if spec.layout.is_empty() {
                    "near=2"
                } else {
                    spec.layout.as_str()
                };
                let word = raid10_word(layout).ok_or_else(|| {
                    Error::geometry(format!("layout {layout:?} is not a RAID10 layout"))
                })?;
                let g = Raid10Geometry::from_md(n, word, per_member_chunks)
                    .map_err(|e| Error::geometry(e.0))?;
                let size = g.array_chunks.checked_mul(chunk).ok_or_else(too_big)?;
                (Placement::Raid10(g), size)
            }
            (_, l) => return err(format!("{} arrays cannot be assembled", l.as_str())),
        };
        let model = ArrayModel {
            level: spec.level,
            placement,
            chunk,
            members: spec.members,
            member_size,
            size: spec
                .size
                .unwrap_or(size)
                .min(size.max(spec.size.unwrap_or(0))),
        };
        Ok(model)
    }

    /// Slots with no member.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.members.len() as u32)
            .filter(|&i| self.members[i as usize].is_none())
            .collect()
    }

    /// An error when more members are missing than the level can rebuild,
    /// saying which.
    pub fn check_redundancy(&self) -> Result<()> {
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(());
        }
        let ok = match &self.placement {
            Placement::Linear | Placement::Raid0 { .. } => false,
            Placement::Mirror => missing.len() < self.members.len(),
            Placement::Parity(g) => missing.len() as u32 <= g.disks - g.data_disks(),
            Placement::Raid10(g) => (0..g.disks.max(1) * 2).all(|c| {
                g.copies(u64::from(c))
                    .iter()
                    .any(|(d, _)| !missing.contains(d))
            }),
            Placement::Spans {
                count,
                per_span,
                inner,
            } => (0..*count).all(|s| {
                let lost = missing.iter().filter(|&&m| m / per_span == s).count() as u32;
                match inner.as_ref() {
                    Placement::Parity(g) => lost <= g.disks - g.data_disks(),
                    Placement::Mirror => lost < *per_span,
                    _ => lost == 0,
                }
            }),
        };
        if ok {
            Ok(())
        } else {
            err(format!(
                "{} of {} members missing (slots {:?}): more than a {} array can rebuild",
                missing.len(),
                self.members.len(),
                missing,
                self.level.as_str()
            ))
        }
    }

    /// The model of a gathered array: its current members by slot, the
    /// authoritative metadata's geometry.
    pub fn from_array(a: &Array) -> Result<ArrayModel> {
        let info = &a.info;
        // Mirrors hold the same bytes in every slot, so members whose slot
        // is unknown can fill any.
        let any_slot = info.level == Level::Raid1 && info.secondary.is_none();
        if !a.order_known && !any_slot {
            return err("the members' order is unknown (IMSM without serial numbers): give --serial IMAGE=SERIAL");
        }
        // raid_disks is untrusted: no format records roles for more slots than md 1.x.
        if info.raid_disks > super::md::v1::MAX_DEV {
            return err(format!(
                "{} members is more than any array has",
                info.raid_disks
            ));
        }
        let mut members: Vec<Option<MemberData>> = vec![None; info.raid_disks as usize];
        let mut free =
            (0..info.raid_disks).filter(|s| !a.members.iter().any(|m| m.role.slot == Some(*s)));
        for m in &a.members {
            let slot = match m.standing {
                Standing::Current => m.role.slot,
                Standing::Unidentified if any_slot => free.next(),
                _ => None,
            };
            if let Some(slot) = slot.filter(|&s| (s as usize) < members.len()) {
                members[slot as usize] = Some(MemberData {
                    volume: m.volume.clone(),
                    data_offset: m.role.data_offset,
                    data_size: m
                        .role
                        .data_size
                        .unwrap_or_else(|| m.volume.len().saturating_sub(m.role.data_offset)),
                    name: m.path.clone(),
                });
            }
        }
        let layout = match (info.level, info.format) {
            // IMSM RAID10 is md's near=2. Other formats that leave the
            // layout unsaid (the BIOS RAID "RAID 0+1" kinds) are not
            // guessed.
            (Level::Raid10, RaidFormat::Imsm) if info.layout.neutral.is_empty() => {
                "near=2".to_string()
            }
            (Level::Raid10, f) if info.layout.neutral.is_empty() => {
                return err(format!(
                    "the {} metadata does not say how its RAID10 copies are placed: assemble it by hand (--level 10 --layout ...)",
                    f.as_str()
                ))
            }
            _ => info.layout.neutral.clone(),
        };
        ArrayModel::new(Spec {
            level: info.level,
            layout,
            chunk: info.chunk_size.unwrap_or(0),
            members,
            member_size: match info.level {
                Level::Linear | Level::Raid0 => None,
                _ => info.member_size,
            },
            size: info.array_size,
            spans: info.secondary.as_ref().map(|s| (s.count, s.level.clone())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use crate::raid::group::{gather, Candidate};
    use crate::raid::metadata::testing::{md_info, md_member};
    use std::sync::Arc;

    #[test]
    fn from_array_refuses_an_untrusted_member_count() {
        // An md member claiming u32::MAX slots must not allocate one per slot.
        let meta = md_member(md_info(Level::Raid1, u32::MAX, ""));
        let cand = Candidate {
            path: "d0".into(),
            source: "d0".into(),
            serial: None,
            meta: &meta,
            volume: Arc::new(MemVolume::new("t", vec![0u8; 512])),
        };
        let arrays = gather(&[cand]);
        assert!(ArrayModel::from_array(&arrays[0]).is_err());
    }

    #[test]
    fn sizes_from_metadata_that_overflow_are_refused() {
        // Missing members and a member size of u64::MAX: every level's
        // array size overflows and must be an error, not a panic.
        for (level, layout, n, spans) in [
            (Level::Raid5, "", 3, None),
            (Level::Raid6, "", 4, None),
            (Level::Linear, "", 3, None),
            (Level::Raid0, "", 3, None),
            (Level::Raid10, "near=2", 4, None),
            (Level::Raid5, "", 6, Some((2, "striped".to_string()))),
        ] {
            let spec = Spec {
                level,
                layout: layout.into(),
                chunk: 65536,
                members: vec![None; n],
                member_size: Some(u64::MAX),
                size: None,
                spans,
            };
            assert!(ArrayModel::new(spec).is_err(), "{level:?}");
        }
    }
}
