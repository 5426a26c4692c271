//! Shared pieces of the benchmark binaries: connecting and checking the
//! greeting, reading another process's CPU time and RSS from /proc, counting
//! its system calls with `perf stat`, and writing flat JSON.
//!
//! The measurements of processes are Linux's (/proc, perf) and Unix's
//! (getrusage): elsewhere they fail or are NaN (`null` in the JSON), so the
//! benchmark builds, and is linted, on every OS the workflow runs on.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// Connects, turns Nagle off and reads the greeting: `expected` exactly, or
/// (when `expected` is `None`) any `len` bytes.
pub fn connect_greeted(
    addr: SocketAddr,
    expected: Option<&[u8]>,
    len: usize,
) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut greeting = vec![0; len];
    stream.read_exact(&mut greeting).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("reading the {len}-byte greeting: {err}"),
        )
    })?;
    if let Some(expected) = expected {
        if greeting != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "greeting was {:?}, expected {:?}",
                    String::from_utf8_lossy(&greeting),
                    String::from_utf8_lossy(expected)
                ),
            ));
        }
    }
    stream.set_read_timeout(None)?;
    Ok(stream)
}

/// Clock ticks per second for /proc/PID/stat times.
#[cfg(unix)]
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// No /proc here: the value only scales times that cannot be read.
#[cfg(not(unix))]
pub fn clock_ticks_per_sec() -> u64 {
    100
}

/// (utime, stime) of a whole process (all threads), in clock ticks.
pub fn process_cpu_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its ')'.
    let after = stat
        .rfind(')')
        .map(|at| &stat[at + 1..])
        .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let parse = |i: usize| -> io::Result<u64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))
    };
    Ok((parse(14)?, parse(15)?))
}

/// Time all threads of a process have run on a CPU, in nanoseconds, from
/// /proc/PID/task/*/schedstat (exact, where utime+stime is sampled at clock
/// ticks). Threads that exited are not counted.
pub fn process_sched_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(text) = fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
}

/// VmRSS of a process, in KiB.
pub fn process_rss_kib(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

/// CPU time this process has used (user + system), in seconds; NaN where
/// there is no getrusage.
#[cfg(not(unix))]
pub fn own_cpu_secs() -> f64 {
    f64::NAN
}

/// CPU time this process has used (user + system), in seconds.
#[cfg(unix)]
pub fn own_cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Counts one process's system calls with `perf stat -e raw_syscalls:sys_enter`,
/// enabled and disabled on request so the count covers exactly the window
/// the caller measures (perf's `--delay=-1` and `--control`).
#[derive(Debug)]
pub struct SyscallCounter {
    child: Child,
    dir: PathBuf,
    ctl: fs::File,
    ack: fs::File,
}

impl SyscallCounter {
    /// perf is Linux's.
    #[cfg(not(unix))]
    pub fn attach(_pid: u32) -> io::Result<SyscallCounter> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "counting system calls needs Linux's perf",
        ))
    }

    /// Attaches perf to `pid`, counting nothing yet.
    #[cfg(unix)]
    pub fn attach(pid: u32) -> io::Result<SyscallCounter> {
        use std::process::{Command, Stdio};
        let dir = std::env::temp_dir().join(format!("echo-load-perf-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let ctl_path = dir.join("ctl");
        let ack_path = dir.join("ack");
        for path in [&ctl_path, &ack_path] {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(io::Error::other)?;
            // SAFETY: c is a valid NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // Opened read-write so neither open waits for perf to open its end.
        let open = |p: &PathBuf| fs::OpenOptions::new().read(true).write(true).open(p);
        let ctl = open(&ctl_path)?;
        let ack = open(&ack_path)?;
        let child = Command::new("perf")
            .args(["stat", "-x,", "--delay=-1", "-e", "raw_syscalls:sys_enter"])
            .arg("--control")
            .arg(format!(
                "fifo:{},{}",
                ctl_path.display(),
                ack_path.display()
            ))
            .arg("-o")
            .arg(dir.join("out"))
            .arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("starting perf: {err}")))?;
        Ok(SyscallCounter {
            child,
            dir,
            ctl,
            ack,
        })
    }

    fn command(&mut self, what: &str) -> io::Result<()> {
        self.ctl.write_all(format!("{what}\n").as_bytes())?;
        // perf answers "ack\n" followed by a NUL; skip NULs left over from
        // the previous answer and read up to the newline.
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while byte[0] != b'\n' {
            self.ack.read_exact(&mut byte)?;
            if byte[0] != 0 {
                reply.push(byte[0]);
            }
        }
        if reply != b"ack\n" {
            return Err(io::Error::other(format!(
                "perf answered {:?} to {what:?}",
                String::from_utf8_lossy(&reply)
            )));
        }
        Ok(())
    }

    /// Starts counting; returns once perf confirms.
    pub fn enable(&mut self) -> io::Result<()> {
        self.command("enable")
    }

    /// Stops counting; returns once perf confirms.
    pub fn disable(&mut self) -> io::Result<()> {
        self.command("disable")
    }

    /// Ends perf and returns the count.
    pub fn finish(mut self) -> io::Result<u64> {
        // perf prints its count when interrupted.
        #[cfg(unix)]
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        self.child.wait()?;
        let out = fs::read_to_string(self.dir.join("out"))?;
        let _ = fs::remove_dir_all(&self.dir);
        out.lines()
            .filter(|line| line.contains("raw_syscalls:sys_enter"))
            .find_map(|line| line.split(',').next()?.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no count in perf output: {out:?}")))
    }
}

impl Drop for SyscallCounter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// How a probe reports, shared by echo-load, echo-idle and echo-burst: text,
/// or one JSON object labelled with the server and round for bench/run.sh.
#[derive(clap::Args, Debug)]
pub struct Output {
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Label copied into the JSON output
    #[arg(long, default_value = "")]
    pub label: String,
    /// Round number copied into the JSON output
    #[arg(long, default_value_t = 0)]
    pub round: u32,
}

impl Output {
    /// A JSON object that starts with the label and the round.
    pub fn record(&self) -> Json {
        Json::default()
            .str("label", &self.label)
            .num("round", self.round as f64)
    }
}

/// The server's greeting, from the library's one source of defaults.
pub fn default_greeting() -> String {
    String::from_utf8_lossy(&portable_echo::Config::default().greeting).into_owned()
}

/// A flat JSON object built field by field.
#[derive(Debug, Default)]
pub struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        let _ = write!(self.0, "\"{key}\":");
    }

    /// Adds a number (NaN and infinities become null).
    pub fn num(mut self, key: &str, value: f64) -> Self {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.0, "{value}");
        } else {
            self.0.push_str("null");
        }
        self
    }

    /// Adds an optional number.
    pub fn opt(self, key: &str, value: Option<f64>) -> Self {
        self.num(key, value.unwrap_or(f64::NAN))
    }

    /// Adds a string.
    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.0.push('"');
        for c in value.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", c as u32);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
        self
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}
