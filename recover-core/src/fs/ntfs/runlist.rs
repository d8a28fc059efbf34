//! Mapping pairs: where a non-resident attribute's clusters are.
//!
//! Each run starts with a header byte whose low nibble is the byte count
//! of the run length and whose high nibble is the byte count of the LCN
//! delta; both little-endian, the delta signed and relative to the
//! previous run's LCN; a delta of zero bytes is a sparse run; a 0 header
//! ends the list (ntfs-3g's runlist.c, "mapping pairs" in the NTFS
//! documentation of the Linux-NTFS project).

/// A run of clusters: `len` clusters from `vcn`, at `lcn` (`None`: sparse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First virtual cluster of the run.
    pub vcn: u64,
    /// Clusters.
    pub len: u64,
    /// First logical cluster, or `None` for a hole.
    pub lcn: Option<u64>,
}

/// Largest cluster number NTFS addresses (VCNs and LCNs are 64-bit, but
/// volumes stop at 2^48 clusters in every implementation).
const MAX_CLUSTER: u64 = 1 << 48;

/// Decodes mapping pairs from `bytes`, the first run at `first_vcn`.
/// Errors give the byte offset within `bytes` and what is wrong.
pub fn decode(bytes: &[u8], first_vcn: u64) -> Result<Vec<Run>, (usize, String)> {
    let mut runs = Vec::new();
    let mut pos = 0usize;
    let mut vcn = first_vcn;
    let mut lcn: i64 = 0;
    loop {
        let Some(&h) = bytes.get(pos) else {
            return Err((
                pos,
                "mapping pairs run past the attribute without an end".into(),
            ));
        };
        if h == 0 {
            break;
        }
        let (nl, no) = (usize::from(h & 0xF), usize::from(h >> 4));
        if nl == 0 || nl > 8 || no > 8 {
            return Err((pos, format!("run header {h:#04x} is not valid")));
        }
        let field = |at: usize, n: usize| bytes.get(at..at + n);
        let len_b = field(pos + 1, nl).ok_or((pos, "run length past the attribute".to_string()))?;
        let mut len = 0u64;
        for (i, &b) in len_b.iter().enumerate() {
            len |= u64::from(b) << (8 * i);
        }
        let run_lcn = if no == 0 {
            None
        } else {
            let d = field(pos + 1 + nl, no)
                .ok_or((pos, "run offset past the attribute".to_string()))?;
            let mut delta = 0i64;
            for (i, &b) in d.iter().enumerate() {
                delta |= i64::from(b) << (8 * i);
            }
            // Sign-extend from the top byte given.
            let shift = 64 - 8 * no as u32; // ok: no is 1..=8
            delta = delta << shift >> shift;
            lcn = lcn
                .checked_add(delta)
                .ok_or((pos, "run offset overflows".to_string()))?;
            if lcn < 0 || lcn as u64 >= MAX_CLUSTER {
                return Err((pos, format!("run starts at cluster {lcn}")));
            }
            Some(lcn as u64)
        };
        if len == 0 || len > MAX_CLUSTER || vcn.saturating_add(len) > MAX_CLUSTER {
            return Err((pos, format!("run of {len} clusters from {vcn}")));
        }
        runs.push(Run {
            vcn,
            len,
            lcn: run_lcn,
        });
        vcn += len;
        pos += 1 + nl + no;
    }
    Ok(runs)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The smallest encoding of `v` as a signed little-endian number.
    fn signed(v: i64) -> Vec<u8> {
        let b = v.to_le_bytes();
        let mut n = 8;
        while n > 1
            && ((b[n - 1] == 0 && b[n - 2] & 0x80 == 0)
                || (b[n - 1] == 0xFF && b[n - 2] & 0x80 != 0))
        {
            n -= 1;
        }
        b[..n].to_vec()
    }

    fn encode(runs: &[Run]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = 0i64;
        for r in runs {
            let l = signed(r.len as i64);
            let o = match r.lcn {
                Some(c) => {
                    let d = signed(c as i64 - prev);
                    prev = c as i64;
                    d
                }
                None => Vec::new(),
            };
            out.push((o.len() as u8) << 4 | l.len() as u8);
            out.extend(&l);
            out.extend(&o);
        }
        out.push(0);
        out
    }

    #[test]
    fn known_runs() {
        // 0x18 clusters at 0x5634, then 0x20 sparse, then 3 at 0x5634 - 0x10.
        let b = [0x21, 0x18, 0x34, 0x56, 0x01, 0x20, 0x11, 0x03, 0xF0, 0x00];
        assert_eq!(
            decode(&b, 0).unwrap(),
            [
                Run {
                    vcn: 0,
                    len: 0x18,
                    lcn: Some(0x5634)
                },
                Run {
                    vcn: 0x18,
                    len: 0x20,
                    lcn: None
                },
                Run {
                    vcn: 0x38,
                    len: 3,
                    lcn: Some(0x5624)
                },
            ]
        );
        assert!(decode(&[0x21, 0x18], 0).is_err());
        assert!(
            decode(&[0x11, 0x01, 0x80, 0x00], 0).is_err(),
            "a negative cluster"
        );
        assert!(decode(&[0x09, 0x00], 0).is_err());
        assert!(decode(&[], 0).is_err());
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(runs in proptest::collection::vec((1u64..1 << 40, proptest::option::of(0u64..1 << 40)), 0..20)) {
            let mut vcn = 7;
            let runs: Vec<Run> = runs.into_iter().map(|(len, lcn)| {
                let r = Run { vcn, len, lcn };
                vcn += len;
                r
            }).collect();
            prop_assert_eq!(decode(&encode(&runs), 7).unwrap(), runs);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&b, 0);
        }
    }
}
