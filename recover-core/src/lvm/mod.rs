//! LVM2: physical volumes found anywhere (whole disks, partitions, arrays,
//! other sources), gathered into the volume groups their metadata names,
//! and logical volumes read from them.

#![deny(clippy::indexing_slicing)]

pub mod config;
pub mod label;
pub mod metadata;
pub mod pv;
pub mod snapshot;
pub mod thin;
pub mod volume;

use std::collections::BTreeMap;

use crate::io::VolumeRef;
use crate::problem::Problem;

pub use metadata::{LogicalVolume, VgMetadata};

/// A PV found on a node.
#[derive(Debug, Clone)]
pub struct PvFound {
    /// The node it was found on (`d0/gpt/p3/lvm2`, `md0/lvm2`).
    pub path: String,
    /// The whole device the label is on.
    pub volume: VolumeRef,
    /// Label and PV header.
    pub header: pv::PvHeader,
    /// Its metadata areas as read.
    pub areas: Vec<pv::AreaRead>,
    /// What could not be read (an area past the end, say).
    pub problems: Vec<Problem>,
    /// Found inside an array: preferred over the same PV seen on a member
    /// (md 1.0 and 0.90 members show the array's first bytes, label too).
    pub on_array: bool,
}

/// Reads the PV on `volume` (node `path`): `None` without a label.
pub fn read_pv(path: &str, volume: VolumeRef, on_array: bool) -> Option<PvFound> {
    let mut problems = Vec::new();
    let header = match pv::read_header(volume.as_ref()) {
        Ok(Some(h)) => h,
        Ok(None) => return None,
        Err(e) => {
            problems.push(Problem::from_error(
                crate::Severity::Error,
                "LVM2 PV header",
                &e,
            ));
            return Some(PvFound {
                path: path.to_string(),
                volume,
                header: pv::PvHeader {
                    label_offset: 0,
                    uuid: String::new(),
                    device_size: 0,
                    data_areas: Vec::new(),
                    metadata_areas: Vec::new(),
                },
                areas: Vec::new(),
                problems,
                on_array,
            });
        }
    };
    let mut areas = Vec::new();
    for &(off, size) in &header.metadata_areas {
        match pv::read_area(volume.as_ref(), off, size) {
            Ok(a) => {
                for (at, why) in &a.problems {
                    problems.push(Problem::error("LVM2 metadata area", Some(*at), why.clone()));
                }
                areas.push(a);
            }
            Err(e) => problems.push(Problem::from_error(
                crate::Severity::Error,
                "LVM2 metadata area",
                &e,
            )),
        }
    }
    Some(PvFound {
        path: path.to_string(),
        volume,
        header,
        areas,
        problems,
        on_array,
    })
}

/// One metadata text found, and what it says.
#[derive(Debug, Clone)]
pub struct MetadataCopy {
    /// The PV node it is on.
    pub pv_path: String,
    /// Byte offset of the text on that PV.
    pub offset: u64,
    /// Its length.
    pub size: u64,
    /// The area's committed text (else an older one left in the ring).
    pub committed: bool,
    /// Whether the committed text's checksum matched.
    pub checksum_ok: Option<bool>,
    /// Its version.
    pub seqno: u64,
    /// When it was written (seconds since 1970).
    pub written: Option<i64>,
    /// The one the VG was read from.
    pub used: bool,
    /// LVs it has that the version used has not (removed since).
    pub lvs_not_in_used: Vec<String>,
}

/// A PV the metadata lists, and where it was found.
#[derive(Debug, Clone)]
pub struct PvStatus {
    /// Its key (pv0, ...).
    pub key: String,
    /// Its UUID.
    pub id: String,
    /// The node it is on, when found.
    pub found_at: Option<String>,
    /// Other nodes that carry the same PV (members of an array that
    /// show the array's start, copies of a disk).
    pub duplicates: Vec<String>,
}

/// A volume group gathered from its PVs.
#[derive(Debug, Clone)]
pub struct VolumeGroup {
    /// The metadata used: the newest committed version found.
    pub metadata: VgMetadata,
    /// Every version found, the one used included.
    pub copies: Vec<MetadataCopy>,
    /// Its PVs.
    pub pvs: Vec<PvStatus>,
    /// The PVs' volumes by key, for reading LVs.
    pub pv_volumes: BTreeMap<String, VolumeRef>,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

/// An LV node's facts.
#[derive(Debug, Clone)]
pub struct LvInfo {
    /// The VG's name.
    pub vg: String,
    /// Bytes per extent.
    pub extent_size: u64,
    /// The LV.
    pub lv: LogicalVolume,
}

struct Parsed<'a> {
    pv: &'a PvFound,
    text: &'a pv::MetadataText,
    vg: VgMetadata,
}

/// Gathers PVs into volume groups by the VG UUID their metadata names,
/// each read from its newest committed metadata.
pub fn gather(found: &[PvFound]) -> Vec<VolumeGroup> {
    let mut by_vg: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    for f in found {
        for a in &f.areas {
            for t in &a.texts {
                if let Ok(vg) = metadata::parse(&t.text) {
                    by_vg
                        .entry(vg.id.clone())
                        .or_default()
                        .push(Parsed { pv: f, text: t, vg });
                }
            }
        }
    }
    let mut out = Vec::new();
    for (_, texts) in by_vg {
        let mut problems = Vec::new();
        // The newest committed text whose checksum holds; failing that, the
        // newest text of any kind.
        let good = |p: &&Parsed| p.text.committed && p.text.checksum_ok == Some(true);
        let chosen = texts
            .iter()
            .filter(good)
            .max_by_key(|p| p.vg.seqno)
            .or_else(|| texts.iter().max_by_key(|p| p.vg.seqno));
        let Some(chosen) = chosen else { continue };
        if !good(&chosen) {
            problems.push(Problem::error(
                "LVM2 metadata",
                Some(chosen.text.offset),
                format!(
                    "no committed metadata with a good checksum; using seqno {} left in the ring of {}",
                    chosen.vg.seqno, chosen.pv.path
                ),
            ));
        }
        let used = chosen.vg.clone();
        let copies = texts
            .iter()
            .map(|p| MetadataCopy {
                pv_path: p.pv.path.clone(),
                offset: p.text.offset,
                size: p.text.size,
                committed: p.text.committed,
                checksum_ok: p.text.checksum_ok,
                seqno: p.vg.seqno,
                written: p.vg.written,
                used: std::ptr::eq(p.text, chosen.text),
                lvs_not_in_used: p
                    .vg
                    .lvs
                    .iter()
                    .filter(|l| used.lv(&l.name).is_none())
                    .map(|l| l.name.clone())
                    .collect(),
            })
            .collect::<Vec<_>>();
        for p in &texts {
            if !p.text.committed || std::ptr::eq(p.text, chosen.text) {
                continue;
            }
            if p.vg.seqno < used.seqno {
                problems.push(Problem::warning(
                    "LVM2 metadata",
                    Some(p.text.offset),
                    format!(
                        "{} holds seqno {}, older than seqno {} used (a PV that missed updates)",
                        p.pv.path, p.vg.seqno, used.seqno
                    ),
                ));
            } else if p.vg.seqno == used.seqno
                && p.text.checksum_ok == Some(true)
                && p.text.text != chosen.text.text
            {
                problems.push(Problem::error(
                    "LVM2 metadata",
                    Some(p.text.offset),
                    format!(
                        "{} holds a different text under the same seqno {}",
                        p.pv.path, p.vg.seqno
                    ),
                ));
            }
        }
        let mut pvs = Vec::new();
        let mut pv_volumes = BTreeMap::new();
        for e in &used.pvs {
            let mut on: Vec<&PvFound> = found
                .iter()
                .filter(|f| !f.header.uuid.is_empty() && f.header.uuid == e.id)
                .collect();
            // Arrays first: a member showing the array's start is not the PV.
            on.sort_by_key(|f| !f.on_array);
            let found_at = on.first().map(|f| f.path.clone());
            if let Some(f) = on.first() {
                pv_volumes.insert(e.key.clone(), f.volume.clone());
                if e.dev_size != 0 && f.volume.len() < e.dev_size {
                    problems.push(Problem::warning(
                        "LVM2 PV",
                        None,
                        format!(
                            "{} ({}) is {} bytes, smaller than the {} the metadata records",
                            e.key,
                            f.path,
                            f.volume.len(),
                            e.dev_size
                        ),
                    ));
                }
            } else {
                let users: Vec<&str> = used
                    .lvs
                    .iter()
                    .filter(|l| uses_pv(l, &e.key))
                    .map(|l| l.name.as_str())
                    .collect();
                problems.push(Problem::error(
                    "LVM2 PV",
                    None,
                    format!(
                        "{} ({}, last seen as {}) is not among the sources{}",
                        e.key,
                        e.id,
                        e.device.as_deref().unwrap_or("?"),
                        if users.is_empty() {
                            String::new()
                        } else {
                            format!("; LVs with extents on it: {}", users.join(", "))
                        }
                    ),
                ));
            }
            let duplicates: Vec<String> = on.iter().skip(1).map(|f| f.path.clone()).collect();
            pvs.push(PvStatus {
                key: e.key.clone(),
                id: e.id.clone(),
                found_at,
                duplicates,
            });
        }
        out.push(VolumeGroup {
            metadata: used,
            copies,
            pvs,
            pv_volumes,
            problems,
        });
    }
    out
}

fn uses_pv(lv: &LogicalVolume, key: &str) -> bool {
    lv.segments.iter().any(|s| match &s.kind {
        metadata::SegmentKind::Striped { areas, .. } => areas
            .iter()
            .any(|a| matches!(a, metadata::Area::Pv { pv, .. } if pv == key)),
        _ => false,
    })
}
