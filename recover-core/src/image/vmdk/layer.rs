//! What the ESXi delta extents ([`super::cowd`], [`super::sesparse`])
//! share: a map from the grains of the extent to where the file holds
//! them, read as a layer over the parent disk. A grain the extent does not
//! hold is the parent's; past the extent's capacity (inside the size the
//! descriptor gives it) the disk reads as zeros.

use crate::error::Result;
use crate::io::{check_range, for_each_block, read_padded, Gather, Origins, Volume, VolumeRef};

/// What one grain of a delta extent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Not in this extent: the parent's bytes (zeros without a parent).
    Parent,
    /// Reads as zeros, whatever the parent holds.
    Zero,
    /// At this byte offset of the extent file, all of it (up to the
    /// capacity) inside the file.
    Data(u64),
}

/// A delta extent's grain map.
pub trait GrainMap: Send + Sync + std::fmt::Debug {
    /// Bytes per grain (never zero).
    fn grain_bytes(&self) -> u64;

    /// The extent's capacity, in bytes.
    fn capacity(&self) -> u64;

    /// The extent file.
    fn file(&self) -> &VolumeRef;

    /// What grain `g` (below `capacity / grain_bytes`, rounded up) is;
    /// errors name the grain directory or table entry at fault and its
    /// offset in the file.
    fn grain(&self, g: u64) -> Result<Grain>;

    /// The extent read as `len` bytes of the virtual disk (its size in the
    /// descriptor), named `name`, over `backing` from `base` on.
    fn placed(self, len: u64, backing: Option<VolumeRef>, base: u64, name: String) -> Delta<Self>
    where
        Self: Sized,
    {
        Delta::new(self, len, backing, base, name)
    }
}

/// A delta extent read as the `len` bytes of the virtual disk it covers,
/// over its parent.
#[derive(Debug)]
pub struct Delta<M> {
    map: M,
    len: u64,
    /// The parent disk and where this extent starts in it.
    backing: Option<(VolumeRef, u64)>,
    name: String,
}

impl<M: GrainMap> Delta<M> {
    /// `map` read as `len` bytes of the disk under `name`, its unallocated
    /// grains read from `backing` at `base` on.
    pub fn new(map: M, len: u64, backing: Option<VolumeRef>, base: u64, name: String) -> Self {
        Delta {
            map,
            len,
            backing: backing.map(|b| (b, base)),
            name,
        }
    }

    /// The grain map.
    pub fn map(&self) -> &M {
        &self.map
    }

    fn backing_read(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        match &self.backing {
            Some((b, base)) => read_padded(Some(b.as_ref()), base.saturating_add(pos), out),
            None => read_padded(None, pos, out),
        }
    }
}

impl<M: GrainMap> Volume for Delta<M> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let gb = self.map.grain_bytes();
        let cap = self.map.capacity();
        for_each_block(offset, buf, gb, |g, within, out| {
            // g * gb + within is the position itself: no overflow.
            let pos = g * gb + within;
            if pos >= cap {
                out.fill(0);
                return Ok(());
            }
            // The last grain may end past the capacity.
            let n = (out.len() as u64).min(cap - pos) as usize;
            let (out, rest) = out.split_at_mut(n); // ok: n <= out.len()
            rest.fill(0);
            match self.map.grain(g)? {
                Grain::Parent => self.backing_read(pos, out),
                Grain::Zero => {
                    out.fill(0);
                    Ok(())
                }
                // The map checked that the grain, to the capacity, is inside
                // the file.
                Grain::Data(host) => self.map.file().read_at(host + within, out),
            }
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Grains the extent holds carry its file's origins, the others the
    /// parent's. A grain whose entry cannot be read ends the answer there.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let gb = self.map.grain_bytes().max(1);
        let end = offset
            .saturating_add(len)
            .min(self.len)
            .min(self.map.capacity());
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (grain, within) = (pos / gb, pos % gb);
            let n = (gb - within).min(end - pos);
            match self.map.grain(grain) {
                Ok(Grain::Parent) => {
                    if let Some((b, base)) = &self.backing {
                        g.map(b.as_ref(), base.saturating_add(pos), pos, n);
                    }
                }
                Ok(Grain::Zero) => {}
                Ok(Grain::Data(host)) => g.map(self.map.file().as_ref(), host + within, pos, n),
                Err(_) => break,
            }
            pos += n;
        }
        g.finish()
    }
}
