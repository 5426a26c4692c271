//! Everything that differs between platforms, and nothing else.
//!
//! Exactly one backend module is compiled, chosen the way mio chooses its
//! readiness selector, so the name we report is the mechanism that really
//! runs. The mapping below was taken from mio 1.2.5 (the version in
//! Cargo.lock): `src/sys/mod.rs` and the `cfg_attr(..., path = ...)` lists of
//! `src/sys/unix/mod.rs` for the selector and the waker.
//!
//! Every backend provides these items, with the same names and signatures
//! (the `const _` lines at the bottom make the compiler check them on every
//! target); the server uses only these:
//!
//! * `BACKEND: &str`: the readiness mechanism's name (`epoll`, `kqueue`,
//!   `event ports`, `poll`, `iocp`, `wasi`), printed on the `listening on` line.
//! * `SHORT_IO_PROVES_WOULD_BLOCK: bool`: whether a read or write that moved
//!   fewer bytes than asked proves the next call would return `WouldBlock`.
//!   True for edge-triggered epoll and kqueue, where the kernel raises a new
//!   event for new data (tokio relies on the same rule). False where mio
//!   re-arms readiness only when an operation returns `WouldBlock` (Windows
//!   AFD/IOCP, poll(2), event ports): there the loop must go on until it does.
//! * `bind_listener(addr, backlog) -> io::Result<TcpListener>`: a non-blocking,
//!   close-on-exec listener with a listen queue of `backlog`, bound through
//!   socket2 so that no platform inherits a hidden default (mio's own `bind`
//!   listens with std's 128). SO_REUSEADDR on Unix (restart while old
//!   connections sit in TIME_WAIT); SO_EXCLUSIVEADDRUSE on Windows (no other
//!   socket may bind the same port: Windows' SO_REUSEADDR would allow port
//!   hijacking). An IPv6 address listens for IPv6 only (IPV6_V6ONLY set
//!   explicitly: Linux defaults it off, Windows and the BSDs on, OpenBSD
//!   has no dual stack at all), so `[::]` means the same everywhere.
//!   On WASI preview 1 it fails with `ErrorKind::Unsupported` and the
//!   message mio's example panics with there (wasip1.rs).
//! * `listen_backlog_cap() -> Option<u32>`: the kernel's silent cap on the
//!   listen queue where it can be read (Linux `net.core.somaxconn`, the BSDs'
//!   and macOS' `kern.ipc.somaxconn`), so a lower cap can be logged.
//! * `raise_descriptor_limit(needed) -> io::Result<Option<DescriptorLimit>>`:
//!   raises the soft RLIMIT_NOFILE to `needed`, or as far as the hard limit
//!   (and on Apple systems `kern.maxfilesperproc`) allows, and says what it
//!   was and is; `None` where a process has no such limit (Windows, WASI).
//! * `reserve_descriptors(listener, count) -> io::Result<()>`: grows the
//!   process's descriptor table now to hold `count` (capped at the soft
//!   RLIMIT_NOFILE), where growing it later, during a burst of connections,
//!   would stall the loop (Linux, with more than one thread); a no-op where
//!   descriptors are not a table the process grows (Windows, WASI).
//! * `accept(listener, registry, token) -> io::Result<Accepted>`:
//!   one accepted, non-blocking connection and its peer's address where the
//!   platform can tell it safely (not on WASI preview 2). `registry` and
//!   `token` are the listener's, for platforms whose accept must re-arm it.
//! * `close_would_wait(&TcpStream) -> bool`: whether dropping the stream
//!   now would block until its peer reads (only on WASI preview 2, see
//!   wasip2.rs); the loop then keeps it and tries again later.
//! * `set_reset_on_close(&TcpStream) -> io::Result<()>`: makes the close of
//!   that connection a reset (SO_LINGER 0), for the connections the server
//!   sheds on purpose (over the limit, or idle while owing bytes).
//! * `LOST_BEFORE_ACCEPT: &[i32]` and `RESOURCE_EXHAUSTION: &[i32]`: the
//!   raw OS error codes by which accept says, respectively, that the one
//!   pending connection it took failed before it was accepted (a reset, an
//!   abort, a network error pending on that connection: skip it and accept
//!   the next), and that the process or system ran out of descriptors or
//!   buffers (EMFILE, ENFILE, ENOBUFS, ENOMEM; WSAEMFILE, WSAENOBUFS,
//!   WSA_NOT_ENOUGH_MEMORY: pause accepting instead of spinning).
//!   [`accept_error`] reads an error with them.
//! * `watch_shutdown_signals(on_signal)`: calls `on_signal(name)` from a
//!   background thread on each shutdown request: SIGINT or SIGTERM on Unix,
//!   Ctrl-C or Ctrl-Break on Windows; nothing on WASI.
//! * `StdinEof`: the watch of standard input that `--stop-on-stdin-eof`
//!   asks for. `StdinEof::watch(registry, token, on_eof)` starts it and
//!   `on_eof` runs once stdin ends; the loop calls `readable(registry,
//!   token)` on each event for `token`. Where threads exist a thread reads
//!   stdin (stdin_thread.rs); WASI preview 2 has none, so stdin is
//!   registered in the loop's `Poll` instead.
//! * `Waker`: wakes the event loop from another thread (`mio::Waker`; a stub
//!   on WASI, where mio has no public waker and there is no other thread).
//!
//! Where platforms agree, their backends share one definition instead of
//! each writing it out: shared.rs holds those (mio's accept, a close that
//! never waits, SO_LINGER 0, accept's errno lists, and outside Unix no
//! descriptor limit, descriptor table or readable backlog cap), unix.rs
//! what every Unix backend shares, wasi.rs what both WASI backends share;
//! a backend `pub(crate) use`s them and defines only what is its own.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Registry, Token};

/// An accepted connection and its peer's address, where the platform can
/// tell it safely.
pub(crate) type Accepted = (TcpStream, Option<SocketAddr>);

/// The soft descriptor limit before and after `raise_descriptor_limit`,
/// and the hard limit it may not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DescriptorLimit {
    pub(crate) was: usize,
    pub(crate) now: usize,
    pub(crate) hard: usize,
}

/// What an accept error means for the listener, by the platform's lists
/// (see [`accept_error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptError {
    /// The pending connection failed before it was accepted: skip it and
    /// accept the next. The listener is fine, and nothing needs a pause.
    LostConnection,
    /// Out of descriptors or buffers: pause accepting, serve what is open.
    Exhausted,
    /// Anything else: unexpected, so accepting pauses too, because an error
    /// that repeats on every call would otherwise spin the loop.
    Unexpected,
}

/// Classifies an accept error (not `WouldBlock` or `Interrupted`, which the
/// loop handles the same everywhere) by this platform's lists of codes. An
/// error without a code keeps its kind's meaning: a reset or an abort is
/// the pending connection's.
pub(crate) fn accept_error(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(code) if LOST_BEFORE_ACCEPT.contains(&code) => AcceptError::LostConnection,
        Some(code) if RESOURCE_EXHAUSTION.contains(&code) => AcceptError::Exhausted,
        None if matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
        ) =>
        {
            AcceptError::LostConnection
        }
        _ => AcceptError::Unexpected,
    }
}

/// What `watch_shutdown_signals` and `StdinEof::watch` call with the
/// request's name (`SIGTERM`, `end of standard input`).
pub(crate) type OnStopRequest = Box<dyn Fn(&'static str) + Send + 'static>;

mod shared;

#[cfg(unix)]
mod unix;

#[cfg(not(target_os = "wasi"))]
mod stdin_thread;

/// Compiles the backend module `$module` and names it for the check below.
macro_rules! backend {
    ($module:ident) => {
        mod $module;
        pub(crate) use self::$module::*;
        const MODULE: &str = stringify!($module);
    };
}

#[cfg(target_os = "wasi")]
mod wasi;

cfg_if::cfg_if! {
    if #[cfg(windows)] {
        backend!(iocp);
    } else if #[cfg(all(target_os = "wasi", target_env = "p1"))] {
        backend!(wasip1);
    } else if #[cfg(target_os = "wasi")] {
        backend!(wasip2);
    } else if #[cfg(all(unix, mio_unsupported_force_poll_poll))] {
        backend!(poll);
    } else if #[cfg(any(
        target_os = "android",
        target_os = "emscripten",
        target_os = "illumos",
        target_os = "linux",
        target_os = "redox",
    ))] {
        backend!(epoll);
    } else if #[cfg(any(
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "tvos",
        target_os = "visionos",
        target_os = "watchos",
    ))] {
        backend!(kqueue);
    } else if #[cfg(target_os = "solaris")] {
        backend!(event_ports);
    } else if #[cfg(unix)] {
        backend!(poll);
    } else {
        compile_error!("portable-echo has no backend for this target; mio support is needed first");
    }
}

// The contract above, checked by the compiler for whichever backend this
// target selected: a backend missing an item, or giving it another
// signature, fails to build here rather than somewhere in server.rs.
const _: &str = BACKEND;
const _: bool = SHORT_IO_PROVES_WOULD_BLOCK;
const _: fn(SocketAddr, u32) -> io::Result<TcpListener> = bind_listener;
const _: fn() -> Option<u32> = listen_backlog_cap;
const _: fn(usize) -> io::Result<Option<DescriptorLimit>> = raise_descriptor_limit;
const _: fn(&TcpListener, usize) -> io::Result<()> = reserve_descriptors;
const _: fn(&mut TcpListener, &Registry, Token) -> io::Result<Accepted> = accept;
const _: fn(&TcpStream) -> bool = close_would_wait;
const _: fn(&TcpStream) -> io::Result<()> = set_reset_on_close;
const _: &[i32] = LOST_BEFORE_ACCEPT;
const _: &[i32] = RESOURCE_EXHAUSTION;
const _: fn(OnStopRequest) -> io::Result<()> = watch_shutdown_signals;
const _: fn(&Registry, Token, OnStopRequest) -> io::Result<StdinEof> = StdinEof::watch;
const _: fn(&mut StdinEof, &Registry, Token) = StdinEof::readable;
const _: fn(&Registry, Token) -> io::Result<Waker> = Waker::new;
const _: fn(&Waker) -> io::Result<()> = Waker::wake;
const _: () = {
    const fn shared_across_threads<T: Send + Sync + std::fmt::Debug>() {}
    shared_across_threads::<Waker>();
    const fn debug<T: std::fmt::Debug>() {}
    debug::<StdinEof>()
};

// A matrix cell names the backend its target must select, as
// `PORTABLE_ECHO_EXPECT_BACKEND=module:BACKEND` (`cargo xtask` sets it): a
// build that selected another fails here, so even a cell that only
// type-checks proves which backend its target compiles.
const _: () = if let Some(expected) = option_env!("PORTABLE_ECHO_EXPECT_BACKEND") {
    assert!(
        is_pair(expected.as_bytes(), MODULE.as_bytes(), BACKEND.as_bytes()),
        "this target selects another src/sys backend than PORTABLE_ECHO_EXPECT_BACKEND names"
    );
};

/// Whether `expected` is `module:backend` (a `const fn`: no `==` on `str`).
const fn is_pair(expected: &[u8], module: &[u8], backend: &[u8]) -> bool {
    if expected.len() != module.len() + 1 + backend.len() {
        return false;
    }
    let mut i = 0;
    while i < expected.len() {
        let want = if i < module.len() {
            module[i]
        } else if i == module.len() {
            b':'
        } else {
            backend[i - module.len() - 1]
        };
        if expected[i] != want {
            return false;
        }
        i += 1;
    }
    true
}
