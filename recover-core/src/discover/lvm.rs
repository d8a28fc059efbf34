//! Volume groups gathered from the PVs found anywhere in the trees.

use std::collections::BTreeMap;

use crate::fs::{self};

use super::*;
use crate::problem::Problem;

/// The volume groups whose PVs are among `nodes` (on sources, partitions
/// or arrays), each with its LVs (paths `lvm/VG` and `lvm/VG/LV`).
pub(super) fn volume_groups(nodes: &mut [Node], opts: &Options) -> Vec<Node> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut out: Vec<Node> = Vec::new();
    // PVs inside LVs (a guest's VG on a VM disk that is an LV) make VGs of
    // their own: gather again over what the last round found, a few times.
    for _ in 0..MAX_LVM_ROUNDS {
        let mut found = Vec::new();
        for root in nodes.iter().chain(out.iter()) {
            let on_array = root.kind == NodeKind::Array;
            for n in root.walk() {
                if n.kind != NodeKind::Filesystem || n.format != "lvm2" || used.contains(&n.path) {
                    continue;
                }
                used.insert(n.path.clone());
                if let Some(v) = &n.volume {
                    found.extend(crate::lvm::read_pv(&n.path, v.clone(), on_array));
                }
            }
        }
        if found.is_empty() {
            break;
        }
        for g in crate::lvm::gather(&found) {
            let name = g.metadata.name.clone();
            // Each PV node says which VG it is in, and as which PV.
            for pv in &g.pvs {
                let Some(at) = &pv.found_at else { continue };
                let n = find_mut(nodes, at).or_else(|| find_mut(&mut out, at));
                if let Some(Node {
                    info: NodeInfo::Filesystem(id),
                    ..
                }) = n
                {
                    id.detail("vg", fs::Detail::Text(name.clone()));
                    id.detail("vg_uuid", fs::Detail::Text(g.metadata.id.clone()));
                    id.detail("pv", fs::Detail::Text(pv.key.clone()));
                }
            }
            let k = names.entry(name.clone()).or_default();
            // Two VGs of one name (disks from two hosts, both "pve"): the
            // second is told apart by its UUID.
            let path = if *k == 0 {
                format!("lvm/{name}")
            } else {
                format!("lvm/{name}@{}", g.metadata.id)
            };
            *k += 1;
            out.push(vg_node(g, path, opts));
        }
        // PV-level damage (an area header that does not check) goes on the
        // PV's own node.
        for f in found {
            if let Some(n) = find_mut(nodes, &f.path).or_else(|| find_mut(&mut out, &f.path)) {
                n.problems.extend(f.problems);
            }
        }
    }
    out
}

fn vg_node(mut g: crate::lvm::VolumeGroup, path: String, opts: &Options) -> Node {
    let md = &g.metadata;
    let mut problems = std::mem::take(&mut g.problems);
    let mut builder = crate::lvm::volume::Builder::new(md, &g.pv_volumes, path.clone());
    let mut children = Vec::new();
    // Visible LVs first, then the hidden sub-LVs (images, pool data and
    // metadata), which are listed but not looked into.
    let mut lvs: Vec<&crate::lvm::LogicalVolume> = md.lvs.iter().collect();
    lvs.sort_by_key(|l| !l.visible);
    for lv in lvs {
        let lpath = format!("{path}/{}", lv.name);
        let before = builder.gaps.len();
        let warned = builder.warnings.len();
        let built = builder.build(&lv.name);
        // ok: gaps and warnings only grow, so before and warned are <= len.
        let mut lproblems: Vec<Problem> = builder.gaps[before..] // ok: see above
            .iter()
            .map(|g| {
                Problem::error(
                    "LVM2 LV",
                    Some(g.range.start),
                    format!("bytes {:#x}..{:#x} {}", g.range.start, g.range.end, g.why),
                )
            })
            .collect();
        lproblems.extend(
            builder.warnings[warned..] // ok: see above
                .iter()
                .map(|(_, w)| Problem::warning("LVM2 LV", None, w.clone())),
        );
        let size = lv.extents().saturating_mul(md.extent_size);
        let (volume, kids) = match built {
            crate::lvm::volume::Built::Volume(v) => {
                let kids = if lv.visible {
                    let mut budget = MAX_PARTITIONS;
                    explore(
                        &v,
                        &lpath,
                        1,
                        opts,
                        &opts.inner_chain(&lpath),
                        &mut lproblems,
                        &mut budget,
                    )
                } else {
                    Vec::new()
                };
                (Some(v), kids)
            }
            crate::lvm::volume::Built::Unreadable(why) => {
                // A thin pool is read through its thin LVs: nothing is wrong.
                let pool = lv
                    .segments
                    .iter()
                    .any(|s| matches!(s.kind, crate::lvm::metadata::SegmentKind::ThinPool { .. }));
                if !pool {
                    lproblems.push(Problem::warning(
                        "LVM2 LV",
                        None,
                        format!("not read: {why}"),
                    ));
                }
                (None, Vec::new())
            }
        };
        children.push(Node {
            path: lpath,
            kind: NodeKind::LogicalVolume,
            format: lv.kind_name(),
            offset: 0,
            size,
            info: NodeInfo::LogicalVolume(Box::new(crate::lvm::LvInfo {
                vg: md.name.clone(),
                extent_size: md.extent_size,
                lv: lv.clone(),
            })),
            problems: lproblems,
            children: kids,
            volume,
        });
    }
    for pv in &g.pvs {
        if !pv.duplicates.is_empty() {
            problems.push(Problem::warning(
                "LVM2 PV",
                None,
                format!(
                    "{} ({}) is seen on {} and also on {}; {} is used",
                    pv.key,
                    pv.id,
                    pv.found_at.as_deref().unwrap_or("?"),
                    pv.duplicates.join(", "),
                    pv.found_at.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    let size = md
        .pvs
        .iter()
        .map(|p| p.pe_count.saturating_mul(md.extent_size))
        .fold(0u64, u64::saturating_add);
    Node {
        path,
        kind: NodeKind::VolumeGroup,
        format: "lvm2".into(),
        offset: 0,
        size,
        info: NodeInfo::VolumeGroup(Box::new(g)),
        problems,
        children,
        volume: None,
    }
}
