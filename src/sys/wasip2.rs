//! WASI preview 2 (and later): mio 1.2.5 runs its Unix code here with the
//! poll(2) selector, on wasi-libc's `poll` over `wasi:io/poll`, and
//! `TcpListener::bind` exists. Two upstream defects make mio's own accept
//! unusable, so this backend accepts by itself (see [`accept`]); each
//! workaround says what forces it, so it can go when upstream is fixed.
//!
//! What the platform cannot do: there are no signals and no threads, so a
//! running server stops cleanly only on `--stop-on-stdin-eof`'s request,
//! watched in the loop (see [`StdinEof`]); and the peer's address of an
//! accepted connection is never asked for (see [`accept`]).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd};

use mio::net::{TcpListener, TcpStream};
use log::{error, warn};
use mio::wasi::SourceFd;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Socket, Type};

use super::{Accepted, OnStopRequest};

pub(crate) use super::shared::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, listen_backlog_cap, raise_descriptor_limit,
    reserve_descriptors, set_reset_on_close,
};
pub(crate) use super::wasi::{Waker, watch_shutdown_signals};

/// mio's selector here is poll(2) (mio 1.2.5 `src/sys/unix/mod.rs` lists
/// `target_os = "wasi"` for `selector/poll.rs`).
pub(crate) const BACKEND: &str = "poll";

/// As with every poll(2) backend, mio re-arms readiness only after an
/// operation returns `WouldBlock`.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;

/// Non-blocking from the start (`SOCK_NONBLOCK`, which wasi-libc honours),
/// not through `fcntl(F_SETFL)`, which the wasi-libc Rust 1.95 ships rejects
/// for sockets (see [`accept`]). WASI has no exec, so no close-on-exec; the
/// runtime sets SO_REUSEADDR on the host socket itself (wasmtime 48.0.0
/// `crates/wasi/src/sockets/tcp.rs`). wasi-libc's `listen` passes the backlog
/// to `set-listen-backlog-size`, which wasmtime clamps to 1..=i32::MAX and
/// hands to the host's listen(2), so the host kernel's cap applies.
pub(crate) fn bind_listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), None)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Accepts without asking for the peer's address, non-blocking from the
/// start, and re-arms the listener on `WouldBlock`. Why not mio's
/// `TcpListener::accept`:
///
/// * mio 1.2.5 (`src/sys/unix/tcp.rs`, `accept`) calls `accept` and then
///   `fcntl(F_SETFL, O_NONBLOCK)` on WASI. The wasi-libc in Rust 1.95's
///   wasm32-wasip2 sysroot (its `wasip2_tcp.c` layout, wasi-sdk-29/30) has
///   no `fcntl_setfl` for sockets, so `fcntl` fails with EINVAL and every
///   accept fails. Fixed in wasi-libc d974bce0 ("implement
///   `F_{GET,SET}FL` for `fcntl` for sockets", first in wasi-sdk-31). Here
///   `accept4(SOCK_NONBLOCK)` sets it in the one call instead.
/// * mio asks for the peer's address. wasi-libc's `tcp_accept4`
///   (`wasip2_tcp.c` at wasi-sdk-30, still in `tcp.c` at 476bd3c)
///   calls `abort()` when `remote-address` fails, and wasmtime
///   48.0.0 fails it with `invalid-state` for a client that reset before it
///   was accepted (`crates/wasi/src/sockets/tcp.rs` `remote_address`: the
///   host's ENOTCONN maps to `InvalidState`). One such client would trap
///   the whole server. Passing no address buffer skips that lookup; the
///   address is never asked for later either (`getpeername` aborts alike).
/// * mio re-arms a poll(2) registration when one of its own operations
///   returns `WouldBlock` (`IoSourceState::do_io`); this accept bypasses
///   mio, so it re-registers the listener itself.
pub(crate) fn accept(
    listener: &mut TcpListener,
    registry: &Registry,
    token: Token,
) -> io::Result<Accepted> {
    // SAFETY: the listener's descriptor is open for the whole call; null
    // address and length pointers are allowed and ask for no address.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock {
            registry.reregister(listener, token, Interest::READABLE)?;
        }
        return Err(err);
    }
    // SAFETY: `fd` is a freshly accepted descriptor that nothing else owns.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    Ok((TcpStream::from_std(stream), None))
}

/// Whether closing `stream` now would block the whole server. wasmtime 48
/// completes a pending write before it closes an output stream, and waits
/// for the socket to be writable even without one (crates/wasi/src/p2/
/// tcp.rs at v48.0.0: `TcpWriter::cancel` awaits `ready`), so closing a
/// stream whose peer reads nothing hangs the loop (the idle reset and the
/// end of a stop's grace period close such streams). Not writable at once
/// (poll(2) with no timeout reports nothing) means the close would wait.
pub(crate) fn close_would_wait(stream: &TcpStream) -> bool {
    let mut pollfd = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd for an open descriptor; no timeout.
    // Writable, or an error the close will not wait for: close now.
    unsafe { libc::poll(&mut pollfd, 1, 0) == 0 }
}

/// Standard input registered in the loop's `Poll` (wasmtime 48: data and
/// its end both arrive as readable, never as read-closed). mio's poll(2)
/// selector drops the interest after each event, so every read that is not
/// the end re-registers.
pub(crate) struct StdinEof {
    on_eof: Option<OnStopRequest>,
}

/// Descriptor 0: wasi-libc's standard input.
const STDIN: i32 = 0;

impl StdinEof {
    pub(crate) fn watch(registry: &Registry, token: Token, on_eof: OnStopRequest) -> io::Result<StdinEof> {
        registry.register(&mut SourceFd(&STDIN), token, Interest::READABLE)?;
        Ok(StdinEof { on_eof: Some(on_eof) })
    }

    /// Reads once, unbuffered (std's buffered `Stdin` would hide the end
    /// behind data it holds): 0 bytes is the end; anything else is
    /// discarded. A read error counts as the end, as on the other platforms.
    pub(crate) fn readable(&mut self, registry: &Registry, token: Token) {
        // SAFETY: descriptor 0 stays open for the whole program;
        // ManuallyDrop keeps this `File` from closing it.
        let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(STDIN) });
        let mut discarded = [0; 4096];
        match stdin.read(&mut discarded) {
            Ok(0) => {}
            Ok(_) => return self.rearm(registry, token),
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                return self.rearm(registry, token);
            }
            Err(err) => warn!("reading standard input: {err}; taking it as its end"),
        }
        if let Some(on_eof) = self.on_eof.take() {
            on_eof("end of standard input");
        }
    }

    fn rearm(&self, registry: &Registry, token: Token) {
        if let Err(err) = registry.reregister(&mut SourceFd(&STDIN), token, Interest::READABLE) {
            error!("watching standard input again: {err}; its end will not stop the server");
        }
    }
}

impl fmt::Debug for StdinEof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinEof").field("ended", &self.on_eof.is_none()).finish()
    }
}
