//! The nine BIOS RAID readers against real members: util-linux's blkid test
//! images (the tail of a member disk each, xz-compressed), compared field by
//! field with what Debian's dmraid printed for them (`dmraid -n` and
//! `dmraid -r`, saved in tests/data/dmraid/, see the README there) and with
//! blkid's expected probe output beside each image.
//!
//! The images are not in the repository: they are read from
//! `$RECOVER_BLKID_SAMPLES` (default shared/peer/blkid beside the repository). Without
//! them, or without `xz`, the test says SKIPPED.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use recover_core::error::Result;
use recover_core::fs::Detail;
use recover_core::io::{open_source, MapPolicy, MemVolume, Volume, Zeros};
use recover_core::raid::metadata::{ArrayInfo, Level, MemberState, RaidFormat, RaidMetadata};
use recover_core::raid::{asr, hpt37x, hpt45x, jmicron, lsi, nvidia, promise, sil, via};

type Reader = fn(&dyn Volume) -> Option<Result<RaidMetadata>>;

/// Sample name, reader, format.
const SAMPLES: [(&str, Reader, RaidFormat); 9] = [
    ("adaptec", asr::read, RaidFormat::Bios("asr")),
    ("hpt37x", hpt37x::read, RaidFormat::Bios("hpt37x")),
    ("hpt45x", hpt45x::read, RaidFormat::Bios("hpt45x")),
    ("jmicron", jmicron::read, RaidFormat::Bios("jmicron")),
    ("lsi", lsi::read, RaidFormat::Bios("lsi")),
    ("nvidia", nvidia::read, RaidFormat::Bios("nvidia")),
    ("promise", promise::read, RaidFormat::Bios("promise")),
    ("silicon", sil::read, RaidFormat::Bios("sil")),
    ("via", via::read, RaidFormat::Bios("via")),
];

fn samples_dir() -> PathBuf {
    fixtures::peer::blkid_dir()
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dmraid")
}

/// The decompressed sample; `None` (after saying SKIPPED) when the sample
/// or xz is missing.
fn decompress(name: &str) -> Option<PathBuf> {
    fixtures::peer::blkid_raid_sample(name)
}

/// blkid's `ID_FS_*` lines for a sample.
fn blkid_expected(name: &str) -> HashMap<String, String> {
    let p = samples_dir().join(format!("{name}-raid.expected"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim_start_matches("ID_FS_").to_string(), v.to_string()))
        .collect()
}

/// `dmraid -n` fields: every "0xOFF key: value" line, as key → values in
/// order (some keys repeat, such as ASR's per-line fields).
struct Dump(HashMap<String, Vec<String>>);

impl Dump {
    fn read(name: &str) -> Dump {
        let p = data_dir().join(format!("{name}.dmraid-n.txt"));
        let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for line in String::from_utf8_lossy(&raw).lines() {
            let Some(rest) = line.strip_prefix("0x") else {
                continue;
            };
            let Some((_, field)) = rest.split_once(' ') else {
                continue;
            };
            // A few of nvidia's lines have no colon: "array->flags 0x0".
            let Some((k, v)) = field.split_once(':').or_else(|| field.rsplit_once(' ')) else {
                continue;
            };
            map.entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        }
        Dump(map)
    }

    fn all(&self, key: &str) -> &[String] {
        self.0
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("dmraid dump has no {key:?}"))
    }

    fn s(&self, key: &str) -> &str {
        &self.all(key)[0]
    }

    /// A number, decimal or 0x hex, from the value's first word.
    fn n(&self, key: &str) -> u64 {
        num(self.s(key))
    }
}

fn num(v: &str) -> u64 {
    let w = v.split([' ', ',']).next().unwrap();
    match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).unwrap(),
        None => w.parse().unwrap_or_else(|_| panic!("not a number: {v:?}")),
    }
}

/// `dmraid -r`: (set name, sectors, data offset).
fn dmraid_r(name: &str) -> (String, u64, u64) {
    let p = data_dir().join(format!("{name}.dmraid-r.txt"));
    let t = std::fs::read_to_string(&p).unwrap();
    let set = t.split('"').nth(1).unwrap().to_string();
    let sectors = t
        .split(", ")
        .find_map(|f| f.strip_suffix(" sectors"))
        .unwrap();
    let data = t.split("data@ ").nth(1).unwrap().trim();
    (set, sectors.parse().unwrap(), data.parse().unwrap())
}

fn detail<'a>(d: &'a [(&'static str, Detail)], key: &str) -> &'a Detail {
    &d.iter()
        .find(|(k, _)| *k == key)
        .unwrap_or_else(|| panic!("no detail {key}"))
        .1
}

fn text(d: &[(&'static str, Detail)], key: &str) -> String {
    match detail(d, key) {
        Detail::Text(t) => t.clone(),
        other => panic!("{key} is {other:?}"),
    }
}

fn number(d: &[(&'static str, Detail)], key: &str) -> u64 {
    match detail(d, key) {
        Detail::Number(n) => *n,
        Detail::Text(t) => num(t),
        other => panic!("{key} is {other:?}"),
    }
}

fn only(m: &RaidMetadata) -> &ArrayInfo {
    assert_eq!(m.arrays.len(), 1, "{:?}", m.arrays);
    &m.arrays[0].0
}

fn check(name: &str, m: &RaidMetadata, vol: &dyn Volume) {
    let d = Dump::read(name);
    let (set, _, data_at) = dmraid_r(name);
    let (a, r) = (&m.arrays[0].0, &m.arrays[0].1);
    assert_eq!(r.data_offset, data_at * 512, "{name}: data offset");
    let sectors = vol.len() / 512;
    match name {
        "adaptec" => {
            let a = only(m);
            assert_eq!(m.offset, (sectors - 1) * 512);
            assert_eq!(number(&m.details, "drivemagic"), d.n("drivemagic"));
            assert_eq!(number(&m.details, "raidtbl"), d.n("raidtbl @ sector"));
            assert_eq!(m.version, d.s("resver"));
            assert_eq!(number(&m.details, "rversion"), d.n("rversion"));
            assert_eq!(number(&m.details, "elmcnt"), d.n("configs"));
            assert_eq!(number(&m.details, "maxelm"), d.n("max configs"));
            assert_eq!(number(&m.details, "rchksum"), d.n("checksum"));
            assert_eq!(m.checksum_ok, Some(true));
            // The image is the disk's tail: the table pointer lies past its end.
            assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
            let ids = d.all("config ID");
            let names = d.all("name");
            assert_eq!(a.id, format!("{:08x}", num(&ids[0])));
            assert_eq!(a.name.as_deref(), Some(names[0].trim_matches('"')));
            assert_eq!(text(&a.details, "dmraid_set"), set);
            assert_eq!(u64::from(a.raid_disks), num(&d.all("raidcount")[0]));
            assert_eq!(a.array_size, Some(num(&d.all("capacity")[0]) * 512));
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(num(&d.all("type")[0]), 0);
            // this disk's line is the one whose config ID is the drivemagic
            let me = ids
                .iter()
                .position(|i| num(i) == d.n("drivemagic"))
                .unwrap();
            assert_eq!(a.member_size, Some(num(&d.all("capacity")[me]) * 512));
            let kb = num(&d.all("stripe size")[me]);
            assert_eq!(a.chunk_size, Some(kb * 1024));
            assert_eq!(m.device_id, Some(format!("{:08x}", d.n("drivemagic"))));
            assert_eq!(m.events, num(&d.all("sequence #")[0]));
            assert_eq!(r.slot, Some(0));
            assert_eq!(a.slots.len(), 4);
            assert_eq!(a.state, "optimal");
        }
        "hpt37x" => {
            assert_eq!(m.offset, 9 * 512);
            assert_eq!(number(&m.details, "magic"), d.n("magic"));
            assert_eq!(number(&a.details, "magic_0"), d.n("magic_0"));
            assert_eq!(number(&a.details, "magic_1"), d.n("magic_1"));
            assert_eq!(number(&a.details, "order"), d.n("order"));
            assert_eq!(u64::from(a.raid_disks), d.n("raid_disks"));
            assert_eq!(a.chunk_size, Some((1 << d.n("raid0_shift")) * 512));
            assert_eq!(d.n("type"), 0);
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(r.slot, Some(d.n("disk_number") as u32));
            assert_eq!(a.array_size, Some(d.n("total_secs") * 512));
            for k in [
                "boot_disk",
                "boot_protect",
                "error_log_entries",
                "error_log_index",
            ] {
                assert_eq!(number(&m.details, k), d.n(k), "{k}");
            }
            assert_eq!(number(&m.details, "disk_mode"), d.n("disk_mode"));
            assert_eq!(number(&m.details, "boot_mode"), d.n("boot_mode"));
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
            let (_, rs, _) = dmraid_r(name);
            assert_eq!(r.data_size, Some(rs * 512));
        }
        "hpt45x" => {
            assert_eq!(m.offset, (sectors - 11) * 512);
            assert_eq!(number(&m.details, "magic"), d.n("magic"));
            assert_eq!(number(&m.details, "magic_0"), d.n("magic_0"));
            assert_eq!(number(&a.details, "magic_1"), d.n("magic_1"));
            assert_eq!(a.array_size, Some(d.n("total_secs") * 512));
            assert_eq!(d.n("type"), 5);
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(u64::from(a.raid_disks), d.n("raid_disks"));
            assert_eq!(r.slot, Some(d.n("disk_number") as u32));
            assert_eq!(a.chunk_size, Some((1 << d.n("raid0_shift")) * 512));
            for k in [
                "raid1_type",
                "raid1_raid_disks",
                "raid1_disk_number",
                "raid1_shift",
            ] {
                assert_eq!(number(&a.details, k), d.n(k), "{k}");
            }
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
            let (_, rs, _) = dmraid_r(name);
            assert_eq!(r.data_size, Some(rs * 512));
        }
        "jmicron" => {
            assert_eq!(m.offset, (sectors - 1) * 512);
            assert_eq!(m.version, "0.1");
            assert_eq!(d.s("version"), "01");
            assert_eq!(number(&m.details, "checksum"), d.n("checksum"));
            assert_eq!(m.checksum_ok, Some(true));
            assert_eq!(number(&m.details, "identity"), d.n("identity"));
            assert_eq!(number(&m.details, "base"), d.n("base"));
            assert_eq!(number(&m.details, "range"), d.n("range"));
            assert_eq!(number(&m.details, "range2"), d.n("range2"));
            assert_eq!(a.name.as_deref(), Some(d.s("name").trim_matches('"')));
            // dmraid prints the mode byte under a second "name" label
            assert_eq!(number(&a.details, "mode"), num(&d.all("name")[1]));
            assert_eq!(number(&a.details, "block"), d.n("block"));
            assert_eq!(number(&a.details, "attribute"), d.n("attribute"));
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(a.chunk_size, Some((2 << d.n("block")) * 512));
            let members: Vec<u64> = (0..8).map(|i| d.n(&format!("member[{i}]"))).collect();
            assert_eq!(
                u64::from(a.raid_disks),
                members.iter().filter(|&&w| w != 0).count() as u64
            );
            let me = members
                .iter()
                .position(|&w| w & !0xF == d.n("identity") & !0xF);
            assert_eq!(r.slot, me.map(|s| s as u32));
            assert_eq!(text(&a.details, "dmraid_set"), set);
            let (_, rs, _) = dmraid_r(name);
            assert_eq!(r.data_size, Some(rs * 512));
        }
        "lsi" => {
            assert_eq!(m.offset, (sectors - 1) * 512);
            assert_eq!(m.events, d.n("seqno"));
            assert_eq!(number(&m.details, "type"), d.n("type"));
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(a.chunk_size, Some(d.n("stride") * 512));
            assert_eq!(number(&m.details, "set_id"), d.n("set_id"));
            // the last disk_number / set_number lines are the sector's own
            let dn = num(d.all("disk_number").last().unwrap());
            let sn = num(d.all("set_number").last().unwrap());
            assert_eq!(number(&m.details, "disk_number"), dn);
            assert_eq!(number(&m.details, "set_number"), sn);
            assert_eq!(r.slot, Some((sn * 2 + dn) as u32));
            let slot = (sn * 2 + dn) as usize;
            assert_eq!(
                number(&a.details, "raid10_stripe"),
                d.n(&format!("disks[{slot}].raid10_stripe"))
            );
            assert_eq!(
                number(&a.details, "raid10_mirror"),
                d.n(&format!("disks[{slot}].raid10_mirror"))
            );
            assert_eq!(a.id, format!("{:08x}", d.n("set_id")));
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
        }
        "nvidia" => {
            assert_eq!(m.offset, (sectors - 2) * 512);
            assert_eq!(m.version, d.s("version"));
            assert_eq!(m.checksum_ok, Some(true));
            assert_eq!(number(&m.details, "chksum"), d.n("chksum"));
            assert_eq!(number(&m.details, "unitNumber"), d.n("unitNumber"));
            assert_eq!(r.slot, Some(d.n("unitNumber") as u32));
            assert_eq!(a.array_size, Some(d.n("capacity") * 512));
            assert_eq!(number(&m.details, "sectorSize"), d.n("sectorSize"));
            assert_eq!(text(&m.details, "productID"), d.s("productID"));
            let sig: Vec<String> = (0..4)
                .map(|i| format!("{:08x}", d.n(&format!("array->signature[{i}]"))))
                .collect();
            assert_eq!(a.id, sig.join(":"));
            assert_eq!(number(&a.details, "raidLevel"), d.n("array->raidLevel"));
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(number(&a.details, "stripeWidth"), d.n("array->stripeWidth"));
            assert_eq!(
                number(&a.details, "totalVolumes"),
                d.n("array->totalVolumes")
            );
            assert_eq!(u64::from(a.raid_disks), d.n("array->stripeWidth"));
            assert_eq!(a.chunk_size, Some(d.n("array->stripeBlockByteSize")));
            assert_eq!(number(&a.details, "stripeSize"), d.n("array->stripeSize"));
            assert_eq!(number(&a.details, "raidJobCode"), d.n("array->raidJobCode"));
            assert_eq!(number(&a.details, "flags"), d.n("array->flags"));
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
            assert_eq!(a.state, "ok");
        }
        "promise" => {
            let a = only(m);
            assert_eq!(m.offset, (sectors - 63) * 512);
            assert_eq!(m.checksum_ok, Some(true));
            assert!(d.s("checksum").ends_with("Ok"));
            assert_eq!(number(&m.details, "checksum"), d.n("checksum"));
            assert_eq!(number(&m.details, "magic_0"), d.n("magic_0"));
            assert_eq!(number(&m.details, "magic_1"), d.n("magic_1"));
            assert_eq!(number(&m.details, "raid_magic_0"), d.n("raid.magic_0"));
            assert_eq!(a.id, format!("{:08x}", d.n("raid.magic_1")));
            assert_eq!(u64::from(a.raid_disks), d.n("raid.total_disks"));
            assert_eq!(r.slot, Some(d.n("raid.disk_number") as u32));
            assert_eq!(a.array_size, Some(d.n("raid.total_secs") * 512));
            assert_eq!(a.chunk_size, Some((1 << d.n("raid.raid0_shift")) * 512));
            assert_eq!(d.n("raid.type"), 0);
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(number(&a.details, "start"), d.n("raid.start"));
            assert_eq!(number(&a.details, "disk_secs"), d.n("raid.disk_secs"));
            assert_eq!(number(&a.details, "status"), d.n("raid.status"));
            assert_eq!(
                text(&a.details, "geometry"),
                format!(
                    "{}/{}/{}",
                    d.n("raid.cylinders"),
                    d.n("raid.heads"),
                    d.n("raid.sectors")
                )
            );
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
            let (_, rs, _) = dmraid_r(name);
            assert_eq!(r.data_size, Some(rs * 512));
        }
        "silicon" => {
            assert_eq!(m.offset, (sectors - 1) * 512);
            assert_eq!(m.checksum_ok, Some(true));
            assert_eq!(number(&m.details, "checksum1"), d.n("checksum1"));
            assert_eq!(number(&m.details, "checksum2"), d.n("checksum2"));
            assert_eq!(
                m.version,
                format!("{}.{}", d.n("major_ver"), d.n("minor_ver"))
            );
            assert_eq!(m.events, d.n("incarnation_no"));
            assert_eq!(a.array_size, Some(d.n("array_sectors_low") * 512));
            assert_eq!(
                number(&m.details, "thisdisk_sectors"),
                d.n("thisdisk_sectors")
            );
            assert_eq!(number(&m.details, "product_id"), d.n("product_id"));
            assert_eq!(number(&m.details, "vendor_id"), d.n("vendor_id"));
            assert_eq!(a.chunk_size, Some(d.n("raid0_stride") * 512));
            assert_eq!(r.slot, Some(d.n("disk_number") as u32));
            assert_eq!(number(&m.details, "type"), d.n("type"));
            assert_eq!(a.level, Level::Raid10);
            assert_eq!(u64::from(a.raid_disks), d.n("drives_per_striped_set"));
            assert_eq!(
                text(&a.details, "mirrored_set_number"),
                d.s("mirrored_set_number")
            );
            assert_eq!(
                text(&a.details, "striped_set_number"),
                d.s("striped_set_number")
            );
            assert_eq!(
                number(&a.details, "mirrored_set_state"),
                d.n("mirrored_set_state")
            );
            for k in [
                "member_status",
                "reported_device_location",
                "idechannel",
                "auto_rebuild",
            ] {
                assert_eq!(number(&m.details, k), d.n(k), "{k}");
            }
            let created = format!(
                "20{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
                d.n("year"),
                d.n("month"),
                d.n("day"),
                d.n("hour"),
                d.n("minutes"),
                d.n("seconds")
            );
            assert_eq!(text(&m.details, "created"), created);
            assert!(d
                .s("text_type")
                .starts_with(&format!("\"{}", text(&m.details, "text_type"))));
            assert_eq!(text(&a.details, "dmraid_subset"), set);
            // dmraid: "only 2/4 metadata areas found"
            assert_eq!(text(&m.details, "valid_areas"), "1,2");
            // The image is shorter than the disk the metadata describes.
            assert!(m.problems.iter().any(|p| p.offset == Some(m.offset + 0x78)));
        }
        "via" => {
            assert_eq!(m.offset, (sectors - 1) * 512);
            assert_eq!(m.version, d.s("version_number"));
            assert_eq!(m.checksum_ok, Some(true));
            assert_eq!(number(&m.details, "checksum"), d.n("checksum"));
            assert_eq!(a.array_size, Some(d.n("array.capacity_low") * 512));
            assert_eq!(
                number(&a.details, "disk_array_ex"),
                d.n("array.disk_array_ex")
            );
            assert_eq!(u64::from(a.raid_disks), d.n("array.disk_array_ex") & 7);
            assert_eq!(
                a.chunk_size,
                Some((8 << (d.n("array.disk_array_ex") >> 4)) * 512)
            );
            assert_eq!(d.n("array.disk.raid_type"), 0);
            assert_eq!(a.level, Level::Raid0);
            assert_eq!(r.slot, Some(d.n("array.disk.raid_type_info") as u32));
            assert_eq!(
                m.device_id,
                Some(format!("{:08x}", d.n("array.serial_checksum")))
            );
            assert_eq!(
                detail(&m.details, "bootable"),
                &Detail::Flag(d.n("array.disk.bootable") == 1)
            );
            assert_eq!(
                detail(&m.details, "in_disk_array"),
                &Detail::Flag(d.n("array.disk.in_disk_array") == 1)
            );
            let serials: Vec<Option<String>> = (0..2)
                .map(|i| Some(format!("{:08x}", d.n(&format!("serial_checksum[{i}]")))))
                .collect();
            assert_eq!(a.slots, serials);
            assert_eq!(a.name.as_deref(), Some(set.as_str()));
        }
        other => panic!("no checks for {other}"),
    }
    assert_eq!(r.state, MemberState::Active, "{name}");
}

#[test]
fn samples_match_dmraid_and_blkid() {
    let mut checked = 0;
    let mut vols = Vec::new();
    for (name, _, _) in SAMPLES {
        let Some(path) = decompress(name) else {
            continue;
        };
        let src = open_source(&path, MapPolicy::Auto).unwrap();
        vols.push((name, src.volume));
    }
    for (name, vol) in &vols {
        let (_, read, format) = SAMPLES.iter().find(|s| s.0 == *name).unwrap();
        let m = read(vol.as_ref())
            .unwrap_or_else(|| panic!("{name}: not recognized"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.format, *format);
        assert_eq!(m.sector_size, 512);
        for (a, _) in &m.arrays {
            assert_eq!(a.format, *format);
        }
        let blkid = blkid_expected(name);
        assert_eq!(blkid["USAGE"], "raid");
        let want_type = match format {
            RaidFormat::Bios("asr") => "adaptec_raid_member",
            RaidFormat::Bios("hpt37x") => "hpt37x_raid_member",
            RaidFormat::Bios("hpt45x") => "hpt45x_raid_member",
            RaidFormat::Bios("jmicron") => "jmicron_raid_member",
            RaidFormat::Bios("lsi") => "lsi_mega_raid_member",
            RaidFormat::Bios("nvidia") => "nvidia_raid_member",
            RaidFormat::Bios("promise") => "promise_fasttrack_raid_member",
            RaidFormat::Bios("sil") => "silicon_medley_raid_member",
            RaidFormat::Bios("via") => "via_raid_member",
            other => panic!("{other:?}"),
        };
        assert_eq!(blkid["TYPE"], want_type, "{name}");
        match blkid.get("VERSION") {
            Some(v) => assert_eq!(&m.version, v, "{name}: version"),
            None => assert_eq!(m.version, "", "{name}: blkid prints no version"),
        }
        assert_eq!(
            m.blkid_uuid.as_deref(),
            blkid.get("UUID").map(String::as_str)
        );
        check(name, &m, vol.as_ref());
        // No other reader takes this member for one of its own.
        for (other, read_other, _) in SAMPLES {
            if other != *name {
                assert!(
                    read_other(vol.as_ref()).is_none(),
                    "{other} reader claims the {name} sample"
                );
            }
        }
        checked += 1;
    }
    eprintln!("dmraid samples checked: {checked} of {}", SAMPLES.len());
}

#[test]
fn nothing_on_zeros() {
    for size in [0u64, 511, 512, 4096, 64 * 1024, 3 * 1024 * 1024] {
        let z = Zeros::new(size, "zeros".into());
        let m = MemVolume::new("mem", vec![0u8; size as usize]);
        for (name, read, _) in SAMPLES {
            assert!(read(&z).is_none(), "{name} on {size} zero bytes");
            assert!(read(&m).is_none(), "{name} on {size} zero bytes in memory");
        }
    }
}
