//! An array as a [`Volume`]: reads map to member reads, and the chunks of a
//! missing member are rebuilt from parity (RAID5: any one; RAID6: any two,
//! P and Q among them) or read from another copy (RAID1, RAID10).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::map::{raid0_locate, ParityGeometry, Stripe};
use super::model::{ArrayModel, MemberData, Placement};
use super::parity;
use crate::error::{Error, Result};
use crate::io::salvage::insert_merged;
use crate::io::{bytes_at, check_range, Origin, Origins, Slice, Volume, VolumeRef};

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
    /// Array bytes in stripe rows a scrub found inconsistent, reported by
    /// `origins` as [`Origin::Inconsistent`] (see [`Self::mark_inconsistent`]).
    inconsistent: Mutex<Vec<Range<u64>>>,
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
    pub fn new(name: String, model: ArrayModel, allow_holes: bool) -> Result<ArrayVolume> {
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
            inconsistent: Mutex::new(Vec::new()),
        })
    }

    /// Records array bytes a scrub found in inconsistent rows, so every
    /// layer above (a partition, an LV, a file, a guest's file) reports
    /// the bytes it reads from them as [`Origin::Inconsistent`].
    pub fn mark_inconsistent(&self, ranges: &[Range<u64>]) {
        let mut m = self.inconsistent.lock().unwrap_or_else(|p| p.into_inner());
        for r in ranges {
            if r.start < r.end {
                insert_merged(&mut m, r.clone());
            }
        }
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
        let mut scratch = Scratch::default();
        self.pieces(offset, buf, |at, c, w, out| {
            let (stripe, d) = (c / dd, (c % dd) as u32); // ok: < data disks
            let m = g.stripe(stripe).data[d as usize] as usize;
            let moff = stripe * chunk + w;
            if self.data[m].is_some() {
                return self.member(m, moff, out, at);
            }
            // A RAID6 stripe missing two data blocks rebuilt both at the
            // first piece; the second is waiting.
            if scratch.other_for == Some((stripe, w, out.len(), m as u32)) {
                out.copy_from_slice(&scratch.other[..out.len()]);
                scratch.other_for = None;
                return Ok(());
            }
            self.rebuild(g, stripe, d, moff, at, out, &mut scratch)
        })
    }

    /// Rebuilds data block `d` of `stripe` (member bytes `moff..+out.len()`)
    /// into `out`; when a second data block of the stripe is missing too,
    /// it is rebuilt in the same pass and kept in `scratch`.
    #[allow(clippy::too_many_arguments)]
    fn rebuild(
        &self,
        g: &ParityGeometry,
        stripe: u64,
        d: u32,
        moff: u64,
        at: u64,
        out: &mut [u8],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let st = g.stripe(stripe);
        let len = out.len();
        let present = |m: u32| self.data[m as usize].as_ref();
        let read = |m: u32| -> Result<Cow<'_, [u8]>> {
            let v = present(m).expect("present member"); // ok: callers check presence
            bytes_at(v.as_ref(), moff, len)
        };
        let mut missing = [0u32; 2];
        let mut n_missing = 0;
        for i in 0..st.data.len() as u32 {
            if present(st.data[i as usize]).is_none() {
                if n_missing == 2 {
                    n_missing = 3;
                    break;
                }
                missing[n_missing] = i;
                n_missing += 1;
            }
        }
        let p_ok = present(st.p).is_some();
        let q = st.q.filter(|&q| present(q).is_some());
        // P and the other data: a plain XOR (RAID5, or RAID6 with one data block gone).
        if n_missing == 1 && p_ok {
            out.copy_from_slice(&read(st.p)?);
            for (i, &m) in st.data.iter().enumerate() {
                if i as u32 != d {
                    parity::xor_into(out, &read(m)?);
                }
            }
            return Ok(());
        }
        let Some(q) = q.filter(|_| n_missing <= 2) else {
            self.hole(at, out);
            return Ok(());
        };
        // Q's part that the missing blocks do not explain: Q ^ sum g^slot D
        // (and, for two missing, P's: P ^ sum D).
        let missing = &missing[..n_missing];
        let mut p_fused: Option<Vec<u8>> = None;
        let by_slot = match (missing, p_ok) {
            ([_, _], true) => horner_order(&st.q_slot),
            _ => None,
        };
        if let Some(by_slot) = by_slot {
            // Both in one pass over each present block, by Horner's rule
            // from the highest slot down: q = g·q ^ D, p ^= D; a missing
            // block (or a slot no block has) is q = g·q.
            let mut p_delta = std::mem::take(&mut scratch.p);
            p_delta.clear();
            p_delta.resize(len, 0);
            let q_delta = scratch.q(len);
            q_delta.fill(0);
            for i in by_slot.iter().rev() {
                match i {
                    Some(i) if !missing.contains(i) => {
                        let m = st.data[*i as usize]; // ok: indices of st.data
                        parity::pq_step(q_delta, &mut p_delta, &read(m)?);
                    }
                    _ => parity::mul_in_place(q_delta, 2),
                }
            }
            parity::xor_into(q_delta, &read(q)?);
            parity::xor_into(&mut p_delta, &read(st.p)?);
            p_fused = Some(p_delta);
        } else {
            let q_delta = scratch.q(len);
            q_delta.copy_from_slice(&read(q)?);
            for (i, &m) in st.data.iter().enumerate() {
                if !missing.contains(&(i as u32)) {
                    parity::mul_xor_into(q_delta, &read(m)?, parity::gf_exp(st.q_slot[i]));
                }
            }
        }
        match *missing {
            [x] => {
                parity::recover_data_from_q(out, &scratch.q[..len], st.q_slot[x as usize]);
                Ok(())
            }
            [x, y] if p_ok => {
                let p_delta = match p_fused {
                    Some(p) => p,
                    None => {
                        let mut p_delta = std::mem::take(&mut scratch.p);
                        p_delta.resize(len, 0);
                        p_delta.copy_from_slice(&read(st.p)?);
                        for (i, &m) in st.data.iter().enumerate() {
                            if !missing.contains(&(i as u32)) {
                                parity::xor_into(&mut p_delta, &read(m)?);
                            }
                        }
                        p_delta
                    }
                };
                let (first, second) = if x == d { (x, y) } else { (y, x) };
                let mut other = std::mem::take(&mut scratch.other);
                other.resize(len, 0);
                parity::recover_two_data(
                    out,
                    &mut other,
                    &p_delta,
                    &scratch.q[..len],
                    st.q_slot[first as usize],
                    st.q_slot[second as usize],
                );
                scratch.p = p_delta;
                scratch.other = other;
                scratch.other_for = Some((
                    stripe,
                    moff % self.model.chunk,
                    len,
                    st.data[second as usize],
                ));
                Ok(())
            }
            _ => {
                self.hole(at, out);
                Ok(())
            }
        }
    }

    /// Calls `f(array_offset, chunk_index, offset_in_chunk, len)` for each
    /// chunk-bounded piece of `offset..end`: [`Self::pieces`] without a buffer.
    fn piece_ranges(&self, offset: u64, end: u64, mut f: impl FnMut(u64, u64, u64, u64)) {
        let chunk = self.model.chunk.max(1);
        let mut at = offset;
        while at < end {
            let (c, w) = (at / chunk, at % chunk);
            let n = (chunk - w).min(end - at);
            f(at, c, w, n);
            at += n;
        }
    }

    /// Member `m`'s own origins for `n` bytes at member offset `moff`,
    /// placed at array offset `at`; Missing when the member is.
    fn member_origins(&self, o: &mut Origins, m: usize, moff: u64, n: u64, at: u64) {
        match self.data.get(m).and_then(Option::as_ref) {
            Some(v) => o.add_shifted(v.origins(moff, n), moff, at),
            None => o.add(at..at + n, Origin::Missing),
        }
    }

    /// Origins of a piece of data block `d` of stripe `st`: as stored, rebuilt from parity (with what its
    /// helpers could not read), or missing, as [`Self::rebuild`] decides.
    fn parity_origins(&self, o: &mut Origins, st: &Stripe, d: usize, moff: u64, n: u64, at: u64) {
        let Some(&m) = st.data.get(d) else { return };
        if self.data[m as usize].is_some() {
            self.member_origins(o, m as usize, moff, n, at);
            return;
        }
        let present = |m: u32| self.data.get(m as usize).is_some_and(Option::is_some);
        let missing = st.data.iter().filter(|&&m| !present(m)).count();
        let p_ok = present(st.p);
        let q_ok = st.q.is_some_and(present);
        let helpers: Vec<u32> = if missing == 1 && p_ok {
            st.data
                .iter()
                .copied()
                .filter(|&x| x != m)
                .chain([st.p])
                .collect()
        } else if q_ok && (missing == 1 || (missing == 2 && p_ok)) {
            let mut h: Vec<u32> = st.data.iter().copied().filter(|&x| present(x)).collect();
            h.extend(st.q);
            if missing == 2 {
                h.push(st.p);
            }
            h
        } else {
            o.add(at..at + n, Origin::Missing);
            return;
        };
        o.add(at..at + n, Origin::Parity);
        for h in helpers {
            self.member_origins(o, h as usize, moff, n, at);
        }
    }
}

/// The data indices of a stripe by Q slot (None for a slot no block
/// has), for building syndromes by Horner's rule; None when the slots are
/// too sparse for that to pay (a step per slot) or repeat.
fn horner_order(q_slot: &[u32]) -> Option<Vec<Option<u32>>> {
    let top = *q_slot.iter().max()? as usize;
    if top >= 2 * q_slot.len() + 2 {
        return None;
    }
    let mut by = vec![None; top + 1];
    for (i, &s) in q_slot.iter().enumerate() {
        let e = by.get_mut(s as usize)?;
        if e.is_some() {
            return None;
        }
        *e = Some(i as u32);
    }
    Some(by)
}

/// Buffers reused across the stripes of one read, so rebuilding allocates
/// once per call rather than once per stripe.
#[derive(Default)]
struct Scratch {
    p: Vec<u8>,
    q: Vec<u8>,
    other: Vec<u8>,
    /// (stripe, offset in chunk, length, member) of the block in `other`.
    other_for: Option<(u64, u64, usize, u32)>,
}

impl Scratch {
    fn q(&mut self, len: usize) -> &mut [u8] {
        self.q.resize(len, 0);
        &mut self.q[..len]
    }
}

impl Volume for ArrayVolume {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

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

    fn io_alignment(&self) -> u64 {
        let data = match &self.model.placement {
            Placement::Parity(g) => u64::from(g.data_disks()),
            Placement::Raid0 { .. } | Placement::Raid10(_) => self.model.members.len() as u64,
            Placement::Spans { count, .. } => u64::from(*count),
            Placement::Linear | Placement::Mirror => return 1,
        };
        self.model.chunk.saturating_mul(data).max(1)
    }

    fn bad_ranges(&self) -> Vec<Range<u64>> {
        self.holes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn release(&self, offset: u64, len: u64) {
        let end = offset.saturating_add(len).min(self.model.size);
        let chunk = self.model.chunk.max(1);
        // The whole stripe rows the range covers, on every member: what a
        // read of the range (rebuilds included) touched.
        let rows = |per_row: u64| {
            let row = chunk.saturating_mul(per_row).max(1);
            let (r0, r1) = (offset / row, end.div_ceil(row));
            (r0 * chunk, r1.saturating_sub(r0).saturating_mul(chunk))
        };
        let span = match &self.model.placement {
            Placement::Parity(g) => Some(rows(u64::from(g.data_disks()))),
            Placement::Raid0 { zones, .. } if zones.len() == 1 => {
                Some(rows(self.model.members.len() as u64))
            }
            Placement::Mirror => Some((offset, end.saturating_sub(offset))),
            Placement::Linear => {
                let mut start = 0u64;
                for (i, m) in self.model.members.iter().enumerate() {
                    let size = m.as_ref().map_or(self.model.member_size, |m| m.data_size);
                    let (s, e) = (offset.max(start), end.min(start.saturating_add(size)));
                    if let (true, Some(Some(v))) = (s < e, self.data.get(i)) {
                        v.release(s - start, e - s);
                    }
                    start = start.saturating_add(size);
                }
                None
            }
            _ => None,
        };
        if let Some((at, n)) = span {
            for v in self.data.iter().flatten() {
                v.release(at, n);
            }
        }
    }

    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.model.size);
        let mut o = Origins::new();
        if offset >= end {
            return o;
        }
        {
            // Sorted and merged: only the marks from the first that ends
            // past `offset` can meet the range (a file's read asks for its
            // runs one by one, and a scrub may mark 100,000 rows).
            let marked = self.inconsistent.lock().unwrap_or_else(|p| p.into_inner());
            let first = marked.partition_point(|r| r.end <= offset);
            let near = marked.get(first..).unwrap_or(&[]);
            let last = near.partition_point(|r| r.start < end);
            o.add_clipped(
                near.get(..last).unwrap_or(&[]),
                offset..end,
                Origin::Inconsistent,
            );
        }
        let chunk = self.model.chunk;
        let whole = self.data.iter().all(Option::is_some)
            && self
                .data
                .iter()
                .flatten()
                .all(|v| v.origins(0, v.len()).is_empty());
        if whole && !matches!(self.model.placement, Placement::Spans { .. }) {
            return o;
        }
        match &self.model.placement {
            Placement::Linear => {
                let mut start = 0u64;
                for (i, m) in self.model.members.iter().enumerate() {
                    let size = m.as_ref().map_or(self.model.member_size, |m| m.data_size);
                    let (s, e) = (offset.max(start), end.min(start.saturating_add(size)));
                    if s < e {
                        self.member_origins(&mut o, i, s - start, e - s, s);
                    }
                    start = start.saturating_add(size);
                }
            }
            Placement::Mirror => match self.data.iter().position(Option::is_some) {
                Some(i) => {
                    if i != 0 {
                        o.add(offset..end, Origin::Mirror);
                    }
                    self.member_origins(&mut o, i, offset, end - offset, offset);
                }
                None => o.add(offset..end, Origin::Missing),
            },
            Placement::Raid0 { zones, alternate } => {
                self.piece_ranges(offset, end, |at, c, w, n| {
                    if let Some((m, mc)) = raid0_locate(zones, c, *alternate) {
                        self.member_origins(&mut o, m as usize, mc * chunk + w, n, at);
                    }
                })
            }
            Placement::Raid10(g) => self.piece_ranges(offset, end, |at, c, w, n| {
                let copies = g.copies(c);
                match copies
                    .iter()
                    .position(|(d, _)| self.data[*d as usize].is_some())
                {
                    Some(k) => {
                        if k != 0 {
                            o.add(at..at + n, Origin::Mirror);
                        }
                        let (d, mc) = copies[k];
                        self.member_origins(&mut o, d as usize, mc * chunk + w, n, at);
                    }
                    None => o.add(at..at + n, Origin::Missing),
                }
            }),
            Placement::Parity(g) => {
                let dd = u64::from(g.data_disks()).max(1);
                self.piece_ranges(offset, end, |at, c, w, n| {
                    let (stripe, d) = (c / dd, (c % dd) as usize); // ok: < data disks
                    self.parity_origins(&mut o, g.stripe(stripe), d, stripe * chunk + w, n, at);
                })
            }
            Placement::Spans { count, .. } => {
                let k = u64::from(*count).max(1);
                self.piece_ranges(offset, end, |at, c, w, n| {
                    let span = &self.spans[(c % k) as usize]; // ok: < count
                    let inner = (c / k) * chunk + w;
                    o.add_shifted(span.origins(inner, n), inner, at);
                })
            }
        }
        o
    }
}
