//! Gathering members into arrays: across every source and partition, by
//! array identity; which copy of the metadata to believe; which members are
//! stale, missing, spare or in conflict; and whether the array can still
//! be read (complete, degraded or failed).

use std::collections::BTreeMap;

use crate::io::VolumeRef;
use crate::problem::Problem;
use crate::raid::metadata::{ArrayInfo, Level, MemberRole, MemberState, RaidFormat, RaidMetadata};

/// One device that carries RAID metadata, as discovery found it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The node path of the member (`d0`, `d1/gpt/p2`).
    pub path: String,
    /// The source it was read from (the path the user gave).
    pub source: String,
    /// The drive's serial number, when known (block devices, or given by
    /// the user): how IMSM names its disks.
    pub serial: Option<String>,
    /// Its metadata.
    pub meta: &'a RaidMetadata,
    /// The member device's bytes.
    pub volume: VolumeRef,
}

/// How a member stands in its array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Up to date and holding its slot.
    Current,
    /// Its metadata is older than the array's (lower event count): it
    /// dropped out before the others were last written.
    Stale,
    /// A spare, holding no slot.
    Spare,
    /// Marked failed.
    Faulty,
    /// Claims a slot another current member also claims.
    Conflict,
    /// IMSM: which disk this is could not be told.
    Unidentified,
}

impl Standing {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Current => "current",
            Standing::Stale => "stale",
            Standing::Spare => "spare",
            Standing::Faulty => "faulty",
            Standing::Conflict => "conflict",
            Standing::Unidentified => "unidentified",
        }
    }
}

/// A member of a gathered array.
#[derive(Debug, Clone)]
pub struct Member {
    /// Node path of the member.
    pub path: String,
    /// Source name.
    pub source: String,
    /// Its role according to its own metadata (slot filled in for IMSM).
    pub role: MemberRole,
    /// Its freshness counter.
    pub events: u64,
    /// Its metadata's version.
    pub version: String,
    /// Where its metadata sits.
    pub metadata_offset: u64,
    /// Whether its metadata checksum matched.
    pub checksum_ok: Option<bool>,
    /// How it stands.
    pub standing: Standing,
    /// How its slot was learned when the metadata did not say (IMSM).
    pub identified_by: Option<String>,
    /// Its bytes.
    pub volume: VolumeRef,
}

/// Whether the array's data can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayState {
    /// Every slot has a current member.
    Complete,
    /// Slots are missing, but redundancy covers them.
    Degraded,
    /// Too many slots are missing to read all the data.
    Failed,
}

impl ArrayState {
    /// "complete", "degraded" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            ArrayState::Complete => "complete",
            ArrayState::Degraded => "degraded",
            ArrayState::Failed => "failed",
        }
    }
}

/// One array gathered from its members.
#[derive(Debug, Clone)]
pub struct Array {
    /// The array as the authoritative member describes it.
    pub info: ArrayInfo,
    /// Index in `members` of the member whose metadata is believed.
    pub authority: usize,
    /// Why that one.
    pub authority_reason: String,
    /// Every member found, in slot order (spares and the unplaced last).
    pub members: Vec<Member>,
    /// Slots with no current member.
    pub missing: Vec<u32>,
    /// Complete, degraded or failed.
    pub state: ArrayState,
    /// Disagreements and other findings.
    pub problems: Vec<Problem>,
    /// False when members are present whose slots could not be told (IMSM
    /// without serial numbers): the state then counts them as filling the
    /// free slots, in an order still to be found.
    pub order_known: bool,
}

/// md lets a member lag the newest by one event and still counts it in
/// (mdadm Assemble.c: "always allow a difference of one in the event count").
const EVENT_MARGIN: u64 = 1;

/// The most slots counted one by one (missing, free, copy sets): md 1.x's
/// role table, the largest of the formats; raid_disks is untrusted.
const MAX_SLOTS: u32 = crate::raid::md::v1::MAX_DEV;

/// The structure named by the problem of members whose slots the
/// metadata cannot tell (discovery takes it off once their data places them).
pub const UNPLACED: &str = "member order";

/// Gathers candidates into arrays. Arrays come out ordered by format and by
/// the path of their first member.
pub fn gather(cands: &[Candidate]) -> Vec<Array> {
    let mut buckets: BTreeMap<(RaidFormat, String), Vec<(usize, usize)>> = BTreeMap::new();
    for (ci, c) in cands.iter().enumerate() {
        for (ai, (info, _)) in c.meta.arrays.iter().enumerate() {
            buckets
                .entry((info.format, info.id.clone()))
                .or_default()
                .push((ci, ai));
        }
    }
    let mut out: Vec<Array> = buckets
        .into_values()
        .map(|refs| build(cands, &refs))
        .collect();
    out.sort_by(|a, b| {
        (a.info.format, a.members.first().map(|m| m.path.clone()))
            .cmp(&(b.info.format, b.members.first().map(|m| m.path.clone())))
    });
    out
}

fn build(cands: &[Candidate], refs: &[(usize, usize)]) -> Array {
    let entry = |&(ci, ai): &(usize, usize)| (&cands[ci], &cands[ci].meta.arrays[ai]);
    // The authority: highest events, then latest update, then a good checksum.
    let best = refs
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| {
            let (c, _) = entry(r);
            (
                c.meta.events,
                c.meta.update_time,
                c.meta.checksum_ok == Some(true),
                std::cmp::Reverse(*i),
            )
        })
        .map_or(0, |(i, _)| i);
    let (auth_c, (auth_info, _)) = entry(&refs[best]);
    let info = auth_info.clone();
    let max_events = auth_c.meta.events;
    let mut problems = Vec::new();
    if info.raid_disks > MAX_SLOTS {
        problems.push(Problem::error(
            "array metadata",
            None,
            format!(
                "{} slots is more than any array has; only the first {MAX_SLOTS} are checked",
                info.raid_disks
            ),
        ));
    }
    let mut members: Vec<Member> = refs
        .iter()
        .map(|r| {
            let (c, (i, role)) = entry(r);
            if i.level != info.level || i.raid_disks != info.raid_disks || i.chunk_size != info.chunk_size || i.layout != info.layout {
                problems.push(Problem::warning(
                    "array metadata",
                    None,
                    format!(
                        "{} describes the array differently ({} {} disks, chunk {:?}, layout {}) from the authoritative copy",
                        c.path,
                        i.level.as_str(),
                        i.raid_disks,
                        i.chunk_size,
                        i.layout.neutral
                    ),
                ));
            }
            let standing = match role.state {
                MemberState::Spare => Standing::Spare,
                MemberState::Faulty => Standing::Faulty,
                MemberState::Unidentified => Standing::Unidentified,
                _ if c.meta.events.saturating_add(EVENT_MARGIN) < max_events => Standing::Stale,
                _ => Standing::Current,
            };
            Member {
                path: c.path.clone(),
                source: c.source.clone(),
                role: role.clone(),
                events: c.meta.events,
                version: c.meta.version.clone(),
                metadata_offset: c.meta.offset,
                checksum_ok: c.meta.checksum_ok,
                standing,
                identified_by: None,
                volume: c.volume.clone(),
            }
        })
        .collect();
    let authority_path = members[best].path.clone();
    identify_members(
        &mut members,
        refs.iter()
            .map(|&(ci, _)| cands[ci].serial.as_deref())
            .collect(),
        &info,
    );
    // Two current members in one slot: keep the first as current.
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for i in 0..members.len() {
        if members[i].standing != Standing::Current {
            continue;
        }
        let Some(slot) = members[i].role.slot else {
            continue;
        };
        if slot >= info.raid_disks {
            problems.push(Problem::error(
                "array metadata",
                None,
                format!(
                    "{} claims slot {slot} of a {}-disk array",
                    members[i].path, info.raid_disks
                ),
            ));
            members[i].standing = Standing::Conflict;
            continue;
        }
        match seen.get(&slot) {
            Some(&j) => {
                problems.push(Problem::error(
                    "array metadata",
                    None,
                    format!(
                        "{} and {} both claim slot {slot} with current metadata (a cloned disk?)",
                        members[j].path, members[i].path
                    ),
                ));
                members[i].standing = Standing::Conflict;
            }
            None => {
                seen.insert(slot, i);
            }
        }
    }
    for m in &members {
        if m.standing == Standing::Stale {
            problems.push(Problem::warning(
                "array member",
                None,
                format!(
                    "{} is stale: event count {} against {} on the authoritative member; left out",
                    m.path, m.events, max_events
                ),
            ));
        }
        if m.checksum_ok == Some(false) {
            problems.push(Problem::warning(
                "array member",
                Some(m.metadata_offset),
                format!("{}: metadata checksum mismatch", m.path),
            ));
        }
    }
    let missing: Vec<u32> = (0..info.raid_disks.min(MAX_SLOTS))
        .filter(|s| !seen.contains_key(s))
        .collect();
    let unplaced = members
        .iter()
        .filter(|m| m.standing == Standing::Unidentified)
        .count();
    let order_known = unplaced == 0;
    let state = if order_known {
        survivability(&info, &missing)
    } else {
        let serials: Vec<String> = missing
            .iter()
            .filter_map(|&s| info.slots.get(s as usize).cloned().flatten())
            .collect();
        problems.push(Problem::warning(
            UNPLACED,
            None,
            format!(
                "{unplaced} member(s) could not be placed: the metadata names its disks by serial number only ({}); give each image's serial with --serial IMAGE=SERIAL",
                serials.join(", ")
            ),
        ));
        // The unplaced members fill free slots; which ones is still unknown.
        let still = missing.len().saturating_sub(unplaced);
        survivability(&info, &missing[..still])
    };
    if order_known && !missing.is_empty() {
        let who: Vec<String> = missing
            .iter()
            .map(|&s| match info.slots.get(s as usize).cloned().flatten() {
                Some(name) => format!("{s} ({name})"),
                None => s.to_string(),
            })
            .collect();
        problems.push(Problem::warning(
            "array",
            None,
            format!(
                "missing slot(s) {}: the array is {}",
                who.join(", "),
                state.as_str()
            ),
        ));
    }
    // Slot order, then the members without a slot.
    let authority_reason = if refs.len() == 1 {
        "the only member found".to_string()
    } else {
        format!(
            "highest event count ({max_events}) of {} members, most recent update",
            refs.len()
        )
    };
    members.sort_by_key(|m| {
        (
            m.role.slot.is_none() || m.standing != Standing::Current,
            m.role.slot,
            m.path.clone(),
        )
    });
    let authority = members
        .iter()
        .position(|m| m.path == authority_path)
        .unwrap_or(0);
    Array {
        info: with_sizes(info, &members),
        authority,
        authority_reason,
        members,
        missing,
        state,
        problems,
        order_known,
    }
}

/// Fills in the slots IMSM metadata cannot give: by the drive serial
/// (from the block device or the user), by a serial in the source's name,
/// and last by elimination.
fn identify_members(members: &mut [Member], serials: Vec<Option<&str>>, info: &ArrayInfo) {
    let slot_of = |serial: &str| {
        info.slots
            .iter()
            .position(|s| s.as_deref() == Some(serial))
            .map(|p| p as u32)
    };
    for (m, serial) in members.iter_mut().zip(serials) {
        if m.standing != Standing::Unidentified {
            continue;
        }
        let by_serial = serial.and_then(|s| slot_of(s).map(|p| (p, format!("serial {s}"))));
        let by_name = || {
            info.slots.iter().enumerate().find_map(|(p, s)| {
                let s = s.as_deref().filter(|s| s.len() >= 4)?;
                m.source
                    .contains(s)
                    .then(|| (p as u32, format!("serial {s} in the source's name")))
            })
        };
        if let Some((slot, how)) = by_serial.or_else(by_name) {
            m.role.slot = Some(slot);
            m.role.state = MemberState::Active;
            m.standing = Standing::Current;
            m.identified_by = Some(how);
        }
    }
    let unplaced: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].standing == Standing::Unidentified)
        .collect();
    let taken: Vec<u32> = members.iter().filter_map(|m| m.role.slot).collect();
    let free: Vec<u32> = (0..info.raid_disks.min(MAX_SLOTS))
        .filter(|s| !taken.contains(s))
        .collect();
    if let ([i], [slot]) = (unplaced.as_slice(), free.as_slice()) {
        members[*i].role.slot = Some(*slot);
        members[*i].role.state = MemberState::Active;
        members[*i].standing = Standing::Current;
        members[*i].identified_by = Some("elimination: the only slot left".into());
    }
}

/// Linear and RAID0 arrays are as large as their members together; md
/// metadata gives no array size for them.
fn with_sizes(mut info: ArrayInfo, members: &[Member]) -> ArrayInfo {
    if info.array_size.is_none() && matches!(info.level, Level::Linear | Level::Raid0) {
        let current: Vec<&Member> = members
            .iter()
            .filter(|m| m.standing == Standing::Current)
            .collect();
        if current.len() as u32 == info.raid_disks {
            let chunk = info
                .chunk_size
                .filter(|c| *c > 0 && info.level == Level::Raid0);
            info.array_size = current
                .iter()
                .map(|m| {
                    let d = m.role.data_size.unwrap_or(0);
                    chunk.map_or(d, |c| d / c * c)
                })
                .try_fold(0u64, |acc, d| acc.checked_add(d));
        }
    }
    info
}

/// Whether an array with `missing` slots can still be read.
pub fn survivability(info: &ArrayInfo, missing: &[u32]) -> ArrayState {
    if missing.is_empty() {
        return ArrayState::Complete;
    }
    let n = info.raid_disks;
    let lost = |set: &[u32]| set.iter().all(|s| missing.contains(s));
    let ok = match (info.level, &info.secondary) {
        (Level::Raid1, None) => (missing.len() as u32) < n,
        (Level::Raid4 | Level::Raid5 | Level::Raid6, Some(sec)) => {
            // RAID50/60: each span tolerates its own level's losses.
            let per = n / sec.count.max(1);
            let tol = info.level.parity_tolerance().unwrap_or(0);
            (0..sec.count).all(|span| {
                missing.iter().filter(|&&s| s / per.max(1) == span).count() as u32 <= tol
            })
        }
        (Level::Raid10 | Level::Raid1E, _) => {
            // Every chunk needs one surviving copy; copies of the chunk
            // whose first copy is on device d lie on the sets below.
            raid10_copy_sets(info).iter().all(|set| !lost(set))
        }
        (l, _) => match l.parity_tolerance() {
            Some(t) => missing.len() as u32 <= t,
            None => false,
        },
    };
    if ok {
        ArrayState::Degraded
    } else {
        ArrayState::Failed
    }
}

/// The sets of devices that together hold every copy of some chunk, for
/// RAID10-like layouts: near copies on consecutive devices, far (or offset)
/// copies shifted by the near count.
fn raid10_copy_sets(info: &ArrayInfo) -> Vec<Vec<u32>> {
    let n = info.raid_disks.clamp(1, MAX_SLOTS);
    let (near, far) = parse_r10(&info.layout.neutral);
    // md refuses more copies than disks; a layout that asks for more is
    // cut to what fits, which keeps every set within n.
    let near = near.min(n);
    let far = far.min(n / near).max(1);
    // DDF RAID1 spans (RAID10): each span is one mirror set.
    if let Some(sec) = &info.secondary {
        let per = n / sec.count.max(1);
        return (0..sec.count)
            .map(|s| (0..per).map(|k| s * per + k).collect())
            .collect();
    }
    let mut starts: Vec<u32> = (0..n).map(|c| (c * near) % n).collect();
    starts.sort_unstable();
    starts.dedup();
    starts
        .into_iter()
        .map(|d| {
            let mut set = Vec::new();
            for f in 0..far {
                for k in 0..near {
                    set.push((d + k + f * near) % n);
                }
            }
            set
        })
        .collect()
}

/// (near, far) copies of a RAID10 layout; a layout that does not parse
/// counts as one copy (no redundancy is assumed that is not there).
fn parse_r10(neutral: &str) -> (u32, u32) {
    super::map::Raid10Layout::parse(neutral).map_or((1, 1), |l| (l.near, l.far))
}

/// The neutral level name of an array, counting DDF spans: raid10, raid50, raid60.
pub fn level_name(info: &ArrayInfo) -> String {
    match (&info.secondary, info.level) {
        (Some(_), Level::Raid5) => "raid50".into(),
        (Some(_), Level::Raid6) => "raid60".into(),
        (Some(_), Level::Raid0) => "raid00".into(),
        (_, l) => l.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raid::metadata::Secondary;

    use crate::raid::metadata::testing::{md_info as info, md_member};

    #[test]
    fn who_survives() {
        use ArrayState::*;
        assert_eq!(survivability(&info(Level::Raid5, 4, ""), &[2]), Degraded);
        assert_eq!(survivability(&info(Level::Raid5, 4, ""), &[1, 2]), Failed);
        assert_eq!(survivability(&info(Level::Raid6, 5, ""), &[0, 4]), Degraded);
        assert_eq!(survivability(&info(Level::Raid0, 3, ""), &[1]), Failed);
        assert_eq!(survivability(&info(Level::Raid1, 3, ""), &[0, 1]), Degraded);
        // near=2 over 4 disks: pairs (0,1) and (2,3).
        assert_eq!(
            survivability(&info(Level::Raid10, 4, "near=2"), &[0, 2]),
            Degraded
        );
        assert_eq!(
            survivability(&info(Level::Raid10, 4, "near=2"), &[0, 1]),
            Failed
        );
        assert_eq!(
            survivability(&info(Level::Raid10, 4, "near=2"), &[1, 2]),
            Degraded
        );
        // near=2 over 3 disks: every adjacent pair holds some chunk.
        assert_eq!(
            survivability(&info(Level::Raid10, 3, "near=2"), &[1]),
            Degraded
        );
        assert_eq!(
            survivability(&info(Level::Raid10, 3, "near=2"), &[0, 2]),
            Failed
        );
        // far=2 over 4 disks: copies of device d's chunks sit on d+1.
        assert_eq!(
            survivability(&info(Level::Raid10, 4, "far=2"), &[0, 2]),
            Degraded
        );
        let mut r50 = info(Level::Raid5, 6, "left-symmetric");
        r50.secondary = Some(Secondary {
            level: "striped".into(),
            count: 2,
            index: 0,
        });
        assert_eq!(survivability(&r50, &[0, 3]), Degraded);
        assert_eq!(survivability(&r50, &[0, 1]), Failed);
    }

    #[test]
    fn untrusted_slot_counts_stay_bounded() {
        use crate::io::MemVolume;
        use std::sync::Arc;
        // An md member claiming u32::MAX slots (and a RAID10 layout with
        // more copies than disks) must not count every slot.
        let meta = md_member(info(Level::Raid10, u32::MAX, "near=255, far=255"));
        let mut imsm = meta.clone();
        imsm.arrays[0].1.state = MemberState::Unidentified;
        imsm.arrays[0].1.slot = None;
        imsm.arrays[0].0.id = "y".into();
        let vol: crate::io::VolumeRef = Arc::new(MemVolume::new("t", vec![0u8; 512]));
        let cand = |meta| Candidate {
            path: "d0".into(),
            source: "d0".into(),
            serial: None,
            meta,
            volume: vol.clone(),
        };
        let arrays = gather(&[cand(&meta), cand(&imsm)]);
        assert_eq!(arrays.len(), 2);
        for arr in &arrays {
            assert_eq!(
                arr.missing.len() as u32,
                MAX_SLOTS - u32::from(arr.order_known)
            );
            assert!(arr
                .problems
                .iter()
                .any(|p| p.to_string().contains("only the first")));
        }
        let big = info(Level::Raid10, 7, "near=4000000000, far=4000000000");
        assert_eq!(
            survivability(&big, &[0, 1, 2, 3, 4, 5]),
            ArrayState::Degraded
        );
    }
}
