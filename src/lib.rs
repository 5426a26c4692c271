//! portable-echo: a single-threaded mio TCP echo server that behaves the same
//! on every platform mio supports.
//!
//! Each client first receives a greeting (`Hello world!\n` by default), then
//! every byte it sends comes back in order. One misbehaving client never ends
//! the server, memory per connection is bounded, and a [`StopHandle`] stops it
//! cleanly from another thread.
//!
//! ```no_run
//! use portable_echo::{Config, Server};
//!
//! let server = Server::bind(Config { addrs: vec!["127.0.0.1:0".parse().unwrap()], ..Config::default() })?;
//! println!("listening on {} ({})", server.local_addr(), server.backend());
//! let stop = server.stop_handle();
//! let serving = std::thread::spawn(move || server.run());
//! stop.stop();
//! let stats = serving.join().unwrap()?;
//! println!("echoed {} bytes", stats.bytes.echoed);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The public API is the same on every target. Platform differences live in
//! a private `sys` module and nowhere else; the per-connection logic in
//! `connection` holds no socket and is tested without a network. Both it and
//! the test doubles of `testing` are public only with the `test-util`
//! feature, for this crate's tests, fuzz target and benchmark.

mod config;
#[cfg(feature = "test-util")]
pub mod connection;
// Without test-util the state machine is the server's alone; its items are
// `pub` for the test-util build.
#[cfg(not(feature = "test-util"))]
#[allow(unreachable_pub)]
mod connection;
mod error;
mod server;
mod stats;
mod sys;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod timers;

pub use config::Config;
pub use server::{Server, StopHandle};
pub use stats::{ByteStats, Stats};

/// The readiness backend this build uses: `epoll`, `kqueue`, `event ports`,
/// `poll`, `iocp` or `wasi` (the same as [`Server::backend`]).
pub const BACKEND: &str = sys::BACKEND;

/// Calls `on_signal` with the signal's name, from a background thread, each
/// time the process is asked to shut down: SIGINT or SIGTERM on Unix, Ctrl-C
/// or Ctrl-Break on Windows. On WASI, which has no signals, it never calls.
pub fn watch_shutdown_signals(
    on_signal: impl Fn(&'static str) + Send + 'static,
) -> std::io::Result<()> {
    sys::watch_shutdown_signals(Box::new(on_signal))
        .map_err(|err| error::with_context("watching for shutdown signals", err))
}
