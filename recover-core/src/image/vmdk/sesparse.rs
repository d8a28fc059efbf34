//! Space-efficient sparse extents, extent type SESPARSE: the
//! `-sesparse.vmdk` snapshots of VMFS6 (ESXi 6.5 on) and of VMFS5 disks of
//! 2 TiB and more. VMware publishes no specification; the layout is
//! QEMU's (block/vmdk.c, `VMDKSESparseConstHeader`,
//! `VMDKSESparseVolatileHeader`, `get_cluster_offset`), which
//! dissect.hypervisor reads the same way. Little-endian; every field is a
//! u64, offsets and sizes in sectors.
//!
//! Constant header (sector 0): magic 0xcafebabe 0, version 0x200000001 8,
//! capacity 16, grain size 24 (ESXi: 8), grain table size 32 (ESXi: 64
//! sectors, 4096 entries), flags 40, four reserved fields 48..80, then
//! offset and size of the volatile header 80/88, the journal header
//! 96/104, the journal 112/120, the grain directory 128/136, the grain
//! tables 144/152, the free bitmap 160/168, the back map 176/184 and the
//! grains 192/200; zeros to 512.
//!
//! Volatile header: magic 0xcafecafe 0, free grain table number 8, next
//! transaction sequence number 16, replay journal 24 (non-zero: the
//! journal holds writes the tables do not have yet); zeros to 512.
//!
//! A grain directory entry is 0 (no table) or 0x1000_0000 in its high 32
//! bits and a table's index in the low 32: the table is at the grain
//! tables' offset plus index times the table size. A grain table entry's
//! top four bits give its type: 0 not in this extent (the parent's; the
//! rest of the entry is then 0), 1 unmapped by the guest (SCSI UNMAP;
//! QEMU reads zeros, dissect.hypervisor the parent: zeros here, as
//! QEMU), 2 zeros, 3 allocated. An allocated entry holds the grain's
//! index in the grains area split in two: bits 48..60 are the index's low
//! 12 bits, bits 0..48 its high 48 bits. Guest grain `g` is entry
//! `g % per_table` of the table directory entry `g / per_table` names.

use std::collections::HashSet;

use super::layer::{Grain, GrainMap};
use crate::bytes::{arrays, Bytes};
use crate::error::{Damage, Error, Result};
use crate::io::{bytes_at, bytes_up_to, check_range, VolumeRef};
use crate::problem::Problem;

/// The constant header's magic (a u64).
pub const MAGIC: u64 = 0xcafe_babe;
/// The only version read.
pub const VERSION: u64 = 0x2_0000_0001;
/// The volatile header's magic.
pub const VOLATILE_MAGIC: u64 = 0xcafe_cafe;
/// The grain size ESXi writes, in sectors.
pub const ESXI_GRAIN: u64 = 8;
/// The grain table size ESXi writes, in sectors.
pub const ESXI_TABLE: u64 = 64;

/// The largest grain read, in sectors (32 MiB).
const MAX_GRAIN_SECTORS: u64 = 1 << 16;
/// The largest grain table read, in sectors (2 MiB, 262144 entries).
const MAX_TABLE_SECTORS: u64 = 1 << 12;
/// The most grain directory entries read: 32 MiB of directory, a 64 TiB
/// disk (the format's bound) in ESXi's 16 MiB tables and then some.
const MAX_GD_ENTRIES: u64 = 1 << 22;
/// The high half of a directory entry that names a table.
const GDE_TABLE: u64 = 0x1000_0000;
/// Where the regions' offset and size fields are, and what they are.
const REGIONS: [(usize, &str); 8] = [
    (80, "volatile header"),
    (96, "journal header"),
    (112, "journal"),
    (128, "grain directory"),
    (144, "grain tables"),
    (160, "free bitmap"),
    (176, "back map"),
    (192, "grains"),
];

/// A run of sectors the header places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    /// Where it starts, in sectors.
    pub offset: u64,
    /// Its size, in sectors.
    pub size: u64,
}

impl Region {
    /// Where it starts, in bytes (checked not to overflow at parse).
    pub fn at(&self) -> u64 {
        self.offset * 512
    }
}

/// A parsed constant header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeSparseHeader {
    /// The extent's size, in sectors.
    pub capacity: u64,
    /// Sectors per grain.
    pub grain: u64,
    /// Sectors per grain table.
    pub table: u64,
    /// The flags (none are known).
    pub flags: u64,
    /// The volatile header.
    pub volatile: Region,
    /// The journal header.
    pub journal_header: Region,
    /// The journal.
    pub journal: Region,
    /// The grain directory.
    pub gd: Region,
    /// The grain tables.
    pub tables: Region,
    /// The free bitmap.
    pub free_bitmap: Region,
    /// The back map.
    pub backmap: Region,
    /// The grains.
    pub grains: Region,
    /// Fields that are not as ESXi and QEMU write them, but do not stop
    /// reading: (field offset, what).
    pub oddities: Vec<(u64, String)>,
}

impl SeSparseHeader {
    /// Bytes per grain.
    pub fn grain_bytes(&self) -> u64 {
        self.grain * 512
    }

    /// The extent's size in bytes.
    pub fn size(&self) -> u64 {
        self.capacity * 512
    }

    /// Entries per grain table.
    pub fn per_table(&self) -> u64 {
        self.table * 64
    }

    /// Bytes per grain table.
    pub fn table_bytes(&self) -> u64 {
        self.table * 512
    }

    /// Grain tables the capacity needs.
    pub fn tables_needed(&self) -> u64 {
        self.capacity
            .div_ceil(self.grain)
            .div_ceil(self.per_table())
    }
}

/// True when `head` starts with a constant header's magic (a version
/// not read is then an error that says so).
pub fn is_sesparse(head: &[u8]) -> bool {
    Bytes(head).le_u64(0) == Some(MAGIC)
}

/// What a grain table entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gte {
    /// Not in this extent: the parent's.
    Unallocated,
    /// Unmapped by the guest (read as zeros, as QEMU does).
    Unmapped,
    /// Zeros.
    Zero,
    /// At this index of the grains area.
    Allocated(u64),
}

/// Decodes a grain directory entry: the grain table's index, `None` for
/// no table, or why it is malformed.
pub fn decode_gde(e: u64) -> std::result::Result<Option<u64>, String> {
    match e >> 32 {
        _ if e == 0 => Ok(None),
        GDE_TABLE => Ok(Some(e & 0xffff_ffff)),
        _ => Err(format!(
            "entry {e:#018x} is neither 0 nor a table (0x10000000 in its high 32 bits)"
        )),
    }
}

/// Decodes a grain table entry, or says why it is malformed.
pub fn decode_gte(e: u64) -> std::result::Result<Gte, String> {
    match e >> 60 {
        0 if e == 0 => Ok(Gte::Unallocated),
        0 => Err(format!("entry {e:#018x}: unallocated, but with bits set")),
        1 => Ok(Gte::Unmapped),
        2 => Ok(Gte::Zero),
        3 => Ok(Gte::Allocated(
            ((e >> 48) & 0xfff) | ((e & 0xffff_ffff_ffff) << 12),
        )),
        t => Err(format!(
            "entry {e:#018x}: grain type {t} (0 to 3 are known)"
        )),
    }
}

/// The grain table entry of a grain at `index` of the grains area (the
/// inverse of [`decode_gte`]); `None` when the index does not fit in the
/// entry's 60 bits.
pub fn allocated_gte(index: u64) -> Option<u64> {
    (index >> 60 == 0).then_some((3 << 60) | ((index & 0xfff) << 48) | (index >> 12))
}

/// Parses a constant header; `None` without the magic, `Err((field offset,
/// why))` when a field is out of range.
pub fn parse_header(b: &[u8]) -> Option<std::result::Result<SeSparseHeader, (u64, String)>> {
    let bb = Bytes(b);
    if bb.le_u64(0) != Some(MAGIC) {
        return None;
    }
    Some((|| {
        let field = |at: usize| {
            bb.le_u64(at)
                .ok_or_else(|| (0u64, format!("header truncated ({} bytes)", b.len())))
        };
        let version = field(8)?;
        if version != VERSION {
            return Err((8, format!("version {version:#x} ({VERSION:#x} is read)")));
        }
        let capacity = field(16)?;
        if capacity > u64::MAX / 512 {
            return Err((16, format!("capacity of {capacity} sectors")));
        }
        let grain = field(24)?;
        if !grain.is_power_of_two() || grain > MAX_GRAIN_SECTORS {
            return Err((
                24,
                format!("grain of {grain} sectors (a power of two up to {MAX_GRAIN_SECTORS})"),
            ));
        }
        let table = field(32)?;
        if table == 0 || table > MAX_TABLE_SECTORS {
            return Err((
                32,
                format!("grain tables of {table} sectors (1 to {MAX_TABLE_SECTORS})"),
            ));
        }
        let mut regions = [Region::default(); 8];
        for (r, &(at, what)) in regions.iter_mut().zip(&REGIONS) {
            let (offset, size) = (field(at)?, field(at + 8)?);
            if offset
                .checked_add(size)
                .and_then(|end| end.checked_mul(512))
                .is_none()
            {
                return Err((
                    at as u64,
                    format!("{what} of {size} sectors at sector {offset} ends past 2^64 bytes"),
                ));
            }
            *r = Region { offset, size };
        }
        let [volatile, journal_header, journal, gd, tables, free_bitmap, backmap, grains] = regions;
        let mut oddities = Vec::new();
        let flags = field(40)?;
        if flags != 0 {
            oddities.push((40, format!("flags {flags:#x} (none are known)")));
        }
        for at in (48..80).step_by(8) {
            let v = field(at)?;
            if v != 0 {
                oddities.push((at as u64, format!("reserved field holds {v:#x}")));
            }
        }
        if bb.get(208, 304).is_some_and(|p| p.iter().any(|&x| x != 0)) {
            oddities.push((208, "the padding is not all zeros".into()));
        }
        if grain != ESXI_GRAIN || table != ESXI_TABLE {
            oddities.push((24, format!("grains of {grain} and grain tables of {table} sectors (ESXi writes {ESXI_GRAIN} and {ESXI_TABLE}; QEMU reads no others): read as the header says")));
        }
        let h = SeSparseHeader {
            capacity,
            grain,
            table,
            flags,
            volatile,
            journal_header,
            journal,
            gd,
            tables,
            free_bitmap,
            backmap,
            grains,
            oddities,
        };
        let need = h.tables_needed();
        if need > MAX_GD_ENTRIES {
            return Err((
                16,
                format!("a capacity of {capacity} sectors needs {need} grain tables (at most {MAX_GD_ENTRIES} are read)"),
            ));
        }
        // gd.size is bounded by the overflow check above: * 64 fits.
        if gd.size * 64 < need {
            return Err((
                136,
                format!(
                    "a grain directory of {} sectors holds {} entries; the capacity needs {need}",
                    gd.size,
                    gd.size * 64
                ),
            ));
        }
        Ok(h)
    })())
}

/// A SESPARSE extent's grain map.
#[derive(Debug)]
pub struct SeSparseExtent {
    file: VolumeRef,
    header: SeSparseHeader,
    /// The grain directory entries the capacity needs.
    gd: Vec<u64>,
}

impl SeSparseExtent {
    /// Opens the SESPARSE extent in `file`; with the problems found that
    /// do not stop reading (a journal not replayed, fields not as ESXi
    /// writes them, grain directory entries that name no readable table).
    pub fn open(file: VolumeRef) -> Result<(SeSparseExtent, Vec<Problem>)> {
        let name = file.describe();
        let bad =
            |s: &'static str, at: u64, why: String| Error::corrupt(s, at, why).within(&name, 0);
        let head = bytes_up_to(file.as_ref(), 0, 512)?;
        let header = match parse_header(&head) {
            None => return Err(bad("VMDK SESPARSE header", 0, "no SESPARSE magic".into())),
            Some(Err((at, why))) => return Err(bad("VMDK SESPARSE header", at, why)),
            Some(Ok(h)) => h,
        };
        let len = file.len();
        let mut problems: Vec<Problem> = header
            .oddities
            .iter()
            .map(|(at, why)| Problem::warning("VMDK SESPARSE header", Some(*at), why.clone()))
            .collect();
        problems.extend(volatile(file.as_ref(), &header));
        let gd_at = header.gd.at();
        let n = header.tables_needed();
        let bytes = n * 8; // ok: n <= MAX_GD_ENTRIES
        check_range(file.as_ref(), gd_at, bytes).map_err(|_| {
            bad(
                "VMDK SESPARSE grain directory",
                gd_at,
                format!(
                    "{n} entries ({bytes} bytes) run past the end of the file ({len:#x} bytes)"
                ),
            )
            .with(Damage::Bounds)
        })?;
        let raw = bytes_at(file.as_ref(), gd_at, bytes as usize)?; // ok: <= 32 MiB, inside the file
        let gd: Vec<u64> = arrays(&raw).map(u64::from_le_bytes).collect();
        let ext = SeSparseExtent { file, header, gd };
        let mut unreadable = 0usize;
        let mut first = None;
        for t in 0..ext.gd.len() {
            if let Err(e) = ext.table_at(t as u64) {
                unreadable += 1;
                first.get_or_insert(e);
            }
        }
        if let Some(e) = first {
            let (at, why) = match &e {
                Error::Corrupt { offset, detail, .. } => (Some(*offset), detail.clone()),
                e => (None, e.to_string()),
            };
            problems.push(Problem::error(
                "VMDK SESPARSE grain directory",
                at,
                format!("{unreadable} of its entries name no readable grain table, the first: {why}; the grains they map cannot be read"),
            ));
        }
        Ok((ext, problems))
    }

    /// The constant header.
    pub fn header(&self) -> &SeSparseHeader {
        &self.header
    }

    /// Bytes of the file that hold guest grains; each grain table read
    /// once, those that cannot be read left out.
    pub fn allocated(&self) -> Result<u64> {
        let mut seen = HashSet::new();
        let mut grains = 0u64;
        for t in 0..self.gd.len() as u64 {
            let Ok(Some(at)) = self.table_at(t) else {
                continue;
            };
            if !seen.insert(at) {
                continue;
            }
            // ok: <= 2 MiB, inside the file (table_at checked it)
            let gt = bytes_at(self.file.as_ref(), at, self.header.table_bytes() as usize)?;
            grains += arrays(&gt)
                .filter(|&e| matches!(decode_gte(u64::from_le_bytes(e)), Ok(Gte::Allocated(_))))
                .count() as u64;
        }
        Ok(grains.saturating_mul(self.header.grain_bytes()))
    }

    fn corrupt(&self, structure: &'static str, at: u64, why: String) -> Error {
        Error::corrupt(structure, at, why).within(&self.file.describe(), 0)
    }

    /// Where grain table `t` (a directory index) is, `None` for no table;
    /// an error naming the directory entry when it is malformed or the
    /// table is not all inside the file.
    fn table_at(&self, t: u64) -> Result<Option<u64>> {
        let h = &self.header;
        let gde_at = h.gd.at() + t * 8;
        let e = usize::try_from(t)
            .ok()
            .and_then(|t| self.gd.get(t))
            .copied()
            .unwrap_or(0);
        let index = match decode_gde(e) {
            Ok(None) => return Ok(None),
            Ok(Some(i)) => i,
            Err(why) => return Err(self.corrupt("VMDK SESPARSE grain directory", gde_at, why)),
        };
        let len = self.file.len();
        // index < 2^32 and table bytes <= 2^21: the product fits.
        let at = h.tables.at().checked_add(index * h.table_bytes());
        match at {
            Some(at) if at.checked_add(h.table_bytes()).is_some_and(|end| end <= len) => {
                Ok(Some(at))
            }
            _ => Err(self
                .corrupt(
                    "VMDK SESPARSE grain directory",
                    gde_at,
                    format!(
                        "grain table {t} (table {index} of the grain tables at {:#x}) lies past the end of the file ({len:#x} bytes)",
                        h.tables.at()
                    ),
                )
                .with(Damage::Bounds)),
        }
    }
}

/// What the volatile header says that matters: a journal not replayed, or
/// that the header is not there.
fn volatile(file: &dyn crate::io::Volume, h: &SeSparseHeader) -> Option<Problem> {
    let at = h.volatile.at();
    let Ok(raw) = bytes_at(file, at, 512) else {
        return Some(Problem::warning(
            "VMDK SESPARSE volatile header",
            Some(at),
            format!(
                "lies past the end of the file ({:#x} bytes); whether its journal was replayed is not known",
                file.len()
            ),
        ));
    };
    let b = Bytes(&raw);
    let magic = b.le_u64(0).unwrap_or(0);
    if magic != VOLATILE_MAGIC {
        return Some(Problem::warning(
            "VMDK SESPARSE volatile header",
            Some(at),
            format!("magic {magic:#x} (not {VOLATILE_MAGIC:#x}); whether its journal was replayed is not known"),
        ));
    }
    let replay = b.le_u64(24).unwrap_or(0);
    (replay != 0).then(|| {
        Problem::error(
            "VMDK SESPARSE volatile header",
            Some(at + 24),
            format!(
                "the journal ({} sectors at {:#x}) was not replayed: writes it holds are not in the grain tables, and are not read",
                h.journal.size,
                h.journal.at()
            ),
        )
    })
}

impl GrainMap for SeSparseExtent {
    fn grain_bytes(&self) -> u64 {
        self.header.grain_bytes()
    }

    fn capacity(&self) -> u64 {
        self.header.size()
    }

    fn file(&self) -> &VolumeRef {
        &self.file
    }

    fn grain(&self, g: u64) -> Result<Grain> {
        let h = &self.header;
        let per = h.per_table();
        let Some(table) = self.table_at(g / per)? else {
            return Ok(Grain::Parent);
        };
        let gte_at = table + (g % per) * 8;
        let raw = bytes_at(self.file.as_ref(), gte_at, 8)?; // ok: the table is inside the file
        let e = Bytes(&raw).le_u64(0).unwrap_or(0);
        let index = match decode_gte(e) {
            Ok(Gte::Unallocated) => return Ok(Grain::Parent),
            Ok(Gte::Unmapped | Gte::Zero) => return Ok(Grain::Zero),
            Ok(Gte::Allocated(i)) => i,
            Err(why) => {
                return Err(self.corrupt(
                    "VMDK SESPARSE grain table",
                    gte_at,
                    format!("grain {g}: {why}"),
                ))
            }
        };
        let gb = h.grain_bytes();
        let len = self.file.len();
        // g is below the capacity in grains, so g * gb is below the capacity.
        let need = gb.min(h.size() - g * gb);
        let host = index
            .checked_mul(gb)
            .and_then(|o| o.checked_add(h.grains.at()));
        match host {
            Some(host) if host.checked_add(need).is_some_and(|end| end <= len) => {
                Ok(Grain::Data(host))
            }
            _ => Err(self
                .corrupt(
                    "VMDK SESPARSE grain table",
                    gte_at,
                    format!(
                        "grain {g} is grain {index} of the grains at {:#x}, past the end of the file ({len:#x} bytes)",
                        h.grains.at()
                    ),
                )
                .with(Damage::Bounds)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grain_index_split_across_the_entry() {
        // The low 12 bits of the index sit at 48..60, the rest at 0..48.
        assert_eq!(decode_gte(0x3000_0000_0000_0001), Ok(Gte::Allocated(4096)));
        assert_eq!(decode_gte(0x3001_0000_0000_0000), Ok(Gte::Allocated(1)));
        assert_eq!(
            decode_gte(0x3fff_0000_0000_0002),
            Ok(Gte::Allocated(0x2fff))
        );
        assert_eq!(
            decode_gte(0x3abc_0000_0012_3456),
            Ok(Gte::Allocated(0x1_2345_6abc))
        );
        assert_eq!(allocated_gte(0x1_2345_6abc), Some(0x3abc_0000_0012_3456));
        assert_eq!(decode_gte(0), Ok(Gte::Unallocated));
        assert_eq!(decode_gte(1 << 60), Ok(Gte::Unmapped));
        assert_eq!(decode_gte(2 << 60), Ok(Gte::Zero));
        assert!(decode_gte(5).unwrap_err().contains("bits set"));
        assert!(decode_gte(4 << 60).unwrap_err().contains("grain type 4"));
        assert_eq!(decode_gde(0), Ok(None));
        assert_eq!(decode_gde(0x1000_0000_0000_0007), Ok(Some(7)));
        assert!(decode_gde(0x2000_0000_0000_0007).is_err());
        assert!(decode_gde(7).is_err());
        assert_eq!(allocated_gte(1 << 60), None);
    }

    proptest! {
        /// Every index of 60 bits is one allocated entry and back.
        #[test]
        fn allocated_entries_round_trip(index in 0u64..1 << 60) {
            let e = allocated_gte(index).unwrap();
            prop_assert_eq!(e >> 60, 3);
            prop_assert_eq!(decode_gte(e), Ok(Gte::Allocated(index)));
        }

        /// Every allocated entry names one index, and no two the same.
        #[test]
        fn entries_decode_without_loss(e in any::<u64>()) {
            match decode_gte(e) {
                Ok(Gte::Allocated(i)) => prop_assert_eq!(allocated_gte(i), Some(e)),
                Ok(Gte::Unallocated) => prop_assert_eq!(e, 0),
                Ok(Gte::Unmapped) => prop_assert_eq!(e >> 60, 1),
                Ok(Gte::Zero) => prop_assert_eq!(e >> 60, 2),
                Err(_) => prop_assert!(e >> 60 > 3 || (e >> 60 == 0 && e != 0)),
            }
        }

        /// Header fields never make the parser panic or overflow, and a
        /// header it takes places every structure inside 2^64 bytes.
        #[test]
        fn any_header_parses_or_fails(fields in proptest::collection::vec(any::<u64>(), 26), small in any::<bool>()) {
            let mut b = vec![0u8; 512];
            for (i, v) in fields.iter().enumerate() {
                let v = if small { v % 4096 } else { *v };
                b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            b[..8].copy_from_slice(&MAGIC.to_le_bytes());
            b[8..16].copy_from_slice(&VERSION.to_le_bytes());
            if let Some(Ok(h)) = parse_header(&b) {
                prop_assert!(h.gd.size * 64 >= h.tables_needed());
                prop_assert!(h.grains.at() <= u64::MAX - h.grains.size * 512);
            }
        }
    }
}
