//! The built `portable-echo` binary, started the way the matrix cell runs
//! programs: through the cell's runner. That is `PORTABLE_ECHO_LAUNCHER` when
//! set (a command prefix: the WASI preview 2 serve cell sets `wasmtime run -S
//! inherit-network -S tcp -S allow-ip-name-lookup`, and `PORTABLE_ECHO_BIN` to the `.wasm` file);
//! otherwise the runner cargo itself was given for this target,
//! `CARGO_TARGET_<TRIPLE>_RUNNER` (a qemu-user cell's `qemu-aarch64 -L ...`,
//! or the `/linux-runner aarch64` of cross's images), which the test process
//! inherits from cargo; otherwise nothing: native cells, and Windows tests,
//! which already run inside Wine, start the binary directly.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use portable_echo::{Config, Stats};

use super::STEP;

/// How [`Launched::request_stop`] asks a launched server to stop here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopRequest {
    /// SIGTERM: Unix, also through qemu-user, which delivers it to the guest.
    Sigterm,
    /// The end of its standard input, with `--stop-on-stdin-eof`: WASI
    /// preview 2 has no signals, and a launched Windows program receives no
    /// Ctrl-C or Ctrl-Break without sharing a console with the test.
    StdinEof,
}

/// The stop request of this cell's runtime.
pub(crate) const STOP_REQUEST: StopRequest = if cfg!(any(portable_echo_wasmtime, windows)) {
    StopRequest::StdinEof
} else {
    StopRequest::Sigterm
};

/// The backend the launched binary reports: the test's own, except under
/// wasmtime, where the test is native and the server is WASI preview 2.
pub(crate) fn expected_backend() -> &'static str {
    if cfg!(portable_echo_wasmtime) {
        "poll"
    } else {
        portable_echo::BACKEND
    }
}

/// A command that starts the binary through the cell's launcher.
pub(crate) fn command() -> Command {
    let binary = std::env::var("PORTABLE_ECHO_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_portable-echo").to_string());
    let launcher = launcher();
    let mut words = launcher.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command.env("RUST_LOG", "info").env_remove("RUST_BACKTRACE");
    command
}

/// The launcher (see the module's documentation); empty for none.
fn launcher() -> String {
    if let Ok(launcher) = std::env::var("PORTABLE_ECHO_LAUNCHER") {
        return launcher;
    }
    if cfg!(windows) {
        return String::new();
    }
    // Cargo builds for an explicit --target into `<target dir>/<triple>/
    // <profile>/`; the runner cargo was given for that triple is the cell's.
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_portable-echo"));
    let triple = binary
        .parent()
        .and_then(|profile| profile.parent())
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let var = format!(
        "CARGO_TARGET_{}_RUNNER",
        triple.to_ascii_uppercase().replace(['-', '.'], "_")
    );
    std::env::var(var).unwrap_or_default()
}

/// Runs the binary with `args` to completion.
pub(crate) fn run(args: &[&str]) -> Output {
    command()
        .args(args)
        .output()
        .expect("running portable-echo")
}

/// The flags that make the binary serve `config`.
pub(crate) fn args_of(config: &Config) -> Vec<String> {
    let defaults = Config::default();
    assert_eq!(
        config.accept_pause, defaults.accept_pause,
        "accept_pause has no flag"
    );
    let greeting = String::from_utf8(config.greeting.clone())
        .expect("a launched server's greeting is a command-line argument: it must be UTF-8");
    let secs = |duration: Duration| duration.as_secs_f64().to_string();
    let mut args: Vec<String> = config
        .addrs
        .iter()
        .flat_map(|addr| ["--addr".to_string(), addr.to_string()])
        .collect();
    args.extend([
        "--greeting".into(),
        greeting,
        "--max-pending".into(),
        config.max_pending.to_string(),
        "--max-connections".into(),
        config.max_connections.to_string(),
        "--idle-timeout".into(),
        config.idle_timeout.map_or("0".into(), secs),
        "--shutdown-grace".into(),
        secs(config.shutdown_grace),
        "--backlog".into(),
        config.backlog.to_string(),
    ]);
    if config.stop_on_stdin_eof {
        args.push("--stop-on-stdin-eof".into());
    }
    args
}

/// The binary in a child process, listening, with its stderr (the log) in
/// a file. Dropping it kills the child.
pub(crate) struct Launched {
    pub(crate) addr: SocketAddr,
    child: Child,
    /// The server's stdin, a pipe held open until [`Launched::close_stdin`]
    /// (an end of file the server ignores unless `--stop-on-stdin-eof`).
    stdin: Option<ChildStdin>,
    stderr: File,
    /// Taken only while a line is read with a deadline.
    stdout: Option<BufReader<ChildStdout>>,
}

impl Launched {
    /// Starts the binary serving `config`.
    pub(crate) fn serve(config: &Config) -> Launched {
        Launched::spawn(&args_of(config), |_| {})
    }

    /// Starts the binary with `args` (which must make it listen), after
    /// `setup` adjusted the command, with `--stop-on-stdin-eof` where
    /// [`STOP_REQUEST`] needs it; see [`Launched::start`].
    pub(crate) fn spawn<S: AsRef<std::ffi::OsStr>>(
        args: &[S],
        setup: impl FnOnce(&mut Command),
    ) -> Launched {
        let mut command = command();
        command.args(args);
        let flag = "--stop-on-stdin-eof";
        if STOP_REQUEST == StopRequest::StdinEof && !args.iter().any(|arg| arg.as_ref() == flag) {
            command.arg(flag);
        }
        setup(&mut command);
        Launched::start(command)
    }

    /// Starts `command` (from [`command`]) with stdin a pipe, stdout read
    /// here and stderr in a file; waits for and checks the `listening on`
    /// line.
    ///
    /// Under qemu-user a child launched from the multi-threaded test process
    /// has been seen to never start: no byte on stdout or stderr in 30 s
    /// (once among linux-i686's 45 black-box tests in one run of the
    /// matrix; the in-process variant of that test passed). Such a launch is killed
    /// and tried once more, and the test's output says so; a child that
    /// wrote anything, or fails twice, fails the test.
    pub(crate) fn start(mut command: Command) -> Launched {
        let under_qemu = launcher().starts_with("qemu-");
        let mut attempt = 1;
        loop {
            let stderr = tempfile::tempfile().unwrap();
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr.try_clone().unwrap());
            let mut child = command.spawn().expect("starting portable-echo");
            let stdin = child.stdin.take();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let log_of = |stderr: &File| {
                let mut log = String::new();
                let mut stderr = stderr.try_clone().unwrap();
                stderr.rewind().unwrap();
                stderr.read_to_string(&mut log).unwrap();
                log
            };
            // The first line, with a deadline: a server that never listens
            // must fail the test, not hang it.
            let (line, stdout) = match read_line_within(stdout, STEP) {
                Ok(read) => read,
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = log_of(&stderr);
                    if under_qemu && attempt == 1 && log.is_empty() {
                        eprintln!(
                            "launch 1 under qemu-user never started ({why}, nothing on \
                             stderr either): launching once more"
                        );
                        attempt += 1;
                        continue;
                    }
                    panic!("portable-echo did not start listening: {why}\nits log:\n{log}")
                }
            };
            let Some(addr) = parse_listening_line(&line) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "portable-echo did not start listening: first line {line:?}\nits log:\n{}",
                    log_of(&stderr)
                )
            };
            return Launched {
                addr,
                child,
                stdin,
                stderr,
                stdout: Some(stdout),
            };
        }
    }

    /// The addresses of the `listening on` lines after the first, which
    /// a server listening on several addresses prints at once: `more` of
    /// them, read with a deadline.
    pub(crate) fn more_listening_addrs(&mut self, more: usize) -> Vec<SocketAddr> {
        let mut addrs = Vec::new();
        for _ in 0..more {
            let stdout = self.stdout.take().expect("stdout is read by one caller");
            let (line, stdout) = read_line_within(stdout, STEP)
                .unwrap_or_else(|why| panic!("a further listening line: {why}\n{}", self.log()));
            self.stdout = Some(stdout);
            let addr = parse_listening_line(&line)
                .unwrap_or_else(|| panic!("not a listening line: {line:?}\n{}", self.log()));
            addrs.push(addr);
        }
        addrs
    }

    /// Kills the server and returns what it wrote to stdout after the
    /// `listening on` line.
    pub(crate) fn kill_and_read_stdout(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let stdout = self.stdout.as_mut().expect("stdout is read by one caller");
        stdout.read_to_string(&mut rest).unwrap();
        rest
    }

    /// Whether the server is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the launched process (under qemu-user or
    /// wasmtime: the runtime) has used, from /proc/PID/stat.
    #[cfg(target_os = "linux")]
    pub(crate) fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name, which is in parentheses: state is the
        // first, utime the 12th and stime the 13th (fields 14 and 15 of proc(5)).
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_secs_f64(ticks as f64 / per_second as f64)
    }

    /// Everything the server logged so far.
    pub(crate) fn log(&mut self) -> String {
        let mut log = String::new();
        self.stderr.rewind().unwrap();
        self.stderr.read_to_string(&mut log).unwrap();
        log
    }

    /// Sends a signal to the server (the launcher's process is the server's:
    /// qemu-user delivers it to the guest).
    #[cfg(unix)]
    pub(crate) fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    /// Holds the server still, every thread of it, until [`Launched::release`]:
    /// what clients do meanwhile happens in the kernel's listen queue.
    /// SIGSTOP on Unix (qemu-user and wasmtime are stopped with their guest).
    pub(crate) fn hold(&self) {
        #[cfg(unix)]
        self.signal(libc::SIGSTOP);
        #[cfg(windows)]
        windows_process::suspend(&self.child);
    }

    /// Lets a server held by [`Launched::hold`] run again.
    pub(crate) fn release(&self) {
        #[cfg(unix)]
        self.signal(libc::SIGCONT);
        #[cfg(windows)]
        windows_process::resume(&self.child);
    }

    /// Writes `bytes` to the server's stdin.
    pub(crate) fn write_stdin(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .expect("writing to the server's stdin");
    }

    /// Closes the server's stdin: its end of file.
    pub(crate) fn close_stdin(&mut self) {
        assert!(self.stdin.take().is_some(), "stdin is closed once");
    }

    /// Asks the server to stop the way [`STOP_REQUEST`] says.
    pub(crate) fn request_stop(&mut self) {
        match STOP_REQUEST {
            #[cfg(unix)]
            StopRequest::Sigterm => self.signal(libc::SIGTERM),
            #[cfg(not(unix))]
            StopRequest::Sigterm => unreachable!("SIGTERM is the stop request only on Unix"),
            StopRequest::StdinEof => self.close_stdin(),
        }
    }

    /// Waits for the server to exit on its own, killing it and failing when
    /// it does not within `within`.
    pub(crate) fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "portable-echo did not exit within {within:?}:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// After [`Launched::request_stop`]: the exit (status 0) and the
    /// statistics of its last log line.
    pub(crate) fn finish(&mut self, within: Duration) -> Stats {
        let status = self.wait(within);
        let log = self.log();
        assert_eq!(status.code(), Some(0), "exit status; log:\n{log}");
        parse_stats(&log).unwrap_or_else(|| panic!("no summary line in the log:\n{log}"))
    }
}

/// For a test that times the launched binary's exit: ThreadSanitizer
/// sleeps 1 s before a process exits (`atexit_sleep_ms`, so that other
/// threads finish before its report), which such a test would time as the
/// server's. Only that sleep goes; the rest of the tsan cell keeps it.
pub(crate) fn without_sanitizer_exit_sleep(command: &mut Command) {
    if std::env::var("PORTABLE_ECHO_SANITIZER").is_ok_and(|s| s == "thread") {
        let options = std::env::var("TSAN_OPTIONS").unwrap_or_default();
        command.env("TSAN_OPTIONS", format!("{options}:atexit_sleep_ms=0"));
    }
}

/// A stop request as a user sees it: a launched server with no timer armed
/// (no idle timeout: only the request wakes the loop) and one idle,
/// greeted client; `request` asks it to stop. The client sees a clean end
/// of stream, and once it closes the server exits 0 well within the grace
/// period (10 s), with its summary. Returns the statistics and the log.
pub(crate) fn assert_request_stops_cleanly(
    args: &[&str],
    request: impl FnOnce(&mut Launched),
) -> (Stats, String) {
    let base = [
        "--addr",
        "127.0.0.1:0",
        "--shutdown-grace",
        "10",
        "--idle-timeout",
        "0",
    ];
    let mut served = Launched::spawn(&[&base, args].concat(), |_| {});
    let mut client = super::connect(served.addr);
    super::expect_greeting(&mut client, super::GREETING);
    super::round_trip(&mut client, b"before the stop request");
    request(&mut served);
    assert_eq!(super::read_to_end(&mut client), b"");
    drop(client);
    let stats = served.finish(Duration::from_secs(5));
    (stats, served.log())
}

impl Drop for Launched {
    fn drop(&mut self) {
        // A failed test must not leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line from `stdout`, or why none came within `within`; the reader
/// comes back with the line.
fn read_line_within(
    mut stdout: BufReader<ChildStdout>,
    within: Duration,
) -> Result<(String, BufReader<ChildStdout>), String> {
    let (tx, rx) = mpsc::channel();
    let reading = thread::spawn(move || {
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let _ = tx.send((read.map(|_| line), stdout));
    });
    let read = rx.recv_timeout(within);
    match read {
        Ok((Ok(line), stdout)) => {
            reading.join().unwrap();
            Ok((line, stdout))
        }
        Ok((Err(err), _)) => Err(format!("reading stdout: {err}")),
        Err(_) => Err(format!("no line within {within:?}")),
    }
}

/// The address of `listening on ADDR (BACKEND)`, checking the backend.
pub(crate) fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("listening on ")?;
    let (addr, backend) = rest.trim_end().split_once(' ')?;
    if backend != format!("({})", expected_backend()) {
        return None;
    }
    addr.parse().ok()
}

/// Reads the statistics back from the summary line the binary logs when it
/// stops (`Stats`' Display: its numbers, in order).
pub(crate) fn parse_stats(log: &str) -> Option<Stats> {
    let line = log
        .lines()
        .rev()
        .find(|line| line.contains("stopped: served"))?;
    let summary = &line[line.find("stopped: ")? + "stopped: ".len()..];
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| !word.is_empty())
        .map(|word| word.parse().unwrap())
        .collect();
    let [
        served,
        peak,
        rejected,
        timed_out,
        failed,
        lost,
        pauses,
        received,
        echoed,
        discarded,
        peak_one,
        peak_total,
    ] = numbers[..]
    else {
        return None;
    };
    let mut stats = Stats {
        connections_served: served,
        peak_connections: peak as usize,
        connections_rejected: rejected,
        connections_timed_out: timed_out,
        connections_failed: failed,
        connections_lost_before_accept: lost,
        accept_pauses: pauses,
        ..Stats::default()
    };
    stats.bytes.received = received;
    stats.bytes.echoed = echoed;
    stats.bytes.discarded = discarded;
    stats.bytes.peak_pending_one = peak_one as usize;
    stats.bytes.peak_pending_total = peak_total as usize;
    Some(stats)
}

/// Windows has no stop signal; ntdll's NtSuspendProcess and NtResumeProcess
/// suspend and resume every thread of a process (Process Explorer's
/// "Suspend"; Wine implements both in its server). windows-sys does not
/// declare them: they are ntdll exports without a Win32 wrapper.
#[cfg(windows)]
mod windows_process {
    use std::os::windows::io::AsRawHandle;
    use std::process::Child;

    #[link(name = "ntdll")]
    unsafe extern "system" {
        fn NtSuspendProcess(process: *mut std::ffi::c_void) -> i32;
        fn NtResumeProcess(process: *mut std::ffi::c_void) -> i32;
    }

    pub(crate) fn suspend(child: &Child) {
        // SAFETY: the handle is our live child's, opened with all access.
        let status = unsafe { NtSuspendProcess(child.as_raw_handle()) };
        assert_eq!(status, 0, "NtSuspendProcess: NTSTATUS {status:#x}");
    }

    pub(crate) fn resume(child: &Child) {
        // SAFETY: as in `suspend`.
        let status = unsafe { NtResumeProcess(child.as_raw_handle()) };
        assert_eq!(status, 0, "NtResumeProcess: NTSTATUS {status:#x}");
    }
}
