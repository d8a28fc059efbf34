//! Multi-device Btrfs filesystems gathered from the Btrfs devices found
//! anywhere in the trees (whole disks, partitions, arrays, LVs): each
//! filesystem becomes one node `btrfs/LABEL` whose volume is the set of
//! its devices ([`DeviceSet`]), listing the devices found and missing.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::bytes::uuid_str;
use crate::fs::btrfs::devices::DeviceSet;
use crate::fs::btrfs::reader::Btrfs;
use crate::fs::{Detail, Identified, Usage};
use crate::io::VolumeRef;
use crate::problem::{Problem, Severity};

/// A device node: its path, volume, devid and generation.
struct Device {
    path: String,
    vol: VolumeRef,
    devid: u64,
    generation: u64,
}

fn number(id: &Identified, key: &str) -> Option<u64> {
    id.details.iter().find_map(|(k, d)| match d {
        Detail::Number(n) if *k == key => Some(*n),
        _ => None,
    })
}

/// The filesystems of more than one device whose devices are among
/// `nodes`.
pub(super) fn filesystems(nodes: &mut [Node]) -> Vec<Node> {
    // By fsid: the devices, and the label and size the newest says.
    let mut sets: BTreeMap<String, (Vec<Device>, Identified)> = BTreeMap::new();
    for root in nodes.iter() {
        for n in root.walk() {
            if n.kind != NodeKind::Filesystem || n.format != "btrfs" {
                continue;
            }
            let NodeInfo::Filesystem(id) = &n.info else {
                continue;
            };
            let (Some(v), Some(fsid)) = (&n.volume, &id.uuid) else {
                continue;
            };
            let (Some(devid), Some(generation)) = (number(id, "devid"), number(id, "generation"))
            else {
                continue;
            };
            if number(id, "num_devices").unwrap_or(1) <= 1 {
                continue;
            }
            let e = sets
                .entry(fsid.clone())
                .or_insert_with(|| (Vec::new(), (**id).clone()));
            if number(&e.1, "generation").is_some_and(|g| generation > g) {
                e.1 = (**id).clone();
            }
            e.0.push(Device {
                path: n.path.clone(),
                vol: v.clone(),
                devid,
                generation,
            });
        }
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (fsid, (devs, newest)) in sets {
        // Of two copies of one devid (a device and its clone), the newer.
        let mut by_dev: BTreeMap<u64, &Device> = BTreeMap::new();
        for d in &devs {
            if by_dev
                .get(&d.devid)
                .is_none_or(|o| d.generation > o.generation)
            {
                by_dev.insert(d.devid, d);
            }
        }
        let base = newest
            .label
            .clone()
            .filter(|l| !l.is_empty())
            .map_or_else(|| fsid.clone(), |l| l.replace('/', "_"));
        let k = names.entry(base.clone()).or_default();
        let path = if *k == 0 {
            format!("btrfs/{base}")
        } else {
            format!("btrfs/{base}@{fsid}")
        };
        *k += 1;
        let set: VolumeRef = Arc::new(DeviceSet::new(
            by_dev.iter().map(|(id, d)| (*id, d.vol.clone())).collect(),
            path.clone(),
        ));
        let mut id = Identified::new("btrfs", Usage::Filesystem, 0);
        id.label = newest.label.clone();
        id.uuid = Some(fsid.clone());
        id.block_size = newest.block_size;
        let total = number(&newest, "total_bytes").unwrap_or(0);
        id.size = Some(total);
        let wanted = number(&newest, "num_devices").unwrap_or(0);
        id.detail("num_devices", Detail::Number(wanted));
        id.detail("devices_found", Detail::Number(by_dev.len() as u64));
        id.detail(
            "members",
            Detail::Text(
                by_dev
                    .iter()
                    .map(|(d, n)| format!("devid {d}={}", n.path))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
        let mut problems = Vec::new();
        match Btrfs::open_devices(by_dev.values().map(|d| d.vol.clone()).collect()) {
            Ok(fs) => {
                let missing: Vec<String> = fs
                    .devices()
                    .iter()
                    .filter(|d| d.found.is_none())
                    .map(|d| match d.uuid {
                        Some(u) => format!("devid {} (uuid {})", d.devid, uuid_str(&u)),
                        None => format!("devid {}", d.devid),
                    })
                    .collect();
                if !missing.is_empty() {
                    id.detail("missing", Detail::Text(missing.join(", ")));
                }
                // Listed as `ls` would, so what `ls` meets the scan reports.
                use crate::fs::FileSystem;
                if let Err(e) = fs.read_dir(fs.root()) {
                    problems.push(Problem::from_error(Severity::Error, "filesystem", &e));
                }
                problems.extend(fs.problems());
            }
            Err(e) => problems.push(Problem::from_error(Severity::Error, "Btrfs filesystem", &e)),
        }
        for d in &devs {
            if let Some(Node {
                info: NodeInfo::Filesystem(did),
                problems,
                ..
            }) = find_mut(nodes, &d.path)
            {
                did.detail("filesystem", Detail::Text(path.clone()));
                // What opening this device alone said (the other devices
                // missing, their data unreadable) is not so: the gathered
                // node reports the filesystem's problems, this device's own
                // among them.
                problems.retain(|p| !p.structure.starts_with("Btrfs"));
            }
        }
        out.push(Node {
            path,
            kind: NodeKind::Filesystem,
            format: "btrfs".into(),
            offset: 0,
            size: total,
            info: NodeInfo::Filesystem(Box::new(id)),
            problems,
            children: Vec::new(),
            volume: Some(set),
        });
    }
    out
}
