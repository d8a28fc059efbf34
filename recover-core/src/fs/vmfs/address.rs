//! VMFS addresses: 32-bit (VMFS5) or 64-bit (VMFS6) words whose low three
//! bits say what they address and the rest where, as a cluster and a
//! resource within it, or as a block number. Bit layouts as dissect.vmfs's
//! `address.py` documents vmfs3.ko's Res3Parse*Addr* functions.

/// What an address points at (its low three bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 0: nothing (a hole).
    Null,
    /// 1: a file block (VMFS6: a small file block).
    FileBlock,
    /// 2: a sub-block in `.sbc.sf`.
    SubBlock,
    /// 3: a pointer block in `.pbc.sf`.
    PointerBlock,
    /// 4: a file descriptor in `.fdc.sf`.
    FileDescriptor,
    /// 5: a pointer block in `.pb2.sf`.
    PointerBlock2,
    /// 6: a journal block.
    JournalBlock,
    /// 7: a large file block (VMFS6).
    LargeFileBlock,
}

/// The kind of address `a`.
pub fn kind(a: u64) -> Kind {
    match a & 7 {
        1 => Kind::FileBlock,
        2 => Kind::SubBlock,
        3 => Kind::PointerBlock,
        4 => Kind::FileDescriptor,
        5 => Kind::PointerBlock2,
        6 => Kind::JournalBlock,
        7 => Kind::LargeFileBlock,
        _ => Kind::Null,
    }
}

/// A file descriptor address: cluster bits 6..22, resource bits 22..32.
pub fn fd_parts(a: u64) -> (u64, u64) {
    ((a >> 6) & 0xFFFF, (a >> 22) & 0x3FF)
}

/// A VMFS5 file block: block bits 6..32; bit 5 says to be zeroed (read
/// as zeros until written).
pub fn fb5(a: u64) -> (u64, bool) {
    ((a >> 6) & 0x3FF_FFFF, (a >> 5) & 1 == 1)
}

/// A VMFS5 sub-block or pointer block: cluster bits 6..28, resource bits
/// 28..32; with dense sub-blocks bits 3..5 are the resource's two high bits.
pub fn res5(a: u64, dense: bool) -> (u64, u64) {
    let mut r = (a >> 28) & 0xF;
    if dense {
        r |= (a & 0b11000) << 1;
    }
    ((a >> 6) & 0x3F_FFFF, r)
}

/// A VMFS6 sub-block or pointer block: cluster bits 6..42, resource bits
/// 56..64.
pub fn res6(a: u64) -> (u64, u64) {
    ((a >> 6) & 0xF_FFFF_FFFF, (a >> 56) & 0xFF)
}

/// A VMFS6 small file block: cluster bits 15..46, resource bits 51..64.
pub fn sfb(a: u64) -> (u64, u64) {
    ((a >> 15) & 0x7FFF_FFFF, (a >> 51) & 0x1FFF)
}

/// A VMFS6 large file block: block bits 15..46.
pub fn lfb(a: u64) -> u64 {
    (a >> 15) & 0x7FFF_FFFF
}

/// VMFS6 file blocks' to-be-zeroed bitmap (bits 7..15): any bit set reads
/// the block as zeros.
pub fn tbz6(a: u64) -> bool {
    (a >> 7) & 0xFF != 0
}

/// A journal block: cluster bits 3..16, resource bits 26..32.
pub fn jb(a: u64) -> (u64, u64) {
    ((a >> 3) & 0x1FFF, (a >> 26) & 0x3F)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fields_round_trip(c in 0u64..0x3F_FFFF, r in 0u64..16, c6 in 0u64..0xF_FFFF_FFFF, r6 in 0u64..256,
                             sc in 0u64..0x7FFF_FFFF, sr in 0u64..0x2000) {
            prop_assert_eq!(res5(3 | (c << 6) | (r << 28), false), (c, r));
            prop_assert_eq!(res6(3 | (c6 << 6) | (r6 << 56)), (c6, r6));
            prop_assert_eq!(sfb(1 | (sc << 15) | (sr << 51)), (sc, sr));
            prop_assert_eq!(lfb(7 | (sc << 15)), sc);
            prop_assert_eq!(fd_parts(4 | ((c & 0xFFFF) << 6) | ((r6 & 0x3FF) << 22)), (c & 0xFFFF, r6 & 0x3FF));
        }
    }

    #[test]
    fn system_files() {
        // The root directory and .fdc.sf: cluster 0, resources 0 and 2.
        assert_eq!(kind(0x4), Kind::FileDescriptor);
        assert_eq!(fd_parts(0x0080_0004), (0, 2));
        assert_eq!(
            res5(0b11010 | (5 << 6) | (3 << 28), true),
            (5, 3 | 0b110000)
        );
        assert_eq!(fb5(1 | (1 << 5) | (9 << 6)), (9, true));
        assert!(tbz6(1 | (1 << 9)));
        assert!(!tbz6(1 | (1 << 15)));
    }
}
