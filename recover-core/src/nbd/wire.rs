//! The client's messages as typed values, and the server's as bytes.
//!
//! Parsers take the bytes already read (an option's data is read whole,
//! its length first checked against [`MAX_OPTION_DATA`]) and never index
//! them: every field comes through [`Reader`], which answers `None` past
//! the end, and every count is checked against the bytes that are there
//! before anything is allocated for it.

use super::proto::*;

/// The longest option data read: an option carries at most an export name
/// and a few query strings, each at most [`MAX_STRING`] bytes
/// ("Conventions"), so 64 KiB is room for every real one. Longer options
/// are skipped unread and answered `NBD_REP_ERR_TOO_BIG`.
pub const MAX_OPTION_DATA: u32 = 64 << 10;

/// The size of an option header: magic, option, length ("Newstyle
/// negotiation").
pub const OPTION_HEADER_LEN: usize = 16;
/// The size of a request ("Request message").
pub const REQUEST_LEN: usize = 28;

/// Big-endian fields from the front of a byte slice.
#[derive(Debug)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A string whose 32-bit length comes first, at most [`MAX_STRING`]
    /// bytes.
    fn string32(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self
            .u32()
            .ok_or_else(|| format!("the option ends before the length of {what}"))?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > MAX_STRING {
            return Err(format!(
                "{what} is {n} bytes long, more than the {MAX_STRING} a string may be"
            ));
        }
        self.take(n)
            .ok_or_else(|| format!("{what} of {n} bytes runs past the end of the option"))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An option's header ("Newstyle negotiation": `IHAVEOPT`, option, length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHeader {
    /// The option (`NBD_OPT_*`).
    pub option: u32,
    /// The length of the data that follows.
    pub len: u32,
}

/// Parses an option header from its 16 bytes; `None` when the bytes are
/// short or the magic is not `IHAVEOPT` (the client is not speaking NBD:
/// the session ends).
pub fn parse_option_header(b: &[u8]) -> Option<OptionHeader> {
    let mut r = Reader(b);
    if r.u64()? != IHAVEOPT {
        return None;
    }
    Some(OptionHeader {
        option: r.u32()?,
        len: r.u32()?,
    })
}

/// The data of `NBD_OPT_INFO` and `NBD_OPT_GO` ("Option types").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest<'a> {
    /// The export's name; empty for the default export.
    pub name: &'a [u8],
    /// The information asked for (`NBD_INFO_*`), in the client's order.
    pub info: Vec<u16>,
}

/// The data of `NBD_OPT_LIST_META_CONTEXT` and `NBD_OPT_SET_META_CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRequest<'a> {
    /// The export's name; empty for the default export.
    pub name: &'a [u8],
    /// The queries, such as `base:allocation` or `base:`.
    pub queries: Vec<&'a [u8]>,
}

/// An option the client sent, its data checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOption<'a> {
    /// `NBD_OPT_EXPORT_NAME`: the name (empty for the default export).
    ExportName(&'a [u8]),
    /// `NBD_OPT_ABORT` (any data ignored, as the spec asks).
    Abort,
    /// `NBD_OPT_LIST`.
    List,
    /// `NBD_OPT_STRUCTURED_REPLY`.
    StructuredReply,
    /// `NBD_OPT_INFO`.
    Info(InfoRequest<'a>),
    /// `NBD_OPT_GO`.
    Go(InfoRequest<'a>),
    /// `NBD_OPT_LIST_META_CONTEXT`.
    ListMetaContext(MetaRequest<'a>),
    /// `NBD_OPT_SET_META_CONTEXT`.
    SetMetaContext(MetaRequest<'a>),
    /// Anything else (TLS among them): answered `NBD_REP_ERR_UNSUP`.
    Unsupported(u32),
}

/// Parses the data of `option`. An error is the message for an
/// `NBD_REP_ERR_INVALID` reply: data where none is allowed, lengths that
/// run past the end or leave bytes over.
pub fn parse_option(option: u32, data: &[u8]) -> Result<ClientOption<'_>, String> {
    let no_data = |o| {
        if data.is_empty() {
            Ok(o)
        } else {
            Err(format!(
                "{} bytes of data with an option that takes none",
                data.len()
            ))
        }
    };
    match option {
        OPT_EXPORT_NAME => {
            if data.len() > MAX_STRING {
                return Err(format!("an export name of {} bytes", data.len()));
            }
            Ok(ClientOption::ExportName(data))
        }
        OPT_ABORT => Ok(ClientOption::Abort),
        OPT_LIST => no_data(ClientOption::List),
        OPT_STRUCTURED_REPLY => no_data(ClientOption::StructuredReply),
        OPT_INFO => info(data).map(ClientOption::Info),
        OPT_GO => info(data).map(ClientOption::Go),
        OPT_LIST_META_CONTEXT => meta(data).map(ClientOption::ListMetaContext),
        OPT_SET_META_CONTEXT => meta(data).map(ClientOption::SetMetaContext),
        o => Ok(ClientOption::Unsupported(o)),
    }
}

/// "`NBD_OPT_INFO` and `NBD_OPT_GO`": name length, name, count of
/// information requests, that many 16-bit types; nothing after.
fn info(data: &[u8]) -> Result<InfoRequest<'_>, String> {
    let mut r = Reader(data);
    let name = r.string32("the export name")?;
    let n = r
        .u16()
        .ok_or("the option ends before the count of information requests")?;
    let list = r
        .take(usize::from(n) * 2)
        .ok_or_else(|| format!("{n} information requests run past the end of the option"))?;
    if !r.is_empty() {
        return Err(format!(
            "{} bytes left over after the information requests",
            r.0.len()
        ));
    }
    let info = list
        .chunks_exact(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    Ok(InfoRequest { name, info })
}

/// "`NBD_OPT_LIST_META_CONTEXT`"/"`NBD_OPT_SET_META_CONTEXT`": name length,
/// name, count of queries, each a length and a string; nothing after.
fn meta(data: &[u8]) -> Result<MetaRequest<'_>, String> {
    let mut r = Reader(data);
    let name = r.string32("the export name")?;
    let n = r
        .u32()
        .ok_or("the option ends before the count of queries")?;
    // Each query takes at least its 4-byte length: a count larger than
    // that allows is refused before anything is allocated for it.
    if u64::from(n) * 4 > r.0.len() as u64 {
        return Err(format!(
            "{n} queries cannot fit in the {} bytes left",
            r.0.len()
        ));
    }
    let mut queries = Vec::with_capacity(n as usize); // ok: n <= data.len() / 4
    for i in 0..n {
        queries.push(r.string32(&format!("query {i}"))?);
    }
    if !r.is_empty() {
        return Err(format!("{} bytes left over after the queries", r.0.len()));
    }
    Ok(MetaRequest { name, queries })
}

/// A transmission request ("Request message").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Command flags (`NBD_CMD_FLAG_*`).
    pub flags: u16,
    /// The command (`NBD_CMD_*`).
    pub command: u16,
    /// Opaque; echoed in the reply.
    pub cookie: u64,
    /// Where in the export.
    pub offset: u64,
    /// How many bytes (for `NBD_CMD_WRITE`, the data that follows).
    pub length: u32,
}

/// Parses a request from its 28 bytes; `None` when short or when the
/// magic is wrong (the stream is out of step: the session ends).
pub fn parse_request(b: &[u8]) -> Option<Request> {
    let mut r = Reader(b);
    if r.u32()? != REQUEST_MAGIC {
        return None;
    }
    Some(Request {
        flags: r.u16()?,
        command: r.u16()?,
        cookie: r.u64()?,
        offset: r.u64()?,
        length: r.u32()?,
    })
}

/// Fills a fixed-size header from its fields, in order.
fn fields<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut h = [0u8; N];
    let mut out = h.as_mut_slice();
    for p in parts {
        // The sizes are the caller's constants, which add up to N.
        let _ = std::io::Write::write_all(&mut out, p);
    }
    h
}

/// An option reply's header ("Fixed newstyle negotiation"); `len` bytes of
/// data follow it.
pub fn option_reply_header(option: u32, reply: u32, len: u32) -> [u8; 20] {
    fields(&[
        &OPTION_REPLY_MAGIC.to_be_bytes(),
        &option.to_be_bytes(),
        &reply.to_be_bytes(),
        &len.to_be_bytes(),
    ])
}

/// A simple reply ("Simple reply message"); for a successful read the data
/// follows.
pub fn simple_reply(error: u32, cookie: u64) -> [u8; 16] {
    fields(&[
        &SIMPLE_REPLY_MAGIC.to_be_bytes(),
        &error.to_be_bytes(),
        &cookie.to_be_bytes(),
    ])
}

/// A structured reply chunk's header ("Structured reply chunk message");
/// `len` bytes of payload follow it.
pub fn chunk_header(flags: u16, kind: u16, cookie: u64, len: u32) -> [u8; 20] {
    fields(&[
        &STRUCTURED_REPLY_MAGIC.to_be_bytes(),
        &flags.to_be_bytes(),
        &kind.to_be_bytes(),
        &cookie.to_be_bytes(),
        &len.to_be_bytes(),
    ])
}

/// `msg` cut to at most [`MAX_STRING`] bytes at a character boundary (an
/// error message is a string: "Conventions").
pub fn bounded(msg: &str) -> &str {
    let mut n = msg.len().min(MAX_STRING);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    msg.get(..n).unwrap_or("")
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn string32(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    #[test]
    fn go_with_information_requests() {
        let mut d = string32(b"d0/gpt/p2");
        d.extend_from_slice(&2u16.to_be_bytes());
        d.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
        d.extend_from_slice(&INFO_NAME.to_be_bytes());
        assert_eq!(
            parse_option(OPT_GO, &d),
            Ok(ClientOption::Go(InfoRequest {
                name: b"d0/gpt/p2",
                info: vec![INFO_BLOCK_SIZE, INFO_NAME]
            }))
        );
        // Every cut of it is refused, and so is a byte more.
        for n in 0..d.len() {
            assert!(parse_option(OPT_GO, &d[..n]).is_err(), "{n}");
        }
        d.push(0);
        assert!(parse_option(OPT_INFO, &d).is_err());
    }

    #[test]
    fn meta_context_queries() {
        let mut d = string32(b"");
        d.extend_from_slice(&2u32.to_be_bytes());
        d.extend(string32(b"base:allocation"));
        d.extend(string32(b"qemu:dirty-bitmap:x"));
        let Ok(ClientOption::SetMetaContext(m)) = parse_option(OPT_SET_META_CONTEXT, &d) else {
            panic!("not parsed");
        };
        assert_eq!(m.name, b"");
        assert_eq!(
            m.queries,
            vec![&b"base:allocation"[..], b"qemu:dirty-bitmap:x"]
        );
        for n in 0..d.len() {
            assert!(parse_option(OPT_LIST_META_CONTEXT, &d[..n]).is_err(), "{n}");
        }
        // A count no data could hold is refused before any allocation.
        let mut huge = string32(b"");
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_option(OPT_SET_META_CONTEXT, &huge).is_err());
    }

    #[test]
    fn options_that_take_no_data() {
        assert_eq!(parse_option(OPT_LIST, &[]), Ok(ClientOption::List));
        assert!(parse_option(OPT_LIST, &[0]).is_err());
        assert!(parse_option(OPT_STRUCTURED_REPLY, &[0]).is_err());
        // Abort's data is ignored, not refused.
        assert_eq!(parse_option(OPT_ABORT, &[1, 2]), Ok(ClientOption::Abort));
        assert_eq!(
            parse_option(OPT_STARTTLS, &[]),
            Ok(ClientOption::Unsupported(OPT_STARTTLS))
        );
        assert_eq!(parse_option(999, &[1]), Ok(ClientOption::Unsupported(999)));
    }

    #[test]
    fn headers_and_requests() {
        let mut h = IHAVEOPT.to_be_bytes().to_vec();
        h.extend_from_slice(&OPT_GO.to_be_bytes());
        h.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(
            parse_option_header(&h),
            Some(OptionHeader {
                option: OPT_GO,
                len: 7
            })
        );
        h[0] ^= 1;
        assert_eq!(parse_option_header(&h), None);
        assert_eq!(parse_option_header(&h[..15]), None);

        let mut r = REQUEST_MAGIC.to_be_bytes().to_vec();
        r.extend_from_slice(&CMD_FLAG_REQ_ONE.to_be_bytes());
        r.extend_from_slice(&CMD_BLOCK_STATUS.to_be_bytes());
        r.extend_from_slice(&0x1122u64.to_be_bytes());
        r.extend_from_slice(&4096u64.to_be_bytes());
        r.extend_from_slice(&512u32.to_be_bytes());
        assert_eq!(
            parse_request(&r),
            Some(Request {
                flags: CMD_FLAG_REQ_ONE,
                command: CMD_BLOCK_STATUS,
                cookie: 0x1122,
                offset: 4096,
                length: 512
            })
        );
        assert_eq!(parse_request(&r[..27]), None);
        r[3] ^= 1;
        assert_eq!(parse_request(&r), None);
    }

    #[test]
    fn messages_are_bounded_at_a_character() {
        let s = "é".repeat(3000);
        let b = bounded(&s);
        assert!(b.len() <= MAX_STRING && b.len() % 2 == 0);
        assert_eq!(bounded("short"), "short");
    }
}
