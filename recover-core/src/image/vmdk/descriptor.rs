//! The VMDK text descriptor (VMware "Virtual Disk Format 5.0", "The
//! Descriptor File"): a standalone small file or text embedded in a
//! sparse extent. Lines are `key=value` pairs (`version`, `CID`,
//! `parentCID`, `createType`, `parentFileNameHint`), extent lines
//!
//! ```text
//! RW|RDONLY|NOACCESS <size in sectors> FLAT|SPARSE|ZERO|VMFS|VMFSSPARSE|... "<file>" [<offset in sectors>]
//! ```
//!
//! and the disk database (`ddb.key = "value"`). `#` starts a comment.

use crate::error::{Error, Result};

/// The most text a descriptor is read as: real ones are under 2 KiB; an
/// embedded one has 10 KiB of room (qemu-img gives it 20 sectors).
pub const MAX_DESCRIPTOR: usize = 1 << 20;

/// The most extent lines a descriptor may have (a 64 TiB disk in 2 GiB
/// extents has 32768).
pub const MAX_EXTENTS: usize = 1 << 16;

/// The parent CID a disk without a parent stores.
pub const NO_PARENT_CID: u32 = 0xFFFF_FFFF;

/// How an extent may be accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only.
    ReadOnly,
    /// Not to be read (its range reads as zeros).
    NoAccess,
}

impl Access {
    /// The keyword as a descriptor writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::ReadWrite => "RW",
            Access::ReadOnly => "RDONLY",
            Access::NoAccess => "NOACCESS",
        }
    }
}

/// What an extent holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtentType {
    /// The bytes as they are, from an offset of the file.
    Flat,
    /// A hosted sparse extent ("KDMV" header, grain directory and tables).
    Sparse,
    /// Zeros, with no file.
    Zero,
    /// ESX: the bytes as they are (like FLAT).
    Vmfs,
    /// ESX: a raw device mapping (the bytes as they are).
    VmfsRaw,
    /// ESX: a raw device mapping, physical (the bytes as they are).
    VmfsRdm,
    /// ESX: a COWD sparse redo log.
    VmfsSparse,
    /// ESX 6.5+: a space-efficient sparse extent.
    SeSparse,
}

impl ExtentType {
    /// The keyword as a descriptor writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtentType::Flat => "FLAT",
            ExtentType::Sparse => "SPARSE",
            ExtentType::Zero => "ZERO",
            ExtentType::Vmfs => "VMFS",
            ExtentType::VmfsRaw => "VMFSRAW",
            ExtentType::VmfsRdm => "VMFSRDM",
            ExtentType::VmfsSparse => "VMFSSPARSE",
            ExtentType::SeSparse => "SESPARSE",
        }
    }

    fn parse(s: &str) -> Option<ExtentType> {
        [
            ExtentType::Flat,
            ExtentType::Sparse,
            ExtentType::Zero,
            ExtentType::Vmfs,
            ExtentType::VmfsRaw,
            ExtentType::VmfsRdm,
            ExtentType::VmfsSparse,
            ExtentType::SeSparse,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// True for the types read through a grain directory and tables
    /// (hosted sparse, and ESXi's snapshot deltas).
    pub fn is_sparse(self) -> bool {
        matches!(
            self,
            ExtentType::Sparse | ExtentType::VmfsSparse | ExtentType::SeSparse
        )
    }

    /// True for the types read byte for byte from their file.
    pub fn is_flat(self) -> bool {
        matches!(
            self,
            ExtentType::Flat | ExtentType::Vmfs | ExtentType::VmfsRaw | ExtentType::VmfsRdm
        )
    }
}

/// One extent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentLine {
    /// How it may be accessed.
    pub access: Access,
    /// Its size in 512-byte sectors.
    pub sectors: u64,
    /// What it holds.
    pub kind: ExtentType,
    /// The file it names (none for ZERO).
    pub file: Option<String>,
    /// Where its data starts in the file, in sectors (FLAT and VMFS).
    pub offset: u64,
}

/// A parsed descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// `version`.
    pub version: Option<u32>,
    /// `CID`: changes whenever the disk is written.
    pub cid: Option<u32>,
    /// `parentCID`: the parent's CID when this disk was made from it
    /// ([`NO_PARENT_CID`] without a parent).
    pub parent_cid: Option<u32>,
    /// `createType`, unquoted.
    pub create_type: Option<String>,
    /// `parentFileNameHint`: the parent's file, for a delta link.
    pub parent_hint: Option<String>,
    /// The extents, in order.
    pub extents: Vec<ExtentLine>,
    /// `ddb.adapterType`.
    pub adapter_type: Option<String>,
    /// `ddb.virtualHWVersion`.
    pub hw_version: Option<String>,
}

impl Descriptor {
    /// The parent's file, when the descriptor names one and says the disk
    /// has a parent.
    pub fn parent(&self) -> Option<&str> {
        if self.parent_cid == Some(NO_PARENT_CID) {
            return None;
        }
        self.parent_hint.as_deref().filter(|h| !h.is_empty())
    }

    /// The virtual disk's size: the sum of the extents', in bytes.
    pub fn size(&self) -> Option<u64> {
        self.extents
            .iter()
            .try_fold(0u64, |t, e| t.checked_add(e.sectors.checked_mul(512)?))
    }

    /// The descriptor as text, in the layout qemu-img and VMware write.
    pub fn render(&self) -> String {
        let mut s = String::from("# Disk DescriptorFile\n");
        if let Some(v) = self.version {
            s += &format!("version={v}\n");
        }
        if let Some(c) = self.cid {
            s += &format!("CID={c:08x}\n");
        }
        if let Some(c) = self.parent_cid {
            s += &format!("parentCID={c:08x}\n");
        }
        if let Some(t) = &self.create_type {
            s += &format!("createType=\"{t}\"\n");
        }
        if let Some(p) = &self.parent_hint {
            s += &format!("parentFileNameHint=\"{p}\"\n");
        }
        s += "\n# Extent description\n";
        for e in &self.extents {
            s += &format!("{} {} {}", e.access.as_str(), e.sectors, e.kind.as_str());
            if let Some(f) = &e.file {
                s += &format!(" \"{f}\"");
                if e.kind.is_flat() {
                    s += &format!(" {}", e.offset);
                }
            }
            s += "\n";
        }
        s += "\n# The Disk Data Base\n#DDB\n\n";
        if let Some(h) = &self.hw_version {
            s += &format!("ddb.virtualHWVersion = \"{h}\"\n");
        }
        if let Some(a) = &self.adapter_type {
            s += &format!("ddb.adapterType = \"{a}\"\n");
        }
        s
    }
}

/// The text of a descriptor from its bytes: up to the first NUL (an
/// embedded descriptor is padded with them), invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    // `split` yields at least one piece: the bytes before the first NUL.
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let text = text.get(..MAX_DESCRIPTOR).unwrap_or(text);
    String::from_utf8_lossy(text).into_owned()
}

/// True when `head`, the start of a `len`-byte file, is a standalone
/// descriptor: small, and either opened by the `# Disk DescriptorFile`
/// line or made of `key=value` lines that include `createType`.
pub fn is_descriptor(head: &[u8], len: u64) -> bool {
    if len > MAX_DESCRIPTOR as u64 || head.is_empty() {
        return false;
    }
    let t = text(head);
    let first = t.lines().map(str::trim).find(|l| !l.is_empty());
    if first.is_some_and(|l| l.eq_ignore_ascii_case("# Disk DescriptorFile")) {
        return true;
    }
    // Printable text only, with a createType and an extent line.
    let printable = head
        .iter()
        .take_while(|&&b| b != 0)
        .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7F).contains(&b) || b >= 0x80);
    printable
        && t.lines()
            .any(|l| key_value(l).is_some_and(|(k, _)| k.eq_ignore_ascii_case("createType")))
        && t.lines().any(|l| extent_line(l).is_some_and(|r| r.is_ok()))
}

/// `key=value` or `key = "value"`: the key and the unquoted value.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || k.contains(char::is_whitespace) || k.starts_with('#') {
        return None;
    }
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    Some((k, v))
}

/// An extent line: `None` when the line is not one (it does not start
/// with an access keyword), `Some(Err(why))` when it is one but malformed.
fn extent_line(line: &str) -> Option<std::result::Result<ExtentLine, String>> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace)?;
    let access = match word {
        "RW" => Access::ReadWrite,
        "RDONLY" => Access::ReadOnly,
        "NOACCESS" => Access::NoAccess,
        _ => return None,
    };
    Some((|| {
        let rest = rest.trim_start();
        let (size, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let sectors: u64 = size
            .parse()
            .map_err(|_| format!("extent size {size:?} is not a number"))?;
        let rest = rest.trim_start();
        let (kind, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let kind = ExtentType::parse(kind).ok_or_else(|| format!("extent type {kind:?}"))?;
        let rest = rest.trim();
        let (file, rest) = if let Some(r) = rest.strip_prefix('"') {
            let (f, r) = r
                .split_once('"')
                .ok_or_else(|| "extent file name has no closing quote".to_string())?;
            (Some(f.to_string()), r.trim())
        } else {
            (None, rest)
        };
        if file.is_none() && kind != ExtentType::Zero {
            return Err(format!("{} extent names no file", kind.as_str()));
        }
        let offset = match rest.split_whitespace().next() {
            Some(o) => o
                .parse()
                .map_err(|_| format!("extent offset {o:?} is not a number"))?,
            None => 0,
        };
        Ok(ExtentLine {
            access,
            sectors,
            kind,
            file,
            offset,
        })
    })())
}

fn hex_u32(v: &str) -> Option<u32> {
    u32::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

/// Parses descriptor text. Errors give the byte offset of the line within
/// the text, as an [`Error::corrupt`] of "VMDK descriptor".
pub fn parse(text: &str) -> Result<Descriptor> {
    if text.len() > MAX_DESCRIPTOR {
        return Err(Error::corrupt(
            "VMDK descriptor",
            0,
            format!(
                "{} bytes of text (at most {MAX_DESCRIPTOR} are read)",
                text.len()
            ),
        ));
    }
    let mut d = Descriptor::default();
    let mut at = 0u64;
    for raw in text.split_inclusive('\n') {
        let here = at;
        at += raw.len() as u64;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(e) = extent_line(line) {
            let e = e.map_err(|why| Error::corrupt("VMDK descriptor", here, why))?;
            if d.extents.len() >= MAX_EXTENTS {
                return Err(Error::corrupt(
                    "VMDK descriptor",
                    here,
                    format!("more than {MAX_EXTENTS} extents"),
                ));
            }
            d.extents.push(e);
            continue;
        }
        let Some((k, v)) = key_value(line) else {
            continue;
        };
        match k {
            "version" => d.version = v.parse().ok(),
            "CID" => d.cid = hex_u32(v),
            "parentCID" => d.parent_cid = hex_u32(v),
            "createType" => d.create_type = Some(v.to_string()),
            "parentFileNameHint" => d.parent_hint = Some(v.to_string()),
            "ddb.adapterType" => d.adapter_type = Some(v.to_string()),
            "ddb.virtualHWVersion" => d.hw_version = Some(v.to_string()),
            _ => {}
        }
    }
    if d.size().is_none() {
        return Err(Error::corrupt(
            "VMDK descriptor",
            0,
            "the extents' sizes add up past 2^64 bytes",
        ));
    }
    Ok(d)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QEMU_FLAT: &str = "# Disk DescriptorFile\nversion=1\nCID=8b644357\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n# Extent description\nRW 8192 FLAT \"d-flat.vmdk\" 0\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n";

    #[test]
    fn qemu_img_descriptor() {
        let d = parse(QEMU_FLAT).unwrap();
        assert_eq!(d.create_type.as_deref(), Some("monolithicFlat"));
        assert_eq!(d.cid, Some(0x8b64_4357));
        assert_eq!(d.parent(), None);
        assert_eq!(d.size(), Some(8192 * 512));
        assert_eq!(
            d.extents,
            [ExtentLine {
                access: Access::ReadWrite,
                sectors: 8192,
                kind: ExtentType::Flat,
                file: Some("d-flat.vmdk".into()),
                offset: 0
            }]
        );
        assert_eq!(d.adapter_type.as_deref(), Some("ide"));
        assert!(is_descriptor(QEMU_FLAT.as_bytes(), 512));
        assert!(!is_descriptor(b"just some text\ncreateType=x\n", 30));
        assert!(!is_descriptor(QEMU_FLAT.as_bytes(), 2 << 20));
    }

    #[test]
    fn malformed_extent_lines_are_errors() {
        for (line, why) in [
            ("RW x FLAT \"a\" 0", "not a number"),
            ("RW 8 FLOP \"a\" 0", "extent type"),
            ("RW 8 FLAT \"a 0", "closing quote"),
            ("RW 8 SPARSE", "names no file"),
            ("RW 8 FLAT \"a\" zz", "offset"),
        ] {
            let e = parse(&format!("version=1\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{line}: {e}");
            assert!(e.contains("at 0xa"), "{line}: {e}");
        }
        let e = parse("RW 18446744073709551615 ZERO\nRW 1 ZERO\n").unwrap_err();
        assert!(e.to_string().contains("2^64"), "{e}");
        let d = parse("RW 16 ZERO\nNOACCESS 8 FLAT \"x\" 3\n").unwrap();
        assert_eq!(d.extents[1].access, Access::NoAccess);
        assert_eq!(d.extents[1].offset, 3);
    }

    fn ident() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_./-]{1,24}"
    }

    proptest! {
        /// A descriptor rendered as text parses back to itself.
        #[test]
        fn render_parse_round_trip(
            cid in any::<u32>(),
            parent in proptest::option::of((any::<u32>(), ident())),
            create in ident(),
            extents in proptest::collection::vec(
                (0..3usize, 0u64..1 << 40, 0..5usize, ident(), 0u64..1 << 30), 0..8),
        ) {
            let kinds = [ExtentType::Flat, ExtentType::Sparse, ExtentType::Zero, ExtentType::Vmfs, ExtentType::VmfsSparse];
            let access = [Access::ReadWrite, Access::ReadOnly, Access::NoAccess];
            let d = Descriptor {
                version: Some(1),
                cid: Some(cid),
                parent_cid: Some(parent.as_ref().map_or(NO_PARENT_CID, |p| p.0)),
                create_type: Some(create),
                parent_hint: parent.map(|p| p.1),
                extents: extents.into_iter().map(|(a, sectors, k, file, offset)| {
                    let kind = kinds[k];
                    ExtentLine {
                        access: access[a],
                        sectors,
                        kind,
                        file: (kind != ExtentType::Zero).then_some(file),
                        offset: if kind.is_flat() { offset } else { 0 },
                    }
                }).collect(),
                adapter_type: Some("lsilogic".into()),
                hw_version: Some("6".into()),
            };
            let text = d.render();
            prop_assert!(is_descriptor(text.as_bytes(), text.len() as u64));
            prop_assert_eq!(parse(&text).unwrap(), d);
        }
    }
}
