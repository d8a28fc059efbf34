//! The provenance record of `cp` and `extract` (`--manifest`, `--dfxml`):
//! for every file or node written, its size, SHA-256, and the byte ranges
//! that were not simply read where they are stored (rebuilt from parity,
//! read from a mirror, zeros for unreadable or missing data, found through
//! an older metadata copy).
//!
//! Both forms are written as the copy goes, one record at a time, so memory
//! stays flat in the number of files. The DFXML follows the DFXML 2.0.0
//! schema (dfxml-working-group/dfxml_schema, dfxml.xsd): one `fileobject`
//! per file, with `filename`, `filesize`, `hashdigest type="sha256"`;
//! what DFXML has no element for (where bytes came from, where the copy
//! was written) sits in elements of our own namespace, which the schema
//! admits at the end of a `fileobject` (`xs:any namespace="##other"`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use recover_core::discover::{Node, NodeInfo};
use recover_core::fs::{FileKind, Stat, Timestamp};
use recover_core::io::{Origin, Origins};
use serde_json::{json, Value};

use crate::output::Guard;

/// The namespace of our own DFXML elements and attributes.
pub const DFXML_NS: &str = "urn:x-recover:dfxml:provenance:1";

/// Where the provenance record goes.
#[derive(Args, Debug, Clone, Default)]
pub struct ManifestArgs {
    /// Write a JSON manifest of what was written: per file its path, size,
    /// SHA-256 and the byte ranges rebuilt from parity, read from a mirror,
    /// zero-filled as unreadable or missing (see the README).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Write the same record as DFXML (the XML of fiwalk and Sleuth Kit's
    /// tools).
    #[arg(long, value_name = "FILE")]
    pub dfxml: Option<PathBuf>,
}

impl ManifestArgs {
    /// True when a record is asked for.
    pub fn wanted(&self) -> bool {
        self.manifest.is_some() || self.dfxml.is_some()
    }
}

/// One file, link, directory or node written.
pub struct Record<'a> {
    /// As `--at` names it: `md0/ext4:/dir/file`, or a node path.
    pub path: String,
    /// Where it was written.
    pub output: String,
    /// file, stream (an NTFS named stream), symlink, directory, special (not
    /// copied) or node.
    pub kind: &'static str,
    /// Bytes (of the link target, for a symlink).
    pub size: u64,
    /// Of every byte written; none for directories, links and failures.
    pub sha256: Option<String>,
    /// How its bytes were obtained, normalized.
    pub origins: Origins,
    /// Why some layer's metadata came from an older copy.
    pub older_metadata: &'a [String],
    /// Its metadata, for a file of a filesystem.
    pub stat: Option<&'a Stat>,
    /// The target, for a symlink.
    pub link_target: Option<String>,
    /// Why it was not written, or not whole.
    pub error: Option<String>,
}

impl Record<'_> {
    /// ok: read as stored; rebuilt: some bytes from parity, a mirror or an
    /// older metadata copy, all there; partly_unreadable: some bytes are
    /// zeros for data that could not be had; failed: not written; skipped:
    /// a device, fifo or socket, which has no bytes to copy.
    pub fn status(&self) -> &'static str {
        if self.kind == "special" {
            "skipped"
        } else if self.error.is_some() && self.sha256.is_none() {
            "failed"
        } else if self.origins.iter().any(|(_, o)| o.is_loss()) {
            "partly_unreadable"
        } else if !self.origins.is_empty() {
            "rebuilt"
        } else {
            "ok"
        }
    }
}

/// Totals, for the end of the record and the summary line.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub records: u64,
    pub bytes: u64,
    pub by_status: [u64; 5],
    pub by_origin: [u64; Origin::ALL.len()],
}

const STATUSES: [&str; 5] = ["ok", "rebuilt", "partly_unreadable", "failed", "skipped"];

/// The open record files.
pub struct Manifest {
    json: Option<(BufWriter<File>, PathBuf)>,
    dfxml: Option<(BufWriter<File>, PathBuf)>,
    totals: Totals,
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs() as i64, 0)
}

fn command_line() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for XML content and attribute values: the five escapes, and the
/// characters XML 1.0 cannot carry at all (controls but tab, newline,
/// return) as U+FFFD.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || matches!(c as u32, 0xFFFE | 0xFFFF) => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn ranges_json(origins: &Origins) -> (Value, Value) {
    let mut ranges = serde_json::Map::new();
    let mut bytes = serde_json::Map::new();
    for o in Origin::ALL {
        let rs = origins.of(o);
        if rs.is_empty() {
            continue;
        }
        bytes.insert(
            o.as_str().into(),
            json!(rs.iter().map(|r| r.end - r.start).sum::<u64>()),
        );
        ranges.insert(
            o.as_str().into(),
            json!(rs
                .iter()
                .map(|r| json!({"start": r.start, "end": r.end}))
                .collect::<Vec<_>>()),
        );
    }
    (Value::Object(ranges), Value::Object(bytes))
}

/// DFXML's name_type and meta_type (Sleuth Kit's TSK_FS_META_TYPE numbers).
fn dfxml_types(kind: &str, stat: Option<&Stat>) -> (&'static str, u32) {
    match stat.map(Stat::kind) {
        Some(FileKind::Dir) => ("d", 2),
        Some(FileKind::Symlink) => ("l", 5),
        Some(FileKind::CharDevice) => ("c", 6),
        Some(FileKind::BlockDevice) => ("b", 7),
        Some(FileKind::Fifo) => ("p", 3),
        Some(FileKind::Socket) => ("s", 8),
        Some(FileKind::File) => ("r", 1),
        _ if kind == "node" => ("r", 1),
        _ => ("-", 0),
    }
}

impl Manifest {
    /// Opens the record files `args` names through `guard` and writes their
    /// heads; `None` when none is asked for. `at` is what the command copies.
    pub fn open(
        args: &ManifestArgs,
        guard: &Guard,
        sources: &[PathBuf],
        at: &str,
    ) -> io::Result<Option<Manifest>> {
        if !args.wanted() {
            return Ok(None);
        }
        let started = now().iso8601();
        let cmdline = command_line();
        let open = |p: &PathBuf, what: &str| -> io::Result<(BufWriter<File>, PathBuf)> {
            let c = guard.create_file(p, what)?;
            Ok((BufWriter::new(c.file), p.clone()))
        };
        let mut json = match &args.manifest {
            Some(p) => Some(open(p, "the manifest")?),
            None => None,
        };
        let mut dfxml = match &args.dfxml {
            Some(p) => Some(open(p, "the DFXML manifest")?),
            None => None,
        };
        let names: Vec<String> = sources
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if let Some((w, _)) = json.as_mut() {
            let head = json!({
                "manifest_version": 1,
                "tool": {"name": "recover", "version": env!("CARGO_PKG_VERSION")},
                "command_line": cmdline,
                "start_time": started,
                "sources": names,
                "at": at,
            });
            // The head's fields, then "files" written record by record.
            let text = serde_json::to_string_pretty(&head).map_err(io::Error::other)?;
            let text = text.trim_end().trim_end_matches('}').trim_end();
            write!(w, "{text},\n  \"files\": [")?;
        }
        if let Some((w, _)) = dfxml.as_mut() {
            writeln!(w, "<?xml version='1.0' encoding='UTF-8'?>")?;
            writeln!(
                w,
                "<dfxml xmlns='http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML' \
                 xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:recover='{DFXML_NS}' version='2.0.0-beta.0'>"
            )?;
            writeln!(
                w,
                "  <metadata>\n    <dc:type>File Extraction</dc:type>\n  </metadata>"
            )?;
            writeln!(
                w,
                "  <creator>\n    <program>recover</program>\n    <version>{}</version>",
                env!("CARGO_PKG_VERSION")
            )?;
            writeln!(
                w,
                "    <execution_environment>\n      <command_line>{}</command_line>\n      <start_time>{started}</start_time>\n    </execution_environment>\n  </creator>",
                xml(&cmdline)
            )?;
            writeln!(w, "  <source>")?;
            for n in &names {
                writeln!(w, "    <image_filename>{}</image_filename>", xml(n))?;
            }
            writeln!(w, "  </source>")?;
        }
        Ok(Some(Manifest {
            json,
            dfxml,
            totals: Totals::default(),
        }))
    }

    /// Writes one record.
    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        let status = r.status();
        let t = &mut self.totals;
        t.records += 1;
        if r.sha256.is_some() {
            t.bytes += r.size;
        }
        if let Some(i) = STATUSES.iter().position(|s| *s == status) {
            t.by_status[i] += 1;
        }
        for (i, o) in Origin::ALL.iter().enumerate() {
            t.by_origin[i] += r.origins.bytes(*o);
        }
        if let Some((w, _)) = self.json.as_mut() {
            let (ranges, bytes) = ranges_json(&r.origins);
            let mut v = json!({
                "path": r.path,
                "output": r.output,
                "kind": r.kind,
                "size": r.size,
                "sha256": r.sha256,
                "status": status,
                "ranges": ranges,
                "bytes": bytes,
                "older_metadata": r.older_metadata,
                "error": r.error,
            });
            if let Some(l) = &r.link_target {
                v["link_target"] = json!(l);
            }
            let sep = if t.records > 1 { "," } else { "" };
            write!(
                w,
                "{sep}\n    {}",
                serde_json::to_string(&v).map_err(io::Error::other)?
            )?;
        }
        if let Some((w, _)) = self.dfxml.as_mut() {
            write_fileobject(w, r, status)?;
        }
        Ok(())
    }

    /// Writes the totals and the tails, and flushes; returns the totals.
    pub fn finish(mut self) -> io::Result<Totals> {
        let t = self.totals.clone();
        let end = now().iso8601();
        if let Some((mut w, p)) = self.json.take() {
            let mut by_status = serde_json::Map::new();
            for (s, n) in STATUSES.iter().zip(t.by_status) {
                by_status.insert((*s).into(), json!(n));
            }
            let mut by_origin = serde_json::Map::new();
            for (o, n) in Origin::ALL.iter().zip(t.by_origin) {
                by_origin.insert(o.as_str().into(), json!(n));
            }
            let totals = json!({
                "records": t.records,
                "bytes": t.bytes,
                "status": by_status,
                "origin_bytes": by_origin,
            });
            write!(
                w,
                "\n  ],\n  \"totals\": {},\n  \"end_time\": {}\n}}\n",
                serde_json::to_string(&totals).map_err(io::Error::other)?,
                json!(end)
            )?;
            flush(w, &p)?;
        }
        if let Some((mut w, p)) = self.dfxml.take() {
            writeln!(w, "</dfxml>")?;
            flush(w, &p)?;
        }
        Ok(t)
    }
}

fn flush(w: BufWriter<File>, p: &std::path::Path) -> io::Result<()> {
    let f = w
        .into_inner()
        .map_err(|e| io::Error::other(format!("{}: {}", p.display(), e.error())))?;
    f.sync_all()
}

fn write_fileobject(w: &mut impl Write, r: &Record, status: &str) -> io::Result<()> {
    // Children in the order dfxml.xsd's fileobject_type sequence gives.
    writeln!(w, "  <fileobject recover:status='{status}'>")?;
    writeln!(w, "    <filename>{}</filename>", xml(&r.path))?;
    if let Some(e) = &r.error {
        writeln!(w, "    <error>{}</error>", xml(e))?;
    }
    let (name_type, meta_type) = dfxml_types(r.kind, r.stat);
    writeln!(w, "    <name_type>{name_type}</name_type>")?;
    writeln!(w, "    <filesize>{}</filesize>", r.size)?;
    if let Some(s) = r.stat {
        writeln!(w, "    <inode>{}</inode>", s.id)?;
    }
    writeln!(w, "    <meta_type>{meta_type}</meta_type>")?;
    if let Some(s) = r.stat {
        if let Some(m) = s.mode {
            writeln!(w, "    <mode>{}</mode>", m & 0o7777)?;
        }
        if let Some(n) = s.nlink {
            writeln!(w, "    <nlink>{n}</nlink>")?;
        }
        if let Some(u) = s.uid {
            writeln!(w, "    <uid>{u}</uid>")?;
        }
        if let Some(g) = s.gid {
            writeln!(w, "    <gid>{g}</gid>")?;
        }
        for (name, t) in [
            ("mtime", s.mtime),
            ("ctime", s.ctime),
            ("atime", s.atime),
            ("crtime", s.crtime),
        ] {
            if let Some(t) = t {
                writeln!(w, "    <{name}>{}</{name}>", t.iso8601())?;
            }
        }
    }
    if let Some(l) = &r.link_target {
        writeln!(w, "    <link_target>{}</link_target>", xml(l))?;
    }
    if let Some(h) = &r.sha256 {
        writeln!(w, "    <hashdigest type='sha256'>{h}</hashdigest>")?;
    }
    writeln!(w, "    <recover:output>{}</recover:output>", xml(&r.output))?;
    if !r.origins.is_empty() {
        writeln!(w, "    <recover:origins>")?;
        for o in Origin::ALL {
            for rg in r.origins.of(o) {
                writeln!(
                    w,
                    "      <recover:run origin='{}' file_offset='{}' len='{}'/>",
                    o.as_str(),
                    rg.start,
                    rg.end - rg.start
                )?;
            }
        }
        writeln!(w, "    </recover:origins>")?;
    }
    for n in r.older_metadata {
        writeln!(
            w,
            "    <recover:older_metadata>{}</recover:older_metadata>",
            xml(n)
        )?;
    }
    writeln!(w, "  </fileobject>")
}

/// Why the layers from the sources down to `path` (a node path) rest on an
/// older or backup copy of their metadata: a GPT read from its backup
/// header, a filesystem found from its backup superblocks only.
pub fn older_metadata(roots: &[Node], path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Node> = roots.iter().collect();
    while let Some(n) = stack.pop() {
        let above = path == n.path
            || path
                .strip_prefix(n.path.as_str())
                .is_some_and(|r| r.starts_with('/'));
        if !above {
            continue;
        }
        match &n.info {
            NodeInfo::Table(t) => {
                if let Some(g) = t
                    .gpt
                    .as_ref()
                    .filter(|g| g.used == recover_core::part::gpt::Which::Backup)
                {
                    out.push(format!(
                        "{}: the partitions come from the backup GPT header at byte {:#x} (the primary is {})",
                        n.path, g.backup_offset, g.primary_state
                    ));
                }
            }
            NodeInfo::Recovered(_, c) if c.from_backups_only => out.push(format!(
                "{}: found from backup copies of its metadata only (the primary is gone)",
                n.path
            )),
            _ => {}
        }
        stack.extend(n.children.iter());
    }
    out
}
