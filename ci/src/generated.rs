//! Files derived from the matrix, written by `cargo xtask gen` and checked
//! by `gen --check` (the config cell) instead of cross-checked by hand:
//! the Actions matrices, cross.toml's targets, README's tables.

use std::fs;
use std::path::Path;

use crate::checks;
use crate::fidelity::Fidelity;
use crate::matrix::{Actions, Build, Cell, Kind, Matrix, REFERENCE_HOST, Runner, Work, runs_tests_here};
use crate::plan::{Planner, Via};

/// Each generated file, with its regions: (name, generated text).
type Regions = Vec<(&'static str, Vec<(&'static str, String)>)>;

fn regions(m: &Matrix, fidelity: String) -> Regions {
    let include = |job: &str| {
        let cells = m.cells.iter().filter(|c| c.actions.job().0 == job);
        let target = |c: &Cell| if let Work::Build(b, _) = &c.work { b.target.clone() } else { "\"-\"".into() };
        cells.map(|c| format!("- {{ cell: {}, target: {}, os: {} }}\n", c.name, target(c), c.actions.job().1)).collect()
    };
    let jobs = ["cells", "cross", "freebsd"].map(|job| (job, include(job)));
    vec![
        (".github/workflows/ci.yml", jobs.into()),
        ("cross.toml", vec![("targets", cross_targets(m))]),
        ("README.md", vec![("matrix", matrix_table(m)), ("coverage", coverage_table(m)), ("fidelity", fidelity)]),
        ("ci/plans.md", vec![("plans", plans(m))]),
    ]
}

/// Where a cell runs: here (the reference host, `--via local`), and on
/// Actions (its runner's host, `--via native` or `--via cross`).
fn machines<'m>(m: &'m Matrix, c: &'m Cell) -> [Planner<'m>; 2] {
    let actions = match (&c.work, &c.actions) {
        (Work::Build(b, Kind::Test(Runner::Native)), _) => Planner::new(m, &b.target, Via::Native),
        (_, Actions::Cross) => Planner::new(m, REFERENCE_HOST, Via::Cross),
        _ => Planner::new(m, REFERENCE_HOST, Via::Native),
    };
    [Planner::new(m, REFERENCE_HOST, Via::Local), actions]
}

/// Every cell's steps, exactly, here and on its Actions machine.
fn plans(m: &Matrix) -> String {
    let mut md = String::new();
    for c in &m.cells {
        let (job, label) = c.actions.job();
        let render = |p: &Planner| p.plan(c).map_or_else(|e| format!("error: {e}\n"), |p| p.render());
        let [local, on] = machines(m, c);
        let (here, actions) = (render(&local), render(&on));
        let on_actions = format!("the Actions job `{job}` on {label} ({}, `--via {}`)", on.host, on.via);
        let block = |heading: &str, steps: &str| format!("{heading}:\n~~~text\n{steps}~~~\n\n");
        let here_heading = format!("Here ({}, `--via {}`)", local.host, local.via);
        md += &format!("### {}\n\n", c.name);
        md += &match (&c.actions, here == actions) {
            (Actions::None, _) => block(&here_heading, &here),
            (_, true) => block(&format!("{here_heading} and in {on_actions}"), &here),
            (_, false) => block(&here_heading, &here) + &block(&format!("In {on_actions}"), &actions),
        };
    }
    md
}

/// One `[target.T]` per cross cell: cross's `:main` image of the target
/// (cross.toml says why) and cross's runner for it.
fn cross_targets(m: &Matrix) -> String {
    let mut toml = String::new();
    for (_, b, kind) in m.builds().filter(|(c, ..)| c.actions == Actions::Cross) {
        let target = &b.target;
        toml += &format!("[target.{target}]\nimage = \"ghcr.io/cross-rs/{target}:main\"\n");
        toml += &match (kind, &b.cross_runner) {
            (_, Some(runner)) => format!("runner = \"{runner}\"\n\n"),
            (Kind::Test(Runner::Qemu(_)), None) => "runner = \"qemu-user\"\n\n".into(),
            // The image runs Windows binaries under its own Wine.
            _ => format!("\n[target.{target}.env]\npassthrough = [\"WINEDEBUG\"]\n\n"),
        };
    }
    toml
}

fn matrix_table(m: &Matrix) -> String {
    let mut md = String::from(
        "| cell | target | backend (src/sys) | waker | here (`cargo xtask matrix`, Linux x86_64) | GitHub Actions |\n",
    );
    md += "| --- | --- | --- | --- | --- | --- |\n";
    for c in &m.cells {
        let (job, label) = c.actions.job();
        let machine = if c.actions == Actions::FreebsdVm { "a FreeBSD VM" } else { label };
        let (mut row, mut here) = (vec![c.name.clone()], String::new());
        if let Work::Build(b, kind) = &c.work {
            let cfg: String = b.cfg.iter().map(|c| format!(" + `--cfg {c}`")).collect();
            row.extend([format!("`{}`{cfg}", b.target), format!("{} ({}.rs)", m.sys[&b.sys].backend, b.sys)]);
            row.push(m.waker[&b.waker].about.clone());
            here = match kind {
                Kind::Test(Runner::Qemu(qemu)) => format!(" under {qemu}"),
                Kind::Test(Runner::Wine) => " under Wine".into(),
                Kind::Test(Runner::Wasmtime) | Kind::Serve | Kind::ExpectFailure => " under wasmtime".into(),
                Kind::Cross => " with podman".into(),
                _ => String::new(),
            };
        } else {
            row.extend([String::new(), String::new(), String::new()]);
        }
        let note = c.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
        let summary = |p: Planner| p.plan(c).map_or_else(|e| e, |p| p.summary());
        let [local, actions] = machines(m, c);
        row.push(format!("{}{here}{note}", summary(local)));
        row.push(match c.actions {
            Actions::None => "not run on Actions".into(),
            _ => format!("`{job}` on {machine}: {}", summary(actions)),
        });
        md += &format!("| {} |\n", row.join(" | "));
    }
    md
}

fn coverage_table(m: &Matrix) -> String {
    let row = |name: String, backend: &str, pick: &dyn Fn(&Build) -> bool| {
        let (mut compiled, mut here, mut actions) = (vec![], vec![], vec![]);
        for (c, b, kind) in m.builds().filter(|(_, b, _)| pick(b)) {
            compiled.push(c.name.as_str());
            if runs_tests_here(b, kind) {
                here.push(c.name.as_str());
            } else if matches!(kind, Kind::Test(_)) {
                actions.push(c.name.as_str());
            }
        }
        let list = |v: Vec<&str>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        format!("| {name} | {backend} | {} | {} | {} |\n", list(compiled), list(here), list(actions))
    };
    let mut md = String::from(
        "| src/sys module or mio waker | backend | compiled in | tests run here | tests run only on Actions |\n",
    );
    md += "| --- | --- | --- | --- | --- |\n";
    md.extend(m.sys.iter().map(|(name, sys)| row(format!("`{name}.rs`"), &sys.backend, &|b| &b.sys == name)));
    md.extend(m.waker.iter().map(|(name, w)| row(format!("waker: {}", w.about), "", &|b| &b.waker == name)));
    md
}

/// Replaces the lines between `BEGIN generated by `cargo xtask gen`: NAME`
/// and `END generated: NAME` with `body`, less its trailing blank lines,
/// indented as the BEGIN line.
fn replace_region(text: &str, name: &str, body: &str) -> Result<String, String> {
    let (begin, end) = (format!("BEGIN generated by `cargo xtask gen`: {name}"), format!("END generated: {name}"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines.iter().position(|l| l.contains(&begin)).ok_or(format!("no `{begin}` line"))?;
    let stop = start + lines[start..].iter().position(|l| l.contains(&end)).ok_or(format!("no `{end}` line"))?;
    let indent = lines[start][..lines[start].len() - lines[start].trim_start().len()].to_string();
    let body = body.trim_end().lines().map(|l| if l.is_empty() { String::new() } else { format!("{indent}{l}") });
    lines.splice(start + 1..stop, body);
    Ok(lines.join("\n") + "\n")
}

/// Writes the generated regions (with `check`, only compares them), then
/// checks what gen cannot write: the workflow's pins, cross.toml's keys.
pub fn generate(root: &Path, m: &Matrix, check: bool) -> Vec<String> {
    let (mut problems, mut stale) = (Vec::new(), Vec::new());
    let fidelity = Fidelity::load(root).map(|f| f.readme_table()).unwrap_or_else(|e| {
        problems.push(e);
        String::new()
    });
    for (file, regions) in regions(m, fidelity) {
        let old = fs::read_to_string(root.join(file)).unwrap_or_default();
        let mut new = old.clone();
        for (name, body) in regions {
            match replace_region(&new, name, &body) {
                Ok(text) => new = text,
                Err(e) => problems.push(format!("{file}: {e}")),
            }
        }
        if new == old {
            continue;
        }
        if check {
            stale.push(format!("{file} is not what ci/matrix.toml generates: run `cargo xtask gen`"));
        } else if let Err(e) = fs::write(root.join(file), new) {
            stale.push(format!("writing {file}: {e}"));
        } else {
            println!("gen: wrote {file}");
        }
    }
    problems.extend(stale);
    problems.extend(checks::workflow(root));
    problems.extend(checks::cross_config(root));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_replaced_with_its_indentation() {
        let text = "a\n  # BEGIN generated by `cargo xtask gen`: x\n  - old\n  # END generated: x\nb\n";
        let new = replace_region(text, "x", "- a\n\n- b\n\n").unwrap();
        assert_eq!(new, "a\n  # BEGIN generated by `cargo xtask gen`: x\n  - a\n\n  - b\n  # END generated: x\nb\n");
        assert!(replace_region("a\n", "x", "").unwrap_err().contains("no `BEGIN"));
    }

    #[test]
    fn the_committed_files_are_generated_and_pass_their_checks() {
        let root = crate::root();
        assert_eq!(generate(root, &Matrix::load(root).unwrap(), true), Vec::<String>::new());
    }
}
