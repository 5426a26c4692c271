//! `echo-idle`: RSS per idle connection. Reads the server's VmRSS, opens
//! `--connections` connections (each greeted), lets them sit, reads VmRSS
//! again and reports the difference per connection. Linux only (/proc).

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use portable_echo_bench::{Output, connect_greeted, default_greeting, proc};
use serde_json::json;

/// Measures a server's resident memory per idle connection.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Server PID (VmRSS is read from /proc/PID/status)
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 5000)]
    connections: usize,
    /// Expected greeting length
    #[arg(long, default_value_t = default_greeting().len())]
    greeting_len: usize,
    /// Milliseconds to wait before each RSS reading
    #[arg(long, default_value_t = 300)]
    settle_ms: u64,
    #[command(flatten)]
    output: Output,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("echo-idle: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let settle = Duration::from_millis(args.settle_ms);
    // Warm up whatever a server sets up lazily on its first connections.
    for _ in 0..8 {
        drop(connect_greeted(args.addr, None, args.greeting_len)?);
    }
    std::thread::sleep(settle);
    let before = proc::rss_kib(args.server_pid)?;
    let mut held = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        held.push(
            connect_greeted(args.addr, None, args.greeting_len)
                .map_err(|err| io::Error::new(err.kind(), format!("connection {i}: {err}")))?,
        );
    }
    std::thread::sleep(settle);
    let after = proc::rss_kib(args.server_pid)?;
    let per_conn = (after as f64 - before as f64) * 1024.0 / args.connections as f64;
    if args.output.json {
        let record = args.output.record(json!({
            "connections": args.connections,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "rss_bytes_per_conn": per_conn,
        }));
        println!("{record}");
    } else {
        println!(
            "{} idle connections: RSS {before} KiB -> {after} KiB = {per_conn:.0} bytes per connection",
            args.connections
        );
    }
    Ok(())
}
