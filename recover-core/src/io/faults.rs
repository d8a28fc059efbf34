//! A medium that fails where it is told to: drives the salvage logic in
//! tests and fuzzing the way a disk with bad sectors does.

use std::io;
use std::ops::Range;

use super::salvage::RawRead;

/// In-memory bytes with ranges that fail with a chosen errno.
#[derive(Debug, Clone)]
pub struct FaultyMedium {
    data: Vec<u8>,
    sector: u32,
    faults: Vec<(Range<u64>, i32)>,
}

impl FaultyMedium {
    /// `data` with no faults yet, failing in units of `sector` bytes.
    pub fn new(data: Vec<u8>, sector: u32) -> Self {
        FaultyMedium {
            data,
            sector,
            faults: Vec::new(),
        }
    }

    /// Any read that touches `range` fails with `errno`.
    #[must_use]
    pub fn failing(mut self, range: Range<u64>, errno: i32) -> Self {
        self.faults.push((range, errno));
        self
    }
}

impl RawRead for FaultyMedium {
    fn raw_len(&self) -> u64 {
        self.data.len() as u64
    }

    fn pread(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = offset.saturating_add(buf.len() as u64);
        for (r, errno) in &self.faults {
            if offset < r.end && r.start < end {
                return Err(io::Error::from_raw_os_error(*errno));
            }
        }
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.data.get(o..o.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn sector_size(&self) -> u32 {
        self.sector
    }

    fn describe(&self) -> String {
        "faulty-medium".into()
    }
}
