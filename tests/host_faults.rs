//! Faults that need the real binary in a child process, launched through the
//! cell's launcher (black-box tests): running out of descriptors under a low
//! RLIMIT_NOFILE, and SIGTERM / SIGINT under load.
//!
//! Unix only, a named exception: Windows has no RLIMIT_NOFILE a parent can
//! lower for a child, and no SIGTERM/SIGINT to send to one (Ctrl-C reaches
//! only processes sharing a console). tests/exhaustion.rs covers exhaustion
//! in process; tests/echo.rs covers the stop in process everywhere.
#![cfg(unix)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::abuse::*;
use common::*;
use portable_echo::testing::payload::first_mismatch;

/// The binary, launched through the cell's launcher on an ephemeral port,
/// with RLIMIT_NOFILE set to `nofile` for it when given: soft and hard, or
/// the server would raise the soft limit for its connections.
fn spawn(args: &[&str], nofile: Option<libc::rlim_t>) -> Launched {
    let mut all = vec!["--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Launched::spawn(&all, |command| {
        if let Some(limit) = nofile {
            rlimit::for_child(command, limit, limit);
        }
    })
}

/// Open descriptors of process `pid` numbered below `limit`: RLIMIT_NOFILE
/// caps the numbers of new descriptors, and the child may have inherited
/// some above it (from whatever started the test) that do not count.
#[cfg(target_os = "linux")]
fn descriptors_below(pid: i32, limit: libc::rlim_t) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_str()?
                .parse::<libc::rlim_t>()
                .ok()
        })
        .filter(|&fd| fd < limit)
        .count()
}

/// Whether bytes are waiting to be read on this client, without waiting.
fn has_data(client: &TcpStream) -> bool {
    client.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let ready = match client.peek(&mut byte) {
        Ok(n) => n > 0,
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(err) => panic!("peeking: {err}"),
    };
    client.set_nonblocking(false).unwrap();
    ready
}

fn descriptor_exhaustion_in_a_child_neither_exits_nor_spins_and_recovers() {
    const NOFILE: libc::rlim_t = 32;
    const CLIENTS: usize = 40;
    // How long the server stays exhausted while its CPU time is measured.
    const WINDOW: Duration = Duration::from_secs(1);
    // The binary pauses accepting for the library's default period.
    let pause = portable_echo::Config::default().accept_pause;
    let mut served = spawn(&[], Some(NOFILE));
    #[cfg(target_os = "linux")]
    let fds_idle = descriptors_below(served.pid() as i32, NOFILE);

    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(served.addr)).collect();
    // The server accepts until a descriptor is refused, then logs the pause.
    let started = Instant::now();
    while !served.log().contains("pausing accepts") {
        assert!(
            started.elapsed() < STEP,
            "never ran out of descriptors:\n{}",
            served.log()
        );
        thread::sleep(Duration::from_millis(5));
    }
    let exhausted_at = Instant::now();
    // A greeting is written as a connection is accepted, before the next
    // accept: the accepted clients are those that have one now.
    let accepted: Vec<bool> = clients.iter().map(has_data).collect();
    let cap = accepted.iter().filter(|&&a| a).count();
    assert!(cap > 0 && cap < CLIENTS, "{cap} of {CLIENTS} accepted");
    assert!(
        CLIENTS - cap <= cap,
        "{} clients wait for {cap} slots: raise NOFILE or lower CLIENTS",
        CLIENTS - cap
    );

    // Exhausted for a while: alive, serving its connections, not spinning.
    #[cfg(target_os = "linux")]
    let cpu_before = served.cpu_time();
    let window_started = Instant::now();
    let mut round_trips = 0u64;
    while window_started.elapsed() < WINDOW {
        for (client, _) in clients
            .iter_mut()
            .zip(&accepted)
            .filter(|(_, a)| **a)
            .take(4)
        {
            if round_trips == 0 {
                expect_greeting(client, GREETING);
            }
            round_trip(client, b"served while out of descriptors");
        }
        round_trips += 1;
        thread::sleep(Duration::from_millis(50));
    }
    let window = window_started.elapsed();
    #[cfg(target_os = "linux")]
    let cpu = served.cpu_time() - cpu_before;
    assert!(
        served.is_running(),
        "the server exited when out of descriptors:\n{}",
        served.log()
    );
    for (i, client) in clients.iter().enumerate() {
        if !accepted[i] {
            assert!(
                !has_data(client),
                "client {i} was greeted although no descriptor was free"
            );
        }
    }
    let exhausted_for = exhausted_at.elapsed();
    println!(
        "RLIMIT_NOFILE {NOFILE}: {cap} of {CLIENTS} clients accepted, the rest wait; \
         {} round trips on accepted clients in {exhausted_for:?} while exhausted",
        round_trips * 4
    );
    #[cfg(target_os = "linux")]
    {
        let fds = descriptors_below(served.pid() as i32, NOFILE);
        // Each wake-up is one failed accept and one log line: tens of
        // microseconds. Allow a millisecond per pause period in the window
        // (10 ms under a sanitizer, which slows every memory access 5 to 15
        // times and runs a thread of its own: 40 ms was measured once under
        // TSan), plus two clock ticks of /proc's granularity. A spinning
        // loop would use the whole window.
        // SAFETY: sysconf has no preconditions.
        let tick = Duration::from_secs(1) / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u32;
        let wakeups = (window.as_millis() / pause.as_millis()) as u32 + 1;
        let per_wakeup = match std::env::var_os("PORTABLE_ECHO_SANITIZER") {
            Some(_) => Duration::from_millis(10),
            None => Duration::from_millis(1),
        };
        let bound = per_wakeup * wakeups + tick * 2;
        println!(
            "descriptors of the child below the limit (/proc/PID/fd): {fds_idle} idle, \
             {fds} exhausted (limit {NOFILE}); CPU while exhausted {cpu:?} in {window:?} ({:.1}%), \
             bound {bound:?} ({wakeups} wake-ups x {per_wakeup:?} + 2 ticks of {tick:?})",
            100.0 * cpu.as_secs_f64() / window.as_secs_f64()
        );
        assert_eq!(fds, NOFILE as usize, "exhausted below the limit");
        assert_eq!(cap, NOFILE as usize - fds_idle);
        assert!(
            cpu <= bound,
            "{cpu:?} of CPU in {window:?} while exhausted: spinning"
        );
    }
    #[cfg(not(target_os = "linux"))]
    println!(
        "CPU while exhausted for {window:?}: not measured here \
         (read from /proc/PID/stat, Linux only)"
    );

    // Descriptors free up: the accepted clients leave, the waiting ones are
    // served without anyone restarting anything.
    let mut waiting = Vec::new();
    for (client, was_accepted) in clients.drain(..).zip(accepted) {
        if was_accepted {
            drop(client);
        } else {
            waiting.push(client);
        }
    }
    let freed_at = Instant::now();
    // One accept attempt per pause period, plus the first.
    let max_pauses =
        (freed_at.duration_since(exhausted_at).as_millis() / pause.as_millis()) as u64 + 2;
    for client in &mut waiting {
        expect_greeting(client, GREETING);
        round_trip(client, b"served again");
    }
    println!(
        "after {cap} clients left, the {} waiting ones were greeted and echoed within {:?}",
        waiting.len(),
        freed_at.elapsed()
    );
    drop(waiting);
    served.request_stop();
    let stats = served.finish(STEP);
    println!(
        "{} accept pauses of {pause:?} while exhausted (at most {max_pauses})",
        stats.accept_pauses
    );
    assert_eq!(stats.connections_served, CLIENTS as u64);
    assert!(stats.accept_pauses >= 1);
    assert!(
        stats.accept_pauses <= max_pauses,
        "{} accept pauses: spinning",
        stats.accept_pauses
    );
}

fn signal_under_load(signal: libc::c_int, name: &str) {
    const LOADERS: usize = 3;
    const OWED: usize = 4;
    const GRACE: Duration = Duration::from_secs(5);
    const MAX_PENDING: u64 = 16384;
    let mut served = spawn(
        &[
            "--shutdown-grace",
            &GRACE.as_secs().to_string(),
            "--max-pending",
            &MAX_PENDING.to_string(),
        ],
        None,
    );
    let addr = served.addr;
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..LOADERS)
        .map(|i| {
            let (signalled, stop) = (signalled.clone(), stop.clone());
            thread::spawn(move || load_client(addr, 100 + i as u64, signalled, stop))
        })
        .collect();
    // Clients the server owes bytes to: each sent until the server stopped
    // reading from it, and has read nothing but the greeting.
    let mut owed: Vec<(TcpStream, u64)> = (0..OWED)
        .map(|i| {
            let mut client = greeted_small_buffered_client(addr);
            let sent = flood_until_quiet(&mut client, 200 + i as u64, 16 * 1024)
                .unwrap_or_else(|err| panic!("owed client: {err}"));
            client.set_nonblocking(false).unwrap();
            (client, sent)
        })
        .collect();
    let owed_total: u64 = owed.iter().map(|(_, sent)| sent).sum();

    signalled.store(true, Ordering::SeqCst);
    served.signal(signal);
    let signalled_at = Instant::now();
    stop.store(true, Ordering::SeqCst);
    // Each owed client gets a verified prefix of what it sent, at least the
    // max-pending bytes the server held at the stop, then a clean end of
    // stream: never a reset, never a wrong byte. What it sent after the
    // server's cut is discarded (counted in the summary line).
    let mut owed_echoed = 0u64;
    for (i, (client, sent)) in owed.iter_mut().enumerate() {
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client.read(&mut buf).unwrap_or_else(|err| {
                panic!(
                    "owed client {i}: {err} after {got} of {sent} bytes:\n{}",
                    served.log()
                )
            });
            if n == 0 {
                break;
            }
            if let Some(at) = first_mismatch(200 + i as u64, got, &buf[..n]) {
                panic!("owed client {i}: echo differs at byte {}", got + at as u64);
            }
            got += n as u64;
        }
        assert!(
            got >= MAX_PENDING && got <= *sent,
            "owed client {i}: {got} bytes echoed of {sent} sent, expected at least the \
             {MAX_PENDING} the server held"
        );
        owed_echoed += got;
    }
    // Having seen the end of stream, the clients close; the server, which
    // lingers until its peers close, can then exit before the grace ends.
    drop(owed);
    let flushed_in = signalled_at.elapsed();
    let loads: Vec<(u64, u64, bool)> = loaders
        .into_iter()
        .map(|l| {
            l.join()
                .expect("a load client saw a wrong byte or an early close")
        })
        .collect();
    let status = served.wait(GRACE + STEP);
    let exited_in = signalled_at.elapsed();
    let log = served.log();
    let summary = log
        .lines()
        .find(|line| line.contains("stopped: served"))
        .unwrap_or("(no summary line)")
        .to_string();
    println!(
        "{name} under load: {OWED} clients that sent {owed_total} bytes without reading got \
         {owed_echoed} back, then end of stream, within {flushed_in:?}; load clients (round trips, bytes, cut by the stop) {loads:?}; \
         exited with {status} {exited_in:?} after the signal (grace {GRACE:?})"
    );
    println!("server log: {summary}");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        exited_in < GRACE,
        "took {exited_in:?}, not within the {GRACE:?} grace period"
    );
    assert!(log.contains(&format!("{name}: shutting down")), "{log}");
    assert!(
        summary.contains(&format!("stopped: served {} connections", LOADERS + OWED)),
        "{log}"
    );
    assert!(
        !log.contains("grace period over"),
        "bytes were still owed at the deadline:\n{log}"
    );
}

mod black_box {
    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "wasmtime is the process: a lowered RLIMIT_NOFILE and /proc measure the runtime, which holds the host sockets, not the server"
    )]
    fn descriptor_exhaustion_in_a_child_neither_exits_nor_spins_and_recovers() {
        super::descriptor_exhaustion_in_a_child_neither_exits_nor_spins_and_recovers();
    }

    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "about SIGTERM and SIGINT themselves, which WASI preview 2 does not have (its stop request, the end of stdin, runs in every stop test)"
    )]
    fn sigterm_under_load_exits_0_within_grace_with_owed_bytes_echoed() {
        super::signal_under_load(libc::SIGTERM, "SIGTERM");
    }

    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "about SIGTERM and SIGINT themselves, which WASI preview 2 does not have (its stop request, the end of stdin, runs in every stop test)"
    )]
    fn sigint_under_load_exits_0_within_grace_with_owed_bytes_echoed() {
        super::signal_under_load(libc::SIGINT, "SIGINT");
    }
}
