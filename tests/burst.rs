//! A burst of clients connecting at once, as after a restart of a busy
//! server. The listen queue must hold them all: with std's and mio's
//! backlog of 128, a quarter of a 500-client burst waited for a one-second
//! SYN retransmit and some of a 2,000-client burst were never greeted.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use portable_echo::Server;

/// Clients in a burst.
const BURST: usize = 2000;

/// Each client of the burst is waited for at most this long (the issue's
/// clients waited 10 s).
const DEADLINE: Duration = Duration::from_secs(10);

in_both_modes! {
    #[black_box(cfg_attr(portable_echo_wasmtime, ignore = "wasmtime 48: with about 128 sockets ready at once, wasi:io/poll's own readiness checks spend the tokio coop budget (128) and check-write then reports 0 for every socket, so the server livelocks (bytecodealliance/wasmtime#14174)"))]
    #[black_box(cfg_attr(portable_echo_wine, ignore = "Wine 8.0: with the 2,000 clients in one Wine process and the server in another, 1,024 are greeted and the rest stall; the same Wine server greets 2,000 Linux clients in 0.44 s, and the in-process variant passes under Wine"))]
    a_burst_of_2000_clients_is_greeted_in_full,
}

/// Every client of a 2,000-client burst gets the greeting within the
/// deadline. Prints connect-to-greeting p50/p99/max and how many waited
/// longer than 0.9 s, the mark of a SYN retransmit.
fn a_burst_of_2000_clients_is_greeted_in_full(mode: Mode) {
    allow_descriptors(2 * BURST + 100);
    let server = start(mode, config());
    let times = burst(server.addr, BURST, Want::Greeting);
    let greeted: Vec<Duration> = times.iter().flatten().copied().collect();
    let mut sorted = greeted.clone();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    let slow = greeted
        .iter()
        .filter(|t| **t > Duration::from_millis(900))
        .count();
    println!(
        "burst of {BURST} ({mode:?}): {} greeted, connect-to-greeting p50 {:?}, p99 {:?}, max {:?}; \
         {slow} waited over 0.9 s",
        greeted.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    assert_eq!(
        greeted.len(),
        BURST,
        "{} clients were not greeted within {DEADLINE:?}",
        BURST - greeted.len()
    );
}

/// The backlog itself: a bound server that does not accept yet completes the
/// handshake of a 2,000-client burst in its listen queue. With a backlog of
/// 128 the kernel completes 129 and drops the rest's SYNs, which then wait
/// for retransmits that find the queue still full.
#[test]
fn the_listen_queue_holds_a_2000_client_burst_before_any_accept() {
    allow_descriptors(BURST + 100);
    let server = Server::bind(config()).unwrap();
    let times = burst(server.local_addr(), BURST, Want::Connected);
    let connected = times.iter().flatten().count();
    let slowest = times.iter().flatten().max();
    println!("{connected} of {BURST} handshakes completed before any accept; slowest {slowest:?}");
    assert_eq!(
        connected, BURST,
        "the listen queue is shorter than the burst"
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    /// The TCP handshake completed.
    Connected,
    /// The whole greeting arrived.
    Greeting,
}

/// Opens `n` non-blocking connections at once, then waits (up to DEADLINE)
/// for each to reach `want`; returns each client's time from its connect
/// call, `None` for those that did not make it.
fn burst(addr: SocketAddr, n: usize, want: Want) -> Vec<Option<Duration>> {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let interest = match want {
        Want::Connected => Interest::WRITABLE,
        Want::Greeting => Interest::READABLE,
    };
    let mut clients: Vec<(TcpStream, Instant, Vec<u8>)> = (0..n)
        .map(|i| {
            let started = Instant::now();
            let mut client = TcpStream::connect(addr).expect("starting a connect");
            poll.registry()
                .register(&mut client, Token(i), interest)
                .unwrap();
            (client, started, Vec::new())
        })
        .collect();
    let mut done: Vec<Option<Duration>> = vec![None; n];
    let mut left = n;
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 64];
    while left > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        poll.poll(&mut events, Some(deadline - now)).unwrap();
        for event in events.iter() {
            let i = event.token().0;
            if done[i].is_some() {
                continue;
            }
            let (client, started, got) = &mut clients[i];
            let reached = match want {
                Want::Connected => client.peer_addr().is_ok(),
                Want::Greeting => loop {
                    match client.read(&mut buf) {
                        Ok(0) => panic!("client {i}: end of stream before the greeting"),
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => {
                            break got.len() >= GREETING.len();
                        }
                        Err(err) if err.kind() == ErrorKind::Interrupted => {}
                        Err(err) => panic!("client {i}: {err}"),
                    }
                },
            };
            if reached {
                if want == Want::Greeting {
                    assert_eq!(got.as_slice(), GREETING, "client {i}'s greeting");
                }
                done[i] = Some(started.elapsed());
                left -= 1;
            }
        }
    }
    done
}

/// Makes room for `needed` descriptors (the launched server inherits the
/// limit), failing with the reason when the hard limit does not allow it.
fn allow_descriptors(needed: usize) {
    let limit = raise_descriptor_limit(needed);
    assert!(
        limit >= needed,
        "this test needs {needed} descriptors; the hard limit allows {limit}"
    );
}
