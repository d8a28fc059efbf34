//! Where a volume's holes are, as the `base:allocation` context and hole
//! chunks of structured reads report them.
//!
//! [`Volume::hole_at`] says how long a hole starting at an offset is, but
//! nothing about how long the data before the next one is. So a data run
//! is found by probing: every [`PROBE`] bytes, then back in [`SECTOR`]
//! steps from the probe that met a hole to where the hole starts. A hole
//! no probe lands in (shorter than `PROBE`, between two probes) is
//! reported as data, which the spec allows: a status of 0 is always safe
//! ("`base:allocation` metadata context"). The probing stops after
//! [`MAX_SCAN`] bytes, so a request costs a bounded number of calls; the
//! caller asks again from where the run ended.

use crate::io::Volume;

/// The step between probes for a hole.
pub const PROBE: u64 = 4096;
/// The finest grain of a hole's start (the spec asks for descriptors in
/// multiples of 512 where possible: "`NBD_CMD_BLOCK_STATUS`").
pub const SECTOR: u64 = 512;
/// The most a data run is probed before it is returned as it is.
pub const MAX_SCAN: u64 = 256 << 20;

/// One run of a volume: holes read as zeros and are stored nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Bytes in the run (never 0 when `pos < end`).
    pub len: u64,
    /// A hole: zeros, stored nowhere.
    pub hole: bool,
}

/// The run of `vol` starting at `pos`, cut at `end` (`pos < end <=
/// vol.len()`).
pub fn run_at(vol: &dyn Volume, pos: u64, end: u64) -> Run {
    let left = end.saturating_sub(pos);
    let hole = vol.hole_at(pos).min(left);
    if hole > 0 {
        return Run {
            len: hole,
            hole: true,
        };
    }
    let stop = end.min(pos.saturating_add(MAX_SCAN));
    let mut probe = (pos / PROBE + 1).saturating_mul(PROBE);
    while probe < stop {
        if vol.hole_at(probe) > 0 {
            // The hole starts somewhere after the previous probe: the first
            // sector from there that is a hole ends the data run.
            let from = pos.max(probe - PROBE) / SECTOR * SECTOR + SECTOR;
            let mut at = from;
            while at < probe && vol.hole_at(at) == 0 {
                at += SECTOR;
            }
            return Run {
                len: at.min(probe) - pos,
                hole: false,
            };
        }
        probe = probe.saturating_add(PROBE);
    }
    Run {
        len: stop - pos,
        hole: false,
    }
}

/// The runs of `pos..end`, at most `max` of them, adjacent runs of one
/// kind merged; fewer when the probing reaches its bound, never none when
/// `pos < end`.
pub fn runs(vol: &dyn Volume, pos: u64, end: u64, max: usize) -> Vec<(u64, Run)> {
    let mut out: Vec<(u64, Run)> = Vec::new();
    let mut at = pos;
    let mut scanned = 0u64;
    while at < end && scanned < MAX_SCAN * 4 {
        let r = run_at(vol, at, end);
        if r.len == 0 {
            break;
        }
        let full = out.len() >= max;
        match out.last_mut() {
            Some((_, last)) if last.hole == r.hole => last.len += r.len,
            _ if full => break,
            _ => out.push((at, r)),
        }
        at += r.len;
        if !r.hole {
            scanned += r.len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Concat, MemVolume, Zeros};
    use std::sync::Arc;

    fn vol(parts: &[(u64, bool)]) -> Concat {
        let vols: Vec<crate::io::VolumeRef> = parts
            .iter()
            .map(|&(n, hole)| -> crate::io::VolumeRef {
                if hole {
                    Arc::new(Zeros::new(n, "z".into()))
                } else {
                    Arc::new(MemVolume::new("d", vec![1u8; n as usize]))
                }
            })
            .collect();
        Concat::new(vols, "v".into())
    }

    #[test]
    fn holes_found_where_they_start() {
        // Data, a hole starting off the probe grid, data, a hole to the end.
        let v = vol(&[
            (5 * 512, false),
            (3 * 4096, true),
            (4096, false),
            (8192, true),
        ]);
        let got = runs(&v, 0, v.len(), 100);
        let want = vec![
            (
                0,
                Run {
                    len: 2560,
                    hole: false,
                },
            ),
            (
                2560,
                Run {
                    len: 12288,
                    hole: true,
                },
            ),
            (
                14848,
                Run {
                    len: 4096,
                    hole: false,
                },
            ),
            (
                18944,
                Run {
                    len: 8192,
                    hole: true,
                },
            ),
        ];
        assert_eq!(got, want);
        // From inside a run, and cut short.
        assert_eq!(
            run_at(&v, 100, v.len()),
            Run {
                len: 2460,
                hole: false
            }
        );
        assert_eq!(
            run_at(&v, 3000, 4000),
            Run {
                len: 1000,
                hole: true
            }
        );
        assert_eq!(runs(&v, 0, v.len(), 2).len(), 2);
    }

    #[test]
    fn a_volume_without_holes_is_one_run() {
        let v = MemVolume::new("m", vec![0u8; 1 << 20]);
        assert_eq!(
            runs(&v, 7, 1 << 20, 10),
            vec![(
                7,
                Run {
                    len: (1 << 20) - 7,
                    hole: false
                }
            )]
        );
    }
}
