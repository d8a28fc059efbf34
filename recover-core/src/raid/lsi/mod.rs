//! LSI Logic MegaRAID IDE BIOS RAID (dmraid "lsi"): one "$XIDE$" sector at
//! the end of every member, no checksum. set_id ties the members; the
//! record at set_number * 2 + disk_number of the disk table describes this
//! disk. Data starts at sector 0 (dmraid lsi.h: LSI_DATAOFFSET).

#![deny(clippy::indexing_slicing)]

pub mod raw;

use crate::error::{Error, Result};
use crate::ident::Detail;
use crate::io::Volume;
use crate::raid::ataraid::{self, bytes};
use crate::raid::metadata::{Level, MemberState, RaidFormat, RaidMetadata};

pub use raw::Lsi;

/// dmraid's set name: "lsi_", set_id and set_number in decimal, digits as letters.
pub fn set_name(l: &Lsi) -> String {
    format!(
        "lsi_{}",
        ataraid::alpha_digits(&format!("{}{}", l.set_id, l.set_number))
    )
}

/// Builds the neutral description from a parsed sector found at `offset`.
pub fn describe(l: &Lsi, offset: u64) -> Result<RaidMetadata> {
    let slot = l.slot();
    let me = *l.disks.get(slot).ok_or_else(|| {
        Error::corrupt(
            "LSI metadata",
            offset + 0x1F0,
            format!(
                "set_number {} and disk_number {} point at disk record {slot}, past the {}",
                l.set_number,
                l.disk_number,
                raw::MAX_DISKS
            ),
        )
    })?;
    let mut m = ataraid::metadata(RaidFormat::Bios("lsi"), String::new(), offset);
    m.events = u64::from(l.seqno);
    let (level, native, disks) = match l.kind {
        1 => (Level::Raid0, "RAID0", 2),
        2 => (Level::Raid1, "RAID1", 2),
        3 => (Level::Raid10, "RAID10 (mirrored stripe sets)", 4),
        n => (Level::Other(i32::from(n)), "unknown", 0),
    };
    let mut a = ataraid::array(
        RaidFormat::Bios("lsi"),
        format!("{:08x}", l.set_id),
        level,
        disks,
    );
    a.name = Some(set_name(l));
    a.layout = ataraid::layout(format!("type {} ({native})", l.kind), "");
    if matches!(level, Level::Raid0 | Level::Raid10) && l.stride != 0 {
        a.chunk_size = Some(bytes(u64::from(l.stride)));
    }
    a.state = "ok".into();
    a.details = vec![
        ("stride", Detail::Number(u64::from(l.stride))),
        ("set_number", Detail::Number(u64::from(l.set_number))),
        ("raid10_stripe", Detail::Number(u64::from(me.raid10_stripe))),
        ("raid10_mirror", Detail::Number(u64::from(me.raid10_mirror))),
    ];
    let role = ataraid::member(
        Some(slot as u32), // ok: < 4
        0,
        None,
        if me.offline != 0 {
            MemberState::Faulty
        } else {
            MemberState::Active
        },
    );
    m.arrays.push((a, role));
    let table = l
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "[{i}] stripe={} mirror={} magic_0={:#x} magic_1={:#x} disk={} set={} offline={}",
                d.raid10_stripe,
                d.raid10_mirror,
                d.magic_0,
                d.magic_1,
                d.disk_number,
                d.set_number,
                d.offline
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    m.details = vec![
        ("seqno", Detail::Number(u64::from(l.seqno))),
        ("type", Detail::Number(u64::from(l.kind))),
        ("disk_number", Detail::Number(u64::from(l.disk_number))),
        ("set_number", Detail::Number(u64::from(l.set_number))),
        ("set_id", Detail::Number(u64::from(l.set_id))),
        ("dummy", Detail::Number(u64::from(l.dummy))),
        ("dummy2", Detail::Text(format!("{:#x}", l.dummy2))),
        ("dummy3", Detail::Text(format!("{:#x}", l.dummy3))),
        ("dummy4", Detail::Number(u64::from(l.dummy4))),
        ("disks", Detail::Text(table)),
    ];
    Ok(m)
}

/// Reads the "$XIDE$" sector at the end: `None` without the signature,
/// an error when this disk's record index falls outside the disk table.
pub fn read(vol: &dyn Volume) -> Option<Result<RaidMetadata>> {
    let (off, b) = ataraid::read_from_end(vol, 1, raw::SIZE)?;
    let l = Lsi::parse(&b)?;
    Some(describe(&l, off))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;

    const AT: usize = 3 * 512;

    fn golden() -> Vec<u8> {
        let mut d = vec![0u8; 4 * 512];
        let b = &mut d[AT..];
        b[..6].copy_from_slice(raw::MAGIC);
        b[7] = 4;
        b[0x10] = 1;
        b[0x12..0x14].copy_from_slice(&128u16.to_le_bytes());
        b[0x30] = 0x21;
        b[0x36] = 1;
        b[0x1F0] = 1;
        b[0x1F2..0x1F6].copy_from_slice(&994_107_776u32.to_le_bytes());
        d
    }

    fn read_bytes(d: Vec<u8>) -> Option<Result<RaidMetadata>> {
        read(&MemVolume::new("t", d))
    }

    #[test]
    fn golden_block() {
        let m = read_bytes(golden()).unwrap().unwrap();
        assert_eq!(m.events, 4);
        let (a, r) = &m.arrays[0];
        assert_eq!(a.level, Level::Raid0);
        assert_eq!(a.chunk_size, Some(65536));
        assert_eq!(a.name.as_deref(), Some("lsi_jjebahhhga"));
        assert_eq!(r.slot, Some(1));
        assert!(a.details.contains(&("raid10_mirror", Detail::Number(2))));
    }

    #[test]
    fn flipped_fields() {
        let mut d = golden();
        d[AT] = 0;
        assert!(read_bytes(d).is_none());
        let mut d = golden();
        d[AT + 0x1F1] = 200;
        let e = read_bytes(d).unwrap().unwrap_err();
        assert_eq!(e.offset(), Some(AT as u64 + 0x1F0));
    }

    #[test]
    fn truncation_never_panics() {
        let d = golden();
        for len in [0, 6, 511, 512, 1000] {
            let _ = read_bytes(d[d.len() - len..].to_vec());
        }
    }
}
