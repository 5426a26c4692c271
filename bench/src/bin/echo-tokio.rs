//! `echo-tokio`: the tokio peer for side-by-side runs. Same shape as
//! portable-echo: each client gets the greeting, then everything it sends is
//! echoed; prints `listening on <addr> (tokio-<flavor>)` first.
//!
//! The per-connection loop is the idiomatic one (read into a buffer, then
//! `write_all`), with a 64 KiB buffer per connection by default, the size of
//! portable-echo's shared read buffer, so both read the same amount per call.
//! The buffer is allocated only once the first byte has arrived (awaited with
//! `readable` + `try_read`, the pattern tokio documents), so an idle
//! connection holds no buffer: the peer is measured at its leanest, not with
//! 64 KiB of RSS per idle connection.
//!
//! The listener is tokio's `TcpListener::bind` (tokio 1.54 binds through mio,
//! whose 1.2.5 listens with std's backlog of 128), or, with `--backlog N`,
//! a `TcpSocket` listening with N, so the burst case can compare accept loops
//! with equal queues.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Flavor {
    /// One thread: `new_current_thread`
    Current,
    /// Work-stealing pool (one worker per core): `new_multi_thread`
    Multi,
}

/// Tokio echo server that greets first.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    #[arg(long, value_enum, default_value = "current")]
    flavor: Flavor,
    #[arg(long, default_value_t = portable_echo_bench::default_greeting())]
    greeting: String,
    /// Read buffer per connection, bytes
    #[arg(long, default_value_t = 64 * 1024)]
    buf: usize,
    /// Listen backlog (default: whatever `TcpListener::bind` uses)
    #[arg(long)]
    backlog: Option<u32>,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let runtime = match args.flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread(),
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_io()
    .build()?;
    let name = match args.flavor {
        Flavor::Current => "tokio-current",
        Flavor::Multi => "tokio-multi",
    };
    runtime.block_on(async move {
        let listener = match args.backlog {
            None => TcpListener::bind(args.addr).await?,
            Some(backlog) => {
                let socket = if args.addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.set_reuseaddr(true)?;
                socket.bind(args.addr)?;
                socket.listen(backlog)?
            }
        };
        {
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "listening on {} ({name})", listener.local_addr()?)?;
            stdout.flush()?;
        }
        let greeting: &'static [u8] = Box::leak(args.greeting.into_bytes().into_boxed_slice());
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve(stream, greeting, args.buf));
                }
                Err(err) => {
                    eprintln!("echo-tokio: accepting: {err}");
                    // Out of descriptors: back off instead of spinning.
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    })
}

async fn serve(mut stream: TcpStream, greeting: &'static [u8], buf_len: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.write_all(greeting).await?;
    // Tokio presumes a new stream readable, so `readable()` alone would not
    // wait: read one byte with `try_read` before allocating the buffer.
    let mut first = [0u8; 1];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut first) {
            Ok(0) => return stream.shutdown().await,
            Ok(_) => break,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    }
    stream.write_all(&first).await?;
    let mut buf = vec![0u8; buf_len];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}
