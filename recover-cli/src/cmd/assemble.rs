//! `recover assemble`: write an array's bytes, with its geometry from the
//! metadata or from the command line.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use recover_core::discover::{Node, NodeInfo};
use recover_core::io::{open_source, MapPolicy, Volume, VolumeRef};
use recover_core::raid::metadata::Level;
use recover_core::raid::model::{ArrayModel, MemberData, Spec};
use recover_core::raid::volume::ArrayVolume;

use recover_core::raid::infer::Hints;

use crate::args::parse_size;
use crate::output::{Guard, Output};

/// The command line of `recover assemble`.
#[derive(clap::Args, Debug)]
pub struct AssembleArgs {
    /// The members, in slot order unless --order says otherwise.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,
    /// Where to write the array.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Which array, when the sources hold several (md0, ddf1, imsm0, ...).
    #[arg(long, value_name = "ARRAY")]
    pub at: Option<String>,
    /// RAID level: linear, 0, 1, 4, 5, 6, 10 (or raid5, ...).
    #[arg(long)]
    pub level: Option<String>,
    /// Chunk (strip) size: bytes, or with K, M, G, or s (512-byte sectors).
    #[arg(long)]
    pub chunk: Option<String>,
    /// Layout in md's words: left-symmetric, right-asymmetric, parity-first,
    /// ddf-N-continue, near=2, far=2, offset=2, ...; HP's delayed parity as
    /// left-asymmetric+delay=16 (the parity held 16 rows before it moves).
    #[arg(long)]
    pub layout: Option<String>,
    /// For each slot, the source (0-based, in command-line order) that fills
    /// it, or x for a missing member: 2,0,x,1.
    #[arg(long)]
    pub order: Option<String>,
    /// Where the data starts on each member: one size for all, or one per slot.
    #[arg(long)]
    pub offset: Option<String>,
    /// Slots with no member (the sources fill the others in order).
    #[arg(long)]
    pub missing: Option<String>,
    /// The array's size (default: all the members give).
    #[arg(long)]
    pub size: Option<String>,
    /// Assemble from the command line alone even where metadata disagrees.
    #[arg(long)]
    pub ignore_metadata: bool,
    /// Write zeros where too many members are missing to rebuild, instead of refusing.
    #[arg(long)]
    pub allow_holes: bool,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub opts: crate::SourceOpts,
}

impl AssembleArgs {
    fn overrides(&self) -> bool {
        self.level.is_some()
            || self.chunk.is_some()
            || self.layout.is_some()
            || self.order.is_some()
            || self.offset.is_some()
            || self.missing.is_some()
            || self.size.is_some()
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

fn parse_level(s: &str) -> io::Result<Level> {
    Level::from_name(s).ok_or_else(|| {
        bad(format!(
            "--level {s}: not one of linear, 0, 1, 4, 5, 6, 10, 1e"
        ))
    })
}

fn list(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect()
}

pub fn run(a: &AssembleArgs) -> io::Result<ExitCode> {
    let guard = Guard::new(&a.sources, a.force)?;
    guard.check(&a.output, "the assembled array")?;
    if a.opts.infer {
        return inferred(a, &guard);
    }
    let found = super::discover_all(&a.sources, &a.opts)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    if !found.failed.is_empty() {
        return Err(bad("every source must open to assemble an array"));
    }
    let arrays: Vec<&Node> = found
        .nodes
        .iter()
        .filter(|n| matches!(n.info, NodeInfo::Array(_)))
        .collect();
    let chosen = match &a.at {
        Some(p) => Some(
            arrays
                .iter()
                .find(|n| n.path == *p)
                .copied()
                .ok_or_else(|| {
                    bad(format!(
                        "--at {p}: no such array (run scan to see the arrays)"
                    ))
                })?,
        ),
        None if arrays.len() > 1 && !a.ignore_metadata => {
            let names: Vec<&str> = arrays.iter().map(|n| n.path.as_str()).collect();
            return Err(bad(format!(
                "the sources hold {} arrays ({}); choose one with --at",
                names.len(),
                names.join(", ")
            )));
        }
        None => arrays.first().copied(),
    };
    if !a.overrides() {
        let node = chosen.ok_or_else(|| {
            bad("no RAID metadata found on the sources: give the geometry with --level, --chunk, --layout, --order and --offset")
        })?;
        let failed = crate::output::write_node(&guard, node, &found.nodes, &a.output, None)?;
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if let (Some(node), false) = (chosen, a.ignore_metadata) {
        check_agreement(a, node)?;
    }
    let vol = by_hand(a)?;
    let node_name = "assembled";
    let out = Output::create(&guard, &a.output, "the assembled array")?;
    let written = out.write_volume(&vol, node_name)?;
    let holes = vol.bad_ranges();
    for h in &holes {
        eprintln!(
            "recover: {node_name}: {} bytes at {:#x}..{:#x} could not be rebuilt and were written as zeros",
            h.end - h.start,
            h.start,
            h.end
        );
    }
    eprintln!("recover: wrote {written} bytes to {}", a.output.display());
    Ok(if holes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `assemble --infer`: the geometry from the data, narrowed by the
/// --level, --chunk and --offset given; the best candidate is written.
fn inferred(a: &AssembleArgs, guard: &Guard) -> io::Result<ExitCode> {
    if a.order.is_some() || a.missing.is_some() || a.layout.is_some() || a.size.is_some() {
        return Err(bad(
            "--infer finds the order, missing members, layout and size itself: give only --level, --chunk or --offset with it",
        ));
    }
    let offset = match a.offset.as_deref().map(list) {
        None => None,
        Some(v) if v.len() == 1 => Some(parse_size(v[0])?),
        Some(_) => {
            return Err(bad(
                "--offset with --infer: one size, the same on every member",
            ))
        }
    };
    let hints = Hints {
        level: a.level.as_deref().map(parse_level).transpose()?,
        chunk: a.chunk.as_deref().map(parse_size).transpose()?,
        members: None,
        offset,
    };
    let found = super::discover_with_hints(&a.sources, &a.opts, &hints)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    if !found.failed.is_empty() {
        return Err(bad("every source must open to assemble an array"));
    }
    let Some(node) = found
        .nodes
        .iter()
        .find(|n| matches!(n.info, NodeInfo::Inferred(_)))
    else {
        for p in &found.not_inferred {
            eprintln!("recover: {p}");
        }
        return Ok(ExitCode::from(1));
    };
    if let NodeInfo::Inferred(inf) = &node.info {
        eprintln!(
            "recover: {}: {} (confidence {:.2})",
            node.path,
            inf.best.summary(),
            inf.best.confidence
        );
        for p in &node.problems {
            eprintln!("recover: {}: {p}", node.path);
        }
        match inf.mdadm_command() {
            Some(cmd) => {
                eprintln!(
                    "recover: the same array with mdadm ({}):",
                    crate::report::MDADM_WARNING
                );
                eprintln!("recover:   {cmd}");
            }
            None => eprintln!("recover: mdadm: {}", crate::report::NO_MDADM),
        }
    }
    let failed = crate::output::write_node(guard, node, &found.nodes, &a.output, None)?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Overrides given where metadata exists must agree with it.
fn check_agreement(a: &AssembleArgs, node: &Node) -> io::Result<()> {
    let NodeInfo::Array(arr) = &node.info else {
        return Ok(());
    };
    let i = &arr.info;
    let contradiction = |what: &str, ours: String, theirs: String| {
        bad(format!(
            "{what} {ours} contradicts the {} metadata of {} ({theirs}); add --ignore-metadata to assemble from the command line alone",
            i.format.as_str(),
            node.path
        ))
    };
    if let Some(l) = &a.level {
        let l = parse_level(l)?;
        if l != i.level {
            return Err(contradiction("--level", l.as_str(), i.level.as_str()));
        }
    }
    if let Some(c) = &a.chunk {
        let c = parse_size(c)?;
        if Some(c) != i.chunk_size {
            return Err(contradiction(
                "--chunk",
                c.to_string(),
                format!("{:?}", i.chunk_size),
            ));
        }
    }
    if let Some(l) = &a.layout {
        if !l.eq_ignore_ascii_case(&i.layout.neutral) {
            return Err(contradiction(
                "--layout",
                l.clone(),
                i.layout.neutral.clone(),
            ));
        }
    }
    if a.order.is_some() || a.offset.is_some() || a.missing.is_some() || a.size.is_some() {
        return Err(bad(format!(
            "--order, --offset, --missing and --size replace what the {} metadata of {} says; add --ignore-metadata",
            i.format.as_str(),
            node.path
        )));
    }
    Ok(())
}

/// The array from the command line alone.
fn by_hand(a: &AssembleArgs) -> io::Result<ArrayVolume> {
    let level = parse_level(
        a.level
            .as_deref()
            .ok_or_else(|| bad("give --level to assemble by hand"))?,
    )?;
    let striped = !matches!(level, Level::Linear | Level::Raid1);
    let chunk = match &a.chunk {
        Some(c) => parse_size(c)?,
        None if striped => return Err(bad(format!("give --chunk for a {} array", level.as_str()))),
        None => 0,
    };
    if striped && (chunk < 512 || !chunk.is_power_of_two()) {
        return Err(bad(format!(
            "--chunk {chunk}: a chunk is a power of two of at least 512 bytes"
        )));
    }
    let policy = if a.opts.no_mmap {
        MapPolicy::Never
    } else {
        MapPolicy::Auto
    };
    let mut vols: Vec<(String, VolumeRef)> = Vec::new();
    for p in &a.sources {
        let s = open_source(p, policy).map_err(io::Error::other)?;
        vols.push((s.name, s.volume));
    }
    // Slots: --order names a source (or x) per slot; --missing lists empty
    // slots filled around; otherwise the sources in order.
    let slots: Vec<Option<usize>> = match (&a.order, &a.missing) {
        (Some(_), Some(_)) => return Err(bad("give either --order or --missing, not both")),
        (Some(o), None) => list(o)
            .into_iter()
            .map(|x| match x {
                "x" | "X" | "-" | "missing" => Ok(None),
                n => n
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < vols.len())
                    .map(Some)
                    .ok_or_else(|| {
                        bad(format!(
                            "--order: {x:?} is not a source number below {}",
                            vols.len()
                        ))
                    }),
            })
            .collect::<io::Result<_>>()?,
        (None, Some(m)) => {
            let miss: Vec<usize> = list(m)
                .into_iter()
                .map(|x| {
                    x.parse()
                        .map_err(|_| bad(format!("--missing: {x:?} is not a slot number")))
                })
                .collect::<io::Result<_>>()?;
            let total = vols.len() + miss.len();
            let mut next = 0;
            (0..total)
                .map(|s| {
                    if miss.contains(&s) {
                        None
                    } else {
                        next += 1;
                        Some(next - 1)
                    }
                })
                .collect()
        }
        (None, None) => (0..vols.len()).map(Some).collect(),
    };
    let mut used: Vec<usize> = slots.iter().flatten().copied().collect();
    used.sort_unstable();
    if used.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad("--order names a source twice"));
    }
    let offsets: Vec<u64> = match &a.offset {
        None => vec![0; slots.len()],
        Some(o) => {
            let v: Vec<u64> = list(o)
                .into_iter()
                .map(parse_size)
                .collect::<io::Result<_>>()?;
            match v.len() {
                1 => vec![v[0]; slots.len()],
                n if n == slots.len() => v,
                n => {
                    return Err(bad(format!(
                        "--offset: {n} values for {} slots (give one, or one per slot)",
                        slots.len()
                    )))
                }
            }
        }
    };
    let members: Vec<Option<MemberData>> = slots
        .iter()
        .zip(&offsets)
        .map(|(s, &off)| {
            s.map(|i| {
                let (name, v) = &vols[i];
                if off >= v.len() {
                    return Err(bad(format!(
                        "member {name} is too small: --offset {off} is at or past its end ({} bytes)",
                        v.len()
                    )));
                }
                Ok(MemberData {
                    volume: Arc::clone(v),
                    data_offset: off,
                    data_size: v.len().saturating_sub(off),
                    name: name.clone(),
                })
            })
            .transpose()
        })
        .collect::<io::Result<_>>()?;
    if members.iter().all(Option::is_none) {
        return Err(bad("no slot has a member"));
    }
    let size = a.size.as_deref().map(parse_size).transpose()?;
    let model = ArrayModel::new(Spec {
        level,
        layout: a.layout.clone().unwrap_or_default(),
        chunk,
        members,
        member_size: None,
        size,
        spans: None,
    })
    .map_err(|e| bad(e.to_string()))?;
    if let Some(want) = size {
        if want > model.size {
            return Err(bad(format!(
                "--size {want}: the members hold only {} bytes of such an array",
                model.size
            )));
        }
    }
    ArrayVolume::new("assembled".into(), model, a.allow_holes).map_err(|e| bad(e.to_string()))
}
