//! Values given on the command line: sizes, byte ranges, and the deep
//! search's settings as the library takes them. A value that does not
//! parse is a command-line mistake (InvalidInput, exit 2).

use std::io;

use recover_core::discover::search::SearchOptions;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// A size: plain bytes, or with K, M, G, T (binary), or s (512-byte sectors).
pub fn parse_size(s: &str) -> io::Result<u64> {
    let t = s.trim();
    let (num, mul) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 1 << 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 1 << 30),
        Some('T' | 't') => (&t[..t.len() - 1], 1 << 40),
        Some('s') => (&t[..t.len() - 1], 512),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| {
            bad(format!(
                "{s:?} is not a size (bytes, or a number with K, M, G, T or s)"
            ))
        })
}

/// START..END with sizes; either end may be left out.
fn parse_range(s: &str) -> io::Result<std::ops::Range<u64>> {
    let (a, b) = s.split_once("..").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--range {s}: give START..END"),
        )
    })?;
    let a = if a.is_empty() { 0 } else { parse_size(a)? };
    let b = if b.is_empty() {
        u64::MAX
    } else {
        parse_size(b)?
    };
    if a >= b {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--range {s}: the start is not before the end"),
        ));
    }
    Ok(a..b)
}

/// The deep search's settings from `--thorough` and `--range`.
pub fn search_options(s: &crate::SearchOpts) -> io::Result<SearchOptions> {
    Ok(SearchOptions {
        thorough: s.thorough,
        range: s.range.as_deref().map(parse_range).transpose()?,
    })
}

/// The ddrescue mapfiles of `--map`, by source index: `SOURCE=MAPFILE`
/// names the source as given on the command line; a bare `MAPFILE` is the
/// only source's. An unknown source, a second map for one source, or a
/// mapfile that cannot be read or parsed is a command-line mistake.
pub fn mapfiles(
    specs: &[String],
    sources: &[std::path::PathBuf],
) -> io::Result<std::collections::HashMap<usize, recover_core::io::ddrescue::Mapfile>> {
    let mut out = std::collections::HashMap::new();
    for spec in specs {
        let named = spec.split_once('=').and_then(|(src, map)| {
            let i = sources
                .iter()
                .position(|p| p.as_os_str() == std::ffi::OsStr::new(src))?;
            Some((i, map))
        });
        let (i, map) = match named {
            Some(x) => x,
            None if sources.len() == 1 => (0, spec.as_str()),
            None => {
                return Err(bad(format!(
                    "--map {spec}: say which source it is for, as SOURCE=MAPFILE (SOURCE as given)"
                )))
            }
        };
        let text = std::fs::read_to_string(map)
            .map_err(|e| bad(format!("--map {spec}: cannot read {map}: {e}")))?;
        let m = recover_core::io::ddrescue::parse(&text, map)
            .map_err(|e| bad(format!("--map {spec}: {e}")))?;
        if out.insert(i, m).is_some() {
            return Err(bad(format!(
                "--map {spec}: a second mapfile for that source"
            )));
        }
    }
    Ok(out)
}
