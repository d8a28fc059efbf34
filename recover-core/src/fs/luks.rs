//! LUKS identification.
//!
//! LUKS1 (cryptsetup "LUKS On-Disk Format Specification" 1.2.3, big-endian):
//! magic "LUKS\xba\xbe" at 0, version 6, cipher name 8, cipher mode 40, hash
//! 72, payload offset (sectors) 104, key bytes 108, uuid (text) 168.
//! LUKS2 (LUKS2 On-Disk Format, §2): the same magic (or "SKUL\xba\xbe" for the
//! second header copy), version 6, header size 8, sequence id 16, label 24
//! (48 bytes), checksum algorithm 72, salt 104, uuid 168 (40 bytes),
//! subsystem 208, header offset 256.

use crate::bytes::{padded_str, Bytes};
use crate::ident::{corrupt, Detail, Identified, ProbeResult, Usage};
use crate::io::Volume;

/// Identifies a LUKS header at offset 0.
pub fn identify(head: &[u8], _vol: &dyn Volume) -> ProbeResult {
    let b = Bytes(head);
    if !b.has(0, b"LUKS\xba\xbe") {
        return None;
    }
    let version = b.be_u16(6)?;
    let mut id = Identified::new("luks", Usage::Crypto, 0);
    id.version = Some(version.to_string());
    id.uuid = padded_str(b.get(168, 40)?);
    match version {
        1 => {
            let cipher = padded_str(b.get(8, 32)?).unwrap_or_default();
            let mode = padded_str(b.get(40, 32)?).unwrap_or_default();
            id.detail("cipher", Detail::Text(format!("{cipher}-{mode}")));
            id.detail(
                "payload_offset",
                Detail::Number(u64::from(b.be_u32(104)?) * 512),
            );
            id.detail("key_bits", Detail::Number(u64::from(b.be_u32(108)?) * 8));
        }
        2 => {
            id.label = padded_str(b.get(24, 48)?);
            id.detail("header_size", Detail::Number(b.be_u64(8)?));
            id.detail("sequence_id", Detail::Number(b.be_u64(16)?));
            if let Some(sub) = padded_str(b.get(208, 48)?) {
                id.detail("subsystem", Detail::Text(sub));
            }
        }
        v => return corrupt("LUKS header", 6, format!("version {v} is neither 1 nor 2")),
    }
    Some(Ok(id))
}
