//! Server settings. [`Config::default`] is the one source of the defaults:
//! the command line's flags take theirs from it.

use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Default of [`Config::backlog`]. A burst of 2,000 clients connecting at
/// once must find room in the accept queue: with std's and mio's 128, a
/// quarter of a 500-client burst waited for a one-second SYN retransmit.
/// 4096 is Linux's `net.core.somaxconn` default since 5.4 (the kernel
/// silently caps the backlog at it) and what Go asks for there.
const DEFAULT_BACKLOG: u32 = 4096;

/// Everything [`crate::Server`] needs to know before it binds.
#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses to listen on, all served by the one event loop (at least
    /// one, each once). Port 0 picks a free port: the first address with
    /// port 0 picks it, and every other one with port 0 takes the same
    /// (so `127.0.0.1:0` and `[::1]:0` listen on one port, as a host name
    /// would). An IPv6 address takes IPv6 clients only (IPV6_V6ONLY, set on
    /// every platform): `[::]` takes no IPv4 client; add `0.0.0.0` for both.
    pub addrs: Vec<SocketAddr>,
    /// Bytes written to every connection before any echoed byte.
    pub greeting: Vec<u8>,
    /// Most bytes a connection may owe its peer (at least 1). When a peer
    /// sends faster than it reads, the server stops reading from it at this
    /// point (backpressure).
    pub max_pending: usize,
    /// Most connections served at once (at least 1); one more is accepted
    /// and closed at once.
    pub max_connections: usize,
    /// Close a connection after this long without reading or writing a byte.
    /// `None` keeps idle connections forever.
    pub idle_timeout: Option<Duration>,
    /// How long a stop waits for owed bytes to be written, and for peers to
    /// close after our end of stream, before closing everything.
    pub shutdown_grace: Duration,
    /// How long accepting pauses after the process ran out of descriptors or buffers.
    pub accept_pause: Duration,
    /// Length of the listen queue (at least 1): connections the kernel
    /// completes and holds until the server accepts them. The kernel may cap
    /// it (Linux at `net.core.somaxconn`, logged at startup when lower).
    pub backlog: u32,
    /// Stop as on SIGTERM when standard input ends: a stop request every
    /// runtime can deliver (WASI has no signals, and a launched Windows
    /// program often has no console to receive Ctrl-C). Off by default,
    /// because supervisors often give stdin `/dev/null`, which ends at once.
    pub stop_on_stdin_eof: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // mio's `examples/tcp_server.rs` listens and greets so.
            addrs: vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000)],
            greeting: b"Hello world!\n".to_vec(),
            // One read buffer's worth.
            max_pending: 64 * 1024,
            max_connections: 10_000,
            idle_timeout: Some(Duration::from_secs(300)),
            shutdown_grace: Duration::from_secs(5),
            accept_pause: Duration::from_millis(100),
            backlog: DEFAULT_BACKLOG,
            stop_on_stdin_eof: false,
        }
    }
}

impl Config {
    /// Checks what [`crate::Server::bind`] cannot serve with: no address or
    /// one address twice, and a zero `max_pending`, `max_connections` or
    /// `backlog` (a server that never reads, refuses every client, or has no
    /// listen queue). The command line's flags refuse the same values. The
    /// error is `ErrorKind::InvalidInput` and names the field and its value.
    pub fn validate(&self) -> io::Result<()> {
        if self.addrs.is_empty() {
            return Err(invalid("no address to listen on".into()));
        }
        for (i, addr) in self.addrs.iter().enumerate() {
            if self.addrs[..i].contains(addr) {
                return Err(invalid(format!("{addr} is given twice")));
            }
        }
        at_least_one("max_pending", self.max_pending)?;
        at_least_one("max_connections", self.max_connections)?;
        at_least_one("backlog", self.backlog)
    }
}

/// Refuses a zero count, naming its field.
fn at_least_one<T: Default + PartialEq + fmt::Display>(field: &str, value: T) -> io::Result<()> {
    if value == T::default() {
        return Err(invalid(format!("{field} must be at least 1, got {value}")));
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_refuses_what_the_server_cannot_serve_with_and_names_it() {
        let refused = |config: Config| {
            let err = config.validate().expect_err("refused");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            err.to_string()
        };
        assert!(Config::default().validate().is_ok());
        let addr = Config::default().addrs[0];
        let no_addr = Config {
            addrs: vec![],
            ..Config::default()
        };
        assert_eq!(refused(no_addr), "no address to listen on");
        let twice = Config {
            addrs: vec![addr, addr],
            ..Config::default()
        };
        assert_eq!(refused(twice), format!("{addr} is given twice"));
        let max_pending = Config {
            max_pending: 0,
            ..Config::default()
        };
        assert_eq!(
            refused(max_pending),
            "max_pending must be at least 1, got 0"
        );
        let backlog = Config {
            backlog: 0,
            ..Config::default()
        };
        assert_eq!(refused(backlog), "backlog must be at least 1, got 0");
    }
}
