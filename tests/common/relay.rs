//! A slow link on 127.0.0.1: a relay between one client and the server that
//! delivers the client's bytes (and its end of stream) to the server a fixed
//! delay after they were sent, passes the server's bytes back at once, and
//! records how the server ended its side: a clean end of stream or a reset.
//!
//! Included with `#[path = "common/relay.rs"] mod relay;` next to `mod common;`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::is_reset;

/// How the server's side of the relayed connection ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerEnd {
    /// End of stream: the server shut down its side cleanly.
    EndOfStream,
    /// The server reset the connection (seen on a read or a write).
    Reset,
}

/// What the relay saw once both directions were done.
#[derive(Debug)]
pub(crate) struct RelayReport {
    pub(crate) server_end: ServerEnd,
    /// Bytes the relay delivered to the server.
    pub(crate) to_server: u64,
    /// Bytes the server sent back (greeting and echo).
    pub(crate) from_server: u64,
}

pub(crate) struct Relay {
    /// Where the client connects.
    pub(crate) addr: SocketAddr,
    report: mpsc::Receiver<RelayReport>,
}

impl Relay {
    /// A relay for one connection to `server`, delaying client-to-server
    /// traffic by `delay`.
    pub(crate) fn start(server: SocketAddr, delay: Duration) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (report_tx, report) = mpsc::channel();
        thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let upstream = TcpStream::connect(server).unwrap();
            for socket in [&client, &upstream] {
                socket.set_nodelay(true).unwrap();
            }
            // Client to server, delayed: a reader stamps each chunk (None is
            // the end of stream), a writer delivers it when it is due.
            let (chunks_tx, chunks) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
            let mut from_client = client.try_clone().unwrap();
            thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let chunk = match from_client.read(&mut buf) {
                        Ok(0) | Err(_) => None,
                        Ok(n) => Some(buf[..n].to_vec()),
                    };
                    let done = chunk.is_none();
                    if chunks_tx.send((Instant::now() + delay, chunk)).is_err() || done {
                        return;
                    }
                }
            });
            let mut to_server = upstream.try_clone().unwrap();
            let delivering = thread::spawn(move || -> (u64, Option<io::Error>) {
                let mut delivered = 0u64;
                for (due, chunk) in chunks {
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                    let Some(chunk) = chunk else {
                        // On a connection the server already reset, there
                        // is nothing left to shut down.
                        return (delivered, to_server.shutdown(Shutdown::Write).err());
                    };
                    if let Err(err) = to_server.write_all(&chunk) {
                        return (delivered, Some(err));
                    }
                    delivered += chunk.len() as u64;
                }
                (delivered, None)
            });
            // Server to client, at once.
            let probe = upstream.try_clone().unwrap();
            let mut from_server = upstream;
            let mut to_client = client;
            let mut passed = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            let read_end = loop {
                match from_server.read(&mut buf) {
                    Ok(0) => break ServerEnd::EndOfStream,
                    Ok(n) => {
                        passed += n as u64;
                        if to_client.write_all(&buf[..n]).is_err() {
                            break ServerEnd::EndOfStream;
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) if is_reset(&err) => break ServerEnd::Reset,
                    Err(err) => panic!("relay reading from the server: {err}"),
                }
            };
            let _ = to_client.shutdown(Shutdown::Write);
            let (delivered, write_error) = delivering.join().unwrap();
            // A reset that follows the server's end of stream is not shown
            // to reads (they keep returning end of stream); it stays pending
            // on the socket. Give the server's answer to our last bytes a
            // moment to arrive, then look.
            thread::sleep(Duration::from_millis(100));
            let pending = probe.take_error().unwrap();
            let server_end = match (write_error, pending) {
                (Some(err), _) | (None, Some(err))
                    if is_reset(&err)
                        || matches!(
                            err.kind(),
                            ErrorKind::BrokenPipe | ErrorKind::NotConnected
                        ) =>
                {
                    ServerEnd::Reset
                }
                (Some(err), _) | (None, Some(err)) => panic!("relay to the server: {err}"),
                (None, None) => read_end,
            };
            let _ = report_tx.send(RelayReport {
                server_end,
                to_server: delivered,
                from_server: passed,
            });
        });
        Relay { addr, report }
    }

    /// Waits for both directions to finish (the client and the server have
    /// both closed) and returns what the relay saw.
    pub(crate) fn report(self, within: Duration) -> RelayReport {
        self.report
            .recv_timeout(within)
            .expect("the relayed connection did not finish")
    }
}
