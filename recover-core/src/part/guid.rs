//! GUIDs as GPT stores them (UEFI 2.10, appendix A): the first three fields
//! little-endian, the last two as bytes.

use std::fmt;

/// A GUID in its on-disk byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID, which marks an unused GPT entry.
    pub const ZERO: Guid = Guid([0; 16]);

    /// True for the all-zero GUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parses the canonical text form (either case).
    pub fn parse(s: &str) -> Option<Guid> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        if hex.len() != 32 || s.len() != 36 {
            return None;
        }
        let mut text = [0u8; 16];
        for (byte, pair) in text.iter_mut().zip(hex.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        let mut b = text;
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        Some(Guid(b))
    }
}

impl fmt::Display for Guid {
    /// Upper case, as sfdisk and sgdisk print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9]
        )?;
        for x in &b[10..16] {
            write!(f, "{x:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn efi_system_partition() {
        let g = Guid::parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b").unwrap();
        assert_eq!(
            g.0,
            [
                0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
                0xc9, 0x3b
            ]
        );
        assert_eq!(g.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert!(Guid::parse("C12A7328F81F11D2BA4B00A0C93EC93B").is_none());
        assert!(Guid::parse("x12A7328-F81F-11D2-BA4B-00A0C93EC93B").is_none());
    }

    proptest! {
        #[test]
        fn text_round_trip(b in any::<[u8; 16]>()) {
            let g = Guid(b);
            prop_assert_eq!(Guid::parse(&g.to_string()), Some(g));
        }
    }
}
