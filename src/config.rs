//! Server settings, with the defaults the command line starts from.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The address mio's `examples/tcp_server.rs` listens on.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);

/// The greeting every client receives before its first echoed byte.
pub const DEFAULT_GREETING: &[u8] = b"Hello world!\n";

/// Everything [`crate::Server`] needs to know before it binds.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks an ephemeral port.
    pub addr: SocketAddr,
    /// Bytes written to every connection before any echoed byte.
    pub greeting: Vec<u8>,
    /// Most bytes a connection may owe its peer. When a peer sends faster than
    /// it reads, the server stops reading from it at this point (backpressure).
    pub max_pending: usize,
    /// Most connections served at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Close a connection after this long without reading or writing a byte.
    /// `None` keeps idle connections forever.
    pub idle_timeout: Option<Duration>,
    /// How long a stop waits for owed bytes to be written before closing everything.
    pub shutdown_grace: Duration,
    /// How long accepting pauses after the process ran out of descriptors or buffers.
    pub accept_pause: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR,
            greeting: DEFAULT_GREETING.to_vec(),
            max_pending: 64 * 1024,
            max_connections: 10_000,
            idle_timeout: Some(Duration::from_secs(300)),
            shutdown_grace: Duration::from_secs(5),
            accept_pause: Duration::from_millis(100),
        }
    }
}
