//! What a cell runs, as data: the one place that decides it, for a laptop,
//! every Actions job and `--dry-run` alike.

use std::fmt;

use crate::matrix::{Build, Cell, Kind, Matrix, Runner, Toolchain, Work};

/// How the machine provides the cell's runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// A developer's machine: a native cell for another OS only type-checks.
    Local,
    /// This machine is the cell's target (Actions runners, the FreeBSD VM):
    /// a native test cell anywhere else fails.
    Native,
    /// qemu and Wine test cells run `cross test`; cross's image brings the runner.
    Cross,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(clap::ValueEnum::to_possible_value(self).expect("no variant is skipped").get_name())
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Named exceptions: what the cell does not do here, and why.
    pub exceptions: Vec<String>,
    /// A step runs the suite for the cell's target, the fidelity probes
    /// (tests/fidelity.rs) included: each must report.
    pub probes: bool,
    /// The runner serves the probes' host peer (ci/src/peer.rs) to every
    /// step, at `PORTABLE_ECHO_FIDELITY_PEER`: where the tests run on
    /// this host, not in a container with a network of its own.
    pub host_peer: bool,
}

#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub what: What,
}

#[derive(Debug)]
pub enum What {
    Run(Cmd),
    /// `Alike(ours, original)`: both must fail with the same exit status
    /// and the same panic message (the line after `panicked at ...`).
    Alike(Cmd, Cmd),
    /// An empty directory, made fresh.
    Clear(String),
    /// Fails, printing them, if files appeared in the directory.
    Empty(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Set (`Some`) or removed (`None`), in order.
    pub env: Vec<(String, Option<String>)>,
    /// Working directory, relative to the repository's root.
    pub dir: &'static str,
}

impl Cmd {
    pub fn new(program: &str) -> Cmd {
        Cmd { program: program.into(), ..Cmd::default() }
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Cmd {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    fn env(mut self, key: &str, value: impl Into<String>) -> Cmd {
        self.env.push((key.into(), Some(value.into())));
        self
    }
}

/// The flag that makes cargo report each artifact as JSON (diagnostics are
/// still rendered): the runner reads mio's dep-info from it.
pub const JSON: &str = "--message-format=json-render-diagnostics";

/// The config cell's PyPI tools, in a virtual environment of their versions.
pub const PY_TOOLS: [(&str, &str); 2] = [("check-jsonschema", "0.39.0"), ("zizmor", "1.32.0")];
pub fn venv() -> String {
    format!("target/tools/venv-cj{}-zz{}", PY_TOOLS[0].1, PY_TOOLS[1].1)
}

/// The targets the runner itself must build for: every OS a job runs it on.
pub const XTASK_TARGETS: [&str; 3] = ["x86_64-pc-windows-gnu", "aarch64-apple-darwin", "x86_64-unknown-freebsd"];

/// The runner of WASI test binaries, with the host's network and name
/// lookup for preview 2 (its tests bind 127.0.0.1:0; the binary resolves
/// `--addr localhost:0`); preview 1 programs ignore it.
/// `--env NAME` passes the probes' host peer on where it is set.
fn wasmtime() -> String {
    format!("wasmtime run -S inherit-network -S tcp -S allow-ip-name-lookup --env {}", crate::peer::VAR)
}

pub struct Planner<'a> {
    pub matrix: &'a Matrix,
    pub host: &'a str,
    pub via: Via,
    /// Absolute path of the repository (Wine needs absolute paths).
    pub root: &'a str,
    /// Cargo's target directory (CARGO_TARGET_DIR, or `target`).
    pub target_dir: &'a str,
    /// The builds are removed after their cells (`matrix --prune`): no
    /// incremental caches, and debug info only as line tables (backtraces
    /// still name file and line), a third to a half less disk.
    pub throwaway: bool,
    /// mio's registry source (the directory of its Cargo.toml), as `cargo
    /// metadata` names it for the mio of Cargo.lock: its example is the
    /// oracle of the WASI preview 1 failure.
    pub mio: &'a str,
}

impl<'a> Planner<'a> {
    /// The planner of ci/plans.md and README's tables: the repository as
    /// `<repo>`, cargo's own target directory, the builds kept.
    pub fn new(matrix: &'a Matrix, host: &'a str, via: Via) -> Planner<'a> {
        Planner { matrix, host, via, root: "<repo>", target_dir: "target", throwaway: false, mio: "<mio>" }
    }

    /// Where the cell's build goes that cells of another target do not
    /// use: its own target directory, or its target's part of the shared
    /// one. `None` for a host build in the shared directory, whose build
    /// scripts and proc macros every cell reuses.
    pub fn build_dir(&self, cell: &Cell) -> Option<String> {
        let Work::Build(b, kind) = &cell.work else { return None };
        let c = CellCtx { p: self, name: &cell.name, b, kind };
        let dir = c.target_dir();
        match (dir == self.target_dir, *kind == Kind::Fuzz) {
            // cargo fuzz runs in fuzz/, where the relative directory lands.
            (false, true) => Some(format!("fuzz/{dir}")),
            (false, false) => Some(dir),
            (true, _) => (b.target != self.host).then(|| format!("{dir}/{}", b.target)),
        }
    }

    pub fn plan(&self, cell: &Cell) -> Result<Plan, String> {
        let Work::Build(b, kind) = &cell.work else { return Ok(self.config()) };
        let c = CellCtx { p: self, name: &cell.name, b, kind };
        let (mut plan, host, target) = (Plan::default(), self.host, b.target.as_str());
        let test = ["test", "--locked", "--no-fail-fast"];
        let on_target = ["--target", target, JSON];
        match kind {
            Kind::Test(Runner::Native) if target == host => {
                if b.cfg.is_empty() {
                    c.lint(&mut plan);
                }
                plan.run("test", c.cargo(test).args([JSON]));
            }
            Kind::Test(Runner::Native) if self.via == Via::Native => {
                return Err(format!("cell {} wants a {target} host, this is {host} (--via native)", cell.name));
            }
            Kind::Test(Runner::Native) => {
                plan.exceptions.push(format!(
                    "tests not run: this host is {host}, not {target}; the workspace was only type-checked for it"
                ));
                plan.run("clippy", c.clippy(&["--workspace"]));
            }
            Kind::Test(Runner::Qemu(_) | Runner::Wine) if self.via == Via::Cross => {
                let cmd = c.with_env(c.plus("cross"), true).args(test).args(["--target", target]);
                plan.run("cross-test", cmd.env("CROSS_CONFIG", "cross.toml"));
            }
            Kind::Test(Runner::Host | Runner::Qemu(_)) => plan.run("test", c.cargo(test).args(on_target)),
            Kind::Test(Runner::Wine) => {
                plan.run("clippy", c.clippy(&[]));
                c.wine_setup(&mut plan);
                plan.run("test", c.cargo(test).args(on_target));
                plan.run("wine", c.with_env(Cmd::new("wineserver").args(["--kill"]), true));
            }
            Kind::Test(Runner::Wasmtime) => {
                plan.run("clippy", c.clippy(&[]));
                plan.run("test", c.cargo(test).args(on_target));
            }
            Kind::Check if b.toolchain == Toolchain::Msrv => {
                plan.run("check", c.cargo(["check", "--locked"]).args(on_target))
            }
            Kind::Check => plan.run("clippy", c.clippy(&[])),
            Kind::ExpectFailure => {
                plan.run("build", c.cargo(["build", "--locked", "--bin", "portable-echo"]).args(on_target));
                // The original: mio's own examples/tcp_server.rs, built from
                // the registry source of the mio in Cargo.lock (its package
                // ships the example and a Cargo.lock), in this target's part
                // of the build.
                let dir = format!("{}/{target}/mio-example", c.target_dir());
                let manifest = format!("{}/Cargo.toml", self.mio);
                let example = ["build", "--locked", "--manifest-path", &manifest, "--example", "tcp_server"];
                let example = c.plus("cargo").args(example).args(["--features", "os-poll,net", "--target", target]);
                plan.run("original", example.env("CARGO_TARGET_DIR", &dir));
                let run = |wasm: String| c.with_env(Cmd::new("wasmtime").args([wasm]), false);
                let original = run(format!("{dir}/{target}/debug/examples/tcp_server.wasm"));
                plan.step("expect-failure", What::Alike(run(c.wasm()), original));
            }
            Kind::Serve => {
                plan.run("build", c.cargo(["build", "--locked", "--bin", "portable-echo"]).args(on_target));
                let cmd = c.with_env(c.plus("cargo"), false).args(test).args(["--", "black_box::"]);
                plan.run("serve", cmd.env("PORTABLE_ECHO_BIN", c.wasm()).env("PORTABLE_ECHO_LAUNCHER", wasmtime()));
            }
            Kind::Fuzz => {
                // libFuzzer writes what it finds to the first corpus directory:
                // a fresh one outside the repository; the seeds are only read.
                plan.step("fuzz", What::Clear("target/fuzz-corpus".into()));
                let args = ["fuzz", "run", "-s", "none", "connection", "../target/fuzz-corpus", "corpus/connection"];
                let libfuzzer = ["--", "-max_total_time=60", "-timeout=10", "-print_final_stats=1"];
                plan.run("fuzz", Cmd { dir: "fuzz", ..c.cargo(args).args(libfuzzer) });
            }
            Kind::Miri => {
                plan.exceptions.push(String::from(
                    "Miri runs only the socket-free tests (lib, state_machine, fuzz_regressions): \
                     it cannot run sockets, mio or /proc",
                ));
                let tests = ["--test", "state_machine", "--test", "fuzz_regressions"];
                plan.run("miri", c.cargo(["miri", "test", "--locked", "--lib"]).args(tests));
            }
            Kind::Sanitizer(s) => {
                plan.probes = *s == "address";
                c.sanitizer(s, &mut plan)
            }
            Kind::Cross => {
                plan.exceptions.push(format!(
                    "cross's image for {target} is built here from Debian's archive (ci/cross/), not pulled from its registry"
                ));
                // podman reuses every layer of an unchanged Containerfile.
                let image = format!("localhost/portable-echo-cross:{target}");
                let build =
                    ["build", "--tag", &image, "--file", &format!("ci/cross/Containerfile.{target}"), "ci/cross"];
                plan.run("image", c.podman(Cmd::new("podman").args(build)));
                let cmd = c.podman(c.plus("cross").args(test).args(["--target", target]));
                let var = format!("CROSS_TARGET_{}_IMAGE", target.to_uppercase().replace('-', "_"));
                plan.run("cross-test", cmd.env("CROSS_CONFIG", "cross.toml").env(&var, image));
            }
        }
        // Every suite for the target runs the probes, but the sanitizers'
        // (tsan picks its tests), the serve cell's (black-box tests only)
        // and a native cell's on another host (no tests).
        plan.probes |= match kind {
            Kind::Test(Runner::Native) => target == host,
            Kind::Test(_) | Kind::Cross => true,
            _ => false,
        };
        // `cross test` runs the tests in a container, with a network of its own.
        let in_container = *kind == Kind::Cross
            || (self.via == Via::Cross && matches!(kind, Kind::Test(Runner::Qemu(_) | Runner::Wine)));
        plan.host_peer = plan.probes && !in_container;
        Ok(plan)
    }

    fn config(&self) -> Plan {
        let mut plan = Plan::default();
        plan.run("generated", Cmd::new("cargo").args(["xtask", "gen", "--check"]));
        let (workflow, venv) = (".github/workflows/ci.yml", venv());
        let schema = ["--builtin-schema", "vendor.github-workflows", workflow];
        plan.run("schema", Cmd::new(&format!("{venv}/bin/check-jsonschema")).args(schema));
        let zizmor = ["--offline", "--no-progress", "--config", ".github/zizmor.yml", "--min-severity", "medium"];
        plan.run("zizmor", Cmd::new(&format!("{venv}/bin/zizmor")).args(zizmor).args([workflow]));
        plan.run("shellcheck", Cmd::new("shellcheck").args([".ci/run"]));
        let cargo = || Cmd::new("cargo").args([format!("+{}", self.matrix.toolchains.stable)]);
        let xtask = ["--manifest-path", "ci/Cargo.toml"];
        plan.run("xtask-fmt", cargo().args(["fmt", "--check"]).args(xtask));
        plan.run("xtask-test", cargo().args(["test", "--locked"]).args(xtask));
        for target in [self.host].into_iter().chain(XTASK_TARGETS) {
            let clippy = cargo().args(["clippy", "--locked", "--all-targets", "--target", target]).args(xtask);
            plan.run("xtask-clippy", clippy.args(["--", "-D", "warnings"]));
        }
        plan
    }
}

struct CellCtx<'a> {
    p: &'a Planner<'a>,
    name: &'a str,
    b: &'a Build,
    kind: &'a Kind,
}

impl CellCtx<'_> {
    /// A cell whose RUSTFLAGS, toolchain or build container would thrash the
    /// shared build gets a target directory of its own.
    fn target_dir(&self) -> String {
        match self.b.cfg.is_empty() && self.b.toolchain == Toolchain::Stable && *self.kind != Kind::Cross {
            true => self.p.target_dir.to_string(),
            false => format!("{}/cells/{}", self.p.target_dir, self.name),
        }
    }

    /// podman with the project's containers.conf, and cross told to use it.
    fn podman(&self, cmd: Cmd) -> Cmd {
        let cmd = self.with_env(cmd, true).env("CONTAINERS_CONF", format!("{}/ci/cross/containers.conf", self.p.root));
        cmd.env("CROSS_CONTAINER_ENGINE", "podman")
    }

    fn wasm(&self) -> String {
        format!("{}/{}/debug/portable-echo.wasm", self.target_dir(), self.b.target)
    }

    /// `program +TOOLCHAIN`, the cell's toolchain.
    fn plus(&self, program: &str) -> Cmd {
        Cmd::new(program).args([format!("+{}", self.p.matrix.toolchain(self.b.toolchain))])
    }

    /// cargo on the cell's toolchain, compiling the library for the cell's
    /// target (so its backend is checked).
    fn cargo<S: AsRef<str>>(&self, args: impl IntoIterator<Item = S>) -> Cmd {
        let mut cmd = self.plus("cargo").args(args);
        if self.b.toolchain == Toolchain::NightlyBuildStd {
            cmd.args.insert(2, "-Zbuild-std".into()); // after the subcommand
        }
        self.with_env(cmd, true)
    }

    fn clippy(&self, extra: &[&str]) -> Cmd {
        let cmd = self.cargo(["clippy", "--locked"]).args(extra).args(["--all-targets", "--target", &self.b.target]);
        cmd.args([JSON, "--", "-D", "warnings"])
    }

    /// The cell's environment. `for_target`: the command compiles the
    /// library for the cell's target (the serve cell's tests are native).
    fn with_env(&self, mut cmd: Cmd, for_target: bool) -> Cmd {
        let b = self.b;
        if self.target_dir() != self.p.target_dir {
            cmd = cmd.env("CARGO_TARGET_DIR", self.target_dir());
        }
        if self.p.throwaway {
            cmd = cmd.env("CARGO_INCREMENTAL", "0").env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only");
        }
        if !b.cfg.is_empty() {
            cmd = cmd.env("RUSTFLAGS", b.cfg.iter().map(|c| format!("--cfg {c}")).collect::<Vec<_>>().join(" "));
        }
        if for_target {
            cmd = cmd.env("PORTABLE_ECHO_EXPECT_BACKEND", format!("{}:{}", b.sys, self.p.matrix.sys[&b.sys].backend));
        }
        for (k, v) in &b.env {
            cmd = cmd.env(k, v);
        }
        // Under cross, its image provides the linker and the runner.
        if self.p.via == Via::Cross {
            return cmd;
        }
        let var = |what: &str| format!("CARGO_TARGET_{}_{what}", b.target.to_uppercase().replace(['-', '.'], "_"));
        if let Some(linker) = &b.linker {
            cmd = cmd.env(&var("LINKER"), linker);
        }
        match self.kind {
            Kind::Test(Runner::Qemu(qemu)) => {
                let gnu = b.linker.as_deref().unwrap_or_default().trim_end_matches("-gcc");
                cmd.env(&var("RUNNER"), format!("{qemu} -L /usr/{gnu}"))
            }
            Kind::Test(Runner::Wasmtime) => cmd.env(&var("RUNNER"), wasmtime()),
            Kind::Test(Runner::Wine) => {
                let mut cmd =
                    cmd.env(&var("RUNNER"), "wine").env("WINEPREFIX", format!("{}/target/wine/prefix", self.p.root));
                cmd = cmd.env("WINEPATH", format!("{}/target/wine/dll", self.p.root)).env("WINEDEBUG", "-all");
                // No Mono or Gecko install dialogs; no display needed.
                cmd = cmd.env("WINEDLLOVERRIDES", "mscoree,mshtml=");
                cmd.env.extend([("DISPLAY".into(), None), ("WAYLAND_DISPLAY".into(), None)]);
                cmd
            }
            _ => cmd,
        }
    }

    /// Formatting, lints and docs of the host build, as a contributor runs
    /// them: the benchmarks too (--workspace); fuzz/ is a workspace of its own.
    fn lint(&self, plan: &mut Plan) {
        let fmt = self.plus("cargo").args(["fmt", "--all", "--check"]);
        plan.run("fmt", fmt.clone());
        plan.run("fmt", fmt.args(["--manifest-path", "fuzz/Cargo.toml"]));
        plan.run("clippy", self.cargo(["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]));
        plan.run("doc", self.cargo(["doc", "--locked", "--no-deps"]).env("RUSTDOCFLAGS", "-Dwarnings"));
    }

    /// Wine 8.0 (Debian 12) lacks ProcessPrng, which Rust >= 1.78 std
    /// imports from bcryptprimitives.dll: ci/wine builds a one-function shim,
    /// found through WINEPATH. One wineserver for the whole cell: by default
    /// it exits 3 s after the last Windows program, and a test binary
    /// starting at that moment dies ("wine client error:0: recvmsg").
    fn wine_setup(&self, plan: &mut Plan) {
        let dll = format!("{}/target/wine/dll", self.p.root);
        plan.step("wine", What::Clear(dll.clone()));
        let gcc = Cmd::new(self.b.linker.as_deref().unwrap_or("x86_64-w64-mingw32-gcc"));
        let gcc = gcc.args(["-shared", "-O2", "-s", "-o", &format!("{dll}/bcryptprimitives.dll")]);
        plan.run("wine", gcc.args(["ci/wine/bcryptprimitives.c", "ci/wine/bcryptprimitives.def", "-ladvapi32"]));
        // wineboot creates the prefix, or checks it (a second or two) when it exists.
        for (program, arg) in [("wineboot", "--init"), ("wineserver", "--wait"), ("wineserver", "--persistent")] {
            plan.run("wine", self.with_env(Cmd::new(program).args([arg]), true));
        }
    }

    /// The suite under AddressSanitizer or ThreadSanitizer, std rebuilt. A
    /// report from any process (children whose exit status no test reads
    /// included) fails the cell: the tool writes to a directory that must
    /// stay empty.
    fn sanitizer(&self, sanitizer: &str, plan: &mut Plan) {
        let kind = if sanitizer == "thread" { "tsan" } else { "asan" };
        let reports = format!("{}/reports", self.target_dir());
        plan.exceptions.push(format!(
            "the soak's resident-memory bound is not checked under the {sanitizer} sanitizer (the tool owns the memory)"
        ));
        plan.step(kind, What::Clear(reports.clone()));
        let mut cmd = self.cargo(["test", "--locked", "--no-fail-fast", "-Zbuild-std", "--target", &self.b.target]);
        // TSan: the suites with threads (servers on a thread, StopHandle and
        // the waker, client threads, the binary's signal thread).
        let options = format!("log_path={reports}/{kind}");
        if sanitizer == "thread" {
            let tests = ["echo", "linger", "faults", "soak", "cli", "host_faults", "exhaustion", "listen"];
            cmd = cmd.args(tests.iter().flat_map(|t| ["--test", t]));
        }
        let cmd = cmd.env("RUSTFLAGS", format!("-Zsanitizer={sanitizer}"));
        let cmd = cmd.env("RUSTDOCFLAGS", format!("-Zsanitizer={sanitizer}")).env("PORTABLE_ECHO_SANITIZER", sanitizer);
        plan.run(kind, cmd.env(&format!("{}_OPTIONS", kind.to_uppercase()), options));
        plan.step(kind, What::Empty(reports));
    }
}

impl Plan {
    fn run(&mut self, name: &'static str, cmd: Cmd) {
        self.step(name, What::Run(cmd));
    }

    fn step(&mut self, name: &'static str, what: What) {
        self.steps.push(Step { name, what });
    }

    /// The plan as `--dry-run` prints it: exceptions, then one step a line.
    pub fn render(&self) -> String {
        let exceptions = self.exceptions.iter().map(|e| format!("exception: {e}\n"));
        let peer = match self.host_peer {
            true => format!("; the host-* probes' peer: this runner's, at {}", crate::peer::VAR),
            false => "; no host peer (the tests run in a container): the host-* probes say n/a".into(),
        };
        let probes =
            self.probes.then(|| format!("probes: tests/fidelity.rs reports each probe of ci/fidelity.toml{peer}\n"));
        exceptions.chain(probes).chain(self.steps.iter().map(|s| format!("{s}\n"))).collect()
    }

    /// The step names, once each, in order: what README says the cell runs.
    pub fn summary(&self) -> String {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.name).collect();
        names.dedup();
        names.join(", ")
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let special = |s: &str| s.is_empty() || s.contains([' ', '\'', '"', '$', '*', ';']);
        let quote = |s: &str| if special(s) { format!("'{s}'") } else { s.to_string() };
        if !self.dir.is_empty() {
            write!(f, "cd {} && ", self.dir)?;
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => write!(f, "{k}={} ", quote(v))?,
                None => write!(f, "-u {k} ")?,
            }
        }
        write!(f, "{}", quote(&self.program))?;
        self.args.iter().try_for_each(|a| write!(f, " {}", quote(a)))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        match &self.what {
            What::Run(cmd) => write!(f, "{cmd}"),
            What::Alike(ours, original) => {
                write!(f, "{ours}, then {original} (both fail alike: exit status and panic message)")
            }
            What::Clear(dir) => write!(f, "an empty {dir}"),
            What::Empty(dir) => write!(f, "nothing written to {dir}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::REFERENCE_HOST;

    // Every cell's plan, here and on its Actions machine, is in ci/plans.md,
    // which `gen --check` pins: a change to a plan is reviewed as a diff.
    #[test]
    fn a_native_cell_on_another_host_fails_when_the_job_promised_its_target() {
        let m = Matrix::load(crate::root()).unwrap();
        let err = Planner::new(&m, REFERENCE_HOST, Via::Native).plan(m.cell("windows-msvc").unwrap()).unwrap_err();
        assert!(err.contains("wants a x86_64-pc-windows-msvc host"), "{err}");
    }

    #[test]
    fn a_build_dir_is_a_cells_own_or_its_targets_part_of_the_shared_one() {
        let m = Matrix::load(crate::root()).unwrap();
        let planner = Planner::new(&m, REFERENCE_HOST, Via::Local);
        let dir = |name: &str| planner.build_dir(m.cell(name).unwrap());
        assert_eq!(dir("linux-epoll"), None, "the host's part is shared by every cell");
        assert_eq!(dir("linux-poll").as_deref(), Some("target/cells/linux-poll"));
        assert_eq!(dir("linux-aarch64").as_deref(), Some("target/aarch64-unknown-linux-gnu"));
        assert_eq!(dir("fuzz").as_deref(), Some("fuzz/target/cells/fuzz"));
        assert_eq!(dir("ci-config"), None);
    }
}
