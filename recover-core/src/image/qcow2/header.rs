//! The qcow2 header, its extensions and the snapshot table (QEMU's
//! docs/interop/qcow2.txt), all big-endian.
//!
//! Header: magic "QFI\xfb" 0, version 4, backing_file_offset 8,
//! backing_file_size 16, cluster_bits 20, size 24, crypt_method 32,
//! l1_size 36, l1_table_offset 40, refcount_table_offset 48,
//! refcount_table_clusters 56, nb_snapshots 60, snapshots_offset 64; version
//! 3 adds incompatible_features 72, compatible_features 80,
//! autoclear_features 88, refcount_order 96, header_length 100 and
//! compression_type 104. Extensions follow the header (at 72 in version
//! 2): type and length (u32 each), data padded to 8 bytes, type 0 ends.

use crate::bytes::{padded_str, Bytes};

/// incompatible_features bits.
pub const INCOMPAT_DIRTY: u64 = 1;
/// The image was found corrupt by QEMU.
pub const INCOMPAT_CORRUPT: u64 = 2;
/// Guest data lives in an external file.
pub const INCOMPAT_EXTERNAL_DATA: u64 = 4;
/// compression_type is valid.
pub const INCOMPAT_COMPRESSION: u64 = 8;
/// L2 entries are 16 bytes with subcluster bitmaps.
pub const INCOMPAT_EXTENDED_L2: u64 = 16;
const KNOWN_INCOMPAT: u64 = 31;

/// Header extension types.
const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;
const EXT_DATA_FILE: u32 = 0x4441_5441;
const EXT_CRYPTO_HEADER: u32 = 0x0537_BE77;
const EXT_END: u32 = 0;
/// Extensions read before the walk stops (QEMU writes a handful).
const MAX_EXTENSIONS: usize = 64;

/// How compressed clusters are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Raw deflate (zlib without its header), 4 KiB window.
    Deflate,
    /// Zstandard frames.
    Zstd,
}

/// A parsed, checked header.
#[derive(Debug, Clone)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// log2 of the cluster size (9..=21).
    pub cluster_bits: u32,
    /// Virtual disk size in bytes.
    pub size: u64,
    /// 0 none, 1 AES-CBC, 2 LUKS.
    pub crypt_method: u32,
    /// L1 entries.
    pub l1_size: u32,
    /// Where the L1 table is.
    pub l1_table_offset: u64,
    /// Internal snapshots.
    pub nb_snapshots: u32,
    /// Where the snapshot table is.
    pub snapshots_offset: u64,
    /// incompatible_features.
    pub incompatible: u64,
    /// Cluster compression.
    pub compression: Compression,
    /// The backing file's name, as stored.
    pub backing_file: Option<String>,
    /// Its format, from the header extension.
    pub backing_format: Option<String>,
    /// The external data file's name.
    pub data_file: Option<String>,
    /// Where the refcount table is (cluster aligned).
    pub refcount_table_offset: u64,
    /// Its length in clusters.
    pub refcount_table_clusters: u32,
    /// log2 of the refcount width in bits (0..=6; 4 in version 2).
    pub refcount_order: u32,
    /// The full disk encryption header's offset and length, from its
    /// header extension (LUKS images).
    pub crypto_header: Option<(u64, u64)>,
}

impl Header {
    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Bytes per L2 entry.
    pub fn l2_entry_size(&self) -> u64 {
        if self.incompatible & INCOMPAT_EXTENDED_L2 != 0 {
            16
        } else {
            8
        }
    }

    /// L2 entries per table (a table is one cluster).
    pub fn l2_entries(&self) -> u64 {
        self.cluster_size() / self.l2_entry_size()
    }

    /// The method's name, for reports: "none", "aes", "luks".
    pub fn encryption(&self) -> Option<&'static str> {
        match self.crypt_method {
            0 => None,
            1 => Some("aes"),
            2 => Some("luks"),
            _ => Some("unknown"),
        }
    }
}

/// Parses the header from the image's first cluster (or more); errors
/// give the field's offset and what is wrong. `None` without the magic.
pub fn parse(head: &[u8]) -> Option<Result<Header, (u64, String)>> {
    let b = Bytes(head);
    if !b.has(0, b"QFI\xfb") {
        return None;
    }
    Some(parse_inner(b))
}

fn parse_inner(b: Bytes) -> Result<Header, (u64, String)> {
    let short = |at: u64| (at, "header truncated".to_string());
    let u32_at = |at: usize| b.be_u32(at).ok_or_else(|| short(at as u64));
    let u64_at = |at: usize| b.be_u64(at).ok_or_else(|| short(at as u64));
    let version = u32_at(4)?;
    if !(2..=3).contains(&version) {
        return Err((4, format!("version {version} (2 and 3 exist)")));
    }
    let cluster_bits = u32_at(20)?;
    if !(9..=21).contains(&cluster_bits) {
        return Err((20, format!("cluster_bits {cluster_bits} outside 9..=21")));
    }
    let size = u64_at(24)?;
    let (incompatible, header_length, compression_byte) = if version >= 3 {
        let hl = u32_at(100)?;
        if !(104..=(1 << cluster_bits)).contains(&hl) || hl % 8 != 0 {
            return Err((100, format!("header_length {hl}")));
        }
        let ct = if hl > 104 {
            b.u8(104).ok_or_else(|| short(104))?
        } else {
            0
        };
        (u64_at(72)?, hl as usize, ct)
    } else {
        (0, 72, 0)
    };
    if incompatible & !KNOWN_INCOMPAT != 0 {
        return Err((
            72,
            format!(
                "unknown incompatible features {:#x}",
                incompatible & !KNOWN_INCOMPAT
            ),
        ));
    }
    let compression = match (incompatible & INCOMPAT_COMPRESSION != 0, compression_byte) {
        (false, _) | (true, 0) => Compression::Deflate,
        (true, 1) => Compression::Zstd,
        (true, t) => return Err((104, format!("compression type {t}"))),
    };
    let l1_size = u32_at(36)?;
    let cluster = 1u64 << cluster_bits;
    let entry = if incompatible & INCOMPAT_EXTENDED_L2 != 0 {
        16
    } else {
        8
    };
    // One L1 entry maps an L2 table's worth of clusters; more entries than
    // the virtual size needs (with room for a resize) is damage, and the
    // table is read whole, so it is also capped outright.
    let span = (cluster / entry) * cluster;
    let needed = size.div_ceil(span);
    if u64::from(l1_size) < needed || l1_size > 1 << 25 {
        return Err((
            36,
            format!("l1_size {l1_size} for a {size}-byte disk ({needed} needed)"),
        ));
    }
    let mut h = Header {
        version,
        cluster_bits,
        size,
        crypt_method: u32_at(32)?,
        l1_size,
        l1_table_offset: u64_at(40)?,
        nb_snapshots: u32_at(60)?,
        snapshots_offset: u64_at(64)?,
        incompatible,
        compression,
        backing_file: None,
        backing_format: None,
        data_file: None,
        refcount_table_offset: u64_at(48)?,
        refcount_table_clusters: u32_at(56)?,
        refcount_order: if version >= 3 { u32_at(96)? } else { 4 },
        crypto_header: None,
    };
    if h.refcount_order > 6 {
        return Err((
            96,
            format!("refcount_order {} (0..=6 exist)", h.refcount_order),
        ));
    }
    let bf_off = u64_at(8)? as usize;
    let bf_len = u32_at(16)? as usize;
    if bf_off != 0 {
        if bf_len > 1023 {
            return Err((16, format!("backing file name of {bf_len} bytes")));
        }
        let name = b
            .get(bf_off, bf_len)
            .ok_or((8, "backing file name outside the first cluster".to_string()))?;
        h.backing_file = Some(String::from_utf8_lossy(name).into_owned());
    }
    let mut at = header_length;
    for _ in 0..MAX_EXTENSIONS {
        let (Some(t), Some(len)) = (b.be_u32(at), b.be_u32(at + 4)) else {
            break;
        };
        if t == EXT_END {
            break;
        }
        let len = len as usize;
        let data = b.get(at + 8, len).ok_or((
            at as u64 + 4,
            format!("extension {t:#x} of {len} bytes runs past the header cluster"),
        ))?;
        match t {
            EXT_BACKING_FORMAT => h.backing_format = padded_str(data),
            EXT_DATA_FILE => h.data_file = padded_str(data),
            EXT_CRYPTO_HEADER => {
                let d = Bytes(data);
                h.crypto_header = d.be_u64(0).zip(d.be_u64(8));
            }
            _ => {}
        }
        at += 8 + len.div_ceil(8) * 8;
    }
    Ok(h)
}

/// An internal snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its id string.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was taken (seconds since the epoch).
    pub date: u32,
    /// The guest disk's size then, when the entry records it.
    pub disk_size: Option<u64>,
    /// Its L1 table.
    pub l1_table_offset: u64,
    /// Entries in that table.
    pub l1_size: u32,
}

/// Parses `count` snapshot entries from `b` (the table): l1_table_offset 0,
/// l1_size 8, id_str_size 12, name_size 14, date_sec 16, date_nsec 20,
/// vm_clock_nsec 24, vm_state_size 32, extra_data_size 36, extra data
/// (disk size at its 8th byte), id, name; each entry padded to 8 bytes.
pub fn snapshots(b: &[u8], count: u32) -> Result<Vec<Snapshot>, (u64, String)> {
    snapshot_table(b, count).map(|(s, _)| s)
}

/// [`snapshots`], and the table's length in bytes (its entries, each
/// padded to 8 bytes), which its clusters' refcounts cover.
pub fn snapshot_table(b: &[u8], count: u32) -> Result<(Vec<Snapshot>, u64), (u64, String)> {
    let bb = Bytes(b);
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut end = 0usize;
    for i in 0..count {
        let bad = |what: &str| (at as u64, format!("snapshot {i}: {what}"));
        let l1_table_offset = bb.be_u64(at).ok_or_else(|| bad("truncated"))?;
        let l1_size = bb.be_u32(at + 8).ok_or_else(|| bad("truncated"))?;
        let id_len = usize::from(bb.be_u16(at + 12).ok_or_else(|| bad("truncated"))?);
        let name_len = usize::from(bb.be_u16(at + 14).ok_or_else(|| bad("truncated"))?);
        let date = bb.be_u32(at + 16).ok_or_else(|| bad("truncated"))?;
        let extra = bb.be_u32(at + 36).ok_or_else(|| bad("truncated"))? as usize;
        if extra > 1024 {
            return Err(bad(&format!("{extra} bytes of extra data")));
        }
        let disk_size = (extra >= 16).then(|| bb.be_u64(at + 40 + 8)).flatten();
        let id_at = at + 40 + extra;
        let id = bb
            .get(id_at, id_len)
            .ok_or_else(|| bad("id past the table"))?;
        let name = bb
            .get(id_at + id_len, name_len)
            .ok_or_else(|| bad("name past the table"))?;
        out.push(Snapshot {
            id: String::from_utf8_lossy(id).into_owned(),
            name: String::from_utf8_lossy(name).into_owned(),
            date,
            disk_size,
            l1_table_offset,
            l1_size,
        });
        end = id_at + id_len + name_len;
        at = end.div_ceil(8) * 8;
    }
    Ok((out, end as u64))
}
