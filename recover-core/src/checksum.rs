//! Checksums the on-disk formats use beyond plain CRC32 (which is crc32fast).

// Unsafe code is allowed here only, for the SSE4.2 CRC-32C instruction (measured: the table loop
// was the largest cost of listing a directory); each block says why it is sound.
#![allow(unsafe_code)]

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
/// ext4 metadata_csum, XFS v5, Btrfs (csum_type 0) and iSCSI, in its
/// standard form: initial !0, final inversion.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_raw(!0, data)
}

/// The CRC-32C register update without the initial or final inversion, for
/// formats (ext4) that store the raw register. SSE4.2's crc32 instruction
/// where the CPU has it (ext4 and XFS check a checksum per metadata block,
/// which the table loop made the largest cost of listing a directory).
pub fn crc32c_raw(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU has SSE4.2, checked just above.
            return unsafe { crc32c_sse42(crc, data) };
        }
    }
    crc32c_table(crc, data)
}

/// [`crc32c_raw`] with the crc32 instruction, 8 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = u64::from(crc);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8])); // ok: chunks_exact(8)
        c = _mm_crc32_u64(c, v);
    }
    let mut c = c as u32; // ok: the instruction leaves the CRC in the low 32 bits
    for &b in words.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    c
}

/// [`crc32c_raw`] by table, a byte at a time: the portable fallback.
fn crc32c_table(mut crc: u32, data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32; // ok: i < 256
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    for &b in data {
        crc = t[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The CRC register update LVM2 uses for its label and metadata area
/// headers: the reflected CRC-32 polynomial with no inversions, from a
/// caller-chosen initial value (LVM's is 0xf597a6cf).
pub fn lvm_crc(initial: u32, data: &[u8]) -> u32 {
    // crc32fast inverts on the way in and out; undo both.
    let mut h = crc32fast::Hasher::new_with_initial(!initial);
    h.update(data);
    !h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // RFC 3720 B.4 test vectors.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        // With no inversions, a zero register over zero bytes stays zero.
        assert_eq!(lvm_crc(0, &[0u8; 16]), 0);
        assert_eq!(!crc32c_table(!0, b"123456789"), 0xE306_9283);
    }

    proptest::proptest! {
        /// The instruction and the table agree, at every length and seed.
        #[test]
        fn instruction_and_table_agree(seed: u32, data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            proptest::prop_assert_eq!(crc32c_raw(seed, &data), crc32c_table(seed, &data));
        }
    }
}
