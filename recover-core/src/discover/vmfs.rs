//! VMFS datastores gathered from the LVM devices found anywhere in the
//! trees (partitions, whole disks, arrays): each becomes a node `vmfs/LABEL`
//! whose volume holds the filesystem.

use std::collections::BTreeMap;

use super::*;
use crate::fs::vmfs::{descriptor, lvm, span};
use crate::fs::{Detail, Identified, Usage};
use crate::io::bytes_at;
use crate::problem::{Problem, Severity};

/// The datastores whose devices are among `nodes` (those not gathered
/// into one already).
pub(super) fn datastores(nodes: &mut [Node], opts: &Options) -> Vec<Node> {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    for root in nodes.iter() {
        for n in root.walk() {
            if n.kind != NodeKind::Filesystem || n.format != "vmfs-lvm" {
                continue;
            }
            // Gathered already (a deep scan gathers what it adds).
            let gathered = matches!(&n.info, NodeInfo::Filesystem(id)
                if id.details.iter().any(|(k, _)| *k == "datastore"));
            if gathered {
                continue;
            }
            let Some(v) = &n.volume else { continue };
            match lvm::read_device(v.as_ref()) {
                Ok(dev) => found.push(span::Member {
                    path: n.path.clone(),
                    vol: v.clone(),
                    dev,
                }),
                Err(e) => failed.push((n.path.clone(), e)),
            }
        }
    }
    for (path, e) in failed {
        if let Some(n) = find_mut(nodes, &path) {
            n.problems.push(Problem::from_error(
                Severity::Error,
                "VMFS LVM device header",
                &e,
            ));
        }
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for ds in span::gather(&found) {
        // The datastore is known by its filesystem's label where there is one.
        let label = bytes_at(ds.volume.as_ref(), descriptor::OFFSET, descriptor::LEN)
            .ok()
            .and_then(|raw| descriptor::parse(&raw)?.ok())
            .and_then(|d| d.label);
        let base = label.clone().unwrap_or_else(|| ds.entry.name.clone());
        let base = if base.is_empty() {
            ds.entry.uuid.clone()
        } else {
            base.replace('/', "_")
        };
        let k = names.entry(base.clone()).or_default();
        let path = if *k == 0 {
            format!("vmfs/{base}")
        } else {
            format!("vmfs/{base}@{}", ds.entry.uuid)
        };
        *k += 1;
        let member_paths: Vec<String> = ds
            .members
            .iter()
            .filter_map(|&i| found.get(i).map(|m| m.path.clone()))
            .collect();
        for m in &member_paths {
            if let Some(Node {
                info: NodeInfo::Filesystem(id),
                ..
            }) = find_mut(nodes, m)
            {
                id.detail("datastore", Detail::Text(path.clone()));
            }
        }
        let mut id = Identified::new("vmfs-lvm", Usage::Lvm, 0);
        id.label = label;
        id.uuid = Some(ds.entry.uuid.clone());
        id.size = Some(ds.entry.logical_size);
        id.detail("name", Detail::Text(ds.entry.name.clone()));
        id.detail("devices", Detail::Number(u64::from(ds.devices)));
        id.detail("devices_found", Detail::Number(member_paths.len() as u64));
        id.detail("members", Detail::Text(member_paths.join(" ")));
        if !ds.device_names.is_empty() {
            id.detail("device_names", Detail::Text(ds.device_names.join(" ")));
        }
        let mut problems = ds.problems;
        let mut budget = MAX_PARTITIONS;
        let children = explore(
            &ds.volume,
            &path,
            1,
            opts,
            &opts.inner_chain(&path),
            &mut problems,
            &mut budget,
        );
        out.push(Node {
            path,
            kind: NodeKind::LogicalVolume,
            format: "vmfs-lvm".into(),
            offset: 0,
            size: ds.entry.logical_size,
            info: NodeInfo::Filesystem(Box::new(id)),
            problems,
            children,
            volume: Some(ds.volume),
        });
    }
    out
}
