//! Logical volumes as volumes: each segment maps its logical extents onto
//! extents of PVs (linear, striped) or of other LVs (mirror and raid1
//! legs), and the LV is its segments end to end (what dm-linear,
//! dm-striped and dm-raid serve: lvm2 lib/activate/dev_manager.c builds
//! those tables from the same metadata).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bytes::take_front;
use crate::error::{Error, Result};
use crate::io::{check_range, Concat, Gather, Origin, Origins, Slice, Volume, VolumeRef, Zeros};

use super::metadata::{Area, LogicalVolume, SegmentKind, VgMetadata};

/// How deep LVs may stack (an LV whose segment is another LV's, ...):
/// LVM itself goes 3 deep (thin pool -> tdata -> raid image).
const MAX_STACK: usize = 8;

/// Where byte `offset` of a striped segment lies: (stripe, offset in that
/// stripe's area). Chunk `c` of `stripe` bytes goes to stripe `c % n`, row
/// `c / n` (dm-striped's mapping).
pub fn striped_map(offset: u64, n: u64, stripe: u64) -> (u64, u64) {
    let chunk = offset / stripe;
    (chunk % n, (chunk / n) * stripe + offset % stripe)
}

/// The md level and layout (md's words) dm-raid runs an LVM RAID segment
/// type with (the kernel's drivers/md/dm-raid.c raid_types table).
pub fn raid_layout(t: &str) -> Option<(crate::raid::metadata::Level, &'static str)> {
    use crate::raid::metadata::Level::*;
    Some(match t {
        "raid0" | "raid0_meta" => (Raid0, ""),
        "raid1" => (Raid1, ""),
        "raid10" | "raid10_near" => (Raid10, "near=2"),
        "raid4" => (Raid5, "parity-first"),
        "raid5_n" => (Raid5, "parity-last"),
        "raid5" | "raid5_ls" => (Raid5, "left-symmetric"),
        "raid5_la" => (Raid5, "left-asymmetric"),
        "raid5_rs" => (Raid5, "right-symmetric"),
        "raid5_ra" => (Raid5, "right-asymmetric"),
        "raid6" | "raid6_zr" => (Raid6, "ddf-zero-restart"),
        "raid6_nr" => (Raid6, "ddf-N-restart"),
        "raid6_nc" => (Raid6, "ddf-N-continue"),
        "raid6_n_6" => (Raid6, "parity-last"),
        "raid6_ls_6" => (Raid6, "left-symmetric-6"),
        "raid6_la_6" => (Raid6, "left-asymmetric-6"),
        "raid6_rs_6" => (Raid6, "right-symmetric-6"),
        "raid6_ra_6" => (Raid6, "right-asymmetric-6"),
        _ => return None,
    })
}

/// A striped segment.
#[derive(Debug)]
struct Striped {
    areas: Vec<VolumeRef>,
    stripe: u64,
    len: u64,
    name: String,
}

impl Volume for Striped {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let n = self.areas.len() as u64;
        let mut pos = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let (i, at) = striped_map(pos, n, self.stripe);
            let area = self.areas.get(i as usize).ok_or_else(|| {
                Error::geometry(format!("stripe {i} of a {n}-stripe segment")) // i < n
            })?;
            let out = take_front(&mut rest, self.stripe - pos % self.stripe);
            area.read_at(at, out)?;
            pos += out.len() as u64;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len);
        let n = self.areas.len() as u64;
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end && self.stripe > 0 {
            let (i, at) = striped_map(pos, n, self.stripe);
            let m = (self.stripe - pos % self.stripe).min(end - pos);
            if let Some(area) = self.areas.get(i as usize) {
                g.map(area.as_ref(), at, pos, m);
            }
            pos += m;
        }
        g.finish()
    }
}

/// A mirror leg read in place of the first, which is not whole: its
/// bytes as they are, each of them read from another copy.
#[derive(Debug)]
struct OtherLeg(VolumeRef);

impl Volume for OtherLeg {
    fn len(&self) -> u64 {
        self.0.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_at(offset, buf)
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_bytes()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        self.0.slice_at(offset, len)
    }

    fn prefetch(&self, offset: u64, len: u64) {
        self.0.prefetch(offset, len)
    }

    fn hole_at(&self, offset: u64) -> u64 {
        self.0.hole_at(offset)
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len());
        let mut o = self.0.origins(offset, len);
        o.add(offset.min(end)..end, Origin::Mirror);
        o
    }
}

/// Why part of an LV cannot be read as LVM would serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The LV.
    pub lv: String,
    /// Byte range in the LV.
    pub range: std::ops::Range<u64>,
    /// Why, in words.
    pub why: String,
}

/// What one LV reads as.
#[derive(Debug)]
pub enum Built {
    /// Its bytes (with gaps read as zeros, listed separately).
    Volume(VolumeRef),
    /// It cannot be read here, and why.
    Unreadable(String),
}

/// Builds LV volumes over the PVs that were found.
#[derive(Debug)]
pub struct Builder<'a> {
    vg: &'a VgMetadata,
    /// PV key -> the PV's volume (the whole device the label is on).
    pvs: &'a BTreeMap<String, VolumeRef>,
    /// The VG's node path, for names.
    prefix: String,
    /// Parts read as zeros, for the caller to report.
    pub gaps: Vec<Gap>,
    /// Doubts about LVs that read all the same: (LV, what).
    pub warnings: Vec<(String, String)>,
}

impl<'a> Builder<'a> {
    /// For `vg`, whose PVs found are `pvs` (by key: pv0, pv1, ...).
    pub fn new(vg: &'a VgMetadata, pvs: &'a BTreeMap<String, VolumeRef>, prefix: String) -> Self {
        Builder {
            vg,
            pvs,
            prefix,
            gaps: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The LV named `name`.
    pub fn build(&mut self, name: &str) -> Built {
        match self.lv(name, 0) {
            Ok(v) => Built::Volume(v),
            Err(e) => Built::Unreadable(e),
        }
    }

    fn lv(&mut self, name: &str, depth: usize) -> std::result::Result<VolumeRef, String> {
        if depth > MAX_STACK {
            return Err(format!("LVs stacked more than {MAX_STACK} deep (a loop?)"));
        }
        let lv = self
            .vg
            .lv(name)
            .ok_or_else(|| format!("LV {name:?} is named but not in the metadata"))?;
        let es = self.vg.extent_size;
        let mut parts: Vec<VolumeRef> = Vec::new();
        let mut at = 0u64; // extents so far
        for seg in &lv.segments {
            if seg.start_extent != at {
                return Err(format!(
                    "segment at extent {} does not follow extent {at}",
                    seg.start_extent
                ));
            }
            let len = seg
                .extent_count
                .checked_mul(es)
                .ok_or_else(|| format!("{} extents overflow", seg.extent_count))?;
            let base = at * es;
            parts.push(self.segment(lv, &seg.kind, base, len, depth)?);
            at += seg.extent_count;
        }
        if parts.is_empty() {
            return Err("it has no segments".into());
        }
        Ok(match parts.len() {
            1 => parts.pop().unwrap_or_else(|| unreachable!()),
            _ => Arc::new(Concat::new(parts, format!("{}/{}", self.prefix, lv.name))),
        })
    }

    fn segment(
        &mut self,
        lv: &LogicalVolume,
        kind: &SegmentKind,
        base: u64,
        len: u64,
        depth: usize,
    ) -> std::result::Result<VolumeRef, String> {
        let name = format!("{}/{}@{base:#x}", self.prefix, lv.name);
        match kind {
            SegmentKind::Striped { stripe_size, areas } => {
                let n = areas.len() as u64;
                if n == 0 {
                    return Err("striped segment with no stripes".into());
                }
                if len % n != 0 {
                    return Err(format!("{len} bytes do not split into {n} stripes"));
                }
                let each = len / n;
                let vols: Vec<VolumeRef> = areas
                    .iter()
                    .enumerate()
                    .map(|(i, a)| self.area(lv, a, each, base + i as u64, depth))
                    .collect::<std::result::Result<_, _>>()?;
                if n == 1 {
                    return Ok(vols.into_iter().next().unwrap_or_else(|| unreachable!()));
                }
                if *stripe_size == 0 || each % stripe_size != 0 {
                    return Err(format!("stripe size {stripe_size} does not divide {each}"));
                }
                Ok(Arc::new(Striped {
                    areas: vols,
                    stripe: *stripe_size,
                    len,
                    name,
                }))
            }
            SegmentKind::Mirror { legs } => {
                // Any whole leg serves; the first one that reads is used.
                let mut why = Vec::new();
                for (k, leg) in legs.iter().enumerate() {
                    let before = self.gaps.len();
                    match self.area(lv, leg, len, base, depth) {
                        Ok(v) if self.gaps.len() == before && k == 0 => return Ok(v),
                        Ok(v) if self.gaps.len() == before => return Ok(Arc::new(OtherLeg(v))),
                        Ok(_) => {
                            let lost: Vec<String> =
                                self.gaps.drain(before..).map(|g| g.why).collect();
                            why.push(lost.join("; "));
                        }
                        Err(e) => why.push(e),
                    }
                }
                let first = legs.first().ok_or("mirror with no legs")?;
                // No whole leg: the first, with its gaps reported.
                let v = self.area(lv, first, len, base, depth)?;
                self.gaps.push(Gap {
                    lv: lv.name.clone(),
                    range: base..base + len,
                    why: format!("no mirror leg is whole ({})", why.join(" / ")),
                });
                Ok(v)
            }
            SegmentKind::Zero => Ok(Arc::new(Zeros::new(len, name))),
            SegmentKind::Error => {
                self.gaps.push(Gap {
                    lv: lv.name.clone(),
                    range: base..base + len,
                    why: "an \"error\" segment (reads fail under LVM); read as zeros".into(),
                });
                Ok(Arc::new(Zeros::missing(len, name)))
            }
            SegmentKind::Raid {
                level,
                stripe_size,
                images,
            } => self.raid(lv, level, *stripe_size, images, base, len, name, depth),
            SegmentKind::ThinPool { .. } => {
                Err("a thin pool: its thin LVs are the volumes to read".into())
            }
            SegmentKind::Thin {
                pool, device_id, ..
            } => {
                if base != 0 {
                    return Err("a thin segment that does not start the LV".into());
                }
                let Some(SegmentKind::ThinPool {
                    data,
                    metadata,
                    transaction_id,
                    ..
                }) = self
                    .vg
                    .lv(pool)
                    .and_then(|p| p.segments.first())
                    .map(|s| &s.kind)
                else {
                    return Err(format!(
                        "its pool {pool:?} is not a thin pool in the metadata"
                    ));
                };
                let meta = self.lv(metadata, depth + 1)?;
                let data = self.lv(data, depth + 1)?;
                let (v, sb) = super::thin::ThinVolume::open(meta, data, *device_id, len, name)
                    .map_err(|e| e.to_string())?;
                if !sb.checksum_ok {
                    self.warnings.push((
                        lv.name.clone(),
                        format!("the pool {pool:?} superblock or mapping root fails its checksum; read anyway"),
                    ));
                }
                if sb.trans_id != *transaction_id {
                    self.warnings.push((
                        lv.name.clone(),
                        format!(
                            "the pool {pool:?} is at transaction {}, the LVM metadata expects {transaction_id} (a pool not closed cleanly?)",
                            sb.trans_id
                        ),
                    ));
                }
                Ok(v)
            }
            SegmentKind::Snapshot {
                origin,
                cow_store,
                chunk_size,
            } => {
                if base != 0 {
                    return Err("a snapshot segment that does not start the LV".into());
                }
                let o = self.lv(origin, depth + 1)?;
                let c = self.lv(cow_store, depth + 1)?;
                let (v, info) =
                    super::snapshot::SnapshotVolume::open(o, c, name).map_err(|e| e.to_string())?;
                if !info.valid {
                    self.warnings.push((
                        lv.name.clone(),
                        format!("the snapshot was invalidated (its COW store {cow_store:?} filled up); LVM refuses it, read as it stands"),
                    ));
                }
                if info.chunk_size != *chunk_size {
                    self.warnings.push((
                        lv.name.clone(),
                        format!(
                            "the COW store says {}-byte chunks, the metadata {chunk_size}; the store's are used",
                            info.chunk_size
                        ),
                    ));
                }
                Ok(v)
            }
            SegmentKind::Other => Err(format!(
                "segment type {:?} is not supported",
                lv.segments
                    .iter()
                    .map(|s| s.type_name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        }
    }

    /// A RAID segment over image sub-LVs, assembled as the md personality
    /// dm-raid runs it; an image that cannot be read whole is a missing
    /// member, rebuilt from parity or its mirror.
    #[allow(clippy::too_many_arguments)]
    fn raid(
        &mut self,
        lv: &LogicalVolume,
        level: &str,
        stripe_size: u64,
        images: &[String],
        base: u64,
        len: u64,
        name: String,
        depth: usize,
    ) -> std::result::Result<VolumeRef, String> {
        use crate::raid::metadata::Level;
        use crate::raid::model::{ArrayModel, MemberData, Spec};
        if base != 0 {
            return Err(format!("a {level} segment that does not start the LV"));
        }
        let (lvl, layout) = raid_layout(level)
            .ok_or_else(|| format!("RAID segment type {level:?} is not supported"))?;
        let mut members = Vec::new();
        let mut lost = Vec::new();
        for img in images {
            let before = self.gaps.len();
            match self.lv(img, depth + 1) {
                Ok(v) if self.gaps.len() == before => members.push(Some(MemberData {
                    data_offset: 0,
                    data_size: v.len(),
                    name: format!("{}/{img}", self.prefix),
                    volume: v,
                })),
                Ok(_) => {
                    let why: Vec<String> = self.gaps.drain(before..).map(|g| g.why).collect();
                    lost.push(format!("{img} ({})", why.join("; ")));
                    members.push(None);
                }
                Err(e) => {
                    lost.push(format!("{img} ({e})"));
                    members.push(None);
                }
            }
        }
        let model = ArrayModel::new(Spec {
            level: lvl,
            layout: layout.to_string(),
            chunk: if lvl == Level::Raid1 { 0 } else { stripe_size },
            members,
            member_size: None,
            size: None,
            spans: None,
        })
        .map_err(|e| format!("{level}: {e}"))?;
        if model.size < len {
            return Err(format!(
                "its images hold {} bytes, less than the segment's {len}",
                model.size
            ));
        }
        let vol = crate::raid::volume::ArrayVolume::new(name.clone(), model, false)
            .map_err(|e| format!("{level} with {} lost: {e}", lost.join(", ")))?;
        if !lost.is_empty() {
            self.warnings.push((
                lv.name.clone(),
                format!(
                    "images {} not read; rebuilt from the others as dm-raid would",
                    lost.join(", ")
                ),
            ));
        }
        Ok(Arc::new(Slice::new(Arc::new(vol), 0, len, name)))
    }

    /// `len` bytes of an area; `at` is where they sit in the LV (for gaps).
    fn area(
        &mut self,
        lv: &LogicalVolume,
        area: &Area,
        len: u64,
        at: u64,
        depth: usize,
    ) -> std::result::Result<VolumeRef, String> {
        match area {
            Area::Pv { pv, start } => {
                let entry = self.vg.pv(pv).ok_or_else(|| {
                    format!("segment names {pv}, which the metadata does not list")
                })?;
                let name = format!("{}/{}:{pv}", self.prefix, lv.name);
                let Some(vol) = self.pvs.get(pv) else {
                    self.gaps.push(Gap {
                        lv: lv.name.clone(),
                        range: at..at.saturating_add(len),
                        why: format!("on {pv} ({}), which was not found; read as zeros", entry.id),
                    });
                    return Ok(Arc::new(Zeros::missing(len, name)));
                };
                let off = start
                    .checked_mul(self.vg.extent_size)
                    .and_then(|o| o.checked_add(entry.pe_start))
                    .ok_or_else(|| format!("extent {start} of {pv} overflows"))?;
                let slice: VolumeRef = Arc::new(Slice::new(vol.clone(), off, len, name.clone()));
                if slice.len() == len {
                    return Ok(slice);
                }
                self.gaps.push(Gap {
                    lv: lv.name.clone(),
                    range: at + slice.len()..at + len,
                    why: format!(
                        "{pv} ends at {:#x}, before its extents do ({:#x}); read as zeros",
                        vol.len(),
                        off + len
                    ),
                });
                let rest = len - slice.len();
                Ok(Arc::new(Concat::new(
                    vec![slice, Arc::new(Zeros::missing(rest, name.clone()))],
                    name,
                )))
            }
            Area::Lv { lv: sub, start } => {
                let v = self.lv(sub, depth + 1)?;
                let off = start
                    .checked_mul(self.vg.extent_size)
                    .ok_or_else(|| format!("extent {start} of {sub} overflows"))?;
                if off.checked_add(len).is_none_or(|end| end > v.len()) {
                    return Err(format!(
                        "{sub} is {} bytes, shorter than its use here ({len} bytes from {off})",
                        v.len()
                    ));
                }
                Ok(Arc::new(Slice::new(
                    v,
                    off,
                    len,
                    format!("{}/{}:{sub}", self.prefix, lv.name),
                )))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use crate::lvm::metadata;
    use proptest::prelude::*;

    proptest! {
        /// Every byte of a striped segment comes from exactly one place,
        /// and consecutive chunks go to consecutive stripes.
        #[test]
        fn striped_map_is_a_bijection(n in 1u64..8, shift in 9u32..20, rows in 1u64..8) {
            let stripe = 1u64 << shift;
            let len = n * rows * stripe;
            let mut seen = std::collections::BTreeSet::new();
            for chunk in 0..len / stripe {
                let (i, at) = striped_map(chunk * stripe + stripe / 2, n, stripe);
                prop_assert!(i < n);
                prop_assert!(at < rows * stripe);
                prop_assert_eq!(i, chunk % n);
                prop_assert!(seen.insert((i, at)));
            }
        }
    }

    fn vg(text: &str) -> VgMetadata {
        metadata::parse(text.as_bytes()).unwrap()
    }

    fn pv(fill: impl Fn(usize) -> u8) -> VolumeRef {
        Arc::new(MemVolume::new(
            "pv",
            (0..64 << 10).map(fill).collect::<Vec<u8>>(),
        ))
    }

    const VG: &str = r#"vg {
id = "v"
seqno = 1
extent_size = 16
physical_volumes {
pv0 { id = "a" pe_start = 8 pe_count = 7 }
pv1 { id = "b" pe_start = 8 pe_count = 7 }
}
logical_volumes {
lin { id = "1" status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripes = ["pv1", 2] }
segment2 { start_extent = 1 extent_count = 1 type = "striped" stripes = ["pv0", 0] }
}
str { id = "2" status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_size = 8 stripes = ["pv0", 1, "pv1", 1] }
}
mir { id = "3" status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "mirror" mirrors = ["leg0", 0, "leg1", 0] }
}
leg0 { id = "4" segment1 { start_extent = 0 extent_count = 1 type = "striped" stripes = ["pv0", 3] } }
leg1 { id = "5" segment1 { start_extent = 0 extent_count = 1 type = "striped" stripes = ["pv1", 3] } }
loop { id = "6" segment1 { start_extent = 0 extent_count = 1 type = "mirror" mirrors = ["loop", 0] } }
}
}"#;

    fn read_all(v: &VolumeRef) -> Vec<u8> {
        let mut b = vec![0; v.len() as usize];
        v.read_at(0, &mut b).unwrap();
        b
    }

    #[test]
    fn segments_map_onto_their_pvs() {
        let vg = vg(VG);
        let es = 16 * 512;
        let p0 = pv(|i| (i / 512) as u8);
        let p1 = pv(|i| 0x80 | (i / 512) as u8);
        let pvs = BTreeMap::from([("pv0".to_string(), p0), ("pv1".to_string(), p1)]);
        let mut b = Builder::new(&vg, &pvs, "lvm/vg".into());
        let Built::Volume(lin) = b.build("lin") else {
            panic!()
        };
        let d = read_all(&lin);
        assert_eq!(d.len(), 2 * es);
        // pe_start 8 sectors + 2 extents of 16 sectors on pv1, then pv0 extent 0.
        assert_eq!(d[0], 0x80 | 40);
        assert_eq!(d[es], 8);
        let Built::Volume(st) = b.build("str") else {
            panic!()
        };
        let d = read_all(&st);
        // 4 KiB chunks alternate: pv0 extent 1, pv1 extent 1, pv0 + 4 KiB, ...
        assert_eq!(d[0], 24);
        assert_eq!(d[4096], 0x80 | 24);
        assert_eq!(d[8192], 32);
        assert!(b.gaps.is_empty());
        // A loop of LVs is refused, not followed.
        assert!(matches!(b.build("loop"), Built::Unreadable(e) if e.contains("deep")));
    }

    #[test]
    fn a_missing_pv_reads_as_zeros_and_a_mirror_uses_the_leg_it_has() {
        let vg = vg(VG);
        let p1 = pv(|i| 0x80 | (i / 512) as u8);
        let pvs = BTreeMap::from([("pv1".to_string(), p1)]);
        let mut b = Builder::new(&vg, &pvs, "lvm/vg".into());
        let Built::Volume(mir) = b.build("mir") else {
            panic!()
        };
        assert_eq!(read_all(&mir)[0], 0x80 | 56);
        assert!(b.gaps.is_empty(), "{:?}", b.gaps);
        let Built::Volume(lin) = b.build("lin") else {
            panic!()
        };
        let d = read_all(&lin);
        assert_eq!(d[16 * 512], 0);
        assert_eq!(b.gaps.len(), 1);
        assert_eq!(b.gaps[0].range, 8192..16384);
        assert!(b.gaps[0].why.contains("pv0"), "{:?}", b.gaps);
    }

    #[test]
    fn stripes_and_mirror_legs_carry_origins() {
        let vg = vg(VG);
        let p0 = pv(|i| (i / 512) as u8);
        let p1 = pv(|i| 0x80 | (i / 512) as u8);
        let both = BTreeMap::from([("pv0".to_string(), p0), ("pv1".to_string(), p1.clone())]);
        let mut b = Builder::new(&vg, &both, "lvm/vg".into());
        for lv in ["str", "mir"] {
            let Built::Volume(v) = b.build(lv) else {
                panic!()
            };
            assert!(v.origins(0, v.len()).is_empty(), "{lv}");
        }
        let one = BTreeMap::from([("pv1".to_string(), p1)]);
        let mut b = Builder::new(&vg, &one, "lvm/vg".into());
        let Built::Volume(st) = b.build("str") else {
            panic!()
        };
        // Chunks of 4 KiB alternate pv0, pv1: the pv0 ones are missing.
        let o = st.origins(0, st.len());
        assert_eq!(o.of(Origin::Missing), vec![0..4096, 8192..12288]);
        assert_eq!(
            st.origins(5000, 5000).of(Origin::Missing),
            vec![8192..10000]
        );
        // The second leg serves the mirror: all of it is from another copy,
        // and read as it is.
        let Built::Volume(mir) = b.build("mir") else {
            panic!()
        };
        let o = mir.origins(0, mir.len());
        assert_eq!(o.of(Origin::Mirror), vec![0..mir.len()]);
        assert!(o.of(Origin::Missing).is_empty());
        assert_eq!(mir.origins(100, 50).of(Origin::Mirror), vec![100..150]);
        assert_eq!(read_all(&mir)[0], 0x80 | 56);
    }
}
