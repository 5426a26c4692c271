//! Pieces shared by both WASI backends: no signals, and no other thread to
//! wake the loop from.

use std::io;

use mio::{Registry, Token};

use super::OnStopRequest;

/// WASI has no signals: a WASI server stops cleanly on the end of its
/// standard input (`--stop-on-stdin-eof`), or ends with its runtime.
pub(crate) fn watch_shutdown_signals(_on_signal: OnStopRequest) -> io::Result<()> {
    Ok(())
}

/// mio exports no `Waker` on WASI (mio 1.2.5 `src/lib.rs`: not on
/// `target_os = "wasi"`), and WASI programs have a single thread, so nothing
/// outside the loop could ask it to stop: waking is a no-op.
#[derive(Debug)]
pub(crate) struct Waker(());

impl Waker {
    pub(crate) fn new(_registry: &Registry, _token: Token) -> io::Result<Waker> {
        Ok(Waker(()))
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        Ok(())
    }
}
