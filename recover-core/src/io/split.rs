//! Split raw images: `disk.001`, `disk.002`, ... (FTK, `split -d`, ewfexport
//! raw), read as one volume when the user names the first part.

use std::path::{Path, PathBuf};

/// Upper bound on parts, so a directory of numbered files cannot make us
/// open thousands of descriptors by accident.
const MAX_PARTS: u32 = 100_000;

/// The ordered parts when `path` is the first of a numbered series with at
/// least two members: its extension is all digits with value 0 or 1 and the
/// next number (same width) exists beside it. `None` otherwise.
pub fn split_parts(path: &Path) -> Option<Vec<PathBuf>> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_digit()) || stem.is_empty() {
        return None;
    }
    let first: u32 = ext.parse().ok()?;
    if first > 1 {
        return None;
    }
    let width = ext.len();
    let part = |n: u32| path.with_file_name(format!("{stem}.{n:0width$}"));
    let mut parts = vec![path.to_path_buf()];
    let mut n = first + 1;
    while n < first.saturating_add(MAX_PARTS) && part(n).is_file() {
        parts.push(part(n));
        n += 1;
    }
    (parts.len() > 1).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbered_series() {
        let d = std::env::temp_dir().join(format!("recover-split-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for n in ["disk.001", "disk.002", "disk.003", "disk.005", "solo.001"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        let p = split_parts(&d.join("disk.001")).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[2].ends_with("disk.003"));
        assert!(split_parts(&d.join("solo.001")).is_none());
        assert!(split_parts(&d.join("disk.002")).is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
