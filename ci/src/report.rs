//! The matrix report, from the cells' JSON results: one generator for the
//! terminal, target/matrix-report.{json,md} and the Actions job summaries.

use std::path::Path;
use std::{env, fs};

use crate::matrix::Via;
use crate::matrix::{Cell, Matrix};
use crate::result::{CellResult, Counts, Status};

/// The results of `cells`, in order; a cell without one failed to run.
pub fn load(root: &Path, m: &Matrix, cells: &[&Cell]) -> Vec<CellResult> {
    let missing = |c: &Cell| CellResult {
        reason: Some("no result: the cell did not run (see the job's earlier steps)".into()),
        ..CellResult::new(m, c, Via::Local, "-")
    };
    cells.iter().map(|c| CellResult::load(root, &c.name).unwrap_or_else(|| missing(c))).collect()
}

fn triple(c: Counts) -> String {
    format!("{}/{}/{}", c.passed, c.failed, c.ignored)
}

fn counted(c: Counts) -> String {
    format!("{} passed, {} failed, {} ignored", c.passed, c.failed, c.ignored)
}

/// One line per cell, as the matrix goes.
pub fn one_line(r: &CellResult) -> String {
    let mut line = format!("{} {} ({}, {})", r.status, r.cell, r.target, r.steps.join("+"));
    if r.tested {
        line += &format!(": {}", counted(r.tests()));
        if r.black_box != Counts::default() {
            line += &format!(" (black-box {})", triple(r.black_box));
        }
    }
    r.exceptions.iter().for_each(|e| line.push_str(&format!("; {e}")));
    let reason = r.reason.as_ref().map(|e| format!(" -- {e}")).unwrap_or_default();
    line + &format!("{reason} [{}s]", r.seconds)
}

pub fn markdown(root: &Path, results: &[CellResult]) -> String {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (pass, fail, unavailable) = (count(Status::Pass), count(Status::Fail), count(Status::Unavailable));
    let mut md = format!("### Matrix: {pass} PASS, {fail} FAIL, {unavailable} UNAVAILABLE\n\n");
    md += "| cell | target | backend | ran | result | in-process p/f/i | black-box p/f/i | s | named exceptions |\n";
    md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for r in results {
        let reason = r.reason.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
        let result = if r.status == Status::Pass { "PASS".into() } else { format!("**{}**", r.status) };
        let tests = |c| if r.tested { triple(c) } else { "-".into() };
        let mut named = r.exceptions.clone();
        named.extend((!r.ignored_tests.is_empty()).then(|| format!("{} ignored", r.ignored_tests.len())));
        let named = if named.is_empty() { "-".into() } else { named.join("; ") };
        let row = [
            r.cell.clone(),
            format!("`{}`", r.target),
            r.backend.clone(),
            r.steps.join("+"),
            format!("{result}{reason}"),
            tests(r.in_process),
            tests(r.black_box),
            r.seconds.to_string(),
            named,
        ];
        md += &format!("| {} |\n", row.map(|x| x.replace('|', "\\|")).join(" | "));
    }
    let ignored: Vec<_> = results.iter().flat_map(|r| r.ignored_tests.iter().map(move |i| (r, i))).collect();
    if !ignored.is_empty() {
        md += "\n<details><summary>Named exceptions: ignored tests</summary>\n\n";
        for (r, i) in ignored {
            md += &format!("- {}: `{}`: {}\n", r.cell, i.test, i.reason.as_deref().unwrap_or("(no reason given)"));
        }
        md += "\n</details>\n";
    }
    for r in results.iter().filter(|r| !r.notes.is_empty()) {
        md += &format!("\n#### {}\n\n", r.cell);
        r.notes.iter().for_each(|n| md += &format!("- {n}\n"));
    }
    for r in results.iter().filter(|r| r.status == Status::Fail) {
        md += &format!("\n#### {} failed: {}\n", r.cell, r.reason.as_deref().unwrap_or("see the log"));
        r.failed_tests.iter().for_each(|t| md += &format!("- failed test `{t}`\n"));
        let log = fs::read_to_string(root.join(&r.log)).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(30).collect();
        if !tail.is_empty() {
            md += &format!("\n<details><summary>last {} lines of {}</summary>\n\n~~~text\n", tail.len(), r.log);
            tail.iter().rev().for_each(|l| md += &format!("{l}\n"));
            md += "~~~\n\n</details>\n";
        }
    }
    let probes: Vec<_> =
        results.iter().map(|r| (r.cell.as_str(), r.stands_for.map(|os| os.to_string()), &r.probes[..])).collect();
    md += &crate::fidelity::report(&probes);
    let mut slow: Vec<_> = results.iter().collect();
    slow.sort_by_key(|r| std::cmp::Reverse(r.seconds));
    let slow: Vec<_> = slow.iter().take(5).map(|r| format!("{} {} s", r.cell, r.seconds)).collect();
    let total = results.iter().fold(Counts::default(), |total, r| total + r.tests());
    md + &format!("\nSlowest: {}\n\ntests: {}\n", slow.join(", "), counted(total))
}

/// Writes the report files (and the job summary when asked and on Actions),
/// prints it, and says whether the run failed.
pub fn write(root: &Path, results: &[CellResult], summary: bool) -> bool {
    let md = markdown(root, results);
    let _ = fs::create_dir_all(root.join("target"));
    let json = serde_json::json!({ "cells": results });
    let _ = fs::write(root.join("target/matrix-report.json"), serde_json::to_string_pretty(&json).unwrap());
    let _ = fs::write(root.join("target/matrix-report.md"), &md);
    if let (true, Some(path)) = (summary, env::var_os("GITHUB_STEP_SUMMARY")) {
        let file = fs::OpenOptions::new().create(true).append(true).open(path);
        let _ = file.and_then(|mut f| std::io::Write::write_all(&mut f, md.as_bytes()));
    }
    println!("\n{md}\nreport: target/matrix-report.json, target/matrix-report.md");
    let ci = env::var("CI").is_ok_and(|v| v == "true");
    if ci && results.iter().any(|r| r.status == Status::Unavailable) {
        println!("CI=true: UNAVAILABLE cells fail the run");
    }
    fails(results, ci)
}

/// A failed cell fails the run, and under `CI=true` an unavailable one does.
fn fails(results: &[CellResult], ci: bool) -> bool {
    results.iter().any(|r| r.status == Status::Fail || ci && r.status == Status::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Ignored;

    #[test]
    fn the_report_counts_tests_by_mode_and_fails_on_a_failure_or_an_unavailable_cell_under_ci() {
        let cell = |name: &str, status| CellResult { cell: name.into(), status, tested: true, ..CellResult::default() };
        let mut pass = cell("a", Status::Pass);
        (pass.in_process.passed, pass.black_box) = (3, Counts { passed: 2, failed: 0, ignored: 1 });
        pass.ignored_tests.push(Ignored { test: "echo: black_box::x".into(), reason: Some("why".into()) });
        let mut fail = cell("b", Status::Fail);
        (fail.in_process.failed, fail.reason) = (1, Some("1 test(s) failed: echo: in_process::y".into()));
        let results = [pass, fail, cell("c", Status::Unavailable)];
        let md = markdown(Path::new("/nonexistent"), &results);
        assert!(md.starts_with("### Matrix: 1 PASS, 1 FAIL, 1 UNAVAILABLE\n"), "{md}");
        assert!(md.contains("\n| a | `` |  |  | PASS | 3/0/0 | 2/0/1 | 0 | 1 ignored |\n"), "{md}");
        assert!(md.contains("- a: `echo: black_box::x`: why\n"), "{md}");
        assert!(md.contains("#### b failed: 1 test(s) failed"), "{md}");
        assert!(md.ends_with("tests: 5 passed, 1 failed, 1 ignored\n"), "{md}");
        assert!(fails(&results, false) && !fails(&results[..1], true));
        assert!(!fails(&results[2..], false) && fails(&results[2..], true));
    }
}
