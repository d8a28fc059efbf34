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
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if t.stat.kind() == FileKind::Dir {
        if req.recursive {
            walk(
                t.fs.as_ref(),
                t.id,
                &mut |w| rows.push(row(&t.fs, w.path.clone(), w.id, w.kind, &w.stat)),
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
                        rows.push(row(&t.fs, e.name.clone(), e.id, e.kind, &st));
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
        rows.push(row(&t.fs, name, t.id, t.stat.kind(), &Ok(t.stat.clone())));
    }
    let problems = t.fs.problems();
    let mut out = io::stdout().lock();
    if req.json {
        write_json(&mut out, &t, &rows, &errors, &problems)?;
    } else {
        for r in &rows {
            writeln!(out, "{}", line(r))?;
        }
    }
    out.flush()?;
    let mut failed = !found.failed.is_empty() || !errors.is_empty();
    for e in &errors {
        eprintln!("recover: {e}");
    }
    for r in &rows {
        if let Err(e) = &r.stat {
            failed = true;
            eprintln!(
                "recover: {}: {e}",
                String::from_utf8_lossy(&join(&t.fs_path, &r.rel))
            );
        }
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

fn write_json(
    out: &mut impl Write,
    t: &FileTarget,
    rows: &[Row],
    errors: &[String],
    problems: &[recover_core::Problem],
) -> io::Result<()> {
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
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
            let o = v.as_object_mut().expect("an object");
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
        })
        .collect();
    let doc = json!({
        "at": t.display(),
        "filesystem": {"path": t.fs_node, "format": t.fs.format()},
        "entries": entries,
        "errors": errors,
        "problems": problems.iter().map(problem_json).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
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
