//! Checksums the on-disk formats use beyond plain CRC32 (which is crc32fast).

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
/// ext4 metadata_csum, XFS v5, Btrfs (csum_type 0) and iSCSI, in its
/// standard form: initial !0, final inversion.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_raw(!0, data)
}

/// The CRC-32C register update without the initial or final inversion, for
/// formats (ext4) that store the raw register.
pub fn crc32c_raw(mut crc: u32, data: &[u8]) -> u32 {
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
    }
}
