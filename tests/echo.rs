//! The server's promises, checked over real loopback sockets with an
//! in-process server. WASI preview 1 cannot bind sockets: see tests/wasi.rs.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use portable_echo::testing::pattern;
use portable_echo::{Config, Server};

#[test]
fn greets_with_exactly_hello_world_then_echoes() {
    let server = start(config());
    let mut client = server.connect();
    let mut greeting = [0u8; 13];
    client.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"Hello world!\n");
    // The next bytes are the echo, not more greeting.
    round_trip(&mut client, b"ping\n");
    drop(client);
    let stats = server.stop();
    assert_eq!(stats.connections_served, 1);
    assert_eq!(stats.bytes.bytes_echoed, 5);
}

#[test]
fn greeting_flag_replaces_the_greeting() {
    let server = start(Config {
        greeting: b"\x00custom \xff\n".to_vec(),
        ..config()
    });
    let mut client = server.connect();
    expect_greeting(&mut client, b"\x00custom \xff\n");
    round_trip(&mut client, b"x");
    server.stop();
}

#[test]
fn empty_greeting_sends_nothing_first() {
    let server = start(Config {
        greeting: Vec::new(),
        ..config()
    });
    let mut client = server.connect();
    round_trip(&mut client, b"first bytes are the echo");
    server.stop();
}

#[test]
fn echoes_every_byte_value() {
    let server = start(config());
    let mut client = server.greeted();
    let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
    round_trip(&mut client, &all);
    server.stop();
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

#[test]
fn echoes_4_mib_intact() {
    let server = start(config());
    let client = server.greeted();
    let data = pattern(4 << 20, 1);
    let back = echo_concurrently(client, data.clone());
    assert!(back == data, "4 MiB echo differs");
    let stats = server.stop();
    assert_eq!(stats.bytes.bytes_echoed, 4 << 20);
    assert!(stats.bytes.peak_pending_one <= 64 * 1024);
}

#[test]
fn serves_128_concurrent_clients_byte_for_byte() {
    const CLIENTS: usize = 128;
    const ROUNDS: usize = 16;
    const CHUNK: usize = 1024;
    let server = start(config());
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
                        let data = pattern(CHUNK, (*i * ROUNDS + round) as u64);
                        let mut back = vec![0; CHUNK];
                        client.read_exact(&mut back).unwrap();
                        assert!(back == data, "client {i} round {round}: echo differs");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let stats = server.stop();
    assert_eq!(stats.connections_served, CLIENTS as u64);
    assert_eq!(stats.peak_connections, CLIENTS);
    assert_eq!(stats.bytes.bytes_echoed, (CLIENTS * ROUNDS * CHUNK) as u64);
}

#[test]
fn half_close_gets_everything_back_then_end_of_stream() {
    let server = start(config());
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
    assert!(back == data, "half-closed echo differs");
    let stats = server.stop();
    assert_eq!(stats.connections_failed, 0, "a half-close is not an error");
}

#[test]
fn half_close_right_after_connect_still_gets_the_greeting() {
    let server = start(config());
    let mut client = server.connect();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), GREETING);
    server.stop();
}

#[test]
fn a_reset_closes_only_that_connection() {
    let server = start(config());
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
    let stats = server.stop();
    assert_eq!(stats.connections_served, 3);
    assert_eq!(
        stats.connections_failed, 1,
        "the reset is seen as an error on that connection"
    );
}

#[test]
fn a_client_that_never_reads_is_capped_and_others_are_served() {
    const MAX_PENDING: usize = 64 * 1024;
    let server = start(Config {
        max_pending: MAX_PENDING,
        ..config()
    });
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
    let stats = server.stop();
    drop(stalled);
    assert!(
        stats.bytes.peak_pending_one <= MAX_PENDING,
        "one connection buffered {} bytes, over max-pending {MAX_PENDING}",
        stats.bytes.peak_pending_one
    );
    assert!(
        stats.bytes.bytes_received < sent as u64 + data.len() as u64,
        "the server kept reading from a client that does not read"
    );
}

#[test]
fn over_max_connections_is_accepted_and_closed() {
    let server = start(Config {
        max_connections: 2,
        ..config()
    });
    let first = server.greeted();
    let mut second = server.greeted();
    let mut third = server.connect();
    expect_closed_without_data(&mut third);
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
    let stats = server.stop();
    assert!(stats.connections_rejected >= 1);
    assert_eq!(stats.peak_connections, 2);
}

#[test]
fn idle_timeout_closes_idle_clients_and_spares_active_ones() {
    let timeout = Duration::from_millis(300);
    let server = start(Config {
        idle_timeout: Some(timeout),
        ..config()
    });
    let mut idle = server.greeted();
    let mut active = server.greeted();
    let started = Instant::now();
    // Keep one client busy well past the timeout while the other sleeps.
    while started.elapsed() < timeout * 3 {
        round_trip(&mut active, b"tick");
        thread::sleep(timeout / 6);
    }
    expect_closed_without_data(&mut idle);
    round_trip(&mut active, b"still alive");
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 1);
}

#[test]
fn idle_timeout_zero_keeps_connections() {
    let server = start(Config {
        idle_timeout: None,
        ..config()
    });
    let mut client = server.greeted();
    round_trip(&mut client, b"a");
    let stats = server.stop();
    assert_eq!(stats.connections_timed_out, 0);
}

/// What the server had received when the stop came is echoed in full, then
/// a clean end of stream; what arrives after that is discarded, not
/// answered with a reset. Every byte is accounted for.
#[test]
fn stop_echoes_what_it_received_then_ends_the_stream_cleanly() {
    let server = start(config());
    let mut client = server.greeted();
    let data = pattern(128 * 1024, 5);
    // Sent but not read: the server owes what it took in when the stop comes.
    let mut writer = client.try_clone().unwrap();
    let to_send = data.clone();
    let sending = thread::spawn(move || writer.write_all(&to_send).unwrap());
    let stop = server.stop.clone();
    eventually(STEP, "the writer to finish", || sending.is_finished());
    stop.stop();
    let back = read_to_end(&mut client);
    assert!(
        back == data[..back.len()],
        "the echo differs from what was sent"
    );
    drop(client);
    let stats = server.wait(STEP);
    println!(
        "sent {}, echoed {}, discarded {}",
        data.len(),
        back.len(),
        stats.bytes.bytes_discarded
    );
    assert_eq!(
        stats.bytes.bytes_received,
        back.len() as u64,
        "all received bytes came back"
    );
    assert_eq!(stats.bytes.bytes_echoed, back.len() as u64);
    assert_eq!(
        stats.bytes.bytes_echoed + stats.bytes.bytes_discarded,
        data.len() as u64,
        "every byte sent was echoed or discarded after the end of stream"
    );
}

#[test]
fn stop_closes_idle_connections_and_stops_accepting() {
    let server = start(config());
    let mut idle = server.greeted();
    let addr = server.addr;
    let stats = server.stop();
    assert_eq!(
        read_to_end(&mut idle),
        b"",
        "idle client sees end of stream"
    );
    assert_eq!(stats.connections_served, 1);
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after stop"
    );
}

#[test]
fn stop_gives_up_after_the_grace_period() {
    let grace = Duration::from_millis(300);
    let server = start(Config {
        shutdown_grace: grace,
        max_pending: 1024,
        ..config()
    });
    let stalled = server.greeted();
    let mut writer = stalled.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // Fill the server's pending queue; the client never reads.
    let chunk = pattern(8192, 6);
    while writer.write(&chunk).is_ok() {}
    let started = Instant::now();
    let stats = server.stop();
    assert!(
        started.elapsed() >= grace,
        "stopped before the grace period although bytes were owed"
    );
    assert!(stats.bytes.peak_pending_one > 0);
    drop(stalled);
}

#[test]
fn stop_handle_works_before_run_and_twice() {
    let server = Server::bind(config()).unwrap();
    let stop = server.stop_handle();
    stop.stop();
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
    let err = match Server::bind(Config { addr, ..config() }) {
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
