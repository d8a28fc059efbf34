//! Partition tables: MBR with its EBR chain, and GPT (primary and backup),
//! on 512- and 4096-byte sectors, turned into one neutral model.

#![deny(clippy::indexing_slicing)]

pub mod gpt;
pub mod guid;
pub mod mbr;
pub mod types;

use crate::io::{bytes_up_to, Volume};
use crate::problem::{Problem, Severity};
use gpt::{CopyState, GptScan, Which};
use guid::Guid;
use mbr::{Mbr, MbrRole};

/// The sector sizes partition tables are found with.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// Which kind of table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// DOS/MBR with extended boot records.
    Mbr,
    /// GUID partition table.
    Gpt,
}

impl TableFormat {
    /// "mbr" or "gpt".
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Mbr => "mbr",
            TableFormat::Gpt => "gpt",
        }
    }
}

/// How the logical sector size was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectorSizeSource {
    /// The kernel said so (block device).
    Device,
    /// The GPT header was found at LBA 1 of this size.
    GptHeader,
    /// Filesystems were found where the MBR's partitions start with this size.
    Filesystems,
    /// Nothing said otherwise: 512.
    Default,
}

impl SectorSizeSource {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SectorSizeSource::Device => "device",
            SectorSizeSource::GptHeader => "gpt_header",
            SectorSizeSource::Filesystems => "filesystems",
            SectorSizeSource::Default => "default",
        }
    }
}

/// A partition's type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartType {
    /// GPT type GUID.
    Gpt(Guid),
    /// MBR type byte.
    Mbr(u8),
}

impl PartType {
    /// The code as sfdisk prints it: the GUID in upper case, or the byte in
    /// lower-case hex without leading zeros.
    pub fn code(&self) -> String {
        match self {
            PartType::Gpt(g) => g.to_string(),
            PartType::Mbr(b) => format!("{b:x}"),
        }
    }

    /// A human name for well-known types.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            PartType::Gpt(g) => types::gpt_type_name(g),
            PartType::Mbr(b) => types::mbr_type_name(*b),
        }
    }
}

/// Primary, extended container, or logical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartRole {
    /// A GPT entry or an MBR primary entry.
    Primary,
    /// An MBR extended partition: a container of EBRs, holding no filesystem itself.
    Extended,
    /// A partition found in the EBR chain.
    Logical,
}

/// One partition, in the table's sectors.
#[derive(Debug, Clone)]
pub struct Partition {
    /// The number Linux gives it (GPT: entry index + 1; MBR: slot + 1, logicals from 5).
    pub number: u32,
    /// First sector.
    pub start_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// Type code.
    pub ptype: PartType,
    /// GPT partition name.
    pub name: Option<String>,
    /// GPT unique partition GUID.
    pub guid: Option<Guid>,
    /// MBR boot flag (0x80), or GPT attribute bit 2 (legacy BIOS bootable).
    pub bootable: bool,
    /// GPT attribute bits.
    pub attributes: Option<u64>,
    /// Primary, extended or logical.
    pub role: PartRole,
    /// The sector of the table that describes it (0 for an MBR primary,
    /// the EBR for a logical, the GPT header's LBA); `None` for partitions
    /// the deep scan recovered, which no table describes. A partition that
    /// covers it holds its own table again (a self-reference).
    pub table_lba: Option<u64>,
    /// What is wrong with this entry.
    pub problems: Vec<Problem>,
}

/// Extra GPT facts for the report.
#[derive(Debug, Clone)]
pub struct GptInfo {
    /// Which copy the partitions come from.
    pub used: Which,
    /// Byte offset of the primary header (LBA 1).
    pub primary_offset: u64,
    /// "ok", "damaged" or "missing".
    pub primary_state: &'static str,
    /// Byte offset where the backup header was looked for.
    pub backup_offset: u64,
    /// "ok", "damaged" or "missing".
    pub backup_state: &'static str,
    /// Entries in the array.
    pub num_entries: u32,
    /// Bytes per entry.
    pub entry_size: u32,
    /// The MBR in front of it: protective, hybrid, classic, or none.
    pub mbr_role: Option<MbrRole>,
    /// The hybrid MBR's entries other than 0xEE.
    pub hybrid_entries: Vec<mbr::MbrEntry>,
}

/// A partition table, whichever format.
#[derive(Debug, Clone)]
pub struct PartitionTable {
    /// MBR or GPT.
    pub format: TableFormat,
    /// Logical sector size the LBAs are in.
    pub sector_size: u64,
    /// How the sector size was decided.
    pub sector_size_source: SectorSizeSource,
    /// GPT disk GUID (upper case) or MBR disk signature (`0x1234abcd`), as sfdisk prints them.
    pub disk_id: String,
    /// GPT first usable LBA.
    pub first_usable_lba: Option<u64>,
    /// GPT last usable LBA.
    pub last_usable_lba: Option<u64>,
    /// GPT details.
    pub gpt: Option<GptInfo>,
    /// The partitions in number order (MBR: primaries then logicals).
    pub partitions: Vec<Partition>,
    /// Damage to the table itself.
    pub problems: Vec<Problem>,
}

/// Everything learned about sector 0 and the GPT locations.
#[derive(Debug)]
pub struct TableProbe {
    /// Sector 0 parsed as an MBR, or why it is not one.
    pub mbr: Result<Mbr, crate::Error>,
    /// The GPT scan with the sector size that found something, if any did.
    pub gpt: Option<GptScan>,
}

/// Reads sector 0 and looks for a GPT with each sector size, the device's own first.
pub fn probe_tables(vol: &dyn Volume) -> TableProbe {
    let mbr = match bytes_up_to(vol, 0, 512) {
        Ok(s) => mbr::parse_mbr(&s).map_err(|e| e.within(&vol.describe(), 0)),
        Err(e) => Err(e),
    };
    let mut sizes = SECTOR_SIZES.to_vec();
    if let Some(dev) = vol.device_sector_size().map(u64::from) {
        sizes.retain(|&s| s != dev);
        sizes.insert(0, dev);
    }
    let mut gpt: Option<GptScan> = None;
    for ss in sizes {
        let s = gpt::scan(vol, ss);
        if s.chosen().is_some() {
            gpt = Some(s);
            break;
        }
        if s.present() && gpt.is_none() {
            gpt = Some(s);
        }
    }
    TableProbe { mbr, gpt }
}

fn state_name(s: &CopyState) -> &'static str {
    match s {
        CopyState::Absent => "missing",
        CopyState::Found(c) if c.entries_error.is_none() => "ok",
        _ => "damaged",
    }
}

/// The partition tables a volume holds: a GPT, an MBR, or (when a classic
/// MBR and a GPT both stand) both. `mbr_sector_size` is the sector size to
/// read a classic MBR with, and how it was decided.
pub fn tables(
    vol: &dyn Volume,
    probe: &TableProbe,
    mbr_sector_size: (u64, SectorSizeSource),
) -> Vec<PartitionTable> {
    let mut out = Vec::new();
    let mbr = probe.mbr.as_ref().ok();
    let role = mbr.map(Mbr::role);
    if let Some(scan) = probe.gpt.as_ref().filter(|s| s.present()) {
        out.push(gpt_table(vol, scan, mbr));
    }
    match (mbr, role) {
        (Some(m), Some(MbrRole::Classic)) if !m.entries.is_empty() => {
            let mut t = mbr_table(vol, m, mbr_sector_size);
            if !out.is_empty() {
                t.problems.push(Problem::warning(
                    "MBR",
                    Some(0),
                    "a classic MBR and a GPT both stand on this disk; one of them is stale",
                ));
            }
            out.insert(0, t);
        }
        (Some(m), Some(MbrRole::Protective | MbrRole::Hybrid)) if out.is_empty() => {
            let mut t = mbr_table(vol, m, mbr_sector_size);
            t.problems.push(Problem::error(
                "GPT",
                None,
                "the MBR protects a GPT, but no GPT header was found at LBA 1 or at the end of the disk (512- or 4096-byte sectors)",
            ));
            out.push(t);
        }
        _ => {}
    }
    out
}

fn gpt_table(vol: &dyn Volume, scan: &GptScan, mbr: Option<&Mbr>) -> PartitionTable {
    let ss = scan.sector_size;
    let mut problems = Vec::new();
    for (which, state) in [
        (Which::Primary, &scan.primary),
        (Which::Backup, &scan.backup),
    ] {
        let name = which.as_str();
        match state {
            CopyState::Absent => problems.push(Problem::error(
                format!("GPT {name} header"),
                Some(if which == Which::Primary {
                    ss
                } else {
                    scan.backup_lba * ss
                }),
                "missing: no \"EFI PART\" signature",
            )),
            CopyState::Damaged(e) => {
                let mut p = Problem::from_error(Severity::Error, "", e);
                p.structure = format!("GPT {name} header");
                problems.push(p);
            }
            CopyState::Found(c) => {
                if let Some(e) = &c.entries_error {
                    let mut p = Problem::from_error(Severity::Error, "", e);
                    p.structure = format!("GPT {name} entry array");
                    problems.push(p);
                }
            }
        }
    }
    let disk_sectors = vol.len() / ss;
    let Some((copy, used)) = scan.chosen() else {
        problems.push(Problem::error(
            "GPT",
            Some(ss),
            "neither header copy can be used; no partitions read",
        ));
        return PartitionTable {
            format: TableFormat::Gpt,
            sector_size: ss,
            sector_size_source: SectorSizeSource::GptHeader,
            disk_id: String::new(),
            first_usable_lba: None,
            last_usable_lba: None,
            gpt: None,
            partitions: Vec::new(),
            problems,
        };
    };
    if used == Which::Backup {
        problems.push(Problem::warning(
            "GPT",
            Some(copy.header_offset),
            "partitions read from the backup header",
        ));
    }
    let h = &copy.header;
    if let (Some(p), Some(b)) = (scan.primary.copy(), scan.backup.copy()) {
        if p.header.disk_guid != b.header.disk_guid || p.entries != b.entries {
            problems.push(Problem::error(
                "GPT",
                Some(b.header_offset),
                "primary and backup copies disagree",
            ));
        }
    }
    if used == Which::Primary && h.alternate_lba != disk_sectors.saturating_sub(1) {
        problems.push(Problem::warning(
            "GPT primary header",
            Some(ss + 32),
            format!(
                "backup header expected at LBA {}, but the disk ends at LBA {} (disk resized or image truncated)",
                h.alternate_lba,
                disk_sectors.saturating_sub(1)
            ),
        ));
    }
    if h.last_usable_lba >= disk_sectors {
        problems.push(Problem::error(
            "GPT header",
            Some(copy.header_offset + 48),
            format!(
                "last usable LBA {} is past the end of the disk ({disk_sectors} sectors)",
                h.last_usable_lba
            ),
        ));
    }
    let mbr_role = mbr.map(Mbr::role);
    let hybrid_entries: Vec<_> = match (mbr, mbr_role) {
        (Some(m), Some(MbrRole::Hybrid)) => m
            .entries
            .iter()
            .filter(|e| e.kind != 0xee)
            .copied()
            .collect(),
        _ => Vec::new(),
    };
    match mbr_role {
        None => problems.push(Problem::warning(
            "MBR",
            Some(0),
            "no protective MBR in front of the GPT",
        )),
        Some(MbrRole::Hybrid) => problems.push(Problem::warning(
            "MBR",
            Some(0),
            format!(
                "hybrid MBR: {} entries besides the 0xEE one mirror parts of the GPT",
                hybrid_entries.len()
            ),
        )),
        _ => {}
    }
    if let Some(dev) = vol.device_sector_size() {
        if u64::from(dev) != ss {
            problems.push(Problem::warning(
                "GPT",
                Some(ss),
                format!("the GPT uses {ss}-byte sectors but the device reports {dev}"),
            ));
        }
    }
    let mut partitions: Vec<Partition> = copy
        .entries
        .iter()
        .map(|e| {
            let mut p = Partition {
                number: e.index + 1,
                start_lba: e.first_lba,
                sectors: e.last_lba.wrapping_sub(e.first_lba).wrapping_add(1),
                ptype: PartType::Gpt(e.type_guid),
                name: Some(e.name.clone()),
                guid: Some(e.unique_guid),
                bootable: e.attributes & 4 != 0,
                attributes: Some(e.attributes),
                role: PartRole::Primary,
                table_lba: Some(1),
                problems: Vec::new(),
            };
            let entry_off = h.entries_lba * ss + u64::from(e.index) * u64::from(h.entry_size);
            if e.last_lba < e.first_lba {
                p.sectors = 0;
                p.problems.push(Problem::error(
                    "GPT entry",
                    Some(entry_off + 32),
                    format!(
                        "ends (LBA {}) before it starts (LBA {})",
                        e.last_lba, e.first_lba
                    ),
                ));
            } else if e.first_lba < h.first_usable_lba || e.last_lba > h.last_usable_lba {
                p.problems.push(Problem::warning(
                    "GPT entry",
                    Some(entry_off + 32),
                    format!(
                        "LBA {}..={} lies outside the usable area {}..={}",
                        e.first_lba, e.last_lba, h.first_usable_lba, h.last_usable_lba
                    ),
                ));
            }
            p
        })
        .collect();
    check_bounds(&mut partitions, disk_sectors);
    PartitionTable {
        format: TableFormat::Gpt,
        sector_size: ss,
        sector_size_source: SectorSizeSource::GptHeader,
        disk_id: h.disk_guid.to_string(),
        first_usable_lba: Some(h.first_usable_lba),
        last_usable_lba: Some(h.last_usable_lba),
        gpt: Some(GptInfo {
            used,
            primary_offset: ss,
            primary_state: state_name(&scan.primary),
            backup_offset: scan.backup_lba * ss,
            backup_state: state_name(&scan.backup),
            num_entries: h.num_entries,
            entry_size: h.entry_size,
            mbr_role,
            hybrid_entries,
        }),
        partitions,
        problems,
    }
}

/// The MBR's partitions (and the logicals of its extended partitions) with
/// sector size `ss`.
pub fn mbr_table(
    vol: &dyn Volume,
    m: &Mbr,
    (ss, source): (u64, SectorSizeSource),
) -> PartitionTable {
    let mut partitions = Vec::new();
    let mut problems = Vec::new();
    let mut next_logical = 5u32;
    for e in &m.entries {
        let extended = types::is_extended(e.kind);
        partitions.push(Partition {
            number: u32::from(e.slot) + 1,
            start_lba: u64::from(e.first_lba),
            sectors: u64::from(e.sectors),
            ptype: PartType::Mbr(e.kind),
            name: None,
            guid: None,
            bootable: e.bootable(),
            attributes: None,
            role: if extended {
                PartRole::Extended
            } else {
                PartRole::Primary
            },
            table_lba: Some(0),
            problems: Vec::new(),
        });
        if extended {
            let chain = mbr::walk_ebr_chain(vol, ss, u64::from(e.first_lba), u64::from(e.sectors));
            problems.extend(chain.problems);
            for l in chain.logicals {
                partitions.push(Partition {
                    number: next_logical,
                    start_lba: l.start_lba,
                    sectors: l.sectors,
                    ptype: PartType::Mbr(l.kind),
                    name: None,
                    guid: None,
                    bootable: l.status == 0x80,
                    attributes: None,
                    role: PartRole::Logical,
                    table_lba: Some(l.ebr_lba),
                    problems: Vec::new(),
                });
                next_logical += 1;
            }
        }
    }
    check_bounds(&mut partitions, vol.len() / ss);
    PartitionTable {
        format: TableFormat::Mbr,
        sector_size: ss,
        sector_size_source: source,
        disk_id: format!("{:#010x}", m.disk_signature),
        first_usable_lba: None,
        last_usable_lba: None,
        gpt: None,
        partitions,
        problems,
    }
}

/// Flags partitions that run past the end of the disk, and overlaps between
/// partitions that hold data (an extended container overlaps its logicals by design).
fn check_bounds(parts: &mut [Partition], disk_sectors: u64) {
    for p in parts.iter_mut() {
        let end = p.start_lba.saturating_add(p.sectors);
        if end > disk_sectors {
            p.problems.push(Problem::error(
                "partition",
                None,
                format!(
                    "LBA {}..{end} runs past the end of the disk ({disk_sectors} sectors); only what is there can be read",
                    p.start_lba
                ),
            ));
        }
    }
    // One sweep in start order: each partition is checked against the one
    // that reaches furthest among those before it, so a table of thousands
    // of overlapping entries costs n log n and at most one warning each.
    let mut order: Vec<(u64, u64, usize)> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.role != PartRole::Extended && p.sectors > 0)
        .map(|(i, p)| (p.start_lba, p.start_lba.saturating_add(p.sectors), i))
        .collect();
    order.sort_unstable();
    let mut reach: Option<(u64, usize)> = None;
    for (start, end, i) in order {
        // `i` and `j` come from `enumerate` over `parts` itself.
        if let Some((far, j)) = reach {
            let other = parts.get(j).map(|p| p.number);
            if let (true, Some(other), Some(p)) = (start < far, other, parts.get_mut(i)) {
                p.problems.push(Problem::warning(
                    "partition",
                    None,
                    format!("overlaps partition {other}"),
                ));
            }
        }
        if reach.is_none_or(|(far, _)| end > far) {
            reach = Some((end, i));
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    #[test]
    fn gpt_and_sector_size_found() {
        let linux = Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap();
        for ss in [512u64, 4096] {
            let d = gpt::tests::build_gpt(ss as usize, 300, &[(linux, 40, 99, "a")]);
            let v = MemVolume::new("d", d);
            let p = probe_tables(&v);
            let t = tables(&v, &p, (512, SectorSizeSource::Default));
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].format, TableFormat::Gpt);
            assert_eq!(t[0].sector_size, ss);
            assert_eq!(t[0].partitions[0].start_lba, 40);
            assert!(
                t[0].problems
                    .iter()
                    .all(|p| p.severity == Severity::Warning),
                "{:?}",
                t[0].problems
            );
        }
    }

    #[test]
    fn wiped_primary_and_mbr_found_from_backup() {
        let linux = Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap();
        let mut d = gpt::tests::build_gpt(512, 300, &[(linux, 40, 99, "a")]);
        d[..34 * 512].fill(0);
        let v = MemVolume::new("d", d);
        let p = probe_tables(&v);
        let t = tables(&v, &p, (512, SectorSizeSource::Default));
        assert_eq!(t[0].partitions.len(), 1);
        assert_eq!(t[0].gpt.as_ref().unwrap().used, Which::Backup);
        assert!(t[0]
            .problems
            .iter()
            .any(|p| p.severity == Severity::Error && p.structure == "GPT primary header"));
    }
}
