//! One round trip over loopback with mio: a listener, a client, an accepted
//! connection, a byte each way.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);
const CLIENT: Token = Token(1);
const SERVER: Token = Token(2);

/// Polls until `ready` says done, or fails after 10 s.
fn until(poll: &mut Poll, mut ready: impl FnMut(Token) -> bool) {
    let (mut events, deadline) = (Events::with_capacity(8), Instant::now() + Duration::from_secs(10));
    loop {
        poll.poll(&mut events, Some(Duration::from_millis(100))).unwrap();
        if events.iter().any(|e| ready(e.token())) {
            return;
        }
        assert!(Instant::now() < deadline, "no event before the deadline");
    }
}

#[test]
#[cfg_attr(all(target_os = "wasi", target_env = "p1"), ignore = "WASI preview 1 has no bind")]
fn a_message_goes_there_and_back() {
    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    poll.registry().register(&mut client, CLIENT, Interest::READABLE | Interest::WRITABLE).unwrap();
    until(&mut poll, |t| t == LISTENER);
    let (mut server, _) = listener.accept().unwrap();
    poll.registry().register(&mut server, SERVER, Interest::READABLE).unwrap();
    client.write_all(b"ping").unwrap();
    let mut got = Vec::new();
    until(&mut poll, |t| {
        let mut buf = [0; 16];
        // Edge-triggered: read until WouldBlock.
        loop {
            match server.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading: {e}"),
            }
        }
        t == SERVER && got == b"ping"
    });
    assert_eq!(got, b"ping");
}
