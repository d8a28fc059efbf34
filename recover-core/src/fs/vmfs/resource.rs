//! Resource files (`.fdc.sf`, `.sbc.sf`, `.pbc.sf`, `.pb2.sf`, `.fbb.sf`,
//! `.jbc.sf`): arrays of equal resources (file descriptors, sub-blocks,
//! pointer blocks) in clusters, clusters in groups, each group led by one
//! lock-and-metadata header a cluster. An address's cluster and resource
//! give the resource's byte offset in its file.
//!
//! The metadata header at the file's start (`FS3_ResFileMetadata`, as
//! dissect.vmfs's `c_vmfs.py` lays it out): resourcesPerCluster 0x00,
//! clustersPerGroup 0x04, clusterGroupOffset 0x08, resourceSize 0x0c,
//! clusterGroupSize 0x10, numResourcesLo 0x14, numClusterGroups 0x18,
//! numResourcesHi 0x1c, signature 0x20 ("rfmd" on VMFS6), version 0x24,
//! flags 0x28, childMetaOffset 0x34 (VMFS6 `.fbb.sf`: where the small file
//! blocks' own header is).

#![deny(clippy::indexing_slicing)]

use crate::bytes::Bytes;
use crate::error::{Error, Result};

/// Bytes of the header read.
pub const LEN: usize = 0x58;
const RFMD: u32 = 0x7266_6D64;

/// A resource file's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceMeta {
    /// Resources in a cluster.
    pub per_cluster: u64,
    /// Clusters in a group.
    pub clusters_per_group: u64,
    /// Where the first group starts in the file.
    pub group_offset: u64,
    /// Bytes a resource.
    pub resource_size: u64,
    /// Bytes a group, its headers included.
    pub group_size: u64,
    /// Resources in all.
    pub resources: u64,
    /// Where a child header starts (VMFS6 `.fbb.sf`).
    pub child_offset: u64,
}

/// Parses the header of resource file `what` (for messages) from `b`;
/// `vmfs6` demands its signature.
pub fn parse(b: &[u8], what: &'static str, vmfs6: bool) -> Result<ResourceMeta> {
    let b = Bytes(b);
    let bad = |at: u64, d: String| Error::corrupt(what, at, d);
    let field = |at: usize| {
        b.le_u32(at)
            .map(u64::from)
            .ok_or_else(|| bad(at as u64, "header cut short".into()))
    };
    if vmfs6 && field(0x20)? != u64::from(RFMD) {
        return Err(bad(0x20, "no \"rfmd\" signature".into()));
    }
    let m = ResourceMeta {
        per_cluster: field(0x00)?,
        clusters_per_group: field(0x04)?,
        group_offset: field(0x08)?,
        resource_size: field(0x0c)?,
        group_size: field(0x10)?,
        resources: field(0x14)? | field(0x1c)? << 32,
        child_offset: field(0x34)?,
    };
    // VMFS6's .pbc.sf keeps only a bitmap: no resources per cluster.
    if m.per_cluster > 1 << 20 {
        return Err(bad(0, format!("{} resources per cluster", m.per_cluster)));
    }
    if m.clusters_per_group > 1 << 20 {
        return Err(bad(
            4,
            format!("{} clusters per group", m.clusters_per_group),
        ));
    }
    Ok(m)
}

impl ResourceMeta {
    /// The byte offset in the file of `resource` of `cluster`, past its
    /// group's headers of `header` bytes a cluster; `None` on overflow, or
    /// when the cluster holds no such resource.
    pub fn offset(&self, header: u64, cluster: u64, resource: u64) -> Option<u64> {
        if resource >= self.per_cluster {
            return None;
        }
        let group = cluster.checked_div(self.clusters_per_group)?;
        let in_group = cluster.checked_rem(self.clusters_per_group)?;
        let cluster_bytes = self.per_cluster.checked_mul(self.resource_size)?;
        self.group_offset
            .checked_add(group.checked_mul(self.group_size)?)?
            .checked_add(in_group.checked_mul(cluster_bytes)?)?
            .checked_add(self.clusters_per_group.checked_mul(header)?)?
            .checked_add(resource.checked_mul(self.resource_size)?)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta() -> ResourceMeta {
        ResourceMeta {
            per_cluster: 16,
            clusters_per_group: 4,
            group_offset: 0x1000,
            resource_size: 2048,
            group_size: 4 * 1024 + 4 * 16 * 2048,
            resources: 1024,
            child_offset: 0,
        }
    }

    #[test]
    fn first_resources() {
        let m = meta();
        // Group 0: four 1 KiB headers, then cluster 0's resources.
        assert_eq!(m.offset(1024, 0, 0), Some(0x1000 + 4096));
        assert_eq!(
            m.offset(1024, 1, 2),
            Some(0x1000 + 4096 + 16 * 2048 + 2 * 2048)
        );
        assert_eq!(m.offset(1024, 4, 0), Some(0x1000 + m.group_size + 4096));
        assert_eq!(m.offset(u64::MAX, 1, 0), None);
        assert_eq!(m.offset(1024, 0, 16), None);
        let empty = ResourceMeta {
            per_cluster: 0,
            clusters_per_group: 0,
            ..m
        };
        assert_eq!(empty.offset(1024, 0, 0), None);
    }

    proptest! {
        #[test]
        fn resources_never_overlap_headers(c in 0u64..1000, r in 0u64..16) {
            let m = meta();
            let at = m.offset(1024, c, r).unwrap();
            let group_start = m.group_offset + (c / 4) * m.group_size;
            prop_assert!(at >= group_start + 4 * 1024);
            prop_assert!(at + m.resource_size <= group_start + m.group_size);
        }
    }
}
