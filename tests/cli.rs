//! The `portable-echo` binary as a user runs it. Every test here spawns the
//! binary, so every name starts with `host_only_`: emulated matrix cells
//! (qemu-user, Wine, wasmtime) skip them by that prefix and say so.
#![cfg(not(target_os = "wasi"))]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

use common::*;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portable-echo"));
    command.env("RUST_LOG", "info").env_remove("RUST_BACKTRACE");
    command
}

fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("running portable-echo")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_usage_error(args: &[&str], mentions: &str) {
    let output = run(args);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
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
fn host_only_malformed_arguments_are_one_line_usage_errors() {
    assert_usage_error(&["--max-pending", "abc"], "--max-pending");
    assert_usage_error(&["--max-pending", "0"], "--max-pending");
    assert_usage_error(&["--max-connections=-1"], "--max-connections");
    assert_usage_error(&["--max-connections", "-1"], "-1");
    assert_usage_error(&["--addr", "not-an-address"], "--addr");
    assert_usage_error(&["--idle-timeout", "1.5"], "--idle-timeout");
    assert_usage_error(&["--no-such-flag"], "--no-such-flag");
    assert_usage_error(&["unexpected-positional"], "unexpected-positional");
}

#[test]
fn host_only_help_lists_every_flag() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--addr",
        "--greeting",
        "--max-pending",
        "--max-connections",
        "--idle-timeout",
        "--shutdown-grace",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "--help does not list {flag}:\n{help}");
    }
}

#[test]
fn host_only_version_prints_name_and_version() {
    let output = run(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("portable-echo {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn host_only_address_in_use_is_one_line_naming_address_and_cause() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = run(&["--addr", &addr]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("portable-echo: binding {addr}: ")),
        "{stderr}"
    );
    if cfg!(unix) {
        assert_eq!(
            stderr.trim_end(),
            format!("portable-echo: binding {addr}: address already in use")
        );
    }
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout when not listening"
    );
}

/// Starts the binary on an ephemeral port; returns it and the address from
/// its first stdout line, after checking that line's format.
fn spawn_listening(extra: &[&str]) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = binary()
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let expected_suffix = format!(" ({})\n", portable_echo::BACKEND);
    assert!(line.starts_with("listening on 127.0.0.1:"), "{line:?}");
    assert!(line.ends_with(&expected_suffix), "{line:?}");
    let addr = line["listening on ".len()..line.len() - expected_suffix.len()].to_string();
    assert!(!addr.ends_with(":0"), "the real port is printed: {line:?}");
    (child, addr, stdout)
}

#[test]
fn host_only_listening_line_then_greeting_and_echo() {
    let (mut child, addr, mut stdout) = spawn_listening(&["--greeting", "hi there\n"]);
    let mut client = connect(addr.parse().unwrap());
    expect_greeting(&mut client, b"hi there\n");
    round_trip(&mut client, b"echo me");
    drop(client);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "stdout holds only the listening line");
}

/// Signals exist on Unix only; Windows' Ctrl-Break path is the same stop
/// handle, covered in-process by tests/echo.rs.
#[cfg(unix)]
mod signals {
    use std::io::Read;
    use std::process::Child;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    fn wait_with_deadline(child: &mut Child, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("portable-echo did not exit within {within:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn host_only_signal_stops_cleanly(signal: i32) {
        let (mut child, addr, _stdout) = spawn_listening(&["--shutdown-grace", "10"]);
        let mut client = connect(addr.parse().unwrap());
        expect_greeting(&mut client, GREETING);
        round_trip(&mut client, b"before the signal");
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        // The idle client sees a clean end of stream; once it closes too,
        // the process exits 0 without waiting for the grace period.
        assert_eq!(read_to_end(&mut client), b"");
        drop(client);
        let status = wait_with_deadline(&mut child, STEP);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("stopped: served 1 connections"), "{stderr}");
        assert!(
            stderr.contains("received 17 bytes, echoed 17, discarded 0"),
            "{stderr}"
        );
    }

    #[test]
    fn host_only_sigterm_exits_0_with_summary() {
        host_only_signal_stops_cleanly(libc::SIGTERM);
    }

    #[test]
    fn host_only_sigint_exits_0_with_summary() {
        host_only_signal_stops_cleanly(libc::SIGINT);
    }
}
