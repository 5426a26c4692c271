//! Solaris: mio uses event ports, which are one-shot.

pub(crate) use super::unix::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, StdinEof, Waker, accept, bind_listener, close_would_wait, listen_backlog_cap, raise_descriptor_limit, reserve_descriptors, set_reset_on_close, watch_shutdown_signals,
};

pub(crate) const BACKEND: &str = "event ports";

/// Event ports are one-shot and mio re-associates the fd when an operation
/// returns `WouldBlock`; a short read proves nothing.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;
