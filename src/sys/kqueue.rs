//! macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly: mio uses kqueue with EV_CLEAR.

pub(crate) use super::unix::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, StdinEof, Waker, accept, bind_listener, close_would_wait, listen_backlog_cap, raise_descriptor_limit, reserve_descriptors, set_reset_on_close, watch_shutdown_signals,
};

pub(crate) const BACKEND: &str = "kqueue";

/// EV_CLEAR makes kqueue edge-triggered: new data or buffer space raises a new
/// event, so a short read or write proves the socket would block.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = true;
