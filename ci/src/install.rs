//! What a fresh machine needs for a cell, derived from the cell alone, and
//! installing it, saying what is installed and for which cells.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::matrix::{Cell, Kind, Matrix, Runner, Toolchain, Work};
use crate::plan::{PY_TOOLS, Via, XTASK_TARGETS, venv};

/// wasmtime-cli on crates.io: 48.x is the last that builds with Rust 1.95.
/// Only the features the cells use (`run` with WASI preview 1 and 2,
/// components, its compilation cache): 9m49s to build here, where the
/// default features take 16 to 18 minutes.
const WASMTIME: (&str, &str) = ("wasmtime-cli", "48.0.8");
const WASMTIME_FEATURES: &str = "run,cranelift,component-model,parallel-compilation,cache";
const CARGO_FUZZ: (&str, &str) = ("cargo-fuzz", "0.13.2");

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Toolchain(String),
    Component(String, &'static str),
    Target(String, String),
    /// A Debian package, found by a command on PATH or an absolute path.
    Apt {
        package: String,
        probe: String,
    },
    /// `cargo install CRATE@VERSION --locked`, checked against crates.io.
    Crate(&'static str, &'static str),
    /// cross from git at the pinned commit (the Actions `cross` job).
    Cross,
    /// The config cell's PyPI tools, in a virtual environment.
    PyTools,
    /// The Debian image the cross cells' images start from, made here.
    DebianImage,
}

/// cross from crates.io for the cross cells: a commit of cross's main (what
/// the Actions job builds from git) cannot be fetched from crates.io.
const CROSS: (&str, &str) = ("cross", "0.2.5");
pub const DEBIAN_IMAGE: &str = "localhost/portable-echo/debian-base:bookworm";

pub fn needs(m: &Matrix, cell: &Cell, host: &str, via: Via) -> Vec<Need> {
    let apt = |package: &str, probe: &str| Need::Apt { package: package.into(), probe: probe.into() };
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
    if *kind == Kind::Cross {
        let packages =
            [("podman", "podman"), ("runc", "runc"), ("debootstrap", "debootstrap"), ("uidmap", "newuidmap")];
        v.extend(
            packages
                .iter()
                .chain(&[("slirp4netns", "slirp4netns"), ("fuse-overlayfs", "fuse-overlayfs")])
                .map(|(p, c)| apt(p, c)),
        );
        v.extend([Need::Crate(CROSS.0, CROSS.1), Need::DebianImage]);
    }
    match kind {
        Kind::Fuzz => v.extend([Need::Crate(CARGO_FUZZ.0, CARGO_FUZZ.1), apt("g++", "g++")]),
        Kind::Miri => v.extend([component("miri"), component("rust-src")]),
        Kind::Sanitizer(_) => v.push(component("rust-src")),
        _ => {}
    }
    match b.toolchain {
        Toolchain::NightlyBuildStd => v.push(component("rust-src")),
        _ if b.target != host => v.push(Need::Target(tc.clone(), b.target.clone())),
        _ => {}
    }
    let runner = match kind {
        Kind::Test(Runner::Qemu(_) | Runner::Wine) if via == Via::Cross => return [v, vec![Need::Cross]].concat(),
        Kind::Test(r) => r.clone(),
        Kind::ExpectFailure | Kind::Serve => Runner::Wasmtime,
        _ => Runner::Native,
    };
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
            v.extend([
                apt(&format!("gcc-{gnu}"), l),
                apt(&format!("libc6-dev-{arch}-cross"), &format!("/usr/{gnu}/lib/libc.so")),
            ]);
        }
        None => {}
    }
    match runner {
        Runner::Qemu(qemu) => v.push(apt("qemu-user", &qemu)),
        Runner::Wine => v.extend([apt("wine", "wine"), apt("wine64", "/usr/lib/wine/wine64")]),
        Runner::Wasmtime => v.push(Need::Crate(WASMTIME.0, WASMTIME.1)),
        Runner::Native | Runner::Host => {}
    }
    v
}

/// The standard output of a command that succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file() || d.join(format!("{program}.exe")).is_file())
}

fn have(root: &Path, need: &Need) -> bool {
    let lists = |args: &[&str], line: &str| output(args[0], &args[1..]).is_some_and(|o| o.lines().any(|l| l == line));
    match need {
        Need::Toolchain(tc) => output("rustup", &["run", tc, "rustc", "--version"]).is_some(),
        // rustup lists a component with its host suffix: `clippy-x86_64-unknown-linux-gnu`.
        Need::Component(tc, c) => output("rustup", &["component", "list", "--installed", "--toolchain", tc])
            .is_some_and(|o| o.lines().any(|l| l == *c || l.starts_with(&format!("{c}-")))),
        Need::Target(tc, t) => lists(&["rustup", "target", "list", "--installed", "--toolchain", tc], t),
        Need::Apt { probe, .. } if probe.starts_with('/') => Path::new(probe).exists(),
        Need::Apt { probe, .. } => on_path(probe),
        Need::Crate(name, version) => lists(&["cargo", "install", "--list"], &format!("{name} v{version}:")),
        Need::Cross => on_path("cross"),
        Need::PyTools => PY_TOOLS.iter().all(|(t, _)| root.join(venv()).join("bin").join(t).is_file()),
        Need::DebianImage => output("podman", &["image", "exists", DEBIAN_IMAGE]).is_some(),
    }
}

/// The commands that install `need`, as `install` runs them and says them.
fn commands(m: &Matrix, need: &Need) -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let stable = format!("+{}", m.toolchains.stable);
    vec![match need {
        Need::Toolchain(tc) => {
            words(&["rustup", "toolchain", "install", tc, "--profile", "minimal", "--no-self-update"])
        }
        Need::Component(tc, c) => words(&["rustup", "component", "add", "--toolchain", tc, c]),
        Need::Target(tc, t) => words(&["rustup", "target", "add", "--toolchain", tc, t]),
        Need::Apt { package, .. } => words(&["apt-get", "install", "-y", "-q", package]),
        Need::Crate(name, version) => {
            let mut words = words(&["cargo", &stable, "install", &format!("{name}@{version}"), "--locked"]);
            if *name == WASMTIME.0 {
                words.extend(["--no-default-features", "--features", WASMTIME_FEATURES].map(String::from));
            }
            words
        }
        Need::Cross => {
            words(&["cargo", &stable, "install", "cross", "--locked", "--git", &m.cross.git, "--rev", &m.cross.rev])
        }
        Need::PyTools => {
            let pip = [format!("{}/bin/python", venv()), "-m".into(), "pip".into(), "install".into(), "-q".into()];
            let pins = PY_TOOLS.iter().map(|(t, v)| format!("{t}=={v}"));
            return vec![words(&["python3", "-m", "venv", &venv()]), pip.into_iter().chain(pins).collect()];
        }
        // A minimal Debian 12 from the archive this machine's apt uses.
        Need::DebianImage => {
            let (rootfs, tar) = ("target/cross/debian-rootfs", "target/cross/debian-base.tar");
            return vec![
                words(&["rm", "-rf", rootfs]),
                words(&["mkdir", "-p", rootfs]),
                words(&["debootstrap", "--variant=minbase", "bookworm", rootfs, &debian_mirror()]),
                words(&["tar", "-C", rootfs, "-cf", tar, "."]),
                words(&["podman", "import", tar, DEBIAN_IMAGE]),
                words(&["rm", "-rf", rootfs, tar]),
            ];
        }
    }]
}

/// The Debian archive of this machine's apt sources (debootstrap needs one).
fn debian_mirror() -> String {
    let dir = std::fs::read_dir("/etc/apt/sources.list.d").into_iter().flatten().flatten().map(|e| e.path());
    let texts =
        std::iter::once("/etc/apt/sources.list".into()).chain(dir).filter_map(|p| std::fs::read_to_string(p).ok());
    let urls = texts.flat_map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    let mut urls = urls.filter(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"));
    urls.next().unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

pub fn describe(m: &Matrix, need: &Need) -> String {
    let text = commands(m, need).iter().map(|c| c.join(" ")).collect::<Vec<_>>().join(" && ");
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
/// output goes to `log` (the terminal when `None`). Returns what is still
/// missing, as printed `missing:` lines.
pub fn install(m: &Matrix, root: &Path, cells: &[&Cell], host: &str, via: Via, log: Option<&Path>) -> Vec<String> {
    let run = |command: &[String]| {
        // debootstrap makes root-owned files, which only root can archive and remove.
        let sudo = ["apt-get", "debootstrap", "tar", "rm"].contains(&command[0].as_str())
            && on_path("sudo")
            && output("id", &["-u"]).is_none_or(|u| u.trim() != "0");
        let command = if sudo { [&["sudo".to_string()], command].concat() } else { command.to_vec() };
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..]).env("DEBIAN_FRONTEND", "noninteractive").current_dir(root);
        if let Some(file) = log.and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok()) {
            cmd.stdout(file.try_clone().unwrap()).stderr(file);
        }
        if !cmd.status().is_ok_and(|s| s.success()) {
            println!("install: `{}` failed", command.join(" "));
        }
    };
    let lacking = missing(m, root, cells, host, via);
    // Debian packages first: one update, one apt-get install.
    let mut packages: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (need, cells) in &lacking {
        if let Need::Apt { package, .. } = need {
            packages.entry(package).or_default().extend(cells.iter().cloned());
        }
    }
    for (package, cells) in packages.iter_mut() {
        cells.dedup();
        println!("install: Debian package {package} (apt-get install), needed by {}", cells.join(" "));
    }
    if !packages.is_empty() {
        run(&["apt-get", "update", "-q"].map(String::from));
        let install = ["apt-get", "install", "-y", "-q"].into_iter().chain(packages.keys().copied());
        run(&install.map(String::from).collect::<Vec<_>>());
    }
    for (need, cells) in lacking.iter().filter(|(n, _)| !matches!(n, Need::Apt { .. })) {
        println!("install: {}, needed by {}", describe(m, need), cells.join(" "));
        commands(m, need).iter().for_each(|c| run(c));
    }
    let still = missing(m, root, cells, host, via);
    let lines: Vec<_> =
        still.iter().map(|(n, c)| format!("missing: {}, needed by {}", describe(m, n), c.join(" "))).collect();
    lines.iter().for_each(|l| println!("{l}"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_needs_what_its_toolchain_runner_and_linker_need() {
        let m = Matrix::load(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).unwrap();
        let needs = |name: &str, via| needs(&m, m.cell(name).unwrap(), "x86_64-unknown-linux-gnu", via);
        let apt = |package: &str, probe: &str| Need::Apt { package: package.into(), probe: probe.into() };
        let aarch64 = needs("linux-aarch64", Via::Local);
        assert!(aarch64.contains(&apt("qemu-user", "qemu-aarch64")), "{aarch64:?}");
        assert!(aarch64.contains(&apt("libc6-dev-arm64-cross", "/usr/aarch64-linux-gnu/lib/libc.so")), "{aarch64:?}");
        let cross = needs("linux-aarch64", Via::Cross);
        assert!(cross.contains(&Need::Cross) && !cross.iter().any(|n| matches!(n, Need::Apt { .. })), "{cross:?}");
        assert!(needs("wasip2-serve", Via::Local).contains(&Need::Crate(WASMTIME.0, WASMTIME.1)));
        let openbsd = needs("openbsd", Via::Local);
        assert!(openbsd.contains(&Need::Component(m.toolchains.nightly.clone(), "rust-src")), "{openbsd:?}");
        assert!(!openbsd.iter().any(|n| matches!(n, Need::Target(..))), "{openbsd:?}");
    }
}
