//! `recover serve`: nodes and files as read-only NBD exports, so qemu,
//! nbdcopy, nbdinfo, the kernel's nbd-client and whatever speaks NBD read
//! them through the same volume stack as every other command (a degraded
//! array rebuilt on the fly, a qcow2 found in a filesystem). The protocol
//! is the library's (`recover_core::nbd`); this command resolves the
//! exports, listens, and runs a session per client.

mod server;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use recover_core::discover::resolve::Target;
use recover_core::fs::FileKind;
use recover_core::nbd::Export;

use crate::output::Guard;

/// Where the Unix socket is made when neither --socket nor --listen is
/// given: in the current directory, where the user will look for it.
const DEFAULT_SOCKET: &str = "recover.sock";

/// `recover serve`'s command line.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The sources, as given to scan.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// What to serve (repeatable): any node, as printed by scan (d0/gpt/p2,
    /// md0, d0/qcow2, ...), or a file (FSNODE:/path/to/file). PATH is the
    /// export's name; the first is also the default export (the empty name).
    #[arg(long, value_name = "PATH", required = true)]
    at: Vec<String>,
    /// The Unix socket to listen on [default: recover.sock in the current
    /// directory]. Never made over a source or over a file that is not a
    /// socket; removed when the server stops.
    #[arg(long, value_name = "FILE", conflicts_with = "listen")]
    socket: Option<PathBuf>,
    /// Listen on TCP instead, on this address only (port 0: any free port).
    /// There is no TLS and no authentication: whoever reaches the port
    /// reads the exports.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    #[command(flatten)]
    search: crate::SearchOpts,
    #[command(flatten)]
    opts: crate::SourceOpts,
}

pub fn run(args: &ServeArgs) -> io::Result<ExitCode> {
    let guard = Guard::new(&args.sources, false)?;
    for (i, at) in args.at.iter().enumerate() {
        if args.at[..i].contains(at) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--at {at} is named twice; name each export once"),
            ));
        }
    }
    let socket = args.socket.clone().unwrap_or_else(|| DEFAULT_SOCKET.into());
    // Refused before the (possibly long) discovery; made after it.
    if args.listen.is_none() {
        guard.check_socket(&socket, "the NBD socket")?;
    }
    let mut found = super::discover_all(&args.sources, &args.opts)?;
    for (_, msg) in &found.failed {
        eprintln!("recover: {msg}");
    }
    let mut exports = Vec::new();
    for at in &args.at {
        super::prepare(&mut found, at, &args.search)?;
        exports.push(export(&found, at)?);
    }
    let failed_sources = !found.failed.is_empty();
    server::catch_stop_signals();
    let listener = match &args.listen {
        Some(addr) => server::Listener::tcp(addr)?,
        None => server::Listener::unix(&guard, &socket)?,
    };
    let clean = server::serve(listener, exports, found)?;
    Ok(if clean && !failed_sources {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The export `at` names: a node's bytes, or a regular file's.
fn export(found: &super::Discovered, at: &str) -> io::Result<Export> {
    match super::target(found, at)? {
        Target::Node(node) => {
            // Says why a node has no bytes (a volume group, a thin pool).
            crate::output::node_volume(&node)?;
            let volume = node
                .volume
                .clone()
                .ok_or_else(|| io::Error::other(format!("{}: nothing to read", node.path)))?;
            Ok(Export {
                name: at.to_string(),
                description: format!(
                    "{} ({}), served by recover",
                    node.kind.as_str(),
                    node.format
                ),
                volume,
            })
        }
        Target::File(t) => {
            let what = t.display();
            match t.stat.kind() {
                FileKind::File => {}
                FileKind::Dir => {
                    return Err(io::Error::other(format!(
                        "{what} is a directory; serve a file, or the filesystem's node"
                    )))
                }
                k => {
                    return Err(io::Error::other(format!(
                        "{what} is a {}, not a file",
                        k.as_str()
                    )))
                }
            }
            let volume =
                t.fs.open(t.id)
                    .map_err(|e| io::Error::other(format!("{what}: {e}")))?;
            Ok(Export {
                name: at.to_string(),
                description: format!("file {} in {}, served by recover", t.fs_path, t.fs_node),
                volume,
            })
        }
    }
}
