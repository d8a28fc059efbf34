//! Structures whose array offset is known: what sits at the array's start
//! (a partition table, a filesystem, an LVM label), found on the members
//! to propose data offsets, and checked through an assembled candidate
//! (CRCs that span chunks, the backup GPT at the array's end, filesystem
//! superblocks at partition starts) to tell right geometries from wrong.

use crate::bytes::Bytes;
use crate::fs::{ext4, ntfs};
use crate::io::{bytes_up_to, Volume};
use crate::part::{gpt, mbr};

use super::sample::Sample;

/// What the first bytes of an array can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StartKind {
    /// A GPT (protective MBR and "EFI PART" at 512).
    Gpt,
    /// An MBR partition table.
    Mbr,
    /// An LVM physical volume label.
    Lvm,
    /// A filesystem on the whole array.
    Fs,
}

/// What `head` (the first 4 KiB or so of a would-be array) starts with.
pub fn start_kind(head: &[u8]) -> Option<StartKind> {
    let b = Bytes(head);
    if b.get(512, 8) == Some(&gpt::SIGNATURE[..]) {
        return Some(StartKind::Gpt);
    }
    // pvcreate writes its label in sector 1 (LVM reads any of 0 to 3, but
    // accepting those would put four starts around every label).
    if b.get(512, 8) == Some(b"LABELONE") {
        return Some(StartKind::Lvm);
    }
    if b.get(0, 4) == Some(b"XFSB") || b.get(3, 8) == Some(b"NTFS    ") {
        return Some(StartKind::Fs);
    }
    if let Some(Some(Ok(_))) = head.get(1024..2048).map(ext4::parse_superblock) {
        return Some(StartKind::Fs);
    }
    let m = mbr::parse_mbr(head.get(..512)?).ok()?;
    let sane = !m.entries.is_empty()
        && m.entries.iter().all(|e| e.first_lba > 0 && e.kind != 0)
        && head.get(..446)?.iter().any(|&x| x != 0) | m.entries.iter().all(|e| e.first_lba >= 63);
    sane.then_some(StartKind::Mbr)
}

/// Where an array could start: (member, member offset, kind), found at
/// every sector of the sample (the head and 128 MiB first: data offsets
/// lie there; then the other windows, for offsets given by hand).
pub fn find_starts(s: &Sample, limit: usize) -> Vec<(usize, u64, StartKind)> {
    let mut out = Vec::new();
    let head = |o: u64| o < super::sample::HEAD || o == 128 << 20;
    let mut order: Vec<usize> = (0..s.starts.len()).collect();
    order.sort_by_key(|&w| s.starts.get(w).map(|&o| (!head(o), o)));
    for (m, wins) in s.data.iter().enumerate() {
        for &w in &order {
            let Some(start) = s.starts.get(w) else {
                continue;
            };
            let Some(win) = wins.get(w) else { continue };
            let mut off = 0usize;
            while off + 512 <= win.len() && out.len() < limit {
                let head = win.get(off..(off + 4096).min(win.len())).unwrap_or(&[]);
                // Cheap prefilter: every kind has a non-zero byte in the first 2 KiB.
                if head.iter().take(2048).any(|&x| x != 0) {
                    if let Some(k) = start_kind(head) {
                        out.push((m, start + off as u64, k));
                    }
                }
                off += 512;
            }
        }
    }
    out
}

/// What checking a candidate's array found.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Evidence points: each check that passed adds by its strength.
    pub points: f64,
    /// What passed (and what failed that should have passed).
    pub evidence: Vec<String>,
    /// The array size a GPT says (its backup header's LBA + 1 sectors).
    pub size_hint: Option<u64>,
    /// Bytes the partition table covers (the end of its last partition, or
    /// the GPT's backup header), or the filesystem at the array's start.
    pub needed: Option<u64>,
    /// The stripe a filesystem was made for: (unit, width) in bytes, 0
    /// where not recorded (see [`fs_stripe`]).
    pub stripe: Option<(u64, u64)>,
    /// Checksummed structures whose checksum fails (an entry array, an
    /// ext superblock, group descriptor, bitmap, inode or directory block,
    /// an MFT record): through the right geometry of a sound volume, none.
    pub failed: u32,
}

/// What the checks of one filesystem saw: lines for the report, and the
/// checksummed structures that failed.
#[derive(Debug, Default)]
struct Seen {
    lines: Vec<String>,
    failed: u32,
    /// The size the filesystem checked says it has.
    size: Option<u64>,
}

impl Seen {
    fn push(&mut self, line: String) {
        self.lines.push(line);
    }
}

/// Checks the structures at the start of `vol` (an assembled candidate).
pub fn verify(vol: &dyn Volume) -> Verified {
    let mut v = Verified::default();
    let Ok(head) = bytes_up_to(vol, 0, 4096) else {
        return v;
    };
    let mut parts: Vec<(u64, u64)> = Vec::new();
    match start_kind(&head) {
        Some(StartKind::Gpt) => {
            v.points += 1.0;
            let g = gpt::scan(vol, 512);
            if g.primary.is_intact() {
                v.points += 3.0;
                v.evidence
                    .push("GPT at array offset 0: header and entry array CRCs match".into());
            } else if g.primary.copy().is_some() {
                v.points += 1.0;
                v.failed += 1;
                v.evidence.push(
                    "GPT at array offset 0: header CRC matches, entry array CRC does not".into(),
                );
            } else {
                v.points -= 1.0;
                v.evidence
                    .push("GPT signature at 512 but the header CRC does not match".into());
            }
            if let Some(c) = g.primary.copy() {
                v.size_hint = c
                    .header
                    .alternate_lba
                    .checked_add(1)
                    .and_then(|s| s.checked_mul(512));
                v.needed = v.size_hint;
                parts = c
                    .entries
                    .iter()
                    .take(4)
                    .map(|e| {
                        // Entries read through a wrong geometry can say
                        // anything (their array's CRC is checked apart).
                        (
                            e.first_lba.saturating_mul(512),
                            e.last_lba
                                .saturating_add(1)
                                .saturating_sub(e.first_lba)
                                .saturating_mul(512),
                        )
                    })
                    .collect();
            }
            if g.backup.is_intact() {
                v.points += 2.0;
                v.evidence.push(format!(
                    "backup GPT at the array's end (LBA {}) checks out",
                    g.backup_lba
                ));
            }
        }
        Some(StartKind::Mbr) => {
            v.points += 1.0;
            if let Ok(m) = mbr::parse_mbr(&head[..512]) {
                let fits = m
                    .entries
                    .iter()
                    .all(|e| (u64::from(e.first_lba) + u64::from(e.sectors)) * 512 <= vol.len());
                if fits {
                    v.points += 1.0;
                    v.evidence.push(format!(
                        "MBR at array offset 0, {} partition(s) inside the array",
                        m.entries.len()
                    ));
                }
                parts = m
                    .entries
                    .iter()
                    .take(4)
                    .map(|e| (u64::from(e.first_lba) * 512, u64::from(e.sectors) * 512))
                    .collect();
                v.needed = parts.iter().map(|(s, l)| s.saturating_add(*l)).max();
            }
        }
        Some(k) => {
            v.points += 1.0;
            v.evidence.push(format!("{k:?} at array offset 0"));
            parts.push((0, vol.len()));
        }
        None => {}
    }
    // Each start counted once: entries read through a wrong geometry can
    // repeat one (an entry array whose CRC fails), and one filesystem
    // checked twice would outweigh the table that checks out.
    let mut once = std::collections::HashSet::new();
    parts.retain(|&(start, _)| once.insert(start));
    let table = !matches!(
        start_kind(&head),
        Some(StartKind::Fs | StartKind::Lvm) | None
    );
    let fs_start = start_kind(&head) == Some(StartKind::Fs);
    for (start, len) in parts {
        if v.stripe.is_none() {
            v.stripe = fs_stripe(vol, start);
        }
        let mut seen = Seen::default();
        let p = check_fs(vol, start, len, &mut seen);
        // A filesystem at the array's start needs the array up to its end
        // (as a partition table does, above).
        if fs_start && start == 0 && v.needed.is_none() {
            v.needed = seen.size.filter(|&x| x > 0);
        }
        v.evidence.append(&mut seen.lines);
        v.failed += seen.failed;
        v.points += p;
        // A table whose partition starts where a structure checks out
        // explains more than that structure alone (a geometry shifted by
        // the partition's start reads the structure at its offset 0).
        if table && start > 0 && p > 2.0 {
            v.points += 1.0;
        }
    }
    v
}

/// The stripe the filesystem at `start` (or in the PV there) was made
/// for, as mke2fs and mkfs.xfs read it from an md device: ext4's
/// s_raid_stride (u16 at 0x164 of the superblock) and
/// s_raid_stripe_width (u32 at 0x168), in blocks; XFS's sb_unit and
/// sb_width (big-endian u32 at 184 and 188), in blocks. `None` when none
/// is recorded.
pub fn fs_stripe(vol: &dyn Volume, start: u64) -> Option<(u64, u64)> {
    let b = bytes_up_to(vol, start, 2048).ok()?;
    if b.get(512..520) == Some(b"LABELONE") {
        let at = start.checked_add(pe_start(&b)?)?;
        if bytes_up_to(vol, at.saturating_add(512), 8).is_ok_and(|l| *l == b"LABELONE"[..]) {
            return None;
        }
        return fs_stripe(vol, at);
    }
    let x = Bytes(&b);
    let (unit, width) = if x.get(0, 4) == Some(b"XFSB") {
        let bs = u64::from(x.be_u32(4)?);
        (
            u64::from(x.be_u32(184)?).saturating_mul(bs),
            u64::from(x.be_u32(188)?).saturating_mul(bs),
        )
    } else {
        let sb = ext4::parse_superblock(b.get(1024..2048)?)?.ok()?;
        let raw = Bytes(b.get(1024..2048)?);
        let bs = u64::from(sb.block_size);
        (
            u64::from(raw.le_u16(0x164)?).saturating_mul(bs),
            u64::from(raw.le_u32(0x168)?).saturating_mul(bs),
        )
    };
    (unit > 0 || width > 0).then_some((unit, width))
}

/// Points for an LVM physical volume at `start` (`len` bytes, its first
/// sectors `head`): pvcreate records the size of the device it labelled,
/// which only the right geometry gives the array (or partition); the
/// first logical volume usually starts its data area, so the filesystem
/// there is checked too.
fn check_pv(vol: &dyn Volume, start: u64, len: u64, head: &[u8], ev: &mut Seen) -> f64 {
    let mut p = 1.0;
    ev.push(format!(
        "LVM label at array offset {:#x}",
        start.saturating_add(512)
    ));
    if let Some(size) = pv_size(head).filter(|&s| s > 0) {
        if size == len {
            p += 2.0;
            ev.push(format!("the PV's recorded size ({size}) is what it is on"));
        } else if size > len {
            p -= 2.0;
            ev.push(format!(
                "the PV's recorded size ({size}) is larger than the {len} bytes it is on"
            ));
        }
    }
    if let Some(pe) = pe_start(head).filter(|&p| p < len) {
        // A PV inside a PV would recurse: the chain stops here.
        let at = start.saturating_add(pe);
        if bytes_up_to(vol, at.saturating_add(512), 8).is_ok_and(|b| *b == b"LABELONE"[..]) {
            return p;
        }
        p += check_fs(vol, at, len - pe, ev);
    }
    p
}

/// The start of a PV's first data area (pe_start), from its label in
/// sector 1 of `head`: lvm2's label_header (offset_xl, u32 at 20) points
/// to the pv_header, whose data area list (disk_locn {offset u64, size
/// u64}) follows the 32-byte UUID and the 8-byte device size (see
/// `lvm::pv` for the whole header).
fn pe_start(head: &[u8]) -> Option<u64> {
    pv_field(head, 40).filter(|&o| o > 0)
}

/// The device size a PV's header records (device_size_xl, after the UUID).
fn pv_size(head: &[u8]) -> Option<u64> {
    pv_field(head, 32)
}

/// The u64 at `at` in the pv_header the label in sector 1 of `head` points to.
fn pv_field(head: &[u8], at: usize) -> Option<u64> {
    let label = Bytes(head.get(512..1024)?);
    let pv = usize::try_from(label.le_u32(20)?).ok()?;
    label.le_u64(pv.checked_add(at)?)
}

/// Points for a filesystem at `start` of `vol`: a superblock whose checksum
/// matches and whose size fits the partition.
fn check_fs(vol: &dyn Volume, start: u64, len: u64, ev: &mut Seen) -> f64 {
    let Ok(b) = bytes_up_to(vol, start, 2048) else {
        return 0.0;
    };
    if b.get(512..520) == Some(b"LABELONE") {
        return check_pv(vol, start, len, &b, ev);
    }
    if b.get(..4) == Some(b"XFSB") {
        return check_xfs(vol, start, len, &b, ev);
    }
    if b.get(3..11) == Some(b"NTFS    ") {
        return check_ntfs(vol, start, len, &b, ev);
    }
    match b.get(1024..2048).and_then(ext4::parse_superblock) {
        Some(Ok(sb)) => {
            let mut p = 1.0;
            let mut what = format!("ext superblock at array offset {:#x}", start + 1024);
            if let Some((stored, computed)) = sb.checksum {
                if stored == computed {
                    p += 2.0;
                    what.push_str(", checksum matches");
                } else {
                    p -= 1.0;
                    ev.failed += 1;
                    what.push_str(", checksum does not match");
                }
            }
            let size = sb.blocks.saturating_mul(u64::from(sb.block_size));
            ev.size = Some(size);
            let (sp, said) = size_points(size, len);
            p += sp;
            what.push_str(&said);
            ev.push(what);
            p += check_ext_groups(vol, start, &sb, ev);
            p
        }
        _ => 0.0,
    }
}

/// Points for a filesystem of `size` bytes on `len` bytes, and what to
/// say of it. mkfs sizes a filesystem to its device: one larger than the
/// space a geometry gives it says the geometry is too small (too few
/// members); one that fills it, to within what mkfs leaves over (a
/// partial group, the sector for NTFS's backup boot sector), speaks for
/// the geometry's size, which a wrong member count misses by a member's
/// worth.
fn size_points(size: u64, len: u64) -> (f64, String) {
    if size == 0 {
        (0.0, String::new())
    } else if size > len {
        (
            -3.0,
            format!(", but the filesystem ({size} bytes) is larger than the {len} bytes it is on"),
        )
    } else if len - size <= (len / 64).max(1 << 20) {
        (2.0, format!(", filling the {len} bytes it is on"))
    } else {
        (0.5, String::new())
    }
}

/// Points for an XFS at `start` (its superblock `sb`): every allocation
/// group starts with a copy of the superblock, then its AGF and AGI
/// headers, at multiples of the AG size, so they lie spread over the whole
/// filesystem and over every member.
fn check_xfs(vol: &dyn Volume, start: u64, len: u64, sb: &[u8], ev: &mut Seen) -> f64 {
    let b = Bytes(sb);
    let block = u64::from(b.be_u32(4).unwrap_or(0));
    let agblocks = u64::from(b.be_u32(84).unwrap_or(0));
    let agcount = u64::from(b.be_u32(88).unwrap_or(0));
    let sect = u64::from(b.be_u16(102).unwrap_or(0));
    if !(512..=65536).contains(&block)
        || agblocks == 0
        || agcount == 0
        || !(512..=32768).contains(&sect)
    {
        ev.push(format!(
            "XFS superblock at array offset {start:#x}, its geometry is not sane"
        ));
        return 0.0;
    }
    let mut t = Tally::default();
    for ag in 0..agcount.min(64) {
        let Some(at) = ag
            .checked_mul(agblocks)
            .and_then(|x| x.checked_mul(block))
            .and_then(|x| x.checked_add(start))
        else {
            break;
        };
        for (i, magic) in [(0u64, b"XFSB"), (1, b"XAGF"), (2, b"XAGI")] {
            if ag == 0 && i == 0 {
                continue;
            }
            if let Ok(h) = bytes_up_to(vol, at + i * sect, 4) {
                if h.len() == 4 {
                    t.add(&h[..] == magic);
                }
            }
        }
    }
    // sb_dblocks (offset 8): the data blocks mkfs.xfs sized to its device.
    let size = b.be_u64(8).unwrap_or(0).saturating_mul(block);
    ev.size = Some(size);
    let (sp, said) = size_points(size, len);
    ev.push(format!(
        "XFS at array offset {start:#x}: allocation group headers where its geometry puts them: {} of {}{said}",
        t.ok,
        t.ok + t.bad
    ));
    ((1.0 + 0.5 * f64::from(t.ok)).min(8.0) - 4.0 * f64::from(t.bad)).max(-16.0) + sp
}

/// Points for an NTFS at `start` (its boot sector `boot`): the first MFT
/// records carry "FILE" and intact update sequences (the last two bytes of
/// every sector of a record repeat its sequence number, so a record split
/// over two wrongly placed chunks shows it), and $MFTMirr, elsewhere in the
/// volume, repeats the first records.
fn check_ntfs(vol: &dyn Volume, start: u64, len: u64, boot: &[u8], ev: &mut Seen) -> f64 {
    let b = Bytes(boot);
    let bps = u64::from(b.le_u16(0x0B).unwrap_or(0));
    let spc = u64::from(*boot.get(0x0D).unwrap_or(&0));
    let cluster = bps * spc;
    let mft = b.le_u64(0x30).unwrap_or(0);
    let mirr = b.le_u64(0x38).unwrap_or(0);
    let rec = match boot.get(0x40).map(|&x| x as i8) {
        Some(x) if x < 0 && x > -16 => 1u64 << (-x),
        Some(x) if x > 0 => u64::from(x as u8) * cluster,
        _ => 0,
    };
    if !(512..=4096).contains(&bps)
        || cluster == 0
        || cluster > 1 << 21
        || !(512..=65536).contains(&rec)
    {
        ev.push(format!(
            "NTFS boot sector at array offset {start:#x}, its geometry is not sane"
        ));
        return 0.0;
    }
    let at = |lcn: u64| lcn.checked_mul(cluster).and_then(|x| x.checked_add(start));
    let mut t = Tally::default();
    let records = 32u64;
    let first = at(mft).and_then(|o| bytes_up_to(vol, o, (records * rec) as usize).ok());
    if let Some(m) = &first {
        for r in m.chunks_exact(rec as usize) {
            if r.iter().all(|&x| x == 0) {
                continue;
            }
            t.add(record_ok(r, None));
        }
        let mirror = at(mirr).and_then(|o| bytes_up_to(vol, o, (4 * rec) as usize).ok());
        if let Some(x) = mirror {
            t.add(m.get(..x.len()) == Some(&x[..]));
        }
        // Records further on, where $MFT's own runs (record 0) put them:
        // the MFT grows over many chunks and members.
        let extent = m.get(..rec as usize).and_then(super::located::mft_extent);
        let spread = extent.map(|(runs, size)| mft_spread(&runs, size, cluster, rec));
        for (n, pos) in spread.unwrap_or_default() {
            let Some(r) = pos
                .checked_add(start)
                .and_then(|o| bytes_up_to(vol, o, rec as usize).ok())
            else {
                continue;
            };
            if r.iter().any(|&x| x != 0) {
                t.add(record_ok(&r, Some(n)));
            }
        }
    }
    ev.failed += t.bad;
    ev.push(format!(
        "NTFS at array offset {start:#x}: MFT records and $MFTMirr that check out: {} of {}",
        t.ok,
        t.ok + t.bad
    ));
    // Many records reading right cap out; each that fails still counts.
    let mut p = ((1.0 + 0.25 * f64::from(t.ok)).min(8.0) - 4.0 * f64::from(t.bad)).max(-16.0);
    // The backup boot sector: the sector after the volume's last (total
    // sectors at 0x28), a copy of the first. Its BPB (to 0x54) is what
    // every NTFS keeps equal; it lies at the volume's end, on a member and
    // row no other check reaches.
    let backup = b
        .le_u64(0x28)
        .and_then(|ts| ts.checked_mul(bps))
        .and_then(|o| o.checked_add(start))
        .and_then(|o| bytes_up_to(vol, o, 0x54).ok());
    if let Some(x) = backup.filter(|x| x.len() == 0x54) {
        if boot.get(..0x54) == Some(&x[..]) {
            p += 2.0;
            ev.push(format!(
                "NTFS backup boot sector at array offset {:#x} matches",
                start + b.le_u64(0x28).unwrap_or(0) * bps
            ));
        } else if x.iter().any(|&y| y != 0) {
            p -= 2.0;
            ev.push("NTFS backup boot sector: other data where it belongs".into());
        }
    }
    // Total sectors at 0x28 leave out the backup boot sector after them.
    let size = b
        .le_u64(0x28)
        .unwrap_or(0)
        .saturating_add(1)
        .saturating_mul(bps);
    ev.size = Some(size);
    let (sp, said) = size_points(size, len);
    if !said.is_empty() {
        ev.push(format!("NTFS at array offset {start:#x}{said}"));
    }
    p + sp
}

/// Whether `r` is a sound MFT record: `FILE`, its update sequence fixups
/// in place (the NTFS reader's own check), and in NTFS 3.1 records (update
/// sequence at 0x30) the record number `n` at 0x2C when given (records 16
/// to 23, which mkntfs formats and leaves unused, say 0).
fn record_ok(r: &[u8], n: Option<u32>) -> bool {
    let rb = Bytes(r);
    let numbered = match n {
        Some(n) if rb.le_u16(4) == Some(0x30) => {
            matches!(rb.le_u32(0x2C), Some(x) if x == n || x == 0)
        }
        _ => true,
    };
    r.get(..4) == Some(b"FILE") && numbered && ntfs::apply_fixups(&mut r.to_vec()).is_ok()
}

/// Records of the MFT (`size` bytes initialized) spread over its runs
/// beyond the first 32 (at most 64): (record number, byte offset from the
/// volume's start).
fn mft_spread(
    runs: &[crate::fs::ntfs::runlist::Run],
    size: u64,
    cluster: u64,
    rec: u64,
) -> Vec<(u32, u64)> {
    const MORE: u64 = 64;
    let total = size / rec.max(1);
    if total <= 32 {
        return Vec::new();
    }
    let step = ((total - 32) / MORE).max(1);
    (0..MORE)
        .map_while(|i| {
            let n = 32u64.checked_add(i.checked_mul(step)?)?;
            (n < total).then_some(n)
        })
        .filter_map(|n| {
            let pos = super::located::run_offset(runs, cluster, n.checked_mul(rec)?)?;
            Some((u32::try_from(n).ok()?, pos))
        })
        .collect()
}

/// Tally of checksummed ext structures read through a candidate.
#[derive(Debug, Default)]
struct Tally {
    ok: u32,
    bad: u32,
}

impl Tally {
    fn add(&mut self, good: bool) {
        if good {
            self.ok += 1;
        } else {
            self.bad += 1;
        }
    }
}

/// Inode-table blocks `check_ext_groups` reads, spread over the groups.
const INODE_BLOCK_PROBES: u64 = 48;
/// Directory blocks it reads, the first of each directory it meets.
const DIR_PROBES: u32 = 16;

/// Whether an ext4 inode's metadata_csum matches: crc32c over the inode
/// with its checksum fields zeroed (i_checksum_lo at 0x7C, i_checksum_hi
/// at 0x82 when the extra size covers it), seeded with the filesystem
/// UUID, inode number and generation (`seed`); the low 16 bits in a
/// 128-byte inode.
fn inode_csum_ok(node: &[u8], inode_size: u64, seed: u32) -> bool {
    if node.len() < 128 {
        return false;
    }
    let nb = Bytes(node);
    let mut z = node.to_vec();
    z[0x7C] = 0; // ok: 128 bytes or more
    z[0x7D] = 0; // ok: as above
    let extra = nb.le_u16(0x80).unwrap_or(0);
    let wide = inode_size > 128 && node.len() >= 0x84 && extra >= 4;
    if wide {
        z[0x82] = 0; // ok: 0x84 bytes or more
        z[0x83] = 0;
    }
    let c = crate::checksum::crc32c_raw(seed, &z);
    let lo = nb.le_u16(0x7C).unwrap_or(0);
    if wide {
        c == u32::from(lo) | u32::from(nb.le_u16(0x82).unwrap_or(0)) << 16
    } else {
        (c & 0xFFFF) as u16 == lo
    }
}

/// For a directory inode whose data starts in an extent leaf held in the
/// inode: whether the checksum in the tail of its first block matches
/// (ext4_dir_entry_tail: rec_len 12 at 8 bytes from the end, file type
/// 0xDE at 5, crc32c at 4). `None` when there is nothing to check.
fn dir_block_ok(
    node: &[u8],
    block: &dyn Fn(u64, u64) -> Option<Vec<u8>>,
    bs: u64,
    seed: u32,
) -> Option<bool> {
    let nb = Bytes(node);
    let mode = nb.le_u16(0)?;
    let extents = nb.le_u32(0x20)? & 0x80000 != 0;
    // i_block at 0x28 holds the extent header (magic 0xF30A, depth 0 at
    // +6) and the first extent (ee_start_hi at +18, ee_start_lo at +20).
    if mode & 0xF000 != 0x4000 || !extents || nb.le_u16(0x28)? != 0xF30A || nb.le_u16(0x2E)? != 0 {
        return None;
    }
    let lo = u64::from(nb.le_u32(0x28 + 12 + 8)?);
    let hi16 = u64::from(nb.le_u16(0x28 + 12 + 6)?);
    let dir = block(lo | hi16 << 32, bs)?;
    let n = dir.len();
    let tail = Bytes(&dir);
    if n < 12 || tail.le_u16(n - 8) != Some(12) || dir.get(n - 5) != Some(&0xDE) {
        return None;
    }
    Some(tail.le_u32(n - 4) == Some(crate::checksum::crc32c_raw(seed, &dir[..n - 12])))
}

/// Points for ext metadata whose metadata_csum checksums match, read
/// through `vol`: group descriptors (a block after the superblock), block
/// and inode bitmaps, the first inodes of the inode table, and the blocks
/// of the first directories. They lie spread over the partition's first
/// megabytes, so over many chunks and rows: a layout that swaps two rows
/// breaks some of them.
fn check_ext_groups(vol: &dyn Volume, start: u64, sb: &ext4::Superblock, ev: &mut Seen) -> f64 {
    const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
    const INCOMPAT_64BIT: u32 = 0x80;
    if sb.ro_compat & RO_COMPAT_METADATA_CSUM == 0 {
        return 0.0;
    }
    let Ok(raw) = bytes_up_to(vol, start + 1024, 1024) else {
        return 0.0;
    };
    let r = Bytes(&raw);
    let field32 = |o: usize| r.le_u32(o).unwrap_or(0);
    let field16 = |o: usize| r.le_u16(o).unwrap_or(0);
    let bs = u64::from(sb.block_size);
    let blocks_per_group = u64::from(field32(0x24)).clamp(8, 1 << 20);
    let inodes_per_group = u64::from(field32(0x28)).clamp(8, 1 << 20);
    let inode_size = u64::from(field16(0x58)).clamp(128, 1024);
    let first_data_block = u64::from(field32(0x14));
    let desc = if sb.incompat & INCOMPAT_64BIT != 0 {
        u64::from(field16(0xFE)).clamp(32, 1024)
    } else {
        32
    } as usize;
    let seed = crate::checksum::crc32c_raw(!0, &sb.uuid);
    let crc = |parts: &[&[u8]]| {
        parts
            .iter()
            .fold(seed, |c, p| crate::checksum::crc32c_raw(c, p))
    };
    let block = |n: u64, len: u64| -> Option<Vec<u8>> {
        let off = start.checked_add(n.checked_mul(bs)?)?;
        bytes_up_to(vol, off, usize::try_from(len.min(1 << 16)).ok()?)
            .ok()
            .map(|b| b.into_owned())
    };
    let mut t = Tally::default();
    let Some(gd) = block(first_data_block + 1, 4096.max(bs)) else {
        return 0.0;
    };
    let groups = sb.blocks.div_ceil(blocks_per_group).min(16) as usize;
    let step = (groups as u64 * blocks_per_group / u64::from(FREE_PROBES / 2)).max(1);
    let mut tables = Vec::new();
    let mut free = (0u32, 0u32);
    for g in 0..groups {
        let Some(d) = gd.get(g * desc..(g + 1) * desc) else {
            break;
        };
        if d.iter().all(|&x| x == 0) {
            break;
        }
        let stored = u16::from_le_bytes([d[0x1E], d[0x1F]]);
        let c = crc(&[&(g as u32).to_le_bytes(), &d[..0x1E], &[0, 0], &d[0x20..]]);
        let good = (c & 0xFFFF) as u16 == stored;
        t.add(good);
        if !good {
            continue;
        }
        let db = Bytes(d);
        let hi = |o: usize| {
            if desc >= 64 {
                u64::from(db.le_u32(o).unwrap_or(0)) << 32
            } else {
                0
            }
        };
        let flags = db.le_u16(0x12).unwrap_or(0);
        let bbitmap = u64::from(db.le_u32(0).unwrap_or(0)) | hi(0x20);
        let ibitmap = u64::from(db.le_u32(4).unwrap_or(0)) | hi(0x24);
        let itable = u64::from(db.le_u32(8).unwrap_or(0)) | hi(0x28);
        // bg_itable_unused (0x1C, high half at 0x32): inodes past the
        // used part were never written.
        let unused = u64::from(db.le_u16(0x1C).unwrap_or(0))
            | if desc >= 64 {
                u64::from(db.le_u16(0x32).unwrap_or(0)) << 16
            } else {
                0
            };
        if flags & 1 == 0 {
            tables.push((g as u64, itable, inodes_per_group.saturating_sub(unused)));
        }
        if flags & 2 == 0 {
            if let Some(b) = block(bbitmap, blocks_per_group / 8) {
                let c = crc(&[&b]);
                let good = (c & 0xFFFF) as u16 == db.le_u16(0x18).unwrap_or(0);
                t.add(good);
                if good {
                    let first = first_data_block + g as u64 * blocks_per_group;
                    free_blocks_with_data(&b, first, blocks_per_group, step, &block, &mut free);
                }
            }
        }
        if flags & 1 == 0 {
            if let Some(b) = block(ibitmap, inodes_per_group / 8) {
                let c = crc(&[&b]);
                t.add((c & 0xFFFF) as u16 == db.le_u16(0x1A).unwrap_or(0));
            }
        }
    }
    // Inodes spread over the used part of every group's inode table, and
    // the first block of each directory among them: a table spans many
    // chunks, so a layout that swaps two chunks of a row breaks some.
    let per_block = (bs / inode_size).max(1);
    let total: u64 = tables.iter().map(|t| t.2.div_ceil(per_block)).sum();
    let stride = (total / INODE_BLOCK_PROBES).max(1);
    let mut dirs = 0u32;
    // `k` counts blocks over all the tables, `first` is this table's first.
    let (mut k, mut first) = (0u64, 0u64);
    for &(g, it, used) in &tables {
        let blocks = used.div_ceil(per_block);
        while k < first + blocks {
            let rest = k - first;
            k += stride;
            let Some(tab) = it.checked_add(rest).and_then(|b| block(b, bs)) else {
                continue;
            };
            let mut verdict = None;
            for i in 0..per_block {
                let Some(node) =
                    tab.get((i * inode_size) as usize..((i + 1) * inode_size) as usize)
                else {
                    break;
                };
                let nb = Bytes(node);
                // Free inodes (no links) may hold anything mke2fs or a
                // deletion left; only live ones are checked.
                if nb.le_u16(0).unwrap_or(0) == 0 || nb.le_u16(0x1A).unwrap_or(0) == 0 {
                    continue;
                }
                let ino = g * inodes_per_group + rest * per_block + i + 1;
                let Ok(ino) = u32::try_from(ino) else { break };
                let gen = nb.get(0x64, 4).unwrap_or(&[0; 4]);
                let ic = crc(&[&ino.to_le_bytes(), gen]);
                let good = inode_csum_ok(node, inode_size, ic);
                if good {
                    t.ok += 1;
                }
                verdict = Some(verdict.unwrap_or(true) && good);
                if good && dirs < DIR_PROBES {
                    if let Some(ok) = dir_block_ok(node, &block, bs, ic) {
                        dirs += 1;
                        t.add(ok);
                    }
                }
            }
            // One wrong chunk breaks every inode of a block: it counts once.
            if verdict == Some(false) {
                t.bad += 1;
            }
        }
        first += blocks;
    }
    // A checksum that fails through a geometry all but rules it out (on a
    // sound filesystem every one matches through the right one).
    let mut points = ((0.5 * f64::from(t.ok)).min(8.0) - 4.0 * f64::from(t.bad)).max(-16.0);
    // Free blocks read as data: in the right geometry a filesystem's free
    // blocks hold what was there before (zeros on a new array), in a
    // wrong one they hold pieces of files and parity.
    // The share weighs a filesystem whose free space is full of old data
    // the same in every geometry; the count, capped, tells apart the few
    // chunks a wrong order moves next to files on a new one.
    let (with_data, sampled) = free;
    if sampled >= 32 {
        points -= 12.0 * f64::from(with_data) / f64::from(sampled);
        points -= 0.25 * f64::from(with_data.min(32));
    }
    ev.failed += t.bad;
    ev.push(format!(
        "ext metadata checksums: {} match, {} do not; free blocks holding data: {with_data} of {sampled}",
        t.ok, t.bad
    ));
    points
}

/// Probes the free blocks of one group (`bitmap`, the group's first
/// block `first`, `count` blocks): adds (free blocks not zero, free blocks
/// read) to `acc`, reading the first 512 bytes of every `step`th block
/// and of each block where a free run starts or ends (where a wrong
/// geometry puts the pieces of files next to them), until `acc` holds
/// `FREE_PROBES` probes.
fn free_blocks_with_data(
    bitmap: &[u8],
    first: u64,
    count: u64,
    step: u64,
    block: &dyn Fn(u64, u64) -> Option<Vec<u8>>,
    acc: &mut (u32, u32),
) {
    let used = |i: u64| {
        bitmap
            .get((i / 8) as usize)
            .is_none_or(|b| b >> (i % 8) & 1 == 1)
    };
    for i in 0..count {
        if acc.1 >= FREE_PROBES {
            return;
        }
        let edge = i == 0 || used(i - 1) || i + 1 == count || used(i + 1);
        if used(i) || !(edge || i % step == 0) {
            continue;
        }
        if let Some(b) = block(first + i, 512) {
            acc.1 += 1;
            if b.iter().any(|&x| x != 0) {
                acc.0 += 1;
            }
        }
    }
}

/// At most this many free blocks are read per filesystem.
const FREE_PROBES: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mft_records_are_checked_with_their_number() {
        let mut r = vec![0u8; 1024];
        r[..4].copy_from_slice(b"FILE");
        r[4..6].copy_from_slice(&0x30u16.to_le_bytes());
        r[6..8].copy_from_slice(&3u16.to_le_bytes());
        r[0x30..0x32].copy_from_slice(&7u16.to_le_bytes());
        r[510..512].copy_from_slice(&7u16.to_le_bytes());
        r[1022..1024].copy_from_slice(&7u16.to_le_bytes());
        r[0x2C..0x30].copy_from_slice(&40u32.to_le_bytes());
        assert!(record_ok(&r, Some(40)));
        assert!(record_ok(&r, None));
        assert!(!record_ok(&r, Some(41)));
        r[1022] = 8;
        assert!(!record_ok(&r, Some(40)));
    }

    #[test]
    fn an_mbr_starts_an_array() {
        let mut s = vec![0u8; 4096];
        s[446] = 0;
        s[446 + 4] = 0x83;
        s[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        s[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(start_kind(&s), Some(StartKind::Mbr));
        s[512..520].copy_from_slice(b"EFI PART");
        assert_eq!(start_kind(&s), Some(StartKind::Gpt));
    }

    proptest! {
        #[test]
        fn start_kind_never_panics(b in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let _ = start_kind(&b);
        }
    }
}
