//! The proof that another crate can take this runner over: a scratch crate
//! of its own (its own name, a small mio TCP test) is made at test time,
//! adopts the runner exactly as docs/adopt.md says, and runs a native, a
//! qemu-user, a Wine and a wasmtime cell with `cargo xtask matrix`. What
//! the adopter had to write is counted and reported.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::matrix::Matrix;
use crate::result::{CellResult, Status};

/// Where the scratch crate is made, fresh each time: outside this
/// repository, so that it is a crate of its own and not taken for a member
/// of this workspace.
fn dir() -> std::path::PathBuf {
    std::env::temp_dir().join("xtask-adopt").join("scratch-echo")
}

/// The scratch crate's own files: what exists before it adopts anything.
const CRATE: [(&str, &str); 3] = [
    (
        "Cargo.toml",
        "[package]\nname = \"scratch-echo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nmio = { version = \"1\", features = [\"os-poll\", \"net\"] }\n",
    ),
    ("src/lib.rs", "//! A scratch crate that adopts a portability matrix.\n"),
    ("tests/tcp.rs", include_str!("adopt/tcp.rs")),
];

/// Step 1 of docs/adopt.md: the runner's files, copied unchanged (ci/wine
/// for the Wine cell).
const COPIED: [&str; 5] = ["ci/Cargo.toml", "ci/Cargo.lock", "ci/rustfmt.toml", "ci/src", "ci/wine"];

/// Step 2: the alias, in .cargo/config.toml.
const ALIAS: &str = "[alias]\nxtask = \"run --locked --quiet --manifest-path ci/Cargo.toml --\"\n";

/// Step 3: the adopter's ci/matrix.toml, on this matrix's toolchains: a
/// cell per runner (native, qemu-user, Wine, wasmtime), with the backend
/// and waker mio's dep-info must show for each.
pub fn matrix_toml(m: &Matrix) -> String {
    let (stable, nightly) = (&m.toolchains.stable, &m.toolchains.nightly);
    format!(
        r#"[project]
package = "scratch-echo"        # Cargo.toml's [package] name
env_prefix = "SCRATCH_ECHO"     # the runner's variables: SCRATCH_ECHO_EXPECT_BACKEND, ...

[toolchains]
stable = "{stable}"
nightly = "{nightly}"

# The backends your cells select: the name your crate may report for it,
# and mio's selector file, which the runner finds in mio's dep-info.
[sys]
epoll = {{ backend = "epoll", mio = "unix/selector/epoll.rs" }}
iocp = {{ backend = "iocp", mio = "windows/selector.rs" }}
poll = {{ backend = "poll", mio = "unix/selector/poll.rs" }}

[waker]
eventfd = {{ mio = "unix/waker/eventfd.rs", about = "eventfd" }}
windows = {{ mio = "windows/waker.rs", about = "an IOCP completion" }}
none = {{ about = "none: mio has no waker on WASI" }}

[[cell]]
name = "linux"
target = "x86_64-unknown-linux-gnu"
kind = "test"
runner = "native"
sys = "epoll"
waker = "eventfd"

[[cell]]
name = "linux-aarch64"
target = "aarch64-unknown-linux-gnu"
kind = "test"
runner = "qemu-aarch64"
linker = "aarch64-linux-gnu-gcc"
sys = "epoll"
waker = "eventfd"
actions = "none"                # or "cross", with a [cross] pin

[[cell]]
name = "windows"
target = "x86_64-pc-windows-gnu"
kind = "test"
runner = "wine"
linker = "x86_64-w64-mingw32-gcc"
sys = "iocp"
waker = "windows"
actions = "none"

[[cell]]
name = "wasip2"
target = "wasm32-wasip2"
kind = "test"
runner = "wasmtime"
sys = "poll"
waker = "none"
"#
    )
}

/// The scratch crate's matrix, typed as its runner will read it.
pub fn scratch(m: &Matrix) -> Result<Matrix, String> {
    Matrix::parse(&matrix_toml(m), String::new()).map_err(|e| format!("the scratch crate's ci/matrix.toml: {e}"))
}

/// Lines that say something: not blank, not a comment.
fn written(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count()
}

fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::create_dir_all(to.parent().expect("a file has a directory"))?;
        fs::copy(from, to).map(drop)
    }
}

/// Runs a command in the scratch crate; fails with its name and status.
fn run(dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    println!("adopt: in {}: {program} {}", dir.display(), args.join(" "));
    let status = Command::new(program).args(args).current_dir(dir).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`{program} {}` failed: {s}", args.join(" "))),
        Err(e) => Err(format!("running {program}: {e}")),
    }
}

/// `cargo xtask adopt`: makes the scratch crate, adopts the runner as
/// docs/adopt.md says, runs its matrix, and says what the adopter wrote
/// and what each cell did. Passes when every cell passed with tests.
pub fn adopt(root: &Path, m: &Matrix) -> Result<bool, String> {
    let dir = dir();
    let _ = fs::remove_dir_all(&dir);
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for (file, text) in CRATE {
        copy_text(&dir.join(file), text).map_err(|e| io(file, e))?;
    }
    // The crate's lock: the versions this repository locks (mio's above
    // all), less what the scratch crate does not use.
    fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| io("Cargo.lock", e))?;
    let stable = format!("+{}", m.toolchains.stable);
    run(&dir, "cargo", &[&stable, "metadata", "--format-version", "1", "--quiet"])?;
    for path in COPIED {
        copy(&root.join(path), &dir.join(path)).map_err(|e| io(path, e))?;
    }
    let matrix = matrix_toml(m);
    copy_text(&dir.join(".cargo/config.toml"), ALIAS).map_err(|e| io(".cargo/config.toml", e))?;
    copy_text(&dir.join("ci/matrix.toml"), &matrix).map_err(|e| io("ci/matrix.toml", e))?;
    println!("adopt: the scratch crate's ci/matrix.toml:\n{matrix}");
    // Its own run: everything it needs is installed by this cell's plan.
    let matrix_run = run(&dir, "cargo", &[&stable, "xtask", "matrix", "--no-install"]);
    let scratch = scratch(m)?;
    let results: Vec<_> = scratch.cells.iter().map(|c| CellResult::load(&dir, &c.name)).collect();
    let cells: Vec<String> = scratch
        .cells
        .iter()
        .zip(&results)
        .map(|(c, r)| match r {
            Some(r) => {
                let t = r.tests();
                format!("{} {} ({} passed, {} failed)", c.name, r.status, t.passed, t.failed)
            }
            None => format!("{} did not run", c.name),
        })
        .collect();
    let (lines, alias) = (written(&matrix), written(ALIAS));
    println!(
        "report-note: the adopter wrote {} lines: ci/matrix.toml {lines}, .cargo/config.toml {alias}; \
         copied unchanged: {}",
        lines + alias,
        COPIED.join(", ")
    );
    println!("report-note: scratch-echo's cells: {}", cells.join("; "));
    let passed = results.iter().all(|r| r.as_ref().is_some_and(|r| r.status == Status::Pass && r.tests().passed > 0));
    Ok(matrix_run.is_ok() && passed)
}

fn copy_text(path: &Path, text: &str) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().expect("a file has a directory"))?;
    fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_matrix_has_a_cell_per_runner_and_counts_what_the_adopter_wrote() {
        let m = Matrix::load(crate::root()).unwrap();
        let scratch = scratch(&m).unwrap();
        let kinds: Vec<String> = scratch.cells.iter().map(|c| format!("{:?}", c.work)).collect();
        for runner in ["Native", "Qemu(\"qemu-aarch64\")", "Wine", "Wasmtime"] {
            assert!(kinds.iter().any(|k| k.contains(&format!("Test({runner})"))), "{kinds:?}");
        }
        assert_eq!(written("# a comment\n\nkey = 1\n  # indented comment\n"), 1);
    }

    /// The scratch crate follows docs/adopt.md to the letter: the page
    /// shows its whole ci/matrix.toml, its alias and what it copies.
    #[test]
    fn docs_adopt_md_says_what_the_scratch_crate_does() {
        let m = Matrix::load(crate::root()).unwrap();
        let page = fs::read_to_string(crate::root().join("docs/adopt.md")).unwrap();
        assert!(
            page.contains(&format!("```toml\n{}```", matrix_toml(&m))),
            "docs/adopt.md shows another ci/matrix.toml"
        );
        let alias = format!("   ```toml\n   {}```", ALIAS.replace('\n', "\n   "));
        assert!(page.contains(&alias), "docs/adopt.md shows another alias");
        for path in COPIED {
            assert!(page.contains(&format!("`{path}`")) || page.contains(&format!("`{path}/`")), "{path}");
        }
    }
}
