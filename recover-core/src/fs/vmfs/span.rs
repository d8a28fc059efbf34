//! Gathering VMFS LVM devices into their logical volumes: a datastore
//! spanned over several devices (extents added in vSphere) is one volume
//! whose physical extents sit on all of them, in the order their
//! first-extent numbers give. A device that is missing leaves its extents'
//! bytes reading as zeros, reported with their range.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::io::{Concat, Slice, VolumeRef, Zeros};
use crate::problem::Problem;

use super::lvm::{Device, VolumeEntry};

/// A device found somewhere in the node trees.
#[derive(Debug, Clone)]
pub struct Member {
    /// Where it was found (a node path).
    pub path: String,
    /// Its bytes.
    pub vol: VolumeRef,
    /// Its header.
    pub dev: Device,
}

/// A logical volume gathered from its devices.
#[derive(Debug, Clone)]
pub struct Datastore {
    /// The volume as its first device describes it.
    pub entry: VolumeEntry,
    /// Its devices found, in volume order (indexes into the members given).
    pub members: Vec<usize>,
    /// Devices the volume says it spans.
    pub devices: u32,
    /// The names its first device lists for them.
    pub device_names: Vec<String>,
    /// Its bytes.
    pub volume: VolumeRef,
    /// What is wrong: devices missing, extents past a device's end.
    pub problems: Vec<Problem>,
}

const S: &str = "VMFS LVM volume";

/// Gathers `found` into volumes by logical-volume UUID and snapshot id.
/// A device seen twice (the same LUN through two paths, a RAID1 member and
/// its array) counts once: the newest generation.
pub fn gather(found: &[Member]) -> Vec<Datastore> {
    let mut groups: BTreeMap<(String, u32), Vec<(usize, &VolumeEntry)>> = BTreeMap::new();
    for (i, m) in found.iter().enumerate() {
        for v in &m.dev.volumes {
            groups
                .entry((v.uuid.clone(), v.snap_id))
                .or_default()
                .push((i, v));
        }
    }
    let mut out = Vec::new();
    for ((uuid, _), mut devs) in groups {
        let mut problems = Vec::new();
        // One copy per device UUID: the newest.
        devs.sort_by_key(|(i, _)| std::cmp::Reverse(found.get(*i).map_or(0, |m| m.dev.generation)));
        let mut seen: Vec<&str> = Vec::new();
        devs.retain(|(i, _)| {
            let Some(m) = found.get(*i) else { return false };
            if seen.contains(&m.dev.uuid.as_str()) {
                problems.push(Problem::warning(
                    S,
                    None,
                    format!("device {} is seen again at {}; the copy with the newest generation is used", m.dev.uuid, m.path),
                ));
                return false;
            }
            seen.push(&m.dev.uuid);
            true
        });
        devs.sort_by_key(|(_, v)| v.first_pe);
        let Some(&(first_i, first)) = devs.iter().find(|(_, v)| v.first_pe == 0).or(devs.first())
        else {
            continue;
        };
        let entry = first.clone();
        let names = found
            .get(first_i)
            .map(|m| m.dev.device_names.clone())
            .unwrap_or_default();
        let devices = entry.num_devs.max(devs.len() as u32); // ok: few devices
                                                             // Every extent of this volume on every device, in volume order.
        let mut runs: Vec<(u64, u64, usize, u64)> = Vec::new();
        for &(i, v) in &devs {
            let Some(m) = found.get(i) else { continue };
            for e in m
                .dev
                .extents
                .iter()
                .filter(|e| e.volume_id == v.volume_id && e.len > 0)
            {
                runs.push((e.logical, e.len, i, e.physical));
            }
        }
        runs.sort_unstable();
        let size = entry.logical_size;
        let mut parts: Vec<VolumeRef> = Vec::new();
        let mut pos = 0u64;
        // The first device lists every device by the name ESXi gave it,
        // which carries the disk's serial: those not found are named.
        let serials: Vec<String> = devs
            .iter()
            .filter_map(|(i, _)| found.get(*i)?.dev.disk_id.clone())
            .filter_map(|d| d.split_whitespace().next().map(str::to_string))
            .collect();
        let absent: Vec<&String> = names
            .iter()
            .filter(|n| !serials.iter().any(|s| n.contains(s.as_str())))
            .collect();
        let missing_words = || {
            let lost = devices as usize - devs.len().min(devices as usize); // ok: min
            if lost == 0 {
                "no device holds them".to_string()
            } else if absent.len() == lost {
                let list: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
                format!(
                    "{lost} of its {devices} devices is not among the sources: {}",
                    list.join(", ")
                )
            } else {
                format!("{lost} of its {devices} devices is not among the sources")
            }
        };
        for (logical, len, i, physical) in runs {
            if pos >= size {
                break;
            }
            let Some(m) = found.get(i) else { continue };
            if logical < pos {
                problems.push(Problem::error(
                    S,
                    Some(logical),
                    format!(
                        "an extent of {} at {logical:#x} overlaps the one before; left out",
                        m.path
                    ),
                ));
                continue;
            }
            if logical > pos {
                problems.push(Problem::error(
                    S,
                    Some(pos),
                    format!(
                        "bytes {pos:#x}..{logical:#x} read as zeros: {}",
                        missing_words()
                    ),
                ));
                parts.push(Arc::new(Zeros::missing(
                    logical.min(size) - pos,
                    format!("{uuid} gap"),
                )));
                pos = logical.min(size);
                if pos >= size {
                    break;
                }
            }
            let len = len.min(size - pos);
            let have = m.vol.len().saturating_sub(physical).min(len);
            if have > 0 {
                parts.push(Arc::new(Slice::new(
                    m.vol.clone(),
                    physical,
                    have,
                    format!("{} extent {logical:#x}", m.path),
                )));
            }
            if have < len {
                problems.push(Problem::error(
                    S,
                    Some(pos + have),
                    format!(
                        "bytes {:#x}..{:#x} read as zeros: {} ends at {:#x}, before its extent does",
                        pos + have,
                        pos + len,
                        m.path,
                        m.vol.len()
                    ),
                ));
                parts.push(Arc::new(Zeros::missing(
                    len - have,
                    format!("{} past its end", m.path),
                )));
            }
            pos += len;
        }
        if pos < size {
            problems.push(Problem::error(
                S,
                Some(pos),
                format!(
                    "bytes {pos:#x}..{size:#x} read as zeros: {}",
                    missing_words()
                ),
            ));
            parts.push(Arc::new(Zeros::missing(size - pos, format!("{uuid} gap"))));
        }
        out.push(Datastore {
            members: devs.iter().map(|(i, _)| *i).collect(),
            devices,
            device_names: names,
            volume: Arc::new(Concat::new(parts, format!("vmfs volume {uuid}"))),
            entry,
            problems,
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::fs::vmfs::lvm::Extent;
    use crate::io::MemVolume;

    fn member(path: &str, uuid: &str, first: u64, fill: u8, extents: &[(u64, u64, u64)]) -> Member {
        Member {
            path: path.into(),
            vol: Arc::new(MemVolume::new(path, vec![fill; 4096])),
            dev: Device {
                major: 5,
                minor: 21,
                uuid: uuid.into(),
                total_bytes: 4096,
                disk_id: Some(format!("{path} QEMU")),
                generation: 1,
                volumes: vec![VolumeEntry {
                    logical_size: 4096,
                    generation: 1,
                    state: 1,
                    name: "lv".into(),
                    uuid: "lv-uuid".into(),
                    snap_id: 1,
                    volume_id: 0,
                    first_pe: first,
                    last_pe: first,
                    num_devs: 2,
                }],
                device_names: vec!["x.d0:1".into(), "x.d1:1".into()],
                extents: extents
                    .iter()
                    .map(|&(physical, logical, len)| Extent {
                        volume_id: 0,
                        physical,
                        logical,
                        len,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn two_devices_join_in_order() {
        let a = member("d0", "A", 0, 0xAA, &[(1024, 0, 2048)]);
        let b = member("d1", "B", 1, 0xBB, &[(0, 2048, 2048)]);
        let ds = gather(&[b, a]);
        assert_eq!(ds.len(), 1);
        let v = &ds[0].volume;
        assert_eq!(v.len(), 4096);
        let mut buf = vec![0u8; 4096];
        v.read_at(0, &mut buf).unwrap();
        assert!(buf[..2048].iter().all(|&x| x == 0xAA));
        assert!(buf[2048..].iter().all(|&x| x == 0xBB));
        assert!(ds[0].problems.is_empty(), "{:?}", ds[0].problems);
        assert_eq!(ds[0].members, vec![1, 0]);
    }

    #[test]
    fn a_missing_device_reads_as_zeros_and_is_named() {
        let a = member("d0", "A", 0, 0xAA, &[(1024, 0, 2048)]);
        let ds = gather(&[a]);
        let mut buf = vec![1u8; 2048];
        ds[0].volume.read_at(2048, &mut buf).unwrap();
        assert!(buf.iter().all(|&x| x == 0));
        let p = &ds[0].problems;
        assert_eq!(p.len(), 1);
        assert!(
            p[0].detail.contains("1 of its 2 devices"),
            "{}",
            p[0].detail
        );
        // An extent past the device's end: what is there, then zeros.
        let c = member("d2", "C", 0, 0xCC, &[(3072, 0, 4096)]);
        let ds = gather(&[c]);
        let mut buf = vec![1u8; 4096];
        ds[0].volume.read_at(0, &mut buf).unwrap();
        assert!(buf[..1024].iter().all(|&x| x == 0xCC) && buf[1024..].iter().all(|&x| x == 0));
        assert!(!ds[0].problems.is_empty());
    }
}
