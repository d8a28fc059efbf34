//! VHD and VDI images as qemu-img makes them, and where their guest bytes
//! come from: with ranges of the image file reported unreadable, the disk
//! reports exactly the guest bytes `qemu-img map` stores there.

mod common;
use common::open_file as file;
use common::{assert_unreadable, guest_in, qemu_map, Probe};

use fixtures::qcow2_image::other_image;
use recover_core::image::vdi::Vdi;
use recover_core::image::vhd::Vhd;

/// A long run a third of the way into the file, and one byte two thirds in.
fn bad_in(file_len: u64) -> Vec<std::ops::Range<u64>> {
    let (a, b) = (file_len / 3, file_len / 3 * 2 + 12345);
    vec![a..a + 300_001, b..b + 1]
}

#[test]
fn vhd_blocks_carry_the_files_origins() {
    for sub in ["dynamic", "fixed"] {
        let Some((img, _)) = other_image("vpc", &format!("subformat={sub}")) else {
            return;
        };
        let map = qemu_map(&img, "vpc");
        let f = file(&img);
        let bad = bad_in(f.len());
        let (_, disk, _) = Vhd::open(Probe::new(f, bad.clone()), None).unwrap();
        assert_unreadable(sub, disk.as_ref(), &guest_in(&map, 0, &bad));
    }
}

#[test]
fn vdi_blocks_carry_the_files_origins() {
    for opts in ["static=off", "static=on"] {
        let Some((img, _)) = other_image("vdi", opts) else {
            return;
        };
        let map = qemu_map(&img, "vdi");
        let f = file(&img);
        let bad = bad_in(f.len());
        let disk = Vdi::open(Probe::new(f, bad.clone())).unwrap();
        assert_unreadable(opts, disk.as_ref(), &guest_in(&map, 0, &bad));
    }
}
