//! `recover scan` of util-linux's nine BIOS RAID member samples (the
//! dmraid family): each shows its format as a RAID member and the array it
//! belongs to, with the name, level, chunk and position that Debian's
//! `dmraid -r`/`-n` print for the same image (their dumps are in
//! recover-core/tests/data/dmraid/; the field-by-field comparison of every
//! parsed field is recover-core/tests/dmraid.rs).

mod common;

use common::*;

/// (sample, format, member label, array level, chunk bytes, member slot)
/// as `dmraid -r` / `-n` give them (dmraid's set name without the format
/// prefix where the format stores a name of its own).
const SAMPLES: &[(&str, &str, &str, &str, u64, u64)] = &[
    ("adaptec", "asr", "ZERO", "raid0", 65536, 0),
    ("hpt37x", "hpt37x", "hpt37x_deghhhdgbi", "raid0", 65536, 0),
    ("hpt45x", "hpt45x", "hpt45x_dbagefdi", "raid0", 65536, 0),
    ("jmicron", "jmicron", "raid0", "raid0", 131072, 0),
    ("lsi", "lsi", "lsi_jjebahhhgb", "raid0", 65536, 2),
    ("nvidia", "nvidia", "nvidia_jdedhich", "raid0", 65536, 3),
    ("promise", "promise", "pdc_bjfeeibeeb", "raid0", 131072, 0),
    ("silicon", "sil", "sil_afahbicaejcd", "raid10", 65536, 0),
    ("via", "via", "via_djbccigdhe", "raid0", 65536, 0),
];

#[test]
fn each_bios_raid_sample_shows_its_format_and_array() {
    for &(sample, format, label, level, chunk, slot) in SAMPLES {
        let Some(img) = fixtures::peer::blkid_raid_sample(sample) else {
            continue;
        };
        // A member of an array whose other members are absent: exit 1 (the
        // array cannot be read), everything still printed.
        let doc = scan_json(&[img.as_path()], 1);
        let member = node(&doc, &format!("d0/{format}"));
        assert_eq!(member["format"], format, "{sample}");
        assert_eq!(member["usage"], "raid", "{sample}");
        assert_eq!(member["label"], label, "{sample}");
        // Checked where the format has a checksum (HighPoint and LSI have none).
        assert!(
            member["checksum"] == "ok" || member["checksum"].is_null(),
            "{sample}: {}",
            member["checksum"]
        );
        let array = node(&doc, &format!("{format}0"));
        assert_eq!(array["kind"], "array", "{sample}");
        assert_eq!(array["level"], level, "{sample}");
        assert_eq!(array["chunk_size"], chunk, "{sample}");
        assert_eq!(
            array["members"][0]["path"],
            format!("d0/{format}"),
            "{sample}"
        );
        assert_eq!(array["members"][0]["slot"], slot, "{sample}");
    }
}

/// No BIOS RAID reader claims a disk that is none of theirs: the other
/// fixtures scan as before.
#[test]
fn plain_disks_are_not_bios_raid_members() {
    let fx = fixtures::gpt_small();
    let doc = scan_json(&[fx.path.as_path()], 0);
    let text = doc.to_string();
    for (_, format, ..) in SAMPLES {
        assert!(
            !text.contains(&format!("\"format\":\"{format}\"")),
            "{format}: {text}"
        );
    }
}
