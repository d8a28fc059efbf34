//! ESXi host sparse extents, extent type VMFSSPARSE: the `-delta.vmdk`
//! redo logs of ESX and ESXi snapshots up to ESXi 5, and of VMFS5
//! snapshots of disks under 2 TiB (VMware "Virtual Disk Format 5.0", "ESXi
//! Host Sparse Extents"; checked against QEMU's block/vmdk.c, which reads
//! them as `VMDK3Header`), little-endian.
//!
//! Header (`COWDisk_Header`, 2048 bytes): magic "COWD" 0, version 4 (1),
//! flags 8 (3), numSectors 12 (the extent's capacity, in sectors),
//! grainSize 16 (sectors), gdOffset 20 (sectors), numGDEntries 24,
//! freeSector 28 (the next free sector: the file is at least that long),
//! then a union at 32 (a root disk's cylinders 32, heads 36 and sectors
//! 40; a child's parentFileName 32..1056 and parentGeneration 1056),
//! generation 1060, name 1064..1124, description 1124..1636,
//! savedGeneration 1636, reserved 1640..1648, uncleanShutdown 1648,
//! padding to 2048. All fields are u32.
//!
//! The grain directory (at gdOffset) holds numGDEntries u32 sector numbers
//! of grain tables (0: no table); a grain table holds 4096 u32 sector
//! numbers of grains (0: the extent does not hold the grain, the parent
//! does). Guest grain `g` is entry `g % 4096` of the table that directory
//! entry `g / 4096` names.

use std::collections::HashSet;

use super::layer::{Grain, GrainMap};
use crate::bytes::{arrays, Bytes};
use crate::error::{Damage, Error, Result};
use crate::io::{bytes_at, bytes_up_to, check_range, VolumeRef};
use crate::problem::Problem;

/// The header's magic: "COWD" on disk.
pub const MAGIC: &[u8; 4] = b"COWD";
/// Bytes of the header.
pub const HEADER_BYTES: usize = 2048;
/// Grain table entries per grain table (fixed by the format).
pub const GTES: u64 = 4096;
/// Bytes of a grain table.
const TABLE_BYTES: u64 = GTES * 4;
/// The largest grain read, in sectors: 1 GiB, QEMU's bound (ESXi writes
/// one-sector grains).
const MAX_GRAIN_SECTORS: u64 = 1 << 21;
/// Where uncleanShutdown is.
const UNCLEAN_AT: usize = 1648;

/// A parsed COWD header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CowdHeader {
    /// 1 as ESXi writes it.
    pub version: u32,
    /// 3 as ESXi writes it.
    pub flags: u32,
    /// The extent's size, in sectors.
    pub capacity: u64,
    /// Sectors per grain.
    pub grain: u64,
    /// The grain directory, in sectors.
    pub gd_offset: u64,
    /// Grain directory entries, as stored.
    pub gd_entries: u32,
    /// The next free sector of the file.
    pub free_sector: u32,
    /// Whether the extent was not closed cleanly.
    pub unclean: bool,
}

impl CowdHeader {
    /// Bytes per grain.
    pub fn grain_bytes(&self) -> u64 {
        self.grain * 512
    }

    /// The extent's size in bytes.
    pub fn size(&self) -> u64 {
        self.capacity * 512
    }

    /// Grain tables the capacity needs.
    pub fn tables_needed(&self) -> u64 {
        self.capacity.div_ceil(self.grain).div_ceil(GTES)
    }
}

/// True when `head` starts with a COWD header's magic.
pub fn is_cowd(head: &[u8]) -> bool {
    head.get(..4) == Some(MAGIC)
}

/// Parses a header; `None` without the magic, `Err((field offset, why))`
/// when a field is out of range.
pub fn parse_header(b: &[u8]) -> Option<std::result::Result<CowdHeader, (u64, String)>> {
    let bb = Bytes(b);
    if !bb.has(0, MAGIC) {
        return None;
    }
    Some((|| {
        let field = |at: usize| {
            bb.le_u32(at)
                .ok_or_else(|| (0u64, format!("header truncated ({} bytes)", b.len())))
        };
        let grain = u64::from(field(16)?);
        if grain == 0 || grain > MAX_GRAIN_SECTORS {
            return Err((
                16,
                format!("grain of {grain} sectors (1 to {MAX_GRAIN_SECTORS})"),
            ));
        }
        let h = CowdHeader {
            version: field(4)?,
            flags: field(8)?,
            capacity: u64::from(field(12)?),
            grain,
            gd_offset: u64::from(field(20)?),
            gd_entries: field(24)?,
            free_sector: field(28)?,
            unclean: field(UNCLEAN_AT)? != 0,
        };
        if u64::from(h.gd_entries) < h.tables_needed() {
            return Err((
                24,
                format!(
                    "{} grain directory entries, but {} sectors in grains of {grain} need {}",
                    h.gd_entries,
                    h.capacity,
                    h.tables_needed()
                ),
            ));
        }
        Ok(h)
    })())
}

/// A COWD extent's grain map.
#[derive(Debug)]
pub struct CowdExtent {
    file: VolumeRef,
    header: CowdHeader,
    /// The grain directory entries the capacity needs (sectors of tables).
    gd: Vec<u32>,
    /// Where the grain directory is, in bytes.
    gd_at: u64,
}

impl CowdExtent {
    /// Opens the COWD extent in `file`; with the problems found that do
    /// not stop reading (an unclean shutdown, a file shorter than its
    /// header says, grain tables past the end of the file).
    pub fn open(file: VolumeRef) -> Result<(CowdExtent, Vec<Problem>)> {
        let name = file.describe();
        let bad =
            |s: &'static str, at: u64, why: String| Error::corrupt(s, at, why).within(&name, 0);
        let head = bytes_up_to(file.as_ref(), 0, HEADER_BYTES)?;
        let header = match parse_header(&head) {
            None => return Err(bad("VMDK COWD header", 0, "no COWD magic".into())),
            Some(Err((at, why))) => return Err(bad("VMDK COWD header", at, why)),
            Some(Ok(h)) => h,
        };
        let len = file.len();
        let mut problems = Vec::new();
        if header.version != 1 {
            problems.push(Problem::warning(
                "VMDK COWD header",
                Some(4),
                format!("version {} (ESXi writes 1); read as version 1, with grain tables of {GTES} entries", header.version),
            ));
        }
        if header.unclean {
            problems.push(Problem::warning(
                "VMDK COWD header",
                Some(UNCLEAN_AT as u64),
                "marked as not closed cleanly (the grain tables are read as they are)",
            ));
        }
        if u64::from(header.free_sector) * 512 > len {
            problems.push(Problem::error(
                "VMDK COWD header",
                Some(28),
                format!(
                    "the next free sector is {}, but the file ends at sector {}: it was cut short, and grains past its end cannot be read",
                    header.free_sector,
                    len / 512
                ),
            ));
        }
        // gdOffset is a u32 of sectors: no overflow.
        let gd_at = header.gd_offset * 512;
        let n = header.tables_needed();
        let bytes = n * 4; // ok: n <= 2^32 sectors / 4096 entries
        check_range(file.as_ref(), gd_at, bytes).map_err(|_| {
            bad(
                "VMDK COWD grain directory",
                gd_at,
                format!(
                    "{n} entries ({bytes} bytes) run past the end of the file ({len:#x} bytes)"
                ),
            )
            .with(Damage::Bounds)
        })?;
        let raw = bytes_at(file.as_ref(), gd_at, bytes as usize)?; // ok: <= 4 MiB, inside the file
        let gd: Vec<u32> = arrays(&raw).map(u32::from_le_bytes).collect();
        let outside: Vec<usize> = gd
            .iter()
            .enumerate()
            .filter(|(_, &e)| e != 0 && u64::from(e) * 512 + TABLE_BYTES > len)
            .map(|(i, _)| i)
            .collect();
        if let Some(&first) = outside.first() {
            problems.push(Problem::error(
                "VMDK COWD grain directory",
                Some(gd_at + first as u64 * 4),
                format!(
                    "{} of its grain tables lie past the end of the file ({len:#x} bytes), the first table {first} at {:#x}: the grains they map cannot be read",
                    outside.len(),
                    gd.get(first).map_or(0, |&e| u64::from(e) * 512)
                ),
            ));
        }
        Ok((
            CowdExtent {
                file,
                header,
                gd,
                gd_at,
            },
            problems,
        ))
    }

    /// The header.
    pub fn header(&self) -> &CowdHeader {
        &self.header
    }

    /// Where the grain directory is, in bytes.
    pub fn gd_offset(&self) -> u64 {
        self.gd_at
    }

    /// Bytes of the file that hold guest grains; each grain table read
    /// once, those past the end of the file left out.
    pub fn allocated(&self) -> Result<u64> {
        let mut seen = HashSet::new();
        let mut grains = 0u64;
        for &e in &self.gd {
            let at = u64::from(e) * 512;
            if e == 0 || at + TABLE_BYTES > self.file.len() || !seen.insert(e) {
                continue;
            }
            let gt = bytes_at(self.file.as_ref(), at, TABLE_BYTES as usize)?; // ok: 16 KiB, inside the file
            grains += arrays(&gt).filter(|&x| x != [0; 4]).count() as u64;
        }
        Ok(grains.saturating_mul(self.header.grain_bytes()))
    }

    fn corrupt(&self, structure: &'static str, at: u64, why: String) -> Error {
        Error::corrupt(structure, at, why)
            .with(Damage::Bounds)
            .within(&self.file.describe(), 0)
    }
}

impl GrainMap for CowdExtent {
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
        let (t, i) = (g / GTES, g % GTES);
        let gde_at = self.gd_at + t * 4;
        let gde = usize::try_from(t)
            .ok()
            .and_then(|t| self.gd.get(t))
            .copied()
            .unwrap_or(0);
        if gde == 0 {
            return Ok(Grain::Parent);
        }
        let len = self.file.len();
        let table = u64::from(gde) * 512;
        if table + TABLE_BYTES > len {
            return Err(self.corrupt(
                "VMDK COWD grain directory",
                gde_at,
                format!(
                    "grain table {t} at {table:#x} lies past the end of the file ({len:#x} bytes)"
                ),
            ));
        }
        let gte_at = table + i * 4;
        let raw = bytes_at(self.file.as_ref(), gte_at, 4)?; // ok: the table is inside the file
        let sector = Bytes(&raw).le_u32(0).unwrap_or(0);
        if sector == 0 {
            return Ok(Grain::Parent);
        }
        let host = u64::from(sector) * 512;
        let gb = self.header.grain_bytes();
        // g is below the capacity in grains, so g * gb is below the capacity.
        let need = gb.min(self.header.size() - g * gb);
        if host + need > len {
            return Err(self.corrupt(
                "VMDK COWD grain table",
                gte_at,
                format!("grain {g} at {host:#x} lies past the end of the file ({len:#x} bytes)"),
            ));
        }
        Ok(Grain::Data(host))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::{MemVolume, Volume};
    use std::sync::Arc;

    /// A COWD extent of `capacity` sectors in grains of `grain` sectors:
    /// the header, the grain directory at sector 4, a table for each
    /// directory entry in `tables`, and the grains `(g, byte)` filled with
    /// `byte`.
    fn cowd(capacity: u32, grain: u32, grains: &[(u64, u8)]) -> Vec<u8> {
        let per = u64::from(grain) * GTES;
        let n = u64::from(capacity).div_ceil(per) as usize;
        let mut f = vec![0u8; HEADER_BYTES];
        f[..4].copy_from_slice(MAGIC);
        for (at, v) in [
            (4, 1),
            (8, 3),
            (12, capacity),
            (16, grain),
            (20, 4),
            (24, n as u32),
        ] {
            f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        f.resize(HEADER_BYTES + (n * 4).div_ceil(512) * 512, 0);
        let mut tables = vec![0u32; n];
        for &(g, byte) in grains {
            let t = (g / GTES) as usize;
            if tables[t] == 0 {
                tables[t] = (f.len() / 512) as u32;
                f.resize(f.len() + TABLE_BYTES as usize, 0);
                f[2048 + t * 4..2048 + t * 4 + 4].copy_from_slice(&tables[t].to_le_bytes());
            }
            let at = tables[t] as usize * 512 + (g % GTES) as usize * 4;
            let here = (f.len() / 512) as u32;
            f[at..at + 4].copy_from_slice(&here.to_le_bytes());
            f.resize(f.len() + grain as usize * 512, byte);
        }
        let free = (f.len() / 512) as u32;
        f[28..32].copy_from_slice(&free.to_le_bytes());
        f
    }

    fn open(f: Vec<u8>) -> Result<(CowdExtent, Vec<Problem>)> {
        CowdExtent::open(Arc::new(MemVolume::new("t-delta.vmdk", f)))
    }

    #[test]
    fn grains_over_a_parent() {
        // 3 tables of 4096 one-sector grains; the middle one absent.
        let f = cowd(
            3 * 4096 - 100,
            1,
            &[(0, 1), (4095, 2), (8192, 3), (3 * 4096 - 101, 4)],
        );
        let (ext, problems) = open(f).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ext.allocated().unwrap(), 4 * 512);
        let parent: VolumeRef = Arc::new(MemVolume::new("p", vec![9u8; 6 << 20]));
        let d = ext.placed((3 * 4096 - 100) * 512 + 1024, Some(parent), 0, "t".into());
        let mut b = vec![0u8; 3 * 512];
        d.read_at(4094 * 512, &mut b).unwrap();
        assert_eq!((b[0], b[512], b[1024]), (9, 2, 9));
        d.read_at(8191 * 512 + 100, &mut b).unwrap();
        assert_eq!((b[0], b[411], b[412], b[923], b[924]), (9, 9, 3, 3, 9));
        // The last grain, then past the capacity: zeros.
        let mut b = vec![7u8; 1536];
        d.read_at((3 * 4096 - 101) * 512, &mut b).unwrap();
        assert_eq!((b[0], b[511], b[512], b[1535]), (4, 4, 0, 0));
    }

    #[test]
    fn damaged_tables_are_errors_with_offsets() {
        let f = cowd(2 * 4096 * 8, 8, &[(1, 1), (4096 + 5, 2)]);
        // The second table cut off: open says so, its grains fail, the
        // first table's still read.
        let second = u32::from_le_bytes(f[2052..2056].try_into().unwrap()) as usize * 512;
        let (ext, problems) = open(f[..second + 100].to_vec()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}"); // and the free sector
        assert_eq!(problems[1].offset, Some(2052), "{problems:?}");
        let d = ext.placed(2 * 4096 * 8 * 512, None, 0, "t".into());
        let e = d
            .read_at((4096 + 5) * 4096, &mut [0u8; 10])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("VMDK COWD grain directory at 0x804") && e.contains("grain table 1"),
            "{e}"
        );
        let mut b = [0u8; 4096];
        d.read_at(4096, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 1));
        // A grain past the end of the file.
        let mut f = cowd(4096, 8, &[(3, 1)]);
        let table = u32::from_le_bytes(f[2048..2052].try_into().unwrap()) as usize * 512;
        f[table + 12..table + 16].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
        let d = open(f).unwrap().0.placed(4096 * 512, None, 0, "t".into());
        let e = d.read_at(3 * 4096, &mut [0u8; 1]).unwrap_err().to_string();
        assert!(
            e.contains(&format!("VMDK COWD grain table at {:#x}", table + 12)),
            "{e}"
        );
        assert!(e.contains("grain 3 at 0x1fffe000000"), "{e}");
    }

    #[test]
    fn golden_header_mutations() {
        let f = cowd(4096 * 4, 4, &[(1, 1)]);
        for (at, val, why) in [
            (16usize, 0u32, "grain of 0"),
            (16, 1 << 22, "grain of"),
            (24, 0, "grain directory entries"),
            (20, 0x0100_0000, "past the end"),
        ] {
            let mut f = f.clone();
            f[at..at + 4].copy_from_slice(&val.to_le_bytes());
            let e = open(f).unwrap_err();
            let s = e.to_string();
            assert!(s.contains(why), "{at}: {s}");
            let want = if at == 20 { 0x2_0000_0000 } else { at as u64 };
            assert_eq!(e.offset(), Some(want), "{at}: {s}");
        }
        let e = open(f[..1000].to_vec()).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = open(b"KDMV".to_vec()).unwrap_err().to_string();
        assert!(e.contains("no COWD magic"), "{e}");
        let mut g = f.clone();
        g[UNCLEAN_AT] = 1;
        g[4] = 3;
        let (_, problems) = open(g).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
