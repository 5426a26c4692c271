//! The loop never stalls on readiness a runtime reports falsely or leaves
//! out, and never waits on nothing. Under wasmtime (the wasip2-serve
//! cell) mio's poll(2) selector drops an fd's interest after each event
//! and re-arms it only when an operation returns `WouldBlock`; wasi-libc
//! never reports POLLHUP or POLLERR, and some versions report a listener's
//! POLLOUT beside POLLIN (the fidelity probes record both); and a poll with
//! no timeout and no
//! interest left traps the guest ("empty poll list", wasmtime's
//! crates/wasi-io/src/impls.rs). With `--idle-timeout 0` and no stdin
//! watch, nothing but the sockets' own interest keeps that poll non-empty.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use common::*;
use portable_echo::Config;

/// How long every source stays quiet: many poll(2) turns, and long enough
/// for a loop spinning on false readiness to burn CPU time that shows.
const QUIET: Duration = Duration::from_millis(500);

in_both_modes! {
    with_no_timer_and_no_stop_watch_every_kind_of_quiet_client_is_served_again,
}

/// A server with no timer (`--idle-timeout 0`) and no stdin watch, so its
/// poll waits without a timeout on its sockets alone: one client echoed
/// and idle, one that half-closed and was finished, one greeted that never
/// sent, one that never read its greeting. After they all sit still, the
/// server is alive (no trap), used next to no CPU (no spin on false
/// readiness), accepts a new client at once, and serves each old one.
fn with_no_timer_and_no_stop_watch_every_kind_of_quiet_client_is_served_again(mode: Mode) {
    init();
    let config = Config {
        idle_timeout: None,
        ..config()
    };
    let mut server = QuietServer::start(mode, config);
    let addr = server.addr;
    let mut echoed = connect(addr);
    expect_greeting(&mut echoed, GREETING);
    round_trip(&mut echoed, b"before the quiet");
    let mut half_closed = connect(addr);
    expect_greeting(&mut half_closed, GREETING);
    half_closed.write_all(b"last words").unwrap();
    half_closed.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut half_closed), b"last words");
    let mut silent = connect(addr);
    expect_greeting(&mut silent, GREETING);
    let mut unread = connect(addr);

    let cpu = server.cpu_during(QUIET);
    assert!(
        server.is_running(),
        "the server ended while everything was quiet:\n{}",
        server.log()
    );
    if let Some(cpu) = cpu {
        println!("CPU of the launched server during {QUIET:?} of quiet: {cpu:?}");
        assert!(
            cpu < QUIET / 4,
            "{cpu:?} of CPU in {QUIET:?}: the loop spins"
        );
    }

    let mut next = connect(addr);
    expect_greeting(&mut next, GREETING);
    round_trip(&mut next, b"a new client after the quiet");
    round_trip(&mut echoed, b"the echoed client again");
    round_trip(&mut silent, b"the silent client's first bytes");
    expect_greeting(&mut unread, GREETING);
    round_trip(&mut unread, b"the greeting read late");
    // Clients that leave let an in-process stop finish at once.
    drop((echoed, half_closed, silent, unread, next));
    server.end();
}

/// The server under test, without the stdin watch a launched server gets
/// where stopping needs it: a launched one is killed at the end (under
/// wasmtime and on Windows nothing else can stop it then).
struct QuietServer {
    addr: std::net::SocketAddr,
    running: Quiet,
}

enum Quiet {
    InProcess(TestServer),
    Launched(Launched),
}

impl QuietServer {
    fn start(mode: Mode, config: Config) -> QuietServer {
        match mode {
            Mode::InProcess => {
                let server = start(mode, config);
                QuietServer {
                    addr: server.addr,
                    running: Quiet::InProcess(server),
                }
            }
            Mode::BlackBox => {
                let mut command = launch::command();
                command.args(launch::args_of(&config));
                let launched = Launched::start(command);
                QuietServer {
                    addr: launched.addr,
                    running: Quiet::Launched(launched),
                }
            }
        }
    }

    /// Waits `quiet`; returns the launched server's CPU time meanwhile,
    /// where it can be read (Linux).
    fn cpu_during(&self, quiet: Duration) -> Option<Duration> {
        #[cfg(target_os = "linux")]
        if let Quiet::Launched(launched) = &self.running {
            let before = launched.cpu_time();
            thread::sleep(quiet);
            return Some(launched.cpu_time() - before);
        }
        thread::sleep(quiet);
        None
    }

    fn is_running(&mut self) -> bool {
        match &mut self.running {
            Quiet::InProcess(_) => true,
            Quiet::Launched(launched) => launched.is_running(),
        }
    }

    fn log(&mut self) -> String {
        match &mut self.running {
            Quiet::InProcess(_) => "(in process: see the captured output)".into(),
            Quiet::Launched(launched) => launched.log(),
        }
    }

    /// Stops an in-process server cleanly (checking it failed no
    /// connection); a launched one is killed, its log checked for errors.
    fn end(self) {
        match self.running {
            Quiet::InProcess(server) => {
                let stats = server.stop();
                assert_eq!(stats.connections_failed, 0);
            }
            Quiet::Launched(mut launched) => {
                let log = launched.log();
                let complaint = log
                    .lines()
                    .find(|l| l.contains("WARN") || l.contains("ERROR"));
                assert_eq!(complaint, None, "the server complained:\n{log}");
                let _ = launched.kill_and_read_stdout();
            }
        }
    }
}
