//! The VHDX log ([MS-VHDX] §2.3), replayed in memory: the file is never
//! written; reads go through an overlay that holds the logged updates.
//!
//! The log is a circular buffer of 4 KiB sectors at the header's log
//! offset. An entry (§2.3.1) starts with a header sector: signature "loge"
//! 0, checksum 4 (CRC-32C over the whole entry with the field zeroed),
//! entry length 8, tail 12 (the log offset of the oldest entry still
//! needed), sequence number 16, descriptor count 24, log GUID 32 (the file
//! header's), flushed file offset 48, last file offset 56. Descriptors of
//! 32 bytes follow from 64: "zero" (length 8, file offset 16, sequence 24)
//! or "desc" (trailing bytes 4, leading bytes 8, file offset 16, sequence
//! 24), and after the descriptor sectors one data sector per "desc":
//! "data" 0, sequence high 4, bytes 8..4092 of the update, sequence low
//! 4092 (§2.3.1.4).

use std::ops::Range;
use std::sync::Arc;

use super::header::{crc_without, Header};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{bytes_at, check_range, Origins, Volume, VolumeRef};

const SECTOR: u64 = 4096;
/// The largest log replayed: a scan of the circular log reads each sector
/// as a possible entry start, and Hyper-V makes 1 MiB logs.
const MAX_LOG: u64 = 64 << 20;

/// One update the log makes to the file.
#[derive(Debug, Clone)]
enum Update {
    /// 4 KiB of data.
    Data(Arc<[u8]>),
    /// Zeros.
    Zero,
}

/// A valid log entry.
#[derive(Debug, Clone)]
struct Entry {
    start: u64,
    sectors: u64,
    tail: u64,
    sequence: u64,
    flushed: u64,
    last: u64,
    updates: Vec<(Range<u64>, Update)>,
}

/// The file with the log's active sequence applied (§2.3.3).
#[derive(Debug)]
pub struct Replayed {
    file: VolumeRef,
    len: u64,
    updates: Vec<(Range<u64>, Update)>,
    name: String,
}

/// Replays the log `hdr` names over `file`: the file as it reads once the
/// log's active sequence is written in place.
pub fn replay(file: &VolumeRef, hdr: &Header) -> Result<VolumeRef> {
    let name = file.describe();
    let bad = |at: u64, why: String| Error::corrupt("VHDX log", at, why).within(&name, 0);
    let (off, len) = (hdr.log_offset, u64::from(hdr.log_length));
    if hdr.log_version != 0 {
        return Err(bad(
            hdr.log_offset,
            format!("log version {} (0 is read)", hdr.log_version),
        ));
    }
    if len == 0 || len % SECTOR != 0 || len > MAX_LOG || off < 1 << 20 || off % SECTOR != 0 {
        return Err(bad(
            off,
            format!("a {len}-byte log at {off:#x} (1 MiB on, 4 KiB multiples, at most {MAX_LOG})"),
        ));
    }
    if off.checked_add(len).is_none_or(|end| end > file.len()) {
        return Err(bad(
            off,
            format!("the {len}-byte log lies past the end of the file"),
        ));
    }
    // ok: len <= 64 MiB, checked to lie in the file.
    let log = bytes_at(file.as_ref(), off, len as usize)?;
    let n = len / SECTOR;
    let mut best: Option<Vec<Entry>> = None;
    // Each sector is parsed once: a log of invalid sequences would
    // otherwise have its entries checked again from every tail.
    let mut parsed: Vec<Option<Option<Entry>>> = vec![None; n as usize]; // ok: n <= 16384
    let mut entry_at = |pos: u64| -> Option<Entry> {
        let slot = parsed.get_mut(pos as usize)?;
        slot.get_or_insert_with(|| parse_entry(&log, pos, hdr))
            .clone()
    };
    let (mut tail, mut old_tail) = (0u64, 0u64);
    loop {
        // The longest run of valid entries with consecutive sequence
        // numbers from `tail`.
        let mut seq: Vec<Entry> = Vec::new();
        let mut pos = tail;
        while let Some(e) = entry_at(pos) {
            if seq
                .last()
                .is_some_and(|l| e.sequence != l.sequence.wrapping_add(1))
                || seq.len() as u64 >= n
            {
                break;
            }
            pos = (pos + e.sectors) % n;
            seq.push(e);
        }
        // Valid when the head's tail is one of the entries: replay from there.
        let from = seq
            .last()
            .and_then(|h| seq.iter().position(|e| e.start * SECTOR == h.tail));
        let valid = from.is_some();
        if let Some(from) = from {
            let newer = best
                .as_ref()
                .and_then(|b| b.last())
                .is_none_or(|b| seq.last().is_some_and(|h| h.sequence > b.sequence));
            if newer {
                best = Some(seq.split_off(from));
            }
        }
        tail = if valid { pos } else { (tail + 1) % n };
        if tail <= old_tail {
            break;
        }
        old_tail = tail;
    }
    let Some(active) = best else {
        return Err(bad(
            off,
            "the header names a log, but it holds no valid sequence".into(),
        ));
    };
    let head = active.last().map_or((0, 0), |h| (h.flushed, h.last));
    if file.len() < head.0 {
        return Err(bad(
            off,
            format!(
                "the log's flushed file offset {:#x} lies past the end of the {}-byte file (truncated)",
                head.0,
                file.len()
            ),
        ));
    }
    let updates: Vec<_> = active.into_iter().flat_map(|e| e.updates).collect();
    let end = updates
        .iter()
        .map(|(r, _)| r.end)
        .chain([file.len(), head.1])
        .max()
        .unwrap_or(0);
    Ok(Arc::new(Replayed {
        file: file.clone(),
        len: end,
        updates,
        name: format!("{name}+log"),
    }))
}

/// The 4 KiB sectors of the circular log from sector `start`, `count` of them.
fn sectors(log: &[u8], start: u64, count: u64) -> Vec<u8> {
    let n = log.len() as u64 / SECTOR;
    let mut out = Vec::with_capacity((count.min(n) * SECTOR) as usize); // ok: <= the log
    for k in 0..count.min(n) {
        let s = ((start + k) % n * SECTOR) as usize;
        out.extend_from_slice(log.get(s..s + SECTOR as usize).unwrap_or(&[]));
    }
    out
}

/// The entry at log sector `start`, when it is valid (§2.3.1).
fn parse_entry(log: &[u8], start: u64, hdr: &Header) -> Option<Entry> {
    let n = log.len() as u64 / SECTOR;
    let first = Bytes(log.get((start * SECTOR) as usize..)?);
    if !first.has(0, b"loge") {
        return None;
    }
    let length = u64::from(first.le_u32(8)?);
    let tail = u64::from(first.le_u32(12)?);
    let sequence = first.le_u64(16)?;
    let count = u64::from(first.le_u32(24)?);
    if length == 0
        || length % SECTOR != 0
        || length > n * SECTOR
        || tail % SECTOR != 0
        || tail >= n * SECTOR
        || sequence == 0
        || first.array::<16>(32)? != hdr.log_guid
    {
        return None;
    }
    let sectors_n = length / SECTOR;
    let entry = sectors(log, start, sectors_n);
    let e = Bytes(&entry);
    if e.le_u32(4)? != crc_without(&entry, 4) {
        return None;
    }
    let desc_sectors = (64 + 32 * count).div_ceil(SECTOR);
    let mut data_k = desc_sectors;
    let mut updates = Vec::new();
    for d in 0..count {
        let at = (64 + 32 * d) as usize;
        let dsc = Bytes(e.get(at, 32)?);
        let file_off = dsc.le_u64(16)?;
        if dsc.le_u64(24)? != sequence || file_off % SECTOR != 0 {
            return None;
        }
        if dsc.has(0, b"zero") {
            let zlen = dsc.le_u64(8)?;
            if zlen % SECTOR != 0 {
                return None;
            }
            updates.push((file_off..file_off.checked_add(zlen)?, Update::Zero));
        } else if dsc.has(0, b"desc") {
            let ds = Bytes(e.get((data_k * SECTOR) as usize, SECTOR as usize)?);
            let high = u64::from(ds.le_u32(4)?);
            let low = u64::from(ds.le_u32(4092)?);
            if !ds.has(0, b"data") || (high << 32 | low) != sequence {
                return None;
            }
            let mut s = Vec::with_capacity(SECTOR as usize);
            s.extend_from_slice(dsc.get(8, 8)?);
            s.extend_from_slice(ds.get(8, 4084)?);
            s.extend_from_slice(dsc.get(4, 4)?);
            updates.push((
                file_off..file_off.checked_add(SECTOR)?,
                Update::Data(s.into()),
            ));
            data_k += 1;
        } else {
            return None;
        }
    }
    if data_k > sectors_n {
        return None;
    }
    Some(Entry {
        start,
        sectors: sectors_n,
        tail,
        sequence,
        flushed: first.le_u64(48)?,
        last: first.le_u64(56)?,
        updates,
    })
}

impl Volume for Replayed {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let end = offset + buf.len() as u64;
        // The file as it is (zeros where the log extends it), then each
        // update in log order.
        read_padded(Some(self.file.as_ref()), offset, buf)?;
        for (r, u) in &self.updates {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s >= e {
                continue;
            }
            // offset <= s < e <= end: inside `buf`.
            let out = buf
                .get_mut((s - offset) as usize..(e - offset) as usize)
                .ok_or_else(|| Error::corrupt("VHDX log update", s, "outside the read"))?;
            match u {
                Update::Zero => out.fill(0),
                Update::Data(d) => {
                    let from = (s - r.start) as usize;
                    let src = d.get(from..from + out.len()).ok_or_else(|| {
                        Error::corrupt(
                            "VHDX log update",
                            r.start,
                            format!("{} bytes of data for {} bytes", d.len(), r.end - r.start),
                        )
                    })?;
                    out.copy_from_slice(src);
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// The file's origins where no update lands: an update's bytes were
    /// read with the log at open, and an entry with a byte lost fails its
    /// checksum and is not replayed.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len);
        let mut covered: Vec<(u64, u64)> = self
            .updates
            .iter()
            .map(|(r, _)| (r.start.max(offset), r.end.min(end)))
            .filter(|(s, e)| s < e)
            .collect();
        covered.sort_unstable();
        let mut o = Origins::new();
        let mut pos = offset;
        for (s, e) in covered.into_iter().chain([(end, end)]) {
            if pos < s {
                // The file's own bytes; past its end the log extends it with zeros.
                let n = (s - pos).min(self.file.len().saturating_sub(pos));
                o.add_shifted(self.file.origins(pos, n), 0, 0);
            }
            pos = pos.max(e);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Concat, MemVolume, Origin, Zeros};

    #[test]
    fn logged_sectors_hide_the_files_origins() {
        // A file whose second half is missing, with a logged sector and a
        // logged zero run over it, and the log extending it by a sector.
        let file: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("f", vec![1u8; 4 * 4096])),
                Arc::new(Zeros::missing(4 * 4096, "gone".into())),
            ],
            "f".into(),
        ));
        let r = Replayed {
            file,
            len: 9 * 4096,
            updates: vec![
                (5 * 4096..6 * 4096, Update::Data(vec![2u8; 4096].into())),
                (7 * 4096..9 * 4096, Update::Zero),
            ],
            name: "f+log".into(),
        };
        let o = r.origins(0, r.len());
        assert_eq!(
            o.of(Origin::Missing),
            vec![4 * 4096..5 * 4096, 6 * 4096..7 * 4096]
        );
        assert_eq!(
            r.origins(5 * 4096 + 1, 4096).of(Origin::Missing),
            vec![6 * 4096..6 * 4096 + 1]
        );
        assert!(r.origins(0, 4 * 4096).is_empty());
    }
}
