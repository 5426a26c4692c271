//! [`StdinEof`] where threads exist (Unix, Windows): a thread does blocking
//! reads of standard input and reports its end. Not a mio registration:
//! epoll refuses /dev/null and regular files (EPERM), and mio has no
//! `SourceFd` on Windows; a blocking read works for every kind of stdin.

use std::io::{self, Read};

use log::warn;
use mio::{Registry, Token};

use super::OnStopRequest;

/// Watches standard input for its end (`--stop-on-stdin-eof`).
#[derive(Debug)]
pub(crate) struct StdinEof(());

impl StdinEof {
    /// Starts the thread; `on_eof` runs on it once stdin ends. A read error
    /// also ends the watch, as its end: the flag asked for a stop when stdin
    /// can no longer be read.
    pub(crate) fn watch(
        _registry: &Registry,
        _token: Token,
        on_eof: OnStopRequest,
    ) -> io::Result<StdinEof> {
        std::thread::Builder::new()
            .name("stdin-eof".into())
            .spawn(move || {
                let mut stdin = io::stdin().lock();
                let mut discarded = [0; 4096];
                loop {
                    match stdin.read(&mut discarded) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => {
                            warn!("reading standard input: {err}; taking it as its end");
                            break;
                        }
                    }
                }
                on_eof("end of standard input");
            })?;
        Ok(StdinEof(()))
    }

    /// Never called: nothing is registered with the loop's token.
    pub(crate) fn readable(&mut self, _registry: &Registry, _token: Token) {}
}
