//! An array as a [`Volume`]: reads map to member reads, and the chunks of a
//! missing member are rebuilt from parity (RAID5: any one; RAID6: any two,
//! P and Q among them) or read from another copy (RAID1, RAID10).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::map::{raid0_locate, ParityGeometry};
use super::model::{ArrayModel, MemberData, ModelError, Placement};
use super::parity;
use crate::error::{Error, Result};
use crate::io::salvage::insert_merged;
use crate::io::{bytes_at, check_range, Slice, Volume, VolumeRef};

/// An assembled array.
pub struct ArrayVolume {
    name: String,
    model: ArrayModel,
    /// Each member's data area as a volume (None: missing).
    data: Vec<Option<VolumeRef>>,
    /// Span arrays of a RAID50/60, striped together.
    spans: Vec<Arc<ArrayVolume>>,
    /// Read as zeros because too much was missing (only with `allow_holes`).
    holes: Mutex<Vec<Range<u64>>>,
    /// How many times a hole was read, so a striping parent can tell.
    hole_reads: AtomicUsize,
}

impl std::fmt::Debug for ArrayVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArrayVolume({}, {} bytes)", self.name, self.model.size)
    }
}

fn data_volume(m: &MemberData, len: u64) -> VolumeRef {
    Arc::new(Slice::new(
        m.volume.clone(),
        m.data_offset,
        len,
        m.name.clone(),
    ))
}

impl ArrayVolume {
    /// Assembles `model` under the name `name`. Fails when more members are
    /// missing than the level can rebuild, unless `allow_holes`: then what
    /// cannot be rebuilt reads as zeros and is recorded in `bad_ranges`.
    pub fn new(
        name: String,
        model: ArrayModel,
        allow_holes: bool,
    ) -> std::result::Result<ArrayVolume, ModelError> {
        if !allow_holes {
            model.check_redundancy()?;
        }
        let data: Vec<Option<VolumeRef>> = model
            .members
            .iter()
            .map(|m| {
                m.as_ref()
                    .map(|m| data_volume(m, m.data_size.max(model.member_size)))
            })
            .collect();
        let mut spans = Vec::new();
        if let Placement::Spans {
            count,
            per_span,
            inner,
        } = &model.placement
        {
            for s in 0..*count {
                let range = (s * per_span) as usize..((s + 1) * per_span) as usize;
                let sub = ArrayModel {
                    level: model.level,
                    placement: (**inner).clone(),
                    chunk: model.chunk,
                    members: model.members[range].to_vec(),
                    member_size: model.member_size,
                    size: model.size / u64::from(*count),
                };
                spans.push(Arc::new(ArrayVolume::new(
                    format!("{name} span {s}"),
                    sub,
                    allow_holes,
                )?));
            }
        }
        Ok(ArrayVolume {
            name,
            model,
            data,
            spans,
            holes: Mutex::new(Vec::new()),
            hole_reads: AtomicUsize::new(0),
        })
    }

    fn hole_count(&self) -> usize {
        self.hole_reads.load(Ordering::Relaxed)
    }

    /// The model it was built from.
    pub fn model(&self) -> &ArrayModel {
        &self.model
    }

    fn hole(&self, offset: u64, buf: &mut [u8]) {
        buf.fill(0);
        self.hole_reads.fetch_add(1, Ordering::Relaxed);
        let mut h = self.holes.lock().unwrap_or_else(|p| p.into_inner());
        insert_merged(&mut h, offset..offset + buf.len() as u64);
    }

    /// Reads `buf.len()` bytes of member `m`'s data at `off`; a hole when
    /// the member is missing.
    fn member(&self, m: usize, off: u64, buf: &mut [u8], array_off: u64) -> Result<()> {
        match self.data.get(m).and_then(Option::as_ref) {
            Some(v) => v.read_at(off, buf),
            None => {
                self.hole(array_off, buf);
                Ok(())
            }
        }
    }

    /// Calls `f(array_offset, chunk_index, offset_in_chunk, piece)` for
    /// each chunk-bounded piece of `buf`.
    fn pieces(
        &self,
        offset: u64,
        buf: &mut [u8],
        mut f: impl FnMut(u64, u64, u64, &mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let chunk = self.model.chunk;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let (c, w) = (at / chunk, at % chunk);
            let n = ((chunk - w) as usize).min(buf.len() - done);
            f(at, c, w, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn read_parity(&self, g: &ParityGeometry, offset: u64, buf: &mut [u8]) -> Result<()> {
        let chunk = self.model.chunk;
        let dd = u64::from(g.data_disks());
        // A RAID6 stripe missing two data blocks rebuilds both at once; keep
        // the other for the next piece of the same stripe.
        let mut spare: Option<(u64, u64, usize, u32, Vec<u8>)> = None;
        self.pieces(offset, buf, |at, c, w, out| {
            let (stripe, d) = (c / dd, (c % dd) as u32); // ok: < data disks
            let st = g.stripe(stripe);
            let m = st.data[d as usize] as usize;
            let moff = stripe * chunk + w;
            if self.data[m].is_some() {
                return self.member(m, moff, out, at);
            }
            if let Some((s, ow, len, disk, bytes)) = &spare {
                if *s == stripe && *ow == w && *len == out.len() && *disk as usize == m {
                    out.copy_from_slice(bytes);
                    return Ok(());
                }
            }
            spare = self.rebuild(g, stripe, d, moff, at, out)?;
            Ok(())
        })
    }

    /// Rebuilds data block `d` of `stripe` (member bytes `moff..+out.len()`)
    /// into `out`. Returns a second rebuilt block of the same stripe, when
    /// two were missing, for the next piece.
    #[allow(clippy::type_complexity)]
    fn rebuild(
        &self,
        g: &ParityGeometry,
        stripe: u64,
        d: u32,
        moff: u64,
        at: u64,
        out: &mut [u8],
    ) -> Result<Option<(u64, u64, usize, u32, Vec<u8>)>> {
        let st = g.stripe(stripe);
        let len = out.len();
        let present = |m: u32| self.data[m as usize].as_ref();
        let read = |m: u32| -> Result<Cow<'_, [u8]>> {
            let v = present(m).expect("present member"); // ok: callers check presence
            bytes_at(v.as_ref(), moff, len)
        };
        let missing_data: Vec<u32> = (0..st.data.len() as u32)
            .filter(|&i| present(st.data[i as usize]).is_none())
            .collect();
        let p_ok = present(st.p).is_some();
        let q_ok = st.q.is_some_and(|q| present(q).is_some());
        let w = moff % self.model.chunk;
        // P and the other data: a plain XOR (RAID5, or RAID6 with one data block gone).
        if missing_data.len() == 1 && p_ok {
            out.copy_from_slice(&read(st.p)?);
            for (i, &m) in st.data.iter().enumerate() {
                if i as u32 != d {
                    parity::xor_into(out, &read(m)?);
                }
            }
            return Ok(None);
        }
        let Some(q) = st.q.filter(|_| q_ok) else {
            self.hole(at, out);
            return Ok(None);
        };
        // Q's part that the missing blocks do not explain: Q ^ sum g^slot D.
        let mut q_delta = read(q)?.into_owned();
        for (i, &m) in st.data.iter().enumerate() {
            if !missing_data.contains(&(i as u32)) {
                parity::mul_xor_into(&mut q_delta, &read(m)?, parity::gf_exp(st.q_slot[i]));
            }
        }
        match missing_data.as_slice() {
            [x] => {
                parity::recover_data_from_q(out, &q_delta, st.q_slot[*x as usize]);
                Ok(None)
            }
            [x, y] if p_ok => {
                let mut p_delta = read(st.p)?.into_owned();
                for (i, &m) in st.data.iter().enumerate() {
                    if !missing_data.contains(&(i as u32)) {
                        parity::xor_into(&mut p_delta, &read(m)?);
                    }
                }
                let (mut dx, mut dy) = (vec![0u8; len], vec![0u8; len]);
                parity::recover_two_data(
                    &mut dx,
                    &mut dy,
                    &p_delta,
                    &q_delta,
                    st.q_slot[*x as usize],
                    st.q_slot[*y as usize],
                );
                let (mine, other, other_i) = if *x == d { (dx, dy, *y) } else { (dy, dx, *x) };
                out.copy_from_slice(&mine);
                Ok(Some((stripe, w, len, st.data[other_i as usize], other)))
            }
            _ => {
                self.hole(at, out);
                Ok(None)
            }
        }
    }
}

impl Volume for ArrayVolume {
    fn len(&self) -> u64 {
        self.model.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let chunk = self.model.chunk;
        match &self.model.placement {
            Placement::Linear => {
                let mut done = 0usize;
                let mut start = 0u64;
                for (i, m) in self.model.members.iter().enumerate() {
                    let size = m.as_ref().map_or(self.model.member_size, |m| m.data_size);
                    let at = offset + done as u64;
                    if done < buf.len() && at < start + size {
                        let n = ((start + size - at) as usize).min(buf.len() - done);
                        self.member(i, at - start, &mut buf[done..done + n], at)?;
                        done += n;
                    }
                    start += size;
                }
                Ok(())
            }
            Placement::Mirror => match self.data.iter().flatten().next() {
                Some(v) => v.read_at(offset, buf),
                None => {
                    self.hole(offset, buf);
                    Ok(())
                }
            },
            Placement::Raid0 { zones, alternate } => self.pieces(offset, buf, |at, c, w, out| {
                match raid0_locate(zones, c, *alternate) {
                    Some((m, mc)) => self.member(m as usize, mc * chunk + w, out, at),
                    None => Err(Error::OutOfRange {
                        layer: self.name.clone(),
                        offset: at,
                        len: out.len() as u64,
                        size: self.model.size,
                    }),
                }
            }),
            Placement::Raid10(g) => self.pieces(offset, buf, |at, c, w, out| {
                let copies = g.copies(c);
                let pick = copies
                    .iter()
                    .find(|(d, _)| self.data[*d as usize].is_some())
                    .unwrap_or(&copies[0]);
                self.member(pick.0 as usize, pick.1 * chunk + w, out, at)
            }),
            Placement::Parity(g) => self.read_parity(g, offset, buf),
            Placement::Spans { count, .. } => {
                let k = u64::from(*count);
                self.pieces(offset, buf, |at, c, w, out| {
                    let span = &self.spans[(c % k) as usize]; // ok: < count
                    let before = span.hole_count();
                    span.read_at((c / k) * chunk + w, out)?;
                    if span.hole_count() != before {
                        // Mark the piece in array terms; the span keeps its own record.
                        let mut h = self.holes.lock().unwrap_or_else(|p| p.into_inner());
                        insert_merged(&mut h, at..at + out.len() as u64);
                    }
                    Ok(())
                })
            }
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        self.holes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
