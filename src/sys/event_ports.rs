//! Solaris: mio uses event ports, which are one-shot.

pub use super::unix::{Waker, bind_listener, is_resource_exhaustion, watch_shutdown_signals};

pub const BACKEND: &str = "event ports";

/// Event ports are one-shot and mio re-associates the fd when an operation
/// returns `WouldBlock`; a short read proves nothing.
pub const SHORT_IO_PROVES_WOULD_BLOCK: bool = false;
