//! Linux, Android, illumos (and Redox, Emscripten): mio uses epoll, edge-triggered.

pub use super::unix::{Waker, bind_listener, is_resource_exhaustion, watch_shutdown_signals};

pub const BACKEND: &str = "epoll";

/// Edge-triggered epoll raises a new event whenever new data or buffer space
/// arrives, so a short read or write proves the socket would block.
pub const SHORT_IO_PROVES_WOULD_BLOCK: bool = true;
