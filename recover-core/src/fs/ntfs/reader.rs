//! Reading files from NTFS: the MFT (found through its own record 0, or
//! the mirror when that is damaged), attribute lists, resident and
//! non-resident data (sparse runs, initialized size, LZNT1 compression),
//! $I30 directory indexes, named data streams and reparse-point links.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::compressed::Compressed;
use super::index::{entries, IndexEntry};
use super::record::{
    self, file_name, standard_info, Attr, Body, Header, ATTR_COMPRESSED, ATTR_ENCRYPTED,
    AT_ATTRIBUTE_LIST, AT_BITMAP, AT_DATA, AT_FILE_NAME, AT_INDEX_ALLOCATION, AT_INDEX_ROOT,
    AT_REPARSE_POINT, AT_STANDARD_INFORMATION,
};
use super::runlist::{decode, Run};
use super::{apply_fixups, parse_boot, Boot};
use crate::bytes::{utf16le_units, Bytes};
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::fs::{DirEntry, Extent, ExtentList, FileId, FileKind, FileSystem, FileVolume, Stat};
use crate::io::{bytes_at, MemVolume, Volume, VolumeRef};
use crate::problem::Problem;

/// The root directory's record.
const ROOT: u64 = 5;
/// Records below this are the metafiles ($MFT, $LogFile, ..., $Extend);
/// listings leave them out, as Windows and ntfs-3g do.
const FIRST_USER_RECORD: u64 = 16;
/// Extension records one file may have (a file in 100,000 fragments
/// needs a few hundred).
const MAX_EXTENSIONS: usize = 4096;
/// An attribute list or a directory's bitmap longer than this is damage.
const MAX_LIST: u64 = 16 << 20;
/// Index blocks per directory (a directory of millions of entries has
/// tens of thousands).
const MAX_INDEX_BLOCKS: u64 = 1 << 20;

/// FILE_ATTRIBUTE_* bits shown as flags.
const FLAGS: [(u32, &str); 8] = [
    (0x1, "readonly"),
    (0x2, "hidden"),
    (0x4, "system"),
    (0x20, "archive"),
    (0x200, "sparse"),
    (0x400, "reparse"),
    (0x800, "compressed"),
    (0x4000, "encrypted"),
];

/// An NTFS volume opened for reading.
#[derive(Debug)]
pub struct Ntfs {
    vol: VolumeRef,
    boot: Boot,
    mft: Arc<FileVolume>,
    problems: ProblemLog,
}

/// A file's attributes, from its base record and extension records.
struct Attrs {
    header: Header,
    list: Vec<Attr>,
    /// Byte offset of the base record in the volume.
    at: u64,
}

impl Ntfs {
    /// Opens the volume: the boot sector, then $MFT's own record for where
    /// the MFT is (from $MFTMirr when record 0 is damaged).
    pub fn open(vol: VolumeRef) -> Result<Ntfs> {
        let name = vol.describe();
        let head = bytes_at(vol.as_ref(), 0, 512)?;
        if head.get(3..11) != Some(b"NTFS    ") {
            return Err(Error::corrupt("NTFS boot sector", 3, "no NTFS signature").within(&name, 0));
        }
        let boot = parse_boot(&head)
            .map_err(|(at, why)| Error::corrupt("NTFS boot sector", at, why).within(&name, 0))?;
        let problems = ProblemLog::default();
        let mut last = None;
        for (which, lcn) in [("$MFT", boot.mft_lcn), ("$MFTMirr", boot.mirr_lcn)] {
            match Self::bootstrap(&vol, &boot, lcn) {
                Ok(mft) => {
                    if which == "$MFTMirr" {
                        problems.push(Problem::error(
                            "NTFS $MFT record 0",
                            boot.mft_lcn.checked_mul(boot.cluster),
                            format!(
                                "unreadable ({}); the MFT's location was taken from $MFTMirr",
                                last.as_ref()
                                    .map_or(String::new(), |e: &Error| e.to_string())
                            ),
                        ));
                    }
                    return Ok(Ntfs {
                        vol,
                        boot,
                        mft: Arc::new(mft),
                        problems,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::corrupt("NTFS $MFT", 0, "not found")))
    }

    /// The MFT as a volume, from record 0 at cluster `lcn`.
    fn bootstrap(vol: &VolumeRef, boot: &Boot, lcn: u64) -> Result<FileVolume> {
        let name = vol.describe();
        let at = lcn
            .checked_mul(boot.cluster)
            .ok_or_else(|| Error::corrupt("NTFS boot sector", 0x30, "MFT cluster overflows"))?;
        let raw = bytes_at(vol.as_ref(), at, boot.record_size as usize)?; // ok: <= 64 KiB
        let (_, attrs) = record::parse(&raw).map_err(|(o, why)| {
            Error::corrupt(
                "NTFS MFT record",
                at + o as u64,
                format!("record 0 ($MFT): {why}"),
            )
            .within(&name, 0)
        })?;
        // The MFT's extension records (a very fragmented MFT) would need the
        // MFT to be read first: its first segment, in record 0, maps them.
        let data: Vec<&Attr> = attrs
            .iter()
            .filter(|a| a.kind == AT_DATA && a.name.is_empty())
            .collect();
        let what = format!("{name}:$MFT");
        build_data(vol, boot, &data, what, at)
    }

    /// The volume's geometry.
    pub fn boot(&self) -> &Boot {
        &self.boot
    }

    fn corrupt(&self, structure: &'static str, offset: u64, detail: String) -> Error {
        Error::corrupt(structure, offset, detail).within(&self.vol.describe(), 0)
    }

    /// Where record `n` starts in the volume.
    pub fn record_location(&self, n: u64) -> Option<u64> {
        let off = n.checked_mul(self.boot.record_size)?;
        physical(&self.mft, off)
    }

    /// Record `n`, parsed; errors name the record and the offset.
    fn record(&self, n: u64) -> Result<(Header, Vec<Attr>, u64)> {
        let off = n
            .checked_mul(self.boot.record_size)
            .filter(|o| o.saturating_add(self.boot.record_size) <= self.mft.len())
            .ok_or_else(|| {
                self.corrupt(
                    "NTFS MFT record",
                    0,
                    format!(
                        "record {n} is past the end of the MFT ({} records)",
                        self.mft.len() / self.boot.record_size
                    ),
                )
            })?;
        let at = physical(&self.mft, off).unwrap_or(0);
        let raw = bytes_at(self.mft.as_ref(), off, self.boot.record_size as usize)?; // ok: <= 64 KiB
        let (h, attrs) = record::parse(&raw).map_err(|(o, why)| {
            self.corrupt(
                "NTFS MFT record",
                at + o as u64,
                format!("record {n}: {why}"),
            )
        })?;
        Ok((h, attrs, at))
    }

    /// All of file `n`'s attributes.
    fn attrs(&self, n: FileId) -> Result<Attrs> {
        let (header, mut list, at) = self.record(n)?;
        if !header.in_use {
            return Err(self.corrupt(
                "NTFS MFT record",
                at + 0x16,
                format!("record {n} is not in use (a deleted file)"),
            ));
        }
        if header.base != 0 {
            return Err(self.corrupt(
                "NTFS MFT record",
                at + 0x20,
                format!(
                    "record {n} is an extension of record {}, not a file",
                    header.base
                ),
            ));
        }
        if let Some(al) = list.iter().find(|a| a.kind == AT_ATTRIBUTE_LIST).cloned() {
            let value = self.value(&al, at, n)?;
            let mut others = BTreeSet::new();
            let b = Bytes(&value);
            let mut pos = 0usize;
            while pos + 0x1A <= value.len() {
                let len = usize::from(b.le_u16(pos + 4).unwrap_or(0));
                if len < 0x1A {
                    self.problems.push(Problem::error(
                        "NTFS attribute list",
                        Some(at + al.at as u64),
                        format!(
                            "record {n}: entry of {len} bytes at {pos:#x}; the rest is skipped"
                        ),
                    ));
                    break;
                }
                let r = b.le_u64(pos + 0x10).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
                if r != n {
                    others.insert(r);
                }
                pos += len;
            }
            for r in others.into_iter().take(MAX_EXTENSIONS) {
                match self.record(r) {
                    Ok((h, more, _)) if h.in_use && h.base == n => list.extend(more),
                    Ok(_) => self.problems.push(Problem::error(
                        "NTFS attribute list",
                        Some(at + al.at as u64),
                        format!("record {n}: extension record {r} does not belong to it"),
                    )),
                    Err(e) => self.problems.push(Problem::from_error(
                        crate::Severity::Error,
                        "NTFS MFT record",
                        &e,
                    )),
                }
            }
        }
        Ok(Attrs { header, list, at })
    }

    /// An attribute's whole value (attribute lists, bitmaps, reparse data:
    /// small things, capped).
    fn value(&self, a: &Attr, rec_at: u64, n: FileId) -> Result<Vec<u8>> {
        match &a.body {
            Body::Resident(v) => Ok(v.clone()),
            Body::NonResident(nr) => {
                if nr.size > MAX_LIST {
                    return Err(self.corrupt(
                        "NTFS attribute",
                        rec_at + a.at as u64,
                        format!("record {n}: attribute {:#x} of {} bytes", a.kind, nr.size),
                    ));
                }
                let v = build_data(&self.vol, &self.boot, &[a], String::new(), rec_at)?;
                Ok(bytes_at(&v, 0, nr.size as usize)?.into_owned()) // ok: capped above
            }
        }
    }

    /// The data attribute named `name` ("" for the file's contents).
    fn data(&self, n: FileId, attrs: &Attrs, name: &str) -> Result<VolumeRef> {
        let segs: Vec<&Attr> = attrs
            .list
            .iter()
            .filter(|a| a.kind == AT_DATA && a.name == name)
            .collect();
        let what = if name.is_empty() {
            format!("{}:record {n}", self.vol.describe())
        } else {
            format!("{}:record {n}:{name}", self.vol.describe())
        };
        if segs.is_empty() {
            return Err(self.corrupt(
                "NTFS MFT record",
                attrs.at,
                format!("record {n} has no data stream {name:?}"),
            ));
        }
        if let [one] = segs[..] {
            if let Body::Resident(v) = &one.body {
                return Ok(Arc::new(MemVolume::new(what, v.clone())));
            }
        }
        if segs.iter().any(|a| a.flags & ATTR_ENCRYPTED != 0) {
            return Err(Error::Unsupported {
                layer: self.vol.describe(),
                what: format!("record {n}: reading an EFS-encrypted file"),
            });
        }
        let first = lowest(&segs);
        if let (Some(f), true) = (first, segs.iter().any(|a| a.flags & ATTR_COMPRESSED != 0)) {
            if f.compression_unit > 0 {
                let unit = 1u64 << f.compression_unit.min(16);
                if self.boot.cluster > 4096 || unit * self.boot.cluster > 1 << 16 {
                    return Err(Error::Unsupported {
                        layer: self.vol.describe(),
                        what: format!(
                            "record {n}: compression units of {unit} clusters of {} bytes",
                            self.boot.cluster
                        ),
                    });
                }
                let runs =
                    runs_of(&segs, attrs.at).map_err(|e| e.within(&self.vol.describe(), 0))?;
                return Ok(Arc::new(Compressed::new(
                    self.vol.clone(),
                    runs,
                    self.boot.cluster,
                    unit,
                    f.size,
                    f.initialized,
                    what,
                )));
            }
        }
        Ok(Arc::new(build_data(
            &self.vol, &self.boot, &segs, what, attrs.at,
        )?))
    }

    fn std_info(&self, attrs: &Attrs) -> Option<record::StandardInfo> {
        attrs.list.iter().find_map(|a| match (&a.body, a.kind) {
            (Body::Resident(v), AT_STANDARD_INFORMATION) => standard_info(v),
            _ => None,
        })
    }

    /// The reparse point's tag and data, when the file has one.
    fn reparse(&self, n: FileId, attrs: &Attrs) -> Option<(u32, Vec<u8>)> {
        let a = attrs.list.iter().find(|a| a.kind == AT_REPARSE_POINT)?;
        let v = self.value(a, attrs.at, n).ok()?;
        Some((Bytes(&v).le_u32(0)?, v))
    }

    /// An Interix special file, as ntfs-3g writes symlinks and device
    /// nodes by default: a system file whose data starts "IntxLNK\x01"
    /// (then the UTF-16LE target), "IntxCHR\0" or "IntxBLK\0" (then major
    /// and minor). Returns the kind and the data.
    fn interix(&self, n: FileId, attrs: &Attrs) -> Option<(FileKind, Vec<u8>)> {
        let si = self.std_info(attrs)?;
        if attrs.header.directory || si.attributes & 0x4 == 0 {
            return None;
        }
        let v = self.data(n, attrs, "").ok()?;
        if !(8..=8 + 2 * 4096).contains(&v.len()) {
            return None;
        }
        let data = bytes_at(v.as_ref(), 0, v.len() as usize).ok()?.into_owned(); // ok: capped
        let kind = match data.get(..8)? {
            b"IntxLNK\x01" => FileKind::Symlink,
            b"IntxCHR\0" => FileKind::CharDevice,
            b"IntxBLK\0" => FileKind::BlockDevice,
            _ => return None,
        };
        Some((kind, data))
    }

    /// The entries of directory `n`'s $I30 index, from the root and every
    /// index block its bitmap marks in use.
    fn index_entries(&self, n: FileId, attrs: &Attrs) -> Result<Vec<IndexEntry>> {
        let i30 = |kind| {
            attrs
                .list
                .iter()
                .filter(move |a| a.kind == kind && a.name == "$I30")
        };
        let root = i30(AT_INDEX_ROOT).next().ok_or_else(|| {
            self.corrupt(
                "NTFS MFT record",
                attrs.at,
                format!("record {n}: a directory without an $I30 index root"),
            )
        })?;
        let Body::Resident(rv) = &root.body else {
            return Err(self.corrupt(
                "NTFS index root",
                attrs.at + root.at as u64,
                format!("record {n}: non-resident"),
            ));
        };
        let (mut out, damage) = entries(rv, 0x10);
        if let Some((pos, why)) = damage {
            self.problems.push(Problem::error(
                "NTFS index root",
                Some(attrs.at + root.at as u64 + pos as u64),
                format!("record {n}: {why}"),
            ));
        }
        let alloc: Vec<&Attr> = i30(AT_INDEX_ALLOCATION).collect();
        if alloc.is_empty() {
            return Ok(out);
        }
        let block = u64::from(Bytes(rv).le_u32(8).unwrap_or(0));
        if !(256..=65536).contains(&block) || !block.is_power_of_two() {
            return Err(self.corrupt(
                "NTFS index root",
                attrs.at + root.at as u64,
                format!("record {n}: index block size {block}"),
            ));
        }
        let what = format!("{}:record {n}:$I30", self.vol.describe());
        let data = build_data(&self.vol, &self.boot, &alloc, what, attrs.at)?;
        let bitmap = match i30(AT_BITMAP).next() {
            Some(a) => Some(self.value(a, attrs.at, n)?),
            None => None,
        };
        let blocks = (data.len() / block).min(MAX_INDEX_BLOCKS);
        for i in 0..blocks {
            let used = bitmap.as_ref().is_none_or(|b| {
                b.get((i / 8) as usize)
                    .is_some_and(|x| x >> (i % 8) & 1 != 0)
            });
            if !used {
                continue;
            }
            let off = i * block;
            let at = physical(&data, off).unwrap_or(0);
            let mut raw = bytes_at(&data, off, block as usize)?.into_owned(); // ok: <= 64 KiB
            if raw.get(..4) != Some(b"INDX") {
                self.problems.push(Problem::error(
                    "NTFS index block",
                    Some(at),
                    format!("record {n}: block {i} has no INDX signature; its entries are lost"),
                ));
                continue;
            }
            if let Err((pos, why)) = apply_fixups(&mut raw) {
                self.problems.push(Problem::error(
                    "NTFS index block",
                    Some(at + pos as u64),
                    format!("record {n}: block {i}: {why}; its entries are lost"),
                ));
                continue;
            }
            let (more, damage) = entries(&raw, 0x18);
            if let Some((pos, why)) = damage {
                self.problems.push(Problem::error(
                    "NTFS index block",
                    Some(at + pos as u64),
                    format!("record {n}: block {i}: {why}"),
                ));
            }
            out.extend(more);
        }
        Ok(out)
    }
}

/// The lowest-VCN segment's sizes.
fn lowest<'a>(segs: &[&'a Attr]) -> Option<&'a record::NonResident> {
    segs.iter()
        .filter_map(|a| match &a.body {
            Body::NonResident(nr) => Some(nr),
            Body::Resident(_) => None,
        })
        .min_by_key(|nr| nr.lowest_vcn)
}

/// The runs of a non-resident attribute's segments, in VCN order.
fn runs_of(segs: &[&Attr], rec_at: u64) -> Result<Vec<Run>> {
    let mut nrs: Vec<&record::NonResident> = segs
        .iter()
        .filter_map(|a| match &a.body {
            Body::NonResident(nr) => Some(nr),
            Body::Resident(_) => None,
        })
        .collect();
    nrs.sort_by_key(|nr| nr.lowest_vcn);
    let mut runs = Vec::new();
    for nr in nrs {
        let more = decode(&nr.pairs, nr.lowest_vcn).map_err(|(o, why)| {
            Error::corrupt("NTFS mapping pairs", rec_at + (nr.pairs_at + o) as u64, why)
        })?;
        runs.extend(more);
    }
    Ok(runs)
}

/// A non-resident attribute's contents: its runs over the volume, with
/// bytes past the initialized size read as zeros.
fn build_data(
    vol: &VolumeRef,
    boot: &Boot,
    segs: &[&Attr],
    what: String,
    rec_at: u64,
) -> Result<FileVolume> {
    let name = vol.describe();
    let first = lowest(segs).ok_or_else(|| {
        Error::corrupt(
            "NTFS attribute",
            rec_at,
            format!("{what}: no non-resident segment"),
        )
        .within(&name, 0)
    })?;
    let runs = runs_of(segs, rec_at).map_err(|e| e.within(&name, 0))?;
    let c = boot.cluster;
    let init = first.initialized.min(first.size);
    let mut list = ExtentList::new();
    for r in runs {
        let (logical, len) = (r.vcn.saturating_mul(c), r.len.saturating_mul(c));
        if logical >= first.size {
            break;
        }
        let phys = r.lcn.map(|l| l.saturating_mul(c));
        // Split at the initialized size: beyond it, zeros.
        let stored = init.saturating_sub(logical).min(len);
        let parts = [
            (logical, stored, phys),
            (logical + stored, len - stored, None),
        ];
        for (l, n, p) in parts {
            if !list.push(Extent {
                logical: l,
                len: n,
                physical: p,
            }) {
                return Err(Error::corrupt(
                    "NTFS mapping pairs",
                    rec_at,
                    format!("{what}: too many runs"),
                )
                .within(&name, 0));
            }
        }
    }
    list.build(vol.clone(), first.size, what)
        .map_err(|e| e.within(&name, 0))
}

/// Where byte `off` of a file lies in its volume, when it is stored.
fn physical(f: &FileVolume, off: u64) -> Option<u64> {
    let e = f
        .extents()
        .iter()
        .find(|e| e.logical <= off && off < e.logical + e.len)?;
    Some(e.physical? + (off - e.logical))
}

impl FileSystem for Ntfs {
    fn format(&self) -> &'static str {
        "ntfs"
    }

    fn root(&self) -> FileId {
        ROOT
    }

    fn stat(&self, id: FileId) -> Result<Stat> {
        let attrs = self.attrs(id)?;
        let si = self.std_info(&attrs);
        let fattrs = si.map_or(0, |s| s.attributes);
        let link = self
            .reparse(id, &attrs)
            .is_some_and(|(tag, _)| tag == TAG_SYMLINK || tag == TAG_MOUNT_POINT);
        let interix = self.interix(id, &attrs).map(|(k, _)| k);
        let kind = if link {
            FileKind::Symlink
        } else if let Some(k) = interix {
            k
        } else if attrs.header.directory {
            FileKind::Dir
        } else {
            FileKind::File
        };
        let data: Vec<&Attr> = attrs
            .list
            .iter()
            .filter(|a| a.kind == AT_DATA && a.name.is_empty())
            .collect();
        let (size, allocated) = match (&data[..], lowest(&data)) {
            ([one], _) if matches!(one.body, Body::Resident(_)) => match &one.body {
                Body::Resident(v) => (v.len() as u64, None),
                Body::NonResident(_) => (0, None),
            },
            (_, Some(nr)) => (nr.size, Some(nr.compressed.unwrap_or(nr.allocated))),
            _ => (0, None),
        };
        let mut streams: Vec<(String, u64)> = Vec::new();
        for a in attrs
            .list
            .iter()
            .filter(|a| a.kind == AT_DATA && !a.name.is_empty())
        {
            if streams.iter().any(|(n, _)| *n == a.name) {
                continue;
            }
            let segs: Vec<&Attr> = attrs
                .list
                .iter()
                .filter(|b| b.kind == AT_DATA && b.name == a.name)
                .collect();
            let len = match (&a.body, lowest(&segs)) {
                (Body::Resident(v), _) => v.len() as u64,
                (_, Some(nr)) => nr.size,
                _ => 0,
            };
            streams.push((a.name.clone(), len));
        }
        let names = attrs
            .list
            .iter()
            .filter(|a| a.kind == AT_FILE_NAME)
            .filter_map(|a| match &a.body {
                Body::Resident(v) => file_name(v),
                Body::NonResident(_) => None,
            })
            .filter(|f| f.namespace != 2)
            .count();
        let mut flags: Vec<&'static str> = FLAGS
            .iter()
            .filter(|(b, _)| fattrs & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if data.iter().any(|a| matches!(a.body, Body::Resident(_))) {
            flags.push("resident");
        }
        Ok(Stat {
            id,
            kind: Some(kind),
            size: if kind == FileKind::Symlink {
                self.read_link(id).map_or(0, |t| t.len() as u64)
            } else {
                size
            },
            allocated,
            mode: None,
            uid: None,
            gid: None,
            nlink: Some(names.max(1) as u32), // ok: names per record are few
            mtime: si.map(|s| s.modified),
            atime: si.map(|s| s.accessed),
            ctime: si.map(|s| s.changed),
            crtime: si.map(|s| s.created),
            flags,
            streams,
        })
    }

    fn read_dir(&self, dir: FileId) -> Result<Vec<DirEntry>> {
        let attrs = self.attrs(dir)?;
        if !attrs.header.directory {
            return Err(self.corrupt(
                "NTFS MFT record",
                attrs.at + 0x16,
                format!("record {dir} is not a directory"),
            ));
        }
        let mut out: Vec<DirEntry> = Vec::new();
        for e in self.index_entries(dir, &attrs)? {
            // DOS 8.3 aliases duplicate a Win32 name; metafiles stay hidden.
            if e.name.namespace == 2 || e.record < FIRST_USER_RECORD || e.record == dir {
                continue;
            }
            if let Ok((h, _, at)) = self.record(e.record) {
                if h.sequence != e.sequence && e.sequence != 0 {
                    self.problems.push(Problem::warning(
                        "NTFS index entry",
                        Some(at + 0x10),
                        format!(
                            "record {dir}: entry {:?} names record {} with sequence {}, but the record has {} (reused); skipped",
                            e.name.name, e.record, e.sequence, h.sequence
                        ),
                    ));
                    continue;
                }
            }
            let kind = if e.name.attributes & 0x1000_0000 != 0 {
                FileKind::Dir
            } else if e.name.attributes & 0x400 != 0 {
                FileKind::Unknown
            } else {
                FileKind::File
            };
            out.push(DirEntry {
                name: e.name.name.into_bytes(),
                id: e.record,
                kind,
            });
        }
        Ok(out)
    }

    fn open(&self, id: FileId) -> Result<VolumeRef> {
        let attrs = self.attrs(id)?;
        if let Some((kind, _)) = self.interix(id, &attrs) {
            return Err(self.corrupt(
                "NTFS MFT record",
                attrs.at,
                format!(
                    "record {id} is a {} (Interix), which has no contents to read",
                    kind.as_str()
                ),
            ));
        }
        if attrs.header.directory {
            return Err(self.corrupt(
                "NTFS MFT record",
                attrs.at,
                format!("record {id} is a directory"),
            ));
        }
        self.data(id, &attrs, "")
    }

    fn open_stream(&self, id: FileId, name: &str) -> Result<VolumeRef> {
        let attrs = self.attrs(id)?;
        self.data(id, &attrs, name)
    }

    fn read_link(&self, id: FileId) -> Result<Vec<u8>> {
        let attrs = self.attrs(id)?;
        if let Some((FileKind::Symlink, data)) = self.interix(id, &attrs) {
            // interix() matched the 8-byte tag, so the target follows it.
            let target = data.get(8..).ok_or_else(|| {
                self.corrupt("NTFS Interix symlink", 0, "no target after the tag".into())
            })?;
            let units = utf16le_units(target);
            let s: String = char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            return Ok(s.into_bytes());
        }
        let (tag, v) = self.reparse(id, &attrs).ok_or_else(|| {
            self.corrupt(
                "NTFS MFT record",
                attrs.at,
                format!("record {id} has no reparse point"),
            )
        })?;
        link_target(tag, &v).ok_or_else(|| {
            self.corrupt(
                "NTFS reparse point",
                attrs.at,
                format!("record {id}: tag {tag:#010x} is not a link, or its data is damaged"),
            )
        })
    }

    fn problems(&self) -> Vec<Problem> {
        self.problems.all()
    }
}

const TAG_MOUNT_POINT: u32 = 0xA000_0003;
const TAG_SYMLINK: u32 = 0xA000_000C;

/// A symbolic link's or junction's target from its reparse data
/// ([MS-FSCC] 2.1.2.4 and 2.1.2.5): tag 0, data length 4, then substitute
/// name offset and length, print name offset and length (and, for
/// symlinks, flags: 1 = relative), then the UTF-16 path buffer. Relative
/// links get '/' separators back.
fn link_target(tag: u32, v: &[u8]) -> Option<Vec<u8>> {
    let b = Bytes(v);
    let (buf, relative) = match tag {
        TAG_SYMLINK => (0x14, b.le_u32(0x10)? & 1 != 0),
        TAG_MOUNT_POINT => (0x10, false),
        _ => return None,
    };
    let (so, sl) = (usize::from(b.le_u16(8)?), usize::from(b.le_u16(0xA)?));
    let (po, pl) = (usize::from(b.le_u16(0xC)?), usize::from(b.le_u16(0xE)?));
    let (o, l) = if pl > 0 { (po, pl) } else { (so, sl) };
    let units: Vec<u16> = utf16le_units(b.get(buf + o, l)?).collect();
    let s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Some(if relative { s.replace('\\', "/") } else { s }.into_bytes())
}
