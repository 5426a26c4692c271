//! The `portable-echo` binary as a user runs it, started through the matrix
//! cell's launcher (natively, under qemu-user, Wine or wasmtime: see
//! tests/common/launch.rs), so every test here is a black-box test.
#![cfg(not(target_os = "wasi"))]

mod common;

mod black_box {
    use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
    use std::process::Output;

    use crate::common::launch::{self, Launched};
    use crate::common::*;

    fn stderr_of(output: &Output) -> String {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// A usage error's exit status: 2, except under wasmtime, where WASI
    /// preview 2's `wasi:cli/exit` carries only success or failure, so every
    /// failing exit is 1.
    const USAGE_STATUS: i32 = if cfg!(portable_echo_wasmtime) { 1 } else { 2 };

    fn assert_usage_error(args: &[&str], mentions: &str) {
        let output = launch::run(args);
        let stderr = stderr_of(&output);
        assert_eq!(
            output.status.code(),
            Some(USAGE_STATUS),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: not one line: {stderr}"
        );
        assert!(stderr.starts_with("portable-echo: "), "{stderr}");
        assert!(
            stderr.contains(mentions),
            "{args:?}: {stderr} does not mention {mentions}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(output.stdout.is_empty());
    }

    #[test]
    fn malformed_arguments_are_one_line_usage_errors() {
        assert_usage_error(&["--max-pending", "abc"], "--max-pending");
        assert_usage_error(&["--max-pending", "0"], "--max-pending");
        assert_usage_error(&["--max-connections", "0"], "--max-connections");
        assert_usage_error(&["--max-connections=-1"], "--max-connections");
        assert_usage_error(&["--max-connections", "-1"], "-1");
        assert_usage_error(&["--addr", "not-an-address"], "--addr");
        assert_usage_error(&["--idle-timeout", "-1.5"], "-1");
        assert_usage_error(&["--idle-timeout=-1.5"], "--idle-timeout");
        assert_usage_error(&["--shutdown-grace", "soon"], "--shutdown-grace");
        assert_usage_error(&["--backlog", "0"], "--backlog");
        assert_usage_error(&["--no-such-flag"], "--no-such-flag");
        assert_usage_error(&["unexpected-positional"], "unexpected-positional");
    }

    #[test]
    fn help_lists_every_flag() {
        let output = launch::run(&["--help"]);
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for flag in [
            "--addr",
            "--greeting",
            "--max-pending",
            "--max-connections",
            "--idle-timeout",
            "--shutdown-grace",
            "--backlog",
            "--stop-on-stdin-eof",
            "--help",
            "--version",
        ] {
            assert!(help.contains(flag), "--help does not list {flag}:\n{help}");
        }
    }

    #[test]
    fn version_prints_name_and_version() {
        let output = launch::run(&["--version"]);
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("portable-echo {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn address_in_use_is_one_line_naming_address_and_cause() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let output = launch::run(&["--addr", &addr]);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("portable-echo: binding {addr}: ")),
            "{stderr}"
        );
        assert!(!stderr.contains("os error"), "{stderr}");
        assert!(
            output.stdout.is_empty(),
            "nothing on stdout when not listening"
        );
    }

    #[test]
    fn listening_line_then_greeting_and_echo() {
        let mut served = Launched::spawn(
            &["--addr", "127.0.0.1:0", "--greeting", "hi there\n"],
            |_| {},
        );
        let mut client = connect(served.addr);
        expect_greeting(&mut client, b"hi there\n");
        round_trip(&mut client, b"echo me");
        drop(client);
        let rest = served.kill_and_read_stdout();
        assert_eq!(rest, "", "stdout holds only the listening line");
    }

    /// SIGTERM and SIGINT stop the server cleanly.
    #[cfg(unix)]
    fn signal_stops_cleanly(signal: i32, name: &str) {
        let (stats, log) =
            launch::assert_request_stops_cleanly(&[], |served| served.signal(signal));
        assert!(log.contains(&format!("{name}: shutting down")), "{log}");
        assert_eq!(stats.connections_served, 1, "{log}");
        assert_eq!(stats.bytes.echoed, 23, "{log}");
    }

    #[cfg(unix)]
    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "about SIGTERM and SIGINT themselves, which WASI preview 2 does not have (its stop request, the end of stdin, runs in every stop test)"
    )]
    fn sigterm_exits_0_with_summary() {
        signal_stops_cleanly(libc::SIGTERM, "SIGTERM");
    }

    #[cfg(unix)]
    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "about SIGTERM and SIGINT themselves, which WASI preview 2 does not have (its stop request, the end of stdin, runs in every stop test)"
    )]
    fn sigint_exits_0_with_summary() {
        signal_stops_cleanly(libc::SIGINT, "SIGINT");
    }

    /// `--stop-on-stdin-eof`: bytes on stdin change nothing; its end stops
    /// the server as SIGTERM does (a clean end of stream to the idle
    /// client, exit 0, the summary). In every cell: stdin's thread on Unix
    /// and Windows, stdin in the loop's Poll on WASI preview 2.
    #[test]
    fn stdin_eof_with_the_flag_stops_cleanly() {
        let args = ["--stop-on-stdin-eof"];
        let (stats, log) = launch::assert_request_stops_cleanly(&args, |served| {
            served.write_stdin(b"bytes on stdin are not its end\n");
            let mut other = connect(served.addr);
            expect_greeting(&mut other, GREETING);
            round_trip(&mut other, b"still served");
            drop(other);
            served.close_stdin();
        });
        assert!(
            log.contains("end of standard input: shutting down"),
            "{log}"
        );
        assert_eq!(stats.connections_served, 2, "{log}");
        assert_eq!(stats.bytes.echoed, 23 + 12, "{log}");
    }

    /// Without the flag, the end of stdin is nobody's business: the server
    /// goes on serving (supervisors often give it /dev/null).
    #[test]
    fn stdin_eof_without_the_flag_changes_nothing() {
        // Not `spawn`, which adds the flag where stdin's end is the cell's
        // stop request.
        let mut command = launch::command();
        command.args(["--addr", "127.0.0.1:0", "--idle-timeout", "0"]);
        let mut served = Launched::start(command);
        served.close_stdin();
        let mut client = connect(served.addr);
        expect_greeting(&mut client, GREETING);
        round_trip(&mut client, b"after stdin ended");
        assert!(served.is_running(), "{}", served.log());
        assert!(!served.log().contains("shutting down"), "{}", served.log());
    }

    /// A launched server has room in its descriptor table for every
    /// connection its limit allows before the first client arrives. Linux
    /// grows the table of a process with threads (the binary has a signal
    /// thread) by waiting an RCU grace period per doubling: before the table
    /// was sized at bind, a fresh server stalled five times in its first
    /// burst of 2,000 and greeted the clients 20 to 40 ms late
    /// (bench/README.md, the burst case). The table's size is `FDSize` in
    /// /proc/PID/status; nothing else grows the launched process's table.
    #[cfg(target_os = "linux")]
    #[test]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "the launched process is wasmtime, whose descriptor table WASI's server does not size"
    )]
    fn a_fresh_server_sizes_its_descriptor_table_for_every_connection_allowed() {
        const CONNECTIONS: usize = 6000;
        let limit = raise_descriptor_limit(CONNECTIONS + 100);
        assert!(
            limit > CONNECTIONS,
            "this test needs {CONNECTIONS} descriptors; the hard limit allows {limit}"
        );
        let served = Launched::serve(&portable_echo::Config {
            max_connections: CONNECTIONS,
            ..config()
        });
        let status = std::fs::read_to_string(format!("/proc/{}/status", served.pid()))
            .expect("reading the launched server's /proc/PID/status");
        let size: usize = status
            .lines()
            .find_map(|line| line.strip_prefix("FDSize:"))
            .and_then(|size| size.trim().parse().ok())
            .expect("an FDSize line in /proc/PID/status");
        println!("a fresh server allowing {CONNECTIONS} connections has FDSize {size}");
        assert!(
            size > CONNECTIONS,
            "the descriptor table holds {size}, fewer than the {CONNECTIONS} connections allowed"
        );
    }

    /// `localhost:0` listens on every address the name resolves to (here,
    /// as the test resolves it), one `listening on` line each, one port.
    #[test]
    fn a_host_name_listens_on_every_address_it_resolves_to() {
        let mut want: Vec<SocketAddr> = Vec::new();
        for addr in ("localhost", 0)
            .to_socket_addrs()
            .expect("resolving localhost")
        {
            if !want.contains(&addr) {
                want.push(addr);
            }
        }
        let mut served = Launched::spawn(&["--addr", "localhost:0"], |_| {});
        let mut got = vec![served.addr];
        got.extend(served.more_listening_addrs(want.len() - 1));
        let port = got[0].port();
        let ips = |addrs: &[SocketAddr]| addrs.iter().map(SocketAddr::ip).collect::<Vec<_>>();
        assert_eq!(ips(&got), ips(&want), "listening on {got:?}");
        assert!(got.iter().all(|addr| addr.port() == port), "{got:?}");
        got.iter().for_each(|&addr| serves(addr));
        assert!(
            served.log().contains("localhost:0 resolves to "),
            "{}",
            served.log()
        );
        served.request_stop();
        assert_eq!(served.finish(STEP).connections_served, got.len() as u64);
    }

    /// A name that does not resolve (`.invalid` never does, RFC 6761) is a
    /// runtime error: one line naming it, exit status 1.
    #[test]
    fn a_name_that_does_not_resolve_is_one_line_and_status_1() {
        let output = launch::run(&["--addr", "nosuch.invalid:9000"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("portable-echo: resolving nosuch.invalid:9000: "),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }

    /// The binary raises a soft RLIMIT_NOFILE of 1,024 toward what its
    /// connection limit needs, and serves 2,000 clients at once.
    #[test]
    #[cfg_attr(
        not(unix),
        ignore = "RLIMIT_NOFILE is Unix's: Windows has no per-process descriptor limit"
    )]
    #[cfg_attr(
        portable_echo_wasmtime,
        ignore = "wasmtime is the process: RLIMIT_NOFILE limits the runtime, and WASI has no call to raise it"
    )]
    fn a_soft_descriptor_limit_of_1024_is_raised_to_serve_2000_clients_at_once() {
        #[cfg(unix)]
        descriptors::raised_for_2000_clients();
    }

    #[cfg(unix)]
    mod descriptors {
        use std::net::TcpStream;

        use super::*;

        const SOFT: libc::rlim_t = 1024;
        const CLIENTS: usize = 2000;
        const MAX_CONNECTIONS: usize = 3000;

        pub(super) fn raised_for_2000_clients() {
            let (_, hard) = rlimit::get();
            assert!(
                hard >= 4096,
                "this test needs a hard RLIMIT_NOFILE of 4096 or more (ulimit -Hn), not {hard}"
            );
            // This process holds the other end of every connection.
            assert!(raise_descriptor_limit(CLIENTS + 256) >= CLIENTS + 256);
            let max = MAX_CONNECTIONS.to_string();
            let args = ["--addr", "127.0.0.1:0", "--max-connections", &max];
            let mut served = Launched::spawn(&args, |command| {
                rlimit::for_child(command, SOFT, hard);
            });
            let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(served.addr)).collect();
            for client in &mut clients {
                expect_greeting(client, GREETING);
            }
            for client in &mut clients {
                round_trip(client, b"all at once");
            }
            let log = served.log();
            assert!(
                log.contains(&format!(
                    "raised the soft descriptor limit (RLIMIT_NOFILE) from {SOFT} to "
                )),
                "{log}"
            );
            served.request_stop();
            drop(clients);
            let stats = served.finish(STEP);
            assert_eq!(stats.peak_connections, CLIENTS);
            assert_eq!(stats.connections_served, CLIENTS as u64);
        }
    }
}
