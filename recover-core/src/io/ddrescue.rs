//! GNU ddrescue mapfiles: which ranges of an image were never read from
//! the failing drive. Every range not marked finished reads as zeros here,
//! whatever the image holds there (zeros ddrescue left, or stale bytes of
//! an earlier image), and is a bad range like a sector that failed to read.
//!
//! The format (ddrescue's manual, "Mapfile structure"): `#` starts a
//! comment; the first other line is the status line `current_pos
//! current_status [current_pass]`; every other line is a block `pos size
//! status`, numbers in C notation (decimal, `0x` hex, `0` octal), status one
//! of `?` non-tried, `*` non-trimmed, `/` non-scraped, `-` bad sector(s),
//! `+` finished.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::io::{check_range, Origin, Origins, Volume, VolumeRef};

/// Blocks a mapfile may list before it is taken as damaged (a drive with a
/// bad sector every few MiB over 20 TB has a few million).
const MAX_BLOCKS: usize = 1 << 24;

/// The ranges a mapfile says were not read, in order, merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapfile {
    /// Byte ranges not finished.
    pub unread: Vec<Range<u64>>,
    /// Where the finished and unfinished blocks end: the image's size as
    /// the rescue knew it.
    pub end: u64,
}

fn number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(s.get(1..)?, 8).ok()
    } else {
        s.parse().ok()
    }
}

/// Parses a mapfile's text; `what` names it in errors (with the line).
pub fn parse(text: &str, what: &str) -> Result<Mapfile> {
    let bad = |line: usize, why: String| Error::BadPath {
        path: what.to_string(),
        why: format!("line {line}: {why}"),
    };
    let mut map = Mapfile::default();
    let mut status_seen = false;
    let mut blocks = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if !status_seen {
            // current_pos current_status [current_pass]
            if f.len() < 2 || number(f.first().copied().unwrap_or("")).is_none() {
                return Err(bad(
                    i + 1,
                    format!("{line:?} is not a ddrescue status line"),
                ));
            }
            status_seen = true;
            continue;
        }
        let (Some(pos), Some(size), Some(st)) = (
            f.first().and_then(|s| number(s)),
            f.get(1).and_then(|s| number(s)),
            f.get(2),
        ) else {
            return Err(bad(i + 1, format!("{line:?} is not `pos size status`")));
        };
        let end = pos
            .checked_add(size)
            .ok_or_else(|| bad(i + 1, "the block's end overflows".into()))?;
        if pos < map.end {
            return Err(bad(
                i + 1,
                format!(
                    "block at {pos:#x} starts before the one above ends ({:#x})",
                    map.end
                ),
            ));
        }
        blocks += 1;
        if blocks > MAX_BLOCKS {
            return Err(bad(i + 1, format!("more than {MAX_BLOCKS} blocks")));
        }
        match *st {
            "+" => {}
            "?" | "*" | "/" | "-" => {
                if let Some(last) = map.unread.last_mut().filter(|r| r.end == pos) {
                    last.end = end;
                } else if size > 0 {
                    map.unread.push(pos..end);
                }
            }
            other => return Err(bad(i + 1, format!("status {other:?} is none of ?*/-+"))),
        }
        map.end = end;
    }
    if !status_seen {
        return Err(bad(0, "no status line: not a ddrescue mapfile".into()));
    }
    Ok(map)
}

/// An image read through its mapfile: the unread ranges read as zeros and
/// are bad ranges; reads that touch them are recorded, so each file copied
/// can be told whether it touched one.
#[derive(Debug)]
pub struct Rescued {
    inner: VolumeRef,
    unread: Vec<Range<u64>>,
    touched: Mutex<Vec<Range<u64>>>,
}

impl Rescued {
    /// `inner` with `map`'s unread ranges (those past the image's end too:
    /// the image is as long as it is).
    pub fn new(inner: VolumeRef, map: &Mapfile) -> Self {
        let len = inner.len();
        let unread = map
            .unread
            .iter()
            .filter(|r| r.start < len)
            .map(|r| r.start..r.end.min(len))
            .collect();
        Rescued {
            inner,
            unread,
            touched: Mutex::new(Vec::new()),
        }
    }

    /// The ranges reads have met so far that gave no data: the mapfile's
    /// unread ranges, and sectors of the image itself that failed to read.
    pub fn touched(&self) -> Vec<Range<u64>> {
        let mut all = self
            .touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        all.extend(self.inner.bad_ranges());
        all
    }
}

impl Volume for Rescued {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let end = offset + buf.len() as u64;
        let first = self.unread.partition_point(|r| r.end <= offset);
        let hits: Vec<&Range<u64>> = self
            .unread
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(|r| r.start < end)
            .collect();
        if hits.is_empty() {
            return self.inner.read_at(offset, buf);
        }
        // Around the unread ranges, what the image holds; in them, zeros.
        let mut pos = offset;
        for r in &hits {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if pos < s {
                let part = buf
                    .get_mut((pos - offset) as usize..(s - offset) as usize) // ok: within buf
                    .unwrap_or(&mut []);
                self.inner.read_at(pos, part)?;
            }
            if let Some(z) = buf.get_mut((s - offset) as usize..(e - offset) as usize) {
                z.fill(0);
            }
            pos = e;
        }
        if pos < end {
            let part = buf.get_mut((pos - offset) as usize..).unwrap_or(&mut []);
            self.inner.read_at(pos, part)?;
        }
        let mut t = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        for r in hits {
            if !t.contains(r) {
                t.push(r.clone());
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn device_sector_size(&self) -> Option<u32> {
        self.inner.device_sector_size()
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        let mut all = self.unread.clone();
        all.extend(self.inner.bad_ranges());
        all.sort_by_key(|r| r.start);
        all
    }

    /// The unread ranges are unreadable; around them, the image's own.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.len());
        let mut o = Origins::new();
        let mut pos = offset;
        let first = self.unread.partition_point(|r| r.end <= offset);
        for r in self.unread.get(first..).unwrap_or(&[]) {
            if r.start >= end {
                break;
            }
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if pos < s {
                o.add_shifted(self.inner.origins(pos, s - pos), 0, 0);
            }
            o.add(s..e, Origin::Unreadable);
            pos = pos.max(e);
        }
        if pos < end {
            o.add_shifted(self.inner.origins(pos, end - pos), 0, 0);
        }
        o
    }
}

/// Wraps `inner` in its mapfile's unread ranges.
pub fn rescued(inner: VolumeRef, map: &Mapfile) -> Arc<Rescued> {
    Arc::new(Rescued::new(inner, map))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const MAP: &str = "# Mapfile. Created by GNU ddrescue version 1.27\n\
        # Command line: ddrescue -d /dev/sdb disk.img disk.map\n\
        # current_pos  current_status  current_pass\n\
        0x00120000     +               1\n\
        #      pos        size  status\n\
        0x00000000  0x00100000  +\n\
        0x00100000  0x00000200  -\n\
        0x00100200  0x00000E00  /\n\
        0x00101000  0x00100000  +\n\
        0x00201000  0x00001000  ?\n";

    #[test]
    fn parses_ddrescue_mapfiles() {
        let m = parse(MAP, "disk.map").unwrap();
        assert_eq!(m.unread, vec![0x100000..0x101000, 0x201000..0x202000]);
        assert_eq!(m.end, 0x202000);
        assert!(parse("garbage\n", "m").is_err());
        assert!(parse("0 +\n0x10 0x10 +\n0x0 0x10 -\n", "m").is_err());
        assert!(parse("0 +\n0 10 x\n", "m").is_err());
        assert!(parse("", "m").is_err());
        assert_eq!(parse("0 + 1\n010 8 -\n", "m").unwrap().unread, vec![8..16]);
    }

    #[test]
    fn unread_ranges_read_as_zeros_and_are_recorded() {
        let m = parse(MAP, "disk.map").unwrap();
        let v = Rescued::new(Arc::new(MemVolume::new("img", vec![7u8; 0x200000])), &m);
        let mut b = vec![1u8; 0x2000];
        v.read_at(0xFF000, &mut b).unwrap();
        assert!(b[..0x1000].iter().all(|&x| x == 7));
        assert!(b[0x1000..0x2000].iter().all(|&x| x == 0));
        assert_eq!(v.touched(), vec![0x100000..0x101000]);
        let mut c = vec![0u8; 16];
        v.read_at(0, &mut c).unwrap();
        assert!(c.iter().all(|&x| x == 7));
        // The range past the image's end is cut at it.
        assert_eq!(v.bad_ranges(), vec![0x100000..0x101000]);
    }

    #[test]
    fn origins_are_the_unread_ranges_and_the_images_own() {
        use crate::io::{Concat, Origin, Zeros};
        let m = parse(MAP, "disk.map").unwrap();
        // The image's last 4 KiB are missing below it.
        let img: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("img", vec![7u8; 0x1FF000])),
                Arc::new(Zeros::missing(0x1000, "gone".into())),
            ],
            "img".into(),
        ));
        let v = Rescued::new(img, &m);
        let o = v.origins(0, v.len());
        assert_eq!(o.of(Origin::Unreadable), vec![0x100000..0x101000]);
        assert_eq!(o.of(Origin::Missing), vec![0x1FF000..0x200000]);
        assert_eq!(
            v.origins(0x100800, 0x1000).of(Origin::Unreadable),
            vec![0x100800..0x101000]
        );
    }
}
