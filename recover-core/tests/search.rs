//! The deep search as a library call (`discover::search`): what a program
//! embedding recover-core gets, and the discovery settings it is given
//! reach the recovered partitions' trees.

use recover_core::discover::{self, search, NodeKind};
use recover_core::io::{open_source, MapPolicy};

fn wiped() -> std::path::PathBuf {
    fixtures::wiped(&fixtures::gpt_small(), fixtures::catalog::Wipe::Tables).path
}

fn searched(opts: &discover::Options) -> Vec<discover::Node> {
    let src = open_source(&wiped(), MapPolicy::Auto).unwrap();
    let mut nodes = discover::discover(&[(0, src)], opts);
    let paths = search::targets(&nodes, None);
    assert_eq!(paths, ["d0"]);
    let mut calls = 0;
    let found = search::search(
        &mut nodes,
        &paths,
        &search::SearchOptions::default(),
        opts,
        &mut |p, done, total| {
            assert_eq!(p, "d0");
            assert!(done <= total);
            calls += 1;
        },
    )
    .unwrap();
    assert!(calls > 0, "progress was reported");
    assert_eq!(found.len(), 1);
    let formats: Vec<&str> = found[0].cands.iter().map(|c| c.format).collect();
    assert_eq!(formats, ["ext4", "fat32", "swap"]);
    let script = found[0].sfdisk_script();
    assert!(script.contains("start=2048"), "{script}");
    nodes
}

#[test]
fn recovered_partitions_are_nodes_explored_like_any_other() {
    let nodes = searched(&discover::Options::default());
    let p1 = discover::find(&nodes, "d0/recovered/p1").expect("d0/recovered/p1");
    assert_eq!(p1.kind, NodeKind::Partition);
    assert!(discover::find(&nodes, "d0/recovered/p1/ext4").is_some());
}

/// `scan --deep` once explored recovered partitions with default settings,
/// whatever the command line said: the settings given are the ones used.
#[test]
fn the_settings_given_reach_the_recovered_partitions() {
    let opts = discover::Options {
        max_depth: 1,
        ..Default::default()
    };
    let nodes = searched(&opts);
    let p1 = discover::find(&nodes, "d0/recovered/p1").expect("d0/recovered/p1");
    assert!(
        p1.problems
            .iter()
            .any(|p| p.detail.contains("nested 1 levels deep")),
        "{:?}",
        p1.problems
    );
}
