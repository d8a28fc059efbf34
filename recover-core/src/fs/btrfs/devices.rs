//! The devices of one Btrfs filesystem, gathered from volumes: each
//! device's superblock names its filesystem (fsid, superblock 0x20) and
//! itself (dev_item.devid, 0xC9); of two copies of one devid the newer
//! generation (0x48) is kept. [`DeviceSet`] carries a gathered set as one
//! volume for the node tree; the reader opens it as the set.

use std::collections::BTreeMap;

use crate::bytes::uuid_str;
use crate::error::{Error, Result};
use crate::fs::filesystem::ProblemLog;
use crate::io::{Concat, Origins, Volume, VolumeRef};
use crate::problem::Problem;

use super::sb::Superblock;

/// More devices than this in one set is damage (the kernel has no such
/// limit, but a chunk holds at most 2048 stripes).
pub const MAX_DEVICES: usize = 4096;

/// A device of the set: its volume and superblock.
#[derive(Debug, Clone)]
pub struct Member {
    /// The device.
    pub vol: VolumeRef,
    /// Its newest valid superblock.
    pub sb: Superblock,
}

/// The devices gathered for one filesystem, by devid.
#[derive(Debug)]
pub struct Gathered {
    /// The superblock with the newest generation: its trees are read.
    pub sb: Superblock,
    /// The devices, by devid.
    pub members: BTreeMap<u64, Member>,
}

/// Gathers the devices of one filesystem from `vols`: the filesystem most
/// of them hold (the newest, of two as common); volumes of another filesystem, with
/// no superblock, or older copies of a devid are reported and left out.
pub fn gather(vols: &[VolumeRef], problems: &ProblemLog) -> Result<Gathered> {
    let mut found: Vec<Member> = Vec::new();
    let mut first_err = None;
    for v in vols.iter().take(MAX_DEVICES) {
        match Superblock::read_best(v.as_ref(), problems) {
            Ok(sb) => found.push(Member { vol: v.clone(), sb }),
            Err(e) => {
                let e = e.within(&v.describe(), 0);
                if vols.len() > 1 {
                    problems.push(Problem::from_error(
                        crate::problem::Severity::Warning,
                        "Btrfs device",
                        &e,
                    ));
                }
                first_err.get_or_insert(e);
            }
        }
    }
    // The filesystem most of the volumes hold; of two as common, the one
    // written last. Its newest superblock is the one read.
    let count = |fsid: &[u8; 16]| found.iter().filter(|m| &m.sb.fsid == fsid).count();
    let Some(best) = found
        .iter()
        .max_by_key(|m| (count(&m.sb.fsid), m.sb.generation))
        .cloned()
    else {
        return Err(
            first_err.unwrap_or_else(|| Error::corrupt("Btrfs superblock", 0, "no device given"))
        );
    };
    let mut members: BTreeMap<u64, Member> = BTreeMap::new();
    for m in found {
        if m.sb.fsid != best.sb.fsid {
            problems.push(Problem::warning(
                "Btrfs device",
                None,
                format!(
                    "{} holds another Btrfs filesystem ({}); left out",
                    m.vol.describe(),
                    uuid_str(&m.sb.fsid)
                ),
            ));
            continue;
        }
        let devid = m.sb.devid;
        match members.get(&devid) {
            Some(old) if old.sb.generation >= m.sb.generation => {
                problems.push(older(&m, old));
            }
            Some(old) => {
                problems.push(older(old, &m));
                members.insert(devid, m);
            }
            None => {
                members.insert(devid, m);
            }
        }
    }
    for m in members.values() {
        if m.sb.generation < best.sb.generation {
            problems.push(Problem::warning(
                "Btrfs device",
                Some(m.sb.offset + 0x48),
                format!(
                    "devid {} ({}) is at generation {}, the filesystem at {}: \
                     it missed later writes, and its copies are checked by checksum",
                    m.sb.devid,
                    m.vol.describe(),
                    m.sb.generation,
                    best.sb.generation
                ),
            ));
        }
    }
    Ok(Gathered {
        sb: best.sb,
        members,
    })
}

fn older(left: &Member, kept: &Member) -> Problem {
    Problem::warning(
        "Btrfs device",
        Some(left.sb.offset + 0x48),
        format!(
            "two copies of devid {}: {} at generation {} is left out for {} at generation {}",
            left.sb.devid,
            left.vol.describe(),
            left.sb.generation,
            kept.vol.describe(),
            kept.sb.generation
        ),
    )
}

/// A gathered set of devices as one volume: its bytes are the devices one
/// after another in devid order (what `extract` of the node gives); the
/// Btrfs reader opens it as the set.
#[derive(Debug)]
pub struct DeviceSet {
    devices: Vec<(u64, VolumeRef)>,
    whole: Concat,
}

impl DeviceSet {
    /// `devices` as (devid, volume), in devid order.
    pub fn new(mut devices: Vec<(u64, VolumeRef)>, name: String) -> DeviceSet {
        devices.sort_by_key(|(d, _)| *d);
        let whole = Concat::new(devices.iter().map(|(_, v)| v.clone()).collect(), name);
        DeviceSet { devices, whole }
    }

    /// The devices, as (devid, volume), in devid order.
    pub fn devices(&self) -> &[(u64, VolumeRef)] {
        &self.devices
    }
}

impl Volume for DeviceSet {
    fn len(&self) -> u64 {
        self.whole.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.whole.read_at(offset, buf)
    }

    fn describe(&self) -> String {
        self.whole.describe()
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        self.whole.origins(offset, len)
    }

    fn bad_ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.whole.bad_ranges()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
