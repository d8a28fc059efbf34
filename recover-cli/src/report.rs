//! Output: the tree a person reads, and the JSON scripts rely on (the
//! contract in the README; fields are added, never renamed or removed).

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use recover_core::discover::inferred::InferredArray;
use recover_core::discover::{Node, NodeInfo, NodeKind, SearchInfo};
use recover_core::fs::Detail;
use recover_core::io::SourceKind;
use recover_core::lvm::{LvInfo, VolumeGroup};
use recover_core::part::mbr::MbrRole;
use recover_core::raid::group::{level_name, Array};
use recover_core::raid::infer::Candidate;
use recover_core::Problem;

/// The source path of a disk node.
pub fn source_name(root: &Node) -> String {
    match &root.info {
        NodeInfo::Disk(d) => d.source.clone(),
        _ => root.path.clone(),
    }
}

/// `{"nodes":[...], "errors":[...]}`.
pub fn write_json(
    out: &mut impl Write,
    nodes: &[&Node],
    failed: &[(String, String)],
) -> io::Result<()> {
    let doc = json!({
        "nodes": nodes.iter().map(|n| node_json(n)).collect::<Vec<_>>(),
        "errors": failed.iter().map(|(s, m)| json!({"source": s, "message": m})).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

pub fn problem_json(p: &Problem) -> Value {
    json!({
        "severity": p.severity.as_str(),
        "structure": p.structure,
        "offset": p.offset,
        "detail": p.detail,
    })
}

fn details_json(details: &[(&'static str, Detail)]) -> Value {
    let mut d = Map::new();
    for (k, v) in details {
        d.insert(
            (*k).into(),
            match v {
                Detail::Text(s) => json!(s),
                Detail::Number(x) => json!(x),
                Detail::Flag(b) => json!(b),
            },
        );
    }
    Value::Object(d)
}

/// A candidate geometry: slots in order (a member's path, or null for a
/// missing one) with each slot's data offset.
fn candidate_json(c: &Candidate, a: &InferredArray) -> Value {
    json!({
        "level": c.level.as_str(),
        "layout": c.layout,
        "chunk_size": (c.chunk > 0).then_some(c.chunk),
        "order": c.slots.iter().map(|s| s.and_then(|i| a.members.get(i)).map(|m| m.path.clone())).collect::<Vec<_>>(),
        "data_offset": c.data_offset,
        "size": c.size,
        "confidence": c.confidence,
        "summary": c.summary(),
    })
}

fn inferred_json(m: &mut Map<String, Value>, a: &InferredArray) {
    let c = &a.best;
    m.insert("level".into(), json!(c.level.as_str()));
    m.insert(
        "layout".into(),
        json!({"native": null, "neutral": c.layout}),
    );
    m.insert("chunk_size".into(), json!((c.chunk > 0).then_some(c.chunk)));
    m.insert("raid_disks".into(), json!(c.slots.len()));
    m.insert("member_size".into(), json!(c.member_size));
    m.insert("confidence".into(), json!(c.confidence));
    m.insert(
        "members".into(),
        json!(c
            .slots
            .iter()
            .enumerate()
            .map(|(slot, s)| match s.and_then(|i| a.members.get(i)) {
                Some(x) => json!({
                    "slot": slot,
                    "path": x.path,
                    "source": x.source,
                    "data_offset": c.data_offset.get(slot),
                    "missing": false,
                }),
                None => json!({"slot": slot, "path": null, "source": null, "data_offset": null, "missing": true}),
            })
            .collect::<Vec<_>>()),
    );
    m.insert(
        "missing".into(),
        json!(c
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| i)
            .collect::<Vec<_>>()),
    );
    m.insert(
        "alternatives".into(),
        json!(a
            .alternatives
            .iter()
            .map(|x| candidate_json(x, a))
            .collect::<Vec<_>>()),
    );
    m.insert("evidence".into(), json!(c.evidence));
    m.insert("notes".into(), json!(a.notes));
    m.insert(
        "bytes_read".into(),
        json!(a
            .members
            .iter()
            .zip(&a.bytes_read)
            .map(|(x, b)| json!({"path": x.path, "bytes": b}))
            .collect::<Vec<_>>()),
    );
    let cmd = a.mdadm_command();
    let warning = if cmd.is_some() {
        MDADM_WARNING
    } else {
        NO_MDADM
    };
    m.insert("mdadm".into(), json!({"command": cmd, "warning": warning}));
}

/// Said wherever the mdadm command is shown.
pub const MDADM_WARNING: &str = "information only: mdadm --create writes superblocks over the members; run it only on copies or overlays, never on the originals (recover never runs it)";

/// Said where md has no layout like the inferred one.
pub const NO_MDADM: &str = "md has no such layout (HP's delayed parity): no mdadm command serves this array; recover assemble writes it";

fn array_json(m: &mut Map<String, Value>, a: &Array) {
    let i = &a.info;
    m.insert("level".into(), json!(level_name(i)));
    m.insert(
        "layout".into(),
        json!({"native": i.layout.native, "neutral": i.layout.neutral}),
    );
    m.insert("chunk_size".into(), json!(i.chunk_size));
    m.insert("raid_disks".into(), json!(i.raid_disks));
    m.insert("uuid".into(), json!(i.id));
    m.insert("container".into(), json!(i.container));
    m.insert("name".into(), json!(i.name));
    m.insert("member_size".into(), json!(i.member_size));
    m.insert(
        "secondary".into(),
        json!(i
            .secondary
            .as_ref()
            .map(|s| json!({"level": s.level, "count": s.count}))),
    );
    m.insert("metadata_state".into(), json!(i.state));
    m.insert("reshape".into(), json!(i.reshape));
    m.insert(
        "state".into(),
        json!({
            "status": a.state.as_str(),
            "order_known": a.order_known,
            "missing": a.missing.iter().map(|&s| json!({
                "slot": s,
                "expected": i.slots.get(s as usize).cloned().flatten(),
            })).collect::<Vec<_>>(),
        }),
    );
    m.insert(
        "authoritative".into(),
        json!({
            "path": a.members.get(a.authority).map(|x| x.path.clone()),
            "reason": a.authority_reason,
        }),
    );
    m.insert(
        "members".into(),
        json!(a
            .members
            .iter()
            .map(|x| json!({
                "path": x.path,
                "source": x.source,
                "slot": x.role.slot,
                "data_offset": x.role.data_offset,
                "data_size": x.role.data_size,
                "state": x.role.state.as_str(),
                "standing": x.standing.as_str(),
                "events": x.events,
                "metadata": {
                    "version": x.version,
                    "offset": x.metadata_offset,
                    "checksum": x.checksum_ok.map(|ok| if ok { "ok" } else { "mismatch" }),
                },
                "identified_by": x.identified_by,
            }))
            .collect::<Vec<_>>()),
    );
    m.insert("details".into(), details_json(&i.details));
}

fn partition_json(m: &mut Map<String, Value>, p: &recover_core::part::Partition, ss: u64) {
    m.insert("number".into(), json!(p.number));
    m.insert("type".into(), json!(p.ptype.code()));
    m.insert("type_name".into(), json!(p.ptype.name()));
    m.insert("name".into(), json!(p.name));
    m.insert("guid".into(), json!(p.guid.map(|g| g.to_string())));
    m.insert("start_lba".into(), json!(p.start_lba));
    m.insert("sectors".into(), json!(p.sectors));
    m.insert("sector_size".into(), json!(ss));
    m.insert("bootable".into(), json!(p.bootable));
    m.insert("attributes".into(), json!(p.attributes));
    m.insert(
        "role".into(),
        json!(match p.role {
            recover_core::part::PartRole::Primary => "primary",
            recover_core::part::PartRole::Extended => "extended",
            recover_core::part::PartRole::Logical => "logical",
        }),
    );
}

/// The partition (path) among `n`'s children whose candidate rests on
/// the structure `what` at `at`.
fn resting_on<'a>(n: &'a Node, what: &str, at: u64) -> Option<&'a str> {
    n.children.iter().find_map(|c| match &c.info {
        NodeInfo::Recovered(_, cand) => cand
            .evidence
            .iter()
            .any(|(w, a)| w == what && *a == at)
            .then_some(c.path.as_str()),
        _ => None,
    })
}

fn search_json(m: &mut Map<String, Value>, n: &Node, sr: &SearchInfo) {
    m.insert("sector_size".into(), json!(512));
    m.insert(
        "search".into(),
        json!({
            "range": {"start": sr.range.start, "end": sr.range.end},
            "thorough": sr.thorough,
            "findings": sr.findings.iter().map(|f| json!({
                "kind": f.kind.as_str(),
                "format": f.format,
                "what": f.what,
                "at": f.at,
                "start": f.start,
                "size": f.size,
                "label": f.label,
                "uuid": f.uuid,
                "confidence": f.confidence,
                "reasons": f.reasons,
                "partition": resting_on(n, &f.what, f.at),
            })).collect::<Vec<_>>(),
        }),
    );
}

/// The `ewf` object of a disk node read from an EWF image.
fn ewf_json(e: &recover_core::io::ewf::EwfInfo) -> Value {
    let c = &e.case;
    json!({
        "variant": e.variant,
        "segments": e.segments,
        "missing_segments": e.missing_segments,
        "bytes_per_sector": e.bytes_per_sector,
        "sectors_per_chunk": e.sectors_per_chunk,
        "chunk_size": u64::from(e.bytes_per_sector) * u64::from(e.sectors_per_chunk),
        "chunk_count": e.chunk_count,
        "compression": e.compression,
        "media_type": e.media_type,
        "set_identifier": e.set_identifier,
        "md5": e.md5,
        "sha1": e.sha1,
        "case_number": c.case_number,
        "evidence_number": c.evidence_number,
        "description": c.description,
        "examiner": c.examiner,
        "notes": c.notes,
        "acquisition_date": c.acquisition_date,
        "system_date": c.system_date,
        "system": c.system,
        "software": c.software,
        "model": c.model,
        "serial_number": c.serial_number,
        "acquisition_errors": e.acquisition_errors.iter()
            .map(|r| json!({"start": r.start, "end": r.end}))
            .collect::<Vec<_>>(),
    })
}

fn node_json(n: &Node) -> Value {
    let mut m = Map::new();
    m.insert("path".into(), json!(n.path));
    m.insert("kind".into(), json!(n.kind.as_str()));
    m.insert("format".into(), json!(n.format));
    m.insert("offset".into(), json!(n.offset));
    m.insert("size".into(), json!(n.size));
    match &n.info {
        NodeInfo::Disk(d) => {
            m.insert("source".into(), json!(d.source));
            let (kind, parts) = match &d.source_kind {
                SourceKind::MappedFile => ("file", None),
                SourceKind::File => ("file", None),
                SourceKind::BlockDevice => ("block_device", None),
                SourceKind::Split { parts } => ("split", Some(*parts)),
                SourceKind::Ewf(e) => {
                    m.insert("ewf".into(), ewf_json(e));
                    ("ewf", Some(e.segments.len()))
                }
            };
            m.insert("source_kind".into(), json!(kind));
            m.insert(
                "mapped".into(),
                json!(d.source_kind == SourceKind::MappedFile),
            );
            if let Some(p) = parts {
                m.insert("parts".into(), json!(p));
            }
            m.insert("device_sector_size".into(), json!(d.device_sector_size));
            m.insert(
                "bad_ranges".into(),
                json!(d
                    .bad_ranges
                    .iter()
                    .map(|r| json!({"start": r.start, "end": r.end}))
                    .collect::<Vec<_>>()),
            );
        }
        NodeInfo::Table(t) => {
            m.insert("sector_size".into(), json!(t.sector_size));
            m.insert(
                "sector_size_source".into(),
                json!(t.sector_size_source.as_str()),
            );
            m.insert("disk_id".into(), json!(t.disk_id));
            m.insert("first_lba".into(), json!(t.first_usable_lba));
            m.insert("last_lba".into(), json!(t.last_usable_lba));
            if let Some(g) = &t.gpt {
                m.insert(
                    "gpt".into(),
                    json!({
                        "used": g.used.as_str(),
                        "primary": {"offset": g.primary_offset, "state": g.primary_state},
                        "backup": {"offset": g.backup_offset, "state": g.backup_state},
                        "entries": g.num_entries,
                        "entry_size": g.entry_size,
                        "mbr": match g.mbr_role {
                            None => "none",
                            Some(MbrRole::Protective) => "protective",
                            Some(MbrRole::Hybrid) => "hybrid",
                            Some(MbrRole::Classic) => "classic",
                        },
                        "hybrid_entries": g.hybrid_entries.iter().map(|e| json!({
                            "slot": e.slot,
                            "type": format!("{:x}", e.kind),
                            "start_lba": e.first_lba,
                            "sectors": e.sectors,
                            "bootable": e.bootable(),
                        })).collect::<Vec<_>>(),
                    }),
                );
            }
        }
        NodeInfo::Partition(p, ss) => partition_json(&mut m, p, *ss),
        NodeInfo::Recovered(p, c) => {
            partition_json(&mut m, p, 512);
            m.insert("role".into(), json!("recovered"));
            m.insert("confidence".into(), json!(c.confidence));
            m.insert("from_backups_only".into(), json!(c.from_backups_only));
            m.insert(
                "evidence".into(),
                json!(c
                    .evidence
                    .iter()
                    .map(|(w, at)| json!({"what": w, "at": at}))
                    .collect::<Vec<_>>()),
            );
            m.insert("reasons".into(), json!(c.reasons));
        }
        NodeInfo::Search(sr) => search_json(&mut m, n, sr),
        NodeInfo::Filesystem(id) => {
            m.insert("usage".into(), json!(id.usage.as_str()));
            m.insert("label".into(), json!(id.label));
            m.insert("uuid".into(), json!(id.uuid));
            m.insert("block_size".into(), json!(id.block_size));
            m.insert("version".into(), json!(id.version));
            m.insert("superblock_offset".into(), json!(id.superblock_offset));
            m.insert(
                "checksum".into(),
                json!(id.checksum_ok.map(|ok| if ok { "ok" } else { "mismatch" })),
            );
            m.insert("details".into(), details_json(&id.details));
        }
        NodeInfo::Array(a) => array_json(&mut m, a),
        NodeInfo::Inferred(a) => inferred_json(&mut m, a),
        NodeInfo::VolumeGroup(g) => vg_json(&mut m, g),
        NodeInfo::LogicalVolume(l) => lv_json(&mut m, l),
        NodeInfo::VmImage(v) => {
            m.insert("subformat".into(), json!(v.subformat));
            m.insert("virtual_size".into(), json!(v.virtual_size));
            m.insert("file_size".into(), json!(v.file_size));
            m.insert("allocated".into(), json!(v.allocated));
            m.insert("backing_file".into(), json!(v.backing_file));
            m.insert("backing_format".into(), json!(v.backing_format));
            m.insert("encryption".into(), json!(v.encryption));
            m.insert(
                "snapshots".into(),
                json!(v
                    .snapshots
                    .iter()
                    .map(|s| json!({"id": s.id, "name": s.name, "date": s.date, "disk_size": s.disk_size}))
                    .collect::<Vec<_>>()),
            );
        }
    }
    m.insert(
        "problems".into(),
        json!(n.problems.iter().map(problem_json).collect::<Vec<_>>()),
    );
    m.insert(
        "children".into(),
        json!(n.children.iter().map(node_json).collect::<Vec<_>>()),
    );
    Value::Object(m)
}

fn vg_json(m: &mut Map<String, Value>, g: &VolumeGroup) {
    let md = &g.metadata;
    m.insert("name".into(), json!(md.name));
    m.insert("uuid".into(), json!(md.id));
    m.insert("seqno".into(), json!(md.seqno));
    m.insert("extent_size".into(), json!(md.extent_size));
    m.insert("status".into(), json!(md.status));
    m.insert("creation_host".into(), json!(md.host));
    m.insert("written".into(), json!(md.written));
    m.insert(
        "pvs".into(),
        json!(g
            .pvs
            .iter()
            .zip(&md.pvs)
            .map(|(s, e)| json!({
                "key": s.key,
                "uuid": s.id,
                "found_at": s.found_at,
                "duplicates": s.duplicates,
                "device_hint": e.device,
                "dev_size": e.dev_size,
                "pe_start": e.pe_start,
                "pe_count": e.pe_count,
                "status": e.status,
            }))
            .collect::<Vec<_>>()),
    );
    m.insert(
        "metadata_copies".into(),
        json!(g
            .copies
            .iter()
            .map(|c| json!({
                "pv": c.pv_path,
                "offset": c.offset,
                "size": c.size,
                "seqno": c.seqno,
                "committed": c.committed,
                "checksum": c.checksum_ok.map(|ok| if ok { "ok" } else { "mismatch" }),
                "written": c.written,
                "used": c.used,
                "lvs_not_in_used": c.lvs_not_in_used,
            }))
            .collect::<Vec<_>>()),
    );
}

fn lv_json(m: &mut Map<String, Value>, l: &LvInfo) {
    use recover_core::lvm::metadata::{Area, SegmentKind};
    let area = |a: &Area| match a {
        Area::Pv { pv, start } => json!({"pv": pv, "start_extent": start}),
        Area::Lv { lv, start } => json!({"lv": lv, "start_extent": start}),
    };
    m.insert("name".into(), json!(l.lv.name));
    m.insert("vg".into(), json!(l.vg));
    m.insert("uuid".into(), json!(l.lv.id));
    m.insert("visible".into(), json!(l.lv.visible));
    m.insert("status".into(), json!(l.lv.status));
    m.insert("creation_time".into(), json!(l.lv.creation_time));
    m.insert(
        "segments".into(),
        json!(l
            .lv
            .segments
            .iter()
            .map(|s| {
                let mut j = json!({
                    "start_extent": s.start_extent,
                    "extent_count": s.extent_count,
                    "offset": s.start_extent.saturating_mul(l.extent_size),
                    "size": s.extent_count.saturating_mul(l.extent_size),
                    "type": s.type_name,
                });
                let o = j.as_object_mut().unwrap_or_else(|| unreachable!());
                match &s.kind {
                    SegmentKind::Striped { stripe_size, areas } => {
                        o.insert("stripe_count".into(), json!(areas.len()));
                        o.insert("stripe_size".into(), json!(stripe_size));
                        o.insert(
                            "areas".into(),
                            json!(areas.iter().map(area).collect::<Vec<_>>()),
                        );
                    }
                    SegmentKind::Mirror { legs } => {
                        o.insert(
                            "areas".into(),
                            json!(legs.iter().map(area).collect::<Vec<_>>()),
                        );
                    }
                    SegmentKind::Raid {
                        stripe_size,
                        images,
                        ..
                    } => {
                        o.insert("stripe_size".into(), json!(stripe_size));
                        o.insert("images".into(), json!(images));
                    }
                    SegmentKind::ThinPool {
                        data,
                        metadata,
                        chunk_size,
                        transaction_id,
                    } => {
                        o.insert("data_lv".into(), json!(data));
                        o.insert("metadata_lv".into(), json!(metadata));
                        o.insert("chunk_size".into(), json!(chunk_size));
                        o.insert("transaction_id".into(), json!(transaction_id));
                    }
                    SegmentKind::Thin {
                        pool,
                        device_id,
                        origin,
                    } => {
                        o.insert("pool".into(), json!(pool));
                        o.insert("device_id".into(), json!(device_id));
                        o.insert("origin".into(), json!(origin));
                    }
                    SegmentKind::Snapshot {
                        origin,
                        cow_store,
                        chunk_size,
                    } => {
                        o.insert("origin".into(), json!(origin));
                        o.insert("cow_store".into(), json!(cow_store));
                        o.insert("chunk_size".into(), json!(chunk_size));
                    }
                    SegmentKind::Zero | SegmentKind::Error | SegmentKind::Other => {}
                }
                j
            })
            .collect::<Vec<_>>()),
    );
}

/// Bytes in binary units: "512 B", "1.50 KiB", "12.0 MiB", "931 GiB".
pub fn human(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {}", UNITS[u])
}

/// The tree, one node per line, problems under their node.
pub fn write_tree(out: &mut impl Write, nodes: &[&Node]) -> io::Result<()> {
    for n in nodes {
        write_node(out, n, "", "")?;
    }
    Ok(())
}

fn describe(n: &Node) -> String {
    match &n.info {
        NodeInfo::VolumeGroup(g) => {
            let md = &g.metadata;
            let found = g.pvs.iter().filter(|p| p.found_at.is_some()).count();
            format!(
                "LVM volume group {}  {}  {} of {} PVs found  {} extents  seqno {}  {} LVs",
                md.name,
                human(n.size),
                found,
                g.pvs.len(),
                human(md.extent_size),
                md.seqno,
                md.lvs.iter().filter(|l| l.visible).count()
            )
        }
        NodeInfo::LogicalVolume(l) => {
            use recover_core::lvm::metadata::SegmentKind;
            let segs = l.lv.segments.len();
            let mut s = format!(
                "LV {}  {}  {}  {} segment{}{}",
                l.lv.name,
                n.format,
                human(n.size),
                segs,
                if segs == 1 { "" } else { "s" },
                if l.lv.visible { "" } else { "  (hidden)" }
            );
            match l.lv.segments.first().map(|s| &s.kind) {
                Some(SegmentKind::Snapshot {
                    origin, cow_store, ..
                }) => s.push_str(&format!("  snapshot of {origin}, COW store {cow_store}")),
                Some(SegmentKind::Thin {
                    pool,
                    origin: Some(o),
                    ..
                }) => s.push_str(&format!("  in pool {pool}, snapshot of {o}")),
                Some(SegmentKind::Thin { pool, .. }) => s.push_str(&format!("  in pool {pool}")),
                _ => {}
            }
            s
        }
        NodeInfo::VmImage(v) => {
            let mut s = format!(
                "{}  {}  {} virtual",
                v.format,
                v.subformat,
                human(v.virtual_size)
            );
            if let Some(a) = v.allocated {
                s.push_str(&format!(", {} allocated", human(a)));
            }
            if let Some(b) = &v.backing_file {
                s.push_str(&format!("  backing file {b:?}"));
            }
            if let Some(e) = v.encryption {
                s.push_str(&format!("  encrypted ({e})"));
            }
            if !v.snapshots.is_empty() {
                let names: Vec<&str> = v.snapshots.iter().map(|s| s.name.as_str()).collect();
                s.push_str(&format!("  snapshots: {}", names.join(", ")));
            }
            s
        }
        NodeInfo::Disk(_) if n.kind == NodeKind::File => {
            format!(
                "file in a filesystem, looked into as a disk  {}",
                human(n.size)
            )
        }
        NodeInfo::Disk(d) => {
            let how = match &d.source_kind {
                SourceKind::MappedFile | SourceKind::File => "image".to_string(),
                SourceKind::BlockDevice => format!(
                    "block device, {}-byte sectors",
                    d.device_sector_size.unwrap_or(512)
                ),
                SourceKind::Split { parts } => format!("split image, {parts} parts"),
                SourceKind::Ewf(e) => {
                    let mut s = format!("{} image, {} segments", e.variant, e.segments.len());
                    if let Some(c) = &e.case.case_number {
                        s.push_str(&format!("  case {c:?}"));
                    }
                    if let Some(c) = &e.case.evidence_number {
                        s.push_str(&format!("  evidence {c:?}"));
                    }
                    if let Some(h) = &e.md5 {
                        s.push_str(&format!("  md5 {h}"));
                    }
                    s
                }
            };
            format!("{}  {how}  {}", d.source, human(n.size))
        }
        NodeInfo::Table(t) => {
            let mut s = format!(
                "{}  {}-byte sectors",
                t.format.as_str().to_uppercase(),
                t.sector_size
            );
            if !t.disk_id.is_empty() {
                s.push_str(&format!("  id {}", t.disk_id));
            }
            if let Some(g) = &t.gpt {
                s.push_str(&format!(
                    "  {} entries, from the {} header (primary {}, backup {})",
                    g.num_entries,
                    g.used.as_str(),
                    g.primary_state,
                    g.backup_state
                ));
            }
            s
        }
        NodeInfo::Partition(p, ss) => {
            let mut s = format!(
                "at {} ({}), {} ({} sectors)  {}",
                human(p.start_lba * ss),
                p.start_lba,
                human(p.sectors * ss),
                p.sectors,
                p.ptype
                    .name()
                    .map_or_else(|| format!("type {}", p.ptype.code()), String::from)
            );
            if let Some(name) = p.name.as_deref().filter(|x| !x.is_empty()) {
                s.push_str(&format!("  \"{name}\""));
            }
            if p.bootable {
                s.push_str("  bootable");
            }
            match p.role {
                recover_core::part::PartRole::Extended => s.push_str("  (extended)"),
                recover_core::part::PartRole::Logical => s.push_str("  (logical)"),
                recover_core::part::PartRole::Primary => {}
            }
            s
        }
        NodeInfo::Array(a) => {
            let i = &a.info;
            let mut s = format!("{} {}", i.format.as_str(), level_name(i));
            if !i.layout.neutral.is_empty() {
                s.push_str(&format!(" {}", i.layout.neutral));
            }
            if let Some(c) = i.chunk_size.filter(|_| {
                !matches!(
                    i.level,
                    recover_core::raid::metadata::Level::Raid1
                        | recover_core::raid::metadata::Level::Linear
                )
            }) {
                s.push_str(&format!(", {} chunks", human(c)));
            }
            s.push_str(&format!(", {} disks", i.raid_disks));
            if let Some(name) = &i.name {
                s.push_str(&format!("  \"{name}\""));
            }
            s.push_str(&format!("  {}", i.id));
            if let Some(sz) = i.array_size {
                s.push_str(&format!("  {}", human(sz)));
            }
            s.push_str(&format!("  {}", a.state.as_str().to_uppercase()));
            if !a.order_known {
                s.push_str(", MEMBER ORDER UNKNOWN");
            }
            s
        }
        NodeInfo::Inferred(a) => {
            let c = &a.best;
            let mut s = format!("inferred {}", c.level.as_str());
            if !c.layout.is_empty() {
                s.push_str(&format!(" {}", c.layout));
            }
            if c.chunk > 0 {
                s.push_str(&format!(", {} chunks", human(c.chunk)));
            }
            s.push_str(&format!(
                ", {} disks  {}  confidence {:.2}",
                c.slots.len(),
                human(n.size),
                c.confidence
            ));
            s
        }
        NodeInfo::Search(sr) => {
            let mut s = format!(
                "RECOVERED  searched {}..{}{}, {} structures found",
                human(sr.range.start),
                human(sr.range.end),
                if sr.thorough {
                    " (every sector)"
                } else {
                    " (past found filesystems)"
                },
                sr.findings.len()
            );
            if n.children.is_empty() {
                s.push_str(", no partition");
            }
            s
        }
        NodeInfo::Recovered(p, c) => {
            let mut s = format!(
                "at {} ({}), {} ({} sectors)  {}  found, confidence {}%",
                human(p.start_lba * 512),
                p.start_lba,
                human(p.sectors * 512),
                p.sectors,
                c.format,
                c.confidence
            );
            if c.from_backups_only {
                s.push_str(", from backups only");
            }
            s
        }
        NodeInfo::Filesystem(id) => {
            let mut s = id.format.to_string();
            if let Some(l) = &id.label {
                s.push_str(&format!("  \"{l}\""));
            }
            if let Some(u) = &id.uuid {
                s.push_str(&format!("  {u}"));
            }
            if let Some(sz) = id.size {
                s.push_str(&format!("  {}", human(sz)));
            }
            if id.checksum_ok == Some(false) {
                s.push_str("  CHECKSUM MISMATCH");
            }
            s
        }
    }
}

/// Lines under a node before its problems: an array's members.
/// At most this many structures outside the recovered partitions are
/// listed in the tree (the JSON has them all).
const MAX_STRAY_LINES: usize = 20;

fn member_lines(n: &Node) -> Vec<String> {
    if let NodeInfo::Search(sr) = &n.info {
        let stray: Vec<_> = sr
            .findings
            .iter()
            .filter(|f| resting_on(n, &f.what, f.at).is_none())
            .collect();
        let mut lines: Vec<String> = stray
            .iter()
            .take(MAX_STRAY_LINES)
            .map(|f| {
                let mut l = format!("{} {} at {:#x}", f.format, f.what, f.at);
                if let Some(st) = f.start.filter(|&st| st != f.at) {
                    l.push_str(&format!(", of one starting at {st:#x}"));
                }
                if let Some(z) = f.size {
                    l.push_str(&format!(", {}", human(z)));
                }
                if let Some(lb) = &f.label {
                    l.push_str(&format!(" \"{lb}\""));
                }
                l.push_str(&format!(" ({}%)", f.confidence));
                l
            })
            .collect();
        if stray.len() > MAX_STRAY_LINES {
            lines.push(format!(
                "... and {} more structures (see --json)",
                stray.len() - MAX_STRAY_LINES
            ));
        }
        return lines;
    }
    if let NodeInfo::Inferred(a) = &n.info {
        let c = &a.best;
        let mut lines: Vec<String> = c
            .slots
            .iter()
            .enumerate()
            .map(|(slot, s)| match s.and_then(|i| a.members.get(i)) {
                Some(m) => format!(
                    "slot {slot}: {} (data at {:#x})",
                    m.path,
                    c.data_offset.get(slot).copied().unwrap_or(0)
                ),
                None => format!("slot {slot}: missing"),
            })
            .collect();
        for alt in &a.alternatives {
            lines.push(format!(
                "or: {} (confidence {:.2})",
                alt.summary(),
                alt.confidence
            ));
        }
        match a.mdadm_command() {
            Some(cmd) => {
                lines.push(format!("mdadm ({MDADM_WARNING}):"));
                lines.push(format!("  {cmd}"));
            }
            None => lines.push(format!("mdadm: {NO_MDADM}")),
        }
        return lines;
    }
    if let (NodeInfo::Filesystem(id), NodeKind::Filesystem) = (&n.info, n.kind) {
        // A filesystem gathered over several devices: each device found,
        // then those missing.
        let text = |key: &str| {
            id.details.iter().find_map(|(k, d)| match d {
                Detail::Text(t) if *k == key => Some(t.clone()),
                _ => None,
            })
        };
        let mut lines = Vec::new();
        if let Some(m) = text("members") {
            lines.extend(m.split(", ").map(|d| d.replacen('=', ": ", 1)));
        }
        if let Some(m) = text("missing") {
            lines.push(format!("missing: {m}"));
        }
        return lines;
    }
    let NodeInfo::Array(a) = &n.info else {
        return Vec::new();
    };
    a.members
        .iter()
        .map(|m| {
            format!(
                "slot {}: {} ({}, events {}{})",
                m.role.slot.map_or("-".to_string(), |x| x.to_string()),
                m.path,
                m.standing.as_str(),
                m.events,
                m.identified_by
                    .as_ref()
                    .map_or(String::new(), |w| format!(", by {w}")),
            )
        })
        .collect()
}

fn write_node(out: &mut impl Write, n: &Node, lead: &str, child_lead: &str) -> io::Result<()> {
    writeln!(out, "{lead}{}  {}", n.path, describe(n))?;
    let has_children = !n.children.is_empty();
    for line in member_lines(n) {
        let bar = if has_children { "│ " } else { "  " };
        writeln!(out, "{child_lead}{bar}   {line}")?;
    }
    for p in &n.problems {
        let bar = if has_children { "│ " } else { "  " };
        writeln!(out, "{child_lead}{bar} ! {}: {p}", p.severity.as_str())?;
    }
    let last = n.children.len().saturating_sub(1);
    for (i, c) in n.children.iter().enumerate() {
        let (l, cl) = if i == last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        write_node(
            out,
            c,
            &format!("{child_lead}{l}"),
            &format!("{child_lead}{cl}"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn units() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.50 KiB");
        assert_eq!(human(100 << 20), "100 MiB");
        assert_eq!(human(u64::MAX), "16.0 EiB");
    }
}
