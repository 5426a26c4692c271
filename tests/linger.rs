//! The graceful stop is a lingering close, as nginx and HAProxy close: what
//! the server received before the stop is echoed, then a clean end of
//! stream; what arrives later is read and discarded until the peer closes or
//! the grace period ends. A peer is never answered with a reset, however
//! late its bytes arrive. Each test runs in process and against the launched
//! binary (tests/common: `in_both_modes!`); the binary is stopped the way
//! its runtime can be asked (tests/common/launch.rs, `STOP_REQUEST`).
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::abuse::load_client;
use common::relay::{Relay, ServerEnd};
use common::*;
use portable_echo::Config;

in_both_modes! {
    stop_with_peer_bytes_300_ms_away_ends_the_echo_without_a_reset,
    stop_with_peer_bytes_2_s_away_ends_the_echo_without_a_reset,
    stop_cuts_a_peer_that_never_closes_at_the_grace_period,
    stop_under_load_ends_every_echo_cleanly_within_the_grace_period,
}

fn stop_with_peer_bytes_300_ms_away_ends_the_echo_without_a_reset(mode: Mode) {
    stop_with_a_slow_peer(mode, Duration::from_millis(300));
}

fn stop_with_peer_bytes_2_s_away_ends_the_echo_without_a_reset(mode: Mode) {
    stop_with_a_slow_peer(mode, Duration::from_secs(2));
}

/// The client's bytes reach the server `delay` after they are sent. Bytes
/// the server received before the stop come back in full; bytes still on
/// the way when it stops arrive after its end of stream and are discarded;
/// the server answers them with no reset, and it exits once the peer has
/// closed, before the grace period ends.
fn stop_with_a_slow_peer(mode: Mode, delay: Duration) {
    const BEFORE: &[u8] = b"received before the stop";
    const DURING: &[u8] = b"still on the way when the stop comes";
    let grace = delay * 3;
    let mut server = start_with(
        mode,
        Config {
            shutdown_grace: grace,
            ..config()
        },
        // This test times the exit against the grace.
        launch::without_sanitizer_exit_sleep,
    );
    let relay = Relay::start(server.addr, delay);
    let mut client = connect(relay.addr);
    expect_greeting(&mut client, GREETING);
    round_trip(&mut client, BEFORE);
    client.write_all(DURING).unwrap();
    let stopped_at = Instant::now();
    server.request_stop();
    assert_eq!(
        read_to_end(&mut client),
        b"",
        "nothing is echoed after the stop, and the end of stream is clean"
    );
    drop(client);
    let stats = server.wait(grace + STEP);
    let stopped_in = stopped_at.elapsed();
    let report = relay.report(STEP);
    println!(
        "delay {delay:?}: relay saw {report:?}; the server stopped in {stopped_in:?} \
         (grace {grace:?}); echoed {}, discarded {}",
        stats.bytes.echoed, stats.bytes.discarded
    );
    assert_eq!(
        report.server_end,
        ServerEnd::EndOfStream,
        "the server reset its peer"
    );
    assert_eq!(report.to_server, (BEFORE.len() + DURING.len()) as u64);
    assert_eq!(report.from_server, (GREETING.len() + BEFORE.len()) as u64);
    assert_eq!(stats.bytes.echoed, BEFORE.len() as u64);
    assert_eq!(stats.bytes.discarded, DURING.len() as u64);
    assert!(
        stopped_in < grace,
        "the server waited out the grace period although its peer closed"
    );
}

/// A peer that never closes after the server's end of stream holds the stop
/// until the grace period ends, and no longer.
fn stop_cuts_a_peer_that_never_closes_at_the_grace_period(mode: Mode) {
    let grace = Duration::from_millis(500);
    let mut server = start(
        mode,
        Config {
            shutdown_grace: grace,
            ..config()
        },
    );
    let mut client = server.greeted();
    round_trip(&mut client, b"then silence");
    let stopped_at = Instant::now();
    server.request_stop();
    let mut buf = [0u8; 16];
    assert_eq!(
        client.read(&mut buf).unwrap(),
        0,
        "the server's end of stream"
    );
    // The client keeps its side open and says nothing.
    let stats = server.wait(grace + STEP);
    let stopped_in = stopped_at.elapsed();
    println!("a peer that never closed held the stop for {stopped_in:?} (grace {grace:?})");
    assert!(stopped_in >= grace, "the server did not wait for its peer");
    assert_eq!(stats.connections_served, 1);
    drop(client);
}

/// Clients in the middle of round trips when the stop comes: every one gets
/// a verified prefix of its echo and then an end of stream (never a reset),
/// and the server is done well within the grace period once they close.
fn stop_under_load_ends_every_echo_cleanly_within_the_grace_period(mode: Mode) {
    const CLIENTS: usize = 8;
    let grace = Duration::from_secs(5);
    let mut server = start(
        mode,
        Config {
            shutdown_grace: grace,
            ..config()
        },
    );
    let addr = server.addr;
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (signalled, stop) = (signalled.clone(), stop.clone());
            thread::spawn(move || load_client(addr, 300 + i as u64, signalled, stop))
        })
        .collect();
    // Let every client get some round trips done.
    thread::sleep(Duration::from_millis(300));
    signalled.store(true, Ordering::SeqCst);
    let stopped_at = Instant::now();
    server.request_stop();
    stop.store(true, Ordering::SeqCst);
    let loads: Vec<(u64, u64, bool)> = clients
        .into_iter()
        .map(|c| {
            c.join()
                .expect("a client saw a wrong byte, a reset or an early close")
        })
        .collect();
    let stats = server.wait(grace + STEP);
    let stopped_in = stopped_at.elapsed();
    println!(
        "under load: (round trips, bytes, cut by the stop) {loads:?}; stopped in {stopped_in:?} \
         (grace {grace:?}); {} failed",
        stats.connections_failed
    );
    assert!(loads.iter().all(|&(rounds, _, _)| rounds > 0));
    assert!(stopped_in < grace, "took the whole grace period");
    assert_eq!(stats.connections_failed, 0, "a connection failed: a reset");
    assert_eq!(
        stats.bytes.received, stats.bytes.echoed,
        "a received byte was not echoed"
    );
}
