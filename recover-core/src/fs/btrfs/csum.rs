//! The checksum types a Btrfs filesystem may use (btrfs_tree.h / ctree.h:
//! `BTRFS_CSUM_TYPE_CRC32` 0, `_XXHASH` 1, `_SHA256` 2, `_BLAKE2` 3; the
//! superblock's csum_type at 0xC4). A checksum field is 32 bytes wide; the
//! digest fills its first `size()` bytes (crc32c and xxhash64 little-endian).

/// A checksum type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsumType {
    /// CRC-32C, 4 bytes.
    Crc32c,
    /// xxHash64 with seed 0, 8 bytes.
    Xxhash64,
    /// SHA-256, 32 bytes.
    Sha256,
    /// BLAKE2b with a 32-byte digest (no key), 32 bytes.
    Blake2b,
}

impl CsumType {
    /// From the superblock's csum_type; `None` for a value Btrfs does not define.
    pub fn from_raw(v: u16) -> Option<CsumType> {
        match v {
            0 => Some(CsumType::Crc32c),
            1 => Some(CsumType::Xxhash64),
            2 => Some(CsumType::Sha256),
            3 => Some(CsumType::Blake2b),
            _ => None,
        }
    }

    /// Bytes of a digest.
    pub fn size(self) -> usize {
        match self {
            CsumType::Crc32c => 4,
            CsumType::Xxhash64 => 8,
            CsumType::Sha256 | CsumType::Blake2b => 32,
        }
    }

    /// The name btrfs-progs prints.
    pub fn name(self) -> &'static str {
        match self {
            CsumType::Crc32c => "crc32c",
            CsumType::Xxhash64 => "xxhash64",
            CsumType::Sha256 => "sha256",
            CsumType::Blake2b => "blake2b",
        }
    }

    /// True when this build computes it (every type Btrfs defines).
    pub fn verifiable(self) -> bool {
        true
    }

    /// Whether `stored` (at least `size()` bytes) is the digest of `data`;
    /// `None` when this build cannot compute it.
    pub fn matches(self, stored: &[u8], data: &[u8]) -> Option<bool> {
        let want = stored.get(..self.size())?;
        let ok = match self {
            CsumType::Crc32c => want == crate::checksum::crc32c(data).to_le_bytes(),
            CsumType::Xxhash64 => want == twox_hash::XxHash64::oneshot(0, data).to_le_bytes(),
            CsumType::Sha256 => {
                use sha2::Digest;
                want == sha2::Sha256::digest(data).as_slice()
            }
            CsumType::Blake2b => {
                use blake2::digest::consts::U32;
                use blake2::Digest;
                want == blake2::Blake2b::<U32>::digest(data).as_slice()
            }
        };
        Some(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // crc32c("123456789") = 0xE3069283; xxh64("", 0) = 0xEF46DB3751D8E999.
        let c = CsumType::Crc32c;
        assert_eq!(
            c.matches(&0xE306_9283u32.to_le_bytes(), b"123456789"),
            Some(true)
        );
        assert_eq!(c.matches(&0u32.to_le_bytes(), b"123456789"), Some(false));
        let x = CsumType::Xxhash64;
        assert_eq!(
            x.matches(&0xEF46_DB37_51D8_E999u64.to_le_bytes(), b""),
            Some(true)
        );
        // BLAKE2b-256 of "abc" (RFC 7693's input, 32-byte digest).
        let b = CsumType::Blake2b;
        let abc = [
            0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72, 0x31, 0x71, 0xef, 0x3f, 0xee, 0x98,
            0x57, 0x9b, 0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42, 0x72, 0x62, 0xc8, 0xc0,
            0x68, 0xd5, 0x23, 0x19,
        ];
        assert_eq!(b.matches(&abc, b"abc"), Some(true));
        assert_eq!(b.matches(&[0; 32], b"abc"), Some(false));
        assert_eq!(CsumType::from_raw(9), None);
        // Too short a stored field is never a match (nor a panic).
        assert_eq!(CsumType::Sha256.matches(&[0; 4], b""), None);
    }
}
