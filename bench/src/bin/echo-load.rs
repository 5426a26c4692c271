//! `echo-load`: a single-threaded mio load generator for any echo server that
//! greets first.
//!
//! Connects every connection first and checks each greeting, then keeps
//! `--depth` messages of `--size` bytes in flight on each connection, verifies
//! every echoed byte, and after `--warmup` measures for `--duration`: messages
//! per second, MB/s (10^6 bytes, one direction), latency percentiles from send
//! to last echoed byte, errors. Given `--server-pid` it also reads the
//! server's CPU time and RSS from /proc over exactly the measured window, and
//! with `--perf` counts the server's system calls in that window with
//! `perf stat -e raw_syscalls:sys_enter`.
//!
//! The client is built to cost as little per echo as possible so that the
//! server is what is measured: one shared read buffer, payloads written
//! straight from a precomputed [`Period`] of the tests' payload stream,
//! verification by `memcmp` against the same bytes, and (on epoll/kqueue) a
//! short read or write is taken as proof that the socket would block, saving
//! the call that would say so.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
// A short read or write proves WouldBlock only where the server's own rule
// says so (epoll and kqueue): the client follows the same per-backend rule.
use portable_echo::connection::SHORT_IO_PROVES_WOULD_BLOCK;
use portable_echo::testing::payload::Period;
use portable_echo_bench::{Output, SyscallCounter, connect_greeted, own_cpu_secs, proc};
use serde_json::json;

/// Every connection sends the stream that repeats this many bytes (a prime)
/// of the payload stream, each from its own phase.
const PERIOD: usize = 251;
/// Most bytes handed to one write call, and the read buffer all
/// connections share.
const MAX_IO: usize = 256 * 1024;

/// Load generator for echo servers that greet first (single-threaded, mio).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server address
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Connections, all opened (and greeted) before any load
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Message size in bytes
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    size: u32,
    /// Messages in flight per connection (1: ping-pong)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    depth: u32,
    /// Measured seconds
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of load before measuring
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Expected greeting
    #[arg(long, default_value_t = portable_echo_bench::default_greeting())]
    greeting: String,
    /// Expect a greeting of this many bytes, whatever they are (overrides --greeting)
    #[arg(long)]
    greeting_len: Option<usize>,
    /// PID of the server: report its CPU time and RSS over the measured window (Linux: /proc)
    #[arg(long)]
    server_pid: Option<u32>,
    /// Count the server's system calls over the measured window with Linux's perf (needs --server-pid)
    #[arg(long, requires = "server_pid")]
    perf: bool,
    #[command(flatten)]
    output: Output,
}

struct Conn {
    stream: TcpStream,
    /// Where in the repeating stream this connection's bytes start.
    phase: u64,
    /// Bytes written.
    sent: u64,
    /// Bytes echoed back and verified.
    received: u64,
    /// Bytes that may be written: `depth` messages past the last echoed one.
    limit: u64,
    /// Messages released for sending (their send times are recorded).
    released: u64,
    readable: bool,
    writable: bool,
    dead: bool,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    messages: u64,
    bytes: u64,
}

struct Load {
    conns: Vec<Conn>,
    payload: Period,
    read_buf: Vec<u8>,
    /// Send time of message k of connection c at `c * depth + k % depth`.
    sent_at: Vec<Instant>,
    size: u64,
    depth: u64,
    measuring: bool,
    totals: Totals,
    errors: u64,
    first_error: Option<String>,
    histogram: Histogram<u64>,
}

impl Load {
    fn fail(&mut self, i: usize, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("connection {i}: {what}"));
        }
        self.conns[i].dead = true;
    }

    /// Releases messages up to `limit` and writes until done or blocked.
    fn pump(&mut self, i: usize) {
        loop {
            let c = &mut self.conns[i];
            if c.dead {
                return;
            }
            if c.readable {
                match c.stream.read(&mut self.read_buf) {
                    Ok(0) => {
                        let what = format!(
                            "server closed the connection with {} bytes owed",
                            c.sent - c.received
                        );
                        return self.fail(i, what);
                    }
                    Ok(n) => {
                        if n < self.read_buf.len() && SHORT_IO_PROVES_WOULD_BLOCK {
                            c.readable = false;
                        }
                        let owed = c.sent - c.received;
                        if n as u64 > owed {
                            let what = format!("{n} bytes echoed when {owed} were owed");
                            return self.fail(i, what);
                        }
                        if self.read_buf[..n] != *self.payload.at(c.phase + c.received, n) {
                            let what = format!(
                                "echoed bytes differ from those sent (at offset {})",
                                c.received
                            );
                            return self.fail(i, what);
                        }
                        let before = c.received / self.size;
                        c.received += n as u64;
                        let done = c.received / self.size;
                        if done > before {
                            let now = Instant::now();
                            let base = i * self.depth as usize;
                            if self.measuring {
                                for k in before..done {
                                    let at = self.sent_at[base + (k % self.depth) as usize];
                                    let nanos = now.duration_since(at).as_nanos() as u64;
                                    let _ = self.histogram.record(nanos.max(1));
                                }
                                self.totals.messages += done - before;
                                self.totals.bytes += (done - before) * self.size;
                            }
                            let c = &mut self.conns[i];
                            let target = done + self.depth;
                            for k in c.released..target {
                                self.sent_at[base + (k % self.depth) as usize] = now;
                            }
                            c.released = target;
                            c.limit = target * self.size;
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => c.readable = false,
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return self.fail(i, format!("reading: {err}")),
                }
            }
            let c = &mut self.conns[i];
            while c.writable && c.sent < c.limit {
                let len = ((c.limit - c.sent) as usize).min(MAX_IO);
                match c.stream.write(self.payload.at(c.phase + c.sent, len)) {
                    Ok(0) => return self.fail(i, "write returned 0".into()),
                    Ok(n) => {
                        c.sent += n as u64;
                        if n < len && SHORT_IO_PROVES_WOULD_BLOCK {
                            c.writable = false;
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => c.writable = false,
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return self.fail(i, format!("writing: {err}")),
                }
            }
            if !c.readable {
                return;
            }
        }
    }
}

struct Window {
    start: Instant,
    cpu_ticks: Option<(u64, u64)>,
    sched_ns: Option<u64>,
    client_cpu: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("echo-load: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> io::Result<ExitCode> {
    let n = args.connections as usize;
    let size = args.size as u64;
    let depth = args.depth as u64;
    let (expected, greeting_len) = match args.greeting_len {
        Some(len) => (None, len),
        None => (Some(args.greeting.as_bytes()), args.greeting.len()),
    };

    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let std_stream = connect_greeted(args.addr, expected, greeting_len)
            .map_err(|err| io::Error::new(err.kind(), format!("connection {i}: {err}")))?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            phase: (i * 37 % PERIOD) as u64,
            sent: 0,
            received: 0,
            limit: 0,
            released: 0,
            readable: false,
            writable: true,
            dead: false,
        });
    }

    let start = Instant::now();
    let mut load = Load {
        conns,
        payload: Period::new(0, PERIOD, MAX_IO),
        read_buf: vec![0; MAX_IO],
        sent_at: vec![start; n * depth as usize],
        size,
        depth,
        measuring: false,
        totals: Totals::default(),
        errors: 0,
        first_error: None,
        histogram: Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(io::Error::other)?,
    };
    for i in 0..n {
        let c = &mut load.conns[i];
        c.released = depth;
        c.limit = depth * size;
        load.pump(i);
    }

    let mut perf = if args.perf {
        Some(SyscallCounter::attach(
            args.server_pid.expect("clap requires it"),
        )?)
    } else {
        None
    };
    let warm_end = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = warm_end + Duration::from_secs_f64(args.duration.max(0.01));
    let mut window: Option<Window> = None;
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        if window.is_none() && now >= warm_end {
            if let Some(perf) = perf.as_mut() {
                perf.enable()?;
            }
            let cpu_ticks = args.server_pid.map(proc::cpu_ticks).transpose()?;
            let sched_ns = args.server_pid.map(proc::sched_ns).transpose()?;
            load.measuring = true;
            load.totals = Totals::default();
            load.histogram.reset();
            window = Some(Window {
                start: Instant::now(),
                cpu_ticks,
                sched_ns,
                client_cpu: own_cpu_secs(),
            });
            continue;
        }
        if now >= end {
            break;
        }
        let next = if window.is_none() { warm_end } else { end };
        match poll.poll(&mut events, Some(next - now)) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        for event in events.iter() {
            let i = event.token().0;
            let c = &mut load.conns[i];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                c.readable = true;
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                c.writable = true;
            }
            load.pump(i);
        }
        if load.conns.iter().all(|c| c.dead) {
            break;
        }
    }
    let window = window.unwrap_or(Window {
        start: Instant::now(),
        cpu_ticks: None,
        sched_ns: None,
        client_cpu: own_cpu_secs(),
    });
    let totals = load.totals;
    let elapsed = window.start.elapsed().as_secs_f64();
    let client_cpu = own_cpu_secs() - window.client_cpu;
    let cpu_end = args.server_pid.map(proc::cpu_ticks).transpose()?;
    let sched_end = args.server_pid.map(proc::sched_ns).transpose()?;
    let rss_kib = args.server_pid.map(proc::rss_kib).transpose()?;
    let syscalls = match perf.take() {
        Some(mut perf) => {
            perf.disable()?;
            Some(perf.finish()?)
        }
        None => None,
    };
    let hz = proc::clock_ticks_per_sec() as f64;
    let (server_cpu, server_user) = match (window.cpu_ticks, cpu_end) {
        (Some(a), Some(b)) => (
            Some(((b.0 + b.1) - (a.0 + a.1)) as f64 / hz),
            Some((b.0 - a.0) as f64 / hz),
        ),
        _ => (None, None),
    };

    let server_sched = match (window.sched_ns, sched_end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
        _ => None,
    };
    let msgs = totals.messages as f64;
    let per_echo = |x: f64| if msgs > 0.0 { x / msgs } else { f64::NAN };
    let h = &load.histogram;
    let pct = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let msgs_per_s = msgs / elapsed;
    let mb_per_s = totals.bytes as f64 / elapsed / 1e6;
    if args.output.json {
        let record = args.output.record(json!({
            "addr": args.addr.to_string(),
            "connections": n,
            "size": size,
            "depth": depth,
            "seconds": elapsed,
            "messages": totals.messages,
            "msgs_per_s": msgs_per_s,
            "mb_per_s": mb_per_s,
            "errors": load.errors,
            "p50_us": pct(0.5),
            "p99_us": pct(0.99),
            "p999_us": pct(0.999),
            "max_us": h.max() as f64 / 1000.0,
            "client_cpu_us_per_echo": per_echo(client_cpu * 1e6),
            "server_cpu_s": server_cpu,
            "server_cpu_us_per_echo": server_cpu.map(|s| per_echo(s * 1e6)),
            "server_user_us_per_echo": server_user.map(|s| per_echo(s * 1e6)),
            "server_sched_us_per_echo": server_sched.map(|s| per_echo(s * 1e6)),
            "server_rss_kib": rss_kib,
            "syscalls": syscalls,
            "syscalls_per_echo": syscalls.map(|s| per_echo(s as f64)),
            "first_error": load.first_error,
        }));
        println!("{record}");
    } else {
        println!(
            "{n} connections x {size} B, depth {depth}, {elapsed:.2} s: {msgs_per_s:.0} msgs/s, {mb_per_s:.2} MB/s, {} errors",
            load.errors
        );
        println!(
            "latency us: p50 {:.1}  p99 {:.1}  p999 {:.1}  max {:.1}",
            pct(0.5),
            pct(0.99),
            pct(0.999),
            h.max() as f64 / 1000.0
        );
        println!("client CPU {:.2} us/echo", per_echo(client_cpu * 1e6));
        if let Some(cpu) = server_cpu {
            println!(
                "server CPU {cpu:.2} s = {:.2} us/echo ({:.2} us in user space), RSS {} KiB",
                per_echo(cpu * 1e6),
                per_echo(server_user.unwrap_or(0.0) * 1e6),
                rss_kib.unwrap_or(0)
            );
        }
        if let Some(s) = syscalls {
            println!("server syscalls {s} = {:.3} per echo", per_echo(s as f64));
        }
        if let Some(err) = &load.first_error {
            println!("first error: {err}");
        }
    }
    Ok(if load.errors == 0 && totals.messages > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
