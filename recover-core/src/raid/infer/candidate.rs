//! A candidate geometry and its conversion to the [`Spec`] that
//! `ArrayModel::new` builds an array from.

use crate::io::VolumeRef;
use crate::raid::map::{ParityAlgo, ParityLayout};
use crate::raid::metadata::Level;
use crate::raid::model::{MemberData, Spec};

/// Data placement of a candidate, in the engine's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Members end to end.
    Linear,
    /// Striping.
    Raid0,
    /// Mirroring.
    Raid1,
    /// RAID4/5/6 with a placement algorithm.
    Parity {
        /// 4, 5 or 6.
        level: u8,
        /// md's algorithm.
        algo: ParityAlgo,
        /// Rows the algorithm's placement is held for (1; more for HP's
        /// delayed parity).
        delay: u32,
    },
    /// md RAID10 with a layout in md's words: "near=2", "far=2", "offset=2".
    Raid10(&'static str),
}

impl Shape {
    /// The level.
    pub fn level(self) -> Level {
        match self {
            Shape::Linear => Level::Linear,
            Shape::Raid0 => Level::Raid0,
            Shape::Raid1 => Level::Raid1,
            Shape::Parity { level: 4, .. } => Level::Raid4,
            Shape::Parity { level: 6, .. } => Level::Raid6,
            Shape::Parity { .. } => Level::Raid5,
            Shape::Raid10(_) => Level::Raid10,
        }
    }

    /// md's layout words (empty for levels without a layout).
    pub fn layout(self) -> String {
        match self {
            Shape::Parity { level: 4, .. } => String::new(),
            Shape::Parity { algo, delay, .. } => ParityLayout { algo, delay }.name(),
            Shape::Raid10(words) => words.to_string(),
            _ => String::new(),
        }
    }

    /// True when the level stripes (has a chunk size).
    pub fn striped(self) -> bool {
        !matches!(self, Shape::Linear | Shape::Raid1)
    }
}

/// One inferred geometry.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The level.
    pub level: Level,
    /// md's layout words, empty for the level's default.
    pub layout: String,
    /// Chunk bytes (0 for linear and RAID1).
    pub chunk: u64,
    /// Members by slot: an index into the volumes given to `infer`, `None`
    /// for a missing member.
    pub slots: Vec<Option<usize>>,
    /// Where the data starts on each slot's member, by slot.
    pub data_offset: Vec<u64>,
    /// Bytes of data used on each member.
    pub member_size: u64,
    /// Array bytes.
    pub size: u64,
    /// 0..=1: how sure the engine is that this is the geometry.
    pub confidence: f64,
    /// What was seen, for the report.
    pub evidence: Vec<String>,
    /// The internal score it was ranked by.
    pub score: f64,
    /// The part of the score from checks through the assembled array
    /// (structures, syndromes); below zero, what was read contradicts it.
    pub checks: f64,
    /// Things read that contradict it outright (a member it does not need,
    /// chunk boundaries the content runs straight across).
    pub contradictions: u32,
    /// Content continuity at its chunk boundaries, in standard errors from
    /// none (positive: the boundaries are real).
    pub continuity: f64,
    /// The engine's shape.
    pub shape: Shape,
    /// The member order came from a heuristic search (more members than
    /// every order is tried for) rather than from every order, or from
    /// where RAID6's rows put Q.
    pub searched_order: bool,
    /// Points the pins (structures the array's start names, see
    /// [`super::pins`]) gave it in the ranking: they bring it to the full
    /// check, which verifies the same structures and takes them back out.
    pub pin_points: f64,
    /// Points RAID6's Q positions in the sampled rows gave it in the
    /// ranking: taken back where the full check's syndrome fails in enough
    /// rows (rows that only look like Q, such as those of a mirrored pair
    /// beside a lone member, must not outweigh it).
    pub q_points: f64,
}

impl Candidate {
    /// The spec for `ArrayModel::new`, over the same `members` given to
    /// `infer` (a slot naming a member that is not there is missing).
    pub fn spec(&self, members: &[VolumeRef]) -> Spec {
        let slots: Vec<Option<MemberData>> = self
            .slots
            .iter()
            .enumerate()
            .map(|(slot, m)| {
                let i = (*m)?;
                let volume = members.get(i)?.clone();
                let data_offset = self.data_offset.get(slot).copied().unwrap_or(0);
                Some(MemberData {
                    data_size: volume.len().saturating_sub(data_offset),
                    data_offset,
                    name: format!("member {i}"),
                    volume,
                })
            })
            .collect();
        Spec {
            level: self.level,
            layout: self.layout.clone(),
            chunk: self.chunk,
            members: slots,
            member_size: match self.level {
                Level::Linear => None,
                _ => Some(self.member_size),
            },
            size: Some(self.size),
            spans: None,
        }
    }

    /// The member order by slot, `x` for a missing member: `2,0,x,1`.
    pub fn order_text(&self) -> String {
        self.slots
            .iter()
            .map(|s| s.map_or("x".to_string(), |i| i.to_string()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A one-line description: `raid5 left-symmetric 64 KiB, order 2,0,x,1, offset 0x100000`.
    pub fn summary(&self) -> String {
        let mut s = self.level.as_str();
        if !self.layout.is_empty() {
            s.push(' ');
            s.push_str(&self.layout);
        }
        if self.chunk > 0 {
            s.push_str(&format!(" {} KiB", self.chunk / 1024));
        }
        s.push_str(&format!(
            ", order {}, offset {:#x}, size {}",
            self.order_text(),
            self.data_offset.first().copied().unwrap_or(0),
            self.size
        ));
        s
    }

    /// The array this candidate describes as (level, layout, chunk, slots,
    /// offsets): two candidates with the same key serve the same bytes.
    pub fn key(&self) -> (String, String, u64, Vec<Option<usize>>, Vec<u64>) {
        (
            self.level.as_str(),
            self.layout.clone(),
            self.chunk,
            self.slots.clone(),
            self.data_offset.clone(),
        )
    }
}
