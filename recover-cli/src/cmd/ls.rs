//! `recover ls`: a directory of a filesystem (or one file), `ls -l` style
//! or as JSON; `--recursive` for the whole tree below.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use recover_core::fs::{walk, FileKind, FileSystemRef, Stat, Timestamp};
use serde_json::{json, Value};

use crate::report::problem_json;
use recover_core::discover::resolve::FileTarget;

/// What to list.
pub struct Request<'a> {
    pub sources: &'a [PathBuf],
    pub at: &'a str,
    pub json: bool,
    pub recursive: bool,
    pub search: &'a crate::SearchOpts,
    pub opts: &'a crate::SourceOpts,
}

/// One listed entry.
struct Row {
    /// Path relative to the listed directory (the name, without --recursive).
    rel: Vec<u8>,
    id: u64,
    kind: FileKind,
    stat: Result<Stat, String>,
    target: Option<Vec<u8>>,
}

pub fn run(req: &Request) -> io::Result<ExitCode> {
    let mut found = super::discover_all(req.sources, req.opts)?;
    super::prepare(&mut found, req.at, req.search)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    let t = super::file_target(&found, req.at)?;
    // Rows are written as the walk finds them: memory stays flat in the
    // number of files, and what the walk mapped in of the filesystem
    // leaves the process every so often.
    let fs_volume =
        recover_core::discover::find(&found.nodes, &t.fs_node).and_then(|n| n.volume.clone());
    let mut list = Lister {
        out: io::BufWriter::new(io::stdout().lock()),
        t: &t,
        json: req.json,
        first: true,
        err: None,
        failed: false,
        since_release: 0,
        volume: fs_volume,
    };
    list.start();
    let mut errors = Vec::new();
    if t.stat.kind() == FileKind::Dir {
        if req.recursive {
            walk(
                t.fs.as_ref(),
                t.id,
                &mut |w| list.row(row(&t.fs, w.path.clone(), w.id, w.kind, &w.stat)),
                &mut |p, e| {
                    errors.push(format!(
                        "{}: {e}",
                        String::from_utf8_lossy(&join(&t.fs_path, p))
                    ))
                },
            );
        } else {
            match t.fs.read_dir(t.id) {
                Ok(entries) => {
                    for e in entries {
                        let st = t.fs.stat(e.id);
                        list.row(row(&t.fs, e.name.clone(), e.id, e.kind, &st));
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", t.display())),
            }
        }
    } else {
        let name = t
            .fs_path
            .rsplit('/')
            .next()
            .unwrap_or("")
            .as_bytes()
            .to_vec();
        list.row(row(&t.fs, name, t.id, t.stat.kind(), &Ok(t.stat.clone())));
    }
    let problems = t.fs.problems();
    let rows_failed = list.failed;
    list.finish(&errors, &problems)?;
    let mut failed = !found.failed.is_empty() || !errors.is_empty() || rows_failed;
    for e in &errors {
        eprintln!("recover: {e}");
    }
    for p in &problems {
        if p.severity == recover_core::Severity::Error {
            failed = true;
        }
        eprintln!("recover: {}: {p}", t.fs_node);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Entries walked between two releases of the filesystem's mapped pages.
const RELEASE_EVERY: u64 = 16_384;

/// Writes rows as they come: a line each, or the JSON document with its
/// `entries` array streamed (its keys in the order serde_json writes them:
/// `at`, `entries`, `errors`, `filesystem`, `problems`).
struct Lister<'a, W: Write> {
    out: W,
    t: &'a FileTarget,
    json: bool,
    first: bool,
    /// The first write error; nothing more is written after it.
    err: Option<io::Error>,
    /// A row whose stat failed was met (its error is on stderr).
    failed: bool,
    since_release: u64,
    volume: Option<recover_core::io::VolumeRef>,
}

impl<W: Write> Lister<'_, W> {
    fn put(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) {
        if self.err.is_none() {
            if let Err(e) = f(&mut self.out) {
                self.err = Some(e);
            }
        }
    }

    fn start(&mut self) {
        if self.json {
            let at = serde_json::to_string(&self.t.display()).unwrap_or_default();
            self.put(|o| write!(o, "{{\n  \"at\": {at},\n  \"entries\": ["));
        }
    }

    fn row(&mut self, r: Row) {
        if let Err(e) = &r.stat {
            self.failed = true;
            eprintln!(
                "recover: {}: {e}",
                String::from_utf8_lossy(&join(&self.t.fs_path, &r.rel))
            );
        }
        if self.json {
            let v = entry_json(self.t, &r);
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            let sep = if self.first { "\n" } else { ",\n" };
            self.first = false;
            self.put(|o| {
                o.write_all(sep.as_bytes())?;
                for (i, l) in text.lines().enumerate() {
                    if i > 0 {
                        o.write_all(b"\n")?;
                    }
                    write!(o, "    {l}")?;
                }
                Ok(())
            });
        } else {
            let l = line(&r);
            self.put(|o| writeln!(o, "{l}"));
        }
        self.since_release += 1;
        if self.since_release >= RELEASE_EVERY {
            if let Some(v) = &self.volume {
                v.release(0, v.len());
            }
            self.since_release = 0;
        }
    }

    fn finish(mut self, errors: &[String], problems: &[recover_core::Problem]) -> io::Result<()> {
        if self.json {
            let close = if self.first { "]" } else { "\n  ]" };
            let rest = json!({
                "errors": errors,
                "filesystem": {"path": self.t.fs_node, "format": self.t.fs.format()},
                "problems": problems.iter().map(problem_json).collect::<Vec<_>>(),
            });
            let mut tail = String::new();
            if let Some(o) = rest.as_object() {
                for (k, v) in o {
                    let text = serde_json::to_string_pretty(v).unwrap_or_default();
                    tail.push_str(&format!(
                        ",\n  {}: ",
                        serde_json::to_string(k).unwrap_or_default()
                    ));
                    tail.push_str(&text.replace('\n', "\n  "));
                }
            }
            self.put(|o| writeln!(o, "{close}{tail}\n}}"));
        }
        self.put(|o| o.flush());
        match self.err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn row(
    fs: &FileSystemRef,
    rel: Vec<u8>,
    id: u64,
    kind: FileKind,
    st: &recover_core::Result<Stat>,
) -> Row {
    let stat = match st {
        Ok(s) => Ok(s.clone()),
        Err(e) => Err(e.to_string()),
    };
    let is_link = stat.as_ref().map_or(kind, Stat::kind) == FileKind::Symlink;
    // A raw device mapping (VMFS) names the disk its data is on.
    let rdm = stat.as_ref().is_ok_and(|s| s.flags.contains(&"rdm"));
    let target = (is_link || rdm).then(|| fs.read_link(id).ok()).flatten();
    Row {
        rel,
        id,
        kind,
        stat,
        target,
    }
}

/// `dir` + "/" + `rel`, as bytes.
fn join(dir: &str, rel: &[u8]) -> Vec<u8> {
    let mut p = dir.trim_end_matches('/').as_bytes().to_vec();
    p.push(b'/');
    p.extend_from_slice(rel);
    p
}

/// Printable: control characters and invalid UTF-8 escaped.
fn printable(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `drwxr-xr-x` from a mode, `?` where the format has none.
fn mode_string(kind: FileKind, mode: Option<u32>) -> String {
    let mut s = String::with_capacity(10);
    s.push(kind.ls_char());
    let Some(m) = mode else {
        s.push_str("?????????");
        return s;
    };
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        let bit = 0o400 >> i;
        s.push(if m & bit != 0 { c } else { '-' });
    }
    // setuid, setgid, sticky.
    let mut b: Vec<char> = s.chars().collect();
    for (flag, pos, set, unset) in [
        (0o4000, 3, 's', 'S'),
        (0o2000, 6, 's', 'S'),
        (0o1000, 9, 't', 'T'),
    ] {
        if m & flag != 0 {
            b[pos] = if b[pos] == 'x' { set } else { unset };
        }
    }
    b.into_iter().collect()
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".repeat(16), |t| t.iso8601()[..16].replace('T', " "))
}

fn line(r: &Row) -> String {
    let name = printable(&r.rel);
    match &r.stat {
        Err(e) => format!(
            "?????????? {:>4} {:>5} {:>5} {:>12} {} {name}  ({e})",
            "?",
            "?",
            "?",
            "?",
            "?".repeat(16)
        ),
        Ok(s) => {
            let opt = |v: Option<u32>| v.map_or("-".into(), |v| v.to_string());
            let mut l = format!(
                "{} {:>4} {:>5} {:>5} {:>12} {} {name}",
                mode_string(s.kind.unwrap_or(r.kind), s.mode),
                opt(s.nlink),
                opt(s.uid),
                opt(s.gid),
                s.size,
                when(s.mtime)
            );
            if let Some(t) = &r.target {
                l.push_str(" -> ");
                l.push_str(&printable(t));
            }
            for (n, len) in &s.streams {
                l.push_str(&format!("\n{:>47} {name}:{n}", len));
            }
            l
        }
    }
}

fn time_json(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(t.iso8601()))
}

/// One entry of the JSON listing.
fn entry_json(t: &FileTarget, r: &Row) -> Value {
    let path = if t.stat.kind() == FileKind::Dir {
        join(&t.fs_path, &r.rel)
    } else {
        t.fs_path.as_bytes().to_vec()
    };
    let mut v = json!({
        "name": String::from_utf8_lossy(r.rel.rsplit(|&c| c == b'/').next().unwrap_or(&[])),
        "path": String::from_utf8_lossy(&path),
        "at": format!("{}:{}", t.fs_node, String::from_utf8_lossy(&path)),
        "id": r.id,
    });
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    if std::str::from_utf8(&r.rel).is_err() {
        o.insert("name_bytes".into(), json!(recover_core::bytes::hex(&r.rel)));
    }
    match &r.stat {
        Err(e) => {
            o.insert("kind".into(), json!(r.kind.as_str()));
            o.insert("error".into(), json!(e));
        }
        Ok(s) => {
            o.insert("kind".into(), json!(s.kind.unwrap_or(r.kind).as_str()));
            o.insert("size".into(), json!(s.size));
            o.insert("allocated".into(), json!(s.allocated));
            o.insert("mode".into(), json!(s.mode));
            o.insert("uid".into(), json!(s.uid));
            o.insert("gid".into(), json!(s.gid));
            o.insert("nlink".into(), json!(s.nlink));
            o.insert("mtime".into(), time_json(s.mtime));
            o.insert("atime".into(), time_json(s.atime));
            o.insert("ctime".into(), time_json(s.ctime));
            o.insert("crtime".into(), time_json(s.crtime));
            o.insert("flags".into(), json!(s.flags));
            o.insert(
                "streams".into(),
                json!(s
                    .streams
                    .iter()
                    .map(|(n, l)| json!({"name": n, "size": l}))
                    .collect::<Vec<_>>()),
            );
            if let Some(tg) = &r.target {
                o.insert("target".into(), json!(String::from_utf8_lossy(tg)));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(FileKind::Dir, Some(0o40755)), "drwxr-xr-x");
        assert_eq!(mode_string(FileKind::File, Some(0o104755)), "-rwsr-xr-x");
        assert_eq!(mode_string(FileKind::Dir, Some(0o41777)), "drwxrwxrwt");
        assert_eq!(mode_string(FileKind::File, None), "-?????????");
        assert_eq!(printable(b"a\nb\xff"), "a\\nb\u{fffd}");
    }
}
