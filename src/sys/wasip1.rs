//! WASI preview 1: no socket can be bound (mio 1.2.5 compiles
//! `TcpListener::bind` out for `target_env = "p1"` and only wraps pre-opened
//! sockets), so the server fails the way mio's example does.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Registry, Token};

use super::OnStopRequest;

// As on WASI preview 2; accept and close serve no connection here, since
// nothing can be bound.
pub(crate) use super::shared::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, accept, close_would_wait, listen_backlog_cap,
    raise_descriptor_limit, reserve_descriptors,
};
pub(crate) use super::wasi::{Waker, watch_shutdown_signals};

pub(crate) const BACKEND: &str = "wasi";

/// The message mio's example panics with here, where no socket can be bound.
const BIND_UNSUPPORTED: &str = "can't bind to an address with wasi";

/// mio's wasip1 selector is built on poll_oneoff and re-arms on `WouldBlock`.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;

pub(crate) fn bind_listener(_addr: SocketAddr, _backlog: u32) -> io::Result<TcpListener> {
    Err(io::Error::new(io::ErrorKind::Unsupported, BIND_UNSUPPORTED))
}

/// Never called: no connection exists on WASI preview 1.
pub(crate) fn set_reset_on_close(_stream: &TcpStream) -> io::Result<()> {
    Ok(())
}

/// No server runs on WASI preview 1 (nothing can be bound), so nothing
/// watches its standard input.
#[derive(Debug)]
pub(crate) struct StdinEof(());

impl StdinEof {
    /// Never called: binding fails first.
    pub(crate) fn watch(_registry: &Registry, _token: Token, _on_eof: OnStopRequest) -> io::Result<StdinEof> {
        Err(io::Error::new(io::ErrorKind::Unsupported, BIND_UNSUPPORTED))
    }

    /// Never called: nothing is registered.
    pub(crate) fn readable(&mut self, _registry: &Registry, _token: Token) {}
}
