//! Listening (a Unix socket, or TCP on the address given), a thread per
//! client, what the clients' reads met reported on stderr once, and a
//! clean stop on SIGINT or SIGTERM: no new clients, the connected ones
//! shut down after the request they are in, the socket removed.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recover_core::io::VolumeRef;
use recover_core::nbd::{self, End, Export, Observer};

use crate::cmd::Discovered;
use crate::output::Guard;

/// Clients served at once; more are turned away (a thread each).
const MAX_CLIENTS: usize = 256;
/// How long clients get to finish the request they are in when the server
/// stops, before their connections are cut.
const GRACE: Duration = Duration::from_secs(5);
/// The most distinct read errors printed; the rest are counted.
const MAX_ERRORS_SHOWN: usize = 100;

/// Set by SIGINT and SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

/// SIGINT and SIGTERM stop the server cleanly instead of killing it (the
/// socket is removed). Installed without SA_RESTART, so the signal also
/// wakes the accept loop's poll.
pub fn catch_stop_signals() {
    extern "C" fn on_stop(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the sigaction struct is zeroed then filled in; the
        // handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Where the server listens.
#[derive(Debug)]
pub enum Listener {
    /// A Unix socket, removed on drop while it is still the one made.
    Unix {
        listener: UnixListener,
        /// As given, and as printed in URIs (absolute).
        path: PathBuf,
        absolute: PathBuf,
        /// Device and inode of the socket file made.
        made: (u64, u64),
    },
    /// TCP.
    Tcp(TcpListener),
}

impl Listener {
    /// A Unix socket at `path`, made through the guard.
    pub fn unix(guard: &Guard, path: &Path) -> io::Result<Listener> {
        let listener = guard.bind_socket(path, "the NBD socket")?;
        let meta = std::fs::symlink_metadata(path)?;
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()?.join(path)
        };
        Ok(Listener::Unix {
            listener,
            path: path.to_path_buf(),
            absolute,
            made: (meta.dev(), meta.ino()),
        })
    }

    /// TCP on `addr` (ADDR:PORT), and only there.
    pub fn tcp(addr: &str) -> io::Result<Listener> {
        // An address that does not parse is InvalidInput: a command-line
        // mistake (exit 2); one in use or not ours, exit 1.
        TcpListener::bind(addr)
            .map(Listener::Tcp)
            .map_err(|e| io::Error::new(e.kind(), format!("--listen {addr}: {e}")))
    }

    fn fd(&self) -> RawFd {
        match self {
            Listener::Unix { listener, .. } => listener.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Unix { listener, .. } => listener.set_nonblocking(true),
            Listener::Tcp(l) => l.set_nonblocking(true),
        }
    }

    /// The NBD URI of `export` (the default export for the empty name).
    fn uri(&self, export: &str) -> String {
        let name = escape(export);
        match self {
            Listener::Unix { absolute, .. } => format!(
                "nbd+unix:///{name}?socket={}",
                escape(&absolute.to_string_lossy())
            ),
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("nbd://{a}/{name}"),
                Err(_) => format!("nbd://?/{name}"),
            },
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, made, .. } = self {
            // Only the socket this server made: another may have replaced it.
            let ours = std::fs::symlink_metadata(&*path).is_ok_and(|m| (m.dev(), m.ino()) == *made);
            if ours {
                let _ = std::fs::remove_file(&*path);
            }
        }
    }
}

/// Percent-encodes what an NBD URI's path or query cannot hold as it is.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$'()*,;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client's connection: read, written, and shut down from outside.
trait Stream: Read + Write + Send + Sized + 'static {
    fn dup(&self) -> io::Result<Self>;
    fn shut(&self, how: Shutdown) -> io::Result<()>;
    fn blocking(&self) -> io::Result<()>;
}

impl Stream for UnixStream {
    fn dup(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
    fn shut(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl Stream for TcpStream {
    fn dup(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
    fn shut(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// The connections open, by number, each with a way to shut it down.
type Clients = Arc<Mutex<HashMap<u64, Box<dyn Fn(Shutdown) + Send>>>>;

/// Serves `exports` on `listener` until SIGINT or SIGTERM; true when every
/// read was clean (no read errors, no unreadable ranges met).
pub fn serve(listener: Listener, exports: Vec<Export>, found: Discovered) -> io::Result<bool> {
    let exports = Arc::new(exports);
    let reporter = Arc::new(Reporter::new(found, &exports));
    for (i, e) in exports.iter().enumerate() {
        let default = if i == 0 {
            format!(", and as the default export at {}", listener.uri(""))
        } else {
            String::new()
        };
        eprintln!(
            "recover: serving {} ({} bytes, read-only) at {}{default}",
            e.name,
            e.volume.len(),
            listener.uri(&e.name)
        );
    }
    listener.set_nonblocking()?;
    let clients: Clients = Arc::default();
    let mut next = 0u64;
    let mut turned_away = false;
    let mut accept_failed = false;
    while !STOP.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: listener.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
        if n <= 0 {
            // A timeout, or EINTR from a signal: look at STOP again.
            continue;
        }
        let full = clients.lock().map_or(true, |c| c.len() >= MAX_CLIENTS);
        let accepted = match &listener {
            Listener::Unix { listener, .. } => listener.accept().map(|(s, _)| {
                if full {
                    return;
                }
                start(s, next, &exports, &reporter, &clients);
            }),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                if full {
                    return;
                }
                let _ = s.set_nodelay(true);
                start(s, next, &exports, &reporter, &clients);
            }),
        };
        match accepted {
            Ok(()) if full && !turned_away => {
                turned_away = true;
                eprintln!("recover: {MAX_CLIENTS} clients are connected; more are turned away");
            }
            Ok(()) => next += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of descriptors, say: wait, and say so once.
                if !accept_failed {
                    accept_failed = true;
                    eprintln!("recover: cannot accept a client: {e}");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    stop(&clients);
    reporter.check_bad_ranges();
    drop(listener);
    Ok(!reporter.failed.load(Ordering::SeqCst))
}

/// Shuts the clients down: first the reading side (a client between
/// requests sees its session end; one in a request gets its answer), then,
/// after [`GRACE`], both sides.
fn stop(clients: &Clients) {
    let shut_all = |how| {
        if let Ok(c) = clients.lock() {
            for shut in c.values() {
                shut(how);
            }
        }
    };
    let drained = |limit: Duration| {
        let t = Instant::now();
        while t.elapsed() < limit {
            if clients.lock().map_or(true, |c| c.is_empty()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    shut_all(Shutdown::Read);
    if !drained(GRACE) {
        shut_all(Shutdown::Both);
        drained(Duration::from_secs(1));
    }
}

/// A thread for the client on `stream`.
fn start<S: Stream>(
    stream: S,
    id: u64,
    exports: &Arc<Vec<Export>>,
    reporter: &Arc<Reporter>,
    clients: &Clients,
) {
    // An accepted socket may inherit the listener's non-blocking mode on
    // some systems; sessions block.
    if stream.blocking().is_err() {
        return;
    }
    let (Ok(input), Ok(handle)) = (stream.dup(), stream.dup()) else {
        return;
    };
    if let Ok(mut c) = clients.lock() {
        c.insert(
            id,
            Box::new(move |how| {
                let _ = handle.shut(how);
            }),
        );
    }
    let (exports, reporter, all) = (exports.clone(), reporter.clone(), clients.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("nbd-client-{id}"))
        .spawn(move || {
            let end = nbd::serve(input, stream, &exports, reporter.as_ref());
            if let Ok(End::Refused(why)) = end {
                eprintln!("recover: a client was disconnected: {why}");
            }
            if let Ok(mut c) = all.lock() {
                c.remove(&id);
            }
        });
    if spawned.is_err() {
        if let Ok(mut c) = clients.lock() {
            if let Some(shut) = c.remove(&id) {
                shut(Shutdown::Both);
            }
        }
    }
}

/// What reads met, said once each on stderr: read errors (the client was
/// answered EIO), and ranges that could not be read and were served as
/// zeros (looked for at most once a second while clients read, and at the
/// end): of the sources (bad sectors met, ddrescue mapfile ranges read)
/// and of the exports themselves (an array's missing data).
struct Reporter {
    found: Discovered,
    layers: Vec<(String, VolumeRef)>,
    /// Something was not read cleanly.
    failed: AtomicBool,
    /// Milliseconds since `start` at the last look at the bad ranges.
    last_look: AtomicU64,
    start: Instant,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    bad: HashSet<(usize, u64, u64)>,
    errors: HashSet<String>,
    more_errors: u64,
}

impl Reporter {
    fn new(found: Discovered, exports: &[Export]) -> Reporter {
        Reporter {
            found,
            layers: exports
                .iter()
                .map(|e| (e.name.clone(), e.volume.clone()))
                .collect(),
            failed: AtomicBool::new(false),
            last_look: AtomicU64::new(0),
            start: Instant::now(),
            seen: Mutex::default(),
        }
    }

    fn check_bad_ranges(&self) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let sources = self.found.unread_so_far();
        let exports = self.layers.iter().map(|(n, v)| (n.clone(), v.bad_ranges()));
        for (i, (name, ranges)) in sources.into_iter().chain(exports).enumerate() {
            for r in ranges {
                if seen.bad.insert((i, r.start, r.end)) {
                    self.failed.store(true, Ordering::SeqCst);
                    eprintln!(
                        "recover: {name}: {} bytes at {:#x}..{:#x} could not be read and are served as zeros",
                        r.end - r.start,
                        r.start,
                        r.end
                    );
                }
            }
        }
        if seen.more_errors > 0 {
            eprintln!(
                "recover: {} more read errors, not shown",
                std::mem::take(&mut seen.more_errors)
            );
        }
    }
}

impl Observer for Reporter {
    fn read_failed(&self, export: &Export, offset: u64, len: u64, error: &recover_core::Error) {
        self.failed.store(true, Ordering::SeqCst);
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let msg = error.to_string();
        if seen.errors.contains(&msg) {
            return;
        }
        if seen.errors.len() >= MAX_ERRORS_SHOWN {
            seen.more_errors += 1;
            return;
        }
        eprintln!(
            "recover: {}: {len} bytes at {offset:#x} could not be read (the client was told EIO): {msg}",
            export.name
        );
        seen.errors.insert(msg);
    }

    fn read_done(&self, _export: &Export) {
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.last_look.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000 {
            return;
        }
        if self
            .last_look
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.check_bad_ranges();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_escape_what_they_cannot_hold() {
        assert_eq!(
            super::escape("d0/gpt/p1/ext4:/a b?c"),
            "d0/gpt/p1/ext4:/a%20b%3Fc"
        );
        assert_eq!(super::escape("md0"), "md0");
    }
}
