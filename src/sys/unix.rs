//! Pieces shared by every Unix backend: only the readiness mechanism differs
//! between them, not sockets, errors or signals.

use std::io;
use std::net::SocketAddr;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

pub use mio::Waker;

/// mio's own bind already does what Unix servers want: SO_REUSEADDR (so a
/// restart is not refused while old connections sit in TIME_WAIT), close-on-exec,
/// non-blocking, and a backlog of 1024.
pub fn bind_listener(addr: SocketAddr) -> io::Result<mio::net::TcpListener> {
    mio::net::TcpListener::bind(addr)
}

pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

pub fn watch_shutdown_signals(on_signal: impl Fn(&'static str) + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("shutdown-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                on_signal(if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                });
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_and_buffer_exhaustion_pause_accepting() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(
                is_resource_exhaustion(&io::Error::from_raw_os_error(errno)),
                "errno {errno}"
            );
        }
        for errno in [libc::ECONNABORTED, libc::EINTR, libc::EAGAIN, libc::EINVAL] {
            assert!(
                !is_resource_exhaustion(&io::Error::from_raw_os_error(errno)),
                "errno {errno}"
            );
        }
    }
}
