#!/usr/bin/env python3
"""The matrix report, from the cells' logs: one generator for ci/matrix.sh
and for the summary step of every GitHub Actions job that runs cells.

    ci/report.py [--summary] CELL...     report these cells, in this order
    ci/report.py [--summary] --logged    every cell of ci/targets that has a log
    ci/report.py --line CELL             one line for one cell (ci/matrix.sh)

Reads target/matrix-logs/CELL.log as ci/run-cell.sh writes it: `==> STEP:`
lines (what ran), `exception:` and `skip: TEST (reason)` lines (named
exceptions), libtest's per-test lines (`test NAME ... ok|FAILED|ignored[,
reason]`) and a last `result: PASS|FAIL|UNAVAILABLE seconds=N [reason=...]`.

Prints the table, the named exceptions, the failures, the 5 slowest cells
and, last, `tests: N passed, M failed`; writes target/matrix-report.json and
target/matrix-report.md; with --summary also appends the Markdown to
$GITHUB_STEP_SUMMARY (when set). Tests whose name starts with `black_box::`
are counted apart from the in-process ones.

Exit status 1 if a cell failed or has no log, or if one is UNAVAILABLE and
CI=true. Python 3.8+, stdlib only (it runs on every Actions runner).
"""

import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "matrix-logs"
COLUMNS = ["cell", "target", "kind", "backend", "toolchain", "runner", "linker", "cfg", "actions"]

TEST_LINE = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, (.*))?$")
RESULT_LINE = re.compile(r"^result: (PASS|FAIL|UNAVAILABLE) seconds=(\d+)(?: reason=(.*))?$")
LIBTEST_SUMMARY = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored;")
STEP_LINE = re.compile(r"^==> ([a-z][a-z-]*):")
SKIP_LINE = re.compile(r"^skip: (\S+) \((.*)\)$")
ERROR_LINE = re.compile(r"^error(\[E\d+\])?: ")


def read_targets():
    rows = {}
    for line in (ROOT / "ci" / "targets").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            fields = line.split()
            rows[fields[0]] = dict(zip(COLUMNS, fields))
    return rows


def counts():
    return {"passed": 0, "failed": 0, "ignored": 0}


def parse(name, row):
    """Everything the report says about one cell, from its log."""
    log = LOGS / f"{name}.log"
    cell = {
        "cell": name,
        "target": row.get("target", "-"),
        "kind": row.get("kind", "-"),
        "backend": row.get("backend", "-"),
        "toolchain": row.get("toolchain", "-"),
        "runner": row.get("runner", "-"),
        "actions": row.get("actions", "-"),
        "ran": [],
        "result": "FAIL",
        "reason": None,
        "seconds": 0,
        "tests": counts(),
        "in_process": counts(),
        "black_box": counts(),
        "failed_tests": [],
        "ignored_tests": [],
        "skipped": [],
        "notes": [],
        "log": str(log.relative_to(ROOT)),
    }
    if not log.is_file():
        cell["reason"] = "no log: the cell did not run (see the earlier steps of this job)"
        return cell, []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    summary = counts()
    first_error = None
    result_seen = False
    for line in lines:
        line = line.rstrip("\r")
        m = TEST_LINE.match(line)
        if m:
            test, outcome, why = m.groups()
            key = {"ok": "passed", "FAILED": "failed", "ignored": "ignored"}[outcome]
            group = "black_box" if test.startswith("black_box::") else "in_process"
            cell[group][key] += 1
            if key == "failed":
                cell["failed_tests"].append(test)
            elif key == "ignored":
                cell["ignored_tests"].append({"test": test, "reason": why})
            continue
        m = LIBTEST_SUMMARY.match(line)
        if m:
            for key, value in zip(("passed", "failed", "ignored"), m.groups()):
                summary[key] += int(value)
            continue
        m = STEP_LINE.match(line)
        if m:
            if m.group(1) not in cell["ran"]:
                cell["ran"].append(m.group(1))
            continue
        m = SKIP_LINE.match(line)
        if m:
            cell["skipped"].append({"test": m.group(1), "reason": m.group(2)})
            continue
        # Not `note:`, which rustc and panics print too.
        if line.startswith("exception: "):
            cell["notes"].append(line[len("exception: "):])
            continue
        if first_error is None and ERROR_LINE.match(line):
            first_error = line
            continue
        m = RESULT_LINE.match(line)
        if m:
            result_seen = True
            cell["result"], seconds, cell["reason"] = m.groups()
            cell["seconds"] = int(seconds)
    per_line = {k: cell["in_process"][k] + cell["black_box"][k] for k in summary}
    # libtest's own summary lines are the totals; the per-test lines give the
    # split and the names. Say so if they disagree rather than hide it.
    cell["tests"] = summary if sum(summary.values()) else per_line
    if sum(summary.values()) and summary != per_line:
        cell["notes"].append(f"per-test lines count {per_line}, libtest's summaries {summary}")
    if not result_seen:
        cell["reason"] = "no result line: the cell was killed or is still running"
    elif cell["result"] == "FAIL" and cell["reason"] is None:
        if cell["failed_tests"]:
            names = cell["failed_tests"]
            cell["reason"] = f"{len(names)} test(s) failed: {', '.join(names[:3])}" + (", ..." if len(names) > 3 else "")
        elif first_error:
            cell["reason"] = first_error
    return cell, lines


def tested(cell):
    """Whether a test step ran (a native cell off its host only checks)."""
    return any(
        step.endswith("test") or step in ("serve", "miri", "asan", "tsan") for step in cell["ran"]
    )


def triple(c):
    return f"{c['passed']}/{c['failed']}/{c['ignored']}"


def exceptions(cell):
    """The named exceptions of a cell, short, for one table column."""
    out = list(cell["notes"])
    if cell["skipped"]:
        reasons = sorted({s["reason"] for s in cell["skipped"]})
        out.append(f"{len(cell['skipped'])} skipped by name ({'; '.join(reasons)})")
    if cell["ignored_tests"]:
        out.append(f"{len(cell['ignored_tests'])} ignored")
    return out


def one_line(cell):
    ran = "+".join(cell["ran"]) or "-"
    line = f"{cell['result']} {cell['cell']} ({cell['target']}, {ran})"
    if tested(cell):
        t = cell["tests"]
        line += f": {t['passed']} passed, {t['failed']} failed, {t['ignored']} ignored"
        if cell["black_box"] != counts():
            line += f" (black-box {triple(cell['black_box'])})"
    if cell["skipped"]:
        line += f", {len(cell['skipped'])} skipped by name"
    for note in cell["notes"]:
        line += f"; {note}"
    if cell["reason"]:
        line += f" -- {cell['reason']}"
    return line + f" [{cell['seconds']}s]"


def terminal(cells, totals):
    head = ("cell", "target", "backend", "ran", "result", "passed", "failed", "ignored", "skipped", "secs")
    fmt = "{:<14} {:<30} {:<8} {:<24} {:<11} {:>6} {:>6} {:>7} {:>7} {:>5}"
    print()
    print(fmt.format(*head))
    for c in cells:
        t = c["tests"]
        numbers = (t["passed"], t["failed"], t["ignored"], len(c["skipped"])) if tested(c) else ("-",) * 4
        print(fmt.format(c["cell"], c["target"], c["backend"], "+".join(c["ran"]) or "-", c["result"], *numbers, c["seconds"]))
    r = totals["cells"]
    print()
    print(f"cells: {r['PASS']} PASS, {r['FAIL']} FAIL, {r['UNAVAILABLE']} UNAVAILABLE (of {len(cells)})")
    ip, bb = totals["in_process"], totals["black_box"]
    print(f"tests by kind: in-process {triple(ip)}, black-box {triple(bb)} (passed/failed/ignored)")
    for c in cells:
        if c["reason"]:
            print(f"{c['result']} {c['cell']}: {c['reason']}")
        for note in c["notes"]:
            print(f"exception in {c['cell']}: {note}")
        if c["skipped"]:
            names = ", ".join(s["test"] for s in c["skipped"])
            print(f"skipped by name in {c['cell']}: {names} -- {c['skipped'][0]['reason']}")
        for i in c["ignored_tests"]:
            print(f"ignored in {c['cell']}: {i['test']}" + (f" -- {i['reason']}" if i["reason"] else ""))
        for f in c["failed_tests"]:
            print(f"FAILED in {c['cell']}: {f}")
    slow = sorted(cells, key=lambda c: c["seconds"], reverse=True)[:5]
    print("slowest: " + ", ".join(f"{c['cell']} {c['seconds']}s" for c in slow))


def markdown(cells, totals, logs):
    md = []
    r = totals["cells"]
    md.append(f"### Matrix: {r['PASS']} PASS, {r['FAIL']} FAIL, {r['UNAVAILABLE']} UNAVAILABLE")
    md.append("")
    md.append("| cell | target | backend | ran | result | in-process p/f/i | black-box p/f/i | s | named exceptions |")
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in cells:
        result = f"**{c['result']}**" if c["result"] != "PASS" else "PASS"
        if c["reason"]:
            result += f": {c['reason']}"
        ip = triple(c["in_process"]) if tested(c) else "-"
        bb = triple(c["black_box"]) if tested(c) else "-"
        cells_md = [c["cell"], f"`{c['target']}`", c["backend"], "+".join(c["ran"]) or "-", result,
                    ip, bb, str(c["seconds"]), "; ".join(exceptions(c)) or "-"]
        md.append("| " + " | ".join(x.replace("|", "\\|") for x in cells_md) + " |")
    named = [c for c in cells if c["skipped"] or c["ignored_tests"]]
    if named:
        md.append("")
        md.append("<details><summary>Named exceptions: tests skipped by name or ignored</summary>")
        md.append("")
        for c in named:
            for s in c["skipped"]:
                md.append(f"- {c['cell']}: skipped `{s['test']}`: {s['reason']}")
            for i in c["ignored_tests"]:
                md.append(f"- {c['cell']}: ignored `{i['test']}`" + (f": {i['reason']}" if i["reason"] else ""))
        md.append("")
        md.append("</details>")
    for c in cells:
        if c["result"] != "FAIL":
            continue
        md.append("")
        md.append(f"#### {c['cell']} failed: {c['reason'] or 'see the log'}")
        for f in c["failed_tests"]:
            md.append(f"- failed test `{f}`")
        tail = logs.get(c["cell"], [])[-30:]
        if tail:
            md.append("")
            md.append(f"<details><summary>last {len(tail)} lines of {c['log']}</summary>")
            md.append("")
            md.append("~~~text")
            md.extend(tail)
            md.append("~~~")
            md.append("")
            md.append("</details>")
    slow = sorted(cells, key=lambda c: c["seconds"], reverse=True)[:5]
    md.append("")
    md.append("Slowest: " + ", ".join(f"{c['cell']} {c['seconds']} s" for c in slow))
    t = totals["tests"]
    md.append("")
    md.append(f"tests: {t['passed']} passed, {t['failed']} failed, {t['ignored']} ignored")
    return "\n".join(md) + "\n"


def main(argv):
    # Logs may hold any UTF-8; a Windows console may not print all of it.
    sys.stdout.reconfigure(errors="replace")
    args = list(argv)
    summary = "--summary" in args
    args = [a for a in args if a != "--summary"]
    rows = read_targets()
    if args[:1] == ["--line"]:
        if len(args) != 2:
            sys.exit("usage: ci/report.py --line CELL")
        cell, _ = parse(args[1], rows.get(args[1], {}))
        print(one_line(cell))
        return 0
    if args == ["--logged"]:
        names = [n for n in rows if (LOGS / f"{n}.log").is_file()]
    elif args and not any(a.startswith("-") for a in args):
        names = args
    else:
        sys.exit(__doc__)
    unknown = [n for n in names if n not in rows]
    if unknown:
        sys.exit(f"error: no cell named {', '.join(unknown)} in ci/targets")

    cells, logs = [], {}
    for name in names:
        cell, lines = parse(name, rows[name])
        cells.append(cell)
        logs[name] = lines
    totals = {
        "cells": {k: sum(c["result"] == k for c in cells) for k in ("PASS", "FAIL", "UNAVAILABLE")},
        "tests": {k: sum(c["tests"][k] for c in cells) for k in counts()},
        "in_process": {k: sum(c["in_process"][k] for c in cells) for k in counts()},
        "black_box": {k: sum(c["black_box"][k] for c in cells) for k in counts()},
        "skipped": sum(len(c["skipped"]) for c in cells),
    }
    report = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": f"{platform.system()} {platform.machine()}",
        "cells": cells,
        "totals": totals,
        "slowest": [c["cell"] for c in sorted(cells, key=lambda c: c["seconds"], reverse=True)[:5]],
    }
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "matrix-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md = markdown(cells, totals, logs)
    (ROOT / "target" / "matrix-report.md").write_text(md, encoding="utf-8")
    if summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(md)

    terminal(cells, totals)
    print("report: target/matrix-report.json, target/matrix-report.md"
          + (", $GITHUB_STEP_SUMMARY" if summary and os.environ.get("GITHUB_STEP_SUMMARY") else ""))
    status = 0
    if totals["cells"]["FAIL"]:
        status = 1
    if os.environ.get("CI") == "true" and totals["cells"]["UNAVAILABLE"]:
        print("CI=true: UNAVAILABLE cells fail the run")
        status = 1
    t = totals["tests"]
    print(f"tests: {t['passed']} passed, {t['failed']} failed")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
