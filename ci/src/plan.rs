//! What a cell runs and what it needs installed, as data: the one place
//! that decides it from the cell's kind, for a laptop, every Actions job
//! and `--dry-run` alike.

use std::fmt;

use crate::cmd::Cmd;
use crate::install::{self, CARGO_FUZZ, CROSS, Need, WASMTIME, apt};
use crate::matrix::{Actions, Build, Cell, Kind, Matrix, Runner, RustFrom, Toolchain, Via, Work};

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// What the machine must have for the steps: toolchains, targets,
    /// packages, tools.
    pub needs: Vec<Need>,
    /// Named exceptions: what the cell does not do here, and why.
    pub exceptions: Vec<String>,
    /// A step runs the suite for the cell's target, the fidelity probes
    /// included: each must report.
    pub probes: bool,
    /// The runner serves the probes' host peer (ci/src/peer.rs) to every
    /// step: where the tests run on this host, not in a container with a
    /// network of its own.
    pub host_peer: bool,
    /// mio's selector and waker files the build must compile, read in
    /// mio's dep-info (none where cross builds in its container).
    pub mio: Vec<String>,
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

/// The flag that makes cargo report each artifact as JSON (diagnostics are
/// still rendered): the runner reads mio's dep-info from it.
pub const JSON: &str = "--message-format=json-render-diagnostics";

/// The targets the runner itself is linted for beside the host's: an OS of
/// each family a job runs it on (its code differs only between Unix and
/// Windows, but libc's bindings differ per OS). OpenBSD and DragonFly
/// (no std from rustup at all) and Solaris (no std of the pinned stable
/// from the rustup mirror here) are compiled only in their VMs.
pub const XTASK_TARGETS: [&str; 4] =
    ["x86_64-pc-windows-gnu", "aarch64-apple-darwin", "x86_64-unknown-freebsd", "x86_64-unknown-netbsd"];

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
    /// The registry source (the directory of its Cargo.toml) of the
    /// package whose example is an expect-failure cell's oracle, as `cargo
    /// metadata` names it for the version in Cargo.lock.
    pub oracle: &'a str,
    /// The Debian archive this machine's apt uses, for debootstrap.
    pub mirror: &'a str,
}

impl<'a> Planner<'a> {
    /// The planner of the generated plans and tables: the repository as
    /// `<repo>`, cargo's own target directory, the builds kept.
    pub fn new(matrix: &'a Matrix, host: &'a str, via: Via) -> Planner<'a> {
        let (root, target_dir, oracle, mirror) = ("<repo>", "target", "<oracle>", "<debian mirror>");
        Planner { matrix, host, via, root, target_dir, throwaway: false, oracle, mirror }
    }

    /// Where the cell's build goes that cells of another target do not
    /// use: its own target directory, or its target's part of the shared
    /// one. `None` for a host build in the shared directory, whose build
    /// scripts and proc macros every cell reuses.
    pub fn build_dir(&self, cell: &Cell) -> Option<String> {
        let c = self.ctx(cell)?;
        let dir = c.target_dir();
        match (dir == self.target_dir, matches!(c.kind, Kind::Fuzz(_))) {
            // cargo fuzz runs in fuzz/, where the relative directory lands.
            (false, true) => Some(format!("fuzz/{dir}")),
            (false, false) => Some(dir),
            (true, _) => (c.b.target != self.host).then(|| format!("{dir}/{}", c.b.target)),
        }
    }

    fn ctx(&self, cell: &'a Cell) -> Option<CellCtx<'_>> {
        let Work::Build(b, kind) = &cell.work else { return None };
        // In its VM a cell has the VM's Rust: rustup's stable (no std to
        // build there), or the OS's own.
        let (toolchain, os_rust) = match &cell.actions {
            Actions::Vm(vm) if self.via == Via::Native => (Toolchain::Stable, self.matrix.vm[vm].rust == RustFrom::Os),
            _ => (b.toolchain, false),
        };
        Some(CellCtx { p: self, name: &cell.name, b, kind, toolchain, os_rust })
    }

    pub fn plan(&self, cell: &Cell) -> Result<Plan, String> {
        let c = match &cell.work {
            Work::Config => return Ok(self.config()),
            Work::Adopt => return self.adopt(),
            Work::Distro(suite) => return self.distro(suite),
            Work::Act(cell) => return self.act(cell),
            Work::Build(..) => self.ctx(cell).expect("a build cell has a context"),
        };
        let mut plan = Plan { exceptions: c.b.exceptions.clone(), ..Plan::default() };
        let older = c.toolchain == Toolchain::Stable && c.toolchain_name() != self.matrix.toolchains.stable;
        if older && !c.os_rust {
            plan.exceptions.push(format!(
                "built with Rust {}: the reference host's rustup serves no std of {} for {}",
                c.toolchain_name(),
                self.matrix.toolchains.stable,
                c.b.target
            ));
        }
        c.base_needs(&mut plan);
        c.steps(&mut plan)?;
        c.runner_needs(&mut plan);
        // Every suite for the target runs the probes, but the sanitizers'
        // (tsan picks its tests), the serve cell's (black-box tests only)
        // and a native cell's on another host (no tests).
        let target = c.b.target.as_str();
        plan.probes |= self.matrix.project.fidelity.is_some()
            && match c.kind {
                Kind::Test(Runner::Native) => target == self.host,
                Kind::Test(_) | Kind::Cross => true,
                _ => false,
            };
        // `cross test` runs the tests in a container, with a network of its own.
        let in_container = *c.kind == Kind::Cross || c.via_cross();
        plan.host_peer = plan.probes && !in_container;
        if !in_container {
            let (sys, waker) = (&self.matrix.sys[&c.b.sys], &self.matrix.waker[&c.b.waker]);
            plan.mio = std::iter::once(&sys.mio).chain(&waker.mio).cloned().collect();
        }
        plan.needs_once();
        Ok(plan)
    }

    /// The scratch crate's matrix, run by `cargo xtask adopt`: its cells
    /// need what they would need in a repository of their own.
    fn adopt(&self) -> Result<Plan, String> {
        let scratch = crate::adopt::scratch(self.matrix)?;
        let mut plan = Plan::default();
        plan.run(
            "adopt",
            Cmd::new("cargo").args([format!("+{}", self.matrix.toolchains.stable)]).args(["xtask", "adopt"]),
        );
        let planner = Planner::new(&scratch, self.host, Via::Local);
        for cell in &scratch.cells {
            plan.needs.extend(planner.plan(cell)?.needs);
        }
        plan.needs_once();
        Ok(plan)
    }

    /// The Debian packages that `cargo xtask install` installs for every
    /// other cell here, resolved with `apt-get install --simulate` in a
    /// minimal `suite` made by debootstrap: a package that moved or was
    /// renamed there fails the cell.
    fn distro(&self, suite: &str) -> Result<Plan, String> {
        let mut packages = Vec::new();
        let others = self.matrix.cells.iter().filter(|c| !matches!(c.work, Work::Distro(_)));
        for cell in others {
            for need in self.plan(cell)?.needs {
                if let Need::Apt(package, _) = need {
                    packages.push(package);
                }
            }
        }
        packages.sort();
        packages.dedup();
        let mut plan = Plan::default();
        let root = format!("target/distro/{suite}");
        plan.step("debootstrap", What::Clear(root.clone()));
        let debootstrap = ["--variant=minbase", suite, &root, self.mirror];
        plan.run("debootstrap", Cmd::new("debootstrap").args(debootstrap));
        plan.run("debootstrap", Cmd::new("cp").args(["/etc/resolv.conf", &format!("{root}/etc/resolv.conf")]));
        plan.run("apt", Cmd::new("chroot").args([&root, "apt-get", "update", "-q"]));
        let simulate = Cmd::new("chroot").args([&root, "apt-get", "install", "--simulate", "-q"]).args(&packages);
        plan.run("apt", simulate.env("DEBIAN_FRONTEND", "noninteractive"));
        plan.step("clean", What::Clear(root));
        plan.needs.extend([apt("debootstrap", "debootstrap"), Need::Root]);
        Ok(plan)
    }

    /// The workflow's `cells` job for `cell`, run by act in host mode (the
    /// jobs' commands on this machine, no container) in a network
    /// namespace that has only loopback: the workflow runs for real, and
    /// needs nothing from github.com.
    fn act(&self, cell: &str) -> Result<Plan, String> {
        let m = self.matrix;
        let target = m.cell(cell)?;
        let (job, label) = target.actions.job();
        if job != "cells" {
            return Err(format!("act runs the `cells` job, and cell {cell} is in `{job}`"));
        }
        let mut plan = Plan::default();
        plan.exceptions.push(String::from(
            "act cannot run the `vm` job (a VM needs KVM and github.com), the macOS and Windows runners, \
             the `cross` job's Docker, nor upload-artifact v7 (act's artifact server rejects its mime_type)",
        ));
        let act = format!("{}/bin/act", install::act_venv());
        let matrix = format!("cell:{cell}");
        let platform = format!("{label}=-self-hosted");
        let args = ["-j", "cells", "--matrix", &matrix, "-P", &platform, "--action-offline-mode", "--no-cache-server"];
        let script = format!("ip link set lo up && exec {act} {}", args.join(" "));
        plan.run("act", Cmd::new("unshare").args(["--net", "sh", "-c", &script]));
        plan.needs.extend([Need::Act, Need::Root, apt("iproute2", "ip")]);
        // What the job installs and runs for the cell, it finds here.
        let planner = Planner::new(m, self.host, Via::Native);
        plan.needs.extend(planner.plan(target)?.needs);
        plan.needs_once();
        Ok(plan)
    }

    fn config(&self) -> Plan {
        let (m, mut plan) = (self.matrix, Plan::default());
        plan.run("generated", Cmd::new("cargo").args(["xtask", "gen", "--check"]));
        if let Some(workflow) = &m.project.workflow {
            let venv = install::venv();
            let schema = ["--builtin-schema", "vendor.github-workflows", workflow];
            plan.run("schema", Cmd::new(&format!("{venv}/bin/check-jsonschema")).args(schema));
            let zizmor = ["--offline", "--no-progress", "--config", ".github/zizmor.yml", "--min-severity", "medium"];
            plan.run("zizmor", Cmd::new(&format!("{venv}/bin/zizmor")).args(zizmor).args([workflow]));
            plan.needs.push(Need::PyTools);
        }
        if !m.project.scripts.is_empty() {
            plan.run("shellcheck", Cmd::new("shellcheck").args(&m.project.scripts));
            plan.needs.push(apt("shellcheck", "shellcheck"));
        }
        let tc = m.toolchain(Toolchain::Stable, self.host).to_string();
        let cargo = |tc: &str| Cmd::new("cargo").args([format!("+{tc}")]);
        let xtask = ["--manifest-path", "ci/Cargo.toml"];
        plan.run("xtask-fmt", cargo(&tc).args(["fmt", "--check"]).args(xtask));
        plan.run("xtask-test", cargo(&tc).args(["test", "--locked"]).args(xtask));
        for target in [self.host].into_iter().chain(XTASK_TARGETS) {
            let tc = m.toolchain(Toolchain::Stable, target);
            let clippy = cargo(tc).args(["clippy", "--locked", "--all-targets", "--target", target]).args(xtask);
            plan.run("xtask-clippy", clippy.args(["--", "-D", "warnings"]));
            plan.needs.extend([Need::Toolchain(tc.into()), Need::Component(tc.into(), "clippy")]);
            if target != self.host {
                plan.needs.push(Need::Target(tc.into(), target.into()));
            }
        }
        plan.needs.push(Need::Component(tc, "rustfmt"));
        plan.needs_once();
        plan
    }
}

struct CellCtx<'a> {
    p: &'a Planner<'a>,
    name: &'a str,
    b: &'a Build,
    kind: &'a Kind,
    /// The cell's toolchain on this machine.
    toolchain: Toolchain,
    /// The cell runs in a VM whose Rust is the OS's own package: plain
    /// `cargo`, whatever its version, and nothing from rustup.
    os_rust: bool,
}

impl CellCtx<'_> {
    fn via_cross(&self) -> bool {
        self.p.via == Via::Cross && matches!(self.kind, Kind::Test(Runner::Qemu(_) | Runner::Wine))
    }

    fn toolchain_name(&self) -> &str {
        self.p.matrix.toolchain(self.toolchain, &self.b.target)
    }

    /// The steps of the cell's kind, and what only they need.
    fn steps(&self, plan: &mut Plan) -> Result<(), String> {
        let (host, target, project) = (self.p.host, self.b.target.as_str(), &self.p.matrix.project);
        let test = ["test", "--locked", "--no-fail-fast"];
        let on_target = ["--target", target, JSON];
        match self.kind {
            Kind::Test(Runner::Native) if target == host => {
                if self.b.cfg.is_empty() && !self.os_rust {
                    self.lint(plan);
                }
                plan.run("test", self.cargo(test).args([JSON]));
            }
            Kind::Test(Runner::Native) if self.p.via == Via::Native => {
                return Err(format!("cell {} wants a {target} host, this is {host} (--via native)", self.name));
            }
            Kind::Test(Runner::Native) => {
                plan.exceptions.push(format!(
                    "tests not run: this host is {host}, not {target}; the workspace was only type-checked for it"
                ));
                self.clippy(plan, &["--workspace"]);
            }
            _ if self.via_cross() => {
                let cmd = self.with_env(self.plus("cross"), true).args(test).args(["--target", target]);
                plan.run("cross-test", cmd.env("CROSS_CONFIG", project.cross_config.as_deref().unwrap_or_default()));
                plan.needs.push(Need::Cross);
            }
            Kind::Test(Runner::Host | Runner::Qemu(_)) => plan.run("test", self.cargo(test).args(on_target)),
            Kind::Test(Runner::Wine) => {
                self.clippy(plan, &[]);
                self.wine_setup(plan);
                plan.run("test", self.cargo(test).args(on_target));
                plan.run("wine", self.with_env(Cmd::new("wineserver").args(["--kill"]), true));
            }
            Kind::Test(Runner::Wasmtime) => {
                self.clippy(plan, &[]);
                plan.run("test", self.cargo(test).args(on_target));
            }
            Kind::Check if self.toolchain == Toolchain::Msrv => {
                plan.run("check", self.cargo(["check", "--locked"]).args(on_target))
            }
            Kind::Check => self.clippy(plan, &[]),
            Kind::ExpectFailure(oracle) => self.expect_failure(plan, oracle),
            Kind::Serve => {
                let bin = project.bin.as_deref().unwrap_or_default();
                plan.run("build", self.cargo(["build", "--locked", "--bin", bin]).args(on_target));
                let black_box = project.black_box.as_deref().unwrap_or_default();
                let cmd = self.with_env(self.plus("cargo"), false).args(test).args(["--", black_box]);
                let cmd = cmd.env(&project.var("BIN"), self.wasm()).env(&project.var("LAUNCHER"), self.wasmtime());
                plan.run("serve", cmd);
                plan.needs.push(WASMTIME);
            }
            Kind::Fuzz(fuzz_target) => {
                // libFuzzer writes what it finds to the first corpus directory:
                // a fresh one outside the repository; the seeds are only read.
                plan.step("fuzz", What::Clear("target/fuzz-corpus".into()));
                let seeds = format!("corpus/{fuzz_target}");
                let args = ["fuzz", "run", "-s", "none", fuzz_target, "../target/fuzz-corpus", &seeds];
                let libfuzzer = ["--", "-max_total_time=60", "-timeout=10", "-print_final_stats=1"];
                plan.run("fuzz", Cmd { dir: "fuzz", ..self.cargo(args).args(libfuzzer) });
                plan.needs.extend([CARGO_FUZZ, apt("g++", "g++")]);
            }
            Kind::Miri => {
                plan.run("miri", self.cargo(["miri", "test", "--locked"]).args(self.test_targets()));
                plan.needs.extend([self.component("miri"), self.component("rust-src")]);
            }
            Kind::Sanitizer(s) => {
                plan.probes = *s == "address";
                self.sanitizer(s, plan)
            }
            Kind::Cross => self.cross_image(plan),
        }
        Ok(())
    }

    /// The toolchain, and the target's std (or its source, to build it).
    fn base_needs(&self, plan: &mut Plan) {
        if self.os_rust {
            let msrv = &self.p.matrix.msrv;
            return plan.exceptions.push(format!(
                "Rust is this OS's own package (rustup has no build for {}), whatever its version, which is \
                 unchecked: older than the crate's rust-version ({msrv}) or the runner's, and the build fails",
                self.b.target
            ));
        }
        let tc = self.toolchain_name().to_string();
        plan.needs.push(Need::Toolchain(tc.clone()));
        match self.toolchain {
            Toolchain::NightlyBuildStd => plan.needs.push(self.component("rust-src")),
            _ if self.b.target != self.p.host => plan.needs.push(Need::Target(tc, self.b.target.clone())),
            _ => {}
        }
    }

    /// What runs the target's binaries and links them, here: cross's
    /// image brings both.
    fn runner_needs(&self, plan: &mut Plan) {
        if self.via_cross() {
            return;
        }
        match self.kind {
            Kind::Test(Runner::Qemu(qemu)) => plan.needs.push(apt("qemu-user", qemu)),
            Kind::Test(Runner::Wine) => plan.needs.extend([apt("wine", "wine"), apt("wine64", "/usr/lib/wine/wine64")]),
            Kind::Test(Runner::Wasmtime) | Kind::ExpectFailure(_) => plan.needs.push(WASMTIME),
            _ => {}
        }
        match self.b.linker.as_deref() {
            Some(l) if l.ends_with("-w64-mingw32-gcc") => plan.needs.push(apt("mingw-w64", l)),
            Some(l) => {
                let gnu = l.trim_end_matches("-gcc");
                // Debian's names for the architecture of the cross libc.
                let arch = match gnu.split('-').next().unwrap_or(gnu) {
                    "aarch64" => "arm64",
                    "arm" => "armhf",
                    "i686" => "i386",
                    "powerpc64le" => "ppc64el",
                    arch => arch,
                };
                plan.needs.push(apt(&format!("gcc-{gnu}"), l));
                plan.needs.push(apt(&format!("libc6-dev-{arch}-cross"), &format!("/usr/{gnu}/lib/libc.so")));
            }
            None => {}
        }
    }

    fn component(&self, c: &'static str) -> Need {
        Need::Component(self.toolchain_name().to_string(), c)
    }

    /// `--lib` and `--test NAME` for the cell's `tests` (all when empty).
    fn test_targets(&self) -> Vec<String> {
        let arg = |t: &String| if t == "lib" { vec!["--lib".into()] } else { vec!["--test".into(), t.clone()] };
        self.b.tests.iter().flat_map(arg).collect()
    }

    /// A cell whose RUSTFLAGS, toolchain or build container would thrash the
    /// shared build gets a target directory of its own.
    fn target_dir(&self) -> String {
        match self.b.cfg.is_empty() && self.toolchain == Toolchain::Stable && *self.kind != Kind::Cross {
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
        let bin = self.p.matrix.project.bin.as_deref().unwrap_or_default();
        format!("{}/{}/debug/{bin}.wasm", self.target_dir(), self.b.target)
    }

    /// The runner of WASI programs, with the host's network and name
    /// lookup for preview 2 (tests bind 127.0.0.1:0 and may resolve
    /// `localhost`); preview 1 programs ignore it. `--env NAME` passes the
    /// probes' host peer on where it is set.
    fn wasmtime(&self) -> String {
        let peer = self.p.matrix.project.var("FIDELITY_PEER");
        format!("wasmtime run -S inherit-network -S tcp -S allow-ip-name-lookup --env {peer}")
    }

    /// `program +TOOLCHAIN`, the cell's toolchain (plain `program` where
    /// the OS provides Rust).
    fn plus(&self, program: &str) -> Cmd {
        match self.os_rust {
            true => Cmd::new(program),
            false => Cmd::new(program).args([format!("+{}", self.toolchain_name())]),
        }
    }

    /// cargo on the cell's toolchain, compiling the library for the cell's
    /// target (so its backend is checked).
    fn cargo<S: AsRef<str>>(&self, args: impl IntoIterator<Item = S>) -> Cmd {
        let mut cmd = self.plus("cargo").args(args);
        if self.toolchain == Toolchain::NightlyBuildStd && !self.os_rust {
            cmd.args.insert(2, "-Zbuild-std".into()); // after the subcommand
        }
        self.with_env(cmd, true)
    }

    /// clippy for the cell's target, every warning an error.
    fn clippy(&self, plan: &mut Plan, extra: &[&str]) {
        let all = if self.b.all_targets { &["--all-targets"][..] } else { &[] };
        let cmd = self.cargo(["clippy", "--locked"]).args(extra).args(all).args(["--target", &self.b.target]);
        plan.run("clippy", cmd.args([JSON, "--", "-D", "warnings"]));
        if self.toolchain != Toolchain::Msrv {
            plan.needs.push(self.component("clippy"));
        }
    }

    /// The cell's environment. `for_target`: the command compiles the
    /// library for the cell's target (the serve cell's tests are native).
    fn with_env(&self, mut cmd: Cmd, for_target: bool) -> Cmd {
        let (b, m) = (self.b, self.p.matrix);
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
            cmd = cmd.env(&m.project.var("EXPECT_BACKEND"), format!("{}:{}", b.sys, m.sys[&b.sys].backend));
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
            Kind::Test(Runner::Wasmtime) => cmd.env(&var("RUNNER"), self.wasmtime()),
            Kind::Test(Runner::Wine) => {
                let root = self.p.root;
                let cmd = cmd.env(&var("RUNNER"), "wine").env("WINEPREFIX", format!("{root}/target/wine/prefix"));
                let cmd = cmd.env("WINEPATH", format!("{root}/target/wine/dll")).env("WINEDEBUG", "-all");
                // No Mono or Gecko install dialogs; no display needed.
                cmd.env("WINEDLLOVERRIDES", "mscoree,mshtml=").unset("DISPLAY").unset("WAYLAND_DISPLAY")
            }
            _ => cmd,
        }
    }

    /// Formatting, lints and docs of the host build, as a contributor runs
    /// them: every workspace member (--workspace) and the project's other
    /// workspaces' formatting.
    fn lint(&self, plan: &mut Plan) {
        let fmt = self.plus("cargo").args(["fmt", "--all", "--check"]);
        plan.run("fmt", fmt.clone());
        for manifest in &self.p.matrix.project.fmt {
            plan.run("fmt", fmt.clone().args(["--manifest-path", manifest]));
        }
        plan.run("clippy", self.cargo(["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]));
        plan.run("doc", self.cargo(["doc", "--locked", "--no-deps"]).env("RUSTDOCFLAGS", "-Dwarnings"));
        plan.needs.extend([self.component("clippy"), self.component("rustfmt")]);
    }

    /// The crate's binary and the oracle's example, built for the target and
    /// run under wasmtime: both must fail alike. The oracle is built from
    /// its registry source (a package ships its examples and Cargo.lock),
    /// in this target's part of the build.
    fn expect_failure(&self, plan: &mut Plan, oracle: &crate::matrix::Oracle) {
        let (target, project) = (self.b.target.as_str(), &self.p.matrix.project);
        let bin = project.bin.as_deref().unwrap_or_default();
        plan.run("build", self.cargo(["build", "--locked", "--bin", bin]).args(["--target", target, JSON]));
        let dir = format!("{}/{target}/oracle", self.target_dir());
        let manifest = format!("{}/Cargo.toml", self.p.oracle);
        let example = ["build", "--locked", "--manifest-path", &manifest, "--example", &oracle.example];
        let example = self.plus("cargo").args(example).args(["--target", target]);
        let example = match oracle.features.is_empty() {
            true => example,
            false => example.args(["--features", &oracle.features.join(",")]),
        };
        plan.run("original", example.env("CARGO_TARGET_DIR", &dir));
        let run = |wasm: String| self.with_env(Cmd::new("wasmtime").args([wasm]), false);
        let original = run(format!("{dir}/{target}/debug/examples/{}.wasm", oracle.example));
        plan.step("expect-failure", What::Alike(run(self.wasm()), original));
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
        plan.step(kind, What::Clear(reports.clone()));
        let cmd = self.cargo(["test", "--locked", "--no-fail-fast", "-Zbuild-std", "--target", &self.b.target]);
        let cmd = cmd.args(self.test_targets()).env("RUSTFLAGS", format!("-Zsanitizer={sanitizer}"));
        let cmd = cmd.env("RUSTDOCFLAGS", format!("-Zsanitizer={sanitizer}"));
        let cmd = cmd.env(&self.p.matrix.project.var("SANITIZER"), sanitizer);
        plan.run(kind, cmd.env(&format!("{}_OPTIONS", kind.to_uppercase()), format!("log_path={reports}/{kind}")));
        plan.step(kind, What::Empty(reports));
        plan.needs.push(self.component("rust-src"));
    }

    /// `cross test` with podman and an image built here (podman reuses
    /// every layer of an unchanged Containerfile).
    fn cross_image(&self, plan: &mut Plan) {
        let (target, m) = (self.b.target.as_str(), self.p.matrix);
        plan.exceptions.push(format!(
            "cross's image for {target} is built here from Debian's archive (ci/cross/), not pulled from its registry"
        ));
        let image = m.project.image(&format!("cross:{target}"));
        let base = format!("BASE={}", install::debian_image(m));
        let file = format!("ci/cross/Containerfile.{target}");
        let build = ["build", "--build-arg", &base, "--tag", &image, "--file", &file, "ci/cross"];
        plan.run("image", self.podman(Cmd::new("podman").args(build)));
        let test = ["test", "--locked", "--no-fail-fast", "--target", target];
        let cmd = self.podman(self.plus("cross").args(test));
        let var = format!("CROSS_TARGET_{}_IMAGE", target.to_uppercase().replace('-', "_"));
        let config = m.project.cross_config.as_deref().unwrap_or_default();
        plan.run("cross-test", cmd.env("CROSS_CONFIG", config).env(&var, image));
        let packages = ["podman", "runc", "debootstrap", "uidmap", "slirp4netns", "fuse-overlayfs"];
        plan.needs.extend(packages.map(|p| apt(p, if p == "uidmap" { "newuidmap" } else { p })));
        plan.needs.extend([CROSS, Need::DebianImage]);
    }
}

impl Plan {
    /// Each need once, in order.
    fn needs_once(&mut self) {
        self.needs.sort();
        self.needs.dedup();
    }

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
            true => "; the host-peer probes' peer: this runner's",
            false => "; no host peer (the tests run in a container): the host-peer probes say n/a",
        };
        let probes = self.probes.then(|| format!("probes: the suite reports each fidelity probe{peer}\n"));
        exceptions.chain(probes).chain(self.steps.iter().map(|s| format!("{s}\n"))).collect()
    }

    /// The step names, once each, in order: what the docs say the cell runs.
    pub fn summary(&self) -> String {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.name).collect();
        names.dedup();
        names.join(", ")
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

    // Every cell's plan, here and on its Actions machine, is in the
    // generated plans, which `gen --check` pins: a change to a plan is
    // reviewed as a diff.
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

    #[test]
    fn a_cell_needs_what_its_toolchain_runner_and_linker_need() {
        let m = Matrix::load(crate::root()).unwrap();
        let needs = |name: &str, via| Planner::new(&m, REFERENCE_HOST, via).plan(m.cell(name).unwrap()).unwrap().needs;
        let aarch64 = needs("linux-aarch64", Via::Local);
        assert!(aarch64.contains(&apt("qemu-user", "qemu-aarch64")), "{aarch64:?}");
        assert!(aarch64.contains(&apt("libc6-dev-arm64-cross", "/usr/aarch64-linux-gnu/lib/libc.so")), "{aarch64:?}");
        let cross = needs("linux-aarch64", Via::Cross);
        assert!(cross.contains(&Need::Cross) && !cross.iter().any(|n| matches!(n, Need::Apt(..))), "{cross:?}");
        assert!(needs("wasip2-serve", Via::Local).contains(&WASMTIME));
        let openbsd = needs("openbsd", Via::Local);
        assert!(openbsd.contains(&Need::Component(m.toolchains.nightly.clone(), "rust-src")), "{openbsd:?}");
        assert!(!openbsd.iter().any(|n| matches!(n, Need::Target(..))), "{openbsd:?}");
    }
}
