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
//! let server = Server::bind(Config { addr: "127.0.0.1:0".parse().unwrap(), ..Config::default() })?;
//! println!("listening on {}", server.local_addr());
//! let stop = server.stop_handle();
//! let serving = std::thread::spawn(move || server.run());
//! stop.stop();
//! let stats = serving.join().unwrap()?;
//! println!("echoed {} bytes", stats.bytes.bytes_echoed);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Platform differences live in [`sys`] and nowhere else; the per-connection
//! logic in [`connection`] holds no socket and is tested without a network.

pub mod config;
pub mod connection;
mod server;
pub mod sys;
pub mod testing;

pub use config::Config;
pub use server::{Server, Stats, StopHandle, describe};
