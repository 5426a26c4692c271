//! Files derived from the matrix, written by `cargo xtask gen` and checked
//! by `gen --check` (the config cell) instead of cross-checked by hand:
//! whole files of tables and plans, the probes' Rust list, and the regions
//! of the workflow and cross's configuration, whose formats force them
//! inside hand-written files.

use std::fs;
use std::path::Path;

use crate::checks;
use crate::fidelity::Fidelity;
use crate::matrix::Via;
use crate::matrix::{Actions, Build, Cell, Kind, Matrix, REFERENCE_HOST, Runner, Work, runs_tests_here};
use crate::plan::Planner;

/// What `gen` writes: a whole file, or regions of a hand-written one.
enum Generated {
    Whole(String),
    Regions(Vec<(&'static str, String)>),
}

/// Each generated file (path from the repository's root) and its content.
fn files(m: &Matrix, fidelity: Option<&Fidelity>) -> Vec<(String, Generated)> {
    let p = &m.project;
    let mut files = Vec::new();
    if let Some(workflow) = &p.workflow {
        let include = |job: &str| {
            let cells = m.cells.iter().filter(|c| c.actions.job().0 == job);
            cells.map(|c| format!("- {}\n", job_entry(m, c, c.actions.job().1))).collect()
        };
        let mut jobs: Vec<_> = ["cells", "cross", "vm"].into_iter().map(|job| (job, include(job))).collect();
        jobs.push(("latest", latest(m)));
        files.push((workflow.clone(), Generated::Regions(jobs)));
    }
    if let Some(cross) = &p.cross_config {
        files.push((cross.clone(), Generated::Regions(vec![("targets", cross_targets(m))])));
    }
    if let Some(docs) = &p.docs {
        let page = |name: &str, title: &str, source: &str, body: String| {
            let head = format!("<!-- Written by `cargo xtask gen` from {source}; do not edit. -->\n\n# {title}\n\n");
            (format!("{docs}/{name}.md"), Generated::Whole(head + &body))
        };
        files.push(page("cells", "Matrix cells", "ci/matrix.toml", cells_table(m)));
        files.push(page("coverage", "Backends and wakers by cell", "ci/matrix.toml", coverage_table(m)));
        let intro = "Every step of every cell, exactly as `cargo xtask cell` runs it: here (`--via local`) and in its \
                     Actions job (`--via native` on the job's machine, `--via cross` in the cross job). `cargo xtask \
                     cell NAME --dry-run [--via V] [--host TRIPLE]` prints the same. `<repo>` stands for the \
                     checkout's absolute path, `<oracle>` for the registry source of an expect-failure cell's \
                     oracle.\n\n";
        files.push(page("plans", "Every cell's steps", "ci/matrix.toml", intro.to_string() + &plans(m)));
        if let (Some(f), Some(setup)) = (fidelity, &p.fidelity) {
            files.push(page("fidelity", "What each runtime proves", &setup.record, f.table()));
        }
    }
    if let (Some(f), Some(setup)) = (fidelity, &p.fidelity) {
        files.push((setup.rust.clone(), Generated::Whole(f.rust(&setup.record, &p.var("FIDELITY_PEER")))));
    }
    files
}

/// A cell's entry in its job's matrix: `{ cell: NAME, target: T, os: LABEL }`,
/// and the VM it boots.
fn job_entry(m: &Matrix, c: &Cell, os: &str) -> String {
    let target = if let Work::Build(b, _) = &c.work { b.target.clone() } else { "\"-\"".into() };
    let vm = match &c.actions {
        Actions::Vm(vm) => format!(", vm: {vm}, release: \"{}\"", m.vm[vm].release),
        _ => String::new(),
    };
    format!("{{ cell: {}, target: {target}, os: {os}{vm} }}", c.name)
}

/// The cells of the scheduled `latest` job: the test cells of each image
/// that has a `-latest` label, on that label.
fn latest(m: &Matrix) -> String {
    let mut entries = String::new();
    for (c, _, kind) in m.builds() {
        let (job, label) = c.actions.job();
        let tested = matches!(kind, Kind::Test(_) | Kind::Serve | Kind::ExpectFailure(_));
        if let (Some(latest), "cells", true) = (m.runners.get(label).and_then(|r| r.latest.as_ref()), job, tested) {
            entries += &format!("- {}\n", job_entry(m, c, latest));
        }
    }
    entries
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

fn cells_table(m: &Matrix) -> String {
    let mut md = String::from(
        "| cell | target | backend (src/sys) | waker | here (`cargo xtask matrix`, Linux x86_64) | GitHub Actions |\n",
    );
    md += "| --- | --- | --- | --- | --- | --- |\n";
    for c in &m.cells {
        let mut row = vec![c.name.clone()];
        let (here, there) = match &c.work {
            Work::Build(b, kind) => {
                let cfg: String = b.cfg.iter().map(|c| format!(" + `--cfg {c}`")).collect();
                row.extend([format!("`{}`{cfg}", b.target), format!("{} ({}.rs)", m.sys[&b.sys].backend, b.sys)]);
                row.push(m.waker[&b.waker].about.clone());
                how(m, c, b, kind)
            }
            Work::Config | Work::Adopt | Work::Distro(_) | Work::Act(_) => {
                row.extend([String::new(), String::new(), String::new()]);
                ("natively".into(), format!("on {}", c.actions.job().1))
            }
        };
        let note = c.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
        let summary = |p: Planner| p.plan(c).map_or_else(|e| e, |p| p.summary());
        let [local, actions] = machines(m, c);
        row.push(format!("{here}: {}{note}", summary(local)));
        row.push(match c.actions {
            Actions::None => "not run on Actions".into(),
            _ => format!("{there} (`{}` job): {}", c.actions.job().0, summary(actions)),
        });
        md += &format!("| {} |\n", row.join(" | "));
    }
    md
}

/// How a cell's code runs here and on Actions: natively, in a VM, under an
/// emulator or a WebAssembly runtime, or type-checked only.
fn how(m: &Matrix, c: &Cell, b: &Build, kind: &Kind) -> (String, String) {
    let here = match kind {
        Kind::Test(Runner::Native) if b.target != REFERENCE_HOST => "type-checked only".into(),
        Kind::Test(Runner::Native | Runner::Host) | Kind::Fuzz(_) | Kind::Miri | Kind::Sanitizer(_) => {
            "natively".into()
        }
        Kind::Test(Runner::Qemu(qemu)) => format!("under {qemu} (emulator)"),
        Kind::Test(Runner::Wine) => "under Wine".into(),
        Kind::Test(Runner::Wasmtime) | Kind::Serve | Kind::ExpectFailure(_) => "under wasmtime".into(),
        Kind::Check => "type-checked only".into(),
        Kind::Cross => "`cross test` in podman, under qemu-user".into(),
    };
    let there = match (&c.actions, kind) {
        (Actions::Hosted(label), Kind::Test(Runner::Native)) => format!("natively on {label}"),
        (Actions::Hosted(label), _) => format!("on {label}, {here}"),
        (Actions::Cross, Kind::Test(Runner::Wine)) => format!("on {}, in cross's image under Wine", c.actions.job().1),
        (Actions::Cross, _) if b.cross_runner.as_deref() == Some("native") => {
            format!("on {}, in cross's image, natively", c.actions.job().1)
        }
        (Actions::Cross, _) => format!("on {}, in cross's image under qemu-user", c.actions.job().1),
        (Actions::Vm(vm), _) => format!("natively in a VM ({})", m.vm[vm].about()),
        (Actions::None, _) => String::new(),
    };
    (here, there)
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

/// Writes the generated files (with `check`, only compares them), then
/// checks what gen cannot write: the workflow's pins, cross's keys, links.
pub fn generate(root: &Path, m: &Matrix, check: bool) -> Vec<String> {
    let (mut problems, mut stale) = (Vec::new(), Vec::new());
    let fidelity = m
        .project
        .fidelity
        .as_ref()
        .and_then(|setup| Fidelity::load(root, &setup.record).map_err(|e| problems.push(e)).ok());
    for (file, generated) in files(m, fidelity.as_ref()) {
        let old = fs::read_to_string(root.join(&file)).unwrap_or_default();
        let new = match generated {
            Generated::Whole(text) => text,
            Generated::Regions(regions) => {
                let mut new = old.clone();
                for (name, body) in regions {
                    match replace_region(&new, name, &body) {
                        Ok(text) => new = text,
                        Err(e) => problems.push(format!("{file}: {e}")),
                    }
                }
                new
            }
        };
        if new == old {
            continue;
        }
        if check {
            stale.push(format!("{file} is not what ci/matrix.toml generates: run `cargo xtask gen`"));
        } else if let Err(e) = fs::create_dir_all(root.join(&file).parent().expect("a file has a directory"))
            .and_then(|()| fs::write(root.join(&file), new))
        {
            stale.push(format!("writing {file}: {e}"));
        } else {
            println!("gen: wrote {file}");
        }
    }
    problems.extend(stale);
    if let Some(workflow) = &m.project.workflow {
        problems.extend(checks::workflow(root, workflow, m));
    }
    if let Some(cross) = &m.project.cross_config {
        problems.extend(checks::cross_config(root, cross));
    }
    problems.extend(checks::links(root));
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
