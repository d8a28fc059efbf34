//! What one volume holds: partition tables, partitions and identified
//! contents, explored down to a depth and partition budget.

use std::sync::Arc;

use super::*;
use crate::fs::{self, Identified, Usage};
use crate::image::Chain;
use crate::io::{Slice, VolumeRef};
use crate::part::{self, PartRole, Partition, PartitionTable, SectorSizeSource};
use crate::problem::{Problem, Severity};

fn is_boot_sector_fs(id: &Identified) -> bool {
    id.superblock_offset == 0 && matches!(id.format, "fat12" | "fat16" | "fat32" | "ntfs" | "exfat")
}

/// What a volume (disk or partition) holds: partition tables and/or
/// identified contents. Problems that concern the volume itself go to `problems`.
pub(super) fn explore(
    vol: &VolumeRef,
    path: &str,
    depth: usize,
    opts: &Options,
    chain: &Chain,
    problems: &mut Vec<Problem>,
    budget: &mut usize,
) -> Vec<Node> {
    if depth >= opts.max_depth {
        problems.push(Problem::warning(
            "volume",
            None,
            format!("nested {depth} levels deep; not looking further"),
        ));
        return Vec::new();
    }
    if *budget == 0 {
        problems.push(Problem::warning(
            "volume",
            None,
            format!(
                "{MAX_PARTITIONS} partitions of this source already looked into; not looking further"
            ),
        ));
        return Vec::new();
    }
    // A VM image: its virtual disk is what holds tables and filesystems.
    if let Some(found) = crate::image::detect(vol, chain) {
        return match found {
            Ok((info, disk, mut found_problems)) => {
                let path = format!("{path}/{}", info.format);
                let mut inner = Vec::new();
                let children = match &disk {
                    Some(d) => explore(
                        d,
                        &path,
                        depth + 1,
                        opts,
                        &opts.inner_chain(&path),
                        &mut inner,
                        budget,
                    ),
                    None => Vec::new(),
                };
                found_problems.extend(inner);
                vec![Node {
                    path,
                    kind: NodeKind::VmImage,
                    format: info.format.to_string(),
                    offset: 0,
                    size: info.virtual_size,
                    info: NodeInfo::VmImage(Box::new(info)),
                    problems: found_problems,
                    children,
                    volume: disk,
                }]
            }
            Err(e) => {
                problems.push(Problem::from_error(Severity::Error, "VM image", &e));
                Vec::new()
            }
        };
    }
    let mut ids = crate::registry::identify(vol.as_ref());
    // Firmware (PERC, LSI) puts the DDF anchor anywhere in the last 32 MiB
    // of a whole disk; the cheap probes only look at the usual places.
    if depth == 0
        && !ids
            .iter()
            .any(|r| r.as_ref().is_ok_and(|id| id.format == "ddf"))
    {
        if let Some(anchor) = crate::raid::ddf::find_anchor(vol.as_ref(), true) {
            let found = crate::raid::ddf::identified(vol.as_ref(), &anchor);
            ids.insert(0, found.map_err(|e| e.within(&vol.describe(), 0)));
        }
    }
    // A RAID member whose array data starts at its offset 0 (md 0.90 and
    // 1.0, DDF, IMSM) shows the array's first chunk there: a partition table
    // or filesystem at the start is the array's, not this device's.
    let array_at_start = ids.iter().filter_map(|r| r.as_ref().ok()).find_map(|id| {
        let m = id.raid.as_ref()?;
        let (info, _) = m.arrays.iter().find(|(_, role)| role.data_offset == 0)?;
        Some(format!(
            "{} {}",
            info.format.as_str(),
            info.name.clone().unwrap_or_else(|| info.id.clone())
        ))
    });
    let boot_fs = ids.iter().any(|r| r.as_ref().is_ok_and(is_boot_sector_fs));
    let probe = part::probe_tables(vol.as_ref());
    let gpt_present = probe.gpt.as_ref().is_some_and(|g| g.present());
    let tables = if (boot_fs && !gpt_present) || array_at_start.is_some() {
        Vec::new()
    } else {
        let mbr_ss = mbr_sector_size(vol, &probe);
        part::tables(vol.as_ref(), &probe, mbr_ss)
    };
    if let Some(array) = &array_at_start {
        let mbr_ok = probe.mbr.as_ref().is_ok_and(|m| !m.entries.is_empty());
        if gpt_present || mbr_ok {
            problems.push(Problem::warning(
                "partition table",
                Some(0),
                format!("the partition table at the start belongs to array {array}, whose data starts at offset 0 of this member"),
            ));
        }
    }
    let mut children: Vec<Node> = tables
        .into_iter()
        .map(|t| table_node(vol, path, t, depth, opts, budget))
        .collect();
    let mut first = true;
    for r in ids {
        match r {
            Ok(id) => {
                let as_node = if id.usage == Usage::Raid {
                    true
                } else if array_at_start.is_some() {
                    false
                } else if children.is_empty() {
                    first
                } else {
                    false
                };
                if as_node {
                    first = first && id.usage == Usage::Raid;
                    children.push(fs_node(vol, path, id));
                } else {
                    let detail = match &array_at_start {
                        Some(array) => format!(
                            "a {} signature here belongs to array {array}, whose data starts at offset 0 of this member",
                            id.format
                        ),
                        None => format!(
                            "a {} signature also stands here; it or what is shown instead is stale",
                            id.format
                        ),
                    };
                    problems.push(Problem::warning(
                        id.format,
                        Some(id.superblock_offset),
                        detail,
                    ));
                }
            }
            Err(e) => problems.push(Problem::from_error(Severity::Error, "superblock", &e)),
        }
    }
    children
}

/// The sector size to read a classic MBR with: the device's, else the GPT's,
/// else the one under which more partitions start with a recognized
/// filesystem (a 4Kn disk imaged to a file keeps its 4096-byte LBAs), else 512.
fn mbr_sector_size(vol: &VolumeRef, probe: &part::TableProbe) -> (u64, SectorSizeSource) {
    if let Some(d) = vol.device_sector_size() {
        return (u64::from(d), SectorSizeSource::Device);
    }
    if let Some(g) = probe.gpt.as_ref().filter(|g| g.present()) {
        return (g.sector_size, SectorSizeSource::GptHeader);
    }
    let Ok(m) = &probe.mbr else {
        return (512, SectorSizeSource::Default);
    };
    let score = |ss: u64| {
        m.entries
            .iter()
            .filter(|e| !part::types::is_extended(e.kind))
            .filter(|e| {
                let off = u64::from(e.first_lba) * ss;
                let len = u64::from(e.sectors) * ss;
                off.saturating_add(len) <= vol.len() && {
                    let s = Slice::new(vol.clone(), off, len, String::new());
                    crate::registry::identify(&s).iter().any(|r| r.is_ok())
                }
            })
            .count()
    };
    if score(4096) > score(512) {
        (4096, SectorSizeSource::Filesystems)
    } else {
        (512, SectorSizeSource::Default)
    }
}

fn table_node(
    vol: &VolumeRef,
    parent: &str,
    mut t: PartitionTable,
    depth: usize,
    opts: &Options,
    budget: &mut usize,
) -> Node {
    let path = format!("{parent}/{}", t.format.as_str());
    let ss = t.sector_size;
    let parts = std::mem::take(&mut t.partitions);
    let children = parts
        .into_iter()
        .map(|p| partition_node(vol, &path, p, ss, depth, opts, budget))
        .collect();
    Node {
        path,
        kind: NodeKind::PartitionTable,
        format: t.format.as_str().to_string(),
        offset: 0,
        size: vol.len(),
        problems: std::mem::take(&mut t.problems),
        info: NodeInfo::Table(Box::new(t)),
        children,
        volume: Some(vol.clone()),
    }
}

fn partition_node(
    vol: &VolumeRef,
    parent: &str,
    mut p: Partition,
    ss: u64,
    depth: usize,
    opts: &Options,
    budget: &mut usize,
) -> Node {
    let path = format!("{parent}/p{}", p.number);
    let offset = p.start_lba.saturating_mul(ss);
    let size = p.sectors.saturating_mul(ss);
    let slice: VolumeRef = Arc::new(Slice::new(
        vol.clone(),
        offset,
        size,
        format!("{} → p{}", vol.describe(), p.number),
    ));
    let mut problems = std::mem::take(&mut p.problems);
    *budget = budget.saturating_sub(1);
    // A partition over the sector of its own table would show that table
    // again, and so on down: stop at the first such level, once.
    let own_table = p
        .table_lba
        .filter(|&t| t >= p.start_lba && t - p.start_lba < p.sectors);
    if let Some(t) = own_table {
        // An isohybrid CD image's MBR has a partition from LBA 0 over the
        // whole image by design; anywhere else this is damage.
        let severity = if t == 0 && p.role == PartRole::Primary {
            Severity::Warning
        } else {
            Severity::Error
        };
        problems.push(Problem {
            severity,
            ..Problem::error(
            "partition table",
            Some(t.saturating_mul(ss)),
            format!(
                "partition {} (LBA {}, {} sectors) covers the sector of the table that describes it (LBA {t}); what it holds is that table again, so it is not looked into",
                p.number, p.start_lba, p.sectors
            ),
        )});
    }
    let children = if p.role == PartRole::Extended || slice.len() < 512 || own_table.is_some() {
        Vec::new()
    } else {
        explore(
            &slice,
            &path,
            depth + 1,
            opts,
            &opts.inner_chain(&path),
            &mut problems,
            budget,
        )
    };
    Node {
        path,
        kind: NodeKind::Partition,
        format: match p.ptype {
            part::PartType::Gpt(_) => "gpt",
            part::PartType::Mbr(_) => "mbr",
        }
        .to_string(),
        offset,
        size,
        info: NodeInfo::Partition(Box::new(p), ss),
        problems,
        children,
        volume: Some(slice),
    }
}

pub(super) fn fs_node(vol: &VolumeRef, parent: &str, mut id: Identified) -> Node {
    fs::probe::check_fits(&mut id, vol.len());
    // A superblock that identifies is not yet a filesystem that reads: the
    // reader itself opens it and lists its root, as `ls` would, so what
    // `ls` rejects or reports the scan reports (one validation, the
    // reader's), damage it noticed on the way included.
    let opened = crate::registry::open_filesystem(id.format, vol.clone()).map(|r| {
        r.and_then(|f| {
            let listed = f.read_dir(f.root()).map(|_| ());
            for p in f.problems() {
                if !id.problems.contains(&p) {
                    id.problems.push(p);
                }
            }
            listed
        })
    });
    // A feature the reader does not support fails `ls` as damage does, so
    // it is an error here too: scan's exit status says whether ls can work.
    if let Some(Err(e)) = opened {
        let mut p = Problem::from_error(Severity::Error, "filesystem", &e);
        p.detail = format!("{}; its files cannot be read", p.detail);
        id.problems.push(p);
    }
    Node {
        path: format!("{parent}/{}", id.format),
        kind: NodeKind::Filesystem,
        format: id.format.to_string(),
        offset: 0,
        size: id.size.unwrap_or(vol.len()),
        problems: std::mem::take(&mut id.problems),
        info: NodeInfo::Filesystem(Box::new(id)),
        children: Vec::new(),
        volume: Some(vol.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemVolume, Source, SourceKind};
    use crate::part::mbr::tests::put_entry;

    /// Fuzzer find (discover, a timeout): partitions that hold the table
    /// that describes them again. Here each of 12 sectors is an MBR with
    /// three entries and an extended partition at LBA 1, so every level
    /// also walks the following sectors as an EBR chain: millions of nodes
    /// (a minute) within the depth limit, from 6 KiB.
    #[test]
    fn nested_tables_do_not_multiply_without_bound() {
        let mut d = vec![0u8; 512 * 64];
        for k in 0..12 {
            let s = &mut d[k * 512..(k + 1) * 512];
            for slot in 0..3 {
                put_entry(s, slot, 0, 0x83, 1, 60 - (k + slot) as u32);
            }
            put_entry(s, 3, 0, 0x05, 1, 60 - k as u32);
        }
        let src = Source {
            name: "nested".into(),
            volume: Arc::new(MemVolume::new("nested", d)),
            kind: SourceKind::File,
        };
        let root = discover_source(&src, 0, &Options::default());
        let nodes = root.walk();
        let parts = nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Partition)
            .count();
        // Past the budget, only the tables already being read are listed.
        assert!(
            parts <= MAX_PARTITIONS + DEFAULT_MAX_DEPTH * 40,
            "{parts} partitions"
        );
        assert!(nodes.iter().any(|n| n
            .problems
            .iter()
            .any(|p| p.detail.contains("already looked into"))));
    }
}
