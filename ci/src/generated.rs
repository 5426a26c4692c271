//! Files derived from the matrix, written by `cargo xtask gen` and checked
//! by `gen --check` (the config cell) instead of cross-checked by hand:
//! the Actions matrices, cross.toml's targets, README's tables.

use std::fs;
use std::path::Path;

use crate::checks;
use crate::matrix::{Actions, Build, Cell, Kind, Matrix, REFERENCE_HOST, Runner, Work, runs_tests_here};
use crate::plan::{Planner, Via};

/// Each generated file, with its regions: (name, generated lines).
type Regions = Vec<(&'static str, Vec<(&'static str, Vec<String>)>)>;

fn regions(m: &Matrix) -> Regions {
    let include = |job: &str| {
        let cells = m.cells.iter().filter(|c| c.actions.job().0 == job);
        let target = |c: &Cell| if let Work::Build(b, _) = &c.work { b.target.clone() } else { "\"-\"".into() };
        cells.map(|c| format!("- {{ cell: {}, target: {}, os: {} }}", c.name, target(c), c.actions.job().1)).collect()
    };
    let jobs = ["cells", "cross", "freebsd"].map(|job| (job, include(job)));
    vec![
        (".github/workflows/ci.yml", jobs.into()),
        ("cross.toml", vec![("targets", cross_targets(m))]),
        ("README.md", vec![("matrix", matrix_table(m)), ("coverage", coverage_table(m))]),
        ("ci/plans.md", vec![("plans", plans(m))]),
    ]
}

/// Where a cell runs: here (the reference host, `--via local`), and on
/// Actions (its runner's host, `--via native` or `--via cross`).
fn machines(c: &Cell) -> [(&str, Via); 2] {
    match (&c.work, &c.actions) {
        (Work::Build(b, Kind::Test(Runner::Native)), _) => [(REFERENCE_HOST, Via::Local), (&b.target, Via::Native)],
        (_, Actions::Cross) => [(REFERENCE_HOST, Via::Local), (REFERENCE_HOST, Via::Cross)],
        _ => [(REFERENCE_HOST, Via::Local), (REFERENCE_HOST, Via::Native)],
    }
}

fn plan(m: &Matrix, c: &Cell, (host, via): (&str, Via)) -> Result<crate::plan::Plan, String> {
    Planner { matrix: m, host, via, root: "<repo>", target_dir: "target" }.plan(c)
}

/// Every cell's steps, exactly, here and on its Actions machine.
fn plans(m: &Matrix) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &m.cells {
        lines.extend([format!("### {}", c.name), String::new()]);
        let (job, label) = c.actions.job();
        let render = |machine| plan(m, c, machine).map_or_else(|e| format!("error: {e}\n"), |p| p.render());
        let [(host, via), (actions_host, actions_via)] = machines(c);
        let (here, actions) = (render((host, via)), render((actions_host, actions_via)));
        let on_actions = format!("in the Actions job `{job}` on {label} ({actions_host}, `--via {actions_via}`)");
        let mut blocks = vec![(format!("Here ({host}, `--via {via}`)"), here.clone())];
        match (&c.actions, here == actions) {
            (Actions::None, _) => {}
            (_, true) => blocks[0].0 += &format!(" and {on_actions}"),
            (_, false) => blocks.push((format!("{}{}", on_actions[..1].to_uppercase(), &on_actions[1..]), actions)),
        }
        for (heading, steps) in blocks {
            lines.extend([format!("{heading}:"), "~~~text".into()]);
            lines.extend(steps.lines().map(str::to_string).chain(["~~~".into(), String::new()]));
        }
    }
    lines.pop();
    lines
}

/// One `[target.T]` per cross cell: cross's `:main` image of the target
/// (cross.toml says why) and cross's runner for it.
fn cross_targets(m: &Matrix) -> Vec<String> {
    let mut lines = Vec::new();
    for (_, b, kind) in m.builds().filter(|(c, ..)| c.actions == Actions::Cross) {
        lines.extend([format!("[target.{}]", b.target), format!("image = \"ghcr.io/cross-rs/{}:main\"", b.target)]);
        match (kind, &b.cross_runner) {
            (_, Some(runner)) => lines.push(format!("runner = \"{runner}\"")),
            (Kind::Test(Runner::Qemu(_)), None) => lines.push("runner = \"qemu-user\"".into()),
            // The image runs Windows binaries under its own Wine.
            _ => lines.extend([
                String::new(),
                format!("[target.{}.env]", b.target),
                "passthrough = [\"WINEDEBUG\"]".into(),
            ]),
        }
        lines.push(String::new());
    }
    lines.pop();
    lines
}

fn matrix_table(m: &Matrix) -> Vec<String> {
    let summary = |c, machine| plan(m, c, machine).map_or_else(|e| e, |p| p.summary());
    let mut lines = vec![
        "| cell | target | backend (src/sys) | waker | here (`cargo xtask matrix`, Linux x86_64) | GitHub Actions |"
            .into(),
        "| --- | --- | --- | --- | --- | --- |".into(),
    ];
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
        let [local, actions] = machines(c);
        row.push(format!("{}{here}{note}", summary(c, local)));
        row.push(match c.actions {
            Actions::None => "not run on Actions".into(),
            _ => format!("`{job}` on {machine}: {}", summary(c, actions)),
        });
        lines.push(format!("| {} |", row.join(" | ")));
    }
    lines
}

fn coverage_table(m: &Matrix) -> Vec<String> {
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
        format!("| {name} | {backend} | {} | {} | {} |", list(compiled), list(here), list(actions))
    };
    let mut lines = vec![
        "| src/sys module or mio waker | backend | compiled in | tests run here | tests run only on Actions |".into(),
        "| --- | --- | --- | --- | --- |".into(),
    ];
    lines.extend(m.sys.iter().map(|(name, sys)| row(format!("`{name}.rs`"), &sys.backend, &|b| &b.sys == name)));
    lines.extend(m.waker.iter().map(|(name, w)| row(format!("waker: {}", w.about), "", &|b| &b.waker == name)));
    lines
}

/// Replaces the lines between `BEGIN generated by `cargo xtask gen`: NAME`
/// and `END generated: NAME`, indented as the BEGIN line.
fn replace_region(text: &str, name: &str, body: &[String]) -> Result<String, String> {
    let (begin, end) = (format!("BEGIN generated by `cargo xtask gen`: {name}"), format!("END generated: {name}"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines.iter().position(|l| l.contains(&begin)).ok_or(format!("no `{begin}` line"))?;
    let stop = start + lines[start..].iter().position(|l| l.contains(&end)).ok_or(format!("no `{end}` line"))?;
    let indent = lines[start][..lines[start].len() - lines[start].trim_start().len()].to_string();
    let body = body.iter().map(|l| if l.is_empty() { String::new() } else { format!("{indent}{l}") });
    lines.splice(start + 1..stop, body);
    Ok(lines.join("\n") + "\n")
}

/// Writes the generated regions (with `check`, only compares them), then
/// checks what gen cannot write: the workflow's pins, cross.toml's keys.
pub fn generate(root: &Path, m: &Matrix, check: bool) -> Vec<String> {
    let (mut problems, mut stale) = (Vec::new(), Vec::new());
    for (file, regions) in regions(m) {
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
        let new = replace_region(text, "x", &["- new".into(), String::new()]).unwrap();
        assert_eq!(new, "a\n  # BEGIN generated by `cargo xtask gen`: x\n  - new\n\n  # END generated: x\nb\n");
        assert!(replace_region("a\n", "x", &[]).unwrap_err().contains("no `BEGIN"));
    }

    #[test]
    fn the_committed_files_are_generated_and_pass_their_checks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert_eq!(generate(root, &Matrix::load(root).unwrap(), true), Vec::<String>::new());
    }
}
