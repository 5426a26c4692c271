//! Running out of descriptors: the server pauses accepting instead of dying or
//! spinning, keeps serving its connections, and recovers by itself.
//!
//! RLIMIT_NOFILE is per process, so this file holds one test (one process).
//! Unix only: Windows has no descriptor limit a process can lower.
#![cfg(unix)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;
use portable_echo::Config;
use socket2::{Domain, Socket, Type};

#[test]
fn descriptor_exhaustion_pauses_accepting_and_recovers() {
    const HEADROOM: usize = 3;
    const CLIENTS: usize = 12;
    let pause = Duration::from_millis(50);
    let server = start(
        Mode::InProcess,
        Config {
            accept_pause: pause,
            ..config()
        },
    );
    let mut first = server.greeted();
    // Client sockets are made while descriptors are plentiful; connecting
    // them later takes no new descriptor on the client side.
    let sockets: Vec<Socket> = (0..CLIENTS)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap())
        .collect();
    // The lowest free descriptor tells how many are in use.
    let probe = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let in_use = probe.as_raw_fd() as usize;
    drop(probe);
    let original = rlimit::set_soft((in_use + HEADROOM) as libc::rlim_t);
    let exhausted_at = Instant::now();

    let mut clients: Vec<TcpStream> = sockets
        .into_iter()
        .map(|socket| {
            socket.connect(&server.addr.into()).unwrap();
            let client = TcpStream::from(socket);
            client.set_read_timeout(Some(STEP)).unwrap();
            client
        })
        .collect();
    // The server can accept at most HEADROOM of them (fewer where an emulator
    // holds descriptors of its own); the first is served, the last waits in
    // the backlog.
    expect_greeting(&mut clients[0], GREETING);
    // Existing connections are still served while accepting is paused.
    round_trip(&mut first, b"served while exhausted");
    let waiting = &mut clients[CLIENTS - 1];
    waiting.set_read_timeout(Some(pause * 4)).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        waiting.read(&mut byte).is_err(),
        "accepted although no descriptor was free"
    );
    waiting.set_read_timeout(Some(STEP)).unwrap();

    // Descriptors free up: every waiting client is accepted and greeted.
    rlimit::set_soft(original);
    let exhausted_for = exhausted_at.elapsed();
    for client in &mut clients[1..] {
        expect_greeting(client, GREETING);
        round_trip(client, b"accepted after recovery");
    }
    // Clients that leave let the stop finish at once (it waits for peers
    // to close, up to the grace period).
    drop((first, clients));
    let stats = server.stop();
    println!(
        "exhausted for {exhausted_for:?}: {} accept pauses of {pause:?}, {} connections served",
        stats.accept_pauses, stats.connections_served
    );
    assert!(stats.accept_pauses >= 1, "exhaustion was never seen");
    // Not spinning: at most one retry per pause period (plus the final one).
    let bound = (exhausted_for.as_millis() / pause.as_millis()) as u64 + 2;
    assert!(
        stats.accept_pauses <= bound,
        "{} accept pauses in {exhausted_for:?}",
        stats.accept_pauses
    );
    assert_eq!(stats.connections_served, 1 + CLIENTS as u64);
}
