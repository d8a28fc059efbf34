//! The "recovered" table: partitions a deep scan found, as nodes.

use std::sync::Arc;

use super::*;
use crate::fs::{Identified, Usage};
use crate::io::{Slice, VolumeRef};
use crate::part::{self, PartRole, Partition};
use crate::problem::Problem;

/// The MBR type byte that suits a recovered partition's content.
pub fn mbr_type_for(format: &str) -> u8 {
    crate::registry::partition_hint(format).mbr
}

/// The "recovered" table of a volume the deep scan searched (`search`)
/// and found `cands` in: one partition per candidate, each explored like
/// any partition; where only backups of a filesystem survive (so
/// identification finds nothing at its start), the candidate itself is the
/// filesystem node.
pub fn recovered_table(
    vol: &VolumeRef,
    parent: &str,
    cands: &[crate::scan::Candidate],
    search: SearchInfo,
    opts: &Options,
) -> Node {
    let path = format!("{parent}/recovered");
    let mut budget = MAX_PARTITIONS;
    let children = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // A container that does not record its size (LUKS) runs up to
            // the next one found, or to the end.
            let next = cands
                .get(i + 1)
                .map_or(vol.len(), |n| n.start.min(vol.len()));
            let size = c.size.unwrap_or_else(|| next.saturating_sub(c.start));
            let p = Partition {
                number: i as u32 + 1,
                start_lba: c.start / 512,
                sectors: size.div_ceil(512),
                ptype: part::PartType::Mbr(mbr_type_for(c.format)),
                name: None,
                guid: None,
                bootable: false,
                attributes: None,
                role: PartRole::Primary,
                table_lba: None,
                problems: Vec::new(),
            };
            let ppath = format!("{path}/p{}", p.number);
            let slice: VolumeRef = Arc::new(Slice::new(
                vol.clone(),
                c.start,
                size,
                format!("{} → {ppath}", vol.describe()),
            ));
            let mut problems = Vec::new();
            let mut kids = explore(
                &slice,
                &ppath,
                1,
                opts,
                &opts.inner_chain(&ppath),
                &mut problems,
                &mut budget,
            );
            if kids.is_empty() {
                let mut id = Identified::new(
                    c.format,
                    if c.kind == crate::scan::FindingKind::Container {
                        Usage::Lvm
                    } else {
                        Usage::Filesystem
                    },
                    0,
                );
                id.label = c.label.clone();
                id.uuid = c.uuid.clone();
                id.size = c.size;
                let copies: Vec<String> = c
                    .evidence
                    .iter()
                    .map(|(w, at)| format!("{w} at {at:#x}"))
                    .collect();
                id.problems.push(Problem::warning(
                    c.format,
                    None,
                    format!("not found at its start; known from {}", copies.join(", ")),
                ));
                kids.push(fs_node(&slice, &ppath, id));
            }
            if size.saturating_add(c.start) > vol.len() {
                problems.push(Problem::warning(
                    "recovered partition",
                    None,
                    "runs past the end of the volume",
                ));
            }
            Node {
                path: ppath,
                kind: NodeKind::Partition,
                format: "recovered".into(),
                offset: c.start,
                size,
                info: NodeInfo::Recovered(Box::new(p), Box::new(c.clone())),
                problems,
                children: kids,
                volume: Some(slice),
            }
        })
        .collect();
    Node {
        path,
        kind: NodeKind::PartitionTable,
        format: "recovered".into(),
        offset: 0,
        size: vol.len(),
        info: NodeInfo::Search(Box::new(search)),
        problems: Vec::new(),
        children,
        volume: Some(vol.clone()),
    }
}
