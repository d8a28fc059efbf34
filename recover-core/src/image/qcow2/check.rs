//! qcow2 consistency, counted the way `qemu-img check` counts it (QEMU's
//! block/qcow2-refcount.c: the in-memory refcount table built from every
//! reference, compared with the stored refcounts, then the COPIED flags),
//! so that the numbers can be compared with `qemu-img check --output=json`.
//!
//! References counted, each adding one to every cluster its byte range
//! touches: the header cluster; the active L1 table, each L2 table it
//! names and each data cluster (or compressed range) those name; the same
//! for every snapshot's L1 table; the snapshot table; the refcount table;
//! the encryption header; each refcount block. A byte range that ends a
//! cluster or more past the end of the file is a corruption and is not
//! counted (the last cluster may be partly written).
//!
//! Then, for every cluster of the file: a stored refcount below the
//! references is a corruption (QEMU's "ERROR cluster N refcount=..."), one
//! above is a leak. Entries with reserved bits set, tables and data
//! clusters not cluster aligned, refcount blocks outside the file or
//! shared with anything else, compressed entries with COPIED set, and
//! COPIED flags that disagree with a refcount of 1 are corruptions too.
//!
//! Bounds: the counting array holds one `u32` per cluster of the file and
//! files of more than [`MAX_CLUSTERS`] clusters are refused; at most
//! [`MAX_L2_ENTRIES`] L1 and L2 entries are visited (a crafted L1 table
//! can name one L2 table millions of times, and 65,536 snapshots can each
//! have an L1 table of millions of entries). Reads past the end of the file read as
//! zeros, as QEMU's file driver reads them. Persistent dirty bitmaps are
//! not counted (their clusters would show as leaks).

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::image::check::{Findings, Kind};
use crate::io::{bytes_up_to, read_padded, Volume};

use super::header::{self, Header, INCOMPAT_EXTENDED_L2, INCOMPAT_EXTERNAL_DATA};

/// Clusters of the file the check counts at most (a `u32` each: 256 MiB).
pub const MAX_CLUSTERS: u64 = 1 << 26;
/// L1 and L2 entries visited at most, over all tables and both passes.
pub const MAX_L2_ENTRIES: u64 = 1 << 31;
/// QEMU's largest L1 table (QCOW_MAX_L1_SIZE), in entries.
const MAX_L1_ENTRIES: u64 = (32 << 20) / 8;
/// QEMU's largest refcount table (QCOW_MAX_REFTABLE_SIZE), in bytes.
const MAX_REFTABLE_BYTES: u64 = 8 << 20;
/// QEMU's largest snapshot count and snapshot table.
const MAX_SNAPSHOTS: u32 = 65536;
const MAX_SNAPSHOT_TABLE: u64 = 64 << 20;

const L1E_OFFSET_MASK: u64 = 0x00FF_FFFF_FFFF_FE00;
const L1E_RESERVED_MASK: u64 = 0x7F00_0000_0000_01FF;
const L2E_OFFSET_MASK: u64 = 0x00FF_FFFF_FFFF_FE00;
const L2E_STD_RESERVED_MASK: u64 = 0x3F00_0000_0000_01FE;
const REFT_OFFSET_MASK: u64 = 0xFFFF_FFFF_FFFF_FE00;
const REFT_RESERVED_MASK: u64 = 0x1FF;
const COPIED: u64 = 1 << 63;
const COMPRESSED: u64 = 1 << 62;
const ZERO: u64 = 1;
const ALL_ALLOC: u64 = 0xFFFF_FFFF;

/// The counts `qemu-img check --output=json` prints (a field it leaves out
/// is 0 here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `corruptions`: refcount errors and damaged structures.
    pub corruptions: u64,
    /// `leaks`: clusters with a refcount and no reference.
    pub leaks: u64,
    /// `check-errors`: what could not be checked.
    pub check_errors: u64,
    /// `image-end-offset`: the end of the last cluster in use or counted.
    pub image_end_offset: u64,
    /// `total-clusters`: clusters of the virtual disk.
    pub total_clusters: u64,
    /// `allocated-clusters`: clusters the active L2 tables map.
    pub allocated_clusters: u64,
    /// `fragmented-clusters`: mapped clusters not right after the one before
    /// in their L2 table (compressed clusters always).
    pub fragmented_clusters: u64,
    /// `compressed-clusters`.
    pub compressed_clusters: u64,
}

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The counts.
    pub counts: Counts,
    /// Each finding, with the offset of the entry or cluster at fault.
    pub findings: Findings,
}

/// The check stopped (a read failed, a limit was reached): counted as a
/// check error already.
struct Stop;

/// What an L2 entry maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Unallocated,
    ZeroPlain,
    ZeroAlloc,
    Normal,
    Compressed,
}

struct Checker<'a> {
    file: &'a dyn Volume,
    h: &'a Header,
    cb: u32,
    cs: u64,
    file_len: u64,
    extended: bool,
    external: bool,
    /// References counted per cluster of the file.
    imrt: Vec<u32>,
    /// The largest refcount an entry can hold (capped to the counter).
    refcount_max: u64,
    reftable: Vec<u64>,
    /// The refcount block last read: its table index and bytes.
    block: Option<(usize, Vec<u8>)>,
    budget: u64,
    out: Report,
}

/// Checks the qcow2 image in `file`. An error means QEMU would not open it
/// (header, L1, refcount or snapshot table refused): nothing to count.
pub fn check(file: &dyn Volume) -> Result<Report> {
    let name = file.describe();
    let bad = |at: u64, why: String| Error::corrupt("qcow2 header", at, why).within(&name, 0);
    let head = bytes_up_to(file, 0, 1 << 21)?;
    let h = match header::parse(&head) {
        None => return Err(bad(0, "no QFI\\xfb magic".into())),
        Some(Err((at, why))) => return Err(bad(at, why)),
        Some(Ok(h)) => h,
    };
    let cs = h.cluster_size();
    if h.l1_table_offset % cs != 0 {
        return Err(bad(
            40,
            format!(
                "L1 table offset {:#x} not cluster aligned",
                h.l1_table_offset
            ),
        ));
    }
    if u64::from(h.l1_size) > MAX_L1_ENTRIES {
        return Err(bad(
            36,
            format!("L1 table of {} entries is too large", h.l1_size),
        ));
    }
    let reftable_bytes = u64::from(h.refcount_table_clusters) * cs;
    if reftable_bytes > MAX_REFTABLE_BYTES {
        return Err(bad(
            56,
            format!(
                "refcount table of {} clusters is too large",
                h.refcount_table_clusters
            ),
        ));
    }
    if h.refcount_table_offset % cs != 0 {
        return Err(bad(
            48,
            format!(
                "refcount table offset {:#x} not cluster aligned",
                h.refcount_table_offset
            ),
        ));
    }
    if h.nb_snapshots > MAX_SNAPSHOTS {
        return Err(bad(60, format!("{} snapshots", h.nb_snapshots)));
    }
    if h.nb_snapshots > 0 && h.snapshots_offset % cs != 0 {
        return Err(bad(
            64,
            format!(
                "snapshot table offset {:#x} not cluster aligned",
                h.snapshots_offset
            ),
        ));
    }
    let (snapshots, snapshots_size) = if h.nb_snapshots == 0 {
        (Vec::new(), 0)
    } else {
        let want = (u64::from(h.nb_snapshots) * (40 + 1024 + 2 * 65535)).min(MAX_SNAPSHOT_TABLE);
        let raw = bytes_up_to(file, h.snapshots_offset, want as usize)?; // ok: <= 64 MiB
        header::snapshot_table(&raw, h.nb_snapshots).map_err(|(o, why)| {
            Error::corrupt("qcow2 snapshot table", h.snapshots_offset + o, why).within(&name, 0)
        })?
    };
    let mut reftable_raw = vec![0u8; reftable_bytes as usize]; // ok: <= 8 MiB
    read_padded(Some(file), h.refcount_table_offset, &mut reftable_raw)?;
    let reftable = reftable_raw
        .chunks_exact(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8]))) // ok: chunks_exact(8)
        .collect();
    let order = h.refcount_order;
    let refcount_max = if order >= 5 {
        u64::from(u32::MAX)
    } else {
        (1u64 << (1u32 << order)) - 1
    };
    let file_len = file.len();
    let mut c = Checker {
        file,
        h: &h,
        cb: h.cluster_bits,
        cs,
        file_len,
        extended: h.incompatible & INCOMPAT_EXTENDED_L2 != 0,
        external: h.incompatible & INCOMPAT_EXTERNAL_DATA != 0,
        imrt: Vec::new(),
        refcount_max,
        reftable,
        block: None,
        budget: MAX_L2_ENTRIES,
        out: Report::default(),
    };
    // The guest disk rounded up to 512-byte sectors, as QEMU sizes it.
    c.out.counts.total_clusters = h.size.div_ceil(512).saturating_mul(512).div_ceil(cs);
    let nb_clusters = file_len.div_ceil(cs);
    if nb_clusters > MAX_CLUSTERS {
        c.check_error(0, format!("{nb_clusters} clusters in the file: more than the {MAX_CLUSTERS} this check counts"));
        return Ok(c.out);
    }
    // One more for a last cluster only partly in the file.
    if c.imrt.try_reserve_exact(nb_clusters as usize + 1).is_err() {
        c.check_error(0, format!("no memory to count {nb_clusters} clusters"));
        return Ok(c.out);
    }
    c.imrt.resize(nb_clusters as usize, 0); // ok: <= MAX_CLUSTERS
    let _ = c.run(&snapshots, snapshots_size);
    Ok(c.out)
}

impl Checker<'_> {
    fn corrupt(&mut self, at: u64, detail: String) {
        self.out.counts.corruptions += 1;
        self.out.findings.push(Kind::Corruption, at, detail);
    }

    fn check_error(&mut self, at: u64, detail: String) {
        self.out.counts.check_errors += 1;
        self.out.findings.push(Kind::CheckError, at, detail);
    }

    fn read(&mut self, at: u64, buf: &mut [u8], what: &str) -> std::result::Result<(), Stop> {
        read_padded(Some(self.file), at, buf).map_err(|e| {
            self.check_error(at, format!("{what} cannot be read: {e}"));
            Stop
        })
    }

    fn run(
        &mut self,
        snapshots: &[header::Snapshot],
        snapshots_size: u64,
    ) -> std::result::Result<(), Stop> {
        let h = self.h;
        self.count(0, self.cs, 0, "the header");
        let active = self.l1(
            h.l1_table_offset,
            h.l1_size,
            true,
            40,
            "the active L1 table",
        )?;
        if self.external && !snapshots.is_empty() {
            self.corrupt(
                60,
                format!(
                    "{} snapshots in an image with an external data file",
                    snapshots.len()
                ),
            );
        }
        for (i, s) in snapshots.iter().enumerate() {
            let what = format!("snapshot {:?} ({:?})", s.id, s.name);
            if s.l1_table_offset % self.cs != 0 {
                self.corrupt(
                    h.snapshots_offset,
                    format!(
                        "{what}: L1 table at {:#x} not cluster aligned",
                        s.l1_table_offset
                    ),
                );
                continue;
            }
            if u64::from(s.l1_size) > MAX_L1_ENTRIES {
                self.corrupt(
                    h.snapshots_offset,
                    format!("{what}: L1 table of {} entries is too large", s.l1_size),
                );
                continue;
            }
            let _ = i;
            self.l1(
                s.l1_table_offset,
                s.l1_size,
                false,
                h.snapshots_offset,
                &format!("the L1 table of {what}"),
            )?;
        }
        self.count(h.snapshots_offset, snapshots_size, 64, "the snapshot table");
        let rt_bytes = self.reftable.len() as u64 * 8;
        self.count(h.refcount_table_offset, rt_bytes, 48, "the refcount table");
        if let Some((off, len)) = h.crypto_header {
            self.count(off, len, 0, "the encryption header");
        }
        self.refblocks();
        let highest = self.compare();
        self.out.counts.image_end_offset = (highest + 1) * self.cs;
        self.copied(&active)
    }

    /// One reference to the clusters `len` bytes at `off` touch; `at` is
    /// where the reference is stored.
    fn count(&mut self, off: u64, len: u64, at: u64, what: &str) {
        if len == 0 {
            return;
        }
        let end = off.checked_add(len);
        if end.is_none_or(|e| e >= self.file_len.saturating_add(self.cs)) {
            self.corrupt(
                at,
                format!(
                    "{what} at {off:#x} ({len} bytes) ends a cluster or more past the end of the file ({:#x})",
                    self.file_len
                ),
            );
            return;
        }
        let first = off >> self.cb;
        let last = (off + len - 1) >> self.cb; // ok: checked above
        for k in first..=last {
            let k = k as usize; // ok: below file_len / cs + 1 <= MAX_CLUSTERS + 1
            if k >= self.imrt.len() {
                // At most one past the file's clusters (reserved).
                self.imrt.resize(k + 1, 0);
            }
            let n = self.imrt.get(k).copied().unwrap_or(0);
            if u64::from(n) >= self.refcount_max {
                self.corrupt(
                    (k as u64) << self.cb,
                    format!("more references to cluster {k} than its refcount can hold ({what})"),
                );
                continue;
            }
            if let Some(slot) = self.imrt.get_mut(k) {
                *slot = n + 1;
            }
        }
    }

    /// Counts an L1 table and everything below it; returns its entries.
    fn l1(
        &mut self,
        off: u64,
        size: u32,
        active: bool,
        at: u64,
        what: &str,
    ) -> std::result::Result<Vec<u64>, Stop> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let bytes = u64::from(size) * 8;
        self.count(off, bytes, at, what);
        // L1 entries count against the same bound: 65,536 snapshots may
        // each name an L1 table of 4 Mi entries.
        self.spend(at, u64::from(size))?;
        let mut raw = vec![0u8; bytes as usize]; // ok: <= 32 MiB (MAX_L1_ENTRIES)
        self.read(off, &mut raw, what)?;
        let table: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8]))) // ok: chunks_exact(8)
            .collect();
        let mut l2 = vec![0u8; self.cs as usize]; // ok: <= 2 MiB
        for (i, &e) in table.iter().enumerate() {
            if e == 0 {
                continue;
            }
            let at = off + i as u64 * 8;
            if e & L1E_RESERVED_MASK != 0 {
                self.corrupt(at, format!("L1 entry {i} ({e:#x}) has reserved bits set"));
            }
            let l2_off = e & L1E_OFFSET_MASK;
            self.count(
                l2_off,
                self.cs,
                at,
                &format!("the L2 table of L1 entry {i}"),
            );
            if l2_off % self.cs != 0 {
                self.corrupt(
                    at,
                    format!("L1 entry {i}: L2 table at {l2_off:#x} not cluster aligned"),
                );
            }
            self.l2(l2_off, &mut l2, active)?;
        }
        Ok(table)
    }

    /// Takes `n` table entries from the work bound.
    fn spend(&mut self, at: u64, n: u64) -> std::result::Result<(), Stop> {
        if self.budget < n {
            self.check_error(
                at,
                format!("more than {MAX_L2_ENTRIES} table entries to visit: the check stops here"),
            );
            return Err(Stop);
        }
        self.budget -= n;
        Ok(())
    }

    fn entry(&self, table: &[u8], i: usize) -> (u64, u64) {
        let es = self.h.l2_entry_size() as usize;
        let b = Bytes(table);
        let e = b.be_u64(i * es).unwrap_or(0);
        let bitmap = if self.extended {
            b.be_u64(i * es + 8).unwrap_or(0)
        } else {
            0
        };
        (e, bitmap)
    }

    fn kind(&self, e: u64) -> Type {
        if e & COMPRESSED != 0 {
            Type::Compressed
        } else if e & ZERO != 0 && !self.extended {
            if e & L2E_OFFSET_MASK != 0 {
                Type::ZeroAlloc
            } else {
                Type::ZeroPlain
            }
        } else if e & L2E_OFFSET_MASK == 0 {
            // An external data file has clusters at its offset 0, told
            // apart by COPIED (they all have refcount 1).
            if self.external && e & COPIED != 0 {
                Type::Normal
            } else {
                Type::Unallocated
            }
        } else {
            Type::Normal
        }
    }

    /// Counts the clusters an L2 table maps (and, for the active table, the
    /// allocation and fragmentation figures).
    fn l2(&mut self, off: u64, table: &mut [u8], active: bool) -> std::result::Result<(), Stop> {
        self.spend(off, self.cs / self.h.l2_entry_size())?;
        self.read(off, table, "an L2 table")?;
        let es = self.h.l2_entry_size();
        let n = (self.cs / es) as usize;
        let cb = self.cb;
        let csize_shift = 62 - (cb - 8);
        let csize_mask = (1u64 << (cb - 8)) - 1;
        let coffset_mask = (1u64 << csize_shift) - 1;
        let mut next = 0u64;
        for i in 0..n {
            let (e, bitmap) = self.entry(table, i);
            let at = off + i as u64 * es;
            let t = self.kind(e);
            if t != Type::Compressed && e & L2E_STD_RESERVED_MASK != 0 {
                self.corrupt(at, format!("L2 entry ({e:#x}) has reserved bits set"));
            }
            match t {
                Type::Compressed => {
                    if e & COPIED != 0 {
                        self.corrupt(at, format!("compressed L2 entry ({e:#x}) has COPIED set"));
                    }
                    if self.external {
                        self.corrupt(
                            at,
                            "compressed cluster in an image with an external data file".into(),
                        );
                        continue;
                    }
                    if bitmap != 0 {
                        self.corrupt(
                            at,
                            format!("compressed cluster with a subcluster bitmap ({bitmap:#x})"),
                        );
                        continue;
                    }
                    let coff = e & coffset_mask;
                    let sectors = ((e >> csize_shift) & csize_mask) + 1;
                    let len = (sectors * 512).saturating_sub(coff & 511);
                    self.count(coff, len, at, "a compressed cluster");
                    if active {
                        let c = &mut self.out.counts;
                        c.allocated_clusters += 1;
                        c.compressed_clusters += 1;
                        c.fragmented_clusters += 1;
                    }
                }
                Type::Normal | Type::ZeroAlloc => {
                    let data = e & L2E_OFFSET_MASK;
                    if (bitmap >> 32) & bitmap != 0 {
                        self.corrupt(
                            at,
                            format!("subclusters both allocated and zero (bitmap {bitmap:#x})"),
                        );
                    }
                    if data % self.cs != 0 {
                        self.corrupt(at, format!("data cluster at {data:#x} not cluster aligned"));
                    }
                    if active {
                        let c = &mut self.out.counts;
                        c.allocated_clusters += 1;
                        if next != 0 && data != next {
                            c.fragmented_clusters += 1;
                        }
                        next = data.wrapping_add(self.cs);
                    }
                    if !self.external {
                        self.count(data, self.cs, at, "a data cluster");
                    }
                }
                Type::ZeroPlain => {}
                Type::Unallocated => {
                    if bitmap & ALL_ALLOC != 0 {
                        self.corrupt(at, format!("unallocated cluster with allocated subclusters (bitmap {bitmap:#x})"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Each refcount block: aligned, inside the file, referenced once.
    fn refblocks(&mut self) {
        let rt = self.h.refcount_table_offset;
        for i in 0..self.reftable.len() {
            let raw = self.reftable.get(i).copied().unwrap_or(0);
            let at = rt + i as u64 * 8;
            let off = raw & REFT_OFFSET_MASK;
            let cluster = off >> self.cb;
            if raw & REFT_RESERVED_MASK != 0 {
                self.corrupt(
                    at,
                    format!("refcount table entry {i} ({raw:#x}) has reserved bits set"),
                );
                continue;
            }
            if off % self.cs != 0 {
                self.corrupt(
                    at,
                    format!("refcount block {i} at {off:#x} not cluster aligned"),
                );
                continue;
            }
            if cluster >= self.imrt.len() as u64 {
                self.corrupt(
                    at,
                    format!("refcount block {i} at {off:#x} is outside the file"),
                );
                continue;
            }
            if off != 0 {
                self.count(off, self.cs, at, &format!("refcount block {i}"));
                let n = self.imrt.get(cluster as usize).copied().unwrap_or(0);
                if n != 1 {
                    self.corrupt(at, format!("refcount block {i} at {off:#x} is referenced {n} times (overlaps other metadata)"));
                }
            }
        }
    }

    /// The stored refcount of cluster `k`; `None` when its refcount block
    /// cannot be read (not aligned, or a read error).
    fn refcount(&mut self, k: u64) -> Option<u64> {
        let order = self.h.refcount_order;
        let block_bits = self.cb + 3 - order;
        let idx = (k >> block_bits) as usize;
        let Some(&raw) = self.reftable.get(idx) else {
            return Some(0);
        };
        let off = raw & REFT_OFFSET_MASK;
        if off == 0 {
            return Some(0);
        }
        if off % self.cs != 0 {
            return None;
        }
        if self.block.as_ref().is_none_or(|(i, _)| *i != idx) {
            let mut b = self.block.take().map(|(_, b)| b).unwrap_or_default();
            b.resize(self.cs as usize, 0);
            read_padded(Some(self.file), off, &mut b).ok()?;
            self.block = Some((idx, b));
        }
        let (_, b) = self.block.as_ref()?;
        let i = (k & ((1u64 << block_bits) - 1)) as usize;
        let bb = Bytes(b);
        Some(match order {
            0..=2 => {
                let bits = 1usize << order;
                let per = 8 / bits;
                let byte = u64::from(bb.u8(i / per)?);
                (byte >> ((i % per) * bits)) & ((1 << bits) - 1)
            }
            3 => u64::from(bb.u8(i)?),
            4 => u64::from(bb.be_u16(i * 2)?),
            5 => u64::from(bb.be_u32(i * 4)?),
            _ => bb.be_u64(i * 8)?,
        })
    }

    /// Stored refcounts against references; returns the highest cluster
    /// either calls in use.
    fn compare(&mut self) -> u64 {
        let mut highest = 0;
        for k in 0..self.imrt.len() as u64 {
            let at = k << self.cb;
            let Some(stored) = self.refcount(k) else {
                self.check_error(at, format!("the refcount of cluster {k} cannot be read (its refcount block is not aligned or unreadable)"));
                continue;
            };
            let refs = u64::from(self.imrt.get(k as usize).copied().unwrap_or(0));
            if stored > 0 || refs > 0 {
                highest = k;
            }
            if stored < refs {
                self.corrupt(
                    at,
                    format!("cluster {k}: refcount {stored}, {refs} references"),
                );
            } else if stored > refs {
                self.out.counts.leaks += 1;
                self.out.findings.push(
                    Kind::Leak,
                    at,
                    format!("cluster {k} leaked: refcount {stored}, {refs} references"),
                );
            }
        }
        highest
    }

    /// COPIED must be set exactly where the stored refcount is 1, in the
    /// active L1 table and the L2 tables it names.
    fn copied(&mut self, l1: &[u64]) -> std::result::Result<(), Stop> {
        let mut table = vec![0u8; self.cs as usize]; // ok: <= 2 MiB
        let es = self.h.l2_entry_size();
        let l1_at = self.h.l1_table_offset;
        for (i, &e) in l1.iter().enumerate() {
            let l2 = e & L1E_OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            let Some(rc) = self.refcount(l2 >> self.cb) else {
                continue;
            };
            if (rc == 1) != (e & COPIED != 0) {
                self.corrupt(
                    l1_at + i as u64 * 8,
                    format!(
                        "L1 entry {i}: COPIED {} but the L2 table's refcount is {rc}",
                        on(e)
                    ),
                );
            }
            self.spend(l2, self.cs / es)?;
            self.read(l2, &mut table, "an L2 table")?;
            for j in 0..(self.cs / es) as usize {
                let (e, _) = self.entry(&table, j);
                if !matches!(self.kind(e), Type::Normal | Type::ZeroAlloc) {
                    continue;
                }
                let rc = if self.external {
                    1
                } else {
                    match self.refcount((e & L2E_OFFSET_MASK) >> self.cb) {
                        Some(r) => r,
                        None => continue,
                    }
                };
                if (rc == 1) != (e & COPIED != 0) {
                    self.corrupt(
                        l2 + j as u64 * es,
                        format!(
                            "L2 entry: COPIED {} but the data cluster's refcount is {rc}",
                            on(e)
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

fn on(e: u64) -> &'static str {
    if e & COPIED != 0 {
        "set"
    } else {
        "clear"
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // the tests index their own golden bytes
mod tests {
    use super::*;
    use crate::io::{MemVolume, Zeros};

    const CS: usize = 512;

    fn put(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }

    /// A v3 image of 512-byte clusters, 16-bit refcounts: header 0,
    /// refcount table 1, refcount block 2, L1 3, L2 4, data 5 and 6 (guest
    /// clusters 0 and 1).
    fn golden() -> Vec<u8> {
        let mut b = vec![0u8; 7 * CS];
        b[..4].copy_from_slice(b"QFI\xfb");
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        b[20..24].copy_from_slice(&9u32.to_be_bytes());
        put(&mut b, 24, 64 * 512);
        b[36..40].copy_from_slice(&1u32.to_be_bytes());
        put(&mut b, 40, 3 * CS as u64);
        put(&mut b, 48, CS as u64);
        b[56..60].copy_from_slice(&1u32.to_be_bytes());
        b[96..100].copy_from_slice(&4u32.to_be_bytes());
        b[100..104].copy_from_slice(&104u32.to_be_bytes());
        put(&mut b, CS, 2 * CS as u64);
        for k in 0..7 {
            b[2 * CS + k * 2 + 1] = 1;
        }
        put(&mut b, 3 * CS, COPIED | (4 * CS as u64));
        put(&mut b, 4 * CS, COPIED | (5 * CS as u64));
        put(&mut b, 4 * CS + 8, COPIED | (6 * CS as u64));
        b
    }

    fn run(b: &[u8]) -> Report {
        check(&MemVolume::new("t", b.to_vec())).unwrap()
    }

    #[test]
    fn golden_is_clean() {
        let r = run(&golden());
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(
            r.counts,
            Counts {
                image_end_offset: 7 * CS as u64,
                total_clusters: 64,
                allocated_clusters: 2,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn each_damage_at_its_offset() {
        // (what, edit, corruptions, leaks, the offset of the first finding)
        type Edit = fn(&mut Vec<u8>);
        let cases: [(&str, Edit, u64, u64, u64); 6] = [
            (
                "refcount zeroed",
                |b| b[2 * CS + 11] = 0,
                2,
                0,
                5 * CS as u64,
            ),
            (
                "refcount bumped",
                |b| b[2 * CS + 11] = 2,
                1,
                1,
                5 * CS as u64,
            ),
            (
                "L2 entry past the end",
                |b| put(b, 4 * CS + 8, COPIED | (40 * CS as u64)),
                2,
                1,
                4 * CS as u64 + 8,
            ),
            (
                "two L2 entries, one cluster",
                |b| put(b, 4 * CS + 8, COPIED | (5 * CS as u64)),
                1,
                1,
                5 * CS as u64,
            ),
            (
                "L2 entry on the refcount block",
                |b| put(b, 4 * CS + 8, COPIED | (2 * CS as u64)),
                2,
                1,
                CS as u64,
            ),
            (
                "L1 reserved bit",
                |b| b[3 * CS + 7] |= 1,
                1,
                0,
                3 * CS as u64,
            ),
        ];
        for (what, edit, corruptions, leaks, first) in cases {
            let mut b = golden();
            edit(&mut b);
            let r = run(&b);
            assert_eq!(
                (r.counts.corruptions, r.counts.leaks),
                (corruptions, leaks),
                "{what}: {:?}",
                r.findings
            );
            assert_eq!(r.findings.list[0].offset, first, "{what}: {:?}", r.findings);
        }
    }

    #[test]
    fn refuses_what_qemu_refuses_and_bounds_memory() {
        let mut b = golden();
        put(&mut b, 40, 3 * CS as u64 + 8);
        assert!(check(&MemVolume::new("t", b)).is_err());
        // A file of more clusters than counted: a check error, no allocation.
        let mut head = golden();
        head.truncate(CS);
        let big = crate::io::concat::Concat::new(
            vec![
                std::sync::Arc::new(MemVolume::new("h", head)) as crate::io::VolumeRef,
                std::sync::Arc::new(Zeros::new((MAX_CLUSTERS + 1) * CS as u64, "z".into())),
            ],
            "big".into(),
        );
        let r = check(&big).unwrap();
        assert_eq!(r.counts.check_errors, 1);
    }

    #[test]
    fn mutations_never_panic() {
        let g = golden();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3000 {
            let mut b = g.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % b.len() as u64) as usize;
                b[at] = (seed >> 32) as u8;
            }
            if let Ok(r) = check(&MemVolume::new("t", b)) {
                assert_eq!(
                    r.counts.corruptions + r.counts.leaks + r.counts.check_errors,
                    r.findings.list.len() as u64 + r.findings.unlisted
                );
            }
        }
    }
}
