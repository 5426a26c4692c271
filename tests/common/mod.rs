//! Helpers shared by the integration tests: a server to test, either in this
//! process on a thread or the built binary launched through the matrix
//! cell's runner, bound to 127.0.0.1 port 0, and clients with deadlines
//! instead of sleeps.
//!
//! The same test function drives both: [`in_both_modes!`] defines each test
//! twice, as `in_process::NAME` and `black_box::NAME`.
#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod abuse;
pub(crate) mod fds;
pub(crate) mod launch;
pub(crate) mod relay;
#[cfg(unix)]
pub(crate) mod rlimit;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use portable_echo::{Config, Server, Stats, StopHandle};

pub(crate) use launch::Launched;

/// Upper bound for any single blocking step. Generous because the same tests
/// run under qemu-user, Wine and wasmtime; a healthy run never gets near it.
pub(crate) const STEP: Duration = Duration::from_secs(30);

pub(crate) const GREETING: &[u8] = b"Hello world!\n";

/// How a test reaches the server it tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `Server::run` on a thread of the test process.
    InProcess,
    /// The `portable-echo` binary, started through the cell's launcher
    /// (see [`launch`]) and driven only from outside.
    BlackBox,
}

/// Defines each listed test function (`fn NAME(mode: Mode)`) twice: as
/// `in_process::NAME` and as `black_box::NAME`. A runtime's limitation goes
/// on the entry: `#[both(cfg_attr(COND, ignore = "why"))]` for both
/// variants, then `#[black_box(...)]` for the launched one only.
#[macro_export]
macro_rules! in_both_modes {
    ($( $(#[both($both:meta)])* $(#[black_box($bb:meta)])* $name:ident ),* $(,)?) => {
        mod in_process {
            $(
                #[test]
                $(#[$both])*
                fn $name() {
                    super::$name($crate::common::Mode::InProcess)
                }
            )*
        }
        mod black_box {
            $(
                #[test]
                $(#[$both])*
                $(#[$bb])*
                fn $name() {
                    super::$name($crate::common::Mode::BlackBox)
                }
            )*
        }
    };
}

/// A config listening on 127.0.0.1 port 0, otherwise the defaults.
pub(crate) fn config() -> Config {
    Config {
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        ..Config::default()
    }
}

/// A running server under test.
pub(crate) struct TestServer {
    /// The first address it listens on.
    pub(crate) addr: SocketAddr,
    /// Every address it listens on, in the order of `Config::addrs`.
    pub(crate) addrs: Vec<SocketAddr>,
    running: Running,
}

enum Running {
    InProcess {
        stop: StopHandle,
        done: mpsc::Receiver<io::Result<Stats>>,
    },
    Launched(Launched),
}

/// Once per test binary (mio's tests/util `init`): the in-process server's
/// log goes to the test's captured output (`RUST_LOG=debug cargo test` shows
/// it for a failing test), and the descriptor limit is raised before any
/// socket, so a launched server inherits it too.
pub(crate) fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
        raise_descriptor_limit(4096);
    });
}

/// Starts a server with `config`, in this process or as the launched binary.
pub(crate) fn start(mode: Mode, config: Config) -> TestServer {
    start_with(mode, config, |_| {})
}

/// [`start`], with `setup` adjusting the launched binary's command (not
/// called in process).
pub(crate) fn start_with(
    mode: Mode,
    config: Config,
    setup: impl FnOnce(&mut std::process::Command),
) -> TestServer {
    init();
    match mode {
        Mode::InProcess => start_in_process(config),
        Mode::BlackBox => {
            let mut launched = Launched::spawn(&launch::args_of(&config), setup);
            let mut addrs = vec![launched.addr];
            addrs.extend(launched.more_listening_addrs(config.addrs.len() - 1));
            TestServer {
                addr: launched.addr,
                addrs,
                running: Running::Launched(launched),
            }
        }
    }
}

/// [`start`], with `before_accepting` run while the server listens but
/// accepts nothing, so that what it does happens in the listen queue: in
/// process, between `Server::bind` and `Server::run`; launched, while the
/// process is held still ([`Launched::hold`]: SIGSTOP on Unix, where under
/// qemu-user and wasmtime the held process is the runtime itself;
/// NtSuspendProcess on Windows and under Wine).
pub(crate) fn start_holding_accepts(
    mode: Mode,
    config: Config,
    before_accepting: impl FnOnce(SocketAddr),
) -> TestServer {
    init();
    match mode {
        Mode::InProcess => {
            let server = Server::bind(config).expect("binding the test's addresses");
            before_accepting(server.local_addr());
            run_in_process(server)
        }
        Mode::BlackBox => {
            let server = start(mode, config);
            let Running::Launched(launched) = &server.running else {
                unreachable!("a black-box server is launched")
            };
            launched.hold();
            before_accepting(server.addr);
            launched.release();
            server
        }
    }
}

fn start_in_process(config: Config) -> TestServer {
    run_in_process(Server::bind(config).expect("binding the test's addresses"))
}

/// `server.run()` on a thread of its own.
fn run_in_process(server: Server) -> TestServer {
    let (addr, addrs) = (server.local_addr(), server.local_addrs().to_vec());
    let stop = server.stop_handle();
    let (tx, done) = mpsc::channel();
    thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let _ = tx.send(server.run());
        })
        .unwrap();
    TestServer {
        addr,
        addrs,
        running: Running::InProcess { stop, done },
    }
}

/// Raises the soft descriptor limit toward `wanted` as the server does
/// ([`portable_echo::testing::raise_descriptor_limit`]) and returns the soft
/// limit now in force. macOS starts a process with 256, fewer than the
/// tests with hundreds of clients hold (two descriptors per connection when
/// client and server share a process). Windows and WASI have no such
/// per-process limit.
pub(crate) fn raise_descriptor_limit(wanted: usize) -> usize {
    portable_echo::testing::raise_descriptor_limit(wanted)
        .expect("raising RLIMIT_NOFILE")
        .unwrap_or(wanted)
}

impl TestServer {
    /// Stops the server gracefully and returns its statistics (read back from
    /// the launched binary's last log line). Fails if the server does not
    /// finish within `within`.
    pub(crate) fn stop_within(mut self, within: Duration) -> Stats {
        self.request_stop();
        self.wait(within)
    }

    pub(crate) fn stop(self) -> Stats {
        self.stop_within(STEP)
    }

    /// [`TestServer::stop`], with the launched binary's log (none in process,
    /// where the log goes to the test's captured output).
    pub(crate) fn stop_with_log(mut self) -> (Stats, Option<String>) {
        self.request_stop();
        match self.running {
            Running::Launched(mut launched) => {
                let stats = launched.finish(STEP);
                (stats, Some(launched.log()))
            }
            running => (TestServer { running, ..self }.wait(STEP), None),
        }
    }

    /// Asks the server to stop without waiting for it.
    pub(crate) fn request_stop(&mut self) {
        match &mut self.running {
            Running::InProcess { stop, .. } => stop.stop(),
            Running::Launched(launched) => launched.request_stop(),
        }
    }

    /// Waits for the server to finish after a stop was requested.
    pub(crate) fn wait(self, within: Duration) -> Stats {
        match self.running {
            Running::InProcess { done, .. } => match done.recv_timeout(within) {
                Ok(result) => result.expect("server loop failed"),
                Err(err) => panic!("server did not return within {within:?}: {err}"),
            },
            Running::Launched(mut launched) => launched.finish(within),
        }
    }

    /// A connected client, with blocking reads and writes bounded by STEP.
    pub(crate) fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// A connected client that has already read and checked the greeting.
    pub(crate) fn greeted(&self) -> TcpStream {
        let mut client = self.connect();
        expect_greeting(&mut client, GREETING);
        client
    }
}

/// A new client on `addr` is greeted and gets one round trip.
pub(crate) fn serves(addr: SocketAddr) {
    let mut client = connect(addr);
    expect_greeting(&mut client, GREETING);
    round_trip(&mut client, format!("through {addr}").as_bytes());
}

pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(addr).expect("connecting to the test server");
    client.set_read_timeout(Some(STEP)).unwrap();
    client.set_write_timeout(Some(STEP)).unwrap();
    client.set_nodelay(true).unwrap();
    client
}

pub(crate) fn expect_greeting(client: &mut TcpStream, greeting: &[u8]) {
    let mut got = vec![0; greeting.len()];
    client.read_exact(&mut got).expect("reading the greeting");
    assert_eq!(got, greeting, "greeting");
}

/// Reads until end of stream; fails on any error (including a timeout).
pub(crate) fn read_to_end(client: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    client
        .read_to_end(&mut all)
        .expect("reading to end of stream");
    all
}

/// Sends `data` and checks that exactly `data` comes back.
pub(crate) fn round_trip(client: &mut TcpStream, data: &[u8]) {
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
pub(crate) fn expect_closed_without_data(client: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!(
            "expected the server to close, got {n} bytes: {:?}",
            &buf[..n]
        ),
        Err(err) if is_reset(&err) => {}
        Err(err) => panic!("expected the server to close, got {err}"),
    }
}

/// Whether an error is the peer's reset (Windows may report an abort).
pub(crate) fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

/// Polls `condition` until it holds or `within` passes.
pub(crate) fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}
