//! Test doubles for driving a [`Connection`](crate::connection::Connection)
//! without a network, and the invariant checks that the fuzz target and the
//! tests share ([`Checker`], [`Script`]); the payloads ([`payload`]) and the
//! burst client ([`burst`]) that the tests and the benchmark share. Public so
//! integration and property tests, the fuzz target and the benchmark can use
//! them.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};

use crate::connection::Stream;

#[cfg(not(target_os = "wasi"))]
pub mod burst;
pub mod payload;
pub use payload::pattern;

mod generate;
mod script;
pub use script::{Checker, Ending, EveryFlag, Op, Script, Selector, Setup};

/// An in-memory socket whose peer behaviour is scripted: how much it has sent,
/// how much each read returns, how much buffer space writes find, and how the
/// stream ends.
#[derive(Debug, Default)]
pub struct ScriptedStream {
    input: Vec<u8>,
    read_pos: usize,
    output: Vec<u8>,
    /// Most bytes one read returns (0 means no limit).
    pub read_limit: usize,
    /// Once the input is consumed, reads return end of stream instead of `WouldBlock`.
    pub eof_after_data: bool,
    /// Once the input is consumed, reads fail with this error.
    pub read_error: Option<ErrorKind>,
    /// Bytes the peer will still accept before writes return `WouldBlock`
    /// (`None`: unlimited). Each write takes from it.
    pub write_capacity: Option<usize>,
    /// Writes fail with this error.
    pub write_error: Option<ErrorKind>,
    /// Scripted outcomes of the next reads, one taken per call before
    /// anything else: `Some(kind)` fails that call with `kind` (a one-shot
    /// `Interrupted`, `WouldBlock` or reset), `None` lets it read as usual.
    pub read_faults: VecDeque<Option<ErrorKind>>,
    /// Scripted outcomes of the next writes, as `read_faults` for reads:
    /// `[None, Some(ConnectionReset)]` lets one write through and resets
    /// the next.
    pub write_faults: VecDeque<Option<ErrorKind>>,
    /// `shutdown_write` fails with this error (`NotConnected`: the peer has
    /// already closed completely).
    pub shutdown_error: Option<ErrorKind>,
    /// Whether `shutdown_write` was called and succeeded.
    pub write_shut: bool,
    /// Writes attempted after `shutdown_write` succeeded (a bug in the caller).
    pub writes_after_shutdown: usize,
    /// How many times `read` was called.
    pub reads: usize,
    /// How many times `write` was called.
    pub writes: usize,
    /// The kinds of error reads, writes and `shutdown_write` returned, each
    /// once: a connection may fail only with one of these.
    pub errors: Vec<ErrorKind>,
}

impl ScriptedStream {
    /// A stream whose peer has sent `input`.
    pub fn new(input: &[u8]) -> ScriptedStream {
        ScriptedStream {
            input: input.to_vec(),
            ..ScriptedStream::default()
        }
    }

    /// The peer sends more bytes.
    pub fn push_input(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// Everything written to the peer so far.
    pub fn written(&self) -> &[u8] {
        &self.output
    }

    /// Bytes the peer sent that have not been read yet.
    pub fn unread(&self) -> usize {
        self.input.len() - self.read_pos
    }

    /// Everything read from the stream so far, in order.
    pub fn consumed(&self) -> &[u8] {
        &self.input[..self.read_pos]
    }

    fn error(&mut self, kind: ErrorKind) -> io::Error {
        if !self.errors.contains(&kind) {
            self.errors.push(kind);
        }
        kind.into()
    }
}

impl Read for ScriptedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if let Some(Some(kind)) = self.read_faults.pop_front() {
            return Err(self.error(kind));
        }
        let available = self.unread();
        if available == 0 {
            if let Some(kind) = self.read_error {
                return Err(self.error(kind));
            }
            if self.eof_after_data {
                return Ok(0);
            }
            return Err(self.error(ErrorKind::WouldBlock));
        }
        let mut n = available.min(buf.len());
        if self.read_limit > 0 {
            n = n.min(self.read_limit);
        }
        buf[..n].copy_from_slice(&self.input[self.read_pos..self.read_pos + n]);
        self.read_pos += n;
        Ok(n)
    }
}

impl Write for ScriptedStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        if self.write_shut {
            self.writes_after_shutdown += 1;
        }
        if let Some(Some(kind)) = self.write_faults.pop_front() {
            return Err(self.error(kind));
        }
        if let Some(kind) = self.write_error {
            return Err(self.error(kind));
        }
        if self.write_shut {
            return Err(self.error(ErrorKind::BrokenPipe));
        }
        let n = match &mut self.write_capacity {
            None => data.len(),
            Some(0) => return Err(self.error(ErrorKind::WouldBlock)),
            Some(capacity) => {
                let n = data.len().min(*capacity);
                *capacity -= n;
                n
            }
        };
        self.output.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for ScriptedStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        if let Some(kind) = self.shutdown_error {
            return Err(self.error(kind));
        }
        self.write_shut = true;
        Ok(())
    }
}

/// Raises this process's soft descriptor limit (RLIMIT_NOFILE) toward
/// `needed`, as far as the hard limit allows, as [`Server::bind`] does for
/// the server, and returns the soft limit now in force; `None` where a
/// process has no such limit (Windows, WASI). Processes started afterwards
/// inherit it.
///
/// [`Server::bind`]: crate::Server::bind
pub fn raise_descriptor_limit(needed: usize) -> io::Result<Option<usize>> {
    Ok(crate::sys::raise_descriptor_limit(needed)?.map(|limit| limit.now))
}

/// The server's own listening socket ([`Server::bind`]'s, with the default
/// backlog), for the fidelity probes (tests/fidelity.rs), which measure
/// what the runtime does to the sockets the server really uses.
///
/// [`Server::bind`]: crate::Server::bind
pub fn listen(addr: std::net::SocketAddr) -> io::Result<mio::net::TcpListener> {
    crate::sys::bind_listener(addr, crate::Config::default().backlog)
}

/// The server's own accept (on WASI preview 2 not mio's, see
/// src/sys/wasip2.rs); `registry` and `token` are the listener's.
pub fn accept(
    listener: &mut mio::net::TcpListener,
    registry: &mio::Registry,
    token: mio::Token,
) -> io::Result<mio::net::TcpStream> {
    crate::sys::accept(listener, registry, token).map(|(stream, _)| stream)
}

/// What the event loop does on this accept error, in words.
pub fn accept_error_meaning(err: &io::Error) -> &'static str {
    match crate::sys::accept_error(err) {
        crate::sys::AcceptError::LostConnection => "a connection lost before accept: skipped",
        crate::sys::AcceptError::Exhausted => "out of descriptors or buffers: accepting pauses",
        crate::sys::AcceptError::Unexpected => "unexpected: accepting pauses",
    }
}

/// The server's reset on close (SO_LINGER 0), for a test's peer that
/// resets (it fails where the platform has no SO_LINGER: WASI).
pub fn set_reset_on_close(stream: &mio::net::TcpStream) -> io::Result<()> {
    crate::sys::set_reset_on_close(stream)
}
