//! `cargo xtask`: a portability matrix for a mio-based crate, the same on
//! every OS. Cells are declared once, in ci/matrix.toml; `cargo xtask cell
//! NAME` is the one way to run one, on a laptop and in every Actions job.

mod adopt;
mod checks;
mod cmd;
mod fidelity;
mod generated;
mod install;
mod matrix;
mod peer;
mod plan;
mod report;
mod result;
mod run;

use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;

use matrix::Via;
use matrix::{Cell, Kind, Matrix, Work};
use plan::Planner;
use result::{CellResult, Status};

#[derive(Parser)]
#[command(about = "A portability matrix for a mio-based crate (cells: ci/matrix.toml)")]
enum Cli {
    /// Install what the selected cells miss, run each, and report.
    Matrix {
        /// Only these cells (repeatable, or a comma list).
        #[arg(long, value_delimiter = ',')]
        cell: Vec<String>,
        /// Only cells of these kinds (test, check, serve, ...).
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// Only cells of these targets.
        #[arg(long, value_delimiter = ',')]
        target: Vec<String>,
        /// Install nothing: a cell missing a tool is UNAVAILABLE.
        #[arg(long)]
        no_install: bool,
        /// Seconds after which a cell is ended and fails.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
        /// Remove each cell's build once no later cell builds there (on
        /// when CI=true), and build without incremental caches and with
        /// line-table debug info: the matrix then needs a few GiB of disk at
        /// a time instead of about 20, and a rerun builds everything again.
        #[arg(long)]
        prune: bool,
    },
    /// Run one cell; its output goes to the terminal and target/matrix-logs/.
    Cell {
        /// The cell (Actions jobs set MATRIX_CELL: no expansion in YAML).
        #[arg(env = "MATRIX_CELL")]
        name: String,
        /// How this machine provides the cell's runner.
        #[arg(long, value_enum, default_value_t = Via::Local)]
        via: Via,
        /// Print the steps the cell would run, and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Plan as if on this host (a Rust target triple; with --dry-run).
        #[arg(long, requires = "dry_run")]
        host: Option<String>,
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Install what the cells need (default: every cell), saying what.
    Install {
        #[arg(env = "MATRIX_CELL", value_delimiter = ',')]
        cells: Vec<String>,
        #[arg(long, value_enum, default_value_t = Via::Local)]
        via: Via,
    },
    /// The report of the cells' results (default: every cell that has one).
    Report {
        #[arg(env = "MATRIX_CELL", value_delimiter = ',')]
        cells: Vec<String>,
        /// Also append it to $GITHUB_STEP_SUMMARY.
        #[arg(long)]
        summary: bool,
    },
    /// Prove the runner can be adopted: a scratch crate takes it over as
    /// docs/adopt.md says and runs a native, a qemu-user, a Wine and a
    /// wasmtime cell.
    Adopt,
    /// Write the files derived from ci/matrix.toml.
    Gen {
        /// Change nothing; fail if a file is not what would be written.
        #[arg(long)]
        check: bool,
    },
}

/// What every subcommand works on: the repository, its matrix, this host.
struct Repo<'a> {
    root: &'a Path,
    m: Matrix,
    host: String,
    /// `root` with `/` separators, for the commands of the plans.
    abs: String,
    /// Cargo's target directory (CARGO_TARGET_DIR, or `target`).
    target_dir: String,
    /// The Debian archive this machine's apt uses.
    mirror: String,
}

fn main() -> ExitCode {
    let outcome = Repo::open(root()).and_then(|repo| match Cli::parse() {
        Cli::Matrix { cell, kind, target, no_install, timeout, prune } => {
            repo.matrix(&cell, &kind, &target, no_install, timeout, prune)
        }
        Cli::Cell { name, via, dry_run: true, host, .. } => repo.dry_run(&name, via, host.as_deref()),
        Cli::Cell { name, via, timeout, .. } => repo.cell(&name, via, timeout),
        Cli::Install { cells, via } => repo.install(&cells, via),
        Cli::Report { cells, summary } => repo.report(&cells, summary),
        Cli::Adopt => adopt::adopt(repo.root, &repo.m),
        Cli::Gen { check } => Ok(repo.generate(check)),
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

impl Repo<'_> {
    fn open(root: &Path) -> Result<Repo<'_>, String> {
        let m = Matrix::load(root)?;
        let target_dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let abs = root.to_string_lossy().replace('\\', "/");
        Ok(Repo { root, m, host: host()?, abs, target_dir, mirror: install::debian_mirror() })
    }

    fn planner<'a>(&'a self, host: &'a str, via: Via, throwaway: bool, oracle: &'a str) -> Planner<'a> {
        let (root, target_dir, mirror) = (self.abs.as_str(), self.target_dir.as_str(), self.mirror.as_str());
        Planner { matrix: &self.m, host, via, root, target_dir, throwaway, oracle, mirror }
    }

    /// `cargo xtask matrix`: install what the cells lack, run each, report.
    fn matrix(
        &self,
        names: &[String],
        kinds: &[String],
        targets: &[String],
        no_install: bool,
        timeout: u64,
        prune: bool,
    ) -> Result<bool, String> {
        let mut cells = select(&self.m, names)?;
        cells.retain(|c| {
            let t = if let Work::Build(b, _) = &c.work { b.target.as_str() } else { "-" };
            (kinds.is_empty() || kinds.contains(&c.kind)) && (targets.is_empty() || targets.iter().any(|x| x == t))
        });
        if cells.is_empty() {
            return Err("no cell matches the selection".into());
        }
        run::forward_signals();
        let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        println!("matrix: {} cells: {}", cells.len(), names.join(" "));
        let logs = self.root.join("target/matrix-logs");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        if !no_install {
            println!("matrix: installing what is missing (command output: target/matrix-logs/install.log)");
            install::install(&self.m, self.root, &self.wanted(&cells, Via::Local)?, Some(&logs.join("install.log")));
        }
        let prune = prune || std::env::var("CI").is_ok_and(|ci| ci == "true");
        let oracle = oracle_source(self.root, &cells)?;
        let planner = self.planner(&self.host, Via::Local, prune, &oracle);
        for (i, c) in cells.iter().enumerate() {
            let result = run::cell(&planner, self.root, c, false, timeout);
            println!("{}", report::one_line(&result));
            if result.status == Status::Fail {
                self.print_tail(&result);
            }
            if prune {
                prune_build(&planner, self.root, c, &cells[i + 1..]);
            }
        }
        println!("matrix: target/ holds {:.1} GiB now", gib(disk_use(&self.root.join("target"))));
        Ok(!report::write(self.root, &report::load(self.root, &self.m, &cells), true))
    }

    /// The last lines of a failed cell's log, on the terminal.
    fn print_tail(&self, result: &CellResult) {
        let log = std::fs::read_to_string(self.root.join(&result.log)).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(40).collect();
        println!("---- last {} lines of {}", tail.len(), result.log);
        tail.iter().rev().for_each(|l| println!("| {l}"));
        println!("----");
    }

    /// `cargo xtask cell NAME --dry-run`: the steps, for this host or another.
    fn dry_run(&self, name: &str, via: Via, host: Option<&str>) -> Result<bool, String> {
        let cell = self.m.cell(name)?;
        print!("{}", self.planner(host.unwrap_or(&self.host), via, false, "<oracle>").plan(cell)?.render());
        Ok(true)
    }

    /// `cargo xtask cell NAME`: run it, its output on the terminal.
    fn cell(&self, name: &str, via: Via, timeout: u64) -> Result<bool, String> {
        let cell = self.m.cell(name)?;
        let oracle = oracle_source(self.root, &[cell])?;
        run::forward_signals();
        let result = run::cell(&self.planner(&self.host, via, false, &oracle), self.root, cell, true, timeout);
        Ok(!report::write(self.root, &[result], true))
    }

    /// `cargo xtask install`: what the cells need, installed.
    fn install(&self, names: &[String], via: Via) -> Result<bool, String> {
        let cells = select(&self.m, names)?;
        Ok(install::install(&self.m, self.root, &self.wanted(&cells, via)?, None))
    }

    /// What `cells` need on this host, each need with the cells that need it.
    fn wanted(&self, cells: &[&Cell], via: Via) -> Result<install::Wanted, String> {
        let planner = self.planner(&self.host, via, false, "<oracle>");
        let mut wanted = install::Wanted::new();
        for cell in cells {
            for need in planner.plan(cell)?.needs {
                wanted.entry(need).or_default().push(cell.name.clone());
            }
        }
        Ok(wanted)
    }

    /// `cargo xtask report`: the saved results of the cells, as a report.
    fn report(&self, names: &[String], summary: bool) -> Result<bool, String> {
        let mut cells = select(&self.m, names)?;
        if names.is_empty() {
            cells.retain(|c| CellResult::path(self.root, &c.name).is_file());
        }
        Ok(!report::write(self.root, &report::load(self.root, &self.m, &cells), summary))
    }

    /// `cargo xtask gen [--check]`.
    fn generate(&self, check: bool) -> bool {
        let problems = generated::generate(self.root, &self.m, check);
        problems.iter().for_each(|p| eprintln!("error: {p}"));
        problems.is_empty()
    }
}

/// The registry source of the package whose example is the oracle of an
/// expect-failure cell among `cells`, from `cargo metadata` (which
/// downloads it when it is missing); a placeholder when none is.
fn oracle_source(root: &Path, cells: &[&Cell]) -> Result<String, String> {
    let oracle = cells.iter().find_map(|c| match &c.work {
        Work::Build(_, Kind::ExpectFailure(oracle)) => Some(oracle),
        _ => None,
    });
    let Some(oracle) = oracle else { return Ok("<oracle>".into()) };
    let out = Command::new("cargo")
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    let failed = || format!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr).trim());
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| failed())?;
    let packages = meta["packages"].as_array().ok_or_else(failed)?;
    let name = &oracle.package;
    let package = packages.iter().find(|p| p["name"] == *name).ok_or(format!("cargo metadata names no {name}"))?;
    let manifest = package["manifest_path"].as_str().ok_or(format!("cargo metadata gives {name} no manifest_path"))?;
    let dir = Path::new(manifest).parent().ok_or(format!("{name}'s manifest_path has no directory"))?;
    Ok(dir.to_string_lossy().replace('\\', "/"))
}

/// Removes the build of `cell` once no `later` cell builds there.
fn prune_build(planner: &Planner, root: &Path, cell: &Cell, later: &[&Cell]) {
    let Some(dir) = planner.build_dir(cell) else { return };
    if later.iter().any(|l| planner.build_dir(l).as_ref() == Some(&dir)) {
        return;
    }
    let size = gib(disk_use(&root.join(&dir)));
    match std::fs::remove_dir_all(root.join(&dir)) {
        Ok(()) => println!("matrix: removed {dir} ({size:.1} GiB), which no later cell builds in"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => println!("matrix: could not remove {dir}: {e}"),
    }
}

/// The repository: ci/'s parent.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("ci/ has a parent")
}

/// The cells named (each may be a comma list); all of them when none is.
fn select<'m>(m: &'m Matrix, names: &[String]) -> Result<Vec<&'m Cell>, String> {
    if names.is_empty() {
        return Ok(m.cells.iter().collect());
    }
    names.iter().flat_map(|n| n.split(',')).map(|n| m.cell(n)).collect()
}

/// Bytes of the files under `path` (0 when it does not exist).
fn disk_use(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    let entries = std::fs::read_dir(path).into_iter().flatten().flatten();
    entries.map(|entry| disk_use(&entry.path())).sum()
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 30)
}

/// This machine's Rust host triple.
fn host() -> Result<String, String> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| format!("running rustc -vV: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_string).ok_or("rustc -vV names no host".into())
}
