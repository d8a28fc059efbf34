//! Arrays gathered from the RAID members found in the trees, assembled
//! and explored.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::io::{Source, SourceKind, Volume, VolumeRef};
use crate::problem::Problem;

/// The arrays the RAID members in `nodes` (the trees of `sources`, in the
/// same order) form, across sources and partitions, as top-level nodes
/// (`md0`, `ddf0`, `imsm0`, ...): assembled where they can be, and
/// explored inside.
pub(super) fn arrays(nodes: &[Node], sources: &[(usize, Source)], opts: &Options) -> Vec<Node> {
    let mut out = Vec::new();
    let arrays = {
        let mut cands = Vec::new();
        for (root, (_, src)) in nodes.iter().zip(sources) {
            let serial = opts.serials.get(&src.name).cloned().or_else(|| {
                (src.kind == SourceKind::BlockDevice)
                    .then(|| crate::io::device::block_serial(std::path::Path::new(&src.name)))
                    .flatten()
            });
            for n in root.walk() {
                if let (NodeInfo::Filesystem(id), Some(vol)) = (&n.info, &n.volume) {
                    if let Some(meta) = &id.raid {
                        cands.push(crate::raid::group::Candidate {
                            path: n.path.clone(),
                            source: src.name.clone(),
                            serial: serial.clone(),
                            meta,
                            volume: vol.clone(),
                        });
                    }
                }
            }
        }
        crate::raid::group::gather(&cands)
    };
    let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
    for a in arrays {
        let prefix = a.info.format.as_str();
        let n = counters.entry(prefix).or_default();
        let path = format!("{prefix}{n}");
        *n += 1;
        let mut problems = a.problems.clone();
        if a.state == crate::raid::group::ArrayState::Failed && a.order_known {
            problems.push(Problem::error(
                "array",
                None,
                format!(
                    "too many members missing to read all of it (missing slots {:?})",
                    a.missing
                ),
            ));
        }
        // Assemble what can be read, and look inside.
        let mut children = Vec::new();
        let mut size = a.info.array_size.unwrap_or(0);
        let volume = match crate::raid::model::ArrayModel::from_array(&a)
            .and_then(|m| crate::raid::volume::ArrayVolume::new(path.clone(), m, false))
        {
            Ok(v) => {
                size = v.len();
                let v: VolumeRef = Arc::new(v);
                let mut budget = MAX_PARTITIONS;
                children = explore(
                    &v,
                    &path,
                    1,
                    opts,
                    &opts.inner_chain(&path),
                    &mut problems,
                    &mut budget,
                );
                Some(v)
            }
            Err(e) => {
                // A failed array and members in an unknown order are reported already.
                if a.state != crate::raid::group::ArrayState::Failed && a.order_known {
                    problems.push(Problem::error(
                        "array",
                        None,
                        format!("cannot be assembled: {e}"),
                    ));
                }
                None
            }
        };
        out.push(Node {
            path,
            kind: NodeKind::Array,
            format: prefix.to_string(),
            offset: 0,
            size,
            info: NodeInfo::Array(Box::new(a)),
            problems,
            children,
            volume,
        });
    }
    out
}
