//! macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly: mio uses kqueue with EV_CLEAR.

pub use super::unix::{Waker, bind_listener, is_resource_exhaustion, watch_shutdown_signals};

pub const BACKEND: &str = "kqueue";

/// EV_CLEAR makes kqueue edge-triggered: new data or buffer space raises a new
/// event, so a short read or write proves the socket would block.
pub const SHORT_IO_PROVES_WOULD_BLOCK: bool = true;
