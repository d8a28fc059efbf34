//! A volume group as its metadata text describes it (lvm2
//! lib/format_text/import_vsn1.c reads the same keys): the VG section named
//! after the VG, with `id`, `seqno`, `extent_size` (sectors),
//! `physical_volumes { pvN { id, device, dev_size, pe_start, pe_count } }`
//! and `logical_volumes { NAME { id, status, segment_count, segmentN {
//! start_extent, extent_count, type, ... } } }`. Sizes in the text are in
//! 512-byte sectors; here they are bytes.

use super::config::{self, Section, Value};

/// Where a segment's data lies: extents of a PV, or of another LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    /// `pvN`, from physical extent `start`.
    Pv {
        /// The PV's key in `physical_volumes` (pv0, pv1, ...).
        pv: String,
        /// First physical extent.
        start: u64,
    },
    /// An LV, from its logical extent `start`.
    Lv {
        /// The LV's name.
        lv: String,
        /// First logical extent.
        start: u64,
    },
}

/// What a segment is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentKind {
    /// `striped` (linear when there is one stripe): chunks of `stripe_size`
    /// bytes in turn on each area.
    Striped {
        /// Bytes per chunk (0 for linear).
        stripe_size: u64,
        /// The stripes, in order.
        areas: Vec<Area>,
    },
    /// `mirror` or `raid1`: every leg holds all the data.
    Mirror {
        /// The legs (image LVs).
        legs: Vec<Area>,
    },
    /// Other RAID levels (raid0, raid4, raid5*, raid6*, raid10): images
    /// with their metadata sub-LVs.
    Raid {
        /// The segment type: raid0, raid4, raid5_ls, raid6_zr, raid10, ...
        level: String,
        /// Bytes per chunk.
        stripe_size: u64,
        /// The image LVs, in order.
        images: Vec<String>,
    },
    /// A thin pool: its data and metadata sub-LVs.
    ThinPool {
        /// The data LV (`pool_tdata`).
        data: String,
        /// The metadata LV (`pool_tmeta`).
        metadata: String,
        /// Bytes per chunk.
        chunk_size: u64,
        /// The pool's transaction id.
        transaction_id: u64,
    },
    /// A thin LV in a pool.
    Thin {
        /// The pool LV.
        pool: String,
        /// Its device id in the pool's metadata.
        device_id: u64,
        /// The LV it is a snapshot of, when it is one.
        origin: Option<String>,
    },
    /// A classic (COW) snapshot.
    Snapshot {
        /// The origin LV.
        origin: String,
        /// The LV holding the copied-on-write chunks.
        cow_store: String,
        /// Bytes per chunk.
        chunk_size: u64,
    },
    /// `zero`: reads as zeros.
    Zero,
    /// `error`: every read fails.
    Error,
    /// A type not read here (cache, vdo, writecache, integrity, ...).
    Other,
}

/// One segment of an LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// First logical extent.
    pub start_extent: u64,
    /// Extents.
    pub extent_count: u64,
    /// The type as written (`striped`, `raid1`, `thin`, ...).
    pub type_name: String,
    /// What it is.
    pub kind: SegmentKind,
}

/// A logical volume.
#[derive(Debug, Clone)]
pub struct LogicalVolume {
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub id: String,
    /// `status` flags (READ, WRITE, VISIBLE, ...).
    pub status: Vec<String>,
    /// Whether users see it (sub-LVs such as `r1_rimage_0` are hidden).
    pub visible: bool,
    /// When it was made (seconds since 1970), when recorded.
    pub creation_time: Option<i64>,
    /// Its segments, in LV order.
    pub segments: Vec<Segment>,
}

impl LogicalVolume {
    /// Extents it spans.
    pub fn extents(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.start_extent.saturating_add(s.extent_count))
            .max()
            .unwrap_or(0)
    }

    /// The segment types, joined (`striped`, `raid1`, `thin`...; linear
    /// for one-stripe striped segments).
    pub fn kind_name(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for s in &self.segments {
            let n = match &s.kind {
                SegmentKind::Striped { areas, .. } if areas.len() == 1 => "linear",
                _ => s.type_name.as_str(),
            };
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.join("+")
    }
}

/// A physical volume as the metadata lists it.
#[derive(Debug, Clone)]
pub struct PvEntry {
    /// Its key (pv0, pv1, ...).
    pub key: String,
    /// Its UUID.
    pub id: String,
    /// The device it was last seen as (a hint only).
    pub device: Option<String>,
    /// Bytes of the device.
    pub dev_size: u64,
    /// Byte offset of the first physical extent.
    pub pe_start: u64,
    /// Physical extents.
    pub pe_count: u64,
    /// `status` flags; MISSING when LVM saw it gone.
    pub status: Vec<String>,
}

/// A volume group.
#[derive(Debug, Clone)]
pub struct VgMetadata {
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub id: String,
    /// The metadata version: every change adds one.
    pub seqno: u64,
    /// Bytes per extent.
    pub extent_size: u64,
    /// `status` flags.
    pub status: Vec<String>,
    /// Its PVs.
    pub pvs: Vec<PvEntry>,
    /// Its LVs, hidden ones included, in the order written.
    pub lvs: Vec<LogicalVolume>,
    /// The text's `creation_time` (when this version was written).
    pub written: Option<i64>,
    /// The text's `creation_host`.
    pub host: Option<String>,
}

impl VgMetadata {
    /// The LV named `name`.
    pub fn lv(&self, name: &str) -> Option<&LogicalVolume> {
        self.lvs.iter().find(|l| l.name == name)
    }

    /// The PV with key `key`.
    pub fn pv(&self, key: &str) -> Option<&PvEntry> {
        self.pvs.iter().find(|p| p.key == key)
    }
}

/// Sectors to bytes, refusing sizes that overflow.
fn sectors(n: u64) -> Option<u64> {
    n.checked_mul(512)
}

/// Reads a VG from a metadata text: `Err` (offset in the text, why) when
/// the text does not parse or has no VG section with an id and seqno.
pub fn parse(text: &[u8]) -> Result<VgMetadata, (usize, String)> {
    let top = config::parse(text)?;
    // The VG section is the one section at the top level.
    let (name, vg) = top
        .sections()
        .next()
        .ok_or((0, "no volume group section".to_string()))?;
    let need = |what: &str| (0usize, format!("volume group {name:?} has no {what}"));
    let id = vg.str("id").ok_or_else(|| need("id"))?.to_string();
    let seqno = vg.uint("seqno").ok_or_else(|| need("seqno"))?;
    let extent_size = vg
        .uint("extent_size")
        .and_then(sectors)
        .filter(|&e| e >= 512)
        .ok_or_else(|| need("valid extent_size"))?;
    let pvs = vg
        .section("physical_volumes")
        .map(|s| s.sections().map(|(k, p)| pv_entry(k, p)).collect())
        .unwrap_or_default();
    let lvs = vg
        .section("logical_volumes")
        .map(|s| s.sections().map(|(k, l)| lv_entry(k, l)).collect())
        .unwrap_or_default();
    Ok(VgMetadata {
        name: name.to_string(),
        id,
        seqno,
        extent_size,
        status: vg.strings("status"),
        pvs,
        lvs,
        written: top.int("creation_time"),
        host: top.str("creation_host").map(str::to_string),
    })
}

fn pv_entry(key: &str, p: &Section) -> PvEntry {
    PvEntry {
        key: key.to_string(),
        id: p.str("id").unwrap_or("").to_string(),
        device: p.str("device").map(str::to_string),
        dev_size: p.uint("dev_size").and_then(sectors).unwrap_or(0),
        pe_start: p.uint("pe_start").and_then(sectors).unwrap_or(0),
        pe_count: p.uint("pe_count").unwrap_or(0),
        status: p.strings("status"),
    }
}

fn lv_entry(name: &str, l: &Section) -> LogicalVolume {
    let status = l.strings("status");
    let mut segments: Vec<Segment> = l
        .sections()
        .filter(|(k, _)| k.starts_with("segment"))
        .filter_map(|(_, s)| segment(s))
        .collect();
    segments.sort_by_key(|s| s.start_extent);
    LogicalVolume {
        name: name.to_string(),
        id: l.str("id").unwrap_or("").to_string(),
        visible: status.iter().any(|s| s == "VISIBLE"),
        status,
        creation_time: l.int("creation_time"),
        segments,
    }
}

/// `[ "name", n, "name", n ]` pairs.
fn pairs(list: &[Value]) -> Vec<(String, u64)> {
    list.chunks(2)
        .filter_map(|c| match c {
            [Value::Str(s), Value::Int(n)] => Some((s.clone(), u64::try_from(*n).ok()?)),
            _ => None,
        })
        .collect()
}

fn names(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(|v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn segment(s: &Section) -> Option<Segment> {
    let type_name = s.str("type").unwrap_or("").to_string();
    let chunk = |key: &str| s.uint(key).and_then(sectors).unwrap_or(0);
    let kind = match type_name.as_str() {
        "striped" => SegmentKind::Striped {
            stripe_size: chunk("stripe_size"),
            areas: pairs(s.list("stripes").unwrap_or(&[]))
                .into_iter()
                .map(|(pv, start)| Area::Pv { pv, start })
                .collect(),
        },
        "mirror" => SegmentKind::Mirror {
            legs: pairs(s.list("mirrors").unwrap_or(&[]))
                .into_iter()
                .map(|(lv, start)| Area::Lv { lv, start })
                .collect(),
        },
        t if t.starts_with("raid") => {
            let raids = names(s.list("raids").unwrap_or(&[]));
            // (rmeta, rimage) pairs; raid0 without metadata lists images only.
            let images: Vec<String> = if t == "raid0" {
                raids
            } else {
                raids.chunks(2).filter_map(|c| c.get(1).cloned()).collect()
            };
            if t == "raid1" {
                SegmentKind::Mirror {
                    legs: images
                        .into_iter()
                        .map(|lv| Area::Lv { lv, start: 0 })
                        .collect(),
                }
            } else {
                SegmentKind::Raid {
                    level: t.to_string(),
                    stripe_size: chunk("stripe_size"),
                    images,
                }
            }
        }
        "thin-pool" => SegmentKind::ThinPool {
            data: s.str("pool").unwrap_or("").to_string(),
            metadata: s.str("metadata").unwrap_or("").to_string(),
            chunk_size: chunk("chunk_size"),
            transaction_id: s.uint("transaction_id").unwrap_or(0),
        },
        "thin" => SegmentKind::Thin {
            pool: s.str("thin_pool").unwrap_or("").to_string(),
            device_id: s.uint("device_id").unwrap_or(0),
            origin: s.str("origin").map(str::to_string),
        },
        "snapshot" => SegmentKind::Snapshot {
            origin: s.str("origin").unwrap_or("").to_string(),
            cow_store: s.str("cow_store").unwrap_or("").to_string(),
            chunk_size: chunk("chunk_size"),
        },
        "zero" => SegmentKind::Zero,
        "error" => SegmentKind::Error,
        _ => SegmentKind::Other,
    };
    Some(Segment {
        start_extent: s.uint("start_extent")?,
        extent_count: s.uint("extent_count")?,
        type_name,
        kind,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    const TEXT: &str = r#"vg0 {
id = "bHpvUo-fJTj-wG3n-fBwo-SgSJ-3fMM-Dky3eZ"
seqno = 7
format = "lvm2"
status = ["RESIZEABLE", "READ", "WRITE"]
extent_size = 2048
physical_volumes {
pv0 {
id = "NcPXnR-6wpX-OYE8-dNXD-orPm-97bu-GOLkkJ"
device = "/dev/ubda"
status = ["ALLOCATABLE"]
dev_size = 131072
pe_start = 2048
pe_count = 63
}
}
logical_volumes {
span {
id = "abdFnr-ZbND-B1F2-XV3c-18UZ-fyVS-MNExBW"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 2
segment2 {
start_extent = 12
extent_count = 20
type = "striped"
stripe_count = 2
stripe_size = 128
stripes = [
"pv0", 40,
"pv1", 0
]
}
segment1 {
start_extent = 0
extent_count = 12
type = "striped"
stripe_count = 1
stripes = [
"pv1", 0
]
}
}
r1 {
id = "x"
status = ["READ", "WRITE", "VISIBLE"]
segment1 {
start_extent = 0
extent_count = 8
type = "raid1"
raids = [
"r1_rmeta_0", "r1_rimage_0",
"r1_rmeta_1", "r1_rimage_1"
]
}
}
}
}
contents = "Text Format Volume Group"
creation_host = "lvmlab"
creation_time = 1795344233
"#;

    #[test]
    fn a_vg_is_read_from_its_text() {
        let vg = parse(TEXT.as_bytes()).unwrap();
        assert_eq!(vg.name, "vg0");
        assert_eq!(vg.seqno, 7);
        assert_eq!(vg.extent_size, 1 << 20);
        assert_eq!(vg.pvs[0].pe_start, 1 << 20);
        assert_eq!(vg.pvs[0].dev_size, 64 << 20);
        assert_eq!(vg.written, Some(1_795_344_233));
        let span = vg.lv("span").unwrap();
        assert!(span.visible);
        assert_eq!(span.extents(), 32);
        // Segments come out in LV order whatever order they were written in.
        assert_eq!(span.segments[0].start_extent, 0);
        assert_eq!(
            span.segments[1].kind,
            SegmentKind::Striped {
                stripe_size: 64 << 10,
                areas: vec![
                    Area::Pv {
                        pv: "pv0".into(),
                        start: 40
                    },
                    Area::Pv {
                        pv: "pv1".into(),
                        start: 0
                    }
                ]
            }
        );
        assert_eq!(span.kind_name(), "linear+striped");
        let r1 = vg.lv("r1").unwrap();
        assert_eq!(
            r1.segments[0].kind,
            SegmentKind::Mirror {
                legs: vec![
                    Area::Lv {
                        lv: "r1_rimage_0".into(),
                        start: 0
                    },
                    Area::Lv {
                        lv: "r1_rimage_1".into(),
                        start: 0
                    }
                ]
            }
        );
    }

    #[test]
    fn texts_without_a_vg_are_refused() {
        assert!(parse(b"contents = \"x\"").is_err());
        assert!(parse(b"vg { seqno = 1 }").is_err());
        assert!(parse(b"vg { id = \"a\" seqno = 1 extent_size = 0 }").is_err());
    }
}
