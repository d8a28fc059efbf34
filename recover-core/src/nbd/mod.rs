//! A read-only NBD server's protocol: any [`Volume`](crate::io::Volume)
//! served to the clients people already have (qemu, nbdcopy, nbdinfo, the
//! kernel's nbd-client), as the NetworkBlockDevice project's `doc/proto.md`
//! defines it.
//!
//! - [`proto`]: the protocol's numbers, each group citing its section;
//! - [`wire`]: the client's messages parsed from byte slices into typed
//!   values (never indexing them, every length checked before anything is
//!   allocated for it), and the server's headers;
//! - [`extents`]: where a volume's holes are, for the `base:allocation`
//!   metadata context and for hole chunks;
//! - [`session`]: one client, from the fixed newstyle handshake to its
//!   disconnect, over any pair of byte streams.
//!
//! What the server offers: `NBD_OPT_GO`, `NBD_OPT_INFO`,
//! `NBD_OPT_EXPORT_NAME`, `NBD_OPT_LIST`, `NBD_OPT_ABORT`,
//! `NBD_OPT_STRUCTURED_REPLY`, `NBD_OPT_LIST_META_CONTEXT` and
//! `NBD_OPT_SET_META_CONTEXT` with `base:allocation`; other options are
//! answered `NBD_REP_ERR_UNSUP`. Exports are read-only
//! (`NBD_FLAG_READ_ONLY`): reads, block status, flush and cache are
//! served; writes, trims and write-zeroes are refused with `NBD_EPERM`.
//! The listening, the threads and the signals are the caller's.

#![deny(clippy::indexing_slicing)]

pub mod extents;
pub mod proto;
pub mod session;
pub mod wire;

pub use session::{serve, End, Export, Observer};

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::proto::*;
    use super::*;
    use crate::io::{Concat, MemVolume, VolumeRef, Zeros};
    use std::sync::{Arc, Mutex};

    /// A client's bytes, written ahead (the session answers in order, so a
    /// whole conversation can be scripted), and a reader of the answers.
    #[derive(Default)]
    struct Script(Vec<u8>);

    impl Script {
        fn flags(mut self, f: u32) -> Self {
            self.0.extend_from_slice(&f.to_be_bytes());
            self
        }
        fn option(mut self, opt: u32, data: &[u8]) -> Self {
            self.0.extend_from_slice(&IHAVEOPT.to_be_bytes());
            self.0.extend_from_slice(&opt.to_be_bytes());
            self.0.extend_from_slice(&(data.len() as u32).to_be_bytes());
            self.0.extend_from_slice(data);
            self
        }
        fn request(mut self, flags: u16, cmd: u16, cookie: u64, offset: u64, len: u32) -> Self {
            self.0.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
            self.0.extend_from_slice(&flags.to_be_bytes());
            self.0.extend_from_slice(&cmd.to_be_bytes());
            self.0.extend_from_slice(&cookie.to_be_bytes());
            self.0.extend_from_slice(&offset.to_be_bytes());
            self.0.extend_from_slice(&len.to_be_bytes());
            self
        }
        fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend_from_slice(b);
            self
        }
    }

    fn go_data(name: &[u8], info: &[u16]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name);
        d.extend_from_slice(&(info.len() as u16).to_be_bytes());
        for i in info {
            d.extend_from_slice(&i.to_be_bytes());
        }
        d
    }

    fn meta_data(name: &[u8], queries: &[&[u8]]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name);
        d.extend_from_slice(&(queries.len() as u32).to_be_bytes());
        for q in queries {
            d.extend_from_slice(&(q.len() as u32).to_be_bytes());
            d.extend_from_slice(q);
        }
        d
    }

    /// Reads the server's bytes back.
    struct Answers<'a>(&'a [u8]);

    impl Answers<'_> {
        fn take(&mut self, n: usize) -> &[u8] {
            let (h, r) = self.0.split_at(n);
            self.0 = r;
            h
        }
        fn u16(&mut self) -> u16 {
            u16::from_be_bytes(self.take(2).try_into().unwrap())
        }
        fn u32(&mut self) -> u32 {
            u32::from_be_bytes(self.take(4).try_into().unwrap())
        }
        fn u64(&mut self) -> u64 {
            u64::from_be_bytes(self.take(8).try_into().unwrap())
        }
        fn greeting(&mut self) {
            assert_eq!(self.u64(), NBDMAGIC);
            assert_eq!(self.u64(), IHAVEOPT);
            assert_eq!(self.u16(), FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        }
        /// An option reply: (option, type, data).
        fn reply(&mut self) -> (u32, u32, Vec<u8>) {
            assert_eq!(self.u64(), OPTION_REPLY_MAGIC);
            let opt = self.u32();
            let kind = self.u32();
            let n = self.u32() as usize;
            (opt, kind, self.take(n).to_vec())
        }
        /// A structured chunk: (flags, type, cookie, payload).
        fn chunk(&mut self) -> (u16, u16, u64, Vec<u8>) {
            assert_eq!(self.u32(), STRUCTURED_REPLY_MAGIC);
            let flags = self.u16();
            let kind = self.u16();
            let cookie = self.u64();
            let n = self.u32() as usize;
            (flags, kind, cookie, self.take(n).to_vec())
        }
        /// A simple reply: (error, cookie).
        fn simple(&mut self) -> (u32, u64) {
            assert_eq!(self.u32(), SIMPLE_REPLY_MAGIC);
            (self.u32(), self.u64())
        }
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<(u64, u64)>>);

    impl Observer for Seen {
        fn read_failed(&self, _: &Export, offset: u64, len: u64, _: &crate::Error) {
            self.0.lock().unwrap().push((offset, len));
        }
    }

    /// Two exports: 64 KiB of counting bytes, then 1 MiB of data and
    /// holes (1 KiB... see `holes`).
    fn exports() -> Vec<Export> {
        let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
        let holes: Vec<VolumeRef> = vec![
            Arc::new(MemVolume::new("d", vec![7u8; 8192])),
            Arc::new(Zeros::new(16384, "z".into())),
            Arc::new(MemVolume::new("d", vec![9u8; 4096])),
        ];
        vec![
            Export {
                name: "d0/gpt/p1".into(),
                description: "a partition".into(),
                volume: Arc::new(MemVolume::new("m", data)),
            },
            Export {
                name: "d0/qcow2".into(),
                description: "a sparse disk".into(),
                volume: Arc::new(Concat::new(holes, "c".into())),
            },
        ]
    }

    fn run(script: Script) -> (Vec<u8>, End, Seen) {
        let seen = Seen::default();
        let mut out = Vec::new();
        let end = serve(&script.0[..], &mut out, &exports(), &seen).unwrap();
        (out, end, seen)
    }

    #[test]
    fn list_info_and_simple_reads() {
        let s = Script::default()
            .flags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)
            .option(OPT_LIST, &[])
            .option(999, b"junk")
            .option(OPT_INFO, &go_data(b"nope", &[]))
            .option(
                OPT_GO,
                &go_data(b"", &[INFO_NAME, INFO_BLOCK_SIZE, INFO_DESCRIPTION, 77]),
            )
            .request(0, CMD_READ, 1, 100, 50)
            .request(0, CMD_READ, 2, 65530, 7)
            .request(0, CMD_WRITE, 3, 0, 5)
            .raw(b"hello")
            .request(0, CMD_TRIM, 4, 0, 5)
            .request(0, CMD_FLUSH, 5, 0, 0)
            .request(0, CMD_READ, 6, 0, MAX_PAYLOAD + 1)
            .request(0, CMD_BLOCK_STATUS, 7, 0, 512)
            .request(0, 42, 8, 0, 0)
            .request(0, CMD_DISC, 9, 0, 0);
        let (out, end, seen) = run(s);
        assert_eq!(end, End::Disconnected);
        assert!(seen.0.lock().unwrap().is_empty());
        let mut a = Answers(&out);
        a.greeting();
        for name in ["d0/gpt/p1", "d0/qcow2"] {
            let (opt, kind, d) = a.reply();
            assert_eq!((opt, kind), (OPT_LIST, REP_SERVER));
            assert_eq!(&d[4..], name.as_bytes());
        }
        assert_eq!(a.reply().1, REP_ACK);
        assert_eq!(a.reply().1, REP_ERR_UNSUP);
        let (_, kind, msg) = a.reply();
        assert_eq!(kind, REP_ERR_UNKNOWN);
        assert!(String::from_utf8_lossy(&msg).contains("d0/qcow2"));
        // GO on the default export: EXPORT first, then what was asked
        // (the unknown 77 ignored), then ACK.
        let (_, kind, d) = a.reply();
        assert_eq!(kind, REP_INFO);
        assert_eq!(&d[..2], &INFO_EXPORT.to_be_bytes());
        assert_eq!(&d[2..10], &65536u64.to_be_bytes());
        let flags = u16::from_be_bytes([d[10], d[11]]);
        assert_eq!(
            flags,
            FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN
        );
        let (_, _, d) = a.reply();
        assert_eq!(&d[2..], b"d0/gpt/p1");
        let (_, _, d) = a.reply();
        assert_eq!(&d[2..], &[0, 0, 0, 1, 0, 0, 16, 0, 2, 0, 0, 0]);
        let (_, _, d) = a.reply();
        assert_eq!(&d[2..], b"a partition");
        assert_eq!(a.reply().1, REP_ACK);
        // Transmission with simple replies.
        assert_eq!(a.simple(), (0, 1));
        let want: Vec<u8> = (100..150u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(a.take(50), &want[..]);
        assert_eq!(a.simple(), (EINVAL, 2), "past the end");
        assert_eq!(a.simple(), (EPERM, 3), "write refused, its data skipped");
        assert_eq!(a.simple(), (EPERM, 4), "trim refused");
        assert_eq!(a.simple(), (0, 5), "flush");
        assert_eq!(a.simple(), (EINVAL, 6), "longer than the maximum payload");
        assert_eq!(a.simple(), (EINVAL, 7), "block status without a context");
        assert_eq!(a.simple(), (EINVAL, 8), "unknown command");
        assert!(a.0.is_empty(), "nothing after DISC");
    }

    #[test]
    fn structured_reads_and_block_status() {
        let s = Script::default()
            .flags(FLAG_C_FIXED_NEWSTYLE)
            .option(
                OPT_SET_META_CONTEXT,
                &meta_data(b"d0/qcow2", &[b"base:allocation"]),
            )
            .option(OPT_STRUCTURED_REPLY, &[])
            .option(OPT_LIST_META_CONTEXT, &meta_data(b"", &[]))
            .option(
                OPT_SET_META_CONTEXT,
                &meta_data(b"d0/qcow2", &[b"base:", b"x-foo:bar", b"base:allocation"]),
            )
            .option(OPT_GO, &go_data(b"d0/qcow2", &[]))
            .request(0, CMD_BLOCK_STATUS, 1, 0, 28672)
            .request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 2, 4096, 28672 - 4096)
            .request(0, CMD_READ, 3, 4096, 24576)
            .request(0, CMD_READ, 4, 0, MAX_PAYLOAD + 1)
            .request(0, CMD_BLOCK_STATUS, 5, 28000, 1000)
            .request(CMD_FLAG_DF, CMD_READ, 6, 0, 10);
        let (out, end, _) = run(s);
        assert_eq!(end, End::Closed);
        let mut a = Answers(&out);
        a.greeting();
        assert_eq!(
            a.reply().1,
            REP_ERR_INVALID,
            "meta context before structured replies"
        );
        assert_eq!(a.reply().1, REP_ACK);
        let (_, kind, d) = a.reply();
        assert_eq!(kind, REP_META_CONTEXT);
        assert_eq!(&d[..4], &[0; 4], "listed ids are zero");
        assert_eq!(&d[4..], b"base:allocation");
        assert_eq!(a.reply().1, REP_ACK);
        let (_, kind, d) = a.reply();
        assert_eq!(kind, REP_META_CONTEXT);
        let id = u32::from_be_bytes(d[..4].try_into().unwrap());
        assert_eq!(a.reply().1, REP_ACK);
        assert_eq!(a.reply().1, REP_INFO);
        assert_eq!(a.reply().1, REP_ACK);

        let extents = |p: &[u8]| -> Vec<(u32, u32)> {
            assert_eq!(u32::from_be_bytes(p[..4].try_into().unwrap()), id);
            p[4..]
                .chunks(8)
                .map(|c| {
                    (
                        u32::from_be_bytes(c[..4].try_into().unwrap()),
                        u32::from_be_bytes(c[4..].try_into().unwrap()),
                    )
                })
                .collect()
        };
        let hz = STATE_HOLE | STATE_ZERO;
        let (f, k, c, p) = a.chunk();
        assert_eq!((f, k, c), (REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, 1));
        assert_eq!(extents(&p), vec![(8192, 0), (16384, hz), (4096, 0)]);
        let (_, _, c, p) = a.chunk();
        assert_eq!(c, 2);
        assert_eq!(extents(&p), vec![(4096, 0)], "one extent");

        // The read: data, a hole chunk, data, the last one done.
        let (f, k, _, p) = a.chunk();
        assert_eq!((f, k), (0, REPLY_TYPE_OFFSET_DATA));
        assert_eq!(&p[..8], &4096u64.to_be_bytes());
        assert!(p[8..].iter().all(|&b| b == 7) && p.len() == 8 + 4096);
        let (f, k, _, p) = a.chunk();
        assert_eq!((f, k), (0, REPLY_TYPE_OFFSET_HOLE));
        assert_eq!(&p[..], &[0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x40, 0]);
        let (f, k, _, p) = a.chunk();
        assert_eq!((f, k), (REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_DATA));
        assert_eq!(&p[..8], &24576u64.to_be_bytes());
        assert!(p[8..].iter().all(|&b| b == 9) && p.len() == 8 + 4096);
        // Errors as error chunks with a message.
        for (cookie, err) in [(4, EOVERFLOW), (5, EINVAL), (6, EINVAL)] {
            let (f, k, c, p) = a.chunk();
            assert_eq!((f, k, c), (REPLY_FLAG_DONE, REPLY_TYPE_ERROR, cookie));
            assert_eq!(&p[..4], &err.to_be_bytes());
            let n = u16::from_be_bytes([p[4], p[5]]) as usize;
            assert_eq!(p.len(), 6 + n);
        }
        assert!(a.0.is_empty());
    }

    #[test]
    fn broken_clients_are_dropped() {
        // Unknown client flags.
        let (out, end, _) = run(Script::default().flags(4));
        assert!(matches!(end, End::Refused(_)));
        assert_eq!(out.len(), 18);
        // EXPORT_NAME of an export that is not there: hang up.
        let (_, end, _) = run(Script::default().flags(1).option(OPT_EXPORT_NAME, b"x"));
        assert!(matches!(end, End::Refused(_)));
        // A request with the wrong magic.
        let (_, end, _) = run(Script::default()
            .flags(1)
            .option(OPT_EXPORT_NAME, b"d0/qcow2")
            .raw(&[0; 28]));
        assert!(matches!(end, End::Refused(_)));
        // A write larger than the maximum payload.
        let (_, end, _) = run(Script::default()
            .flags(1)
            .option(OPT_EXPORT_NAME, b"")
            .request(0, CMD_WRITE, 1, 0, MAX_PAYLOAD + 1));
        assert!(matches!(end, End::Refused(_)));
        // Cut off in the middle of an option.
        let (_, end, _) = run(Script::default().flags(1).raw(&IHAVEOPT.to_be_bytes()));
        assert_eq!(end, End::Closed);
    }

    #[test]
    fn export_name_then_reads_and_oversized_options() {
        // An option longer than is read: skipped, answered TOO_BIG.
        let mut big = Script::default().flags(0);
        big.0.extend_from_slice(&IHAVEOPT.to_be_bytes());
        big.0.extend_from_slice(&OPT_GO.to_be_bytes());
        big.0
            .extend_from_slice(&(wire::MAX_OPTION_DATA + 1).to_be_bytes());
        big.0
            .extend(std::iter::repeat_n(0u8, wire::MAX_OPTION_DATA as usize + 1));
        let s = big.option(OPT_ABORT, &[]);
        let (out, end, _) = run(s);
        assert_eq!(end, End::Aborted);
        let mut a = Answers(&out);
        a.greeting();
        assert_eq!(a.reply().1, REP_ERR_TOO_BIG);
        assert_eq!(a.reply().1, REP_ACK);

        // EXPORT_NAME without NO_ZEROES: size, flags, 124 zeros.
        let s = Script::default()
            .flags(1)
            .option(OPT_EXPORT_NAME, b"d0/qcow2")
            .request(0, CMD_READ, 1, 8190, 4);
        let (out, _, _) = run(s);
        let mut a = Answers(&out);
        a.greeting();
        assert_eq!(a.u64(), 28672);
        a.u16();
        assert_eq!(a.take(124), &[0u8; 124][..]);
        assert_eq!(a.simple(), (0, 1));
        assert_eq!(a.take(4), &[7, 7, 0, 0]);
    }
}
