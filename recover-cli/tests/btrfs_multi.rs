//! Multi-device Btrfs through the CLI: `scan` of the device images shows
//! one filesystem node `btrfs/LABEL` listing its devices (and naming the
//! missing one), and `cp`, `ls` and `cat` of that node read across the
//! devices, complete and degraded.

mod common;

use common::{node, recover, scan_json};
use fixtures::btrfs_multi::{btrfs_multi, layout_named};
use fixtures::tree::manifest;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = fixtures::cache_dir().join(format!("cli-btrfs-multi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// RAID5 data over four devices: scanned, copied out whole, and again
/// with the third device missing.
#[test]
fn raid5_scan_cp_cat() {
    let l = layout_named("raid5");
    let Some(b) = btrfs_multi(&l, "raid5_scan_cp_cat") else {
        return;
    };
    let paths: Vec<&std::path::Path> = b.devices.iter().map(|p| p.as_path()).collect();
    let doc = scan_json(&paths, 0);
    let fs = node(&doc, "btrfs/raid5");
    assert_eq!(fs["kind"], "filesystem");
    assert_eq!(fs["format"], "btrfs");
    let text = fs.to_string();
    for i in 0..4 {
        assert!(
            text.contains(&format!("devid {}=d{i}/btrfs", i + 1)),
            "{text}"
        );
    }
    // Each device's own node says which filesystem it belongs to.
    assert!(node(&doc, "d0/btrfs").to_string().contains("btrfs/raid5"));

    for out_dev in [None, Some(2usize)] {
        let args: Vec<&str> = b
            .devices
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != out_dev)
            .map(|(_, p)| p.to_str().unwrap())
            .collect();
        if let Some(k) = out_dev {
            let sp: Vec<&std::path::Path> = args.iter().map(std::path::Path::new).collect();
            let doc = scan_json(&sp, 0);
            let fs = node(&doc, "btrfs/raid5");
            let text = fs.to_string();
            assert!(text.contains(&format!("devid {}", k + 1)), "{text}");
            assert!(text.contains("missing"), "{text}");
        }
        let out = scratch(&format!("{out_dev:?}"));
        let mut cp = vec!["cp"];
        cp.extend(&args);
        cp.extend(["--at", "btrfs/raid5:/", "-o", out.to_str().unwrap()]);
        let r = recover(&cp);
        assert!(r.code == 0 || out_dev.is_some(), "{}", r.stderr);
        let got = manifest(&out);
        for w in &b.manifest {
            let g = got
                .iter()
                .find(|g| g.path == w.path)
                .unwrap_or_else(|| panic!("{} copied ({out_dev:?}): {}", w.path, r.stderr));
            assert_eq!(
                (g.kind, g.size, &g.digest),
                (w.kind, w.size, &w.digest),
                "{}",
                w.path
            );
        }
        let mut cat = vec!["cat"];
        cat.extend(&args);
        cat.extend(["--at", "btrfs/raid5:/sv/note.txt"]);
        let r = recover(&cat);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, "inside the subvolume\n");
        let mut ls = vec!["ls"];
        ls.extend(&args);
        ls.extend(["--at", "btrfs/raid5:/"]);
        let r = recover(&ls);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains("big-random.bin") && r.stdout.contains("snap"),
            "{}",
            r.stdout
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
}
