//! qcow2 images (versions 2 and 3) as the virtual disk they hold.
//!
//! A guest offset maps through the L1 table (read whole at open) to an L2
//! table (one cluster) to a cluster of the image file (QEMU's
//! docs/interop/qcow2.txt, "Cluster mapping"). L1 entries: bits 9-55 the
//! L2 table's offset. Standard L2 entries: bit 62 compressed, bit 0 reads
//! as zeros (version 3), bits 9-55 the cluster's offset; 0 is unallocated
//! (the backing file's bytes, or zeros). Compressed entries: the low
//! `62 - (cluster_bits - 8)` bits are the host offset, the bits above it
//! the count of further 512-byte sectors the data spans. Extended L2
//! entries add a 64-bit bitmap: bit n subcluster n allocated, bit 32+n
//! subcluster n reads as zeros.
//!
//! Refcounts are not needed for reading and are ignored.

pub mod check;
pub mod header;

pub use header::{Compression, Header, Snapshot};

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::io::read_padded;
use crate::io::{
    bytes_at, check_range, for_each_block, Gather, LastBlock, Origins, Volume, VolumeRef,
};

const OFFSET_MASK: u64 = 0x00FF_FFFF_FFFF_FE00;
const L2_COMPRESSED: u64 = 1 << 62;
const L2_ZERO: u64 = 1;
const L2_COPIED: u64 = 1 << 63;

/// A qcow2 image's virtual disk.
#[derive(Debug)]
pub struct Qcow2 {
    file: VolumeRef,
    /// Where data clusters are: the image itself, or its external data file.
    data: VolumeRef,
    /// Whether they are in an external data file.
    external: bool,
    header: Header,
    l1: Vec<u64>,
    backing: Option<VolumeRef>,
    name: String,
    /// The last compressed cluster inflated.
    last: LastBlock,
}

/// What one cluster of the guest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cluster {
    /// Not in this image: the backing file's, or zeros.
    Unallocated,
    /// Reads as zeros.
    Zero,
    /// At this offset of the image file.
    Data(u64),
    /// Compressed: offset and the bytes to read.
    Compressed(u64, u64),
    /// Extended L2: the data cluster (if any) and the subcluster bitmap.
    Sub(Option<u64>, u64),
}

impl Qcow2 {
    /// Opens the image in `file`. `backing` is the backing file's virtual
    /// disk, when the image names one and the caller found it; without it,
    /// unallocated clusters read as zeros.
    pub fn open(file: VolumeRef, backing: Option<VolumeRef>) -> Result<Qcow2> {
        Qcow2::open_with_data(file, backing, None)
    }

    /// Opens an image whose guest clusters may live in an external data
    /// file (the header's data-file extension names it): `data` is that
    /// file. The L2 tables map into it instead of the image.
    pub fn open_with_data(
        file: VolumeRef,
        backing: Option<VolumeRef>,
        data: Option<VolumeRef>,
    ) -> Result<Qcow2> {
        let name = file.describe();
        let head = crate::io::bytes_up_to(file.as_ref(), 0, 1 << 21)?;
        let header = match header::parse(&head) {
            None => {
                return Err(Error::corrupt("qcow2 header", 0, "no QFI\\xfb magic").within(&name, 0))
            }
            Some(Err((at, why))) => {
                return Err(Error::corrupt("qcow2 header", at, why).within(&name, 0))
            }
            Some(Ok(h)) => h,
        };
        if let Some(m) = header.encryption() {
            return Err(Error::Unsupported {
                layer: name,
                what: format!("reading a qcow2 image encrypted with {m} (the key is not known)"),
            });
        }
        let external = header.incompatible & header::INCOMPAT_EXTERNAL_DATA != 0;
        if external && data.is_none() {
            return Err(Error::Unsupported {
                layer: name,
                what: format!(
                    "a qcow2 image whose data is in the external file {:?}, which was not found",
                    header.data_file.as_deref().unwrap_or("?")
                ),
            });
        }
        let data = if external { data } else { None };
        let l1_bytes = u64::from(header.l1_size) * 8;
        check_range(file.as_ref(), header.l1_table_offset, l1_bytes).map_err(|_| {
            Error::corrupt(
                "qcow2 header",
                40,
                format!(
                    "L1 table of {l1_bytes} bytes at {:#x} lies past the end of the image",
                    header.l1_table_offset
                ),
            )
            .within(&name, 0)
        })?;
        let raw = bytes_at(file.as_ref(), header.l1_table_offset, l1_bytes as usize)?; // ok: l1_size <= 2^25
        let l1 = raw
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8]))) // ok: chunks_exact(8)
            .collect();
        Ok(Qcow2 {
            external: data.is_some(),
            data: data.unwrap_or_else(|| file.clone()),
            file,
            header,
            l1,
            backing,
            name: format!("{name}:qcow2"),
            last: LastBlock::default(),
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The internal snapshots.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let n = self.header.nb_snapshots;
        if n == 0 {
            return Ok(Vec::new());
        }
        if n > 65536 {
            return Err(self.corrupt(60, format!("{n} snapshots")));
        }
        let at = self.header.snapshots_offset;
        // Each entry is at most 40 + 1024 + 2 * 65535 bytes; read what the
        // file has, up to a bound, and let the parser stop where it ends.
        let raw = crate::io::bytes_up_to(
            self.file.as_ref(),
            at,
            (n as usize).saturating_mul(256).min(16 << 20),
        )?;
        header::snapshots(&raw, n).map_err(|(o, why)| self.corrupt(at + o, why))
    }

    /// Bytes of the image file that hold guest data (clusters mapped by
    /// the active L2 tables), for the allocation report. Each L2 table is
    /// read once, however many L1 entries point at it.
    pub fn allocated(&self) -> Result<u64> {
        let h = &self.header;
        let cs = h.cluster_size();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        for &e in &self.l1 {
            let l2 = e & OFFSET_MASK;
            if l2 == 0 || !seen.insert(l2) {
                continue;
            }
            let table = bytes_at(self.file.as_ref(), l2, cs as usize).map_err(|_| {
                self.corrupt(
                    h.l1_table_offset,
                    format!("L2 table at {l2:#x} lies past the end of the image"),
                )
            })?;
            for entry in table.chunks_exact(h.l2_entry_size() as usize) {
                let b = Bytes(entry);
                match self.classify(b.be_u64(0).unwrap_or(0), b.be_u64(8)) {
                    Cluster::Data(_) => total += cs,
                    Cluster::Sub(Some(_), bitmap) => {
                        total += u64::from((bitmap as u32).count_ones()) * (cs / 32)
                    }
                    Cluster::Compressed(_, n) => total += n,
                    _ => {}
                }
            }
        }
        Ok(total)
    }

    /// What an L2 entry (and, with extended L2, its bitmap) says.
    fn classify(&self, e: u64, bitmap: Option<u64>) -> Cluster {
        let cb = self.header.cluster_bits;
        if e & L2_COMPRESSED != 0 {
            let x = 62 - (cb - 8);
            let off = e & ((1u64 << x) - 1);
            let sectors = (e & ((1u64 << 62) - 1)) >> x;
            return Cluster::Compressed(off, (sectors + 1) * 512 - (off & 511));
        }
        let off = e & OFFSET_MASK;
        if let Some(bitmap) = bitmap {
            let allocated = off != 0 || (self.external && e & L2_COPIED != 0);
            return Cluster::Sub(allocated.then_some(off), bitmap);
        }
        // Offset 0 is unallocated, except in an external data file, where
        // it is a place like any other: there every allocated cluster has
        // refcount 1, so bit 63 ("copied") says which it is.
        let allocated = off != 0 || (self.external && e & L2_COPIED != 0);
        if e & L2_ZERO != 0 {
            Cluster::Zero
        } else if !allocated {
            Cluster::Unallocated
        } else {
            Cluster::Data(off)
        }
    }

    fn corrupt(&self, at: u64, detail: String) -> Error {
        Error::corrupt("qcow2", at, detail).within(&self.file.describe(), 0)
    }

    /// What the cluster holding guest byte `guest` is.
    fn cluster_at(&self, guest: u64) -> Result<Cluster> {
        let h = &self.header;
        let cb = h.cluster_bits;
        let l2_bits = h.l2_entries().trailing_zeros();
        let l1_index = guest >> (cb + l2_bits);
        let l2_index = (guest >> cb) & (h.l2_entries() - 1);
        let l1e = self.l1.get(l1_index as usize).copied().unwrap_or(0);
        let l2 = l1e & OFFSET_MASK;
        if l2 == 0 {
            return Ok(Cluster::Unallocated);
        }
        if l2 % h.cluster_size() != 0 {
            return Err(self.corrupt(
                h.l1_table_offset + l1_index * 8,
                format!("L1 entry {l1_index} points at {l2:#x}, not a cluster boundary"),
            ));
        }
        let at = l2 + l2_index * h.l2_entry_size();
        let raw = bytes_at(self.file.as_ref(), at, h.l2_entry_size() as usize).map_err(|_| {
            self.corrupt(
                h.l1_table_offset + l1_index * 8,
                format!("L2 table at {l2:#x} lies past the end of the image"),
            )
        })?;
        let b = Bytes(&raw);
        let bitmap = (h.l2_entry_size() == 16).then(|| b.be_u64(8).unwrap_or(0));
        let c = self.classify(b.be_u64(0).unwrap_or(0), bitmap);
        if let Cluster::Data(off) = c {
            if off % h.cluster_size() != 0 {
                return Err(self.corrupt(
                    at,
                    format!("L2 entry points at {off:#x}, not a cluster boundary"),
                ));
            }
        }
        Ok(c)
    }

    /// Fills `buf` from the backing disk at `guest`, or with zeros past its
    /// end or without one.
    fn backing_read(&self, guest: u64, buf: &mut [u8]) -> Result<()> {
        read_padded(self.backing.as_deref(), guest, buf)
    }

    fn backing_origins<'a>(&'a self, g: &mut Gather<'a>, guest: u64, n: u64) {
        if let Some(b) = &self.backing {
            g.map(b.as_ref(), guest, guest, n);
        }
    }

    fn inflate(&self, host: u64, len: u64, out: &mut [u8]) -> Result<()> {
        let len = len.min(self.file.len().saturating_sub(host));
        let data = bytes_at(self.file.as_ref(), host, len as usize)?; // ok: <= cluster + 512
        let res = match self.header.compression {
            Compression::Deflate => {
                let mut st =
                    miniz_oxide::inflate::stream::InflateState::new(miniz_oxide::DataFormat::Raw);
                let r = miniz_oxide::inflate::stream::inflate(
                    &mut st,
                    &data,
                    out,
                    miniz_oxide::MZFlush::Finish,
                );
                match r.status {
                    Ok(_) if r.bytes_written == out.len() => Ok(()),
                    Ok(_) => Err(format!(
                        "deflate gave {} of {} bytes",
                        r.bytes_written,
                        out.len()
                    )),
                    Err(e) => Err(format!("deflate: {e:?}")),
                }
            }
            Compression::Zstd => zstd_into(&data, out),
        };
        res.map_err(|why| self.corrupt(host, format!("compressed cluster: {why}")))
    }
}

/// Decodes zstd frames from `data` into `out`, which they must fill.
fn zstd_into(data: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    use std::io::Read;
    let mut dec =
        ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| format!("zstd: {e}"))?;
    let mut filled = 0;
    while let Some(rest) = out.get_mut(filled..).filter(|r| !r.is_empty()) {
        match dec.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(format!("zstd: {e}")),
        }
    }
    if filled == out.len() {
        Ok(())
    } else {
        Err(format!("zstd gave {filled} of {} bytes", out.len()))
    }
}

impl Volume for Qcow2 {
    fn len(&self) -> u64 {
        self.header.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let cs = self.header.cluster_size();
        for_each_block(offset, buf, cs, |cluster, within, out| {
            let guest = cluster * cs + within;
            match self.cluster_at(guest)? {
                Cluster::Unallocated => self.backing_read(guest, out),
                Cluster::Zero => {
                    out.fill(0);
                    Ok(())
                }
                Cluster::Data(host) => self.data.read_at(host + within, out),
                Cluster::Compressed(host, len) => {
                    let c = self.last.get(host, || {
                        let mut c = vec![0u8; cs as usize]; // ok: cluster <= 2 MiB
                        self.inflate(host, len, &mut c)?;
                        Ok(c)
                    })?;
                    let w = within as usize;
                    let src = c.get(w..w + out.len()).ok_or_else(|| {
                        Error::corrupt(
                            "qcow2 compressed cluster",
                            host,
                            format!("{} bytes inflated, short of {}", c.len(), w + out.len()),
                        )
                    })?;
                    out.copy_from_slice(src);
                    Ok(())
                }
                // 32 subclusters per cluster.
                Cluster::Sub(data, bitmap) => {
                    for_each_block(within, out, cs / 32, |s, w, piece| {
                        let pos = s * (cs / 32) + w;
                        if bitmap >> (32 + s) & 1 != 0 {
                            piece.fill(0);
                            Ok(())
                        } else if bitmap >> s & 1 != 0 {
                            let host = data.ok_or_else(|| {
                            self.corrupt(0, format!("subcluster {s} of guest cluster {cluster} is allocated but the cluster has no offset"))
                        })?;
                            self.data.read_at(host + pos, piece)
                        } else {
                            self.backing_read(cluster * cs + pos, piece)
                        }
                    })
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Data clusters carry the data file's origins; a compressed cluster
    /// whole carries any origin of its compressed bytes; unallocated ones
    /// the backing disk's. A cluster whose mapping cannot be read ends the
    /// answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.header.size);
        let cs = self.header.cluster_size();
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let within = pos % cs;
            let n = (cs - within).min(end - pos);
            let Ok(c) = self.cluster_at(pos) else { break };
            match c {
                Cluster::Unallocated => self.backing_origins(&mut g, pos, n),
                Cluster::Zero => {}
                Cluster::Data(host) => g.map(self.data.as_ref(), host + within, pos, n),
                Cluster::Compressed(host, stored) => {
                    g.whole(self.file.as_ref(), host, stored, pos, n)
                }
                Cluster::Sub(data, bitmap) => {
                    let (sub, start) = (cs / 32, pos - within);
                    let mut p = pos;
                    while p < pos + n {
                        let s = (p - start) / sub;
                        let m = (sub - p % sub).min(pos + n - p);
                        let zero = bitmap >> (32 + s) & 1 != 0;
                        match (zero, bitmap >> s & 1 != 0, data) {
                            (false, true, Some(host)) => {
                                g.map(self.data.as_ref(), host + (p - start), p, m)
                            }
                            (false, false, _) => self.backing_origins(&mut g, p, m),
                            // Zeros, or an allocated subcluster without a
                            // cluster (a read error).
                            _ => {}
                        }
                        p += m;
                    }
                }
            }
            pos += n;
        }
        g.finish()
    }

    /// Zero clusters (and subclusters), and unallocated ones where the
    /// backing disk has a hole or there is none: what `qemu-img map` calls
    /// `"data": false`. At most 65536 clusters are looked at per call; a
    /// caller asks again from where the answer ends.
    fn hole_at(&self, offset: u64) -> u64 {
        let size = self.header.size;
        let cs = self.header.cluster_size();
        let sub = cs / 32;
        // How far from `pos` (inside one cluster, up to `to`) reads through
        // to the backing disk without meeting its data.
        let through = |pos: u64, to: u64| match &self.backing {
            None => to,
            Some(b) if pos >= b.len() => to,
            Some(b) => pos + b.hole_at(pos).min(to - pos),
        };
        // The guest bytes one L2 table maps: with no L2 table and nothing
        // below, all of them are a hole at once.
        let table = cs.saturating_mul(self.header.l2_entries());
        let no_table = |pos: u64| {
            let l1 = pos / table;
            self.backing.is_none()
                && usize::try_from(l1)
                    .ok()
                    .and_then(|i| self.l1.get(i))
                    .is_none_or(|e| e & OFFSET_MASK == 0)
        };
        let mut pos = offset;
        for _ in 0..65536 {
            if pos >= size {
                break;
            }
            if no_table(pos) {
                pos = (pos / table + 1).saturating_mul(table).min(size);
                continue;
            }
            let end = ((pos / cs + 1) * cs).min(size);
            let to = match self.cluster_at(pos) {
                Ok(Cluster::Zero) => end,
                Ok(Cluster::Unallocated) => through(pos, end),
                Ok(Cluster::Sub(_, bitmap)) => {
                    let mut at = pos;
                    while at < end {
                        let s = (at % cs) / sub;
                        let next = ((at / sub + 1) * sub).min(end);
                        if bitmap >> (32 + s) & 1 != 0 {
                            at = next;
                        } else if bitmap >> s & 1 == 0 {
                            let t = through(at, next);
                            if t < next {
                                at = t;
                                break;
                            }
                            at = next;
                        } else {
                            break;
                        }
                    }
                    at
                }
                // Data, compressed data, or a table that cannot be read
                // (whose read reports the error).
                _ => pos,
            };
            pos = to;
            if to < end {
                break;
            }
        }
        pos.min(size).saturating_sub(offset)
    }

    /// Zero-copy when every cluster of the range is a plain data cluster
    /// and they lie one after another in the image file, as qemu-img
    /// writes them.
    fn slice_at(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let cs = self.header.cluster_size();
        if len == 0 || offset.checked_add(len)? > self.header.size {
            return None;
        }
        let within = offset % cs;
        let Cluster::Data(first) = self.cluster_at(offset).ok()? else {
            return None;
        };
        let mut guest = offset - within + cs;
        while guest < offset + len {
            match self.cluster_at(guest).ok()? {
                Cluster::Data(h) if h == first + (guest - (offset - within)) => {}
                _ => return None,
            }
            guest += cs;
        }
        self.data.slice_at(first + within, len)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::io::MemVolume;
    use std::sync::Arc;

    /// A version-3 image by hand: 64 KiB clusters, a 1 MiB disk, L1 at
    /// 0x10000, one L2 at 0x20000, guest cluster 1 at 0x30000, cluster 2
    /// reading as zeros, the rest unallocated.
    fn image() -> Vec<u8> {
        let mut f = vec![0u8; 0x40000];
        f[..4].copy_from_slice(b"QFI\xfb");
        f[4..8].copy_from_slice(&3u32.to_be_bytes());
        f[20..24].copy_from_slice(&16u32.to_be_bytes());
        f[24..32].copy_from_slice(&(1u64 << 20).to_be_bytes());
        f[36..40].copy_from_slice(&1u32.to_be_bytes());
        f[40..48].copy_from_slice(&0x10000u64.to_be_bytes());
        f[100..104].copy_from_slice(&104u32.to_be_bytes());
        f[0x10000..0x10008].copy_from_slice(&(0x20000u64 | 1 << 63).to_be_bytes());
        f[0x20008..0x20010].copy_from_slice(&(0x30000u64 | 1 << 63).to_be_bytes());
        f[0x20010..0x20018].copy_from_slice(&1u64.to_be_bytes());
        f[0x30000..0x40000].fill(0xAB);
        f
    }

    #[test]
    fn clusters_holes_and_backing() {
        let file: VolumeRef = Arc::new(MemVolume::new("img", image()));
        let q = Qcow2::open(file.clone(), None).unwrap();
        let mut b = vec![0xEEu8; 0x30000];
        q.read_at(0, &mut b).unwrap();
        assert!(b[..0x10000].iter().all(|&x| x == 0));
        assert!(b[0x10000..0x20000].iter().all(|&x| x == 0xAB));
        assert!(b[0x20000..].iter().all(|&x| x == 0));
        let backing: VolumeRef = Arc::new(MemVolume::new("base", vec![7u8; 1 << 20]));
        let q = Qcow2::open(file, Some(backing)).unwrap();
        q.read_at(0, &mut b).unwrap();
        assert!(
            b[..0x10000].iter().all(|&x| x == 7),
            "unallocated: the backing file's"
        );
        assert!(
            b[0x20000..].iter().all(|&x| x == 0),
            "zero flag: zeros, not the backing file"
        );
        assert_eq!(q.allocated().unwrap(), 0x10000);
    }

    #[test]
    fn holes_are_zero_and_unallocated_clusters() {
        let file: VolumeRef = Arc::new(MemVolume::new("img", image()));
        let q = Qcow2::open(file.clone(), None).unwrap();
        assert_eq!(q.hole_at(0), 0x10000, "unallocated, no backing file");
        assert_eq!(q.hole_at(100), 0x10000 - 100);
        assert_eq!(q.hole_at(0x10000), 0, "data");
        assert_eq!(q.hole_at(0x1FFFF), 0);
        assert_eq!(
            q.hole_at(0x20000),
            (1 << 20) - 0x20000,
            "zeros, then unallocated to the end"
        );
        assert_eq!(q.hole_at(1 << 20), 0);
        // Over a backing file with data, only the zero cluster is a hole;
        // over one with a hole, unallocated clusters are holes again.
        let backing: VolumeRef = Arc::new(MemVolume::new("base", vec![7u8; 1 << 20]));
        let q = Qcow2::open(file.clone(), Some(backing)).unwrap();
        assert_eq!(q.hole_at(0), 0);
        assert_eq!(q.hole_at(0x20000), 0x10000);
        let zeros: VolumeRef = Arc::new(crate::io::Zeros::new(1 << 19, "z".into()));
        let q = Qcow2::open(file, Some(zeros)).unwrap();
        assert_eq!(q.hole_at(0), 0x10000);
        assert_eq!(
            q.hole_at(0x20000),
            (1 << 20) - 0x20000,
            "past the backing file's end: zeros"
        );
    }

    #[test]
    fn damage_is_an_error() {
        let mut f = image();
        f[0x10000..0x10008].copy_from_slice(&0x7FFF_0000u64.to_be_bytes());
        let q = Qcow2::open(Arc::new(MemVolume::new("img", f)), None).unwrap();
        assert!(q
            .read_at(0, &mut [0u8; 16])
            .unwrap_err()
            .to_string()
            .contains("L2 table"));
        let mut f = image();
        f[36..40].copy_from_slice(&0u32.to_be_bytes());
        assert!(Qcow2::open(Arc::new(MemVolume::new("img", f)), None).is_err());
        let mut f = image();
        f[32..36].copy_from_slice(&2u32.to_be_bytes());
        let e = Qcow2::open(Arc::new(MemVolume::new("img", f)), None).unwrap_err();
        assert!(e.to_string().contains("luks"), "{e}");
    }
}
