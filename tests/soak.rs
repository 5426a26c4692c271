//! The soak: well-behaved and faulty clients together for a while, checking
//! that no byte is ever wrong, that descriptors return to where they started
//! and (with the server in a child process) that memory stays flat after a
//! warm-up. Each run prints its figures.
//!
//! `PORTABLE_ECHO_SOAK_SECS` sets how long each soak runs: 3 seconds unless
//! set (what `cargo test` runs), about 30 in the matrix, 600 for the long run
//! that README documents. The two soaks here run one after the other.
//!
//! WASI preview 1 cannot bind a socket (tests/wasi.rs): nothing here runs there.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::abuse::*;
use common::*;
use portable_echo::Config;
use portable_echo::testing::payload::{fill, first_mismatch};

/// Threads of well-behaved clients, and the connections each keeps open.
const ECHO_WORKERS: usize = 2;
const ECHO_CLIENTS: usize = 3;
/// Silent clients the faulty worker keeps open at once, one more every
/// quarter of the idle timeout (so the timeout reaps them).
const IDLERS: usize = 6;
/// Largest chunk a well-behaved client sends before reading its echo.
const MAX_CHUNK: usize = 16 * 1024;
/// The server settings the soaks run with.
const MAX_PENDING: usize = 16 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

fn soak_duration() -> Duration {
    let secs = match std::env::var("PORTABLE_ECHO_SOAK_SECS") {
        Ok(value) => value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("PORTABLE_ECHO_SOAK_SECS={value:?} is not a number")),
        Err(_) => 3.0,
    };
    Duration::from_secs_f64(secs)
}

/// What the load did.
#[derive(Default, Debug)]
struct LoadReport {
    /// Connections opened (each one the server may have served).
    opened: u64,
    /// Round trips of well-behaved clients, every byte verified.
    round_trips: u64,
    /// Bytes those round trips echoed.
    verified_bytes: u64,
    /// Well-behaved connections closed by half-close and replaced.
    reconnects: u64,
    /// Misbehaving connections, by what they did.
    faulty: u64,
    faults: FaultTally,
    /// Silent clients opened.
    idlers: u64,
    /// Bytes found different from what was sent: always 0, since the first
    /// mismatch fails the soak; printed so the figure is explicit.
    mismatches: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A well-behaved client: `seed` names its byte stream.
struct Echoer {
    seed: u64,
    client: TcpStream,
    offset: u64,
}

impl Echoer {
    fn open(addr: SocketAddr, seed: u64) -> Echoer {
        let mut client = connect(addr);
        expect_greeting(&mut client, GREETING);
        Echoer {
            seed,
            client,
            offset: 0,
        }
    }

    /// Half-closes and expects the end of stream right after the last echo.
    fn close(mut self) {
        self.client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            read_to_end(&mut self.client),
            b"",
            "client {}: bytes after its own",
            self.seed
        );
    }
}

fn echo_worker(addr: SocketAddr, worker: usize, deadline: Instant) -> LoadReport {
    let mut report = LoadReport::default();
    let mut rng = Rng(0x5EED + worker as u64);
    let mut next_seed = (worker as u64 + 1) << 32;
    let mut open = |report: &mut LoadReport| {
        next_seed += 1;
        report.opened += 1;
        Echoer::open(addr, next_seed)
    };
    let mut clients: Vec<Echoer> = (0..ECHO_CLIENTS).map(|_| open(&mut report)).collect();
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut lens = [0usize; ECHO_CLIENTS];
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        for (echoer, len) in clients.iter_mut().zip(&mut lens) {
            *len = 1 + (rng.next() as usize) % MAX_CHUNK;
            fill(echoer.seed, echoer.offset, &mut buf[..*len]);
            echoer.client.write_all(&buf[..*len]).unwrap();
        }
        for (echoer, len) in clients.iter_mut().zip(&lens) {
            echoer.client.read_exact(&mut buf[..*len]).unwrap();
            if let Some(at) = first_mismatch(echoer.seed, echoer.offset, &buf[..*len]) {
                panic!(
                    "client {}: echo differs at byte {}",
                    echoer.seed,
                    echoer.offset + at as u64
                );
            }
            echoer.offset += *len as u64;
            report.round_trips += 1;
            report.verified_bytes += *len as u64;
        }
        rounds += 1;
        if rounds % 64 == 0 {
            let at = (rounds / 64) as usize % ECHO_CLIENTS;
            let fresh = open(&mut report);
            std::mem::replace(&mut clients[at], fresh).close();
            report.reconnects += 1;
        }
    }
    for echoer in clients {
        echoer.close();
    }
    report
}

fn fault_worker(addr: SocketAddr, deadline: Instant) -> LoadReport {
    let mut report = LoadReport::default();
    let mut idlers: VecDeque<TcpStream> = VecDeque::new();
    let mut cycle = 0u64;
    // A new silent client every quarter of the idle timeout: each stays
    // IDLERS quarters, longer than the timeout, so the server reaps them.
    let mut next_idler = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_idler {
            // The oldest leaves (cleanly, its greeting read) when there are
            // too many; the server has usually reaped it already.
            let mut idler = connect(addr);
            expect_greeting(&mut idler, GREETING);
            idlers.push_back(idler);
            if idlers.len() > IDLERS {
                idlers.pop_front();
            }
            report.idlers += 1;
            next_idler = Instant::now() + IDLE_TIMEOUT / 4;
        } else {
            let kind = cycle as usize % MISBEHAVIOURS;
            misbehave(addr, kind, 0xFA17 + cycle, &mut report.faults);
            report.faulty += 1;
        }
        report.opened += 1;
        cycle += 1;
    }
    report
}

/// Runs the mixed load against `addr` until `duration` has passed.
fn run_load(addr: SocketAddr, duration: Duration) -> LoadReport {
    let deadline = Instant::now() + duration;
    let mut workers: Vec<_> = (0..ECHO_WORKERS)
        .map(|w| thread::spawn(move || echo_worker(addr, w, deadline)))
        .collect();
    workers.push(thread::spawn(move || fault_worker(addr, deadline)));
    let mut total = LoadReport::default();
    for worker in workers {
        let report = worker
            .join()
            .expect("a client of the soak saw a wrong byte or an error");
        total.opened += report.opened;
        total.round_trips += report.round_trips;
        total.verified_bytes += report.verified_bytes;
        total.reconnects += report.reconnects;
        total.faulty += report.faulty;
        total.faults.abrupt += report.faults.abrupt;
        total.faults.half_closed += report.faults.half_closed;
        total.faults.half_closed_bytes += report.faults.half_closed_bytes;
        total.faults.unseen += report.faults.unseen;
        total.idlers += report.idlers;
    }
    total
}

fn describe_load(report: &LoadReport, duration: Duration) -> String {
    format!(
        "{duration:?}: {} connections opened; {} verified round trips ({} bytes, {:.1} MiB/s), \
         {} reconnects; {} misbehaving connections ({} abrupt, {} half-closed with {} verified \
         bytes), {} silent; {} mismatched bytes",
        report.opened,
        report.round_trips,
        report.verified_bytes,
        report.verified_bytes as f64 / duration.as_secs_f64() / (1 << 20) as f64,
        report.reconnects,
        report.faulty,
        report.faults.abrupt,
        report.faults.half_closed,
        report.faults.half_closed_bytes,
        report.idlers,
        report.mismatches
    )
}

#[test]
fn soak_in_process_no_mismatch_and_descriptors_back_to_start() {
    let _serial = fds::serial();
    let duration = soak_duration();
    let without_server = fds::count();
    let server = start(
        Mode::InProcess,
        Config {
            max_pending: MAX_PENDING,
            idle_timeout: Some(IDLE_TIMEOUT),
            ..config()
        },
    );
    let baseline = fds::count();
    let report = run_load(server.addr, duration);
    let (running, settle_time) = fds::settle_to(baseline, STEP);
    let stats = server.stop();
    let stopped = fds::count();
    println!("in-process soak, {}", describe_load(&report, duration));
    println!(
        "server: {} served, {} failed, {} timed out, peak {} connections, {} bytes echoed, \
         peak pending {} total / {} on one connection (max-pending {MAX_PENDING})",
        stats.connections_served,
        stats.connections_failed,
        stats.connections_timed_out,
        stats.peak_connections,
        stats.bytes.echoed,
        stats.bytes.peak_pending_total,
        stats.bytes.peak_pending_one
    );
    assert_eq!(report.mismatches, 0);
    fds::check_returned(
        "the soak",
        without_server,
        baseline,
        running,
        settle_time,
        stopped,
    );
    assert!(
        stats.connections_served <= report.opened
            && stats.connections_served >= report.opened - report.faults.unseen,
        "{} served of {} opened",
        stats.connections_served,
        report.opened
    );
    assert!(
        stats.connections_failed <= report.faults.abrupt,
        "{} connections failed but only {} ended abruptly",
        stats.connections_failed,
        report.faults.abrupt
    );
    assert!(stats.bytes.echoed >= report.verified_bytes + report.faults.half_closed_bytes);
    assert!(
        stats.connections_timed_out <= report.idlers,
        "{} connections timed out but only {} were silent",
        stats.connections_timed_out,
        report.idlers
    );
    assert!(stats.bytes.peak_pending_one <= MAX_PENDING);
    assert!(stats.bytes.peak_pending_total <= MAX_PENDING * stats.peak_connections);
}

/// The same load against the binary in a child process, whose resident
/// memory is sampled from /proc/PID/status (VmRSS) every 100 ms. Linux only:
/// other platforms have no /proc to read another process's RSS from (a
/// named exception; the in-process soak above runs everywhere).
#[cfg(target_os = "linux")]
mod black_box {
    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "wasmtime is the process: its RSS and descriptors are the runtime's"
    )]
    fn soak_in_a_child_keeps_rss_flat_after_warm_up() {
        super::soak_in_a_child_keeps_rss_flat_after_warm_up();
    }
}

#[cfg(target_os = "linux")]
fn soak_in_a_child_keeps_rss_flat_after_warm_up() {
    fn vm_rss_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .expect("VmRSS in /proc/PID/status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    fn fd_count(pid: u32) -> usize {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    }

    /// Most connections the server can hold for the load at once: the
    /// well-behaved ones, the idlers and the faulty worker's current
    /// connection, plus, per client thread, one that the client closed and
    /// the server has not yet seen close.
    const MAX_OPEN: usize = ECHO_WORKERS * ECHO_CLIENTS + IDLERS + 1 + ECHO_WORKERS + 1;
    let _serial = fds::serial();
    let duration = soak_duration();
    let mut served = Launched::spawn(
        &[
            "--addr",
            "127.0.0.1:0",
            "--max-pending",
            &MAX_PENDING.to_string(),
            "--idle-timeout",
            &IDLE_TIMEOUT.as_secs().to_string(),
        ],
        |_| {},
    );
    let pid = served.pid();
    let addr = served.addr;
    let fds_start = fd_count(pid);
    let rss_start = vm_rss_kib(pid);

    let started = Instant::now();
    let load = thread::spawn(move || run_load(addr, duration));
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    while !load.is_finished() {
        samples.push((started.elapsed(), vm_rss_kib(pid)));
        thread::sleep(Duration::from_millis(100));
    }
    let report = load
        .join()
        .expect("a client of the soak saw a wrong byte or an error");
    let settle_started = Instant::now();
    let mut fds_end = fd_count(pid);
    while fds_end > fds_start && settle_started.elapsed() < STEP {
        thread::sleep(Duration::from_millis(10));
        fds_end = fd_count(pid);
    }
    let rss_end = vm_rss_kib(pid);

    served.request_stop();
    let stats = served.finish(STEP);
    let log = served.log();
    let summary = log
        .lines()
        .find(|line| line.contains("stopped: served"))
        .unwrap_or("");
    let (served, echoed, timed_out) = (
        stats.connections_served,
        stats.bytes.echoed,
        stats.connections_timed_out,
    );

    // Warm-up: the first third. After it, the resident set may still move by
    // what the load can legitimately make the server hold at once: every
    // connection's pending queue full, at twice max-pending for the
    // queue's growth by doubling. Anything more grows with time: a leak.
    let warm_up = duration / 3;
    let peak = |range: &mut dyn Iterator<Item = &(Duration, u64)>| {
        range.map(|&(_, rss)| rss).max().unwrap_or(0)
    };
    let warm_peak = peak(&mut samples.iter().filter(|(at, _)| *at < warm_up));
    let after: Vec<&(Duration, u64)> = samples.iter().filter(|(at, _)| *at >= warm_up).collect();
    let after_peak = peak(&mut after.iter().copied());
    let growth = after_peak.saturating_sub(warm_peak);
    let bound_kib = (MAX_OPEN * 2 * MAX_PENDING / 1024) as u64;
    // Least-squares slope of RSS over time after the warm-up, for the record.
    let slope = {
        let n = after.len() as f64;
        let (sx, sy) = after.iter().fold((0.0, 0.0), |(sx, sy), (at, rss)| {
            (sx + at.as_secs_f64(), sy + *rss as f64)
        });
        let (mx, my) = (sx / n, sy / n);
        let (num, den) = after.iter().fold((0.0, 0.0), |(num, den), (at, rss)| {
            let dx = at.as_secs_f64() - mx;
            (num + dx * (*rss as f64 - my), den + dx * dx)
        });
        if den > 0.0 { num / den } else { 0.0 }
    };
    println!("child-process soak, {}", describe_load(&report, duration));
    println!("server log: {summary}");
    println!(
        "VmRSS (KiB): {rss_start} at start, peak {warm_peak} during the {warm_up:?} warm-up, \
         peak {after_peak} after it, {rss_end} at the end; growth after warm-up {growth} KiB \
         (bound {MAX_OPEN} connections x 2 x max-pending {MAX_PENDING} = {bound_kib} KiB), \
         slope after warm-up {slope:.1} KiB/s over {} samples",
        after.len()
    );
    println!("child descriptors (/proc/{pid}/fd): {fds_start} before the soak, {fds_end} after it");
    assert!(
        served <= report.opened && served >= report.opened - report.faults.unseen,
        "{served} served of {} opened",
        report.opened
    );
    assert!(echoed >= report.verified_bytes + report.faults.half_closed_bytes);
    assert!(
        timed_out <= report.idlers,
        "{timed_out} connections timed out but only {} were silent",
        report.idlers
    );
    assert!(after.len() >= 2, "too few RSS samples after the warm-up");
    // Built with a sanitizer (its matrix cell sets PORTABLE_ECHO_SANITIZER),
    // the child's memory is the tool's: ASan keeps freed blocks in a
    // quarantine (256 MiB by default) and a stack trace per allocation,
    // TSan maps shadow memory, so the resident set measures the tool, not
    // the server. Everything else here still holds, and the sanitizer
    // checks the child's memory itself (leaks at exit included).
    match std::env::var("PORTABLE_ECHO_SANITIZER") {
        Ok(sanitizer) => {
            println!("resident-memory bound not checked: built with the {sanitizer} sanitizer")
        }
        Err(_) => assert!(
            growth <= bound_kib,
            "resident memory grew {growth} KiB after the warm-up (bound {bound_kib} KiB)"
        ),
    }
    assert_eq!(
        fds_end, fds_start,
        "the server kept descriptors after the soak"
    );
    assert_eq!(report.mismatches, 0);
}
