//! The server's promises, checked over real loopback sockets. Each test runs
//! twice (tests/common: `in_both_modes!`): against a server in this process,
//! and against the built binary started through the cell's launcher
//! (natively, under qemu-user, Wine or wasmtime). WASI cannot host these
//! tests (no threads on preview 2, no sockets on preview 1): tests/wasi.rs.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use portable_echo::testing::payload::{first_mismatch, pattern};
use portable_echo::{Config, Server, Stats};

in_both_modes! {
    greets_with_exactly_hello_world_then_echoes,
    a_custom_greeting_replaces_hello_world,
    empty_greeting_sends_nothing_first,
    echoes_every_byte_value,
    echoes_4_mib_intact,
    serves_100_concurrent_clients_byte_for_byte,
    half_close_gets_everything_back_then_end_of_stream,
    half_close_right_after_connect_still_gets_the_greeting,
    a_reset_mid_echo_closes_only_that_connection,
    resets_before_accept_cost_nothing,
    a_client_that_never_reads_is_capped_and_others_are_served,
    #[both(cfg_attr(portable_echo_wine, ignore = "Wine 8.0's recv reports the server's reset as an end of stream (a Linux client of the same Wine server sees the reset)"))]
    over_max_connections_is_refused_with_a_reset,
    idle_timeout_ends_idle_clients_cleanly_and_spares_active_ones,
    #[both(cfg_attr(portable_echo_wine, ignore = "Wine 8.0's recv reports the server's reset as an end of stream (a Linux client of the same Wine server sees the reset)"))]
    idle_timeout_resets_a_client_that_stopped_reading,
    a_client_closed_while_it_reads_nothing_holds_up_no_one,
    idle_timeout_zero_keeps_connections,
    stop_echoes_what_it_received_then_ends_the_stream_cleanly,
    stop_ends_idle_connections_and_stops_accepting,
    stop_gives_up_after_the_grace_period,
}

fn greets_with_exactly_hello_world_then_echoes(mode: Mode) {
    let server = start(mode, config());
    let mut client = server.connect();
    let mut greeting = [0u8; 13];
    client.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"Hello world!\n");
    // The next bytes are the echo, not more greeting.
    round_trip(&mut client, b"ping\n");
    drop(client);
    let stats = server.stop();
    assert_eq!(stats.connections_served, 1);
    assert_eq!(stats.bytes.echoed, 5);
}

fn a_custom_greeting_replaces_hello_world(mode: Mode) {
    let greeting = "¡custom greeting ✓!\n".as_bytes();
    let server = start(
        mode,
        Config {
            greeting: greeting.to_vec(),
            ..config()
        },
    );
    let mut client = server.connect();
    expect_greeting(&mut client, greeting);
    round_trip(&mut client, b"x");
}

/// The library takes any bytes as the greeting (the command line, text).
#[test]
fn a_binary_greeting_is_sent_as_is() {
    let greeting = b"\x00custom \xff\n";
    let server = start(
        Mode::InProcess,
        Config {
            greeting: greeting.to_vec(),
            ..config()
        },
    );
    let mut client = server.connect();
    expect_greeting(&mut client, greeting);
    round_trip(&mut client, b"x");
}

fn empty_greeting_sends_nothing_first(mode: Mode) {
    let server = start(
        mode,
        Config {
            greeting: Vec::new(),
            ..config()
        },
    );
    let mut client = server.connect();
    round_trip(&mut client, b"first bytes are the echo");
}

fn echoes_every_byte_value(mode: Mode) {
    let server = start(mode, config());
    let mut client = server.greeted();
    let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
    round_trip(&mut client, &all);
}

/// Sends `data` from one thread while reading the echo on another, so
/// neither side waits on the other's buffers.
fn echo_concurrently(client: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let mut writer = client.try_clone().unwrap();
    let len = data.len();
    let sending = thread::spawn(move || {
        for chunk in data.chunks(7919) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut reader = client;
    let mut back = vec![0; len];
    reader.read_exact(&mut back).unwrap();
    sending.join().unwrap();
    back
}

fn echoes_4_mib_intact(mode: Mode) {
    let server = start(mode, config());
    let client = server.greeted();
    let back = echo_concurrently(client, pattern(4 << 20, 1));
    assert_eq!(first_mismatch(1, 0, &back), None, "4 MiB echo differs");
    let stats = server.stop();
    assert_eq!(stats.bytes.echoed, 4 << 20);
    assert!(stats.bytes.peak_pending_one <= 64 * 1024);
}

fn serves_100_concurrent_clients_byte_for_byte(mode: Mode) {
    const CLIENTS: usize = 100;
    const ROUNDS: usize = 16;
    const CHUNK: usize = 1024;
    let server = start(mode, config());
    // All connections are open at once before any echo starts.
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| server.greeted()).collect();
    let mut groups: Vec<Vec<(usize, TcpStream)>> = (0..4).map(|_| Vec::new()).collect();
    for (i, client) in clients.into_iter().enumerate() {
        groups[i % 4].push((i, client));
    }
    let workers: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    for (i, client) in &mut group {
                        let data = pattern(CHUNK, (*i * ROUNDS + round) as u64);
                        client.write_all(&data).unwrap();
                    }
                    for (i, client) in &mut group {
                        let mut back = vec![0; CHUNK];
                        client.read_exact(&mut back).unwrap();
                        assert_eq!(
                            first_mismatch((*i * ROUNDS + round) as u64, 0, &back),
                            None,
                            "client {i} round {round}: echo differs"
                        );
                    }
                }
                group
            })
        })
        .collect();
    let clients: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    drop(clients);
    let stats = server.stop();
    assert_eq!(stats.connections_served, CLIENTS as u64);
    assert_eq!(stats.peak_connections, CLIENTS);
    assert_eq!(stats.bytes.echoed, (CLIENTS * ROUNDS * CHUNK) as u64);
}

fn half_close_gets_everything_back_then_end_of_stream(mode: Mode) {
    let server = start(mode, config());
    let client = server.greeted();
    let data = pattern(1 << 20, 2);
    let mut writer = client.try_clone().unwrap();
    let to_send = data.clone();
    let sending = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut reader = client;
    let back = read_to_end(&mut reader);
    sending.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(
        first_mismatch(2, 0, &back),
        None,
        "half-closed echo differs"
    );
    drop(reader);
    let stats = server.stop();
    assert_eq!(stats.connections_failed, 0, "a half-close is not an error");
}

fn half_close_right_after_connect_still_gets_the_greeting(mode: Mode) {
    let server = start(mode, config());
    let mut client = server.connect();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), GREETING);
}

fn a_reset_mid_echo_closes_only_that_connection(mode: Mode) {
    let server = start(mode, config());
    let mut survivor = server.greeted();
    let victim = socket2::Socket::from(server.greeted());
    victim.send(b"echoed back, never read").unwrap();
    // SO_LINGER 0: close sends RST instead of FIN.
    victim.set_linger(Some(Duration::ZERO)).unwrap();
    drop(victim);
    round_trip(&mut survivor, b"still here");
    let late = server.greeted();
    drop(late);
    round_trip(&mut survivor, b"and still");
    drop(survivor);
    let stats = server.stop();
    assert_eq!(stats.connections_served, 3);
    assert_eq!(
        stats.connections_failed, 1,
        "the reset is seen as an error on that connection"
    );
}

/// Clients that connect and reset before the server accepts them: the
/// accept that finds them may fail (ECONNABORTED) or hand over a dead
/// socket; neither may end or stall the server. (On WASI preview 2 this
/// once trapped the whole runtime: see src/sys/wasip2.rs.)
fn resets_before_accept_cost_nothing(mode: Mode) {
    const RESETS: usize = 50;
    let server = start(mode, config());
    let mut survivor = server.greeted();
    for _ in 0..RESETS {
        let socket = socket2::Socket::from(TcpStream::connect(server.addr).unwrap());
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
    round_trip(&mut survivor, b"still served");
    let mut late = server.greeted();
    round_trip(&mut late, b"and so are new clients");
}

fn a_client_that_never_reads_is_capped_and_others_are_served(mode: Mode) {
    const MAX_PENDING: usize = 64 * 1024;
    let server = start(
        mode,
        Config {
            max_pending: MAX_PENDING,
            ..config()
        },
    );
    let stalled = server.greeted();
    stalled
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let flooding = thread::spawn(move || {
        let mut stalled = stalled;
        let chunk = pattern(16 * 1024, 3);
        let mut sent = 0usize;
        // Send until the server's backpressure fills every buffer on the way
        // and a write stays blocked for the write timeout.
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            match stalled.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        (stalled, sent)
    });
    let mut other = server.greeted();
    let data = pattern(1 << 20, 4);
    for piece in data.chunks(64 * 1024) {
        round_trip(&mut other, piece);
    }
    let (stalled, sent) = flooding.join().unwrap();
    assert!(
        sent > MAX_PENDING,
        "the stalled client could send only {sent} bytes"
    );
    drop(other);
    // The stalled client closes without reading: the server resets it.
    drop(stalled);
    let stats = server.stop();
    assert!(
        stats.bytes.peak_pending_one <= MAX_PENDING,
        "one connection buffered {} bytes, over max-pending {MAX_PENDING}",
        stats.bytes.peak_pending_one
    );
    assert!(
        stats.bytes.received < sent as u64 + data.len() as u64,
        "the server kept reading from a client that does not read"
    );
}

/// A connection the server sheds is reset (SO_LINGER 0), so the client can
/// tell "refused" from "served and finished". WASI preview 2 has no
/// SO_LINGER (wasi-libc answers ENOPROTOOPT), so there it is an end of stream.
fn expect_shed(client: &mut TcpStream, launched_under_wasmtime: bool) {
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(0) if launched_under_wasmtime => {}
        Err(err) if is_reset(&err) && !launched_under_wasmtime => {}
        other => panic!("expected the server to shed the connection with a reset, got {other:?}"),
    }
}

fn over_max_connections_is_refused_with_a_reset(mode: Mode) {
    let server = start(
        mode,
        Config {
            max_connections: 2,
            ..config()
        },
    );
    let under_wasmtime = mode == Mode::BlackBox && cfg!(portable_echo_wasmtime);
    let first = server.greeted();
    let mut second = server.greeted();
    let mut third = server.connect();
    expect_shed(&mut third, under_wasmtime);
    // A slot frees up when a client leaves; new clients are served again.
    drop(first);
    let mut fourth = None;
    eventually(STEP, "a free slot after a client left", || {
        let mut client = server.connect();
        let mut greeting = [0u8; 13];
        match client.read_exact(&mut greeting) {
            Ok(()) => {
                fourth = Some(client);
                true
            }
            Err(_) => false,
        }
    });
    round_trip(fourth.as_mut().unwrap(), b"in");
    round_trip(&mut second, b"still served");
    drop((second, fourth));
    let stats = server.stop();
    assert!(stats.connections_rejected >= 1);
    assert_eq!(stats.peak_connections, 2);
}

/// An idle connection that owes nothing gets a clean end of stream, and
/// what it sends afterwards is discarded without a reset until it closes.
fn idle_timeout_ends_idle_clients_cleanly_and_spares_active_ones(mode: Mode) {
    let timeout = Duration::from_secs(1);
    let server = start(
        mode,
        Config {
            idle_timeout: Some(timeout),
            ..config()
        },
    );
    // The server's clock for the idle client starts after this instant.
    let started = Instant::now();
    let mut idle = server.greeted();
    let active = server.greeted();
    // One client stays busy past the timeout while the other says nothing.
    let ticking = thread::spawn(move || {
        let mut active = active;
        while started.elapsed() < timeout * 2 {
            round_trip(&mut active, b"tick");
            thread::sleep(timeout / 10);
        }
        active
    });
    assert_eq!(read_to_end(&mut idle), b"", "a clean end of stream");
    let ended_after = started.elapsed();
    assert!(ended_after >= timeout, "ended after {ended_after:?}");
    // Late bytes after the server's end of stream: discarded, no reset.
    idle.write_all(b"too late").unwrap();
    idle.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut idle), b"", "still no reset");
    let mut active = ticking.join().unwrap();
    round_trip(&mut active, b"still alive");
    drop((idle, active));
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 1);
    assert_eq!(stats.bytes.discarded, 8);
}

/// A connection idle while it owes bytes its client does not read is reset:
/// an end of stream would queue behind bytes nobody reads.
fn idle_timeout_resets_a_client_that_stopped_reading(mode: Mode) {
    let timeout = Duration::from_millis(300);
    let server = start(
        mode,
        Config {
            idle_timeout: Some(timeout),
            max_pending: 1024,
            ..config()
        },
    );
    let (mut stalled, flood_ended_by) = flooded_client(&server);
    // The client reads only after the timeout: it finds the echo that had
    // reached it, then the reset. The kernel reports a reset once: to the
    // flood's last write if it came that late, else to a read.
    thread::sleep(timeout * 2);
    let mut buf = vec![0u8; 64 * 1024];
    let read_ended_by = loop {
        match stalled.read(&mut buf) {
            Ok(0) => break None,
            Ok(_) => {}
            Err(err) => break Some(err),
        }
    };
    let reset_seen = is_reset(&flood_ended_by)
        || flood_ended_by.kind() == std::io::ErrorKind::BrokenPipe
        || read_ended_by.as_ref().is_some_and(is_reset);
    let under_wasmtime = mode == Mode::BlackBox && cfg!(portable_echo_wasmtime);
    assert!(
        reset_seen || (under_wasmtime && read_ended_by.is_none()),
        "expected a reset: the flood ended with {flood_ended_by}, the reads with {read_ended_by:?}"
    );
    drop(stalled);
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 1);
}

/// Closing a connection whose peer reads nothing must not block the loop:
/// wasmtime 48's close waits for such a peer (src/sys/wasip2.rs,
/// `close_would_wait`), and the whole server hung on it. The stalled client
/// is closed by the idle timeout and still reads nothing while another
/// client is served, and the stop that follows ends within its grace.
fn a_client_closed_while_it_reads_nothing_holds_up_no_one(mode: Mode) {
    let timeout = Duration::from_millis(300);
    let server = start(
        mode,
        Config {
            idle_timeout: Some(timeout),
            shutdown_grace: timeout,
            max_pending: 1024,
            ..config()
        },
    );
    let (stalled, _) = flooded_client(&server);
    thread::sleep(timeout * 3);
    let mut other = server.greeted();
    round_trip(&mut other, b"served while the stalled client reads nothing");
    drop(other);
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 1);
    drop(stalled);
}

/// A greeted client that sends without reading until the server stops
/// reading from it (a write blocks for 300 ms), and the error that ended
/// its sending.
fn flooded_client(server: &TestServer) -> (TcpStream, std::io::Error) {
    let mut client = server.greeted();
    client
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = pattern(8192, 6);
    let ended_by = loop {
        if let Err(err) = client.write(&chunk) {
            break err;
        }
    };
    client.set_write_timeout(Some(STEP)).unwrap();
    (client, ended_by)
}

fn idle_timeout_zero_keeps_connections(mode: Mode) {
    let server = start(
        mode,
        Config {
            idle_timeout: None,
            ..config()
        },
    );
    let mut client = server.greeted();
    round_trip(&mut client, b"a");
    drop(client);
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 0);
}

/// What the server had received when the stop came is echoed in full, then
/// a clean end of stream; what arrives after that is discarded, not
/// answered with a reset. Every byte is accounted for.
fn stop_echoes_what_it_received_then_ends_the_stream_cleanly(mode: Mode) {
    let mut server = start(mode, config());
    let mut client = server.greeted();
    let data = pattern(128 * 1024, 5);
    // Sent but not read: the server owes what it took in when the stop comes.
    let mut writer = client.try_clone().unwrap();
    let to_send = data.clone();
    let sending = thread::spawn(move || writer.write_all(&to_send).unwrap());
    eventually(STEP, "the writer to finish", || sending.is_finished());
    server.request_stop();
    let back = read_to_end(&mut client);
    assert!(back.len() <= data.len(), "more came back than was sent");
    assert_eq!(
        first_mismatch(5, 0, &back),
        None,
        "the echo differs from what was sent"
    );
    drop(client);
    let stats: Stats = server.wait(STEP);
    println!(
        "sent {}, echoed {}, discarded {}",
        data.len(),
        back.len(),
        stats.bytes.discarded
    );
    assert_eq!(
        stats.bytes.received,
        back.len() as u64,
        "all received bytes came back"
    );
    assert_eq!(stats.bytes.echoed, back.len() as u64);
    assert_eq!(
        stats.bytes.echoed + stats.bytes.discarded,
        data.len() as u64,
        "every byte sent was echoed or discarded after the end of stream"
    );
}

fn stop_ends_idle_connections_and_stops_accepting(mode: Mode) {
    let mut server = start(mode, config());
    let mut idle = server.greeted();
    let addr = server.addr;
    server.request_stop();
    assert_eq!(
        read_to_end(&mut idle),
        b"",
        "idle client sees end of stream"
    );
    drop(idle);
    let stats = server.wait(STEP);
    assert_eq!(stats.connections_served, 1);
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after stop"
    );
}

fn stop_gives_up_after_the_grace_period(mode: Mode) {
    let grace = Duration::from_millis(300);
    let server = start(
        mode,
        Config {
            shutdown_grace: grace,
            max_pending: 1024,
            ..config()
        },
    );
    // Fills the server's pending queue; the client never reads.
    let (stalled, _) = flooded_client(&server);
    let started = Instant::now();
    let stats = server.stop();
    assert!(
        started.elapsed() >= grace,
        "stopped before the grace period although bytes were owed"
    );
    assert!(stats.bytes.peak_pending_one > 0);
    drop(stalled);
}

/// With no timer armed (no idle timeout, no connection) the loop sleeps in
/// poll until something wakes it: only the waker can deliver the stop. A
/// waker that never fires fails this test at the stop's deadline (mio's
/// eventfd, pipe and IOCP wakers run it here, kqueue's on Actions; see the
/// coverage table in README).
#[test]
fn stop_wakes_a_loop_with_no_timer_armed() {
    let server = start(
        Mode::InProcess,
        Config {
            idle_timeout: None,
            ..config()
        },
    );
    let mut client = server.greeted();
    round_trip(&mut client, b"then nothing");
    drop(client);
    let started = Instant::now();
    let stats = server.stop();
    println!("stopped {:?} after the stop request", started.elapsed());
    assert_eq!(stats.connections_served, 1);
}

#[test]
fn stop_handle_works_before_run_and_twice() {
    let server = Server::bind(config()).unwrap();
    let stop = server.stop_handle();
    assert!(!stop.is_stopping());
    stop.stop();
    assert!(stop.is_stopping());
    stop.stop();
    let stats = server.run().unwrap();
    assert_eq!(stats.connections_served, 0);
}

#[test]
fn local_addr_reports_the_ephemeral_port() {
    let server = Server::bind(config()).unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert!(addr.ip().is_loopback());
    assert!(
        ["epoll", "kqueue", "poll", "iocp", "event ports"].contains(&server.backend()),
        "unexpected backend {}",
        server.backend()
    );
}

#[test]
fn binding_a_used_address_names_the_address_and_the_cause() {
    let first = Server::bind(config()).unwrap();
    let addr = first.local_addr();
    let err = match Server::bind(Config {
        addrs: vec![addr],
        ..config()
    }) {
        Ok(_) => panic!("second bind of {addr} succeeded"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("binding {addr}: ")),
        "{message}"
    );
    assert!(!message.contains("os error"), "{message}");
}

/// The summary line the binary logs at exit reads back into the same
/// statistics (the black-box tests rely on it).
#[test]
fn the_summary_line_reads_back_into_the_statistics() {
    let mut stats = Stats {
        connections_served: 1,
        peak_connections: 2,
        connections_rejected: 3,
        connections_timed_out: 4,
        connections_failed: 5,
        connections_lost_before_accept: 6,
        accept_pauses: 7,
        ..Stats::default()
    };
    stats.bytes.received = 8;
    stats.bytes.echoed = 9;
    stats.bytes.discarded = 10;
    stats.bytes.peak_pending_one = 11;
    stats.bytes.peak_pending_total = 12;
    let log = format!("[INFO] stopped: {stats}\n");
    assert_eq!(launch::parse_stats(&log), Some(stats));
}
