//! md level and layout numbers and their names (linux/raid/md_p.h levels;
//! drivers/md/raid5.h ALGORITHM_*; the RAID10 layout word of raid10.c
//! setup_geo), spelled the way mdadm --examine spells them.

use crate::raid::metadata::{Layout, Level};

/// The neutral level for an md level number.
pub fn level(n: i32) -> Level {
    match n {
        -1 => Level::Linear,
        0 => Level::Raid0,
        1 => Level::Raid1,
        4 => Level::Raid4,
        5 => Level::Raid5,
        6 => Level::Raid6,
        10 => Level::Raid10,
        other => Level::Other(other),
    }
}

/// mdadm's name for an md level number.
pub fn level_name(n: i32) -> String {
    match n {
        -1 => "linear".into(),
        -4 => "multipath".into(),
        -5 => "faulty".into(),
        0 | 1 | 4 | 5 | 6 | 10 => format!("raid{n}"),
        _ => "-unknown-".into(),
    }
}

/// Names of the RAID4/5/6 algorithms (raid5.h ALGORITHM_*).
pub fn parity_layout_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0 => "left-asymmetric",
        1 => "right-asymmetric",
        2 => "left-symmetric",
        3 => "right-symmetric",
        4 => "parity-first",
        5 => "parity-last",
        8 => "ddf-zero-restart",
        9 => "ddf-N-restart",
        10 => "ddf-N-continue",
        16 => "left-asymmetric-6",
        17 => "right-asymmetric-6",
        18 => "left-symmetric-6",
        19 => "right-symmetric-6",
        20 => "parity-first-6",
        _ => return None,
    })
}

/// The RAID10 layout word as mdadm prints it: near copies in bits 0-7, far
/// copies in bits 8-15, bit 16 for "offset" (far copies one chunk apart).
pub fn raid10_layout_name(code: u32) -> String {
    let near = code & 0xff;
    let far = (code >> 8) & 0xff;
    let offset = code & 0x1_0000 != 0;
    let mut parts = Vec::new();
    if near > 1 {
        parts.push(format!("near={near}"));
    }
    if far > 1 {
        parts.push(format!("{}={far}", if offset { "offset" } else { "far" }));
    }
    if near * far == 1 {
        return "NO REDUNDANCY".into();
    }
    parts.join(", ")
}

/// The layout of an md array of level `lvl` with layout word `code`.
pub fn layout(lvl: i32, code: u32) -> Layout {
    let (native_name, neutral) = match lvl {
        4..=6 => {
            let n = parity_layout_name(code).unwrap_or("-unknown-");
            // RAID4 places parity on the last disk whatever the word says.
            let neutral = if lvl == 4 { "parity-last" } else { n };
            (n.to_string(), neutral.to_string())
        }
        10 => {
            let n = raid10_layout_name(code);
            (n.clone(), n)
        }
        0 => {
            let n = match code {
                1 => "original",
                2 => "alternate",
                _ => "",
            };
            (n.to_string(), n.to_string())
        }
        _ => (String::new(), String::new()),
    };
    Layout {
        native: if native_name.is_empty() {
            format!("{code}")
        } else {
            format!("{native_name} ({code})")
        },
        neutral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(raid10_layout_name(0x102), "near=2");
        assert_eq!(raid10_layout_name(0x201), "far=2");
        assert_eq!(raid10_layout_name(0x10201), "offset=2");
        assert_eq!(raid10_layout_name(0x202), "near=2, far=2");
        assert_eq!(layout(5, 2).neutral, "left-symmetric");
        assert_eq!(layout(6, 9).neutral, "ddf-N-restart");
        assert_eq!(layout(4, 5).native, "parity-last (5)");
        assert_eq!(level_name(-1), "linear");
    }
}
