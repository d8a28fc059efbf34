//! LVM2's text metadata syntax: `name = value` assignments and
//! `name { ... }` sections, values being integers, quoted strings (with
//! `\"` and `\\` escapes) or `[ ... ]` lists of them; `#` starts a
//! comment to the end of the line (lvm2 lib/config/config.c, the
//! `config_tree` parser; the format is described in lvm2's
//! doc/lvm_fault_handling.txt and man lvm.conf "SYNTAX").
//!
//! The text comes from disk, so it is parsed with limits: nesting depth,
//! item count, and a string's length are capped, and every error names the
//! byte offset in the text.

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer (metadata has no floats that matter here; they are kept
    /// as strings).
    Int(i64),
    /// A string, unescaped.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A section: its items in order.
    Section(Section),
}

/// A section's items, in the order they were written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section(pub Vec<(String, Value)>);

impl Section {
    /// The first item named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The subsection named `key`.
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Value::Section(s) => Some(s),
            _ => None,
        }
    }

    /// The integer `key`.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The integer `key`, if it is one and not negative.
    pub fn uint(&self, key: &str) -> Option<u64> {
        self.int(key).and_then(|i| u64::try_from(i).ok())
    }

    /// The string `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list `key`.
    pub fn list(&self, key: &str) -> Option<&[Value]> {
        match self.get(key)? {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The strings of list `key` (flags such as `status = ["READ", "WRITE"]`).
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.list(key)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The subsections, with their names, in order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.0.iter().filter_map(|(k, v)| match v {
            Value::Section(s) => Some((k.as_str(), s)),
            _ => None,
        })
    }
}

/// How deep sections and lists may nest (metadata uses 4 levels).
const MAX_DEPTH: usize = 16;
/// How many values one text may hold (a VG with thousands of LVs has tens
/// of thousands).
const MAX_ITEMS: usize = 1 << 20;

/// Why a text did not parse: the byte offset and what was wrong.
pub type ParseError = (usize, String);

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    items: usize,
}

/// Parses a whole metadata text (a NUL ends it early, as on disk).
pub fn parse(text: &[u8]) -> Result<Section, ParseError> {
    // `split` yields at least one piece: the text before the first NUL.
    let mut p = Parser {
        s: text.split(|&b| b == 0).next().unwrap_or_default(),
        at: 0,
        items: 0,
    };
    let sec = p.items_until(None, 0)?;
    Ok(sec)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'#' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.at += 1;
                }
            } else if c.is_ascii_whitespace() {
                self.at += 1;
            } else {
                break;
            }
        }
    }

    fn err<T>(&self, why: impl Into<String>) -> Result<T, ParseError> {
        Err((self.at, why.into()))
    }

    /// The text from `start` to the current position (which only moves
    /// forward, by bytes `peek` saw), lossily decoded.
    fn since(&self, start: usize) -> Result<String, ParseError> {
        match self.s.get(start..self.at) {
            Some(t) => Ok(String::from_utf8_lossy(t).into_owned()),
            None => self.err("token outside the text"),
        }
    }

    fn count(&mut self) -> Result<(), ParseError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return self.err(format!("more than {MAX_ITEMS} values"));
        }
        Ok(())
    }

    /// Items up to `close` (or the end of the text at the top level).
    fn items_until(&mut self, close: Option<u8>, depth: usize) -> Result<Section, ParseError> {
        if depth > MAX_DEPTH {
            return self.err(format!("sections nested more than {MAX_DEPTH} deep"));
        }
        let mut out = Vec::new();
        loop {
            self.skip_blank();
            match (self.peek(), close) {
                (None, None) => return Ok(Section(out)),
                (None, Some(_)) => return self.err("text ends inside a section"),
                (Some(c), Some(want)) if c == want => {
                    self.at += 1;
                    return Ok(Section(out));
                }
                _ => {}
            }
            let key = self.ident()?;
            self.skip_blank();
            match self.peek() {
                Some(b'{') => {
                    self.at += 1;
                    self.count()?;
                    let sec = self.items_until(Some(b'}'), depth + 1)?;
                    out.push((key, Value::Section(sec)));
                }
                Some(b'=') => {
                    self.at += 1;
                    self.skip_blank();
                    let v = self.value(depth + 1)?;
                    out.push((key, v));
                }
                _ => return self.err(format!("expected '=' or '{{' after {key:?}")),
            }
        }
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_-+.@/".contains(&c))
        {
            self.at += 1;
        }
        if self.at == start {
            return self.err("expected a name");
        }
        self.since(start)
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return self.err(format!("lists nested more than {MAX_DEPTH} deep"));
        }
        self.count()?;
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank();
                    match self.peek() {
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::List(items));
                        }
                        Some(b',') if !items.is_empty() => self.at += 1,
                        None => return self.err("text ends inside a list"),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.at;
                self.at += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.')
                {
                    self.at += 1;
                }
                let t = self.since(start)?;
                Ok(match t.parse::<i64>() {
                    Ok(i) => Value::Int(i),
                    // Floats (and hex) are kept as they were written.
                    Err(_) => Value::Str(t),
                })
            }
            _ => self.err("expected a value"),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.at;
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err((start, "string is not closed".into())),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => return Err((start, "string is not closed".into())),
                    }
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = r#"vg0 {
id = "bHpvUo-fJTj-wG3n-fBwo-SgSJ-3fMM-Dky3eZ"
seqno = 7
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 2048		# 1024 Kilobytes
logical_volumes {
span {
segment1 {
start_extent = 0
type = "striped"
stripes = [
"pv1", 0
]
}
}
}
}
# Generated by LVM2
contents = "Text Format Volume Group"
description = "say \"hi\" \\ bye"
"#;

    #[test]
    fn metadata_text_parses() {
        let t = parse(TEXT.as_bytes()).unwrap();
        let vg = t.section("vg0").unwrap();
        assert_eq!(vg.int("seqno"), Some(7));
        assert_eq!(vg.strings("status"), ["RESIZEABLE", "READ", "WRITE"]);
        assert_eq!(vg.list("flags"), Some(&[][..]));
        let seg = vg
            .section("logical_volumes")
            .and_then(|l| l.section("span"))
            .and_then(|s| s.section("segment1"))
            .unwrap();
        assert_eq!(
            seg.list("stripes").unwrap(),
            &[Value::Str("pv1".into()), Value::Int(0)]
        );
        assert_eq!(t.str("description"), Some(r#"say "hi" \ bye"#));
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(parse(b"a {\nb = ").unwrap_err().0, 8);
        assert!(parse(b"a = \"open").is_err());
        assert!(parse(b"a { b = [1, 2").is_err());
        assert!(parse(b"a = = 3").is_err());
        let deep = "a{".repeat(40);
        assert!(parse(deep.as_bytes()).unwrap_err().1.contains("nested"));
        // A NUL ends the text, as on disk.
        assert_eq!(parse(b"a = 1\0garbage {").unwrap().int("a"), Some(1));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&b);
        }

        #[test]
        fn strings_round_trip(s in "[ -~]{0,40}", n in any::<i64>()) {
            let esc = s.replace('\\', "\\\\").replace('"', "\\\"");
            let text = format!("k = \"{esc}\"\nn = {n}\nl = [\"{esc}\", {n}]\n");
            let t = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(t.str("k"), Some(s.as_str()));
            prop_assert_eq!(t.int("n"), Some(n));
        }
    }
}
