//! LZNT1, the compression of NTFS compressed files ([MS-XCA] section 2.5).
//!
//! A compression unit holds chunks, each standing for 4096 bytes of
//! output: a 2-byte header (bits 0-11: chunk size minus 3, bit 15:
//! compressed, 0 ends the unit), then either 4096 raw bytes or groups of
//! a flag byte and eight items, a literal byte (flag bit 0) or a 2-byte
//! back-reference (flag bit 1) whose split between offset and length
//! bits depends on how far into the chunk the output is.

use crate::bytes::Bytes;

/// Bytes of output per chunk.
pub const CHUNK: usize = 4096;

/// Decompresses `input` into `out` (the unit's uncompressed size; what the
/// chunks do not fill is zeros). Errors give the input offset and why.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<(), (usize, String)> {
    out.fill(0);
    let mut ip = 0usize;
    for dst in out.chunks_mut(CHUNK) {
        let Some(h) = Bytes(input).le_u16(ip) else {
            break;
        };
        if h == 0 {
            break;
        }
        let size = usize::from(h & 0x0FFF) + 1; // data bytes after the header
        let data = input
            .get(ip + 2..ip + 2 + size)
            .ok_or((ip, format!("chunk of {size} bytes runs past the unit")))?;
        if h & 0x8000 == 0 {
            // Stored: as many bytes as both hold.
            for (d, s) in dst.iter_mut().zip(data) {
                *d = *s;
            }
        } else {
            chunk(data, dst).map_err(|(p, why)| (ip + 2 + p, why))?;
        }
        ip += 2 + size;
    }
    Ok(())
}

/// One compressed chunk into `dst` (at most 4096 bytes).
fn chunk(data: &[u8], dst: &mut [u8]) -> Result<(), (usize, String)> {
    let (mut ip, mut op) = (0usize, 0usize);
    while op < dst.len() {
        let Some(&flags) = data.get(ip) else {
            break;
        };
        ip += 1;
        for bit in 0..8 {
            let (Some(&literal), true) = (data.get(ip), op < dst.len()) else {
                break;
            };
            if flags >> bit & 1 == 0 {
                let Some(d) = dst.get_mut(op) else {
                    break; // op < dst.len() just above
                };
                *d = literal;
                op += 1;
                ip += 1;
                continue;
            }
            let t = Bytes(data)
                .le_u16(ip)
                .ok_or((ip, "back-reference cut short".to_string()))?;
            ip += 2;
            // Offset bits grow with the position: 4 bits up to 16 bytes in,
            // one more each time the position doubles.
            let mut len_bits = 12u32;
            let mut p = op.saturating_sub(1);
            while p >= 0x10 {
                p >>= 1;
                len_bits -= 1;
            }
            let back = usize::from(t >> len_bits) + 1;
            let len = usize::from(t & ((1u16 << len_bits) - 1)) + 3;
            if back > op {
                return Err((
                    ip - 2,
                    format!("back-reference {back} bytes before the chunk start"),
                ));
            }
            for _ in 0..len {
                // back <= op: the source is always written output.
                let Some(&byte) = dst.get(op - back) else {
                    break;
                };
                let Some(d) = dst.get_mut(op) else {
                    break;
                };
                *d = byte;
                op += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn literals_references_raw_chunks() {
        // "abc" then a reference 3 back, 6 long: "abcabcabc".
        // Flags 0b1000 (items 0-2 literals, item 3 a reference); at op 3,
        // len_bits is 12: offset 3 -> 2 << 12, length 6 -> 3.
        let t: u16 = (2 << 12) | 3;
        let mut unit = vec![0u8; 2];
        let body = [0b1000, b'a', b'b', b'c', t as u8, (t >> 8) as u8];
        unit[..2].copy_from_slice(&(0xB000u16 | (body.len() as u16 - 1)).to_le_bytes());
        unit.extend_from_slice(&body);
        // A raw chunk of 4096 'z'.
        unit.extend_from_slice(&(0x3000u16 | 0x0FFF).to_le_bytes());
        unit.extend(std::iter::repeat_n(b'z', 4096));
        let mut out = vec![0xEEu8; 3 * 4096];
        decompress(&unit, &mut out).unwrap();
        assert_eq!(&out[..9], b"abcabcabc");
        assert!(out[9..4096].iter().all(|&b| b == 0));
        assert!(out[4096..8192].iter().all(|&b| b == b'z'));
        assert!(out[8192..].iter().all(|&b| b == 0));
        // A reference before the start is an error, not a panic.
        let bad = [0x03, 0xB0, 0x01, 0x00, 0x10];
        assert!(decompress(&bad, &mut out).is_err());
    }
}
