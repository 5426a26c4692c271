//! Everything that differs between platforms, and nothing else.
//!
//! Exactly one backend module is compiled, chosen the way mio chooses its
//! readiness selector (mio's `src/sys/unix/mod.rs`), so the name we report is
//! the mechanism that really runs. Every backend provides these items, with
//! the same names and signatures; the server uses only these:
//!
//! * `BACKEND: &str`: the readiness mechanism's name (`epoll`, `kqueue`,
//!   `event ports`, `poll`, `iocp`, `wasi`), printed on the `listening on` line.
//! * `SHORT_IO_PROVES_WOULD_BLOCK: bool`: whether a read or write that moved
//!   fewer bytes than asked proves the next call would return `WouldBlock`.
//!   True for edge-triggered epoll and kqueue, where the kernel raises a new
//!   event for new data (tokio relies on the same rule). False where mio
//!   re-arms readiness only when an operation returns `WouldBlock` (Windows
//!   AFD/IOCP, poll(2), event ports): there the loop must go on until it does.
//! * `bind_listener(addr) -> io::Result<mio::net::TcpListener>`: a
//!   non-blocking listener with this platform's socket options: SO_REUSEADDR
//!   on Unix (restart while old connections sit in TIME_WAIT), SO_EXCLUSIVEADDRUSE
//!   on Windows (no other socket may bind the same port: Windows' SO_REUSEADDR
//!   would allow port hijacking). On WASI preview 1 it fails with
//!   `ErrorKind::Unsupported` and [`BIND_UNSUPPORTED`].
//! * `is_resource_exhaustion(&io::Error) -> bool`: whether an accept error
//!   means the process or system ran out of descriptors or buffers (EMFILE,
//!   ENFILE, ENOBUFS, ENOMEM; WSAEMFILE, WSAENOBUFS, WSA_NOT_ENOUGH_MEMORY), so
//!   accepting should pause instead of spinning.
//! * `watch_shutdown_signals(on_signal)`: calls `on_signal(name)` from a
//!   background thread on each shutdown request: SIGINT or SIGTERM on Unix,
//!   Ctrl-C or Ctrl-Break on Windows; nothing on WASI.
//! * `Waker`: wakes the event loop from another thread (`mio::Waker`; a stub on
//!   WASI preview 1, where mio has none).

/// The message mio's example panics with on WASI, where no socket can be bound.
pub const BIND_UNSUPPORTED: &str = "can't bind to an address with wasi";

#[cfg(unix)]
mod unix;

cfg_if::cfg_if! {
    if #[cfg(windows)] {
        mod iocp;
        pub use self::iocp::*;
    } else if #[cfg(target_os = "wasi")] {
        mod wasi;
        pub use self::wasi::*;
    } else if #[cfg(all(unix, mio_unsupported_force_poll_poll))] {
        mod poll;
        pub use self::poll::*;
    } else if #[cfg(any(
        target_os = "android",
        target_os = "emscripten",
        target_os = "illumos",
        target_os = "linux",
        target_os = "redox",
    ))] {
        mod epoll;
        pub use self::epoll::*;
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
        mod kqueue;
        pub use self::kqueue::*;
    } else if #[cfg(target_os = "solaris")] {
        mod event_ports;
        pub use self::event_ports::*;
    } else if #[cfg(unix)] {
        mod poll;
        pub use self::poll::*;
    } else {
        compile_error!("portable-echo has no backend for this target; mio support is needed first");
    }
}
