//! ci/matrix.toml, typed: what a cell is, and the rules every cell follows
//! before anything runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// The machine the matrix is documented for: "here" in reports and README.
pub const REFERENCE_HOST: &str = "x86_64-unknown-linux-gnu";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    pub toolchains: Toolchains,
    pub cross: CrossPin,
    pub sys: BTreeMap<String, Sys>,
    pub waker: BTreeMap<String, Waker>,
    /// The `[[cell]]` tables as written, which `parse` types into `cells`.
    #[serde(rename = "cell")]
    raw_cells: Vec<RawCell>,
    #[serde(skip)]
    pub cells: Vec<Cell>,
    /// Cargo.toml's `rust-version`: the msrv cells' toolchain.
    #[serde(skip)]
    pub msrv: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchains {
    pub stable: String,
    pub nightly: String,
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

/// A src/sys module: the `BACKEND` it reports and mio's selector file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sys {
    pub backend: String,
    pub mio: String,
}

/// A waker: mio's file for it (none for the stub of src/sys/wasi.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waker {
    pub mio: Option<String>,
    pub about: String,
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

/// What a cell does: the offline checks of the CI definition, or something
/// built for a target.
#[derive(Debug)]
pub enum Work {
    Config,
    Build(Build, Kind),
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Test(Runner),
    /// Type-check only: clippy, or `cargo check` on the msrv.
    Check,
    /// The WASI preview 1 binary must fail exactly as mio's example does.
    ExpectFailure,
    /// The WASI preview 2 binary serves the native black-box suite.
    Serve,
    Fuzz,
    Miri,
    /// AddressSanitizer (`asan`) or ThreadSanitizer (`tsan`): its -Zsanitizer name.
    Sanitizer(&'static str),
    /// `cross test` with podman, in an image built here from Debian's archive
    /// (ci/cross/): no Docker, no registry.
    Cross,
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
    /// Job `cross`: `cross test` on ubuntu-latest.
    Cross,
    /// Job `freebsd`: a FreeBSD VM on ubuntu-latest.
    FreebsdVm,
    /// No job: the cell exists for machines without what Actions has.
    None,
}

impl TryFrom<String> for Actions {
    type Error = String;
    fn try_from(s: String) -> Result<Actions, String> {
        match s.as_str() {
            "cross" => Ok(Actions::Cross),
            "freebsd-vm" => Ok(Actions::FreebsdVm),
            "none" => Ok(Actions::None),
            _ if ["ubuntu-", "macos-", "windows-"].iter().any(|p| s.starts_with(p)) => Ok(Actions::Hosted(s)),
            _ => Err(format!(
                "actions {s:?} is handled by no job (a ubuntu-/macos-/windows- label, cross, freebsd-vm, none)"
            )),
        }
    }
}

impl Actions {
    /// The job, and the runner label it runs on.
    pub fn job(&self) -> (&'static str, &str) {
        match self {
            Actions::Hosted(label) => ("cells", label),
            Actions::Cross => ("cross", "ubuntu-latest"),
            Actions::FreebsdVm => ("freebsd", "ubuntu-latest"),
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
    note: Option<String>,
}

impl Matrix {
    pub fn load(root: &Path) -> Result<Matrix, String> {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("reading {p}: {e}"));
        let manifest: toml::Table = toml::from_str(&read("Cargo.toml")?).map_err(|e| format!("Cargo.toml: {e}"))?;
        let msrv = manifest["package"].get("rust-version").and_then(|v| v.as_str());
        Matrix::parse(&read("ci/matrix.toml")?, msrv.ok_or("Cargo.toml has no package.rust-version")?.into())
    }

    pub fn parse(text: &str, msrv: String) -> Result<Matrix, String> {
        let mut m: Matrix = toml::from_str(text).map_err(|e| format!("ci/matrix.toml: {e}"))?;
        m.msrv = msrv;
        let (mut errors, mut names) = (Vec::new(), BTreeSet::new());
        for raw in std::mem::take(&mut m.raw_cells) {
            if !names.insert(raw.name.clone()) {
                errors.push(format!("cell {}: the name is used twice", raw.name));
            }
            match typed(raw, &m.sys, &m.waker) {
                Ok(cell) => m.cells.push(cell),
                Err(e) => errors.push(e),
            }
        }
        let (stable, nightly) = (&m.toolchains.stable, &m.toolchains.nightly);
        if !three_numbers(stable, '.') || !three_numbers(nightly.strip_prefix("nightly-").unwrap_or("-"), '-') {
            errors
                .push(format!("toolchains: {stable:?} must be exact (1.95.0), {nightly:?} dated (nightly-2026-05-20)"));
        }
        let CrossPin { rev, date, .. } = &m.cross;
        if rev.len() != 40 || !rev.chars().all(|c| c.is_ascii_hexdigit()) || !three_numbers(date, '-') {
            errors.push(format!("cross: rev {rev:?} must be a full commit SHA, date {date:?} YYYY-MM-DD"));
        }
        errors.extend(m.coverage_problems());
        if errors.is_empty() { Ok(m) } else { Err(errors.join("\n")) }
    }

    pub fn cell(&self, name: &str) -> Result<&Cell, String> {
        self.cells.iter().find(|c| c.name == name).ok_or_else(|| format!("no cell named {name:?} in ci/matrix.toml"))
    }

    pub fn toolchain(&self, t: Toolchain) -> &str {
        match t {
            Toolchain::Stable => &self.toolchains.stable,
            Toolchain::Msrv => &self.msrv,
            Toolchain::Nightly | Toolchain::NightlyBuildStd => &self.toolchains.nightly,
        }
    }

    /// The cells that build (not the config cell), with their build and kind.
    pub fn builds(&self) -> impl Iterator<Item = (&Cell, &Build, &Kind)> {
        self.cells.iter().filter_map(|c| match &c.work {
            Work::Build(b, k) => Some((c, b, k)),
            Work::Config => None,
        })
    }

    /// Every src/sys module and waker is compiled by some cell, and each one
    /// a target Linux x86_64 executes selects is tested by a cell here.
    fn coverage_problems(&self) -> Vec<String> {
        let sys = self.sys.keys().map(|s| (format!("src/sys/{s}.rs"), true, s));
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

/// Whether the cell runs the server's code (the suite or the binary) on the
/// reference host; Miri and the fuzzer run socket-free code only.
pub fn runs_tests_here(build: &Build, kind: &Kind) -> bool {
    match kind {
        Kind::Test(Runner::Native) => build.target == REFERENCE_HOST,
        Kind::Test(_) | Kind::ExpectFailure | Kind::Serve | Kind::Sanitizer(_) | Kind::Cross => true,
        Kind::Check | Kind::Fuzz | Kind::Miri => false,
    }
}

fn typed(raw: RawCell, sys: &BTreeMap<String, Sys>, wakers: &BTreeMap<String, Waker>) -> Result<Cell, String> {
    let fail = |why: &str| Err(format!("cell {}: {why}", raw.name));
    let kind = match (raw.kind.as_str(), raw.runner) {
        ("config", None) => None,
        ("test", Some(runner)) => Some(Kind::Test(runner)),
        ("test", None) => return fail("a test cell needs a runner"),
        (_, Some(_)) => return fail("only test cells take a runner"),
        ("check", None) => Some(Kind::Check),
        ("expect-failure", None) => Some(Kind::ExpectFailure),
        ("serve", None) => Some(Kind::Serve),
        ("fuzz", None) => Some(Kind::Fuzz),
        ("miri", None) => Some(Kind::Miri),
        ("asan", None) => Some(Kind::Sanitizer("address")),
        ("tsan", None) => Some(Kind::Sanitizer("thread")),
        ("cross", None) => Some(Kind::Cross),
        (other, None) => return fail(&format!("unknown kind {other:?}")),
    };
    let actions = raw.actions.unwrap_or_else(|| Actions::Hosted("ubuntu-latest".into()));
    let work = match (kind, raw.target, raw.sys, raw.waker) {
        (None, None, None, None) if raw.linker.is_none() && raw.cfg.is_empty() && raw.env.is_empty() => Work::Config,
        (None, ..) => return fail("a config cell takes no target, sys, waker, linker, cfg or env"),
        (Some(kind), Some(target), Some(s), Some(w)) => {
            if !sys.contains_key(&s) || !wakers.contains_key(&w) {
                return fail(&format!("sys {s:?} or waker {w:?} is not one of ci/matrix.toml's [sys] and [waker]"));
            }
            if matches!(kind, Kind::Test(Runner::Qemu(_))) && raw.linker.is_none() {
                return fail("a qemu runner needs a linker (its sysroot is /usr/<gnu triple>)");
            }
            let cross = actions == Actions::Cross;
            if cross != matches!(kind, Kind::Test(Runner::Qemu(_) | Runner::Wine)) {
                return fail("actions = \"cross\" is for the qemu and wine test cells, and all of them");
            }
            if raw.cross_runner.is_some() && !cross {
                return fail("cross_runner is for cross cells");
            }
            let (toolchain, linker, cfg, env, cross_runner) =
                (raw.toolchain, raw.linker, raw.cfg, raw.env, raw.cross_runner);
            Work::Build(Build { target, sys: s, waker: w, toolchain, linker, cfg, env, cross_runner }, kind)
        }
        (Some(_), ..) => return fail("needs a target, sys and waker"),
    };
    Ok(Cell { name: raw.name, kind: raw.kind, work, actions, note: raw.note })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cells: &str) -> Result<Matrix, String> {
        let head = "[toolchains]\nstable = \"1.95.0\"\nnightly = \"nightly-2026-05-20\"\n[cross]\ngit = \"g\"\n\
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
        assert!(cell("kind = \"check\"\ntarget = \"t\"").contains("needs a target, sys and waker"));
        assert!(cell("kind = \"check\"\ntarget = \"t\"\nsys = \"io\"\nwaker = \"eventfd\"").contains("not one of"));
        assert!(cell("kind = \"config\"\ntarget = \"t\"").contains("config cell takes no target"));
        assert!(cell("kind = \"config\"\ncolour = 1").contains("unknown field `colour`"));
    }

    #[test]
    fn an_uncovered_backend_or_waker_fails_the_matrix() {
        let linux = "target = \"x86_64-unknown-linux-gnu\"\nsys = \"epoll\"\nwaker = \"eventfd\"\n";
        let err = parse(&format!("[[cell]]\nname = \"x\"\nkind = \"check\"\n{linux}")).unwrap_err();
        assert!(err.contains("src/sys/kqueue.rs is compiled by no cell"), "{err}");
        assert!(err.contains("src/sys/epoll.rs can run on Linux x86_64, but no cell tests it here"), "{err}");
    }
}
