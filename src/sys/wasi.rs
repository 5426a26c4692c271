//! Pieces shared by both WASI backends: no signals, no other thread to wake
//! the loop from, and WASI's errno values.

use std::io;

use mio::net::TcpListener;
use mio::{Registry, Token};

use super::{DescriptorLimit, OnStopRequest};

/// wasi-libc's errno values for a connection lost before it was accepted:
/// those of Linux's accept(2) list that WASI has (it has no EHOSTDOWN or
/// ENONET), as the runtime passes on the host's, and the BSDs' abort.
pub(crate) const LOST_BEFORE_ACCEPT: &[i32] = &[
    libc::ECONNABORTED,
    libc::ECONNRESET,
    libc::ETIMEDOUT,
    libc::ENETDOWN,
    libc::ENETUNREACH,
    libc::EHOSTUNREACH,
    libc::EPROTO,
    libc::ENOPROTOOPT,
    libc::EOPNOTSUPP,
    libc::EPERM,
];

/// The errno values of wasi-libc that mean descriptors or memory ran out.
pub(crate) const RESOURCE_EXHAUSTION: &[i32] =
    &[libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];

/// WASI has no RLIMIT_NOFILE: descriptors are the runtime's (which has the
/// host's limit, raised or not by the runtime itself).
pub(crate) fn raise_descriptor_limit(_needed: usize) -> io::Result<Option<DescriptorLimit>> {
    Ok(None)
}

/// wasi-libc's `fcntl` has no F_DUPFD, and its descriptor table is not the
/// kernel's: nothing to grow ahead of time.
pub(crate) fn reserve_descriptors(_listener: &TcpListener, _count: usize) -> io::Result<()> {
    Ok(())
}

/// WASI has no signals: a WASI server stops cleanly on the end of its
/// standard input (`--stop-on-stdin-eof`), or ends with its runtime.
pub(crate) fn watch_shutdown_signals(_on_signal: OnStopRequest) -> io::Result<()> {
    Ok(())
}

/// mio exports no `Waker` on WASI (mio 1.2.5 `src/lib.rs`: not on
/// `target_os = "wasi"`), and WASI programs have a single thread, so nothing
/// outside the loop could ask it to stop: waking is a no-op.
#[derive(Debug)]
pub(crate) struct Waker(());

impl Waker {
    pub(crate) fn new(_registry: &Registry, _token: Token) -> io::Result<Waker> {
        Ok(Waker(()))
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        Ok(())
    }
}
