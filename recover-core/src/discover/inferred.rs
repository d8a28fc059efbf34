//! Arrays whose metadata is gone, inferred from the members' data
//! ([`crate::raid::infer`]) and added to the tree as `inferred0`, ... with
//! the geometry chosen, how sure the engine is, and the candidates behind
//! it; assembled and explored inside like any array.

use std::sync::Arc;

use super::{explore, Node, NodeInfo, NodeKind, Options, MAX_PARTITIONS};
use crate::io::VolumeRef;
use crate::problem::Problem;
use crate::raid::infer::{self, Candidate, Hints};
use crate::raid::metadata::Level;
use crate::raid::model::ArrayModel;
use crate::raid::volume::ArrayVolume;

/// Below this confidence the chosen geometry is reported as a guess (a
/// warning on the node): the data did not single it out.
pub const LOW_CONFIDENCE: f64 = 0.5;

/// One member volume given to the inference.
#[derive(Debug, Clone)]
pub struct InferredMember {
    /// Its node path (`d0`).
    pub path: String,
    /// The source as the user named it.
    pub source: String,
}

/// An inferred array: the geometry chosen and the evidence.
#[derive(Debug, Clone)]
pub struct InferredArray {
    /// The members given, in the order given (a candidate's slots index them).
    pub members: Vec<InferredMember>,
    /// The chosen geometry.
    pub best: Candidate,
    /// The next candidates, best first.
    pub alternatives: Vec<Candidate>,
    /// Bytes read of each member to decide.
    pub bytes_read: Vec<u64>,
    /// What the engine noticed.
    pub notes: Vec<String>,
}

impl InferredArray {
    /// The mdadm command that would serve the same array, for information
    /// (it writes superblocks: run it only on copies or overlays); `None`
    /// where md has no such layout (HP's delayed parity).
    pub fn mdadm_command(&self) -> Option<String> {
        mdadm_command(&self.best, &self.members)
    }
}

/// The inferred arrays of `members` (node paths and volumes of the
/// sources to infer over, in command-line order; one alone is taken as a
/// half of a mirror whose data offset is to be found): at most one today,
/// as `inferred0`, explored inside. `progress(done, total)` follows the
/// inference. No node when no consistent geometry was found; the reason
/// comes back as a problem instead.
pub fn inferred_arrays(
    members: &[(InferredMember, VolumeRef)],
    hints: &Hints,
    opts: &Options,
    progress: &dyn Fn(u64, u64),
) -> (Vec<Node>, Vec<Problem>) {
    if members.is_empty() {
        return (
            Vec::new(),
            vec![Problem::warning(
                "inference",
                None,
                "no member to infer an array from",
            )],
        );
    }
    let vols: Vec<VolumeRef> = members.iter().map(|(_, v)| v.clone()).collect();
    let found = match infer::infer(&vols, hints, progress) {
        Ok(f) => f,
        Err(e) => {
            return (
                Vec::new(),
                vec![Problem::from_error(crate::Severity::Error, "inference", &e)],
            )
        }
    };
    let mut cands = found.candidates.into_iter();
    let Some(best) = cands.next() else {
        let mut why = "no consistent geometry: the members do not look like one array".to_string();
        if !found.notes.is_empty() {
            why = format!("{why} ({})", found.notes.join("; "));
        }
        return (Vec::new(), vec![Problem::warning("inference", None, why)]);
    };
    let path = "inferred0".to_string();
    let info = InferredArray {
        members: members.iter().map(|(m, _)| m.clone()).collect(),
        best,
        alternatives: cands.take(5).collect(),
        bytes_read: found.bytes_read,
        notes: found.notes,
    };
    let mut problems = Vec::new();
    // Two geometries that tie share 0.5 each: confident is more than half.
    if info.best.confidence <= LOW_CONFIDENCE {
        problems.push(Problem::warning(
            "inference",
            None,
            format!(
                "low confidence ({:.2}): the data does not single this geometry out; check the alternatives",
                info.best.confidence
            ),
        ));
    }
    let spec = info.best.spec(&vols);
    let volume = match ArrayModel::new(spec).and_then(|m| ArrayVolume::new(path.clone(), m, true)) {
        Ok(v) => Some(Arc::new(v) as VolumeRef),
        Err(e) => {
            problems.push(Problem::from_error(
                crate::Severity::Error,
                "inferred array",
                &e,
            ));
            None
        }
    };
    let mut children = Vec::new();
    if let Some(v) = &volume {
        let mut budget = MAX_PARTITIONS;
        children = explore(
            v,
            &path,
            1,
            opts,
            &opts.inner_chain(&path),
            &mut problems,
            &mut budget,
        );
    }
    let node = Node {
        path,
        kind: NodeKind::Array,
        format: "inferred".into(),
        offset: 0,
        size: volume.as_ref().map_or(info.best.size, |v| v.len()),
        info: NodeInfo::Inferred(Box::new(info)),
        problems,
        children,
        volume,
    };
    (vec![node], Vec::new())
}

/// Members of the inferred arrays among `nodes` hold no table or
/// filesystem of their own: that is what a member is, not damage, so the
/// "nothing recognized" problem is taken off them.
pub fn quiet_members(nodes: &mut [Node], arrays: &[Node]) {
    for a in arrays {
        let NodeInfo::Inferred(inf) = &a.info else {
            continue;
        };
        for m in inf
            .best
            .slots
            .iter()
            .flatten()
            .filter_map(|i| inf.members.get(*i))
        {
            if let Some(n) = super::find_mut(nodes, &m.path) {
                n.problems
                    .retain(|p| p.structure != super::source::NOTHING_RECOGNIZED);
            }
        }
    }
}

/// mdadm's words for a candidate: `--build` where md can serve the array
/// without superblocks (linear, RAID0, RAID1 and RAID10 with data from the
/// start of each member), else `--create --assume-clean` with the data
/// offset given, which writes a superblock in front of the data. `None`
/// where md has no such layout: a parity layout md does not name (HP's
/// delayed parity).
pub fn mdadm_command(c: &Candidate, members: &[InferredMember]) -> Option<String> {
    if matches!(c.level, Level::Raid5 | Level::Raid6)
        && !c.layout.is_empty()
        && crate::raid::map::ParityAlgo::from_name(&c.layout).is_none()
    {
        return None;
    }
    let level = match c.level {
        Level::Linear => "linear".to_string(),
        Level::Raid0 => "0".into(),
        Level::Raid1 => "1".into(),
        Level::Raid4 => "4".into(),
        Level::Raid5 => "5".into(),
        Level::Raid6 => "6".into(),
        Level::Raid10 => "10".into(),
        l => l.as_str(),
    };
    let devices: Vec<String> = c
        .slots
        .iter()
        .map(|s| match s.and_then(|i| members.get(i)) {
            Some(m) => m.source.clone(),
            None => "missing".into(),
        })
        .collect();
    let offset = c.data_offset.iter().copied().max().unwrap_or(0);
    let same_offset = c.data_offset.iter().all(|&o| o == offset);
    let buildable = matches!(
        c.level,
        Level::Linear | Level::Raid0 | Level::Raid1 | Level::Raid10
    ) && offset == 0
        && !devices.iter().any(|d| d == "missing");
    let mut cmd = if buildable {
        format!(
            "mdadm --build /dev/md/recovered --level={level} --raid-devices={}",
            devices.len()
        )
    } else {
        format!(
            "mdadm --create /dev/md/recovered --assume-clean --metadata=1.2 --level={level} --raid-devices={}",
            devices.len()
        )
    };
    if c.chunk > 0 {
        cmd.push_str(&format!(" --chunk={}K", c.chunk / 1024));
    }
    if !c.layout.is_empty() {
        cmd.push_str(&format!(" --layout={}", mdadm_layout(&c.layout)));
    }
    if !buildable {
        cmd.push_str(&format!(" --data-offset={}K", offset / 1024));
        if !same_offset {
            cmd.push_str(" (the members' data offsets differ: give each with DEVICE:OFFSET)");
        }
    }
    cmd.push(' ');
    cmd.push_str(&devices.join(" "));
    Some(cmd)
}

/// md's RAID10 layout words as mdadm's `--layout` takes them (n2, f2, o2).
fn mdadm_layout(neutral: &str) -> String {
    let short = |w: &str| -> Option<String> {
        let (k, v) = w.split_once('=')?;
        let k = match k.trim() {
            "near" => "n",
            "far" => "f",
            "offset" => "o",
            _ => return None,
        };
        Some(format!("{k}{}", v.trim()))
    };
    short(neutral).unwrap_or_else(|| neutral.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raid::infer::Shape;
    use crate::raid::map::ParityAlgo;

    fn cand(level: Level, layout: &str, slots: Vec<Option<usize>>, offset: u64) -> Candidate {
        Candidate {
            level,
            layout: layout.into(),
            chunk: 64 << 10,
            data_offset: vec![offset; slots.len()],
            slots,
            member_size: 1 << 30,
            size: 2 << 30,
            confidence: 0.9,
            evidence: Vec::new(),
            score: 0.0,
            checks: 0.0,
            contradictions: 0,
            continuity: 0.0,
            shape: Shape::Parity {
                level: 5,
                algo: ParityAlgo::LeftSymmetric,
                delay: 1,
            },
            searched_order: false,
            pin_points: 0.0,
            q_points: 0.0,
        }
    }

    fn members() -> Vec<InferredMember> {
        (0..3)
            .map(|i| InferredMember {
                path: format!("d{i}"),
                source: format!("m{i}.img"),
            })
            .collect()
    }

    #[test]
    fn mdadm_words() {
        let c = cand(
            Level::Raid5,
            "left-symmetric",
            vec![Some(2), None, Some(0)],
            1 << 20,
        );
        assert_eq!(
            mdadm_command(&c, &members()).unwrap(),
            "mdadm --create /dev/md/recovered --assume-clean --metadata=1.2 --level=5 --raid-devices=3 --chunk=64K --layout=left-symmetric --data-offset=1024K m2.img missing m0.img"
        );
        let c = cand(Level::Raid0, "", vec![Some(1), Some(0)], 0);
        assert_eq!(
            mdadm_command(&c, &members()).unwrap(),
            "mdadm --build /dev/md/recovered --level=0 --raid-devices=2 --chunk=64K m1.img m0.img"
        );
        let c = cand(Level::Raid10, "far=2", vec![Some(0), Some(1), Some(2)], 0);
        assert!(mdadm_command(&c, &members()).unwrap().contains(
            "--build /dev/md/recovered --level=10 --raid-devices=3 --chunk=64K --layout=f2"
        ));
        // md has no delayed parity: no command.
        let c = cand(
            Level::Raid5,
            "left-asymmetric+delay=16",
            vec![Some(0), Some(1), Some(2)],
            0,
        );
        assert_eq!(mdadm_command(&c, &members()), None);
    }
}
