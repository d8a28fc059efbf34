//! Metadata checked against the data: an array assembled the way its
//! metadata says should show that level's redundancy in its rows (every
//! member the same for a mirror, rows that XOR to zero for RAID4/5, and
//! without one member for RAID6). Metadata that disagrees (a level, member
//! set or data offset that is wrong, a "foreign config" imported over the
//! real one) or parity that was never brought in sync is reported.

use std::sync::Arc;

use super::rows::{row_stats, RowStats};
use super::sample::{plan, Counted, Sample};
use crate::io::{Slice, VolumeRef};
use crate::raid::metadata::Level;
use crate::raid::model::ArrayModel;

/// The sample read of each member (bytes).
const BUDGET: u64 = 16 << 20;
/// Rows with data below which nothing is said.
const MIN_ROWS: u64 = 64;
/// The share of rows with data that must show the redundancy.
const AGREE: f64 = 0.9;

/// What the members' data says against the metadata's geometry, `None`
/// when it agrees or cannot tell (a member missing, a level without
/// redundancy, too little data).
pub fn disagreement(model: &ArrayModel) -> Option<String> {
    let members: Vec<VolumeRef> = model
        .members
        .iter()
        .map(|m| {
            let m = m.as_ref()?;
            Some(Arc::new(Slice::new(
                m.volume.clone(),
                m.data_offset,
                model.member_size,
                m.name.clone(),
            )) as VolumeRef)
        })
        .collect::<Option<_>>()?;
    let n = members.len();
    let wanted: &str = match model.level {
        Level::Raid1 if n >= 2 => "hold the same bytes",
        Level::Raid4 | Level::Raid5 if n >= 3 => "XOR to zero",
        Level::Raid6 if n >= 4 => "XOR to zero without one of them (Q)",
        _ => return None,
    };
    let counted: Vec<Arc<Counted>> = members
        .iter()
        .map(|m| Counted::new(m.clone(), 4 * BUDGET))
        .collect();
    let s = Sample::read(&counted, &plan(model.member_size, BUDGET));
    let st = row_stats(&s);
    if st.nonzero < MIN_ROWS {
        return None;
    }
    let agree = match model.level {
        Level::Raid1 => st.all_equal,
        Level::Raid6 => st.drop_one + st.xor_zero,
        _ => st.xor_zero,
    };
    let f = RowStats::frac(agree, st.nonzero);
    (f < AGREE).then(|| {
        format!(
            "the data disagrees with the metadata: as a {} its members should {wanted} in every row, they do in {:.0}% of {} sampled rows with data (wrong level, members or data offset in the metadata, or parity never brought in sync)",
            model.level.as_str(),
            f * 100.0,
            st.nonzero
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use crate::raid::model::{MemberData, Spec};

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn model(level: Level, members: Vec<Vec<u8>>) -> ArrayModel {
        let len = members[0].len() as u64;
        ArrayModel::new(Spec {
            level,
            layout: String::new(),
            chunk: 64 << 10,
            members: members
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    Some(MemberData {
                        volume: Arc::new(MemVolume::new(format!("m{i}"), m)) as VolumeRef,
                        data_offset: 0,
                        data_size: len,
                        name: format!("m{i}"),
                    })
                })
                .collect(),
            member_size: Some(len),
            size: None,
            spans: None,
        })
        .unwrap()
    }

    #[test]
    fn parity_that_holds_agrees_and_members_of_nothing_in_common_do_not() {
        let len = 2 << 20;
        let (a, b) = (noise(len, 1), noise(len, 2));
        let p: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x ^ y).collect();
        assert_eq!(
            disagreement(&model(Level::Raid5, vec![a.clone(), b.clone(), p])),
            None
        );
        let why = disagreement(&model(
            Level::Raid5,
            vec![a.clone(), b.clone(), noise(len, 3)],
        ));
        assert!(why.is_some_and(|w| w.contains("XOR to zero")));
        assert_eq!(
            disagreement(&model(Level::Raid1, vec![a.clone(), a.clone()])),
            None
        );
        assert!(disagreement(&model(Level::Raid1, vec![a, b])).is_some());
        // Nothing to go by: nothing said.
        assert_eq!(
            disagreement(&model(Level::Raid5, vec![vec![0; len]; 3])),
            None
        );
    }
}
