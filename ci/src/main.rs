//! `cargo xtask`: the portability matrix of portable-echo, the same on every
//! OS. Cells are declared once, in ci/matrix.toml; `cargo xtask cell NAME`
//! is the one way to run one, on a laptop and in every Actions job.

mod checks;
mod fidelity;
mod generated;
mod install;
mod matrix;
mod peer;
mod plan;
mod report;
mod run;

use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Parser;

use matrix::{Cell, Matrix, Work};
use plan::{Planner, Via};
use run::{CellResult, Status};

#[derive(Parser)]
#[command(about = "The portability matrix of portable-echo (cells: ci/matrix.toml)")]
enum Cmd {
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
    /// Write the files derived from ci/matrix.toml.
    Gen {
        /// Change nothing; fail if a file is not what would be written.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    match main_with(root(), Cmd::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn main_with(root: &Path, command: Cmd) -> Result<bool, String> {
    let m = Matrix::load(root)?;
    let host = host()?;
    let target_dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let abs = root.to_string_lossy().replace('\\', "/");
    // mio's registry source, which only the expect-failure cell builds from.
    let mio = match &command {
        Cmd::Cell { name, dry_run: false, .. } if is_expect_failure(&m, std::slice::from_ref(name)) => {
            mio_source(root)?
        }
        Cmd::Matrix { cell, kind, .. }
            if (cell.is_empty() || is_expect_failure(&m, cell))
                && (kind.is_empty() || kind.iter().any(|k| k == "expect-failure")) =>
        {
            mio_source(root)?
        }
        _ => "<mio>".into(),
    };
    let planner = |host, via, throwaway| Planner {
        matrix: &m,
        host,
        via,
        root: &abs,
        target_dir: &target_dir,
        throwaway,
        mio: &mio,
    };
    match command {
        Cmd::Gen { check } => {
            let problems = generated::generate(root, &m, check);
            problems.iter().for_each(|p| eprintln!("error: {p}"));
            Ok(problems.is_empty())
        }
        Cmd::Install { cells, via } => Ok(install::install(&m, root, &select(&m, &cells)?, &host, via, None)),
        Cmd::Report { cells, summary } => {
            let mut cells = select(&m, &cells)?;
            if cells.len() == m.cells.len() {
                cells.retain(|c| CellResult::path(root, &c.name).is_file());
            }
            Ok(!report::write(root, &report::load(root, &m, &cells), summary))
        }
        Cmd::Cell { name, via, dry_run, host: as_host, timeout } => {
            let cell = m.cell(&name)?;
            if dry_run {
                print!("{}", planner(as_host.as_deref().unwrap_or(&host), via, false).plan(cell)?.render());
                return Ok(true);
            }
            run::forward_signals();
            let result = run::cell(&planner(&host, via, false), root, cell, true, timeout);
            Ok(!report::write(root, &[result], true))
        }
        Cmd::Matrix { cell, kind, target, no_install, timeout, prune } => {
            let mut cells = select(&m, &cell)?;
            cells.retain(|c| {
                let t = if let Work::Build(b, _) = &c.work { b.target.as_str() } else { "-" };
                (kind.is_empty() || kind.contains(&c.kind)) && (target.is_empty() || target.iter().any(|x| x == t))
            });
            if cells.is_empty() {
                return Err("no cell matches the selection".into());
            }
            run::forward_signals();
            let names: Vec<String> = cells.iter().map(|c| c.name.clone()).collect();
            println!("matrix: {} cells: {}", cells.len(), names.join(" "));
            let logs = root.join("target/matrix-logs");
            std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
            if !no_install {
                println!("matrix: installing what is missing (command output: target/matrix-logs/install.log)");
                install::install(&m, root, &cells, &host, Via::Local, Some(&logs.join("install.log")));
            }
            let prune = prune || std::env::var("CI").is_ok_and(|ci| ci == "true");
            for (i, c) in cells.iter().enumerate() {
                let planner = planner(&host, Via::Local, prune);
                let result = run::cell(&planner, root, c, false, timeout);
                println!("{}", report::one_line(&result));
                if result.status == Status::Fail {
                    let log = std::fs::read_to_string(root.join(&result.log)).unwrap_or_default();
                    let tail: Vec<_> = log.lines().rev().take(40).collect();
                    println!("---- last {} lines of {}", tail.len(), result.log);
                    tail.iter().rev().for_each(|l| println!("| {l}"));
                    println!("----");
                }
                let later = |dir: &String| cells[i + 1..].iter().any(|l| planner.build_dir(l).as_ref() == Some(dir));
                if let Some(dir) = planner.build_dir(c).filter(|dir| prune && !later(dir)) {
                    let size = gib(disk_use(&root.join(&dir)));
                    match std::fs::remove_dir_all(root.join(&dir)) {
                        Ok(()) => println!("matrix: removed {dir} ({size:.1} GiB), which no later cell builds in"),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => println!("matrix: could not remove {dir}: {e}"),
                    }
                }
            }
            println!("matrix: target/ holds {:.1} GiB now", gib(disk_use(&root.join("target"))));
            Ok(!report::write(root, &report::load(root, &m, &cells), true))
        }
    }
}

/// Whether any of the named cells (comma lists allowed) is expect-failure.
fn is_expect_failure(m: &Matrix, names: &[String]) -> bool {
    let names = names.iter().flat_map(|n| n.split(','));
    names.filter_map(|n| m.cell(n).ok()).any(|c| c.kind == "expect-failure")
}

/// The directory of the registry source of the mio that Cargo.lock pins,
/// from `cargo metadata` (which downloads it when it is missing).
fn mio_source(root: &Path) -> Result<String, String> {
    let out = Command::new("cargo")
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    let failed = || format!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr).trim());
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| failed())?;
    let packages = meta["packages"].as_array().ok_or_else(failed)?;
    let mio = packages.iter().find(|p| p["name"] == "mio").ok_or("cargo metadata names no mio package")?;
    let manifest = mio["manifest_path"].as_str().ok_or("cargo metadata gives mio no manifest_path")?;
    let dir = Path::new(manifest).parent().ok_or("mio's manifest_path has no directory")?;
    Ok(dir.to_string_lossy().replace('\\', "/"))
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
