//! Linux swap identification.
//!
//! The signature sits in the last 10 bytes of the first page: "SWAPSPACE2"
//! (version 1) or "SWAP-SPACE" (the old version 0); hibernation replaces it
//! with "S1SUSPEND"/"S2SUSPEND"/"ULSUSPEND". The version-1 header follows
//! 1024 bytes of boot space (include/linux/swap.h, union swap_header):
//! version 1024, last_page 1028, nr_badpages 1032, uuid 1036, label 1052.

use crate::bytes::{padded_str, uuid_str, Bytes};
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

/// Page sizes swap is made with on Linux architectures.
const PAGE_SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Identifies a swap area at offset 0.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let b = Bytes(head);
    let (page, magic) = PAGE_SIZES.iter().find_map(|&p| {
        let tail = b.get(p - 10, 10)?;
        [
            &b"SWAPSPACE2"[..],
            b"SWAP-SPACE",
            b"S1SUSPEND\0",
            b"S2SUSPEND\0",
            b"ULSUSPEND\0",
        ]
        .into_iter()
        .find(|m| tail.starts_with(m.strip_suffix(b"\0").unwrap_or(m)))
        .map(|m| (p, m))
    })?;
    let mut id = Identified::new("swap", Usage::Swap, (page - 10) as u64);
    id.block_size = Some(page as u32); // ok: <= 64 KiB
    if magic == b"SWAP-SPACE" {
        id.version = Some("0".into());
        return Some(Ok(id));
    }
    if magic != b"SWAPSPACE2" {
        id.detail("hibernation_image", Detail::Flag(true));
    }
    // The header is in the writer's byte order.
    let (version, last_page) = match b.le_u32(1024)? {
        1 => (1, b.le_u32(1028)?),
        v if v.swap_bytes() == 1 => (1, b.be_u32(1028)?),
        v => return corrupt("swap header", 1024, format!("version {v} is not 1")),
    };
    id.version = Some(version.to_string());
    id.size = Some((u64::from(last_page) + 1) * page as u64);
    let uuid: [u8; 16] = b.array(1036)?;
    if uuid != [0; 16] {
        id.uuid = Some(uuid_str(&uuid));
    }
    id.label = padded_str(b.get(1052, 16)?);
    id.detail("page_size", Detail::Number(page as u64));
    Some(Ok(id))
}
