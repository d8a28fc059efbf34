//! Where an array's bytes live on its members: pure layout math, no I/O.
//!
//! Each function follows the Linux md driver, the reference the lab checks
//! against: raid5.c raid5_compute_sector (RAID4/5/6 and their algorithms,
//! including the DDF ones), raid6 syndrome slot order (raid6_d0,
//! raid6_idx_to_slot), raid10.c __raid10_find_phys and calc_sectors
//! (near/far/offset copies), raid0.c create_strip_zones and map_sector
//! (zones over unequal members, original and alternate layouts), and
//! linear concatenation. Offsets here are in chunks or bytes of member
//! *data* (after each member's data offset). One placement md does not
//! have composes with its parity algorithms: HP Smart Array's delayed
//! parity ([`ParityLayout`]), where each row's placement is held for a run
//! of rows before the parity moves on.

/// RAID4/5/6 data and parity placement (md's ALGORITHM_* numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParityAlgo {
    /// 0: parity rotates from the last disk backwards; data restarts at disk 0.
    LeftAsymmetric,
    /// 1: parity rotates from disk 0 forwards; data restarts at disk 0.
    RightAsymmetric,
    /// 2: parity rotates backwards; data continues after the parity disk.
    LeftSymmetric,
    /// 3: parity rotates forwards; data continues after the parity disk.
    RightSymmetric,
    /// 4: parity (and Q) on the first disk(s).
    ParityFirst,
    /// 5: parity (and Q) on the last disk(s): RAID4.
    ParityLast,
    /// 8: DDF RAID6 rotating parity 0 with data restart (Q syndrome over physical disk order).
    RotatingZeroRestart,
    /// 9: DDF RAID6 rotating parity N with data restart.
    RotatingNRestart,
    /// 10: DDF RAID6 rotating parity N with data continuation.
    RotatingNContinue,
    /// 16: RAID5 left-asymmetric over all but the last disk, Q on the last.
    LeftAsymmetric6,
    /// 17: RAID5 right-asymmetric, Q on the last disk.
    RightAsymmetric6,
    /// 18: RAID5 left-symmetric, Q on the last disk.
    LeftSymmetric6,
    /// 19: RAID5 right-symmetric, Q on the last disk.
    RightSymmetric6,
    /// 20: RAID5 parity-first, Q on the last disk.
    ParityFirst6,
}

impl ParityAlgo {
    /// The algorithm for md's layout number.
    pub fn from_md(code: u32) -> Option<ParityAlgo> {
        use ParityAlgo::*;
        Some(match code {
            0 => LeftAsymmetric,
            1 => RightAsymmetric,
            2 => LeftSymmetric,
            3 => RightSymmetric,
            4 => ParityFirst,
            5 => ParityLast,
            8 => RotatingZeroRestart,
            9 => RotatingNRestart,
            10 => RotatingNContinue,
            16 => LeftAsymmetric6,
            17 => RightAsymmetric6,
            18 => LeftSymmetric6,
            19 => RightSymmetric6,
            20 => ParityFirst6,
            _ => return None,
        })
    }

    /// The algorithm for a neutral layout name (md's names, see
    /// `raid::metadata::Layout`).
    pub fn from_name(name: &str) -> Option<ParityAlgo> {
        (0..=20)
            .filter_map(ParityAlgo::from_md)
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// md's name for the algorithm.
    pub fn name(self) -> &'static str {
        use ParityAlgo::*;
        match self {
            LeftAsymmetric => "left-asymmetric",
            RightAsymmetric => "right-asymmetric",
            LeftSymmetric => "left-symmetric",
            RightSymmetric => "right-symmetric",
            ParityFirst => "parity-first",
            ParityLast => "parity-last",
            RotatingZeroRestart => "ddf-zero-restart",
            RotatingNRestart => "ddf-N-restart",
            RotatingNContinue => "ddf-N-continue",
            LeftAsymmetric6 => "left-asymmetric-6",
            RightAsymmetric6 => "right-asymmetric-6",
            LeftSymmetric6 => "left-symmetric-6",
            RightSymmetric6 => "right-symmetric-6",
            ParityFirst6 => "parity-first-6",
        }
    }

    /// True for the DDF RAID6 algorithms, whose Q syndrome numbers data by
    /// physical disk rather than from the disk after Q.
    pub fn is_ddf(self) -> bool {
        matches!(
            self,
            ParityAlgo::RotatingZeroRestart
                | ParityAlgo::RotatingNRestart
                | ParityAlgo::RotatingNContinue
        )
    }
}

/// A parity layout as users and reports name it: md's placement of one
/// row, and the rows that placement is held for before it moves on.
///
/// `delay` 1 is ordinary rotation. A larger delay is HP Smart Array's
/// *delayed parity*: row `r` is laid out as row `r / delay` of `algo`, so
/// the parity stays on one member for `delay` consecutive rows (one parity
/// block `delay` chunks long beside `delay` chunks of each data member),
/// and the data runs through those rows row by row as `algo` places one.
/// Spelled `left-asymmetric+delay=16`.
///
/// No vendor document describes the on-disk layout; what is known comes
/// from the recovery tools that read it:
/// - ReclaiMe's note on delayed parity (freeraidrecovery.com, library page
///   "Delayed Parity in RAID 5") names HP SmartArray as the controller that
///   writes it, and describes it as a parity block that is a whole
///   multiple ("delay") of the data block, with delay 1, 2, 4, 8, 16 or 32;
///   rotation direction and synchronous/asynchronous data placement stay
///   parameters of their own, so the delay composes with any base
///   placement. It also has a "firstdelay" (the first parity block
///   covering fewer rows), which this type does not model.
/// - R-Tools' manuals (R-Studio's "Working with RAIDs with Parity Delays",
///   the same page in Restorer Ultimate's help at bitmart.net,
///   raid5_with_parity_delays.html) work an example over member images
///   named `RAID5HPDisk1..3`: three disks, delay 16, 16 KB blocks, block
///   order "Left Asynchronous". Its table puts parity on the last disk for
///   rows 1-16, on the middle one for rows 17-32, on the first for rows
///   33-48, with data numbered row by row and restarting at the first
///   disk: md's left-asymmetric with each row's placement held 16 rows.
///   That is the base HP uses and what [`ParityLayout::HP`] names; the
///   inference tries it with delays 2 to 64.
/// - ReclaiMe's training case study 5 (data.recovery.training) found the
///   delay on the RAID6 (ADG) of an HP Smart Array P400 as well: the same
///   holding composes with the RAID6 algorithms.
/// - HP's technology brief "HP Smart Array Controllers and basic RAID
///   performance factors" gives strip sizes from 16 KiB to 1024 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParityLayout {
    /// The placement of one row.
    pub algo: ParityAlgo,
    /// Rows each placement is held for (1: ordinary rotation).
    pub delay: u32,
}

impl ParityLayout {
    /// The largest delay taken (the tools know up to 32; HP's own limits are
    /// not published).
    pub const MAX_DELAY: u32 = 1024;

    /// HP Smart Array's base placement under delayed parity: md's
    /// left-asymmetric (R-Tools' "Left Asynchronous").
    pub const HP: ParityAlgo = ParityAlgo::LeftAsymmetric;

    /// `algo` with ordinary rotation.
    pub fn plain(algo: ParityAlgo) -> ParityLayout {
        ParityLayout { algo, delay: 1 }
    }

    /// Parses a layout name: md's name (`left-symmetric`), or md's name
    /// with a delay (`left-asymmetric+delay=16`); case and spaces around
    /// `+` and `=` do not matter. `None` for anything else, a delay of 0 or
    /// one past [`Self::MAX_DELAY`].
    pub fn parse(name: &str) -> Option<ParityLayout> {
        let (base, delay) = match name.split_once('+') {
            None => (name, 1),
            Some((base, rest)) => {
                let (k, v) = rest.split_once('=')?;
                if !k.trim().eq_ignore_ascii_case("delay") {
                    return None;
                }
                let d: u32 = v.trim().parse().ok()?;
                (base, d)
            }
        };
        if !(1..=Self::MAX_DELAY).contains(&delay) {
            return None;
        }
        Some(ParityLayout {
            algo: ParityAlgo::from_name(base.trim())?,
            delay,
        })
    }

    /// The name [`Self::parse`] takes back: md's name alone with delay 1.
    pub fn name(self) -> String {
        if self.delay <= 1 {
            self.algo.name().to_string()
        } else {
            format!("{}+delay={}", self.algo.name(), self.delay)
        }
    }
}

/// Where one stripe's blocks are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    /// Member holding P.
    pub p: u32,
    /// Member holding Q (RAID6).
    pub q: Option<u32>,
    /// Member holding each data block, by data index.
    pub data: Vec<u32>,
    /// Each data block's slot in the Q syndrome (its generator exponent), by data index.
    pub q_slot: Vec<u32>,
}

/// RAID4/5/6 geometry: level, member count, algorithm and parity delay.
/// Stripes repeat with a short period, so every distinct stripe is
/// computed once.
#[derive(Debug, Clone)]
pub struct ParityGeometry {
    /// 4, 5 or 6.
    pub level: u8,
    /// Members.
    pub disks: u32,
    /// Placement.
    pub algo: ParityAlgo,
    /// Rows each placement is held for: 1, or HP's delayed parity (never 0).
    delay: u32,
    table: Vec<Stripe>,
}

/// Why a geometry cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeometryError(pub String);

impl std::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ParityGeometry {
    /// A RAID4 (`level` 4), RAID5 or RAID6 over `disks` members.
    pub fn new(level: u8, disks: u32, algo: ParityAlgo) -> Result<Self, GeometryError> {
        let min = match level {
            4 | 5 => 2,
            6 => 4,
            _ => {
                return Err(GeometryError(format!(
                    "level {level} is not a parity level"
                )))
            }
        };
        if disks < min || disks > 256 {
            return Err(GeometryError(format!(
                "RAID{level} needs {min} to 256 members, not {disks}"
            )));
        }
        let algo = if level == 4 {
            ParityAlgo::ParityLast
        } else {
            algo
        };
        let six_variant = matches!(
            algo,
            ParityAlgo::LeftAsymmetric6
                | ParityAlgo::RightAsymmetric6
                | ParityAlgo::LeftSymmetric6
                | ParityAlgo::RightSymmetric6
                | ParityAlgo::ParityFirst6
        );
        if level != 6 && (algo.is_ddf() || six_variant) {
            return Err(GeometryError(format!("{} is a RAID6 layout", algo.name())));
        }
        let period = if six_variant { disks - 1 } else { disks };
        let mut g = ParityGeometry {
            level,
            disks,
            algo,
            delay: 1,
            table: Vec::new(),
        };
        g.table = (0..u64::from(period)).map(|s| g.compute(s)).collect();
        Ok(g)
    }

    /// The geometry of `layout` (its algorithm, held `layout.delay` rows).
    pub fn with_layout(level: u8, disks: u32, layout: ParityLayout) -> Result<Self, GeometryError> {
        ParityGeometry::new(level, disks, layout.algo)?.delayed(layout.delay)
    }

    /// The same placement held `delay` rows before it moves on (HP's
    /// delayed parity; 1 is ordinary rotation).
    pub fn delayed(mut self, delay: u32) -> Result<Self, GeometryError> {
        if !(1..=ParityLayout::MAX_DELAY).contains(&delay) {
            return Err(GeometryError(format!(
                "a parity delay of {delay} rows is not 1 to {}",
                ParityLayout::MAX_DELAY
            )));
        }
        self.delay = delay;
        Ok(self)
    }

    /// Rows each placement is held for (1: ordinary rotation).
    pub fn delay(&self) -> u32 {
        self.delay
    }

    /// The layout, as users name it.
    pub fn layout(&self) -> ParityLayout {
        ParityLayout {
            algo: self.algo,
            delay: self.delay,
        }
    }

    /// Data blocks per stripe.
    pub fn data_disks(&self) -> u32 {
        self.disks - if self.level == 6 { 2 } else { 1 }
    }

    /// The layout of stripe (row) number `stripe`: the algorithm's row
    /// `stripe / delay`.
    pub fn stripe(&self, stripe: u64) -> &Stripe {
        let placement = stripe / u64::from(self.delay.max(1));
        &self.table[(placement % self.table.len() as u64) as usize] // ok: table is never empty
    }

    /// raid5_compute_sector's placement for one stripe.
    fn compute(&self, stripe: u64) -> Stripe {
        use ParityAlgo::*;
        let n = self.disks;
        let dd = self.data_disks();
        let r = (stripe % u64::from(n)) as u32; // ok: < n
        let r1 = (stripe % u64::from(n - 1)) as u32; // ok: < n
        let mut data = Vec::with_capacity(dd as usize);
        let (p, q);
        if self.level != 6 {
            q = None;
            p = match self.algo {
                LeftAsymmetric | LeftSymmetric => dd - r,
                RightAsymmetric | RightSymmetric => r,
                ParityFirst => 0,
                _ => dd, // parity-last, RAID4
            };
            for d in 0..dd {
                data.push(match self.algo {
                    LeftSymmetric | RightSymmetric => (p + 1 + d) % n,
                    ParityFirst => d + 1,
                    ParityLast => d,
                    _ => {
                        if d >= p {
                            d + 1
                        } else {
                            d
                        }
                    }
                });
            }
        } else {
            // The asymmetric placements: Q right after P, or on disk 0 when P is last.
            let asym = |p: u32, d: u32| -> (u32, u32) {
                if p == n - 1 {
                    (0, d + 1)
                } else {
                    (p + 1, if d >= p { d + 2 } else { d })
                }
            };
            let (pp, qq, place): (u32, u32, Box<dyn Fn(u32) -> u32>) = match self.algo {
                LeftAsymmetric => {
                    let p = n - 1 - r;
                    (p, asym(p, 0).0, Box::new(move |d| asym(p, d).1))
                }
                RightAsymmetric | RotatingZeroRestart => {
                    let p = r;
                    (p, asym(p, 0).0, Box::new(move |d| asym(p, d).1))
                }
                RotatingNRestart => {
                    let p = n - 1 - ((stripe + 1) % u64::from(n)) as u32; // ok: < n
                    (p, asym(p, 0).0, Box::new(move |d| asym(p, d).1))
                }
                LeftSymmetric => {
                    let p = n - 1 - r;
                    (p, (p + 1) % n, Box::new(move |d| (p + 2 + d) % n))
                }
                RightSymmetric => {
                    let p = r;
                    (p, (p + 1) % n, Box::new(move |d| (p + 2 + d) % n))
                }
                ParityFirst => (0, 1, Box::new(|d| d + 2)),
                ParityLast => (dd, dd + 1, Box::new(|d| d)),
                RotatingNContinue => {
                    let p = n - 1 - r;
                    (p, (p + n - 1) % n, Box::new(move |d| (p + 1 + d) % n))
                }
                LeftAsymmetric6 => {
                    let p = dd - r1;
                    (p, n - 1, Box::new(move |d| if d >= p { d + 1 } else { d }))
                }
                RightAsymmetric6 => {
                    let p = r1;
                    (p, n - 1, Box::new(move |d| if d >= p { d + 1 } else { d }))
                }
                LeftSymmetric6 => {
                    let p = dd - r1;
                    (p, n - 1, Box::new(move |d| (p + 1 + d) % (n - 1)))
                }
                RightSymmetric6 => {
                    let p = r1;
                    (p, n - 1, Box::new(move |d| (p + 1 + d) % (n - 1)))
                }
                ParityFirst6 => (0, n - 1, Box::new(|d| d + 1)),
            };
            p = pp;
            q = Some(qq);
            data.extend((0..dd).map(place));
        }
        let q_slot = match q {
            None => Vec::new(),
            Some(_) if self.algo.is_ddf() => data.clone(),
            Some(q) => {
                // md numbers data from the disk after Q (disk 0 when Q is last).
                let d0 = if q == n - 1 { 0 } else { q + 1 };
                let mut slot_of = vec![0u32; n as usize];
                let mut count = 0;
                for k in 0..n {
                    let disk = (d0 + k) % n;
                    if disk != p && disk != q {
                        slot_of[disk as usize] = count;
                        count += 1;
                    }
                }
                data.iter().map(|&m| slot_of[m as usize]).collect()
            }
        };
        Stripe { p, q, data, q_slot }
    }
}

/// md RAID10's placement of copies, in md's words parsed once: `near=N`
/// copies on consecutive members, `far=N` copies in later parts of every
/// member, `offset=N` copies in the following chunk rows; `near=2, far=2`
/// combines them. The words come from md's layout (mdadm names them), DDF
/// RAID1E, IMSM RAID10 and LVM raid10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raid10Layout {
    /// Copies on consecutive members.
    pub near: u32,
    /// Copies further on (far) or in the next rows (offset).
    pub far: u32,
    /// The far copies are in the next chunk rows.
    pub offset: bool,
}

impl Raid10Layout {
    /// Parses md's words; `None` for anything else (a word md has not, a
    /// count of 0). Empty words are one copy of everything. Counts past
    /// what md's word holds parse (so damaged metadata is still bounded by
    /// the member count where it is used) but have no [`Self::word`].
    pub fn parse(neutral: &str) -> Option<Raid10Layout> {
        let mut l = Raid10Layout {
            near: 1,
            far: 1,
            offset: false,
        };
        for part in neutral.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=')?;
            let v: u32 = v.trim().parse().ok().filter(|&v| v >= 1)?;
            match k.trim() {
                "near" => l.near = v,
                "far" => l.far = v,
                "offset" => {
                    l.far = v;
                    l.offset = true;
                }
                _ => return None,
            }
        }
        Some(l)
    }

    /// md's layout word (md.h: near copies in bits 0-7, far in 8-15,
    /// bit 16 for offset); `None` when a count does not fit its 8 bits.
    pub fn word(self) -> Option<u32> {
        (self.near <= 255 && self.far <= 255)
            .then_some(self.near | self.far << 8 | if self.offset { 0x1_0000 } else { 0 })
    }
}

/// md RAID10 geometry: `near` copies on adjacent members, `far` copies in
/// later parts of every member (shifted by `near` members), or, with
/// `offset`, in the next chunk row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raid10Geometry {
    /// Members.
    pub disks: u32,
    /// Near copies.
    pub near: u32,
    /// Far copies.
    pub far: u32,
    /// Far copies one chunk row apart instead of a part of the member apart.
    pub offset: bool,
    /// Members per far set (all of them, unless layout bits 17-18 say otherwise).
    pub far_set_size: u32,
    /// Chunks between far copies (calc_sectors' stride).
    pub stride: u64,
    /// Chunks of data the array holds.
    pub array_chunks: u64,
}

impl Raid10Geometry {
    /// The geometry of an md RAID10 of `disks` members with layout word
    /// `layout` whose members each give `member_chunks` chunks.
    pub fn from_md(disks: u32, layout: u32, member_chunks: u64) -> Result<Self, GeometryError> {
        let near = layout & 0xff;
        let far = (layout >> 8) & 0xff;
        let offset = layout & 0x1_0000 != 0;
        let far_set_size = match (layout >> 17) & 3 {
            0 => disks,
            1 => disks / far.max(1),
            2 => far * near,
            _ => 0,
        };
        if layout >> 19 != 0
            || near == 0
            || far == 0
            || near * far < 2
            || near * far > disks
            || far_set_size == 0
        {
            return Err(GeometryError(format!(
                "RAID10 layout {layout:#x} is not valid for {disks} members"
            )));
        }
        // calc_sectors: chunks in the array, then chunks used per member.
        let copies = u64::from(near * far);
        // member_chunks comes from untrusted metadata.
        let too_big = || {
            GeometryError(format!(
                "{member_chunks} chunks on each of {disks} members overflow"
            ))
        };
        let array_chunks = (member_chunks / u64::from(far))
            .checked_mul(u64::from(disks))
            .ok_or_else(too_big)?
            / u64::from(near);
        let used = array_chunks
            .checked_mul(copies)
            .ok_or_else(too_big)?
            .div_ceil(u64::from(disks));
        let stride = if offset { 1 } else { used / u64::from(far) };
        Ok(Raid10Geometry {
            disks,
            near,
            far,
            offset,
            far_set_size,
            stride,
            array_chunks,
        })
    }

    /// Every copy of array chunk `chunk` as (member, member chunk), first copy first.
    pub fn copies(&self, chunk: u64) -> Vec<(u32, u64)> {
        let n = u64::from(self.disks);
        let c = chunk * u64::from(self.near);
        let mut dev = (c % n) as u32; // ok: < disks
        let mut row = c / n;
        if self.offset {
            row *= u64::from(self.far);
        }
        let mut out = Vec::with_capacity((self.near * self.far) as usize);
        let fss = self.far_set_size;
        // The last far set absorbs the members left over when the sets do
        // not divide the member count.
        let last_start = (self.disks / fss).saturating_sub(1) * fss;
        let last_size = fss + self.disks % fss;
        for _ in 0..self.near {
            let mut d = dev;
            let mut s = row;
            out.push((d, s));
            for _ in 1..self.far {
                let set = d / fss;
                d += self.near;
                if self.disks % fss != 0 && d > last_start {
                    d = (d - last_start) % last_size + last_start;
                } else {
                    d = d % fss + fss * set;
                }
                s += self.stride;
                out.push((d, s));
            }
            dev += 1;
            if dev >= self.disks {
                dev = 0;
                row += 1;
            }
        }
        out
    }
}

/// One zone of an md RAID0 over members of different sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// First array chunk of the zone.
    pub start: u64,
    /// Chunks in the zone.
    pub chunks: u64,
    /// Member chunk where the zone starts on each of its members.
    pub dev_start: u64,
    /// Its members, by slot.
    pub members: Vec<u32>,
}

/// md RAID0 zones (create_strip_zones): zone 0 stripes over every member
/// up to the smallest; each later zone over the members still longer, up
/// to the next smallest. `sizes` are member data sizes in chunks.
pub fn raid0_zones(sizes: &[u64]) -> Vec<Zone> {
    let mut zones = Vec::new();
    let mut done = 0u64; // member chunks used so far by every remaining member
    let mut start = 0u64;
    loop {
        let members: Vec<u32> = (0..sizes.len() as u32)
            .filter(|&i| sizes[i as usize] > done)
            .collect(); // ok: few members
        let Some(smallest) = members.iter().map(|&i| sizes[i as usize]).min() else {
            break;
        };
        let per = smallest - done;
        let chunks = per * members.len() as u64;
        zones.push(Zone {
            start,
            chunks,
            dev_start: done,
            members,
        });
        start += chunks;
        done = smallest;
    }
    zones
}

/// Where array chunk `chunk` of an md RAID0 lives: (member, member chunk).
/// The original layout (md before 5.4, layout 1) picks the member in later
/// zones from the array-wide chunk number; the alternate layout (2) from
/// the chunk number within the zone.
pub fn raid0_locate(zones: &[Zone], chunk: u64, alternate: bool) -> Option<(u32, u64)> {
    let z = zones
        .iter()
        .find(|z| chunk >= z.start && chunk < z.start + z.chunks)?;
    let n = z.members.len() as u64;
    let within = chunk - z.start;
    let pick = if alternate || z.start == 0 {
        within
    } else {
        chunk
    };
    Some((z.members[(pick % n) as usize], z.dev_start + within / n)) // ok: pick % n < n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const ALL: [u32; 14] = [0, 1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 18, 19, 20];

    #[test]
    fn raid10_sizes_that_overflow_are_refused() {
        // Chunks per member from metadata (u64::MAX bytes in 512-byte
        // chunks) times 1000 members; and far=2 over 4 members, whose
        // copies overflow once the array's chunks fit.
        assert!(Raid10Geometry::from_md(1000, 0x102, u64::MAX / 512).is_err());
        assert!(Raid10Geometry::from_md(4, 0x201, 1 << 62).is_err());
        assert!(Raid10Geometry::from_md(4, 0x102, 1 << 40).is_ok());
    }

    #[test]
    fn raid5_left_symmetric_matches_the_textbook() {
        // 4 disks: stripe 0 = D0 D1 D2 P, stripe 1 = D4 D5 P D3 (data continues after P).
        let g = ParityGeometry::new(5, 4, ParityAlgo::LeftSymmetric).unwrap();
        assert_eq!(g.stripe(0).p, 3);
        assert_eq!(g.stripe(0).data, vec![0, 1, 2]);
        assert_eq!(g.stripe(1).p, 2);
        assert_eq!(g.stripe(1).data, vec![3, 0, 1]);
        let la = ParityGeometry::new(5, 4, ParityAlgo::LeftAsymmetric).unwrap();
        assert_eq!(la.stripe(1).data, vec![0, 1, 3]);
    }

    #[test]
    fn raid6_q_slots() {
        // Left-symmetric, 5 disks, stripe 0: P=4, Q=0, data on 1,2,3 with slots 0,1,2.
        let g = ParityGeometry::new(6, 5, ParityAlgo::LeftSymmetric).unwrap();
        let s = g.stripe(0);
        assert_eq!((s.p, s.q), (4, Some(0)));
        assert_eq!(s.data, vec![1, 2, 3]);
        assert_eq!(s.q_slot, vec![0, 1, 2]);
        // Left-asymmetric, stripe 2: P=2, Q=3, data on 0,1,4; md counts from disk 4.
        let g = ParityGeometry::new(6, 5, ParityAlgo::LeftAsymmetric).unwrap();
        let s = g.stripe(2);
        assert_eq!((s.p, s.q), (2, Some(3)));
        assert_eq!(s.data, vec![0, 1, 4]);
        assert_eq!(s.q_slot, vec![1, 2, 0]);
        // DDF layouts count physical disks.
        let g = ParityGeometry::new(6, 5, ParityAlgo::RotatingNContinue).unwrap();
        let s = g.stripe(0);
        assert_eq!(s.q_slot, s.data);
    }

    #[test]
    fn hp_delayed_parity_matches_the_tools_worked_example() {
        // R-Tools' example over RAID5HPDisk1..3: delay 16, "Left
        // Asynchronous". Rows 0-15: data on A, B, parity on C; rows 16-31:
        // parity on B; rows 32-47: parity on A; then round again. Data
        // restarts at A in every row.
        let g = ParityGeometry::with_layout(
            5,
            3,
            ParityLayout {
                algo: ParityLayout::HP,
                delay: 16,
            },
        )
        .unwrap();
        for row in 0..16 {
            assert_eq!((g.stripe(row).p, &g.stripe(row).data[..]), (2, &[0, 1][..]));
            assert_eq!(
                (g.stripe(row + 16).p, &g.stripe(row + 16).data[..]),
                (1, &[0, 2][..])
            );
            assert_eq!(
                (g.stripe(row + 32).p, &g.stripe(row + 32).data[..]),
                (0, &[1, 2][..])
            );
            assert_eq!(g.stripe(row + 48), g.stripe(row));
        }
        assert_eq!(g.layout().name(), "left-asymmetric+delay=16");
    }

    #[test]
    fn parity_layout_names() {
        let p = ParityLayout::parse;
        assert_eq!(
            p("left-symmetric"),
            Some(ParityLayout::plain(ParityAlgo::LeftSymmetric))
        );
        let hp = ParityLayout {
            algo: ParityAlgo::LeftAsymmetric,
            delay: 16,
        };
        for s in [
            "left-asymmetric+delay=16",
            "Left-Asymmetric + delay = 16",
            "LEFT-ASYMMETRIC+DELAY=16",
        ] {
            assert_eq!(p(s), Some(hp), "{s}");
        }
        assert_eq!(
            p("left-asymmetric+delay=1"),
            Some(ParityLayout::plain(ParityAlgo::LeftAsymmetric))
        );
        for bad in [
            "left-asymmetric+delay=0",
            "left-asymmetric+delay=1025",
            "left-asymmetric+delay=",
            "left-asymmetric+delay=x",
            "left-asymmetric+wait=16",
            "left-asymmetric+16",
            "sideways+delay=16",
            "near=2",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert!(ParityGeometry::new(5, 4, ParityAlgo::LeftAsymmetric)
            .unwrap()
            .delayed(0)
            .is_err());
    }

    #[test]
    fn raid10_words() {
        let p = |s| Raid10Layout::parse(s).and_then(Raid10Layout::word);
        assert_eq!(p("near=2"), Some(0x102));
        assert_eq!(p("far=2"), Some(0x201));
        assert_eq!(p("offset=2"), Some(0x1_0201));
        assert_eq!(p("near=2, far=2"), Some(0x202));
        assert_eq!(p(""), Some(0x101));
        for bad in ["near=0", "wide=2", "near", "near=x"] {
            assert_eq!(Raid10Layout::parse(bad), None, "{bad}");
        }
        assert_eq!(p("near=256"), None);
    }

    proptest! {
        #[test]
        fn raid10_words_round_trip(near in 1u32..=255, far in 1u32..=255, offset: bool) {
            let words = if offset {
                format!("near={near}, offset={far}")
            } else {
                format!("near={near}, far={far}")
            };
            let l = Raid10Layout::parse(&words).unwrap();
            prop_assert_eq!(l, Raid10Layout { near, far, offset });
            let w = l.word().unwrap();
            prop_assert_eq!(w & 0xff, near);
            prop_assert_eq!((w >> 8) & 0xff, far);
        }
    }

    proptest! {
        /// Every stripe puts P, Q and the data on distinct members, and
        /// Q slots are distinct: logical chunks map one-to-one onto
        /// member chunks.
        #[test]
        fn parity_layouts_are_one_to_one(level in prop::sample::select(vec![4u8, 5, 6]), disks in 2u32..12, code in prop::sample::select(ALL.to_vec()), stripes in 0u64..50) {
            let Some(algo) = ParityAlgo::from_md(code) else { return Ok(()) };
            let Ok(g) = ParityGeometry::new(level, disks, algo) else { return Ok(()) };
            let mut seen = HashSet::new();
            for s in 0..stripes.max(1) + u64::from(disks) {
                let st = g.stripe(s);
                let mut members: Vec<u32> = st.data.clone();
                members.push(st.p);
                members.extend(st.q);
                members.sort_unstable();
                members.dedup();
                prop_assert_eq!(members.len() as u32, disks);
                prop_assert!(members.iter().all(|&m| m < disks));
                let mut slots = st.q_slot.clone();
                slots.sort_unstable();
                slots.dedup();
                prop_assert_eq!(slots.len(), st.q_slot.len());
                for &m in &st.data {
                    prop_assert!(seen.insert((m, s)));
                }
            }
        }

        /// Delayed parity: every (row, data index) has its own (member,
        /// row) cell, P and Q are never on a data cell of their row, and
        /// row r is the base algorithm's row r / delay.
        #[test]
        fn delayed_layouts_are_one_to_one(level in prop::sample::select(vec![5u8, 6]), disks in 3u32..10, code in prop::sample::select(ALL.to_vec()), delay in 1u32..70, rows in 1u64..400) {
            let Some(algo) = ParityAlgo::from_md(code) else { return Ok(()) };
            let Ok(base) = ParityGeometry::new(level, disks, algo) else { return Ok(()) };
            let g = base.clone().delayed(delay).unwrap();
            prop_assert_eq!(g.layout(), ParityLayout { algo, delay });
            let mut cells = HashSet::new();
            for row in 0..rows {
                let st = g.stripe(row);
                prop_assert_eq!(st, base.stripe(row / u64::from(delay)));
                prop_assert!(!st.data.contains(&st.p));
                if let Some(q) = st.q {
                    prop_assert!(q != st.p && !st.data.contains(&q));
                }
                for &m in &st.data {
                    prop_assert!(m < disks);
                    prop_assert!(cells.insert((m, row)), "data cell ({}, {}) twice", m, row);
                }
            }
            prop_assert_eq!(cells.len() as u64, rows * u64::from(g.data_disks()));
        }

        /// A delay of 1 is the base algorithm, row for row.
        #[test]
        fn delay_one_is_the_base(level in prop::sample::select(vec![4u8, 5, 6]), disks in 2u32..12, code in prop::sample::select(ALL.to_vec()), row in 0u64..10_000) {
            let Some(algo) = ParityAlgo::from_md(code) else { return Ok(()) };
            let Ok(base) = ParityGeometry::new(level, disks, algo) else { return Ok(()) };
            let one = ParityGeometry::with_layout(level, disks, ParityLayout::plain(algo)).unwrap();
            prop_assert_eq!(one.delay(), 1);
            prop_assert_eq!(one.stripe(row), base.stripe(row));
        }

        /// Layout names round trip.
        #[test]
        fn parity_layout_names_round_trip(code in prop::sample::select(ALL.to_vec()), delay in 1u32..=ParityLayout::MAX_DELAY) {
            let Some(algo) = ParityAlgo::from_md(code) else { return Ok(()) };
            let l = ParityLayout { algo, delay };
            prop_assert_eq!(ParityLayout::parse(&l.name()), Some(l));
        }

        /// RAID10: the copies of every chunk are on distinct (member, chunk)
        /// places, no place holds two chunks, and every place lies within
        /// what each member gives.
        #[test]
        fn raid10_is_one_to_one(disks in 2u32..9, near in 1u32..4, far in 1u32..4, offset in any::<bool>(), member_chunks in 1u64..60) {
            // md itself overlaps copies for offset layouts whose near copies
            // wrap around an odd member count; mdadm does not create those.
            if offset && near > 1 && far > 1 && disks % near != 0 {
                return Ok(());
            }
            let layout = near | far << 8 | if offset { 0x1_0000 } else { 0 };
            let Ok(g) = Raid10Geometry::from_md(disks, layout, member_chunks) else { return Ok(()) };
            let mut seen = HashSet::new();
            for c in 0..g.array_chunks {
                let copies = g.copies(c);
                prop_assert_eq!(copies.len() as u32, near * far);
                let devs: HashSet<u32> = copies.iter().map(|x| x.0).collect();
                prop_assert_eq!(devs.len() as u32, near * far);
                for (d, s) in copies {
                    prop_assert!(d < disks);
                    prop_assert!(s < member_chunks, "chunk {} copy at {} of {}", c, s, member_chunks);
                    prop_assert!(seen.insert((d, s)));
                }
            }
        }

        /// RAID0 zones: every array chunk has one place, places never
        /// repeat, and stay within each member's size.
        #[test]
        fn raid0_zones_are_one_to_one(sizes in proptest::collection::vec(1u64..40, 1..6), alternate in any::<bool>()) {
            let zones = raid0_zones(&sizes);
            let total: u64 = zones.iter().map(|z| z.chunks).sum();
            prop_assert_eq!(total, sizes.iter().sum::<u64>());
            let mut seen = HashSet::new();
            for c in 0..total {
                let (m, s) = raid0_locate(&zones, c, alternate).unwrap();
                prop_assert!(s < sizes[m as usize]);
                prop_assert!(seen.insert((m, s)));
            }
            prop_assert!(raid0_locate(&zones, total, alternate).is_none());
        }
    }
}
