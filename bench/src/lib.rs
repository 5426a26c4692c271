//! Shared pieces of the benchmark's programs: connecting and checking the
//! greeting, the JSON record every probe prints, and what is read about
//! another process (CPU time and RSS from /proc, system calls counted with
//! `perf stat`).
//!
//! Those readings are Linux's: elsewhere [`proc`] and [`SyscallCounter`]
//! fail with `ErrorKind::Unsupported`, the figures are reported as not
//! measured, and the benchmark still builds (and is linted) on every OS the
//! workflow runs on.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Map, Value};

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

/// The server's greeting, from the library's one source of defaults.
pub fn default_greeting() -> String {
    String::from_utf8_lossy(&portable_echo::Config::default().greeting).into_owned()
}

/// CPU time this process has used (user + system), in seconds.
#[cfg(unix)]
pub fn own_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we pass, which outlives the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// NaN (not measured, `null` in the JSON): no getrusage here.
#[cfg(not(unix))]
pub fn own_cpu_secs() -> f64 {
    f64::NAN
}

/// How a probe reports, shared by echo-load, echo-idle and echo-burst: text,
/// or one JSON object labelled with the server and round for echo-bench.
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
    /// The record of a run: `figures` (a JSON object) with the label and the
    /// round added. Figures that are NaN or `None` are `null`.
    pub fn record(&self, figures: Value) -> Value {
        let mut record = Map::new();
        record.insert("label".into(), self.label.clone().into());
        record.insert("round".into(), self.round.into());
        if let Value::Object(figures) = figures {
            record.extend(figures);
        }
        Value::Object(record)
    }
}

/// Another process's CPU time and memory, read from /proc.
#[cfg(target_os = "linux")]
pub mod proc {
    use std::fs;
    use std::io;

    /// Clock ticks per second, the unit of [`cpu_ticks`].
    pub fn clock_ticks_per_sec() -> u64 {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
    }

    /// (utime, stime) of a whole process (all threads), in clock ticks.
    pub fn cpu_ticks(pid: u32) -> io::Result<(u64, u64)> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The command name may hold spaces: fields are counted after its ')'.
        let after = stat
            .rfind(')')
            .map(|at| &stat[at + 1..])
            .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of proc_pid_stat(5); `after` starts at field 3.
        let parse = |i: usize| -> io::Result<u64> {
            fields
                .get(i - 3)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))
        };
        Ok((parse(14)?, parse(15)?))
    }

    /// Time all threads of a process have run on a CPU, in nanoseconds, from
    /// /proc/PID/task/*/schedstat (exact, where utime+stime is sampled at
    /// clock ticks). Threads that exited are not counted.
    pub fn sched_ns(pid: u32) -> io::Result<u64> {
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
    pub fn rss_kib(pid: u32) -> io::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
    }
}

/// Another process's CPU time and memory: not measured without Linux's
/// /proc.
#[cfg(not(target_os = "linux"))]
pub mod proc {
    use std::io;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "another process's CPU time and RSS are read from Linux's /proc",
        )
    }

    /// Clock ticks per second (nothing here is measured in them).
    pub fn clock_ticks_per_sec() -> u64 {
        100
    }

    /// Fails: no /proc.
    pub fn cpu_ticks(_pid: u32) -> io::Result<(u64, u64)> {
        Err(unsupported())
    }

    /// Fails: no /proc.
    pub fn sched_ns(_pid: u32) -> io::Result<u64> {
        Err(unsupported())
    }

    /// Fails: no /proc.
    pub fn rss_kib(_pid: u32) -> io::Result<u64> {
        Err(unsupported())
    }
}

/// Whether this OS can count another process's system calls, and read its
/// CPU time and RSS (Linux: perf and /proc).
pub const PROCESS_MEASUREMENTS: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
mod perf;
#[cfg(target_os = "linux")]
pub use perf::SyscallCounter;

/// Counts another process's system calls: only with Linux's perf, so
/// here it cannot be made.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub enum SyscallCounter {}

#[cfg(not(target_os = "linux"))]
impl SyscallCounter {
    /// Fails: counting system calls needs Linux's perf.
    pub fn attach(_pid: u32) -> io::Result<SyscallCounter> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "counting system calls needs Linux's perf",
        ))
    }

    /// Starts counting.
    pub fn enable(&mut self) -> io::Result<()> {
        match *self {}
    }

    /// Stops counting.
    pub fn disable(&mut self) -> io::Result<()> {
        match *self {}
    }

    /// Ends perf and returns the count.
    pub fn finish(self) -> io::Result<u64> {
        match self {}
    }
}
