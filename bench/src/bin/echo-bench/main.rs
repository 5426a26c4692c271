//! `echo-bench`: portable-echo side by side with tokio echo peers of the
//! same shape (greeting, then echo), on loopback.
//!
//! Every round runs every server on every case, one server at a time, each
//! a fresh process listening on port 0 (its `listening on ADDR` line says
//! where); the order alternates between rounds (A B C, then C B A). Per run,
//! echo-load measures messages/s, MB/s and latency, and over exactly the
//! measured window the server's system calls (perf) and CPU time (/proc);
//! echo-idle measures RSS per idle connection; echo-burst, the time from
//! connect to greeting of a burst of clients connecting at once. The report
//! (report.rs) is printed and written to `target/bench/bench-STAMP.json` and
//! `latest.json`, the raw runs to `bench-STAMP.jsonl`, what the programs said
//! on stderr to `bench-STAMP.log`.
//!
//! Outside Linux the server's CPU time, RSS and system calls are not
//! measured (`-` in the table) and the idle probe is skipped.

mod report;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use portable_echo_bench::PROCESS_MEASUREMENTS;
use serde_json::Value;

/// portable-echo side by side with tokio echo peers: every server on every
/// case, in rounds, then the report (medians, ratios against tokio-current).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Smoke run: 2 rounds of 1 s (0.3 s warm-up), 64 B x 1 and 50, idle
    /// 1000, burst 500; flags given with it win
    #[arg(long)]
    quick: bool,
    /// Rounds [default: 5; --quick: 2]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Message sizes in bytes, comma-separated, each run with every --conns
    /// [default: 64,4096,65536; --quick: 64]
    #[arg(long)]
    sizes: Option<List<u32>>,
    /// Connection counts, comma-separated [default: 1,50,1000; --quick: 1,50]
    #[arg(long)]
    conns: Option<List<u32>>,
    /// More cases, SIZExCONNS, comma-separated [default: 65536x10; --quick: ""]
    #[arg(long)]
    extra: Option<List<Case>>,
    /// Measured seconds per run [default: 3; --quick: 1]
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of load before measuring [default: 1; --quick: 0.3]
    #[arg(long)]
    warmup: Option<f64>,
    /// Idle connections of the RSS probe, 0 skips it [default: 5000; --quick: 1000]
    #[arg(long)]
    idle: Option<u32>,
    /// Clients of the burst probe, 0 skips it [default: 2000; --quick: 500]
    #[arg(long)]
    burst: Option<u32>,
    /// Servers, comma-separated
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "portable-echo,tokio-current,tokio-multi"
    )]
    servers: Vec<ServerKind>,
    /// Messages in flight per connection
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    depth: u32,
    /// Do not count system calls (perf)
    #[arg(long)]
    no_perf: bool,
    /// Use the release binaries as they are instead of building them
    #[arg(long)]
    no_build: bool,
    /// Print the report of the raw runs (.jsonl) of an earlier run, and run nothing
    #[arg(long, value_name = "JSONL")]
    report: Option<PathBuf>,
}

/// What a run does, with --quick's and the full run's defaults applied.
#[derive(Debug)]
struct Plan {
    rounds: u32,
    cases: Vec<Case>,
    duration: f64,
    warmup: f64,
    idle: u32,
    burst: u32,
    depth: u32,
    servers: Vec<ServerKind>,
}

impl Plan {
    /// The load cases, then the idle probe (Linux) and the burst, unless 0.
    fn probes(&self) -> Vec<Probe> {
        let mut probes: Vec<Probe> = self.cases.iter().copied().map(Probe::Load).collect();
        if self.idle > 0 && PROCESS_MEASUREMENTS {
            probes.push(Probe::Idle);
        }
        if self.burst > 0 {
            probes.push(Probe::Burst);
        }
        probes
    }
}

impl Args {
    fn plan(&self) -> Plan {
        let q = self.quick;
        let list = |given: &Option<List<u32>>| given.clone().map(|List(items)| items);
        let sizes = pick(list(&self.sizes), q, vec![64, 4096, 65536], vec![64]);
        let conns = pick(list(&self.conns), q, vec![1, 50, 1000], vec![1, 50]);
        let extra = self.extra.clone().map(|List(items)| items);
        let extra = pick(
            extra,
            q,
            vec![Case {
                size: 65536,
                conns: 10,
            }],
            vec![],
        );
        let cases = sizes
            .iter()
            .flat_map(|&size| conns.iter().map(move |&conns| Case { size, conns }))
            .chain(extra)
            .collect();
        Plan {
            rounds: pick(self.rounds, q, 5, 2),
            cases,
            duration: pick(self.duration, q, 3.0, 1.0),
            warmup: pick(self.warmup, q, 1.0, 0.3),
            idle: pick(self.idle, q, 5000, 1000),
            burst: pick(self.burst, q, 2000, 500),
            depth: self.depth,
            servers: self.servers.clone(),
        }
    }
}

/// The value given, or else the full run's default, or --quick's.
fn pick<T>(given: Option<T>, quick: bool, full: T, smoke: T) -> T {
    given.unwrap_or(if quick { smoke } else { full })
}

/// A comma-separated list; the empty string is the empty list.
#[derive(Clone, Debug)]
struct List<T>(Vec<T>);

impl<T: FromStr> FromStr for List<T>
where
    T::Err: fmt::Display,
{
    type Err = String;

    fn from_str(text: &str) -> Result<List<T>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| item.parse().map_err(|err| format!("{item:?}: {err}")))
            .collect::<Result<_, _>>()
            .map(List)
    }
}

/// Message size and connections of one load case, written `SIZExCONNS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Case {
    size: u32,
    conns: u32,
}

impl FromStr for Case {
    type Err = String;

    fn from_str(text: &str) -> Result<Case, String> {
        let parse = |n: &str| n.parse::<u32>().ok().filter(|&n| n > 0);
        let (size, conns) = text.split_once('x').unwrap_or_default();
        match (parse(size), parse(conns)) {
            (Some(size), Some(conns)) => Ok(Case { size, conns }),
            _ => Err("not SIZExCONNS (e.g. 65536x10)".into()),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.size, self.conns)
    }
}

/// The servers a run can compare; their names label the runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ServerKind {
    /// portable-echo as it ships (listen queue 4096)
    #[value(name = "portable-echo")]
    PortableEcho,
    /// echo-tokio on tokio's current-thread runtime (tokio's `bind`: queue 128)
    #[value(name = "tokio-current")]
    TokioCurrent,
    /// echo-tokio on tokio's multi-thread runtime
    #[value(name = "tokio-multi")]
    TokioMulti,
    /// portable-echo --backlog 128, the queue std's, mio's and so tokio's `bind` ask for
    #[value(name = "portable-echo-b128")]
    PortableEchoB128,
    /// tokio-current listening with 4096, portable-echo's queue
    #[value(name = "tokio-current-b4096")]
    TokioCurrentB4096,
}

impl ServerKind {
    fn name(self) -> String {
        let value = self.to_possible_value().expect("no variant is skipped");
        value.get_name().to_owned()
    }

    /// The program and its arguments, listening on a port the system picks.
    fn command(self, bin: &Path) -> Command {
        let (program, args): (&str, &[&str]) = match self {
            ServerKind::PortableEcho => ("portable-echo", &[]),
            ServerKind::PortableEchoB128 => ("portable-echo", &["--backlog", "128"]),
            ServerKind::TokioCurrent => ("echo-tokio", &["--flavor", "current"]),
            ServerKind::TokioCurrentB4096 => {
                ("echo-tokio", &["--flavor", "current", "--backlog", "4096"])
            }
            ServerKind::TokioMulti => ("echo-tokio", &["--flavor", "multi"]),
        };
        let mut command = Command::new(exe(bin, program));
        command.args(["--addr", "127.0.0.1:0"]).args(args);
        command
    }
}

/// The programs a run starts, copied out of the release directory so a
/// build during the run cannot swap them.
const PROGRAMS: [&str; 5] = [
    "portable-echo",
    "echo-tokio",
    "echo-load",
    "echo-idle",
    "echo-burst",
];

/// How long a fresh server may take to print its `listening on` line.
const LISTENING_DEADLINE: Duration = Duration::from_secs(10);

fn exe(dir: &Path, program: &str) -> PathBuf {
    dir.join(format!("{program}{}", std::env::consts::EXE_SUFFIX))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.report {
        Some(path) => report_only(path),
        None => Bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("echo-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn report_only(path: &Path) -> io::Result<()> {
    let text = fs::read_to_string(path)
        .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))?;
    let records: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    print!("{}", report::report(&records).0);
    Ok(())
}

/// A run under way: where its programs and files are, and what it has measured.
struct Bench {
    bin: PathBuf,
    log_path: PathBuf,
    log: File,
    raw: File,
    records: Vec<Value>,
    perf: bool,
}

impl Bench {
    fn run(args: &Args) -> io::Result<()> {
        let plan = args.plan();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("bench/ is inside the workspace");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), |dir| root.join(dir));
        let out_dir = target.join("bench");
        let bin = out_dir.join("bin");
        fs::create_dir_all(&bin)?;

        let perf = !args.no_perf && perf_usable();
        if !PROCESS_MEASUREMENTS {
            eprintln!(
                "echo-bench: the servers' CPU time, RSS and system calls are read from Linux's \
                 /proc and perf: not measured here, and the idle probe is skipped"
            );
        }
        // The idle and burst probes hold that many connections, in the
        // server and in the probe; both inherit this process's limit.
        let wanted = plan.idle.max(plan.burst) as usize + 2048;
        match portable_echo::testing::raise_descriptor_limit(wanted) {
            Ok(Some(limit)) if limit < wanted => eprintln!(
                "echo-bench: the descriptor limit goes no higher than {limit}, \
                 below the {wanted} the probes may need"
            ),
            Ok(_) => {}
            Err(err) => eprintln!("echo-bench: raising the descriptor limit: {err}"),
        }
        if !args.no_build {
            build(root)?;
        }
        let release = target.join("release");
        for program in PROGRAMS {
            let new = exe(&bin, &format!("{program}.new"));
            fs::copy(exe(&release, program), &new)
                .map_err(|err| io::Error::new(err.kind(), format!("copying {program}: {err}")))?;
            fs::rename(&new, exe(&bin, program))?;
        }

        let started = jiff::Timestamp::now();
        let stamp = started.strftime("%Y%m%dT%H%M%SZ").to_string();
        let raw_path = out_dir.join(format!("bench-{stamp}.jsonl"));
        let summary_path = out_dir.join(format!("bench-{stamp}.json"));
        let log_path = out_dir.join(format!("bench-{stamp}.log"));
        let mut bench = Bench {
            bin,
            log: File::options().create(true).append(true).open(&log_path)?,
            log_path,
            raw: File::create(&raw_path)?,
            records: Vec::new(),
            perf,
        };
        let load_at_start = load_average();
        eprintln!(
            "rounds={} cases={} servers={} duration={}s warmup={}s idle={} burst={} depth={}",
            plan.rounds,
            join(&plan.cases, Case::to_string),
            join(&plan.servers, |s| s.name()),
            plan.duration,
            plan.warmup,
            plan.idle,
            plan.burst,
            plan.depth
        );
        for round in 1..=plan.rounds {
            bench.round(&plan, round)?;
        }

        let machine = machine();
        let mut meta = vec![
            format!(
                "command: echo-bench {}",
                std::env::args().skip(1).collect::<Vec<_>>().join(" ")
            ),
            format!("date: {}", started.strftime("%Y-%m-%d %H:%M UTC")),
            format!("machine: {machine}"),
            format!(
                "rustc: {}",
                output_of("rustc", &["--version"], root).unwrap_or_else(|| "unknown".into())
            ),
            format!("git: {}", git_state(root)),
            format!(
                "rounds: {}, duration: {}s, warmup: {}s, depth: {}, idle: {}, burst: {}",
                plan.rounds, plan.duration, plan.warmup, plan.depth, plan.idle, plan.burst
            ),
        ];
        if let Ok(somaxconn) = fs::read_to_string("/proc/sys/net/core/somaxconn") {
            meta.push(format!("net.core.somaxconn: {}", somaxconn.trim()));
        }
        meta.push(format!(
            "load average at start: {load_at_start}, at end: {}",
            load_average()
        ));

        let (text, mut summary) = report::report(&bench.records);
        print!("{text}");
        summary.insert("meta".into(), meta.into());
        summary.insert("runs".into(), bench.records.into());
        let pretty = serde_json::to_string_pretty(&summary)? + "\n";
        fs::write(&summary_path, &pretty)?;
        fs::write(out_dir.join("latest.json"), &pretty)?;
        println!();
        println!(
            "date: {}; machine: {machine}; rounds: {} x {}s (+{}s warm-up)",
            started.strftime("%Y-%m-%d %H:%M UTC"),
            plan.rounds,
            plan.duration,
            plan.warmup
        );
        println!("raw runs: {}", raw_path.display());
        println!("summary:  {}", summary_path.display());
        Ok(())
    }

    /// One round: every probe on every server, in this round's order.
    fn round(&mut self, plan: &Plan, round: u32) -> io::Result<()> {
        let mut order = plan.servers.clone();
        if round % 2 == 0 {
            order.reverse();
        }
        for probe in plan.probes() {
            for &kind in &order {
                self.probe(plan, probe, kind, round)?;
            }
            eprintln!("round {round}/{}: {} done", plan.rounds, probe.name(plan));
        }
        Ok(())
    }

    /// Runs `probe` against a fresh `kind` server and keeps its record, if
    /// it printed one. A probe that fails is reported and the run goes on.
    fn probe(&mut self, plan: &Plan, probe: Probe, kind: ServerKind, round: u32) -> io::Result<()> {
        let server = Server::start(kind, &self.bin, &self.log)?;
        let mut command = Command::new(exe(&self.bin, probe.program()));
        command.arg(format!("--addr={}", server.addr));
        command.args(probe.args(plan, self.perf));
        if PROCESS_MEASUREMENTS && probe != Probe::Burst {
            command.arg(format!("--server-pid={}", server.child.id()));
        }
        command.args([
            "--json".into(),
            format!("--label={}", kind.name()),
            format!("--round={round}"),
        ]);
        let output = command
            .stdin(Stdio::null())
            .stderr(self.log.try_clone()?)
            .output()?;
        drop(server);
        let what = format!("round {round} {:<14} {:<9}", kind.name(), probe.name(plan));
        if !output.status.success() {
            eprintln!(
                "echo-bench: {what}: {} {} (see {})",
                probe.program(),
                output.status,
                self.log_path.display()
            );
        }
        let record = String::from_utf8_lossy(&output.stdout)
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str::<Value>(line).ok());
        let line = record.as_ref().map(Value::to_string).unwrap_or_default();
        writeln!(
            self.log,
            "{what} {}",
            line.chars().take(160).collect::<String>()
        )?;
        if let Some(record) = record {
            writeln!(self.raw, "{record}")?;
            self.records.push(record);
        }
        Ok(())
    }
}

/// What a run measures with each server, one program run per server and round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// echo-load on one case.
    Load(Case),
    /// echo-idle: RSS per idle connection.
    Idle,
    /// echo-burst: connect to greeting of a burst of clients.
    Burst,
}

impl Probe {
    fn program(self) -> &'static str {
        match self {
            Probe::Load(_) => "echo-load",
            Probe::Idle => "echo-idle",
            Probe::Burst => "echo-burst",
        }
    }

    fn name(self, plan: &Plan) -> String {
        match self {
            Probe::Load(case) => case.to_string(),
            Probe::Idle => "idle RSS".into(),
            Probe::Burst => format!("burst of {}", plan.burst),
        }
    }

    /// The program's arguments, but for the server's address and pid, and
    /// the labels of the record.
    fn args(self, plan: &Plan, perf: bool) -> Vec<String> {
        match self {
            Probe::Load(case) => {
                let mut args = vec![
                    format!("--connections={}", case.conns),
                    format!("--size={}", case.size),
                    format!("--depth={}", plan.depth),
                    format!("--duration={}", plan.duration),
                    format!("--warmup={}", plan.warmup),
                ];
                if perf {
                    args.push("--perf".into());
                }
                args
            }
            Probe::Idle => vec![format!("--connections={}", plan.idle)],
            Probe::Burst => vec![format!("--connections={}", plan.burst)],
        }
    }
}

/// A server process, stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `kind`'s program and reads, from its `listening on ADDR`
    /// line, where it listens. Its stderr goes to `log`.
    fn start(kind: ServerKind, bin: &Path, log: &File) -> io::Result<Server> {
        let mut child = kind
            .command(bin)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (found, listening) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let addr = line
                    .strip_prefix("listening on ")
                    .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
                if let (Some(addr), Some(found)) = (addr, found.take()) {
                    let _ = found.send(addr);
                }
            }
        });
        match listening.recv_timeout(LISTENING_DEADLINE) {
            Ok(addr) => Ok(Server { child, addr }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait()?;
                Err(io::Error::other(format!(
                    "{} printed no `listening on ADDR` line within {LISTENING_DEADLINE:?} \
                     ({status})",
                    kind.name()
                )))
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        #[cfg(unix)]
        if terminated(&mut self.child) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks a server for its graceful stop (SIGTERM); whether it exited within
/// 10 s.
#[cfg(unix)]
fn terminated(child: &mut Child) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // SAFETY: kill(2) on our own child, which has not been waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    while std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Ok(Some(_)) | Err(_) => return true,
        }
    }
    false
}

/// Builds the release binaries the run starts: the server, and this package.
fn build(root: &Path) -> io::Result<()> {
    eprintln!("building (release)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for args in [
        &["build", "--release", "--quiet", "--bin", "portable-echo"][..],
        &["build", "--release", "--quiet", "-p", "portable-echo-bench"],
    ] {
        let status = Command::new(&cargo).args(args).current_dir(root).status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "cargo {}: {status}",
                args.join(" ")
            )));
        }
    }
    Ok(())
}

/// Whether perf can count system calls, after installing it with apt-get
/// if it cannot (saying so).
#[cfg(target_os = "linux")]
fn perf_usable() -> bool {
    let quiet = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let counts = || quiet("perf", &["stat", "-e", "raw_syscalls:sys_enter", "true"]);
    if counts() {
        return true;
    }
    eprintln!(
        "echo-bench: perf is missing or cannot count raw_syscalls:sys_enter; \
         installing linux-perf with apt-get"
    );
    let install = || quiet("apt-get", &["install", "-y", "linux-perf"]);
    if (install() || (quiet("apt-get", &["update"]) && install())) && counts() {
        eprintln!("echo-bench: linux-perf installed");
        return true;
    }
    eprintln!(
        "echo-bench: perf unavailable: system calls will not be counted \
         (as root: apt-get install linux-perf; sysctl kernel.perf_event_paranoid=-1)"
    );
    false
}

/// perf is Linux's: system calls are not counted here.
#[cfg(not(target_os = "linux"))]
fn perf_usable() -> bool {
    false
}

/// Cores, OS and CPU, as far as they can be read.
fn machine() -> String {
    let cores = thread::available_parallelism().map_or(0, usize::from);
    let mut parts = vec![format!("{cores} cores")];
    let read = |path: &str| fs::read_to_string(path).ok();
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(os), Some(release)) => parts.push(format!("{} {}", os.trim(), release.trim())),
        _ => parts.push(format!(
            "{} {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        )),
    }
    let field = |text: Option<String>, key: &str| {
        text?.lines().find_map(|line| {
            let (name, value) = line.split_once(['=', ':'])?;
            (name.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
        })
    };
    parts.extend(field(read("/etc/os-release"), "PRETTY_NAME"));
    parts.extend(field(read("/proc/cpuinfo"), "model name"));
    parts.join(", ")
}

/// The 1, 5 and 15 minute load averages (Linux).
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "not measured".into(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// The commit checked out, and whether the tree differs from it.
fn git_state(root: &Path) -> String {
    let Some(commit) = output_of("git", &["rev-parse", "--short", "HEAD"], root) else {
        return "unknown".into();
    };
    match output_of(
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
        root,
    ) {
        Some(changed) if changed.is_empty() => commit,
        _ => format!("{commit} (uncommitted changes)"),
    }
}

/// A command's standard output, trimmed, if it succeeds.
fn output_of(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    output.status.success().then_some(text)
}

fn join<T>(items: &[T], name: impl Fn(&T) -> String) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(" ")
}
