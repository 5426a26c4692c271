//! Linux, Android, illumos (and Redox, Emscripten): mio uses epoll, edge-triggered.

pub(crate) use super::unix::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, StdinEof, Waker, accept, bind_listener, close_would_wait, listen_backlog_cap, raise_descriptor_limit, reserve_descriptors, set_reset_on_close, watch_shutdown_signals,
};

pub(crate) const BACKEND: &str = "epoll";

/// Edge-triggered epoll raises a new event whenever new data or buffer space
/// arrives, so a short read or write proves the socket would block.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = true;
