//! `echo-burst`: a burst of clients connecting at once, as after a restart of
//! a busy server (the client is `portable_echo::testing::burst`, which
//! tests/burst.rs uses too). Reports per client the time from its connect
//! call to the last byte of its greeting: p50, p99, max, how many took
//! longer than `--slow` seconds (a SYN retransmit after a full accept queue
//! costs a second on Linux), how many were never greeted within `--timeout`,
//! and how many failed (reset, refused, a wrong greeting).

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use portable_echo::testing::burst::{Want, burst};
use portable_echo_bench::{Output, default_greeting};
use serde_json::json;

/// Measures connect-to-greeting times of a burst of clients.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Clients in the burst
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Expected greeting
    #[arg(long, default_value_t = default_greeting())]
    greeting: String,
    /// Seconds to wait for every greeting; later ones count as never greeted
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// A greeting later than this many seconds counts as slow
    #[arg(long, default_value_t = 0.9)]
    slow: f64,
    #[command(flatten)]
    output: Output,
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
    let burst = burst(
        args.addr,
        args.connections as usize,
        Want::Greeting(args.greeting.as_bytes()),
        Duration::from_secs_f64(args.timeout),
    )?;
    let summary = burst.summary(Duration::from_secs_f64(args.slow));
    if let Some((i, err)) = burst.first_failure() {
        eprintln!("echo-burst: client {i} (the first to fail): {err}");
    }
    if args.output.json {
        let ms = |time: Option<Duration>| time.map(|t| t.as_secs_f64() * 1e3);
        let record = args.output.record(json!({
            "burst": summary.clients,
            "burst_connect_ms": burst.connects_issued_in.as_secs_f64() * 1e3,
            "burst_p50_ms": ms(summary.p50),
            "burst_p99_ms": ms(summary.p99),
            "burst_max_ms": ms(summary.max),
            "burst_slow": summary.slow,
            "burst_slow_s": args.slow,
            "burst_not_greeted": summary.waiting,
            "burst_failed": summary.failed,
        }));
        println!("{record}");
    } else {
        println!(
            "connects issued in {:.1} ms; connect to greeting: {summary}",
            burst.connects_issued_in.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
