//! What the block-mapped volumes (image formats, compressed files) share:
//! walking a read block by block, and remembering the last block decoded.

use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::io::Volume;

/// Calls `f(block, within, out)` for each piece of `buf` (read at
/// `offset`) that lies in one `block_size` block: the block's index, the
/// offset within it, and the part of `buf` it fills. `block_size` must not
/// be zero.
pub fn for_each_block(
    offset: u64,
    buf: &mut [u8],
    block_size: u64,
    mut f: impl FnMut(u64, u64, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let pos = offset + done as u64;
        let (b, within) = (pos / block_size, pos % block_size);
        let n = ((block_size - within) as usize).min(buf.len() - done);
        f(b, within, &mut buf[done..done + n])?;
        done += n;
    }
    Ok(())
}

/// Fills `buf` with what `vol` holds at `offset`, and zeros past its end
/// (or all zeros without a volume): a backing file or parent shorter than
/// the image over it, an extent file cut short.
pub fn read_padded(vol: Option<&dyn Volume>, offset: u64, buf: &mut [u8]) -> Result<()> {
    let Some(v) = vol else {
        buf.fill(0);
        return Ok(());
    };
    let have = v.len().saturating_sub(offset).min(buf.len() as u64) as usize;
    let (data, rest) = buf.split_at_mut(have);
    rest.fill(0);
    if have > 0 {
        v.read_at(offset, data)?;
    }
    Ok(())
}

/// The last block decoded (decompressed), by key: reads come in order,
/// mostly. The lock is held to look up and to store, never while
/// decoding, so threads reading different blocks do not wait for each
/// other.
#[derive(Debug, Default)]
pub struct LastBlock(Mutex<Option<(u64, Arc<Vec<u8>>)>>);

impl LastBlock {
    /// The block `key`, from the cache or from `decode`.
    pub fn get(&self, key: u64, decode: impl FnOnce() -> Result<Vec<u8>>) -> Result<Arc<Vec<u8>>> {
        let hit = {
            let last = self.0.lock().unwrap_or_else(|e| e.into_inner());
            last.as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, d)| d.clone())
        };
        if let Some(d) = hit {
            return Ok(d);
        }
        let d = Arc::new(decode()?);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, d.clone()));
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_cache() {
        let mut buf = [0u8; 10];
        let mut seen = Vec::new();
        for_each_block(5, &mut buf, 4, |b, w, out| {
            seen.push((b, w, out.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(1, 1, 3), (2, 0, 4), (3, 0, 3)]);
        let c = LastBlock::default();
        let mut decodes = 0;
        for _ in 0..3 {
            c.get(7, || {
                decodes += 1;
                Ok(vec![1])
            })
            .unwrap();
        }
        assert_eq!(decodes, 1);
    }
}
