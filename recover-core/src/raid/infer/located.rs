//! Blocks that record where they lie: XFS v5 metadata (free-space, inode,
//! reverse-map and refcount btree blocks, block-map btree blocks,
//! directory and attribute blocks) carries its own disk address and the
//! filesystem's UUID, and an NTFS MFT record carries its record number.
//! Found on a member, each says which array offset that member offset
//! holds, once the filesystem's start in the array is known: a pin for
//! every geometry, whatever the files' content.

use super::sample::Sample;
use crate::bytes::Bytes;
use crate::fs::ntfs::runlist::{self, Run};

/// Blocks kept from the sample, at most (spread over it).
const MAX_LOCATED: usize = 4096;

/// What a located block says about where it lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// XFS v5 metadata of the filesystem with this UUID, at this offset
    /// from the filesystem's start (its 512-byte disk address times 512).
    Xfs {
        /// `sb_uuid` (or `sb_meta_uuid`) of the filesystem.
        uuid: [u8; 16],
        /// Bytes from the filesystem's start.
        at: u64,
    },
    /// An NTFS MFT record and its number (`FILE` records of NTFS 3.1
    /// record it at 0x2C).
    Mft(u32),
}

/// A located block found on a member.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    /// The sample member.
    pub member: usize,
    /// Member offset.
    pub at: u64,
    /// What it says.
    pub tag: Tag,
}

/// The 16-byte UUID at `at`.
fn uuid(b: Bytes<'_>, at: usize) -> Option<[u8; 16]> {
    b.array::<16>(at)
}

/// What the block starting with `head` (at least 64 bytes) says of where
/// it lies, following the v5 headers of the XFS on-disk format: short-form
/// btree blocks (`xfs_btree_block` with the short header: disk address at
/// 16, UUID at 32), long-form (address at 24, UUID at 40), directory data
/// and free-index blocks (`xfs_dir3_blk_hdr`: address at 8, UUID at 24),
/// directory/attribute node and leaf blocks (`xfs_da3_blkinfo`, 16-bit
/// magic at 8: address at 16, UUID at 32).
pub fn tag(head: &[u8]) -> Option<Tag> {
    let b = Bytes(head);
    let magic = b.get(0, 4)?;
    let (addr, id) = match magic {
        b"AB3B" | b"AB3C" | b"IAB3" | b"FIB3" | b"RMB3" | b"R3FC" => (16, 32),
        b"BMA3" => (24, 40),
        b"XDB3" | b"XDD3" | b"XDF3" => (8, 24),
        b"FILE" => {
            // The update sequence array lies after the header; a record
            // number is there only in NTFS 3.1 records (USA offset 0x30).
            if b.le_u16(4)? != 0x30 {
                return None;
            }
            return Some(Tag::Mft(b.le_u32(0x2C)?));
        }
        _ => match b.be_u16(8)? {
            0x3ebe | 0x3df1 | 0x3dff | 0x3bee => (16, 32),
            _ => return None,
        },
    };
    let daddr = b.be_u64(addr)?;
    let id = uuid(b, id)?;
    if id == [0; 16] {
        return None;
    }
    Some(Tag::Xfs {
        uuid: id,
        at: daddr.checked_mul(512)?,
    })
}

/// Every located block of the sample, at 512-byte steps.
pub fn scan(s: &Sample) -> Vec<Located> {
    let mut out = Vec::new();
    for (m, wins) in s.data.iter().enumerate() {
        for (w, win) in wins.iter().enumerate() {
            let Some(&start) = s.starts.get(w) else {
                continue;
            };
            for (i, sector) in win.chunks_exact(512).enumerate() {
                if let Some(t) = tag(sector) {
                    out.push(Located {
                        member: m,
                        at: start + (i as u64) * 512,
                        tag: t,
                    });
                }
            }
        }
    }
    if out.len() > MAX_LOCATED {
        let step = out.len().div_ceil(MAX_LOCATED);
        out = out.into_iter().step_by(step).collect();
    }
    out
}

/// Where the blocks of the filesystem starting with `head` lie from its
/// start. XFS: the UUIDs at 32 and 248 (`sb_meta_uuid`) of its superblock.
/// NTFS: the MFT's extents, from the runs of `$MFT`'s own `$DATA` in
/// record 0 (found among `located`, read from the sample `s`), the
/// cluster (bytes per sector at 0x0B times sectors per cluster at 0x0D)
/// and the record size (clusters per record at 0x40, or 2^-n bytes).
pub fn offsets_of(head: &[u8], s: &Sample, located: &[Located]) -> Option<FsLocator> {
    let b = Bytes(head);
    if b.get(0, 4) == Some(b"XFSB") {
        let a = uuid(b, 32)?;
        let c = uuid(b, 248).filter(|u| *u != [0; 16]).unwrap_or(a);
        return Some(FsLocator::Xfs([a, c]));
    }
    if b.get(3, 8) == Some(b"NTFS    ") {
        let cluster = u64::from(b.le_u16(0x0B)?) * u64::from(b.u8(0x0D)?);
        let raw = b.u8(0x40)? as i8;
        let rec = if raw < 0 {
            1u64.checked_shl(u32::from(raw.unsigned_abs()))?
        } else {
            u64::from(raw as u8).checked_mul(cluster)?
        };
        if !(512..=1 << 16).contains(&rec) || cluster == 0 {
            return None;
        }
        let runs = located
            .iter()
            .filter(|l| l.tag == Tag::Mft(0))
            .find_map(|l| mft_runs(s.bytes(l.member, l.at, rec as usize)?))?;
        return Some(FsLocator::Ntfs { cluster, rec, runs });
    }
    None
}

/// The runs of the unnamed `$DATA` of MFT record 0 (`$MFT` itself).
fn mft_runs(raw: &[u8]) -> Option<Vec<Run>> {
    mft_extent(raw).map(|(runs, _)| runs)
}

/// The runs of the unnamed `$DATA` of MFT record 0 and its initialized
/// size: the records in use lie below it (those allocated after it can
/// hold anything).
pub(super) fn mft_extent(raw: &[u8]) -> Option<(Vec<Run>, u64)> {
    use crate::fs::ntfs::record::{parse, Body};
    let (_, attrs) = parse(raw).ok()?;
    attrs.iter().find_map(|a| match &a.body {
        Body::NonResident(nr) if a.kind == 0x80 && a.name.is_empty() && nr.lowest_vcn == 0 => {
            Some((
                runlist::decode(&nr.pairs, 0).ok()?,
                nr.initialized.min(nr.size),
            ))
        }
        _ => None,
    })
}

/// Where byte `byte` of an attribute with `runs` lies from the volume's
/// start (`cluster` bytes per cluster); `None` in a hole or past the runs.
pub(super) fn run_offset(runs: &[Run], cluster: u64, byte: u64) -> Option<u64> {
    let vcn = byte.checked_div(cluster)?;
    let run = runs.iter().find(|r| vcn >= r.vcn && vcn - r.vcn < r.len)?;
    let lcn = run.lcn?.checked_add(vcn - run.vcn)?;
    lcn.checked_mul(cluster)?.checked_add(byte % cluster)
}

/// How one filesystem places its located blocks.
#[derive(Debug, Clone)]
pub enum FsLocator {
    /// The UUIDs its metadata carries.
    Xfs([[u8; 16]; 2]),
    /// The MFT's extents.
    Ntfs {
        /// Bytes per cluster.
        cluster: u64,
        /// Bytes per record.
        rec: u64,
        /// `$MFT`'s runs.
        runs: Vec<Run>,
    },
}

impl FsLocator {
    /// The offset from the filesystem's start of a block with `tag`, when
    /// it belongs to this filesystem.
    pub fn offset(&self, tag: Tag) -> Option<u64> {
        match (self, tag) {
            (FsLocator::Xfs(ids), Tag::Xfs { uuid, at }) => ids.contains(&uuid).then_some(at),
            // Records 0 to 3 have copies in $MFTMirr, elsewhere.
            (FsLocator::Ntfs { cluster, rec, runs }, Tag::Mft(n)) if n >= 4 => {
                run_offset(runs, *cluster, u64::from(n).checked_mul(*rec)?)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfs_btree_block_says_where_it_lies() {
        let mut b = vec![0u8; 512];
        b[..4].copy_from_slice(b"AB3B");
        b[16..24].copy_from_slice(&24u64.to_be_bytes());
        b[32..48].copy_from_slice(&[7; 16]);
        assert_eq!(
            tag(&b),
            Some(Tag::Xfs {
                uuid: [7; 16],
                at: 24 * 512
            })
        );
        let l = FsLocator::Xfs([[7; 16], [7; 16]]);
        assert_eq!(l.offset(tag(&b).unwrap()), Some(12288));
        assert_eq!(FsLocator::Xfs([[8; 16]; 2]).offset(tag(&b).unwrap()), None);
    }

    #[test]
    fn short_or_foreign_blocks_say_nothing() {
        assert_eq!(tag(b"AB3B"), None);
        assert_eq!(tag(&[0u8; 512]), None);
        let mut b = vec![0xffu8; 512];
        b[..4].copy_from_slice(b"BMA3");
        // An address past u64 bytes is no position.
        assert_eq!(tag(&b), None);
    }
}
