//! The checksums of every layer, as discovery verified them: GPT headers
//! and entry arrays (CRC-32), RAID metadata (md superblocks, DDF and IMSM
//! anchors), LVM metadata copies, and the superblocks of filesystems and
//! containers that carry one (ext4 metadata_csum, XFS CRC, Btrfs,
//! exFAT's boot region, LUKS2, swap's none). The checksums inside
//! filesystems (inodes, directory and extent blocks, Btrfs data) are
//! verified by the read of every file (`files.rs`); VM images' by their
//! own check. Nodes' problems (a CRC that fails, a structure past the end)
//! come along, as scan reports them.

use std::io::{self, Write};

use serde_json::{json, Value};

use recover_core::discover::{Node, NodeInfo};

/// One structure whose checksum was verified.
pub struct Sum {
    pub path: String,
    pub structure: String,
    pub offset: Option<u64>,
    /// "ok", "mismatch" or "missing" (a GPT copy not found).
    pub state: &'static str,
}

fn state(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "mismatch"
    }
}

/// The checksummed structures of the trees, in tree order, but those of
/// the nodes `skip` says.
pub fn sums(nodes: &[Node], skip: &dyn Fn(&str) -> bool) -> Vec<Sum> {
    let mut out = Vec::new();
    for top in nodes {
        for n in top.walk() {
            if skip(&n.path) {
                continue;
            }
            match &n.info {
                NodeInfo::Table(t) => {
                    if let Some(g) = &t.gpt {
                        for (which, at, st) in [
                            ("primary", g.primary_offset, g.primary_state),
                            ("backup", g.backup_offset, g.backup_state),
                        ] {
                            out.push(Sum {
                                path: n.path.clone(),
                                structure: format!("GPT {which} header and entries"),
                                offset: Some(at),
                                state: match st {
                                    "ok" => "ok",
                                    "missing" => "missing",
                                    _ => "mismatch",
                                },
                            });
                        }
                    }
                }
                NodeInfo::Filesystem(id) => {
                    if let Some(ok) = id.checksum_ok {
                        let what = if id.raid.is_some() {
                            "metadata"
                        } else {
                            "superblock"
                        };
                        out.push(Sum {
                            path: n.path.clone(),
                            structure: format!("{} {what}", n.format),
                            offset: Some(id.superblock_offset),
                            state: state(ok),
                        });
                    }
                }
                NodeInfo::VolumeGroup(vg) => {
                    for c in &vg.copies {
                        if let Some(ok) = c.checksum_ok {
                            out.push(Sum {
                                path: n.path.clone(),
                                structure: format!(
                                    "LVM metadata (seqno {}) on {}",
                                    c.seqno, c.pv_path
                                ),
                                offset: Some(c.offset),
                                state: state(ok),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Every node's problems, as `check` reports problems, but those of the
/// nodes `skip` says.
pub fn problems(nodes: &[Node], skip: &dyn Fn(&str) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    for top in nodes {
        for n in top.walk() {
            if skip(&n.path) {
                continue;
            }
            for p in &n.problems {
                out.push(json!({"path": n.path, "severity": p.severity.as_str(), "detail": p.to_string()}));
            }
        }
    }
    out
}

/// The `checksums` object of check's JSON.
pub fn json(sums: &[Sum]) -> Value {
    let count = |s: &str| sums.iter().filter(|x| x.state == s).count();
    json!({
        "verified": sums.len(),
        "ok": count("ok"),
        "mismatch": count("mismatch"),
        "missing": count("missing"),
        "list": sums.iter().map(|s| json!({
            "path": s.path, "structure": s.structure, "offset": s.offset, "checksum": s.state,
        })).collect::<Vec<_>>(),
    })
}

/// One line, and a line per checksum that is not ok.
pub fn write_human(out: &mut impl Write, sums: &[Sum]) -> io::Result<()> {
    if sums.is_empty() {
        return Ok(());
    }
    let bad: Vec<&Sum> = sums.iter().filter(|s| s.state != "ok").collect();
    writeln!(
        out,
        "checksums: {} structures verified, {} ok{}",
        sums.len(),
        sums.len() - bad.len(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(", {} not", bad.len())
        }
    )?;
    for s in bad {
        let at = s.offset.map(|o| format!(" at {o:#x}")).unwrap_or_default();
        writeln!(out, "  {}: {}{at}: {}", s.path, s.structure, s.state)?;
    }
    Ok(())
}
