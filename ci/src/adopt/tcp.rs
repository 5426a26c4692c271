//! One round trip over loopback with mio: a listener, a client, the
//! accepted connection, a message from the client to the server.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);
const CLIENT: Token = Token(1);
const SERVER: Token = Token(2);

/// Polls until `done` holds after an event for one of `tokens` has been
/// seen, or fails after 10 s.
fn until(poll: &mut Poll, tokens: &[Token], mut done: impl FnMut() -> bool) {
    let (mut events, mut seen) = (Events::with_capacity(8), HashSet::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        seen.extend(
            events
                .iter()
                .map(|e| e.token())
                .filter(|t| tokens.contains(t)),
        );
        if seen.len() == tokens.len() && done() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no event for {tokens:?} before the deadline"
        );
    }
}

#[test]
#[cfg_attr(
    all(target_os = "wasi", target_env = "p1"),
    ignore = "WASI preview 1 has no bind"
)]
fn a_message_goes_from_client_to_server() {
    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    poll.registry()
        .register(&mut client, CLIENT, Interest::WRITABLE)
        .unwrap();
    // The connection is pending on the listener, and the client's connect is done.
    until(&mut poll, &[LISTENER, CLIENT], || true);
    let (mut server, _) = listener.accept().unwrap();
    poll.registry()
        .register(&mut server, SERVER, Interest::READABLE)
        .unwrap();
    client.write_all(b"ping").unwrap();
    let mut got = Vec::new();
    until(&mut poll, &[SERVER], || {
        // Edge-triggered: read until WouldBlock.
        let mut buf = [0; 16];
        loop {
            match server.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading: {e}"),
            }
        }
        got.len() >= 4
    });
    assert_eq!(got, b"ping");
}
