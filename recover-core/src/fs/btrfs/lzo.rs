//! LZO1X decompression, written for untrusted input (every read and copy
//! bounds-checked; the output never grows past the caller's limit), and
//! Btrfs's framing of it.
//!
//! The instruction set follows the kernel's description of the LZO1X
//! stream (Documentation/staging/lzo.rst): a state (the count of literals
//! the last instruction copied, 0..=4) decides what an opcode below 16
//! means; matches copy from already written output, possibly overlapping;
//! the stream ends with the match instruction of distance 16384.
//!
//! Btrfs framing (fs/btrfs/lzo.c): a 4-byte little-endian total length
//! (itself included), then segments, each a 4-byte length and that many
//! bytes of LZO1X that decompress to at most one sector. A segment's
//! length field never straddles a sector: when fewer than 4 bytes of the
//! sector are left after a segment, the rest is padding.

/// Why a stream could not be decoded.
pub type LzoError = &'static str;

struct In<'a> {
    b: &'a [u8],
    at: usize,
}

impl In<'_> {
    fn byte(&mut self) -> Result<usize, LzoError> {
        let v = self
            .b
            .get(self.at)
            .copied()
            .ok_or("input ends inside an instruction")?;
        self.at += 1;
        Ok(usize::from(v))
    }

    fn le16(&mut self) -> Result<usize, LzoError> {
        Ok(self.byte()? | self.byte()? << 8)
    }

    /// A length extension: zero bytes each add 255, then a non-zero byte.
    fn extend(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut n = base;
        loop {
            match self.byte()? {
                0 => {
                    n = n.checked_add(255).ok_or("length overflows")?;
                    if n > 1 << 28 {
                        return Err("length too long");
                    }
                }
                v => return n.checked_add(v).ok_or("length overflows"),
            }
        }
    }

    fn literals(&mut self, out: &mut Vec<u8>, n: usize, max: usize) -> Result<(), LzoError> {
        let end = self.at.checked_add(n).ok_or("length overflows")?;
        let src = self
            .b
            .get(self.at..end)
            .ok_or("literals run past the input")?;
        if out.len().saturating_add(n) > max {
            return Err("output longer than allowed");
        }
        out.extend_from_slice(src);
        self.at = end;
        Ok(())
    }
}

fn copy_match(out: &mut Vec<u8>, dist: usize, len: usize, max: usize) -> Result<(), LzoError> {
    if dist == 0 || dist > out.len() {
        return Err("match reaches before the start of the output");
    }
    if out.len().saturating_add(len) > max {
        return Err("output longer than allowed");
    }
    let start = out.len() - dist;
    for k in 0..len {
        let b = out.get(start + k).copied().ok_or("match out of range")?; // ok: start + k < len
        out.push(b);
    }
    Ok(())
}

/// Decompresses one LZO1X stream from `input`, appending to `out`, which
/// may grow by at most `max` bytes. Returns the input bytes used.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<usize, LzoError> {
    let base = out.len();
    let limit = base.saturating_add(max);
    // Matches reach only into this stream's own output.
    let mut seg: Vec<u8> = Vec::new();
    let mut i = In { b: input, at: 0 };
    let mut state: usize;
    let first = *input.first().ok_or("empty input")?;
    if first > 17 {
        i.at = 1;
        let t = usize::from(first) - 17;
        i.literals(&mut seg, t, max)?;
        state = if t < 4 { t } else { 4 };
    } else {
        state = 0;
    }
    loop {
        let t = i.byte()?;
        let (dist, len, next);
        if t < 16 {
            if state == 0 {
                let n = if t == 0 { i.extend(15)? } else { t };
                i.literals(&mut seg, n + 3, max)?;
                state = 4;
                continue;
            }
            let h = i.byte()?;
            next = t & 3;
            if state < 4 {
                dist = 1 + (t >> 2) + (h << 2);
                len = 2;
            } else {
                dist = 1 + 0x800 + (t >> 2) + (h << 2);
                len = 3;
            }
        } else if t >= 64 {
            let h = i.byte()?;
            next = t & 3;
            dist = 1 + ((t >> 2) & 7) + (h << 3);
            len = (t >> 5) + 1;
        } else if t >= 32 {
            let l = t & 31;
            len = 2 + if l == 0 { i.extend(31)? } else { l };
            let v = i.le16()?;
            dist = 1 + (v >> 2);
            next = v & 3;
        } else {
            let l = t & 7;
            len = 2 + if l == 0 { i.extend(7)? } else { l };
            let v = i.le16()?;
            let d = ((t & 8) << 11) + (v >> 2);
            if d == 0 {
                // End of stream.
                if out.len().saturating_add(seg.len()) > limit {
                    return Err("output longer than allowed");
                }
                out.extend_from_slice(&seg);
                return Ok(i.at);
            }
            dist = 0x4000 + d;
            next = v & 3;
        }
        copy_match(&mut seg, dist, len, max)?;
        i.literals(&mut seg, next, max)?;
        state = next;
    }
}

/// Bytes of a length field.
const LEN: usize = 4;

/// Decompresses a Btrfs LZO extent (or inline extent) `input` into at most
/// `max` bytes; sectors of `sectorsize` bytes frame its segments.
pub fn decompress_btrfs(input: &[u8], max: usize, sectorsize: usize) -> Result<Vec<u8>, String> {
    let le32 = |at: usize| -> Option<usize> {
        let b: [u8; 4] = input.get(at..at.checked_add(LEN)?)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    };
    let total = le32(0).ok_or("shorter than its length field")?;
    if total > input.len() || total < LEN {
        return Err(format!(
            "says it holds {total} bytes, {} are there",
            input.len()
        ));
    }
    let sector = sectorsize.max(4096);
    let mut out = Vec::with_capacity(max.min(1 << 17));
    let mut at = LEN;
    while at < total && out.len() < max {
        let seg_len = le32(at).ok_or("segment length cut short")?;
        at += LEN;
        // lzo1x_worst_compress(sector): sector + sector/16 + 64 + 3.
        if seg_len == 0 || seg_len > sector + sector / 16 + 67 {
            return Err(format!("segment at {:#x} of {seg_len} bytes", at - LEN));
        }
        let end = at
            .checked_add(seg_len)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                format!(
                    "segment at {:#x} of {seg_len} bytes runs past the end",
                    at - LEN
                )
            })?;
        let seg = input.get(at..end).ok_or("segment out of range")?;
        let room = (max - out.len()).min(sector);
        decompress(seg, &mut out, room).map_err(|e| format!("segment at {:#x}: {e}", at - LEN))?;
        at = end;
        let left = sector - at % sector;
        if left < LEN {
            at += left;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Literals "abcd" then a match of 8 at distance 4 ("abcdabcd"), then
    /// the end marker.
    const STREAM: &[u8] = &[
        17 + 4,
        b'a',
        b'b',
        b'c',
        b'd',
        // 001LLLLL: len 2 + 6 = 8, LE16 distance-1 = 3 << 2.
        32 | 6,
        3 << 2,
        0,
        // end: 0001 0 001, LE16 0.
        0x11,
        0,
        0,
    ];

    #[test]
    fn decodes_a_small_stream() {
        let mut out = Vec::new();
        assert_eq!(decompress(STREAM, &mut out, 100), Ok(STREAM.len()));
        assert_eq!(out, b"abcdabcdabcd");
        let mut out = Vec::new();
        assert!(decompress(STREAM, &mut out, 11).is_err(), "limit kept");
        for n in 0..STREAM.len() {
            let mut out = Vec::new();
            assert!(decompress(&STREAM[..n], &mut out, 100).is_err());
        }
    }

    #[test]
    fn btrfs_framing() {
        let mut framed = Vec::new();
        framed.extend_from_slice(&((STREAM.len() + 8) as u32).to_le_bytes());
        framed.extend_from_slice(&(STREAM.len() as u32).to_le_bytes());
        framed.extend_from_slice(STREAM);
        assert_eq!(
            decompress_btrfs(&framed, 4096, 4096).unwrap(),
            b"abcdabcdabcd"
        );
        assert!(decompress_btrfs(&framed[..10], 4096, 4096).is_err());
        // Two segments: the first leaves 2 bytes of its sector, which are
        // padding; the second starts at the next sector.
        // A long literal run: opcode 0, 15 zero bytes, 223: 15 + 15 * 255 +
        // 223 + 3 = 4066 literals; 4086 bytes with the end marker.
        let mut seg = vec![0u8; 16];
        seg.push(223);
        seg.extend(std::iter::repeat_n(b'x', 4066));
        seg.extend_from_slice(&[0x11, 0, 0]);
        assert_eq!(seg.len(), 4086);
        let mut two = vec![0u8; 4];
        two.extend_from_slice(&(seg.len() as u32).to_le_bytes());
        two.extend_from_slice(&seg);
        two.extend_from_slice(&[0, 0]);
        assert_eq!(two.len(), 4096);
        two.extend_from_slice(&(STREAM.len() as u32).to_le_bytes());
        two.extend_from_slice(STREAM);
        let total = two.len() as u32;
        two[..4].copy_from_slice(&total.to_le_bytes());
        let got = decompress_btrfs(&two, 1 << 17, 4096).unwrap();
        assert_eq!(got.len(), 4066 + 12);
        assert_eq!(&got[4066..], b"abcdabcdabcd");
        // The limit holds.
        assert_eq!(
            decompress_btrfs(&two, 100, 4096).map(|v| v.len()).ok(),
            None
        );
    }
}
