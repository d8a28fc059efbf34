//! A compressed NTFS attribute as a volume: compression units of
//! 2^compression_unit clusters, each stored whole (as many real clusters
//! as the unit has), compressed (fewer real clusters, then a sparse run:
//! LZNT1 data) or not at all (all sparse: zeros).

use super::lznt1;
use super::runlist::Run;
use crate::error::{Error, Result};
use crate::io::{check_range, for_each_block, Gather, LastBlock, Origins, Volume, VolumeRef};

/// The contents of a compressed attribute.
#[derive(Debug)]
pub struct Compressed {
    base: VolumeRef,
    runs: Vec<Run>,
    cluster: u64,
    unit: u64,
    size: u64,
    initialized: u64,
    name: String,
    /// The last unit decompressed.
    last: LastBlock,
}

impl Compressed {
    /// Over `runs` (in VCN order) of `base`; `unit` clusters per
    /// compression unit of `cluster` bytes (the caller keeps units to 64 KiB).
    pub fn new(
        base: VolumeRef,
        runs: Vec<Run>,
        cluster: u64,
        unit: u64,
        size: u64,
        initialized: u64,
        name: String,
    ) -> Self {
        Compressed {
            base,
            runs,
            cluster,
            unit,
            size,
            initialized: initialized.min(size),
            name,
            last: LastBlock::default(),
        }
    }

    /// Unit `u`'s clusters in order: `Some(lcn)` stored, `None` sparse.
    fn clusters(&self, u: u64) -> Vec<Option<u64>> {
        let first = u * self.unit;
        let mut clusters = Vec::with_capacity(self.unit as usize); // ok: the caller keeps units to 64 KiB
        let start = self.runs.partition_point(|r| r.vcn + r.len <= first);
        for r in self.runs.iter().skip(start) {
            if r.vcn >= first + self.unit {
                break;
            }
            let from = first.max(r.vcn);
            let to = (first + self.unit).min(r.vcn + r.len);
            for v in from..to {
                clusters.push(r.lcn.map(|l| l + (v - r.vcn)));
            }
        }
        clusters.resize(self.unit as usize, None);
        clusters
    }

    /// Unit `u`, decompressed.
    fn unit_bytes(&self, u: u64) -> Result<Vec<u8>> {
        let ubytes = (self.unit * self.cluster) as usize; // ok: <= 64 KiB
        let clusters = self.clusters(u);
        let stored = clusters.iter().take_while(|c| c.is_some()).count();
        let mut raw = vec![0u8; stored * self.cluster as usize];
        // `raw` holds `stored` clusters (`max(1)`: chunks_exact_mut refuses
        // 0, and a zero cluster size leaves `raw` empty anyway).
        for (dst, c) in raw
            .chunks_exact_mut(self.cluster.max(1) as usize)
            .zip(clusters.iter().take(stored))
        {
            let at = c.unwrap_or(0).checked_mul(self.cluster).ok_or_else(|| {
                Error::corrupt(
                    "NTFS compressed run",
                    0,
                    format!("{}: cluster overflows", self.name),
                )
            })?;
            self.base.read_at(at, dst)?;
        }
        if stored == self.unit as usize {
            return Ok(raw);
        }
        let mut out = vec![0u8; ubytes];
        if stored > 0 {
            lznt1::decompress(&raw, &mut out).map_err(|(at, why)| {
                Error::corrupt(
                    "NTFS compressed unit",
                    clusters.first().copied().flatten().unwrap_or(0) * self.cluster + at as u64,
                    format!("{}: unit {u}: {why}", self.name),
                )
            })?;
        }
        Ok(out)
    }
}

impl Volume for Compressed {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self, offset, buf.len() as u64)?;
        let ubytes = self.unit * self.cluster;
        for_each_block(offset, buf, ubytes, |u, within, out| {
            let data = self.last.get(u, || self.unit_bytes(u))?;
            let w = within as usize;
            let src = data.get(w..w + out.len()).ok_or_else(|| {
                Error::corrupt(
                    "NTFS compressed unit",
                    0,
                    format!(
                        "{}: unit {u} is {} bytes, short of {}",
                        self.name,
                        data.len(),
                        w + out.len()
                    ),
                )
            })?;
            out.copy_from_slice(src);
            // Past the initialized size: zeros, whatever the clusters hold.
            let pos = u * ubytes + within;
            let keep = self.initialized.saturating_sub(pos).min(out.len() as u64) as usize;
            out.iter_mut().skip(keep).for_each(|b| *b = 0);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// A unit stored whole carries its clusters' origins; a compressed
    /// one, whole, any origin of its stored clusters; a sparse one none.
    /// Past the initialized size the bytes are zeros, from nowhere.
    fn origins(&self, offset: u64, len: u64) -> Origins {
        let end = offset.saturating_add(len).min(self.initialized);
        let ubytes = (self.unit * self.cluster).max(1);
        let cluster = self.cluster.max(1);
        let mut g = Gather::new();
        let mut pos = offset;
        while pos < end {
            let (u, within) = (pos / ubytes, pos % ubytes);
            let n = (ubytes - within).min(end - pos);
            let clusters = self.clusters(u);
            let stored = clusters.iter().take_while(|c| c.is_some()).count() as u64;
            if stored == self.unit {
                let mut p = within;
                while p < within + n {
                    let m = (cluster - p % cluster).min(within + n - p);
                    let lcn = clusters.get((p / cluster) as usize).copied().flatten();
                    if let Some(at) = lcn.and_then(|l| l.checked_mul(cluster)) {
                        g.map(self.base.as_ref(), at + p % cluster, pos - within + p, m);
                    }
                    p += m;
                }
            } else {
                // The stored clusters, in runs of neighbours.
                let mut runs: Vec<(u64, u64)> = Vec::new();
                for &l in clusters.iter().take(stored as usize).flatten() {
                    match runs.last_mut() {
                        Some((s, k)) if s.saturating_add(*k) == l => *k += 1,
                        _ => runs.push((l, 1)),
                    }
                }
                for (l, k) in runs {
                    if let Some(at) = l.checked_mul(cluster) {
                        g.whole(self.base.as_ref(), at, k * cluster, pos, n);
                    }
                }
            }
            pos += n;
        }
        g.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Concat, MemVolume, Origin, Zeros};
    use std::sync::Arc;

    #[test]
    fn stored_units_map_by_cluster_and_compressed_ones_whole() {
        // Clusters of 512, units of 4 clusters; clusters 8.. of the volume
        // are missing.
        let base: VolumeRef = Arc::new(Concat::new(
            vec![
                Arc::new(MemVolume::new("v", vec![0u8; 8 * 512])),
                Arc::new(Zeros::missing(8 * 512, "gone".into())),
            ],
            "v".into(),
        ));
        let run = |vcn, len, lcn| Run { vcn, len, lcn };
        let runs = vec![
            // Unit 0 stored whole: clusters 6, 7, 8, 9 (the last two missing).
            run(0, 4, Some(6)),
            // Unit 1 compressed into cluster 10 (missing), then sparse.
            run(4, 1, Some(10)),
            run(5, 3, None),
            // Unit 2 compressed into clusters 1, 2 (there).
            run(8, 2, Some(1)),
            run(10, 2, None),
            // Unit 3 sparse.
            run(12, 4, None),
        ];
        let c = Compressed::new(base, runs, 512, 4, 8 * 2048, 7 * 2048, "c".into());
        let o = c.origins(0, c.len());
        assert_eq!(o.of(Origin::Missing), vec![1024..4096]);
        assert_eq!(c.origins(3000, 10).of(Origin::Missing), vec![3000..3010]);
        assert!(c.origins(4096, 4096).is_empty());
    }
}
