#!/usr/bin/env python3
"""The few things about .github/workflows/ci.yml that no schema checks.

    python3 ci/check-workflow.py     (PyYAML; ci/validate.sh runs it in its venv)

  * pins: every `uses:` is a full commit SHA with a `# vX.Y.Z (YYYY-MM-DD)`
    comment; CROSS_REV is a full SHA with a `# <tag or branch> (YYYY-MM-DD)`
    comment;
  * nightly: ci/nightly is a dated nightly, ci/stable an exact version, and
    nothing in .github/, ci/ or .ci/ asks for an undated nightly;
  * FreeBSD: FREEBSD_RELEASE is listed in ci/freebsd-vm-releases, which was
    read at the very freebsd-vm commit the workflow pins;
  * one way to run a cell: every `actions` value of ci/targets has its job;
    each job that runs cells takes its matrix from the `targets` job, runs
    ci/run-cell.sh "$CELL" (local-parity: ci/matrix.sh) and has an
    `if: always()` summary step (ci/report.sh --summary); no step runs cargo
    or cross on its own (no cell's commands in YAML);
  * ci-ok needs every other job and runs always; only pull requests cancel
    superseded runs.

Exit status 1 on any finding; every check prints what it checked.
"""

import re
import sys
from importlib import import_module
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci"))
matrix = import_module("actions-matrix")
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

DATE = r"\(\d{4}-\d{2}-\d{2}\)"
USES_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+ " + DATE + r"$")
CROSS_PIN = re.compile(r"^[0-9a-f]{40} # [\w./-]+ " + DATE + r"$")
# A toolchain asked for as plain "nightly": +nightly, `toolchain install
# nightly`, --toolchain nightly, an action's @nightly. A dated one is fine.
UNDATED_NIGHTLY = re.compile(
    r"(\+|toolchain\s+(?:install|add)\s+|--toolchain[= ]|@)nightly(?!-\d{4}-\d{2}-\d{2})\b")
# A cell's own commands, which belong to ci/run-cell.sh and the scripts it runs.
CELL_COMMAND = re.compile(
    r"\b(?:cargo|cross)\s+(?:\+\S+\s+)?(?:test|clippy|check|build|doc|fmt|miri|run|nextest)\b|\bwasmtime\s+\S")
# actions-matrix key (= job id) -> the CELL_VIA that job must set.
CELL_VIA = {"cells": "native", "cross": "cross", "freebsd": "native"}

problems = []


def problem(msg):
    problems.append(msg)
    print(f"  FAIL {msg}")


def section(title, before):
    if len(problems) == before:
        print(f"  ok   {title}")


def step_scripts(step):
    """The shell text a step runs: its run:, or a with: run/prepare of an action."""
    texts = [step.get("run", "")]
    texts += [str(v) for k, v in (step.get("with") or {}).items() if k in ("run", "prepare")]
    return "\n".join(t for t in texts if t)


def check_pins(text):
    print("pins: uses: and CROSS_REV carry a full SHA and a `# tag (date)` comment")
    before = len(problems)
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*-?\s*uses:\s*(.*)$", line)
        if m and not m.group(1).startswith("./") and not USES_PIN.match(m.group(1)):
            problem(f"ci.yml:{n}: `uses: {m.group(1)}` is not owner/repo@<40-hex SHA> # vX.Y.Z (YYYY-MM-DD)")
        m = re.match(r"^\s*CROSS_REV:\s*(.*)$", line)
        if m and not CROSS_PIN.match(m.group(1)):
            problem(f"ci.yml:{n}: `CROSS_REV: {m.group(1)}` is not <40-hex SHA> # <tag or branch> (YYYY-MM-DD)")
    section("every pin has its SHA, tag and date", before)


def check_toolchains():
    print("toolchains: ci/stable and ci/nightly are exact; no undated nightly anywhere")
    before = len(problems)
    stable = (ROOT / "ci" / "stable").read_text(encoding="utf-8")
    nightly = (ROOT / "ci" / "nightly").read_text(encoding="utf-8")
    if not re.fullmatch(r"\d+\.\d+\.\d+\n", stable):
        problem(f"ci/stable is {stable!r}: one line with an exact version, e.g. 1.95.0")
    if not re.fullmatch(r"nightly-\d{4}-\d{2}-\d{2}\n", nightly):
        problem(f"ci/nightly is {nightly!r}: one line with a dated nightly, e.g. nightly-2026-05-20")
    files = [p for p in (ROOT / ".github").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "ci").rglob("*") if p.is_file() and p.name != Path(__file__).name]
    files += [ROOT / ".ci" / "run", ROOT / "cross.toml"]
    for path in sorted(files):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(lines, 1):
            if UNDATED_NIGHTLY.search(line):
                problem(f"{path.relative_to(ROOT)}:{n}: an undated nightly ({line.strip()}); use the toolchain of ci/nightly")
    section(f"stable {stable.strip()}, nightly {nightly.strip()}, no undated nightly in .github/, ci/, .ci/, cross.toml", before)


def check_freebsd(workflow, text):
    print("FreeBSD: FREEBSD_RELEASE is one the pinned freebsd-vm lists (ci/freebsd-vm-releases)")
    before = len(problems)
    lines = [l.strip() for l in (ROOT / "ci" / "freebsd-vm-releases").read_text(encoding="utf-8").splitlines()]
    lines = [l for l in lines if l and not l.startswith("#")]
    recorded = [l.split()[1] for l in lines if l.startswith("commit ")]
    releases = [l for l in lines if not l.startswith("commit ")]
    pinned = re.findall(r"uses:\s*vmactions/freebsd-vm@([0-9a-f]{40})", text)
    if len(recorded) != 1 or sorted(set(pinned)) != recorded:
        problem(f"ci/freebsd-vm-releases was read at {recorded}, the workflow pins freebsd-vm at {sorted(set(pinned))}: "
                "read conf/ at the pinned commit and record it")
    release = str((workflow.get("env") or {}).get("FREEBSD_RELEASE", ""))
    if release not in releases:
        problem(f"FREEBSD_RELEASE {release!r} is not in ci/freebsd-vm-releases ({', '.join(releases)})")
    section(f"FREEBSD_RELEASE {release} is listed at freebsd-vm {recorded[0][:12] if recorded else '?'}", before)


def check_jobs(workflow):
    print("jobs: every actions value has a job; each job runs cells only through ci/run-cell.sh, with a summary")
    before = len(problems)
    jobs = workflow.get("jobs") or {}
    cells, errors = matrix.read_cells()
    for e in errors:
        problem(e)
    outputs = set(((jobs.get("targets") or {}).get("outputs") or {}))
    if outputs != set(matrix.KEYS):
        problem(f"the targets job outputs {sorted(outputs)}, ci/actions-matrix.py prints {sorted(matrix.KEYS)}")
    for c in cells:
        job = matrix.job_of(c["actions"])
        if job and job[0] not in jobs:
            problem(f"cell {c['cell']}: actions {c['actions']!r} needs job {job[0]!r}, which the workflow lacks")
    for key in matrix.KEYS:
        job = jobs.get(key)
        if job is None:
            problem(f"job {key!r} missing (ci/actions-matrix.py makes a matrix for it)")
            continue
        if (job.get("strategy") or {}).get("matrix") != f"${{{{ fromJSON(needs.targets.outputs.{key}) }}}}":
            problem(f"job {key!r} does not take its matrix from fromJSON(needs.targets.outputs.{key})")
        env = job.get("env") or {}
        if env.get("CELL") != "${{ matrix.cell }}":
            problem(f"job {key!r}: env CELL is not ${{{{ matrix.cell }}}}")
        if env.get("CELL_VIA") != CELL_VIA[key]:
            problem(f"job {key!r}: env CELL_VIA is {env.get('CELL_VIA')!r}, expected {CELL_VIA[key]!r}")
    for name, job in jobs.items():
        steps = job.get("steps") or []
        scripts = [step_scripts(s) for s in steps]
        runs_cells = any("ci/run-cell.sh" in s or "ci/matrix.sh" in s for s in scripts) or name in matrix.KEYS
        for step, script in zip(steps, scripts):
            m = CELL_COMMAND.search(script)
            if m:
                problem(f"job {name!r}, step {step.get('name', step.get('uses'))!r} runs {m.group(0)!r} itself: "
                        "a cell's commands belong in ci/run-cell.sh")
        if not runs_cells:
            continue
        if name in matrix.KEYS and not any(re.search(r'ci/run-cell\.sh "\$CELL"', s) for s in scripts):
            problem(f"job {name!r} does not run ci/run-cell.sh \"$CELL\"")
        summary = [s for s, text in zip(steps, scripts) if "ci/report.sh --summary" in text]
        if not summary or any(s.get("if") != "always()" for s in summary):
            problem(f"job {name!r} runs cells but has no `if: always()` step running ci/report.sh --summary")
    ok = jobs.get("ci-ok") or {}
    needs = set(ok.get("needs") or [])
    if needs != set(jobs) - {"ci-ok"} or ok.get("if") != "always()":
        problem(f"ci-ok must run `if: always()` and need every other job; it needs {sorted(needs)}")
    group = workflow.get("concurrency") or {}
    if "pull_request" not in str(group.get("cancel-in-progress", "")):
        problem("concurrency: cancel-in-progress must be limited to pull requests")
    section(f"jobs {', '.join(jobs)}; {len(cells)} cells reach their job; summaries everywhere", before)


def main():
    text = WORKFLOW.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    check_pins(text)
    check_toolchains()
    check_freebsd(workflow, text)
    check_jobs(workflow)
    print(f"check-workflow: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
