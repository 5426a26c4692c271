//! ci/matrix.toml, typed: the crate under test, what a cell is, and the
//! rules every cell follows before anything runs. Nothing else in the
//! runner names the crate: what it calls things comes from `[project]`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// The machine the matrix is documented for: "here" in reports and docs.
pub const REFERENCE_HOST: &str = "x86_64-unknown-linux-gnu";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    pub project: Project,
    pub toolchains: Toolchains,
    pub cross: Option<CrossPin>,
    pub sys: BTreeMap<String, Sys>,
    pub waker: BTreeMap<String, Waker>,
    /// The VMs that Actions boots for cells of OSes it does not host.
    #[serde(default)]
    pub vm: BTreeMap<String, Vm>,
    /// The runner images the jobs were written for, each with the
    /// `-latest` label that will one day move past it: the scheduled
    /// `latest` job runs their test cells there.
    #[serde(default)]
    pub runners: BTreeMap<String, RunnerImage>,
    /// The `[[cell]]` tables as written, which `parse` types into `cells`.
    #[serde(rename = "cell")]
    raw_cells: Vec<RawCell>,
    #[serde(skip)]
    pub cells: Vec<Cell>,
    /// Cargo.toml's `rust-version` (empty when it has none): the msrv
    /// cells' toolchain.
    #[serde(skip)]
    pub msrv: String,
}

/// The crate the matrix tests, and the names the runner gives what it
/// makes for it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Cargo.toml's `[package] name`, checked against it.
    pub package: String,
    /// Prefix of the variables the runner gives the crate's tests
    /// (`PREFIX_EXPECT_BACKEND`, `PREFIX_BIN`, ...; see [`Project::var`]).
    pub env_prefix: String,
    /// The binary that serve and expect-failure cells build and run.
    pub bin: Option<String>,
    /// Tests whose names start so drive the launched binary: counted apart
    /// in the report, and the only ones a serve cell runs.
    pub black_box: Option<String>,
    /// Other workspaces of the repository (their Cargo.toml) whose
    /// formatting the lint step checks too.
    #[serde(default)]
    pub fmt: Vec<String>,
    /// Shell scripts the config cell checks with shellcheck.
    #[serde(default)]
    pub scripts: Vec<String>,
    /// The GitHub workflow whose job matrices `cargo xtask gen` writes.
    pub workflow: Option<String>,
    /// The cross configuration whose targets `cargo xtask gen` writes.
    pub cross_config: Option<String>,
    /// Where `cargo xtask gen` writes the tables of cells, coverage,
    /// fidelity and plans, one file each.
    pub docs: Option<String>,
    /// The crate's fidelity probes: what its test suite reports, judged
    /// against the record of what each OS documents.
    pub fidelity: Option<FidelityFiles>,
}

/// The fidelity probes' record, and the Rust file `cargo xtask gen`
/// writes from it for the probes' test (their one list).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FidelityFiles {
    pub record: String,
    pub rust: String,
}

impl Project {
    /// A variable the runner sets for the crate's tests: `PREFIX_NAME`.
    pub fn var(&self, name: &str) -> String {
        format!("{}_{name}", self.env_prefix)
    }

    /// The name of a container image made here for the crate.
    pub fn image(&self, what: &str) -> String {
        format!("localhost/{}-{what}", self.package)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchains {
    pub stable: String,
    pub nightly: String,
    /// The stable toolchain of the targets in `older_stable_for`: those
    /// whose std for `stable` the reference host's rustup does not serve.
    pub older_stable: Option<String>,
    #[serde(default)]
    pub older_stable_for: Vec<String>,
}

/// cross from git at a commit read upstream: `on` a branch or tag, its `date`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossPin {
    pub git: String,
    pub rev: String,
    pub on: String,
    pub date: String,
}

/// A backend: the `BACKEND` the crate reports for it and mio's selector file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sys {
    pub backend: String,
    pub mio: String,
}

/// A waker: mio's file for it (none where mio has no waker).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waker {
    pub mio: Option<String>,
    pub about: String,
}

/// A runner image of GitHub Actions that jobs name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerImage {
    /// The `-latest` label that points to this image or will move past it.
    pub latest: Option<String>,
}

/// A VM that the workflow's `vm` job boots with vmactions' NAME-vm action
/// (pinned in the workflow, its releases in ci/vm-releases.toml), and
/// where its Rust comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// The OS, as the docs name it.
    pub os: String,
    /// The release the action boots, one its pinned commit lists.
    pub release: String,
    /// rustup's stable, or the OS's own Rust package (which the
    /// workflow's step for the VM installs in its `prepare`).
    pub rust: RustFrom,
}

impl Vm {
    pub fn about(&self) -> String {
        format!("{} {}", self.os, self.release)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RustFrom {
    /// rustup has a build for this host: the pinned toolchains.
    Rustup,
    /// rustup has none: the OS's own Rust package, whatever its version.
    Os,
}

/// How the machine provides the cell's runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// A developer's machine: a native cell for another OS only type-checks.
    Local,
    /// This machine is the cell's target (Actions runners, the VMs): a
    /// native test cell anywhere else fails.
    Native,
    /// qemu and Wine test cells run `cross test`; cross's image brings the runner.
    Cross,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(clap::ValueEnum::to_possible_value(self).expect("no variant is skipped").get_name())
    }
}

#[derive(Debug)]
pub struct Cell {
    pub name: String,
    /// The kind as ci/matrix.toml writes it (`test`, `asan`, ...).
    pub kind: String,
    pub work: Work,
    pub actions: Actions,
    pub note: Option<String>,
}

/// What a cell does: the offline checks of the CI definition, the proof
/// that another crate can adopt the runner, or something built for a target.
#[derive(Debug)]
pub enum Work {
    Config,
    Adopt,
    /// `cargo xtask install`'s Debian packages resolve on this Debian
    /// suite (a newer one than the reference host's).
    Distro(String),
    /// The workflow's `cells` job runs this cell under act, in host mode.
    Act(String),
    Build(Box<Build>, Kind),
}

#[derive(Debug)]
pub struct Build {
    pub target: String,
    pub sys: String,
    pub waker: String,
    pub toolchain: Toolchain,
    pub linker: Option<String>,
    pub cfg: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cross_runner: Option<String>,
    /// Only these test targets (`lib` for the library's unit tests).
    pub tests: Vec<String>,
    /// What the cell does not do, and why, beyond what its kind implies.
    pub exceptions: Vec<String>,
    /// A check cell checks the tests and examples too (`--all-targets`),
    /// or only the library and binaries.
    pub all_targets: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Test(Runner),
    /// Type-check only: clippy, or `cargo check` on the msrv.
    Check,
    /// The crate's binary must fail exactly as the oracle does.
    ExpectFailure(Oracle),
    /// The binary for a WASI target serves the crate's native black-box
    /// tests under wasmtime.
    Serve,
    /// cargo-fuzz on this fuzz target, from its committed seeds.
    Fuzz(String),
    Miri,
    /// AddressSanitizer (`asan`) or ThreadSanitizer (`tsan`): its -Zsanitizer name.
    Sanitizer(&'static str),
    /// `cross test` with podman, in an image built here from Debian's archive
    /// (ci/cross/): no Docker, no registry.
    Cross,
}

/// The program an expect-failure cell compares the crate's binary with:
/// an example of a dependency, built from its registry source.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oracle {
    pub package: String,
    pub example: String,
    #[serde(default)]
    pub features: Vec<String>,
}

/// What runs a test cell's binaries.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Runner {
    /// The host itself, when it is the target; elsewhere the cell only checks.
    Native,
    /// This host runs the target's binaries directly (x86_64 musl).
    Host,
    /// qemu-user (`qemu-aarch64`...), with the linker's sysroot.
    Qemu(String),
    /// Wine, with the ProcessPrng shim of ci/wine.
    Wine,
    /// wasmtime, with the host's network.
    Wasmtime,
}

impl TryFrom<String> for Runner {
    type Error = String;
    fn try_from(s: String) -> Result<Runner, String> {
        Ok(match s.as_str() {
            "native" => Runner::Native,
            "host" => Runner::Host,
            "wine" => Runner::Wine,
            "wasmtime" => Runner::Wasmtime,
            _ if s.starts_with("qemu-") => Runner::Qemu(s),
            _ => return Err(format!("unknown runner {s:?} (native, host, qemu-ARCH, wine, wasmtime)")),
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Toolchain {
    #[default]
    Stable,
    Msrv,
    Nightly,
    /// The nightly, std built from rust-src, for targets rustup has no std for.
    NightlyBuildStd,
}

/// Where GitHub Actions runs a cell.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Actions {
    /// Job `cells` on this runner label.
    Hosted(String),
    /// Job `cross`: `cross test` on a Linux runner.
    Cross,
    /// Job `vm`: a VM of `[vm.NAME]` on a Linux runner.
    Vm(String),
    /// No job: the cell exists for machines without what Actions has.
    None,
}

/// The runner label of the jobs that only provide a Linux machine (cross,
/// the VMs, hosted check cells): the image they were written for.
pub const LINUX_RUNNER: &str = "ubuntu-24.04";

impl TryFrom<String> for Actions {
    type Error = String;
    fn try_from(s: String) -> Result<Actions, String> {
        match s.as_str() {
            "cross" => Ok(Actions::Cross),
            "none" => Ok(Actions::None),
            _ if s.ends_with("-vm") => Ok(Actions::Vm(s.trim_end_matches("-vm").into())),
            _ if ["ubuntu-", "macos-", "windows-"].iter().any(|p| s.starts_with(p)) => Ok(Actions::Hosted(s)),
            _ => Err(format!(
                "actions {s:?} is handled by no job (a ubuntu-/macos-/windows- label, cross, NAME-vm, none)"
            )),
        }
    }
}

impl Actions {
    /// The job, and the runner label it runs on.
    pub fn job(&self) -> (&'static str, &str) {
        match self {
            Actions::Hosted(label) => ("cells", label),
            Actions::Cross => ("cross", LINUX_RUNNER),
            Actions::Vm(_) => ("vm", LINUX_RUNNER),
            Actions::None => ("none", "no runner"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCell {
    name: String,
    kind: String,
    target: Option<String>,
    runner: Option<Runner>,
    sys: Option<String>,
    waker: Option<String>,
    #[serde(default)]
    toolchain: Toolchain,
    linker: Option<String>,
    #[serde(default)]
    cfg: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    actions: Option<Actions>,
    cross_runner: Option<String>,
    #[serde(default)]
    tests: Vec<String>,
    fuzz_target: Option<String>,
    oracle: Option<Oracle>,
    #[serde(default)]
    exceptions: Vec<String>,
    distro: Option<String>,
    act_cell: Option<String>,
    all_targets: Option<bool>,
    note: Option<String>,
}

impl Matrix {
    pub fn load(root: &Path) -> Result<Matrix, String> {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("reading {p}: {e}"));
        let manifest: toml::Table = toml::from_str(&read("Cargo.toml")?).map_err(|e| format!("Cargo.toml: {e}"))?;
        let package = manifest.get("package").and_then(|p| p.as_table()).ok_or("Cargo.toml has no [package]")?;
        let msrv = package.get("rust-version").and_then(|v| v.as_str()).unwrap_or_default();
        let m = Matrix::parse(&read("ci/matrix.toml")?, msrv.into())?;
        let name = package.get("name").and_then(|v| v.as_str()).unwrap_or_default();
        if m.project.package != name {
            return Err(format!(
                "ci/matrix.toml: [project] package {:?} is not Cargo.toml's {name:?}",
                m.project.package
            ));
        }
        Ok(m)
    }

    pub fn parse(text: &str, msrv: String) -> Result<Matrix, String> {
        let mut m: Matrix = toml::from_str(text).map_err(|e| format!("ci/matrix.toml: {e}"))?;
        m.msrv = msrv;
        let (mut errors, mut names) = (Vec::new(), BTreeSet::new());
        for raw in std::mem::take(&mut m.raw_cells) {
            if !names.insert(raw.name.clone()) {
                errors.push(format!("cell {}: the name is used twice", raw.name));
            }
            match typed(raw, &m) {
                Ok(cell) => m.cells.push(cell),
                Err(e) => errors.push(e),
            }
        }
        let (stable, nightly) = (&m.toolchains.stable, &m.toolchains.nightly);
        let older = m.toolchains.older_stable.as_deref().unwrap_or("0.0.0");
        if m.toolchains.older_stable.is_none() != m.toolchains.older_stable_for.is_empty() || !three_numbers(older, '.')
        {
            errors.push(format!("toolchains: older_stable {older:?} must be exact, and come with older_stable_for"));
        }
        if !three_numbers(stable, '.') || !three_numbers(nightly.strip_prefix("nightly-").unwrap_or("-"), '-') {
            errors
                .push(format!("toolchains: {stable:?} must be exact (1.95.0), {nightly:?} dated (nightly-2026-05-20)"));
        }
        if let Some(CrossPin { rev, date, .. }) = &m.cross
            && (rev.len() != 40 || !rev.chars().all(|c| c.is_ascii_hexdigit()) || !three_numbers(date, '-'))
        {
            errors.push(format!("cross: rev {rev:?} must be a full commit SHA, date {date:?} YYYY-MM-DD"));
        }
        errors.extend(m.coverage_problems());
        if errors.is_empty() { Ok(m) } else { Err(errors.join("\n")) }
    }

    pub fn cell(&self, name: &str) -> Result<&Cell, String> {
        self.cells.iter().find(|c| c.name == name).ok_or_else(|| format!("no cell named {name:?} in ci/matrix.toml"))
    }

    /// The toolchain `t` names for `target`.
    pub fn toolchain(&self, t: Toolchain, target: &str) -> &str {
        match (t, &self.toolchains.older_stable) {
            (Toolchain::Stable, Some(older)) if self.toolchains.older_stable_for.iter().any(|o| o == target) => older,
            (Toolchain::Stable, _) => &self.toolchains.stable,
            (Toolchain::Msrv, _) => &self.msrv,
            (Toolchain::Nightly | Toolchain::NightlyBuildStd, _) => &self.toolchains.nightly,
        }
    }

    /// The cells that build (not the config cell), with their build and kind.
    pub fn builds(&self) -> impl Iterator<Item = (&Cell, &Build, &Kind)> {
        self.cells.iter().filter_map(|c| match &c.work {
            Work::Build(b, k) => Some((c, &**b, k)),
            Work::Config | Work::Adopt | Work::Distro(_) | Work::Act(_) => None,
        })
    }

    /// Every backend and waker is compiled by some cell, and each one a
    /// target Linux x86_64 executes selects is tested by a cell here.
    fn coverage_problems(&self) -> Vec<String> {
        let sys = self.sys.keys().map(|s| (format!("the {s} backend"), true, s));
        let wakers = self.waker.keys().map(|w| (format!("the {w} waker"), false, w));
        let mut problems = Vec::new();
        for (what, is_sys, name) in sys.chain(wakers) {
            let cells: Vec<_> =
                self.builds().filter(|(_, b, _)| if is_sys { &b.sys == name } else { &b.waker == name }).collect();
            if cells.is_empty() {
                problems.push(format!("{what} is compiled by no cell: add one whose target selects it"));
            } else if cells.iter().any(|(_, b, _)| linux_can_run(&b.target))
                && !cells.iter().any(|(_, b, k)| runs_tests_here(b, k))
            {
                problems.push(format!("{what} can run on Linux x86_64, but no cell tests it here"));
            }
        }
        problems
    }
}

/// Three numbers joined by `sep`: a version (1.95.0) or a date (2026-05-20).
pub fn three_numbers(s: &str, sep: char) -> bool {
    s.split(sep).count() == 3 && s.split(sep).all(|n| n.parse::<u32>().is_ok())
}

/// Linux x86_64 executes the target: natively, under qemu-user, Wine or wasmtime.
pub fn linux_can_run(target: &str) -> bool {
    target.contains("-linux-") || target.starts_with("wasm32-wasi") || target.ends_with("-windows-gnu")
}

/// Whether the cell runs the crate's code (the suite or the binary) on the
/// reference host; Miri and the fuzzer run socket-free code only.
pub fn runs_tests_here(build: &Build, kind: &Kind) -> bool {
    match kind {
        Kind::Test(Runner::Native) => build.target == REFERENCE_HOST,
        Kind::Test(_) | Kind::ExpectFailure(_) | Kind::Serve | Kind::Sanitizer(_) | Kind::Cross => true,
        Kind::Check | Kind::Fuzz(_) | Kind::Miri => false,
    }
}

/// The cell's kind, from its `kind` and the fields that kind takes.
fn kind(raw: &mut RawCell, project: &Project) -> Result<Option<Kind>, String> {
    let needs_bin = |kind: &str| match project.bin {
        Some(_) => Ok(()),
        None => Err(format!("a {kind} cell needs [project] bin")),
    };
    Ok(Some(match (raw.kind.as_str(), raw.runner.take()) {
        ("config", None) => return Ok(None),
        ("test", Some(runner)) => Kind::Test(runner),
        ("test", None) => return Err("a test cell needs a runner".into()),
        (_, Some(_)) => return Err("only test cells take a runner".into()),
        ("check", None) => Kind::Check,
        ("expect-failure", None) => {
            needs_bin("expect-failure")?;
            Kind::ExpectFailure(raw.oracle.take().ok_or("an expect-failure cell needs an oracle")?)
        }
        ("serve", None) => {
            needs_bin("serve")?;
            project.black_box.as_ref().ok_or("a serve cell needs [project] black_box: the tests it runs")?;
            Kind::Serve
        }
        ("fuzz", None) => Kind::Fuzz(raw.fuzz_target.take().ok_or("a fuzz cell needs a fuzz_target")?),
        ("miri", None) => Kind::Miri,
        ("asan", None) => Kind::Sanitizer("address"),
        ("tsan", None) => Kind::Sanitizer("thread"),
        ("cross", None) => Kind::Cross,
        (other, None) => return Err(format!("unknown kind {other:?}")),
    }))
}

fn typed(mut raw: RawCell, m: &Matrix) -> Result<Cell, String> {
    let name = raw.name.clone();
    let work = work(&mut raw, m).map_err(|why| format!("cell {name}: {why}"))?;
    Ok(Cell {
        name: raw.name,
        kind: raw.kind,
        work,
        actions: raw.actions.unwrap_or_else(default_actions),
        note: raw.note,
    })
}

fn default_actions() -> Actions {
    Actions::Hosted(LINUX_RUNNER.into())
}

/// What the cell does, from the fields its kind takes; an error says which
/// field does not fit.
fn work(raw: &mut RawCell, m: &Matrix) -> Result<Work, String> {
    let work = match (raw.kind.as_str(), raw.distro.take(), raw.act_cell.take()) {
        ("adopt", None, None) => Some(Work::Adopt),
        ("distro", Some(suite), None) => Some(Work::Distro(suite)),
        ("act", None, Some(cell)) => Some(Work::Act(cell)),
        ("distro", ..) => return Err("a distro cell needs a distro (a Debian suite), and only that".into()),
        ("act", ..) => return Err("an act cell needs an act_cell (the cell the job runs), and only that".into()),
        (_, None, None) => None,
        _ => return Err("distro is for distro cells, act_cell for act cells".into()),
    };
    if let Some(work) = work {
        let bare = raw.target.is_none() && raw.sys.is_none() && raw.runner.is_none() && raw.linker.is_none();
        return if bare {
            Ok(work)
        } else {
            Err(format!("a {} cell takes no target, sys, runner or linker", raw.kind))
        };
    }
    let kind = kind(raw, &m.project)?;
    if raw.oracle.is_some() || raw.fuzz_target.is_some() {
        return Err("oracle is for expect-failure cells, fuzz_target for fuzz cells".into());
    }
    if !raw.tests.is_empty() && !matches!(kind, Some(Kind::Miri | Kind::Sanitizer(_))) {
        return Err("tests is for miri, asan and tsan cells".into());
    }
    if raw.all_targets.is_some() && kind != Some(Kind::Check) {
        return Err("all_targets is for check cells".into());
    }
    let actions = raw.actions.clone().unwrap_or_else(default_actions);
    match &actions {
        Actions::Vm(vm) if !m.vm.contains_key(vm) => return Err(format!("actions = \"{vm}-vm\" names no [vm.{vm}]")),
        Actions::Hosted(label) if !m.runners.is_empty() && !m.runners.contains_key(label) => {
            return Err(format!("actions = \"{label}\" is none of [runners]"));
        }
        _ => {}
    }
    match kind {
        None if raw.target.is_none() && raw.sys.is_none() && raw.waker.is_none() && raw.linker.is_none() => {
            if raw.cfg.is_empty() && raw.env.is_empty() {
                Ok(Work::Config)
            } else {
                Err("a config cell takes no cfg or env".into())
            }
        }
        None => Err("a config cell takes no target, sys, waker, linker, cfg or env".into()),
        Some(kind) => Ok(Work::Build(Box::new(build(raw, &kind, &actions, m)?), kind)),
    }
}

/// What a cell builds, and for which target; an error says what does not fit
/// its kind or where Actions runs it.
fn build(raw: &mut RawCell, kind: &Kind, actions: &Actions, m: &Matrix) -> Result<Build, String> {
    let (Some(target), Some(sys), Some(waker)) = (raw.target.take(), raw.sys.take(), raw.waker.take()) else {
        return Err("needs a target, sys and waker".into());
    };
    if !m.sys.contains_key(&sys) || !m.waker.contains_key(&waker) {
        return Err(format!("sys {sys:?} or waker {waker:?} is not one of ci/matrix.toml's [sys] and [waker]"));
    }
    if matches!(kind, Kind::Test(Runner::Qemu(_))) && raw.linker.is_none() {
        return Err("a qemu runner needs a linker (its sysroot is /usr/<gnu triple>)".into());
    }
    let (cross, emulated) = (*actions == Actions::Cross, matches!(kind, Kind::Test(Runner::Qemu(_) | Runner::Wine)));
    if cross != emulated && !(emulated && *actions == Actions::None) {
        return Err("actions = \"cross\" (or none) is for the qemu and wine test cells, and all of them".into());
    }
    if cross && m.cross.is_none() {
        return Err("actions = \"cross\" needs the [cross] pin".into());
    }
    if matches!(actions, Actions::Vm(_)) && *kind != Kind::Test(Runner::Native) {
        return Err("a VM runs native test cells only".into());
    }
    if raw.toolchain == Toolchain::Msrv && m.msrv.is_empty() {
        return Err("an msrv cell needs Cargo.toml's rust-version".into());
    }
    if raw.cross_runner.is_some() && !cross {
        return Err("cross_runner is for cross cells".into());
    }
    Ok(Build {
        target,
        sys,
        waker,
        toolchain: raw.toolchain,
        linker: raw.linker.take(),
        cfg: std::mem::take(&mut raw.cfg),
        env: std::mem::take(&mut raw.env),
        cross_runner: raw.cross_runner.take(),
        tests: std::mem::take(&mut raw.tests),
        exceptions: std::mem::take(&mut raw.exceptions),
        all_targets: raw.all_targets.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cells: &str) -> Result<Matrix, String> {
        let head = "[project]\npackage = \"p\"\nenv_prefix = \"P\"\n\
                    [toolchains]\nstable = \"1.95.0\"\nnightly = \"nightly-2026-05-20\"\n[cross]\ngit = \"g\"\n\
                    rev = \"8c1a8aa4b661711f4b7b6ac07c2e8929ce2f7d27\"\non = \"main\"\ndate = \"2026-08-19\"\n\
                    [sys]\nepoll = { backend = \"epoll\", mio = \"e\" }\nkqueue = { backend = \"kqueue\", mio = \"k\" }\n\
                    [waker]\neventfd = { mio = \"e\", about = \"eventfd\" }\n";
        Matrix::parse(&format!("{head}{cells}"), "1.85".into())
    }

    #[test]
    fn cells_that_cannot_run_are_rejected_with_the_reason() {
        let cell = |body: &str| parse(&format!("[[cell]]\nname = \"x\"\n{body}")).unwrap_err();
        let build = "target = \"t\"\nsys = \"epoll\"\nwaker = \"eventfd\"\n";
        assert!(cell(&format!("kind = \"test\"\n{build}")).contains("needs a runner"));
        assert!(cell(&format!("kind = \"check\"\nrunner = \"native\"\n{build}")).contains("only test cells"));
        assert!(cell(&format!("kind = \"test\"\nrunner = \"qemu-arm\"\n{build}")).contains("needs a linker"));
        assert!(cell(&format!("kind = \"test\"\nrunner = \"wine\"\n{build}")).contains("actions = \"cross\""));
        assert!(cell(&format!("kind = \"test\"\nrunner = \"qemu\"\n{build}")).contains("runner \"qemu\""));
        assert!(cell(&format!("kind = \"check\"\nactions = \"vm\"\n{build}")).contains("handled by no job"));
        assert!(cell(&format!("kind = \"check\"\nactions = \"beos-vm\"\n{build}")).contains("names no [vm.beos]"));
        assert!(cell(&format!("kind = \"serve\"\n{build}")).contains("needs [project] bin"));
        assert!(cell(&format!("kind = \"fuzz\"\n{build}")).contains("needs a fuzz_target"));
        assert!(cell(&format!("kind = \"check\"\ntests = [\"lib\"]\n{build}")).contains("tests is for miri"));
        assert!(cell("kind = \"check\"\ntarget = \"t\"").contains("needs a target, sys and waker"));
        assert!(cell("kind = \"check\"\ntarget = \"t\"\nsys = \"io\"\nwaker = \"eventfd\"").contains("not one of"));
        assert!(cell("kind = \"config\"\ntarget = \"t\"").contains("config cell takes no target"));
        assert!(cell("kind = \"config\"\ncolour = 1").contains("unknown field `colour`"));
    }

    #[test]
    fn an_uncovered_backend_or_waker_fails_the_matrix() {
        let linux = "target = \"x86_64-unknown-linux-gnu\"\nsys = \"epoll\"\nwaker = \"eventfd\"\n";
        let err = parse(&format!("[[cell]]\nname = \"x\"\nkind = \"check\"\n{linux}")).unwrap_err();
        assert!(err.contains("the kqueue backend is compiled by no cell"), "{err}");
        assert!(err.contains("the epoll backend can run on Linux x86_64, but no cell tests it here"), "{err}");
    }
}
