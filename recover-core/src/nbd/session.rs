//! One client's session: the fixed newstyle handshake, option haggling,
//! then transmission until the client disconnects. Generic over the byte
//! streams, so a socket, a test's buffers and the fuzzer drive the same
//! code.

use std::io::{self, BufReader, BufWriter, Read, Write};

use super::extents::{run_at, runs};
use super::proto::*;
use super::wire::{self, ClientOption, InfoRequest, MetaRequest, Request};
use crate::io::{Volume, VolumeRef};
use crate::Error;

/// One export: what a client names and what it reads.
#[derive(Debug, Clone)]
pub struct Export {
    /// The name clients ask for (a node path, or `FSNODE:/path`).
    pub name: String,
    /// A line for people (`NBD_INFO_DESCRIPTION`).
    pub description: String,
    /// The bytes.
    pub volume: VolumeRef,
}

/// What a session tells its server about, since the library does not
/// print: reads that failed (the client was answered `NBD_EIO`), and
/// reads done (a chance to report bad sectors met on the way, which read
/// as zeros and are no error to the client).
pub trait Observer: Sync {
    /// `len` bytes at `offset` of `export` could not be read.
    fn read_failed(&self, export: &Export, offset: u64, len: u64, error: &Error);
    /// A read of `export` was answered.
    fn read_done(&self, _export: &Export) {}
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The client sent `NBD_CMD_DISC`.
    Disconnected,
    /// The client sent `NBD_OPT_ABORT`.
    Aborted,
    /// The connection closed (or was shut down) between messages.
    Closed,
    /// The client broke the protocol (a wrong magic, unknown client flags,
    /// an export name that is not served, a write larger than the maximum
    /// payload): the server hung up, as the spec lets it.
    Refused(String),
}

/// The metadata context id of `base:allocation` (any number will do: ids
/// are the server's choice, "`NBD_OPT_SET_META_CONTEXT`").
const ALLOCATION_ID: u32 = 1;
/// The most data read from the volume in one go for a structured read,
/// and the size of a content chunk.
const CHUNK: u64 = 4 << 20;
/// The most extents in one block status reply (the spec's bound is
/// 2^20; clients ask again from where a reply ends).
const MAX_EXTENTS: usize = 1 << 16;

/// A session between the handshake's first byte and the hang-up.
struct Session<'a, R: Read, W: Write> {
    input: BufReader<R>,
    output: BufWriter<W>,
    exports: &'a [Export],
    observer: &'a dyn Observer,
    /// `NBD_OPT_STRUCTURED_REPLY` was agreed.
    structured: bool,
    /// The client asked for no zero padding (`NBD_FLAG_C_NO_ZEROES`).
    no_zeroes: bool,
    /// `base:allocation` was selected, for this export (by index).
    allocation: Option<usize>,
    /// Bytes read from the volume when they are not in mapped memory.
    buf: Vec<u8>,
}

/// Serves one client: the handshake, then requests until it disconnects.
/// The first export is also the default one (the empty name). An I/O
/// error of the connection itself is returned as such; a client that
/// closes between messages ends the session as [`End::Closed`].
pub fn serve<R: Read, W: Write>(
    input: R,
    output: W,
    exports: &[Export],
    observer: &dyn Observer,
) -> io::Result<End> {
    let mut s = Session {
        input: BufReader::with_capacity(64 << 10, input),
        output: BufWriter::with_capacity(256 << 10, output),
        exports,
        observer,
        structured: false,
        no_zeroes: false,
        allocation: None,
        buf: Vec::new(),
    };
    let end = match s.run() {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(End::Closed),
        r => r,
    };
    // What was answered reaches the client even when it hangs up next.
    let _ = s.output.flush();
    end
}

impl<R: Read, W: Write> Session<'_, R, W> {
    fn run(&mut self) -> io::Result<End> {
        if let Some(end) = self.handshake()? {
            return Ok(end);
        }
        loop {
            match self.option()? {
                Step::Continue => {}
                Step::End(e) => return Ok(e),
                Step::Transmit(i) => return self.transmission(i),
            }
        }
    }

    /// "Newstyle negotiation": the greeting, and the client's flags.
    fn handshake(&mut self) -> io::Result<Option<End>> {
        self.output.write_all(&NBDMAGIC.to_be_bytes())?;
        self.output.write_all(&IHAVEOPT.to_be_bytes())?;
        self.output
            .write_all(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes())?;
        self.output.flush()?;
        let mut f = [0u8; 4];
        self.input.read_exact(&mut f)?;
        let flags = u32::from_be_bytes(f);
        // "Client flags": the server MUST drop a client that sets a flag it
        // does not know.
        let unknown = flags & !(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        if unknown != 0 {
            return Ok(Some(End::Refused(format!(
                "the client set unknown flags {unknown:#x}"
            ))));
        }
        self.no_zeroes = flags & FLAG_C_NO_ZEROES != 0;
        Ok(None)
    }

    /// The export a client names: the empty name is the first.
    fn lookup(&self, name: &[u8]) -> Option<usize> {
        if name.is_empty() && !self.exports.is_empty() {
            return Some(0);
        }
        self.exports.iter().position(|e| e.name.as_bytes() == name)
    }

    fn reply(&mut self, option: u32, kind: u32, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.output
            .write_all(&wire::option_reply_header(option, kind, len))?;
        self.output.write_all(data)
    }

    fn reply_error(&mut self, option: u32, kind: u32, msg: &str) -> io::Result<()> {
        self.reply(option, kind, wire::bounded(msg).as_bytes())
    }

    /// One option, read whole and answered.
    fn option(&mut self) -> io::Result<Step> {
        self.output.flush()?;
        let mut h = [0u8; wire::OPTION_HEADER_LEN];
        self.input.read_exact(&mut h)?;
        let Some(head) = wire::parse_option_header(&h) else {
            return Ok(Step::End(End::Refused(
                "an option without the IHAVEOPT magic".into(),
            )));
        };
        if head.len > wire::MAX_OPTION_DATA {
            if head.option == OPT_EXPORT_NAME {
                // No error can be sent to this option: hang up.
                return Ok(Step::End(End::Refused(format!(
                    "NBD_OPT_EXPORT_NAME with {} bytes of data",
                    head.len
                ))));
            }
            self.skip(u64::from(head.len))?;
            self.reply_error(
                head.option,
                REP_ERR_TOO_BIG,
                &format!(
                    "{} bytes of option data; at most {} are read",
                    head.len,
                    wire::MAX_OPTION_DATA
                ),
            )?;
            return Ok(Step::Continue);
        }
        let mut data = vec![0u8; head.len as usize]; // ok: <= MAX_OPTION_DATA
        self.input.read_exact(&mut data)?;
        let opt = head.option;
        let parsed = match wire::parse_option(opt, &data) {
            Ok(o) => o,
            Err(why) => {
                if opt == OPT_EXPORT_NAME {
                    return Ok(Step::End(End::Refused(why)));
                }
                self.reply_error(opt, REP_ERR_INVALID, &why)?;
                return Ok(Step::Continue);
            }
        };
        match parsed {
            ClientOption::ExportName(name) => {
                let Some(i) = self.lookup(name) else {
                    // "NBD_OPT_EXPORT_NAME": an export that does not exist
                    // ends the session.
                    return Ok(Step::End(End::Refused(format!(
                        "no export named {:?}",
                        String::from_utf8_lossy(name)
                    ))));
                };
                let size = self.exports.get(i).map_or(0, |e| e.volume.len());
                self.output.write_all(&size.to_be_bytes())?;
                self.output.write_all(&self.flags().to_be_bytes())?;
                if !self.no_zeroes {
                    self.output.write_all(&[0u8; 124])?;
                }
                Ok(Step::Transmit(i))
            }
            ClientOption::Abort => {
                self.reply(opt, REP_ACK, &[])?;
                Ok(Step::End(End::Aborted))
            }
            ClientOption::List => {
                for e in self.exports {
                    let name = e.name.as_bytes();
                    let mut d = Vec::with_capacity(4 + name.len());
                    d.extend_from_slice(&(name.len() as u32).to_be_bytes());
                    d.extend_from_slice(name);
                    self.reply(opt, REP_SERVER, &d)?;
                }
                self.reply(opt, REP_ACK, &[])?;
                Ok(Step::Continue)
            }
            ClientOption::StructuredReply => {
                if self.structured {
                    self.reply_error(opt, REP_ERR_INVALID, "structured replies are already on")?;
                } else {
                    self.structured = true;
                    self.reply(opt, REP_ACK, &[])?;
                }
                Ok(Step::Continue)
            }
            ClientOption::Info(req) => {
                self.info(opt, &req)?;
                Ok(Step::Continue)
            }
            ClientOption::Go(req) => Ok(match self.info(opt, &req)? {
                Some(i) => Step::Transmit(i),
                None => Step::Continue,
            }),
            ClientOption::ListMetaContext(req) => {
                self.meta_context(opt, &req, false)?;
                Ok(Step::Continue)
            }
            ClientOption::SetMetaContext(req) => {
                self.meta_context(opt, &req, true)?;
                Ok(Step::Continue)
            }
            ClientOption::Unsupported(o) => {
                let what = if o == OPT_STARTTLS {
                    "TLS is not offered (serve on a Unix socket, or tunnel the TCP port)"
                        .to_string()
                } else {
                    format!("option {o} is not supported by this server")
                };
                self.reply_error(o, REP_ERR_UNSUP, &what)?;
                Ok(Step::Continue)
            }
        }
    }

    /// "Transmission flags" of every export: read-only; flush is taken
    /// (there is nothing to flush); several connections may share the
    /// load, since nothing is cached per connection.
    fn flags(&self) -> u16 {
        FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN
    }

    /// `NBD_OPT_INFO` and `NBD_OPT_GO`: the export's details; the index of
    /// the export when the client may go on to transmission.
    fn info(&mut self, opt: u32, req: &InfoRequest) -> io::Result<Option<usize>> {
        let Some(i) = self.lookup(req.name) else {
            let msg = format!(
                "no export named {:?} (this server has {})",
                String::from_utf8_lossy(req.name),
                self.exports
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.reply_error(opt, REP_ERR_UNKNOWN, &msg)?;
            return Ok(None);
        };
        let exports = self.exports;
        let Some(e) = exports.get(i) else {
            return Ok(None);
        };
        let mut replies: Vec<Vec<u8>> = Vec::new();
        let mut export = INFO_EXPORT.to_be_bytes().to_vec();
        export.extend_from_slice(&e.volume.len().to_be_bytes());
        export.extend_from_slice(&self.flags().to_be_bytes());
        replies.push(export);
        for &kind in &req.info {
            let text = match kind {
                INFO_NAME => Some(e.name.as_str()),
                INFO_DESCRIPTION => Some(e.description.as_str()),
                INFO_BLOCK_SIZE => {
                    let mut b = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                    for v in [MIN_BLOCK, PREFERRED_BLOCK, MAX_PAYLOAD] {
                        b.extend_from_slice(&v.to_be_bytes());
                    }
                    replies.push(b);
                    None
                }
                // "The server MUST ignore any information requests it does
                // not understand."
                _ => None,
            };
            if let Some(t) = text {
                let mut b = kind.to_be_bytes().to_vec();
                b.extend_from_slice(wire::bounded(t).as_bytes());
                replies.push(b);
            }
        }
        for r in replies {
            self.reply(opt, REP_INFO, &r)?;
        }
        self.reply(opt, REP_ACK, &[])?;
        Ok((opt == OPT_GO).then_some(i))
    }

    /// `NBD_OPT_LIST_META_CONTEXT` (`set` false) and
    /// `NBD_OPT_SET_META_CONTEXT` (`set` true), for the one context there
    /// is: `base:allocation`.
    fn meta_context(&mut self, opt: u32, req: &MetaRequest, set: bool) -> io::Result<()> {
        if set {
            // "Issuing this command replaces all previously-set metadata
            // contexts (including when this command fails)."
            self.allocation = None;
        }
        if !self.structured {
            return self.reply_error(
                opt,
                REP_ERR_INVALID,
                "metadata contexts need structured replies (NBD_OPT_STRUCTURED_REPLY) first",
            );
        }
        let Some(i) = self.lookup(req.name) else {
            let msg = format!("no export named {:?}", String::from_utf8_lossy(req.name));
            return self.reply_error(opt, REP_ERR_UNKNOWN, &msg);
        };
        if let Some(q) = req.queries.iter().find(|q| !q.contains(&b':')) {
            let msg = format!(
                "query {:?} does not start with a namespace and a colon",
                String::from_utf8_lossy(q)
            );
            return self.reply_error(opt, REP_ERR_INVALID, &msg);
        }
        // "The base: metadata namespace": `base:allocation` selects it;
        // `base:` (the wildcard) lists it but selects nothing; unknown
        // namespaces and leaves are ignored. Listing with no query lists
        // everything.
        let matched = if set {
            req.queries.iter().any(|q| *q == BASE_ALLOCATION.as_bytes())
        } else {
            req.queries.is_empty()
                || req
                    .queries
                    .iter()
                    .any(|q| *q == b"base:" || *q == BASE_ALLOCATION.as_bytes())
        };
        if matched {
            // A listed context's id is reserved: zero.
            let id = if set { ALLOCATION_ID } else { 0 };
            let mut d = id.to_be_bytes().to_vec();
            d.extend_from_slice(BASE_ALLOCATION.as_bytes());
            self.reply(opt, REP_META_CONTEXT, &d)?;
            if set {
                self.allocation = Some(i);
            }
        }
        self.reply(opt, REP_ACK, &[])
    }

    /// Reads and drops `n` bytes of the client's.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.input).take(n), &mut io::sink())?;
        if got < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// "Transmission": requests, each answered in turn, until the client
    /// disconnects.
    fn transmission(&mut self, export: usize) -> io::Result<End> {
        let exports = self.exports;
        let Some(e) = exports.get(export) else {
            return Ok(End::Refused("no such export".into()));
        };
        let allocation = self.allocation == Some(export);
        loop {
            // Replies wait in the buffer while more requests are already
            // here (a client that pipelines gets them in fewer writes); none
            // waits once the client has to hear from us.
            if self.input.buffer().is_empty() {
                self.output.flush()?;
            }
            let mut b = [0u8; wire::REQUEST_LEN];
            self.input.read_exact(&mut b)?;
            let Some(req) = wire::parse_request(&b) else {
                return Ok(End::Refused("a request without the request magic".into()));
            };
            match req.command {
                CMD_READ => self.read(e, &req)?,
                CMD_WRITE => {
                    // Its data is read (to stay in step) and dropped; data
                    // larger than the maximum payload is a client that does
                    // not follow the limits, and ends the session.
                    if req.length > MAX_PAYLOAD {
                        return Ok(End::Refused(format!(
                            "a write of {} bytes, more than the {MAX_PAYLOAD} allowed",
                            req.length
                        )));
                    }
                    self.skip(u64::from(req.length))?;
                    self.error(&req, EPERM, "the export is read-only")?;
                }
                CMD_DISC => return Ok(End::Disconnected),
                CMD_FLUSH => {
                    if req.flags & !CMD_FLAG_FUA != 0 {
                        self.error(&req, EINVAL, "flags a flush does not take")?;
                    } else {
                        self.done(&req)?;
                    }
                }
                CMD_TRIM | CMD_WRITE_ZEROES => {
                    self.error(&req, EPERM, "the export is read-only")?
                }
                // Not advertised, but sent by some clients anyway: a hint,
                // taken and done nothing with.
                CMD_CACHE => {
                    if !in_bounds(e.volume.as_ref(), &req) {
                        self.error(&req, EINVAL, "past the end of the export")?;
                    } else {
                        self.done(&req)?;
                    }
                }
                CMD_BLOCK_STATUS => self.block_status(e, &req, allocation)?,
                c => self.error(&req, EINVAL, &format!("unknown command {c}"))?,
            }
        }
    }

    /// A successful reply without data. A simple reply is allowed for
    /// anything but a read, even with structured replies on.
    fn done(&mut self, req: &Request) -> io::Result<()> {
        self.output.write_all(&wire::simple_reply(0, req.cookie))
    }

    /// An error reply: an error chunk with a message when structured
    /// replies are on ("The server SHOULD prefer sending errors via a
    /// structured reply"), a simple reply otherwise.
    fn error(&mut self, req: &Request, error: u32, msg: &str) -> io::Result<()> {
        if !self.structured {
            return self
                .output
                .write_all(&wire::simple_reply(error, req.cookie));
        }
        let msg = wire::bounded(msg).as_bytes();
        let len = 6 + msg.len() as u32; // ok: msg <= 4096 bytes
        self.output.write_all(&wire::chunk_header(
            REPLY_FLAG_DONE,
            REPLY_TYPE_ERROR,
            req.cookie,
            len,
        ))?;
        self.output.write_all(&error.to_be_bytes())?;
        self.output.write_all(&(msg.len() as u16).to_be_bytes())?;
        self.output.write_all(msg)
    }

    /// `NBD_CMD_READ`.
    fn read(&mut self, e: &Export, req: &Request) -> io::Result<()> {
        // FUA may be set by clients on any command; DF is not offered.
        if req.flags & !CMD_FLAG_FUA != 0 {
            return self.error(req, EINVAL, "flags a read does not take here");
        }
        if req.length > MAX_PAYLOAD {
            // "Size constraints": with simple replies a longer read is a
            // client error (EINVAL); with structured ones the server may
            // refuse it up front with EOVERFLOW.
            let err = if self.structured { EOVERFLOW } else { EINVAL };
            let msg = format!("a read of {} bytes; at most {MAX_PAYLOAD}", req.length);
            return self.error(req, err, &msg);
        }
        if !in_bounds(e.volume.as_ref(), req) {
            return self.error(req, EINVAL, "a read past the end of the export");
        }
        let r = if self.structured {
            self.read_structured(e, req)
        } else {
            self.read_simple(e, req)
        };
        self.observer.read_done(e);
        r
    }

    /// A read answered by one simple reply: read whole first, since an
    /// error after a reply header that says success can only be a hang-up.
    fn read_simple(&mut self, e: &Export, req: &Request) -> io::Result<()> {
        let vol = e.volume.as_ref();
        let len = u64::from(req.length);
        if let Some(bytes) = vol.slice_at(req.offset, len) {
            vol.prefetch(req.offset, len);
            self.output.write_all(&wire::simple_reply(0, req.cookie))?;
            return self.output.write_all(bytes);
        }
        let buf = scratch(&mut self.buf, len);
        if let Err(err) = vol.read_at(req.offset, buf) {
            self.observer.read_failed(e, req.offset, len, &err);
            return self.output.write_all(&wire::simple_reply(EIO, req.cookie));
        }
        self.output.write_all(&wire::simple_reply(0, req.cookie))?;
        self.output.write_all(buf)
    }

    /// A read answered by chunks: holes as hole chunks, data in chunks of
    /// at most [`CHUNK`], each read before its header is sent; the last
    /// chunk carries the done flag. A read that fails ends the reply with
    /// an error chunk at its offset.
    fn read_structured(&mut self, e: &Export, req: &Request) -> io::Result<()> {
        let vol = e.volume.as_ref();
        let end = req.offset + u64::from(req.length); // ok: in_bounds checked it
        if req.length == 0 {
            return self.output.write_all(&wire::chunk_header(
                REPLY_FLAG_DONE,
                REPLY_TYPE_NONE,
                req.cookie,
                0,
            ));
        }
        let mut pos = req.offset;
        while pos < end {
            let run = run_at(vol, pos, end);
            let n = if run.hole {
                run.len
            } else {
                run.len.min(CHUNK)
            };
            let flags = if pos + n == end { REPLY_FLAG_DONE } else { 0 };
            if run.hole {
                self.output.write_all(&wire::chunk_header(
                    flags,
                    REPLY_TYPE_OFFSET_HOLE,
                    req.cookie,
                    12,
                ))?;
                self.output.write_all(&pos.to_be_bytes())?;
                self.output.write_all(&(n as u32).to_be_bytes())?; // ok: n <= length, a u32
            } else {
                let data = match vol.slice_at(pos, n) {
                    Some(d) => {
                        vol.prefetch(pos, n);
                        d
                    }
                    None => {
                        let b = scratch(&mut self.buf, n);
                        if let Err(err) = vol.read_at(pos, b) {
                            self.observer.read_failed(e, pos, n, &err);
                            return self.error_at(req, pos, &err.to_string());
                        }
                        &*b
                    }
                };
                self.output.write_all(&wire::chunk_header(
                    flags,
                    REPLY_TYPE_OFFSET_DATA,
                    req.cookie,
                    8 + n as u32, // ok: n <= length <= MAX_PAYLOAD
                ))?;
                self.output.write_all(&pos.to_be_bytes())?;
                self.output.write_all(data)?;
            }
            pos += n;
        }
        Ok(())
    }

    /// The last chunk of a read that failed at `offset`:
    /// `NBD_REPLY_TYPE_ERROR_OFFSET`, so the chunks before it stand.
    fn error_at(&mut self, req: &Request, offset: u64, msg: &str) -> io::Result<()> {
        let msg = wire::bounded(msg).as_bytes();
        let len = 14 + msg.len() as u32; // ok: msg <= 4096 bytes
        self.output.write_all(&wire::chunk_header(
            REPLY_FLAG_DONE,
            REPLY_TYPE_ERROR_OFFSET,
            req.cookie,
            len,
        ))?;
        self.output.write_all(&EIO.to_be_bytes())?;
        self.output.write_all(&(msg.len() as u16).to_be_bytes())?;
        self.output.write_all(msg)?;
        self.output.write_all(&offset.to_be_bytes())
    }

    /// `NBD_CMD_BLOCK_STATUS` for `base:allocation`: holes are
    /// `NBD_STATE_HOLE | NBD_STATE_ZERO`, everything else 0 (data).
    fn block_status(&mut self, e: &Export, req: &Request, allocation: bool) -> io::Result<()> {
        if !allocation {
            return self.error(
                req,
                EINVAL,
                "no metadata context was selected for this export (NBD_OPT_SET_META_CONTEXT)",
            );
        }
        if req.flags & !(CMD_FLAG_FUA | CMD_FLAG_REQ_ONE) != 0 {
            return self.error(req, EINVAL, "flags a block status does not take");
        }
        if req.length == 0 || !in_bounds(e.volume.as_ref(), req) {
            return self.error(
                req,
                EINVAL,
                "an empty range, or one past the end of the export",
            );
        }
        let end = req.offset + u64::from(req.length); // ok: in_bounds checked it
        let max = if req.flags & CMD_FLAG_REQ_ONE != 0 {
            1
        } else {
            MAX_EXTENTS
        };
        let extents = runs(e.volume.as_ref(), req.offset, end, max);
        let len = 4 + 8 * extents.len() as u32; // ok: <= MAX_EXTENTS
        self.output.write_all(&wire::chunk_header(
            REPLY_FLAG_DONE,
            REPLY_TYPE_BLOCK_STATUS,
            req.cookie,
            len,
        ))?;
        self.output.write_all(&ALLOCATION_ID.to_be_bytes())?;
        for (_, r) in extents {
            let flags = if r.hole { STATE_HOLE | STATE_ZERO } else { 0 };
            self.output.write_all(&(r.len as u32).to_be_bytes())?; // ok: within the request's u32 length
            self.output.write_all(&flags.to_be_bytes())?;
        }
        Ok(())
    }
}

/// What comes after an option.
enum Step {
    Continue,
    End(End),
    /// Transmission, on this export.
    Transmit(usize),
}

/// The first `n` bytes of `buf`, grown to hold them (`n` is at most
/// [`MAX_PAYLOAD`]: a request's checked length).
fn scratch(buf: &mut Vec<u8>, n: u64) -> &mut [u8] {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if buf.len() < n {
        buf.resize(n, 0);
    }
    buf.get_mut(..n).unwrap_or_default()
}

/// The request's range lies inside the export ("Size constraints": the
/// client MUST NOT pass the end).
fn in_bounds(vol: &dyn Volume, req: &Request) -> bool {
    req.offset
        .checked_add(u64::from(req.length))
        .is_some_and(|end| end <= vol.len())
}
