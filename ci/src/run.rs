//! Runs a cell's plan: each step's output to the terminal and the cell's
//! log, libtest's lines and cargo's artifacts read as they pass, and one
//! JSON result per cell, which is all the report reads.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use std::{fs, io, thread};

use crate::cmd::Cmd;
use crate::fidelity::{Fidelity, Os, Runtime, Seen};
use crate::install::Wanted;
use crate::matrix::{Cell, Work};
use crate::plan::{JSON, Plan, Planner, What};
use crate::result::{CellResult, Counts, Ignored, Status};

/// The running step's process group, which a timeout or a signal ends.
static RUNNING: Mutex<Option<u32>> = Mutex::new(None);

/// Ctrl-C or TERM to the xtask ends the running step, all of it, then the
/// xtask. (Each step runs in a process group of its own, out of the
/// terminal's reach, so that a timeout can end all of it.)
pub fn forward_signals() {
    #[cfg(unix)]
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP]) {
        thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                RUNNING.lock().unwrap().map(kill_tree);
                std::process::exit(128 + signal);
            }
        });
    }
}

fn kill_tree(pid: u32) {
    // SAFETY: kill(2) on the process group the step was started in.
    #[cfg(unix)]
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
    #[cfg(windows)]
    let _ = Command::new("taskkill").args(["/T", "/F", "/PID", &pid.to_string()]).output();
}

/// Runs a cell (or says why it cannot), saves and returns its result.
pub fn cell(p: &Planner, root: &Path, cell: &Cell, echo: bool, timeout: u64) -> CellResult {
    let m = p.matrix;
    let mut result = CellResult::new(m, cell, p.via, p.host);
    let log = root.join(&result.log);
    let _ = fs::create_dir_all(log.parent().expect("logs have a directory"));
    match (p.plan(cell), fs::File::create(&log)) {
        (Err(e), _) => result.reason = Some(e),
        (_, Err(e)) => result.reason = Some(format!("creating {}: {e}", log.display())),
        (Ok(plan), Ok(log)) => {
            let wanted: Wanted = plan.needs.iter().map(|n| (n.clone(), vec![cell.name.clone()])).collect();
            let missing = crate::install::missing(m, root, &wanted);
            if !missing.is_empty() {
                result.status = Status::Unavailable;
                let lines: Vec<_> = missing.keys().map(|n| crate::install::describe(m, n)).collect();
                result.reason = Some(format!("missing: {}", lines.join("; ")));
            } else {
                let deadline = Instant::now() + Duration::from_secs(timeout);
                let probes = match &cell.work {
                    Work::Build(b, kind) if plan.probes => Some((Os::of(&b.target), Runtime::of(b, kind, p.via))),
                    _ => None,
                };
                let peer = match plan.host_peer {
                    true => crate::peer::address().map(|addr| Some((m.project.var("FIDELITY_PEER"), addr))),
                    false => Ok(None),
                };
                let record = m.project.fidelity.as_ref().map(|f| f.record.as_str());
                let black_box = m.project.black_box.as_deref();
                match peer {
                    Ok(peer) => {
                        let runner = Runner { root, echo, deadline, log, result, probes, record, peer, black_box };
                        result = runner.run(&plan);
                    }
                    Err(e) => result.reason = Some(e),
                }
            }
        }
    }
    if let Err(e) = result.save(root) {
        eprintln!("error: saving the result of {}: {e}", cell.name);
    }
    result
}

struct Runner<'a> {
    root: &'a Path,
    /// Show the steps' output on the terminal (`cell`), or only log it (`matrix`).
    echo: bool,
    deadline: Instant,
    log: fs::File,
    result: CellResult,
    /// The OS and runtime of a cell whose probes must report.
    probes: Option<(Option<Os>, Option<Runtime>)>,
    /// The probes' record (ci/matrix.toml's `[project] fidelity`).
    record: Option<&'a str>,
    /// The probes' host peer, which every step is told of at this variable.
    peer: Option<(String, SocketAddr)>,
    /// The prefix of the black-box tests' names, counted apart.
    black_box: Option<&'a str>,
}

impl Runner<'_> {
    fn say(&mut self, line: &str) {
        if self.echo {
            println!("{line}");
        }
        let _ = writeln!(self.log, "{}", strip_ansi(line));
    }

    /// Runs every step (a failed one does not stop the next: one run shows
    /// every problem), then judges the cell.
    fn run(mut self, plan: &Plan) -> CellResult {
        let start = Instant::now();
        let mut out = Output { black_box: self.black_box.map(|b| format!(": {b}")), ..Output::default() };
        self.result.exceptions.clone_from(&plan.exceptions);
        plan.exceptions.iter().for_each(|e| self.say(&format!("exception: {e}")));
        for step in &plan.steps {
            self.say(&format!("==> {step}"));
            let (ok, why) = match &step.what {
                What::Run(cmd) => {
                    out.json |= cmd.args.iter().any(|a| a == JSON);
                    self.result.tested |= ["test", "cross-test", "serve", "miri", "asan", "tsan"].contains(&step.name);
                    let (status, _) = self.spawn(cmd, &mut out);
                    (status == Some(0), format!("exit status {status:?}"))
                }
                What::Alike(ours, original) => {
                    let ours = self.spawn(ours, &mut out);
                    let original = self.spawn(original, &mut out);
                    let (same, what) = alike(ours, original);
                    self.say(&format!("compared: {what}"));
                    (same, what)
                }
                What::Clear(dir) => {
                    let dir = self.root.join(dir);
                    let _ = fs::remove_dir_all(&dir);
                    (fs::create_dir_all(&dir).is_ok(), format!("cannot create {}", dir.display()))
                }
                What::Empty(dir) => {
                    let found: Vec<_> = fs::read_dir(self.root.join(dir)).into_iter().flatten().flatten().collect();
                    for f in &found {
                        fs::read_to_string(f.path()).unwrap_or_default().lines().for_each(|l| self.say(l));
                    }
                    (found.is_empty(), format!("{} report(s) in {dir}", found.len()))
                }
            };
            let first_error = out.first_error.take();
            if ok {
                self.result.steps.push(step.name.into());
            } else {
                self.result.steps.push(format!("{} FAILED", step.name));
                self.say(&format!("step {} FAILED: {why}", step.name));
                let because = first_error.map(|e| format!(": {e}")).unwrap_or_default();
                self.result.reason.get_or_insert(format!("{} failed{because}", step.name));
            }
            if Instant::now() >= self.deadline {
                self.result.reason = Some("timed out".into());
                self.result.steps.push("timed out FAILED".into());
                break;
            }
        }
        if out.json && self.result.reason.is_none() {
            self.verify_mio(&plan.mio, &out.mio);
        }
        self.result.probes = std::mem::take(&mut out.probes);
        if let Some((os, runtime)) = self.probes {
            self.judge_probes(os, runtime);
        }
        // libtest's summaries are the totals; say so if the lines disagree.
        let (lines, summaries) = (self.result.tests(), out.summaries);
        if summaries != lines && summaries != Counts::default() {
            let e = format!("per-test lines count {lines:?}, libtest's summaries {summaries:?}");
            self.result.exceptions.push(e);
        }
        if let [first, ..] = &self.result.failed_tests[..] {
            let n = self.result.failed_tests.len();
            self.result.reason = Some(format!("{n} test(s) failed: {first}{}", if n > 1 { ", ..." } else { "" }));
        }
        // Every failed step, the mio check and the timeout gave a reason.
        self.result.status = if self.result.reason.is_some() { Status::Fail } else { Status::Pass };
        self.result.seconds = start.elapsed().as_secs();
        let line = format!("result: {} seconds={}", self.result.status, self.result.seconds);
        self.say(&line);
        self.result
    }

    /// The probes' lines against ci/fidelity.toml; a probe missing or not
    /// in the file fails the cell (a deviation does not).
    fn judge_probes(&mut self, os: Option<Os>, runtime: Option<Runtime>) {
        let Some(os) = os else {
            self.result.reason.get_or_insert(format!("no OS stands for {} in ci/src/fidelity.rs", self.result.target));
            return;
        };
        self.result.stands_for = Some(os);
        let problems = match Fidelity::load(self.root, self.record.unwrap_or_default()) {
            Ok(fidelity) => fidelity.judge(os, runtime, self.peer.is_some(), &mut self.result.probes),
            Err(e) => vec![e],
        };
        problems.iter().for_each(|p| self.say(&format!("fidelity: {p}")));
        if let [first, ..] = &problems[..] {
            self.result.reason.get_or_insert(first.clone());
            self.result.steps.push("probes FAILED".into());
        }
    }

    /// mio's dep-info must name the selector and waker files of the cell's
    /// backend: the compiler's own word on what the target selects.
    fn verify_mio(&mut self, wanted: &[String], compiled: &[String]) {
        let missing: Vec<_> = wanted.iter().filter(|w| !compiled.contains(w)).collect();
        if missing.is_empty() {
            self.result.mio = wanted.to_vec();
            return self.say(&format!("mio: compiled {}", wanted.join(" and ")));
        }
        let why = format!("mio's dep-info lacks src/sys/{} (it has: {})", missing[0], compiled.join(", "));
        self.say(&format!("mio: {why}"));
        self.result.reason.get_or_insert(why);
        self.result.steps.push("mio FAILED".into());
    }

    /// Runs `cmd`, its stdout and stderr merged in one pipe; returns its exit
    /// status (`None`: it did not start, or was killed) and its output.
    fn spawn(&mut self, cmd: &Cmd, out: &mut Output) -> (Option<i32>, String) {
        let started = start(cmd, self.root, self.peer.as_ref())
            .inspect_err(|e| self.say(&format!("cannot start {}: {e}", cmd.program)));
        let Ok((mut child, reader)) = started else { return (None, String::new()) };
        *RUNNING.lock().unwrap() = Some(child.id());
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || BufReader::new(reader).split(b'\n').map_while(Result::ok).try_for_each(|l| tx.send(l)));
        let (mut exited, mut text) = (false, String::new());
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(bytes) => {
                    let raw = String::from_utf8_lossy(&bytes);
                    let raw = raw.trim_end_matches(['\n', '\r']);
                    let line = strip_ansi(raw);
                    if line.starts_with("{\"reason\":") {
                        out.artifact(&line);
                        continue;
                    }
                    self.say(raw);
                    out.line(&line, &mut self.result);
                    text = text + &line + "\n";
                }
                Err(RecvTimeoutError::Disconnected) => break,
                // A daemon the step started (wineserver) may hold the pipe:
                // stop reading a moment after the step itself exits.
                Err(RecvTimeoutError::Timeout) if exited => break,
                Err(RecvTimeoutError::Timeout) => {
                    exited = child.try_wait().is_ok_and(|s| s.is_some());
                    if !exited && Instant::now() >= self.deadline {
                        self.say(&format!("timed out: ending {}", cmd.program));
                        kill_tree(child.id());
                    }
                }
            }
        }
        *RUNNING.lock().unwrap() = None;
        (child.wait().ok().and_then(|s| s.code()), text)
    }
}

/// Whether our binary failed as the original did: the same exit status,
/// not 0, and the same panic message; and what each did.
fn alike(ours: (Option<i32>, String), original: (Option<i32>, String)) -> (bool, String) {
    let message = |text: &str| {
        let mut lines = text.lines().skip_while(|l| !l.contains(" panicked at "));
        lines.nth(1).map(str::to_string)
    };
    let (mine, theirs) = (message(&ours.1), message(&original.1));
    let same = ours.0 == original.0 && ours.0 != Some(0) && mine.is_some() && mine == theirs;
    let why = format!(
        "exit status {:?}, panic message {mine:?}; mio's example: exit status {:?}, panic message {theirs:?}",
        ours.0, original.0
    );
    (same, why)
}

fn start(cmd: &Cmd, root: &Path, peer: Option<&(String, SocketAddr)>) -> io::Result<(Child, io::PipeReader)> {
    let (reader, writer) = io::pipe()?;
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args).current_dir(root.join(cmd.dir)).stdin(Stdio::null());
    command.stdout(writer.try_clone()?).stderr(writer);
    if let Some((var, addr)) = peer {
        command.env(var, addr.to_string());
    }
    for (k, v) in &cmd.env {
        match v {
            Some(v) => command.env(k, v),
            None => command.env_remove(k),
        };
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    Ok((command.spawn()?, reader))
}

/// What libtest and cargo said during a cell, beyond the tests it counts.
#[derive(Default)]
struct Output {
    /// `: PREFIX` of the black-box tests' names, after the binary's.
    black_box: Option<String>,
    binary: String,
    summaries: Counts,
    first_error: Option<String>,
    /// A build reported its artifacts as JSON; mio's source files it compiled.
    json: bool,
    mio: Vec<String>,
    /// The fidelity probes' lines.
    probes: Vec<Seen>,
}

impl Output {
    /// One line of a step's output; its tests are counted in `r`.
    fn line(&mut self, line: &str, r: &mut CellResult) {
        let trimmed = line.trim_start();
        if let Some(seen) = Seen::parse(line) {
            self.probes.push(seen);
        } else if let Some(note) = line.strip_prefix("report-note: ") {
            r.notes.push(note.into());
        } else if let Some(rest) = trimmed.strip_prefix("Running ") {
            // `Running tests/echo.rs (target/...)`, `Running unittests src/lib.rs (...)`
            let path = rest.trim_start_matches("unittests ").split(' ').next().unwrap_or_default();
            self.binary = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".rs").into();
        } else if let Some(rest) = trimmed.strip_prefix("Doc-tests ") {
            self.binary = format!("doc {rest}");
        } else if let Some((name, outcome)) = line.strip_prefix("test ").and_then(|l| l.split_once(" ... ")) {
            let (outcome, reason) = outcome.split_once(", ").map_or((outcome, None), |(o, r)| (o, Some(r.into())));
            let test = format!("{}: {name}", self.binary);
            let black_box = self.black_box.as_ref().is_some_and(|b| test.contains(b.as_str()));
            let counts = if black_box { &mut r.black_box } else { &mut r.in_process };
            match outcome {
                "ok" => counts.passed += 1,
                "FAILED" => {
                    counts.failed += 1;
                    r.failed_tests.push(test);
                }
                "ignored" => {
                    counts.ignored += 1;
                    r.ignored_tests.push(Ignored { test, reason });
                }
                _ => {}
            }
        } else if let Some(rest) = line.strip_prefix("test result: ") {
            let number = |word: &str| {
                let before = rest.split(&format!(" {word};")).next().unwrap_or_default();
                before.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
            };
            self.summaries.passed += number("passed");
            self.summaries.failed += number("failed");
            self.summaries.ignored += number("ignored");
        } else if self.first_error.is_none() && (line.starts_with("error:") || line.starts_with("error[")) {
            self.first_error = Some(line.into());
        }
    }

    /// One of cargo's JSON messages: mio's artifact names its dep-info file.
    fn artifact(&mut self, line: &str) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { return };
        if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != "mio" {
            return;
        }
        for file in msg["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            let path = Path::new(file);
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let dep_info = fs::read_to_string(path.with_file_name(format!("{}.d", stem.trim_start_matches("lib"))));
            // mio's own source files, named relative to its src/sys/.
            for f in dep_info.unwrap_or_default().replace('\\', "/").split_whitespace() {
                let f = f.trim_end_matches(':').rsplit_once("/src/sys/").map_or("", |(_, f)| f);
                if f.ends_with(".rs") && !self.mio.iter().any(|m| m == f) {
                    self.mio.push(f.into());
                }
            }
        }
    }
}

/// Removes terminal escape sequences (`CARGO_TERM_COLOR=always` on Actions).
pub fn strip_ansi(line: &str) -> String {
    anstream::adapter::strip_str(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(strip_ansi("\x1b[1m\x1b[91merror[E0425]\x1b[0m: cannot find"), "error[E0425]: cannot find");
        assert_eq!(strip_ansi("see \x1b]8;;file:///src/a.rs\x1b\\src/a.rs\x1b]8;;\x1b\\"), "see src/a.rs");
    }

    #[test]
    fn a_failure_is_alike_only_with_the_same_status_and_panic_message() {
        let run = |status, location: &str, message: &str| {
            (Some(status), format!("\nthread 'main' (1) panicked at {location}:\n{message}\nnote: run with ...\n"))
        };
        let original = run(134, "examples/tcp_server.rs:193:5", "can't bind to an address with wasi");
        assert!(alike(run(134, "src/main.rs:222:59", "can't bind to an address with wasi"), original.clone()).0);
        assert!(!alike(run(134, "src/main.rs:1:1", "cannot bind"), original.clone()).0);
        assert!(!alike(run(1, "src/main.rs:1:1", "can't bind to an address with wasi"), original.clone()).0);
        assert!(!alike((Some(0), String::new()), (Some(0), String::new())).0, "a success is no failure");
    }

    #[test]
    fn libtest_lines_are_counted_by_binary_and_mode() {
        let mut out = Output { black_box: Some(": black_box::".into()), ..Output::default() };
        let mut r = CellResult::default();
        for line in [
            "     Running tests/echo.rs (target/debug/deps/echo-abc)",
            "test black_box::greets ... ok",
            "test in_process::greets ... FAILED",
            "test black_box::stops ... ignored, no signals in WASI",
            "test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s",
            "error: 1 target failed:",
            "error: a later error",
        ] {
            out.line(line, &mut r);
        }
        assert_eq!(out.first_error.as_deref(), Some("error: 1 target failed:"));
        assert_eq!(out.summaries, r.tests());
        assert_eq!(r.black_box, Counts { passed: 1, failed: 0, ignored: 1 });
        assert_eq!(r.in_process, Counts { passed: 0, failed: 1, ignored: 0 });
        assert_eq!(r.failed_tests, ["echo: in_process::greets"]);
        assert_eq!(r.ignored_tests[0].reason.as_deref(), Some("no signals in WASI"));
    }
}
