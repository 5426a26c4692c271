//! `echo-burst`: a burst of clients connecting at once, as after a restart of
//! a busy server. Starts `--connections` non-blocking connects back to back
//! from one thread (a few tens of milliseconds for 2,000), reading the
//! greetings that arrive in between, then waits for the rest, and reports
//! per client the time from its connect call to
//! the last byte of its greeting: p50, p99, max, how many took longer than
//! `--slow` seconds (a SYN retransmit after a full accept queue costs a
//! second on Linux), how many were never greeted within `--timeout`, and how
//! many failed (reset, refused).
//!
//! A server whose listen backlog is too short for the burst shows up as a
//! cluster just above one second and, past a point, clients never greeted.

use std::io::{self, ErrorKind, Read};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use portable_echo_bench::{Output, default_greeting};

/// Measures connect-to-greeting times of a burst of clients.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Clients in the burst
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Expected greeting length
    #[arg(long, default_value_t = default_greeting().len())]
    greeting_len: usize,
    /// Seconds to wait for every greeting; later ones count as never greeted
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// A greeting later than this many seconds counts as slow
    #[arg(long, default_value_t = 0.9)]
    slow: f64,
    #[command(flatten)]
    output: Output,
}

/// Connects issued between two zero-timeout polls for greetings.
const CONNECTS_PER_POLL: usize = 16;

/// The clients of the burst and the poll that reads their greetings.
struct Burst {
    poll: Poll,
    events: Events,
    buf: Vec<u8>,
    greeting_len: usize,
    clients: Vec<Client>,
    /// Clients neither greeted nor failed yet.
    open: usize,
}

impl Burst {
    /// Waits up to `timeout` for readiness and reads what arrived, each
    /// client until its greeting is complete or it would block.
    fn serve(&mut self, timeout: Duration) -> io::Result<()> {
        if let Err(err) = self.poll.poll(&mut self.events, Some(timeout)) {
            return if err.kind() == ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(err)
            };
        }
        for event in &self.events {
            let client = &mut self.clients[event.token().0];
            if client.greeted_after.is_some() || client.failed {
                continue;
            }
            loop {
                let want = self.greeting_len - client.received;
                match client.stream.read(&mut self.buf[..want.max(1)]) {
                    Ok(0) => client.failed = true,
                    Ok(n) => {
                        client.received += n;
                        if client.received < self.greeting_len {
                            continue;
                        }
                        client.greeted_after = Some(client.started.elapsed());
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => client.failed = true,
                }
                self.open -= 1;
                break;
            }
        }
        Ok(())
    }
}

struct Client {
    stream: TcpStream,
    started: Instant,
    received: usize,
    /// Time from the connect call to the greeting's last byte, once greeted.
    greeted_after: Option<Duration>,
    failed: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("echo-burst: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let mut burst = Burst {
        poll: Poll::new()?,
        events: Events::with_capacity(1024),
        buf: vec![0; args.greeting_len.max(1)],
        greeting_len: args.greeting_len,
        clients: Vec::with_capacity(args.connections as usize),
        open: 0,
    };
    let burst_started = Instant::now();
    for i in 0..args.connections as usize {
        let started = Instant::now();
        let mut stream = TcpStream::connect(args.addr)
            .map_err(|err| io::Error::new(err.kind(), format!("connect {i}: {err}")))?;
        burst
            .poll
            .registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        burst.clients.push(Client {
            stream,
            started,
            received: 0,
            greeted_after: None,
            failed: false,
        });
        burst.open += 1;
        // Greetings are read while the burst goes on, so a greeting's time
        // is when it arrived (within CONNECTS_PER_POLL connects), not when
        // the last connect was issued.
        if (i + 1) % CONNECTS_PER_POLL == 0 {
            burst.serve(Duration::ZERO)?;
        }
    }
    let burst_took = burst_started.elapsed();
    let deadline = burst_started + Duration::from_secs_f64(args.timeout);
    while burst.open > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        burst.serve(deadline - now)?;
    }
    let clients = burst.clients;

    let mut times: Vec<f64> = clients
        .iter()
        .filter_map(|c| c.greeted_after.map(|d| d.as_secs_f64() * 1e3))
        .collect();
    times.sort_by(f64::total_cmp);
    let failed = clients.iter().filter(|c| c.failed).count();
    let not_greeted = clients.len() - times.len() - failed;
    let slow = times.iter().filter(|&&ms| ms > args.slow * 1e3).count();
    let pct = |p: f64| -> f64 {
        if times.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
        times[rank.clamp(1, times.len()) - 1]
    };
    let (p50, p99, max) = (pct(50.0), pct(99.0), pct(100.0));
    if args.output.json {
        let json = args
            .output
            .record()
            .num("burst", clients.len() as f64)
            .num("burst_connect_ms", burst_took.as_secs_f64() * 1e3)
            .num("burst_p50_ms", p50)
            .num("burst_p99_ms", p99)
            .num("burst_max_ms", max)
            .num("burst_slow", slow as f64)
            .num("burst_slow_s", args.slow)
            .num("burst_not_greeted", not_greeted as f64)
            .num("burst_failed", failed as f64)
            .finish();
        println!("{json}");
    } else {
        println!(
            "{} clients (connects issued in {:.1} ms): greeted p50 {p50:.1} ms, p99 {p99:.1} ms, \
             max {max:.1} ms; {slow} after {} s; {not_greeted} never greeted within {} s; {failed} failed",
            clients.len(),
            burst_took.as_secs_f64() * 1e3,
            args.slow,
            args.timeout
        );
    }
    Ok(())
}
