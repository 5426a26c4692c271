//! WASI preview 1: no socket can be bound (mio only wraps pre-opened ones),
//! so the server fails the way mio's example does.

use std::io;
use std::net::SocketAddr;

use mio::{Registry, Token};

use super::BIND_UNSUPPORTED;

pub const BACKEND: &str = "wasi";

/// mio's wasip1 selector is built on poll_oneoff and re-arms on `WouldBlock`.
pub const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;

pub fn bind_listener(_addr: SocketAddr) -> io::Result<mio::net::TcpListener> {
    Err(io::Error::new(io::ErrorKind::Unsupported, BIND_UNSUPPORTED))
}

pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::OutOfMemory
}

/// WASI preview 1 has no signals.
pub fn watch_shutdown_signals(
    _on_signal: impl Fn(&'static str) + Send + 'static,
) -> io::Result<()> {
    Ok(())
}

/// mio has no `Waker` on WASI preview 1; nothing can reach the loop from
/// another thread there (and no listener can be bound to serve anyway).
#[derive(Debug)]
pub struct Waker(());

impl Waker {
    pub fn new(_registry: &Registry, _token: Token) -> io::Result<Waker> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "mio has no waker on WASI preview 1",
        ))
    }

    pub fn wake(&self) -> io::Result<()> {
        Ok(())
    }
}
