//! Panic-free field readers for untrusted bytes.
//!
//! Every accessor returns `None` instead of indexing out of bounds, so a
//! parser that forgets a length check yields a clean error, never a panic.

#![deny(clippy::indexing_slicing)]

/// A borrowed run of untrusted bytes.
#[derive(Clone, Copy, Debug)]
pub struct Bytes<'a>(pub &'a [u8]);

macro_rules! int_reader {
    ($name:ident, $ty:ty, $conv:ident) => {
        #[doc = concat!("The `", stringify!($ty), "` at `off` (", stringify!($conv), "), if it is in bounds.")]
        pub fn $name(&self, off: usize) -> Option<$ty> {
            self.array(off).map(<$ty>::$conv)
        }
    };
}

impl<'a> Bytes<'a> {
    /// The underlying slice.
    pub fn as_slice(&self) -> &'a [u8] {
        self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `len` bytes at `off`, if they are all in bounds.
    pub fn get(&self, off: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(off..off.checked_add(len)?)
    }

    /// A fixed-size copy of the bytes at `off`.
    pub fn array<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        self.get(off, N)?.try_into().ok()
    }

    /// The byte at `off`.
    pub fn u8(&self, off: usize) -> Option<u8> {
        self.0.get(off).copied()
    }

    int_reader!(le_u16, u16, from_le_bytes);
    int_reader!(le_u32, u32, from_le_bytes);
    int_reader!(le_u64, u64, from_le_bytes);
    int_reader!(be_u16, u16, from_be_bytes);
    int_reader!(be_u32, u32, from_be_bytes);
    int_reader!(be_u64, u64, from_be_bytes);

    /// True when `magic` sits at `off`.
    pub fn has(&self, off: usize, magic: &[u8]) -> bool {
        self.get(off, magic.len()) == Some(magic)
    }
}

/// Text from a fixed-size, NUL- or space-padded byte field: trailing NULs
/// and spaces dropped, invalid UTF-8 replaced. `None` when nothing is left.
pub fn padded_str(field: &[u8]) -> Option<String> {
    // `split` yields at least one (possibly empty) piece: the text before
    // the first NUL, or the whole field.
    let text = field.split(|&b| b == 0).next().unwrap_or_default();
    let s = String::from_utf8_lossy(text);
    let s = s.trim_end_matches([' ', '\0']);
    (!s.is_empty()).then(|| s.to_string())
}

/// The bytes of `b` as consecutive `N`-byte arrays (`N` > 0), for tables
/// of fixed-size fields; a shorter tail is dropped.
pub fn arrays<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N).flat_map(<[u8; N]>::try_from) // every chunk is N bytes
}

/// The UTF-16LE code units of `field`; an odd last byte is dropped.
pub fn utf16le_units(field: &[u8]) -> impl Iterator<Item = u16> + '_ {
    arrays(field).map(u16::from_le_bytes)
}

/// Text from a UTF-16LE field, up to the first NUL; unpaired surrogates replaced.
pub fn utf16le_str(field: &[u8]) -> String {
    let units = utf16le_units(field).take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Zeroes the `len` bytes at `at` in `buf` (a checksum field, before the
/// checksum is computed over the structure holding it); `None`, and
/// nothing changed, when the field is not all inside `buf`.
pub fn zero_field(buf: &mut [u8], at: usize, len: usize) -> Option<()> {
    buf.get_mut(at..at.checked_add(len)?)?.fill(0);
    Some(())
}

/// A copy of `bytes` with the `len` bytes at `at` zeroed, as
/// [`zero_field`]; `None` when the field is not all inside `bytes`.
pub fn zeroed(bytes: &[u8], at: usize, len: usize) -> Option<Vec<u8>> {
    let mut copy = bytes.to_vec();
    zero_field(&mut copy, at, len)?;
    Some(copy)
}

/// Splits the first `n` bytes (all of them when there are fewer) off the
/// front of `out`, leaving the rest there: for filling a read buffer piece
/// by piece.
pub fn take_front<'b>(out: &mut &'b mut [u8], n: u64) -> &'b mut [u8] {
    let at = usize::try_from(n).map_or(out.len(), |n| n.min(out.len()));
    let (front, rest) = std::mem::take(out).split_at_mut(at); // at <= len: cannot panic
    *out = rest;
    front
}

/// Lower-case hex of `bytes` with no separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A 16-byte UUID in the usual 8-4-4-4-12 lower-case form, bytes in order
/// (big-endian, as Linux filesystems store them).
pub fn uuid_str(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_stop_at_the_end() {
        let b = Bytes(&[1, 2, 3, 4, 5]);
        assert_eq!(b.le_u32(0), Some(0x0403_0201));
        assert_eq!(b.be_u16(3), Some(0x0405));
        assert_eq!(b.le_u32(2), None);
        assert_eq!(b.get(usize::MAX, 2), None);
        assert_eq!(b.u8(5), None);
    }

    #[test]
    fn fixed_size_tables() {
        let words: Vec<u32> = arrays(&[1, 0, 0, 0, 2, 0, 0, 0, 3])
            .map(u32::from_le_bytes)
            .collect();
        assert_eq!(words, [1, 2]);
        assert_eq!(utf16le_units(b"a\0b").collect::<Vec<_>>(), [0x61]);
    }

    #[test]
    fn zeroed_fields() {
        assert_eq!(zeroed(&[1, 2, 3, 4], 1, 2), Some(vec![1, 0, 0, 4]));
        assert_eq!(zeroed(&[1, 2, 3, 4], 3, 2), None);
        assert_eq!(zeroed(&[1, 2, 3, 4], usize::MAX, 2), None);
    }

    #[test]
    fn strings() {
        assert_eq!(padded_str(b"NO NAME    "), Some("NO NAME".into()));
        assert_eq!(padded_str(b"\0\0\0"), None);
        assert_eq!(utf16le_str(&[b'h', 0, b'i', 0, 0, 0, b'x', 0]), "hi");
        assert_eq!(
            uuid_str(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7]),
            "12345678-9abc-def0-0001-020304050607"
        );
    }
}
