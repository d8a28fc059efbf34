//! Structures whose array offset follows from the array's start: the
//! partitions a table there names, and the secondary headers a filesystem
//! keeps at offsets its superblock gives (XFS allocation-group superblocks,
//! ext backup superblocks, NTFS's backup boot sector). A geometry maps each
//! to one member and member offset, where the sample must show it. Unlike
//! content continuity this holds for any content, incompressible data and
//! nearly empty arrays too: it places the members that hold them.

use super::anchors::{start_kind, StartKind};
use super::located::{offsets_of, Located};
use super::sample::Sample;
use super::search::Mapper;
use crate::bytes::Bytes;
use crate::fs::ext4;
use crate::part::{gpt, mbr};

/// Secondary headers of one filesystem looked at, at most.
const MAX_SECONDARY: u64 = 64;
/// Located blocks of one filesystem looked at, at most (spread over them).
const MAX_LOCATED: usize = 128;
/// Bytes of a structure's start read (a table with its first entries, an
/// ext superblock at 1024).
const HEAD: usize = 4096;
/// What a header needs of its first bytes: a sector (an NTFS backup boot
/// sector is the last of its volume, so often the last of a chunk; an ext
/// superblock, which ends at 2048, is simply not recognized in less).
const LEAST: usize = 512;
/// Bytes of a place looked at for other data where a structure should be.
const SEEN: usize = 2048;

/// Where array offset `pos` lies: (slot, member offset).
fn place(map: &Mapper, chunk: u64, off: u64, pos: u64) -> Option<(usize, u64)> {
    let (slot, row) = map.locate(pos.checked_div(chunk)?)?;
    let at = off
        .checked_add(row.checked_mul(chunk)?)?
        .checked_add(pos % chunk)?;
    Some((slot, at))
}

/// The first bytes of a structure at member offset `at` of `m` that lie in
/// one chunk (`within` bytes are left in it), when the sample holds them.
fn head_at(s: &Sample, m: usize, at: u64, within: u64) -> Option<&[u8]> {
    let len = usize::try_from(within.min(HEAD as u64)).ok()?;
    if len < LEAST {
        return None;
    }
    s.bytes(m, at, len)
}

/// The partitions the table at the start of `head` names, as array offsets
/// (GPT entries in the first sectors after the header, MBR primaries).
pub fn table_starts(head: &[u8]) -> Vec<u64> {
    match start_kind(head) {
        Some(StartKind::Gpt) => {
            let (Some(sector), Some(rest)) = (head.get(512..1024), head.get(1024..)) else {
                return Vec::new();
            };
            let Ok(hdr) = gpt::parse_header(sector, 1) else {
                return Vec::new();
            };
            if hdr.entries_lba != 2 || hdr.entry_size == 0 {
                return Vec::new();
            }
            gpt::parse_entries(rest, &hdr)
                .iter()
                .filter_map(|e| e.first_lba.checked_mul(512))
                .collect()
        }
        Some(StartKind::Mbr) => head
            .get(..512)
            .and_then(|h| mbr::parse_mbr(h).ok())
            .map(|m| {
                m.entries
                    .iter()
                    .map(|e| u64::from(e.first_lba) * 512)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A filesystem's secondary headers, as offsets from its start, where
/// [`start_kind`] finds them: XFS superblock copies at every allocation
/// group (agblocks at 84, agcount at 88, block size at 4, big-endian), ext
/// backup superblocks (1024 bytes before them: where the primary sits in
/// its volume) in the groups `sparse_super` keeps them in, NTFS's backup
/// boot sector after the volume's last sector (total sectors at 0x28).
pub fn secondaries(head: &[u8]) -> Vec<u64> {
    let b = Bytes(head);
    if b.get(0, 4) == Some(b"XFSB") {
        let (Some(bs), Some(agb), Some(agc)) = (b.be_u32(4), b.be_u32(84), b.be_u32(88)) else {
            return Vec::new();
        };
        let ag = u64::from(agb) * u64::from(bs);
        return (1..u64::from(agc).min(MAX_SECONDARY))
            .map_while(|k| k.checked_mul(ag))
            .collect();
    }
    if b.get(3, 8) == Some(b"NTFS    ") {
        let bps = b.le_u16(0x0B).map_or(0, u64::from);
        return b
            .le_u64(0x28)
            .and_then(|ts| ts.checked_mul(bps))
            .filter(|&o| o > 0)
            .into_iter()
            .collect();
    }
    let Some(raw) = head.get(1024..2048) else {
        return Vec::new();
    };
    let Some(Ok(sb)) = ext4::parse_superblock(raw) else {
        return Vec::new();
    };
    let Ok(g) = ext4::geometry::Geometry::new(&sb, raw) else {
        return Vec::new();
    };
    // The groups with backups, listed directly (a large filesystem has a
    // million groups, and this runs for every order tried): 1 and the
    // powers of 3, 5 and 7 with sparse_super, else every group.
    let mut groups: Vec<u64> = vec![1];
    for base in [3u64, 5, 7] {
        let mut p = base;
        while p < g.groups {
            groups.push(p);
            p = p.saturating_mul(base);
        }
    }
    groups.sort_unstable();
    if !g.has_super(2) {
        groups.retain(|&k| k < g.groups);
    } else {
        groups = (1..g.groups.min(MAX_SECONDARY + 1)).collect();
    }
    groups
        .into_iter()
        .take(MAX_SECONDARY as usize)
        .filter_map(|k| {
            let block = k
                .checked_mul(g.blocks_per_group)?
                .checked_add(g.first_data_block)?;
            block.checked_mul(g.block_size)?.checked_sub(1024)
        })
        .collect()
}

/// What the pins say of one geometry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Agreement {
    /// Structures found where the geometry puts them.
    pub found: u32,
    /// Places it puts one that hold other data (not zeros).
    pub missed: u32,
    /// Located blocks (see [`super::located`]) where it puts them.
    pub located: u32,
    /// Located blocks looked at.
    pub located_tested: u32,
}

/// The located blocks of the filesystem at array offset `fs` (its first
/// bytes `head`), by the array offset they say they lie at: (array offset,
/// every (member, member offset) found saying it). One place can be found
/// more than once: mirror copies, and MFT records of another NTFS (their
/// records do not name their volume). At most [`MAX_LOCATED`] places,
/// spread over them.
fn fs_pins(s: &Sample, located: &[Located], head: &[u8], fs: u64) -> Vec<(u64, Vec<(usize, u64)>)> {
    let Some(loc) = offsets_of(head, s, located) else {
        return Vec::new();
    };
    let mut all: Vec<(u64, usize, u64)> = located
        .iter()
        .filter_map(|l| Some((fs.checked_add(loc.offset(l.tag)?)?, l.member, l.at)))
        .collect();
    all.sort_unstable();
    let mut out: Vec<(u64, Vec<(usize, u64)>)> = Vec::new();
    for (pos, m, at) in all {
        match out.last_mut() {
            Some((p, v)) if *p == pos => v.push((m, at)),
            _ => out.push((pos, vec![(m, at)])),
        }
    }
    let step = out.len().div_ceil(MAX_LOCATED).max(1);
    out.into_iter().step_by(step).collect()
}

/// Checks an order (`order`: slot to sample member) of a geometry (`map`,
/// `chunk`, data offset `off`) against the pins its array start gives and
/// the `located` blocks of the filesystems it finds.
pub fn agreement(
    s: &Sample,
    located: &[Located],
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    off: u64,
) -> Agreement {
    let mut a = Agreement::default();
    // Chunk 0 on a missing member: a copy of it where the order puts one
    // (P of a row otherwise zero, RAID10's other copy) holds the same
    // table.
    let copy = || {
        map.chunk0_copies().iter().find_map(|&(slot, row)| {
            let m = *order.get(slot).filter(|&&m| m < s.members())?;
            let at = off.checked_add(row.checked_mul(chunk)?)?;
            head_at(s, m, at, chunk).filter(|h| start_kind(h).is_some())
        })
    };
    let Some(head) = order_head(s, map, chunk, order, off, 0).or_else(copy) else {
        return a;
    };
    let mut todo: Vec<(u64, bool)> = table_starts(head).into_iter().map(|p| (p, true)).collect();
    todo.extend(secondaries(head).into_iter().map(|p| (p, false)));
    let mut fss: Vec<(u64, &[u8])> = vec![(0, head)];
    let mut guard = 0;
    while let Some((pos, partition)) = todo.pop() {
        guard += 1;
        if guard > 4 * MAX_SECONDARY {
            break;
        }
        let Some(h) = order_head(s, map, chunk, order, off, pos) else {
            continue;
        };
        match start_kind(h) {
            Some(StartKind::Fs | StartKind::Lvm) => {
                a.found += 1;
                if partition {
                    todo.extend(secondaries(h).into_iter().filter_map(|q| {
                        let q = pos.checked_add(q)?;
                        Some((q, false))
                    }));
                    fss.push((pos, h));
                }
            }
            _ if h.iter().take(SEEN).any(|&x| x != 0) => a.missed += 1,
            _ => {}
        }
    }
    for (fs, h) in fss {
        for (pos, seen) in fs_pins(s, located, h, fs) {
            let Some((slot, want)) = place(map, chunk, off, pos) else {
                continue;
            };
            // A block on a member the order leaves out says nothing.
            let Some(&m) = order.get(slot).filter(|&&x| x < s.members()) else {
                continue;
            };
            a.located_tested += 1;
            if seen.contains(&(m, want)) {
                a.located += 1;
            }
        }
    }
    a
}

/// The head of the structure at array offset `pos` under the order.
fn order_head<'s>(
    s: &'s Sample,
    map: &Mapper,
    chunk: u64,
    order: &[usize],
    off: u64,
    pos: u64,
) -> Option<&'s [u8]> {
    let (slot, at) = place(map, chunk, off, pos)?;
    let m = *order.get(slot)?;
    head_at(s, m, at, chunk - pos % chunk)
}

/// Orders of `n` members for a geometry whose pins place members: slot 0's
/// member is one holding an array start at `off`, and every structure the
/// pins name places the one member that holds it where the geometry puts
/// it. The slots left are filled from each of `seeds` (orders of all the
/// members, best first) in its order, or every way when at most four are
/// left. The bool says every slot was placed or tried every way.
pub fn orders(
    s: &Sample,
    located: &[Located],
    map: &Mapper,
    chunk: u64,
    off: u64,
    n: usize,
    seeds: &[Vec<usize>],
) -> Vec<(Vec<usize>, bool)> {
    let mut out: Vec<(Vec<usize>, bool)> = Vec::new();
    let Some((slot0, at0)) = place(map, chunk, off, 0) else {
        return out;
    };
    let holds = |m: usize, at: u64, within: u64| head_at(s, m, at, within).and_then(start_kind);
    for m0 in 0..s.members().min(n) {
        let Some(k0) = holds(m0, at0, chunk) else {
            continue;
        };
        let mut slot_of: Vec<Option<usize>> = vec![None; n];
        if let Some(x) = slot_of.get_mut(slot0) {
            *x = Some(m0);
        }
        let Some(head) = head_at(s, m0, at0, chunk) else {
            continue;
        };
        let mut todo: Vec<(u64, bool)> =
            table_starts(head).into_iter().map(|p| (p, true)).collect();
        let mut fss: Vec<(u64, &[u8])> = Vec::new();
        if k0 == StartKind::Fs {
            todo.extend(secondaries(head).into_iter().map(|p| (p, false)));
            fss.push((0, head));
        }
        let mut guard = 0;
        while let Some((pos, partition)) = todo.pop() {
            guard += 1;
            if guard > 4 * MAX_SECONDARY {
                break;
            }
            let Some((slot, at)) = place(map, chunk, off, pos) else {
                continue;
            };
            let within = chunk - pos % chunk;
            let placed = slot_of.get(slot).copied().flatten();
            let holders: Vec<usize> = (0..s.members())
                .filter(|&m| {
                    placed.is_none_or(|p| p == m)
                        && (placed == Some(m) || !slot_of.contains(&Some(m)))
                        && matches!(holds(m, at, within), Some(StartKind::Fs | StartKind::Lvm))
                })
                .collect();
            let [m] = holders[..] else { continue };
            if placed.is_none() {
                if let Some(x) = slot_of.get_mut(slot) {
                    *x = Some(m);
                }
            }
            if partition {
                if let Some(h) = head_at(s, m, at, within) {
                    todo.extend(
                        secondaries(h)
                            .into_iter()
                            .filter_map(|q| Some((pos.checked_add(q)?, false))),
                    );
                    fss.push((pos, h));
                }
            }
        }
        // Located blocks place their members where this geometry puts
        // them at the member offset they were found at.
        for (fs, h) in fss {
            for (pos, seen) in fs_pins(s, located, h, fs) {
                // Only a place found once names its member.
                let [(m, at)] = seen[..] else { continue };
                let Some((slot, want)) = place(map, chunk, off, pos) else {
                    continue;
                };
                if want != at || slot_of.contains(&Some(m)) {
                    continue;
                }
                if let Some(x @ None) = slot_of.get_mut(slot) {
                    *x = Some(m);
                }
            }
        }
        for (o, complete) in super::search::fill_orders(&slot_of, n, seeds) {
            push(&mut out, o, complete);
        }
    }
    out
}

fn push(out: &mut Vec<(Vec<usize>, bool)>, o: Vec<usize>, complete: bool) {
    if !out.iter().any(|(x, _)| *x == o) {
        out.push((o, complete));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfs_secondaries_at_every_group() {
        let mut h = vec![0u8; 4096];
        h[..4].copy_from_slice(b"XFSB");
        h[4..8].copy_from_slice(&4096u32.to_be_bytes());
        h[84..88].copy_from_slice(&1000u32.to_be_bytes());
        h[88..92].copy_from_slice(&4u32.to_be_bytes());
        assert_eq!(
            secondaries(&h),
            vec![4096 * 1000, 2 * 4096 * 1000, 3 * 4096 * 1000]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_head_is_safe(body in proptest::collection::vec(proptest::num::u8::ANY, 4096), kind in 0usize..4) {
            let mut h = body;
            match kind {
                0 => h[..4].copy_from_slice(b"XFSB"),
                1 => h[3..11].copy_from_slice(b"NTFS    "),
                2 => h[1024 + 0x38..1024 + 0x3A].copy_from_slice(&0xEF53u16.to_le_bytes()),
                _ => h[512..520].copy_from_slice(b"EFI PART"),
            }
            proptest::prop_assert!(secondaries(&h).len() <= MAX_SECONDARY as usize);
            let _ = table_starts(&h);
            let _ = super::super::located::tag(&h);
        }
    }

    #[test]
    fn hostile_heads_give_little() {
        let mut h = vec![0xffu8; 4096];
        h[..4].copy_from_slice(b"XFSB");
        assert!(secondaries(&h).len() < MAX_SECONDARY as usize);
        assert!(secondaries(&[]).is_empty());
        assert!(table_starts(&[0u8; 100]).is_empty());
    }
}
