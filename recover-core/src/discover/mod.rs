//! From sources to a tree of nodes: disks, partition tables, partitions,
//! filesystems (and, in later layers, arrays, volume groups, VM images).
//!
//! Every node has a path (`d0`, `d0/gpt`, `d0/gpt/p2`, `d0/gpt/p2/ext4`)
//! that `--at` resolves back to the node and its volume. Damage found on
//! the way becomes [`Problem`]s on the node it concerns; discovery itself
//! never fails, so one bad structure hides nothing else.

mod arrays;
mod btrfs;
mod explore;
pub mod inferred;
mod lvm;
mod node;
mod options;
mod recovered;
pub mod resolve;
pub mod search;
mod source;
mod vmfs;

use crate::io::Source;
use explore::{explore, fs_node};
use lvm::volume_groups;

pub use node::{find, find_mut, DiskInfo, Node, NodeInfo, NodeKind, SearchInfo};
pub use options::Options;
pub use recovered::{mbr_type_for, recovered_table};
pub use source::{discover_in, discover_named, discover_source};

/// How deep volumes may nest (a partition inside a partition inside ...),
/// so a crafted image cannot recurse without end.
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// How many partitions of one source (at all levels of nesting) are looked
/// into: tables whose partitions hold tables again (or the same table)
/// would otherwise multiply the nodes and the work at every level.
pub const MAX_PARTITIONS: usize = 1024;

/// How many times volume groups are gathered again from PVs found inside
/// the LVs of the last ones (VM disks holding a guest's LVM).
const MAX_LVM_ROUNDS: usize = 4;

/// Builds the node tree of every source (paths `d{index}`, the index being
/// the source's position on the command line), then the arrays their RAID
/// members form (`md0`, `ddf0`, `imsm0`, ...), then the volume groups
/// their PVs form (`lvm/VG`), then the VMFS datastores their LVM devices
/// form (`vmfs/LABEL`), then the multi-device Btrfs filesystems their
/// devices form (`btrfs/LABEL`), wherever those members, PVs and devices
/// were found.
pub fn discover(sources: &[(usize, Source)], opts: &Options) -> Vec<Node> {
    let mut nodes: Vec<Node> = sources
        .iter()
        .map(|(i, s)| discover_source(s, *i, opts))
        .collect();
    let arrays = arrays::arrays(&nodes, sources, opts);
    nodes.extend(arrays);
    let groups = volume_groups(&mut nodes, opts);
    nodes.extend(groups);
    let datastores = vmfs::datastores(&mut nodes, opts);
    nodes.extend(datastores);
    let filesystems = btrfs::filesystems(&mut nodes);
    nodes.extend(filesystems);
    nodes
}
