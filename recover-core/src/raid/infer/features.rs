//! What a sector looks like, and whether two sectors look like neighbours:
//! the content continuity that tells chunk size and member order. Pure.

/// Bytes in the sector classified at each side of a chunk boundary.
pub const SECTOR: usize = 512;

/// A sector's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// All zero.
    Zero,
    /// One non-zero byte repeated.
    Fill,
    /// Printable text.
    Text,
    /// Looks random or compressed.
    Random,
    /// Anything else: structures, code, tables.
    Binary,
}

/// A sector's class, plus the share of zero bytes (0..=16) for finer
/// comparison of binary sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feat {
    /// The class.
    pub class: Class,
    /// Zero bytes, in sixteenths.
    pub zeros: u8,
}

/// Classifies up to [`SECTOR`] bytes.
pub fn classify(b: &[u8]) -> Feat {
    if b.is_empty() {
        return Feat {
            class: Class::Zero,
            zeros: 16,
        };
    }
    let mut seen = [false; 256];
    let (mut zeros, mut text) = (0usize, 0usize);
    for &x in b {
        seen[x as usize] = true;
        if x == 0 {
            zeros += 1;
        }
        if x == b'\n' || x == b'\r' || x == b'\t' || (0x20..0x7f).contains(&x) {
            text += 1;
        }
    }
    let distinct = seen.iter().filter(|s| **s).count();
    let len = b.len();
    let class = if zeros == len {
        Class::Zero
    } else if distinct == 1 {
        Class::Fill
    } else if text * 100 >= len * 95 {
        Class::Text
    } else if distinct * 512 >= 180 * len.min(512) && zeros * 64 < len * 2 {
        Class::Random
    } else {
        Class::Binary
    };
    Feat {
        class,
        zeros: (zeros * 16 / len) as u8,
    }
}

/// How much `tail` (the sector before a boundary) and `head` (the one
/// after) look like neighbours, in -1..=1; `None` when both are zero,
/// which says nothing.
pub fn similarity(tail: Feat, head: Feat) -> Option<f64> {
    use Class::*;
    Some(match (tail.class, head.class) {
        (Zero, Zero) => return None,
        (a, b) if a == b => match a {
            Binary => 1.0 - f64::from(tail.zeros.abs_diff(head.zeros)) / 16.0,
            _ => 1.0,
        },
        // Text or data ending with a sector of zeros and a new run starting
        // after one: both happen at file ends, less than continuity.
        (Zero, _) | (_, Zero) => -0.5,
        (Binary, Text) | (Text, Binary) => -0.25,
        _ => -1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classes() {
        assert_eq!(classify(&[0; 512]).class, Class::Zero);
        assert_eq!(classify(&[7; 512]).class, Class::Fill);
        assert_eq!(
            classify(&b"raid stripe ".repeat(43)[..512]).class,
            Class::Text
        );
        let mut x = 12345u32;
        let r: Vec<u8> = (0..512)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(classify(&r).class, Class::Random);
    }

    proptest! {
        #[test]
        fn similarity_is_bounded_and_symmetric(a in proptest::collection::vec(any::<u8>(), 0..600), b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (fa, fb) = (classify(&a), classify(&b));
            let s = similarity(fa, fb);
            prop_assert_eq!(s, similarity(fb, fa));
            prop_assert!(s.is_none_or(|s| (-1.0..=1.0).contains(&s)));
        }
    }
}
