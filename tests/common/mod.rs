//! Helpers shared by the integration tests: an in-process server on a thread,
//! bound to 127.0.0.1 port 0, and clients with deadlines instead of sleeps.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use portable_echo::{Config, Server, Stats, StopHandle};

/// Upper bound for any single blocking step. Generous because the same tests
/// run under qemu-user and Wine; a healthy run never gets near it.
pub const STEP: Duration = Duration::from_secs(30);

pub const GREETING: &[u8] = b"Hello world!\n";

/// A server running on its own thread.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stop: StopHandle,
    done: mpsc::Receiver<io::Result<Stats>>,
}

/// A config listening on 127.0.0.1 port 0, otherwise the defaults.
pub fn config() -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

pub fn start(config: Config) -> TestServer {
    #[cfg(unix)]
    raise_descriptor_limit();
    let server = Server::bind(config).expect("binding 127.0.0.1:0");
    let addr = server.local_addr();
    let stop = server.stop_handle();
    let (tx, done) = mpsc::channel();
    thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let _ = tx.send(server.run());
        })
        .unwrap();
    TestServer { addr, stop, done }
}

/// macOS starts a process with a soft limit of 256 descriptors, fewer than
/// the tests with hundreds of clients hold (two descriptors per connection,
/// client and server in one process): raise the soft limit toward the hard
/// one, up to 4096, once per test binary.
#[cfg(unix)]
fn raise_descriptor_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < 4096 {
                limit.rlim_cur = limit.rlim_max.min(4096);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}

impl TestServer {
    /// Stops the server and returns its statistics; fails if it does not
    /// return within `within`.
    pub fn stop_within(self, within: Duration) -> Stats {
        self.stop.stop();
        self.wait(within)
    }

    pub fn stop(self) -> Stats {
        self.stop_within(STEP)
    }

    /// Waits for `run` to return (after a stop requested elsewhere).
    pub fn wait(self, within: Duration) -> Stats {
        match self.done.recv_timeout(within) {
            Ok(result) => result.expect("server loop failed"),
            Err(err) => panic!("server did not return within {within:?}: {err}"),
        }
    }

    /// A connected client, with blocking reads and writes bounded by STEP.
    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// A connected client that has already read and checked the greeting.
    pub fn greeted(&self) -> TcpStream {
        let mut client = self.connect();
        expect_greeting(&mut client, GREETING);
        client
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(addr).expect("connecting to the test server");
    client.set_read_timeout(Some(STEP)).unwrap();
    client.set_write_timeout(Some(STEP)).unwrap();
    client.set_nodelay(true).unwrap();
    client
}

pub fn expect_greeting(client: &mut TcpStream, greeting: &[u8]) {
    let mut got = vec![0; greeting.len()];
    client.read_exact(&mut got).expect("reading the greeting");
    assert_eq!(got, greeting, "greeting");
}

/// Reads until end of stream; fails on any error (including a timeout).
pub fn read_to_end(client: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    client
        .read_to_end(&mut all)
        .expect("reading to end of stream");
    all
}

/// Sends `data` and checks that exactly `data` comes back.
pub fn round_trip(client: &mut TcpStream, data: &[u8]) {
    client.write_all(data).expect("sending");
    let mut back = vec![0; data.len()];
    client.read_exact(&mut back).expect("reading the echo");
    assert!(
        back == data,
        "echo differs from what was sent ({} bytes)",
        data.len()
    );
}

/// Whether the server has closed this connection: end of stream or reset,
/// with no byte received first. Fails if data arrives or nothing happens by
/// the deadline.
pub fn expect_closed_without_data(client: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!(
            "expected the server to close, got {n} bytes: {:?}",
            &buf[..n]
        ),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        Err(err) => panic!("expected the server to close, got {err}"),
    }
}

/// Polls `condition` until it holds or `within` passes.
pub fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}
