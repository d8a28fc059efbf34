//! The numbers of the NBD protocol, as the NetworkBlockDevice project's
//! `doc/proto.md` defines them (each group cites its section). Every
//! field on the wire is big-endian ("network byte order", proto.md
//! "Conventions").

// "Newstyle negotiation": the server's greeting, and the magic that
// starts every option the client sends.
/// `NBDMAGIC`, the first 8 bytes the server sends.
pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
/// `IHAVEOPT`: the second greeting word, and the head of every option.
pub const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
/// "Fixed newstyle negotiation": the head of every option reply.
pub const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;

// "Handshake flags" (16 bits, sent by the server after IHAVEOPT).
/// The server speaks fixed newstyle: it answers options it does not know.
pub const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
/// The server can leave out the 124 zero bytes after `NBD_OPT_EXPORT_NAME`.
pub const FLAG_NO_ZEROES: u16 = 1 << 1;

// "Client flags" (32 bits, the client's answer to the greeting). Any
// other bit, or one that does not match a handshake flag, ends the
// session.
/// The client speaks fixed newstyle.
pub const FLAG_C_FIXED_NEWSTYLE: u32 = 1 << 0;
/// The client wants no zero padding after `NBD_OPT_EXPORT_NAME`.
pub const FLAG_C_NO_ZEROES: u32 = 1 << 1;

// "Transmission flags" (16 bits, with the export's size).
/// Always set.
pub const FLAG_HAS_FLAGS: u16 = 1 << 0;
/// The export is read-only: writes are errors.
pub const FLAG_READ_ONLY: u16 = 1 << 1;
/// The server takes `NBD_CMD_FLUSH`.
pub const FLAG_SEND_FLUSH: u16 = 1 << 2;
/// The server takes `NBD_CMD_FLAG_FUA`.
pub const FLAG_SEND_FUA: u16 = 1 << 3;
/// The server takes `NBD_CMD_TRIM`.
pub const FLAG_SEND_TRIM: u16 = 1 << 5;
/// The server takes `NBD_CMD_WRITE_ZEROES`.
pub const FLAG_SEND_WRITE_ZEROES: u16 = 1 << 6;
/// The server honours `NBD_CMD_FLAG_DF` on reads.
pub const FLAG_SEND_DF: u16 = 1 << 7;
/// No cache, or one shared by every connection: a client may spread its
/// requests over several connections (true of a read-only export).
pub const FLAG_CAN_MULTI_CONN: u16 = 1 << 8;
/// The server takes `NBD_CMD_CACHE`.
pub const FLAG_SEND_CACHE: u16 = 1 << 10;

// "Option types".
/// Choose an export and start transmission; errors cannot be reported.
pub const OPT_EXPORT_NAME: u32 = 1;
/// End the negotiation (a soft disconnect).
pub const OPT_ABORT: u32 = 2;
/// The exports' names.
pub const OPT_LIST: u32 = 3;
/// Start TLS.
pub const OPT_STARTTLS: u32 = 5;
/// An export's details, without starting transmission.
pub const OPT_INFO: u32 = 6;
/// An export's details, then transmission.
pub const OPT_GO: u32 = 7;
/// Use structured replies in transmission.
pub const OPT_STRUCTURED_REPLY: u32 = 8;
/// The metadata contexts a query matches.
pub const OPT_LIST_META_CONTEXT: u32 = 9;
/// Select metadata contexts for `NBD_CMD_BLOCK_STATUS`.
pub const OPT_SET_META_CONTEXT: u32 = 10;

// "Option reply types"; errors have bit 31 set.
/// Success, or the end of a list.
pub const REP_ACK: u32 = 1;
/// One export of `NBD_OPT_LIST`.
pub const REP_SERVER: u32 = 2;
/// One piece of information of `NBD_OPT_INFO`/`NBD_OPT_GO`.
pub const REP_INFO: u32 = 3;
/// One metadata context.
pub const REP_META_CONTEXT: u32 = 4;
/// The option is not known here.
pub const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
/// Known, but refused by policy.
pub const REP_ERR_POLICY: u32 = (1 << 31) + 2;
/// Known, but malformed or not valid now.
pub const REP_ERR_INVALID: u32 = (1 << 31) + 3;
/// No export of that name.
pub const REP_ERR_UNKNOWN: u32 = (1 << 31) + 6;
/// The request or the reply would be too large.
pub const REP_ERR_TOO_BIG: u32 = (1 << 31) + 9;

// "Option reply types", `NBD_REP_INFO`: the information types.
/// Size and transmission flags (mandatory before a successful ACK).
pub const INFO_EXPORT: u16 = 0;
/// The export's canonical name.
pub const INFO_NAME: u16 = 1;
/// A description for people.
pub const INFO_DESCRIPTION: u16 = 2;
/// Minimum, preferred and maximum block sizes.
pub const INFO_BLOCK_SIZE: u16 = 3;

// "Request message", "Simple reply message", "Structured reply chunk
// message".
/// The head of every request.
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
/// The head of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
/// The head of a structured reply chunk.
pub const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;

// "Request types".
/// Read.
pub const CMD_READ: u16 = 0;
/// Write (with `length` bytes of data after the request).
pub const CMD_WRITE: u16 = 1;
/// Soft disconnect; no reply.
pub const CMD_DISC: u16 = 2;
/// Flush writes to stable storage.
pub const CMD_FLUSH: u16 = 3;
/// Discard.
pub const CMD_TRIM: u16 = 4;
/// A hint that a range will be read.
pub const CMD_CACHE: u16 = 5;
/// Write zeros (no data after the request).
pub const CMD_WRITE_ZEROES: u16 = 6;
/// Metadata of a range, for the selected contexts.
pub const CMD_BLOCK_STATUS: u16 = 7;

// "Command flags".
/// Force unit access (valid on every command once `NBD_FLAG_SEND_FUA`).
pub const CMD_FLAG_FUA: u16 = 1 << 0;
/// Write zeroes without making a hole.
pub const CMD_FLAG_NO_HOLE: u16 = 1 << 1;
/// Do not fragment a structured read reply.
pub const CMD_FLAG_DF: u16 = 1 << 2;
/// One extent per context in a block status reply.
pub const CMD_FLAG_REQ_ONE: u16 = 1 << 3;
/// Fail `NBD_CMD_WRITE_ZEROES` fast when it would be slow.
pub const CMD_FLAG_FAST_ZERO: u16 = 1 << 4;

// "Structured reply flags" and "Structured reply types".
/// The last chunk of a reply.
pub const REPLY_FLAG_DONE: u16 = 1 << 0;
/// No payload: the end of a reply.
pub const REPLY_TYPE_NONE: u16 = 0;
/// Offset, then data.
pub const REPLY_TYPE_OFFSET_DATA: u16 = 1;
/// Offset and length of bytes that read as zeros.
pub const REPLY_TYPE_OFFSET_HOLE: u16 = 2;
/// A context id, then (length, flags) extents.
pub const REPLY_TYPE_BLOCK_STATUS: u16 = 5;
/// Error, message length, message.
pub const REPLY_TYPE_ERROR: u16 = (1 << 15) + 1;
/// Error, message length, message, offset.
pub const REPLY_TYPE_ERROR_OFFSET: u16 = (1 << 15) + 2;

// "Error values".
/// Operation not permitted (writes to a read-only export).
pub const EPERM: u32 = 1;
/// Input/output error.
pub const EIO: u32 = 5;
/// Invalid argument (out of bounds, unknown command or flag).
pub const EINVAL: u32 = 22;
/// Value too large (a read longer than the server will send).
pub const EOVERFLOW: u32 = 75;

// "`base:allocation` metadata context".
/// The one metadata context served.
pub const BASE_ALLOCATION: &str = "base:allocation";
/// Not allocated in the backing storage.
pub const STATE_HOLE: u32 = 1 << 0;
/// Reads as zeros.
pub const STATE_ZERO: u32 = 1 << 1;

// "Size constraints": a minimum of 1 (any offset and length), 4 KiB
// preferred, and 32 MiB as the largest payload, the sizes the spec names
// as the defaults every client can live with.
/// The smallest addressable unit: a byte (every volume reads at any offset).
pub const MIN_BLOCK: u32 = 1;
/// The size below which requests cost more than they should.
pub const PREFERRED_BLOCK: u32 = 4096;
/// The largest read or write payload taken in one request.
pub const MAX_PAYLOAD: u32 = 32 << 20;

/// "Conventions": a string (export name, message, context name) MUST be
/// no longer than 4096 bytes.
pub const MAX_STRING: usize = 4096;
