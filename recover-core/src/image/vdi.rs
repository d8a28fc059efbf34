//! VDI (VirtualBox): static and dynamic images (VirtualBox's VDICore.h;
//! QEMU's block/vdi.c), little-endian.
//!
//! Header: signature 0xBEDA107F at 0x40, version 0x44, image type 0x4C (1
//! dynamic, 2 static), offset of the block map 0x154, offset of the data
//! 0x158, disk size 0x170, block size 0x178, block extra 0x17C, blocks in
//! the image 0x180, blocks allocated 0x184. The block map holds a u32 per
//! block: its index among the stored blocks, 0xFFFFFFFF not allocated,
//! 0xFFFFFFFE reads as zeros. Stored block i is at
//! data + i * (block extra + block size) + block extra.

use std::sync::Arc;

use crate::bytes::{arrays, Bytes};
use crate::error::{Error, Result};
use crate::io::{bytes_at, check_range, for_each_block, Gather, Origins, Volume, VolumeRef};

const SIGNATURE: u32 = 0xBEDA_107F;

/// A VDI image's virtual disk.
#[derive(Debug)]
pub struct Vdi {
    file: VolumeRef,
    size: u64,
    block: u64,
    extra: u64,
    data: u64,
    map: Vec<u32>,
    name: String,
    /// "static" or "dynamic".
    pub kind: &'static str,
}

/// True when `head` (at least 0x48 bytes) is a VDI header.
pub fn is_vdi(head: &[u8]) -> bool {
    Bytes(head).le_u32(0x40) == Some(SIGNATURE)
}

impl Vdi {
    /// Opens the image in `file`.
    pub fn open(file: VolumeRef) -> Result<Arc<Vdi>> {
        let name = file.describe();
        let bad = |at: u64, why: String| Error::corrupt("VDI header", at, why).within(&name, 0);
        let h = bytes_at(file.as_ref(), 0, 0x190).map_err(|_| bad(0, "truncated".into()))?;
        let b = Bytes(&h);
        if b.le_u32(0x40) != Some(SIGNATURE) {
            return Err(bad(0x40, "no VDI signature".into()));
        }
        let field = |at: usize| u64::from(b.le_u32(at).unwrap_or(0));
        let kind = match field(0x4C) {
            1 => "dynamic",
            2 => "static",
            t => {
                return Err(bad(
                    0x4C,
                    format!("image type {t} (1 dynamic and 2 static are read)"),
                ))
            }
        };
        let size = b.le_u64(0x170).unwrap_or(0);
        let block = field(0x178);
        let extra = field(0x17C);
        let blocks = field(0x180);
        if !block.is_power_of_two() || !(512..=256 << 20).contains(&block) || extra > block {
            return Err(bad(0x178, format!("block size {block} (extra {extra})")));
        }
        if blocks < size.div_ceil(block) || blocks > 1 << 24 {
            return Err(bad(
                0x180,
                format!("{blocks} blocks for a {size}-byte disk"),
            ));
        }
        let map_at = field(0x154);
        let raw = bytes_at(file.as_ref(), map_at, (blocks * 4) as usize)
            .map_err(|_| bad(0x154, format!("block map at {map_at:#x} lies past the end")))?; // ok: <= 64 MiB
        let map = arrays(&raw).map(u32::from_le_bytes).collect();
        Ok(Arc::new(Vdi {
            size,
            block,
            extra,
            data: field(0x158),
            map,
            name: format!("{name}:vdi"),
            kind,
            file,
        }))
    }

    /// Bytes of the file holding guest blocks.
    pub fn allocated(&self) -> u64 {
        self.map.iter().filter(|&&e| e < 0xFFFF_FFFE).count() as u64 * self.block
    }
}

impl Volume for Vdi {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        for_each_block(offset, buf, self.block, |b, within, out| {
            match self.map.get(b as usize).copied().unwrap_or(0xFFFF_FFFF) {
                e if e >= 0xFFFF_FFFE => out.fill(0),
                e => {
                    let at = u64::from(e)
                        .checked_mul(self.extra + self.block)
                        .and_then(|x| x.checked_add(self.data + self.extra + within))
                        .ok_or_else(|| {
                            Error::corrupt("VDI block map", 0, format!("block {b} overflows"))
                                .within(&self.file.describe(), 0)
                        })?;
                    self.file.read_at(at, out)?;
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Allocated blocks carry the file's origins.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.size);
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (b, within) = (pos / self.block, pos % self.block);
            let n = (self.block - within).min(end - pos);
            match self.map.get(b as usize).copied().unwrap_or(0xFFFF_FFFF) {
                e if e >= 0xFFFF_FFFE => {}
                e => {
                    let at = u64::from(e)
                        .checked_mul(self.extra + self.block)
                        .and_then(|x| x.checked_add(self.data + self.extra + within));
                    let Some(at) = at else { break };
                    g.map(self.file.as_ref(), at, pos, n);
                }
            }
            pos += n;
        }
        g.finish()
    }
}

/// Structural check of a VDI file, with QEMU's rules (block/vdi.c,
/// vdi_co_check): each allocated block map entry is below the block count
/// and no two entries name the same stored block (one corruption each),
/// and the allocated count in the header matches the entries (one more);
/// and, beyond QEMU, each stored block lies inside the file.
pub fn check(file: &dyn Volume) -> Result<crate::image::check::Findings> {
    let mut f = crate::image::check::Findings::default();
    let Ok(h) = bytes_at(file, 0, 0x190) else {
        f.corrupt(0, "header truncated");
        return Ok(f);
    };
    let b = Bytes(&h);
    let field = |at: usize| u64::from(b.le_u32(at).unwrap_or(0));
    let (map_at, data, block, extra, blocks) = (
        field(0x154),
        field(0x158),
        field(0x178),
        field(0x17C),
        field(0x180),
    );
    if blocks > 1 << 24 {
        f.corrupt(0x180, format!("{blocks} blocks"));
        return Ok(f);
    }
    let Ok(raw) = bytes_at(file, map_at, (blocks * 4) as usize) else {
        // ok: blocks <= 2^24
        f.corrupt(0x154, format!("block map at {map_at:#x} lies past the end"));
        return Ok(f);
    };
    let mut owner: Vec<Option<u32>> = vec![None; blocks as usize]; // ok: <= 2^24
    let mut allocated = 0u64;
    let len = file.len();
    for (i, e) in arrays(&raw).map(u32::from_le_bytes).enumerate() {
        if e >= 0xFFFF_FFFE {
            continue;
        }
        let at = map_at + i as u64 * 4;
        match owner.get_mut(e as usize) {
            None => f.corrupt(
                at,
                format!("block {i} maps to stored block {e}, past the {blocks} blocks"),
            ),
            Some(slot) => {
                allocated += 1;
                if let Some(first) = *slot {
                    f.corrupt(
                        at,
                        format!("blocks {first} and {i} both map to stored block {e}"),
                    );
                } else {
                    *slot = Some(i as u32);
                    let end = u64::from(e)
                        .checked_mul(extra + block)
                        .and_then(|x| x.checked_add(data + extra + block));
                    if end.is_none_or(|end| end > len) {
                        f.corrupt(
                            at,
                            format!("block {i}: stored block {e} lies past the end of the file"),
                        );
                    }
                }
            }
        }
    }
    let stored = field(0x184);
    if allocated != stored {
        f.corrupt(
            0x184,
            format!("{stored} blocks allocated by the header, {allocated} by the block map"),
        );
    }
    Ok(f)
}
