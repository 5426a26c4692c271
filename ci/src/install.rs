//! What a fresh machine needs for a cell, derived from the cell alone, and
//! installing it, saying what is installed and for which cells.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::matrix::{Cell, CrossPin, Kind, Matrix, Runner, Toolchain, Work};
use crate::plan::{PY_TOOLS, Via, XTASK_TARGETS, venv};

/// wasmtime-cli on crates.io: 48.x is the last that builds with Rust 1.95.
/// Only the features the cells use (`run` with WASI preview 1 and 2,
/// components, its compilation cache): 9m49s to build here, where the
/// default features take 16 to 18 minutes.
const WASMTIME: Need = Need::Crate(
    "wasmtime-cli",
    "48.0.8",
    " --no-default-features --features run,cranelift,component-model,parallel-compilation,cache",
);
const CARGO_FUZZ: Need = Need::Crate("cargo-fuzz", "0.13.2", "");
/// cross from crates.io for the cross cells: a commit of cross's main (what
/// the Actions job builds from git) cannot be fetched from crates.io.
const CROSS: Need = Need::Crate("cross", "0.2.5", "");
const DEBIAN_IMAGE: &str = "localhost/portable-echo/debian-base:bookworm";

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
    /// The Debian image the cross cells' images start from, made here.
    DebianImage,
}

pub fn needs(m: &Matrix, cell: &Cell, host: &str, via: Via) -> Vec<Need> {
    let apt = |package: &str, probe: &str| Need::Apt(package.into(), probe.into());
    let Work::Build(b, kind) = &cell.work else {
        let tc = &m.toolchains.stable;
        let mut v = vec![Need::Toolchain(tc.clone()), Need::Component(tc.clone(), "clippy")];
        v.push(Need::Component(tc.clone(), "rustfmt"));
        v.extend(XTASK_TARGETS.iter().map(|t| Need::Target(tc.clone(), t.to_string())));
        return [v, vec![apt("shellcheck", "shellcheck"), Need::PyTools]].concat();
    };
    let tc = m.toolchain(b.toolchain).to_string();
    let component = |c| Need::Component(tc.clone(), c);
    let mut v = vec![Need::Toolchain(tc.clone())];
    if b.toolchain != Toolchain::Msrv {
        v.push(component("clippy"));
    }
    if *kind == Kind::Test(Runner::Native) && b.target == host && b.cfg.is_empty() {
        v.push(component("rustfmt"));
    }
    match b.toolchain {
        Toolchain::NightlyBuildStd => v.push(component("rust-src")),
        _ if b.target != host => v.push(Need::Target(tc.clone(), b.target.clone())),
        _ => {}
    }
    // Under cross, its image brings the linker and the runner.
    if via == Via::Cross && matches!(kind, Kind::Test(Runner::Qemu(_) | Runner::Wine)) {
        v.push(Need::Cross);
        return v;
    }
    match kind {
        Kind::Test(Runner::Qemu(qemu)) => v.push(apt("qemu-user", qemu)),
        Kind::Test(Runner::Wine) => v.extend([apt("wine", "wine"), apt("wine64", "/usr/lib/wine/wine64")]),
        Kind::Test(Runner::Wasmtime) | Kind::ExpectFailure | Kind::Serve => v.push(WASMTIME),
        Kind::Test(Runner::Native | Runner::Host) | Kind::Check => {}
        Kind::Fuzz => v.extend([CARGO_FUZZ, apt("g++", "g++")]),
        Kind::Miri => v.extend([component("miri"), component("rust-src")]),
        Kind::Sanitizer(_) => v.push(component("rust-src")),
        Kind::Cross => {
            let packages = ["podman", "runc", "debootstrap", "uidmap", "slirp4netns", "fuse-overlayfs"];
            v.extend(packages.map(|p| apt(p, if p == "uidmap" { "newuidmap" } else { p })));
            v.extend([CROSS, Need::DebianImage]);
        }
    }
    match b.linker.as_deref() {
        Some(l) if l.ends_with("-w64-mingw32-gcc") => v.push(apt("mingw-w64", l)),
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
            v.push(apt(&format!("gcc-{gnu}"), l));
            v.push(apt(&format!("libc6-dev-{arch}-cross"), &format!("/usr/{gnu}/lib/libc.so")));
        }
        None => {}
    }
    v
}

/// The standard output of a command (words split at spaces) that succeeded.
fn output(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split(' ').collect();
    let out = Command::new(words[0]).args(&words[1..]).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file() || d.join(format!("{program}.exe")).is_file())
}

fn have(root: &Path, need: &Need) -> bool {
    let lists = |command: String, line: &str| output(&command).is_some_and(|o| o.lines().any(|l| l == line));
    match need {
        Need::Toolchain(tc) => output(&format!("rustup run {tc} rustc --version")).is_some(),
        // rustup lists a component with its host suffix: `clippy-x86_64-unknown-linux-gnu`.
        Need::Component(tc, c) => output(&format!("rustup component list --installed --toolchain {tc}"))
            .is_some_and(|o| o.lines().any(|l| l == *c || l.starts_with(&format!("{c}-")))),
        Need::Target(tc, t) => lists(format!("rustup target list --installed --toolchain {tc}"), t),
        Need::Apt(_, probe) if probe.starts_with('/') => Path::new(probe).exists(),
        Need::Apt(_, probe) => on_path(probe),
        Need::Crate(name, version, _) => lists("cargo install --list".into(), &format!("{name} v{version}:")),
        Need::Cross => on_path("cross"),
        Need::PyTools => PY_TOOLS.iter().all(|(t, _)| root.join(venv()).join("bin").join(t).is_file()),
        Need::DebianImage => output(&format!("podman image exists {DEBIAN_IMAGE}")).is_some(),
    }
}

/// The commands that install `need`, as `install` says them and runs them
/// (split at spaces: no argument has one).
fn commands(m: &Matrix, need: &Need) -> Vec<String> {
    let (stable, CrossPin { git, rev, .. }) = (&m.toolchains.stable, &m.cross);
    let one = |command: String| vec![command];
    match need {
        Need::Toolchain(tc) => one(format!("rustup toolchain install {tc} --profile minimal --no-self-update")),
        Need::Component(tc, c) => one(format!("rustup component add --toolchain {tc} {c}")),
        Need::Target(tc, t) => one(format!("rustup target add --toolchain {tc} {t}")),
        Need::Apt(package, _) => one(format!("apt-get install -y -q {package}")),
        Need::Crate(name, version, extra) => one(format!("cargo +{stable} install {name}@{version} --locked{extra}")),
        Need::Cross => one(format!("cargo +{stable} install cross --locked --git {git} --rev {rev}")),
        Need::PyTools => {
            let (venv, pins) = (venv(), PY_TOOLS.map(|(t, v)| format!("{t}=={v}")));
            vec![format!("python3 -m venv {venv}"), format!("{venv}/bin/python -m pip install -q {}", pins.join(" "))]
        }
        // A minimal Debian 12 from the archive this machine's apt uses.
        Need::DebianImage => {
            let (rootfs, tar) = ("target/cross/debian-rootfs", "target/cross/debian-base.tar");
            vec![
                format!("rm -rf {rootfs}"),
                format!("mkdir -p {rootfs}"),
                format!("debootstrap --variant=minbase bookworm {rootfs} {}", debian_mirror()),
                format!("tar -C {rootfs} -cf {tar} ."),
                format!("podman import {tar} {DEBIAN_IMAGE}"),
                format!("rm -rf {rootfs} {tar}"),
            ]
        }
    }
}

/// The Debian archive of this machine's apt sources (debootstrap needs one).
fn debian_mirror() -> String {
    let dir = std::fs::read_dir("/etc/apt/sources.list.d").into_iter().flatten().flatten().map(|e| e.path());
    let files = std::iter::once("/etc/apt/sources.list".into()).chain(dir);
    let text: String = files.map(|p| std::fs::read_to_string(p).unwrap_or_default() + "\n").collect();
    let url = text.split_whitespace().find(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"));
    url.unwrap_or("http://deb.debian.org/debian").to_string()
}

pub fn describe(m: &Matrix, need: &Need) -> String {
    let text = commands(m, need).join(" && ");
    match need {
        Need::Cross => format!("{text} ({}, {})", m.cross.on, m.cross.date),
        _ => text,
    }
}

/// The needs of `cells` this machine lacks, each with the cells that need it.
pub fn missing(m: &Matrix, root: &Path, cells: &[&Cell], host: &str, via: Via) -> BTreeMap<Need, Vec<String>> {
    let mut wanted: BTreeMap<Need, Vec<String>> = BTreeMap::new();
    for cell in cells {
        needs(m, cell, host, via).into_iter().for_each(|n| wanted.entry(n).or_default().push(cell.name.clone()));
    }
    wanted.retain(|need, _| !have(root, need));
    wanted
}

/// Installs what `cells` lack, saying what and for which cells; command
/// output goes to `log` (the terminal when `None`). Says what is still
/// missing, and returns whether nothing is.
pub fn install(m: &Matrix, root: &Path, cells: &[&Cell], host: &str, via: Via, log: Option<&Path>) -> bool {
    let run = |command: &str| {
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
            cmd.stdout(file.try_clone().unwrap()).stderr(file);
        }
        if !cmd.status().is_ok_and(|s| s.success()) {
            println!("install: `{}` failed", words.join(" "));
        }
    };
    let lacking = missing(m, root, cells, host, via);
    // Debian packages first: one update, one apt-get install.
    let mut packages: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (need, cells) in &lacking {
        if let Need::Apt(package, _) = need {
            packages.entry(package).or_default().extend(cells.iter().cloned());
        }
    }
    for (package, cells) in packages.iter_mut() {
        cells.dedup();
        println!("install: Debian package {package} (apt-get install), needed by {}", cells.join(" "));
    }
    if !packages.is_empty() {
        run("apt-get update -q");
        run(&format!("apt-get install -y -q {}", packages.keys().copied().collect::<Vec<_>>().join(" ")));
    }
    for (need, cells) in lacking.iter().filter(|(n, _)| !matches!(n, Need::Apt(..))) {
        println!("install: {}, needed by {}", describe(m, need), cells.join(" "));
        commands(m, need).iter().for_each(|c| run(c));
    }
    let still = missing(m, root, cells, host, via);
    still.iter().for_each(|(n, c)| println!("missing: {}, needed by {}", describe(m, n), c.join(" ")));
    still.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_needs_what_its_toolchain_runner_and_linker_need() {
        let m = Matrix::load(crate::root()).unwrap();
        let needs = |name: &str, via| needs(&m, m.cell(name).unwrap(), "x86_64-unknown-linux-gnu", via);
        let apt = |package: &str, probe: &str| Need::Apt(package.into(), probe.into());
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
