//! poll(2): where mio has no better selector (Haiku, Hurd, NuttX, AIX, ...), and
//! on any Unix built with `--cfg mio_unsupported_force_poll_poll`.

pub(crate) use super::unix::{
    LOST_BEFORE_ACCEPT, RESOURCE_EXHAUSTION, StdinEof, Waker, accept, bind_listener, close_would_wait, listen_backlog_cap, raise_descriptor_limit, reserve_descriptors, set_reset_on_close, watch_shutdown_signals,
};

pub(crate) const BACKEND: &str = "poll";

/// mio emulates edge triggering on poll(2) by dropping an fd's interest once it
/// fires and re-arming it only when an operation returns `WouldBlock`. A short
/// read proves nothing: skipping the `WouldBlock` call would leave the socket
/// without interest and the connection would hang.
pub(crate) const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;
