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
    for mut a in arrays {
        let prefix = a.info.format.as_str();
        let n = counters.entry(prefix).or_default();
        let path = format!("{prefix}{n}");
        *n += 1;
        let mut problems = a.problems.clone();
        if !a.order_known {
            let placed = place_by_data(&mut a);
            if a.order_known {
                // Placed: what said they could not be is moot.
                problems.retain(|p| p.structure != crate::raid::group::UNPLACED);
                a.problems
                    .retain(|p| p.structure != crate::raid::group::UNPLACED);
            }
            problems.extend(placed);
        }
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
        let model = crate::raid::model::ArrayModel::from_array(&a);
        if let (Ok(m), true) = (&model, opts.crosscheck) {
            // What the metadata says, checked against the data.
            if let Some(why) = crate::raid::infer::crosscheck::disagreement(m) {
                problems.push(Problem::warning("array", None, why));
            }
        }
        let volume = match model
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

/// A placement by data: its least share of the confidence of the
/// geometries the metadata allows, how far ahead of the next order it
/// must be, and the least confidence at all (the engine's confidence is
/// spread over layouts the metadata rules out, so it is weighed within
/// the allowed ones).
const PLACE_MIN: f64 = 0.6;
const PLACE_MARGIN: f64 = 3.0;
const PLACE_FLOOR: f64 = 0.05;

/// Members whose slots the metadata cannot tell (IMSM names its disks by
/// serial number only, which an image does not carry) placed by their
/// data: the geometry inference, held to the level, chunk, member count
/// and data offset the metadata gives, finds the order. Nothing changes
/// when the data does not settle it; what was done is said as a problem.
fn place_by_data(a: &mut crate::raid::group::Array) -> Vec<Problem> {
    use crate::raid::group::{survivability, Standing};
    use crate::raid::infer::{self, Hints};
    let i = &a.info;
    let idx: Vec<usize> = (0..a.members.len())
        .filter(|&k| {
            matches!(
                a.members[k].standing, // ok: k < len
                Standing::Current | Standing::Unidentified
            )
        })
        .collect();
    let offsets: Vec<u64> = idx.iter().map(|&k| a.members[k].role.data_offset).collect(); // ok: k < len
    let offset = offsets
        .first()
        .copied()
        .filter(|o| offsets.iter().all(|x| x == o));
    let vols: Vec<VolumeRef> = idx.iter().map(|&k| a.members[k].volume.clone()).collect(); // ok: k < len
    let hints = Hints {
        level: Some(i.level),
        chunk: i.chunk_size,
        members: Some(i.raid_disks as usize),
        offset,
    };
    let found = match infer::infer(&vols, &hints, &|_, _| {}) {
        Ok(f) => f,
        Err(e) => {
            return vec![Problem::from_error(
                crate::Severity::Warning,
                crate::raid::group::UNPLACED,
                &e,
            )]
        }
    };
    // Members whose slot is known (a serial given) keep it.
    let known: Vec<(usize, u32)> = idx
        .iter()
        .enumerate()
        .filter_map(|(j, &k)| {
            let m = a.members.get(k)?;
            (m.standing == Standing::Current).then_some((j, m.role.slot?))
        })
        .collect();
    let fits = |c: &&infer::Candidate| {
        c.level == i.level
            && (i.chunk_size.is_none() || Some(c.chunk) == i.chunk_size)
            && c.slots.len() == i.raid_disks as usize
            && (i.layout.neutral.is_empty() || c.layout == i.layout.neutral)
            && known
                .iter()
                .all(|&(j, s)| c.slots.get(s as usize) == Some(&Some(j)))
    };
    // A guess is worse than no answer here: a wrong order reads as an
    // array, silently wrong. Among the geometries the metadata allows, the
    // best must stand well clear of the next order (the engine's
    // confidence weighs layouts the metadata already rules out, so it is
    // compared within the allowed ones).
    let allowed: Vec<&infer::Candidate> = found.candidates.iter().filter(fits).collect();
    let best = allowed.first().copied();
    let next = allowed
        .iter()
        .find(|c| best.is_some_and(|b| b.slots != c.slots));
    let within: f64 = allowed.iter().map(|c| c.confidence).sum();
    let Some(best) = best.filter(|b| {
        b.confidence >= PLACE_FLOOR
            && b.confidence >= PLACE_MIN * within
            && next.is_none_or(|n| b.confidence >= PLACE_MARGIN * n.confidence)
    }) else {
        return vec![Problem::warning(
            crate::raid::group::UNPLACED,
            None,
            "the members' data does not settle their order in the geometry the metadata gives; give --serial IMAGE=SERIAL",
        )];
    };
    let how = format!("its data (inferred, confidence {:.2})", best.confidence);
    for (slot, m) in best.slots.iter().enumerate() {
        if let Some(k) = m.and_then(|j| idx.get(j)) {
            if let Some(member) = a.members.get_mut(*k) {
                member.role.slot = Some(slot as u32);
                member.standing = Standing::Current;
                member.identified_by = Some(how.clone());
            }
        }
    }
    a.missing = (0..a.info.raid_disks)
        .filter(|s| best.slots.get(*s as usize).is_none_or(Option::is_none))
        .collect();
    a.state = survivability(&a.info, &a.missing);
    a.order_known = true;
    vec![Problem::warning(
        crate::raid::group::UNPLACED,
        None,
        format!("the metadata names its members by serial number only; they were placed by {how}"),
    )]
}
