#!/usr/bin/env python3
"""Turn ci/targets into the GitHub Actions matrices of .github/workflows/ci.yml
(its `targets` job runs this).

    python3 ci/actions-matrix.py     print KEY=JSON lines, also appended to
                                     $GITHUB_OUTPUT when that is set

The `actions` column says which job runs a cell; every job runs it with
ci/run-cell.sh, so a matrix entry carries only what the job itself needs:

    actions value                    key      job       runs on
    ubuntu-*, macos-*, windows-*     cells    cells     that runner (CELL_VIA=native)
    cross                            cross    cross     ubuntu-latest (CELL_VIA=cross)
    freebsd-vm                       freebsd  freebsd   a FreeBSD VM on ubuntu-latest

Each output is {"include": [{"cell", "target", "os"}, ...]}. A row with a
wrong column count, a duplicate cell or an `actions` value no job handles
is an error, so the workflow cannot silently drop a cell. Python 3.8+.
"""

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["cell", "target", "kind", "backend", "toolchain", "runner", "linker", "cfg", "actions"]
RUNNER_LABEL = re.compile(r"^(ubuntu|macos|windows)-[A-Za-z0-9.-]+$")
# actions value -> (output key and job id, the runner that job runs on)
SPECIAL = {"cross": ("cross", "ubuntu-latest"), "freebsd-vm": ("freebsd", "ubuntu-latest")}
KEYS = ["cells", "cross", "freebsd"]


def job_of(actions):
    """(matrix key = job id, runs-on) for an `actions` value, or None."""
    if actions in SPECIAL:
        return SPECIAL[actions]
    if RUNNER_LABEL.match(actions):
        return ("cells", actions)
    return None


def read_cells(path=ROOT / "ci" / "targets"):
    cells, errors, seen = [], [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != len(COLUMNS):
            errors.append(f"ci/targets:{n}: {len(fields)} columns, expected {len(COLUMNS)} ({' '.join(COLUMNS)})")
            continue
        bad = [f for f in fields if not re.match(r"^[A-Za-z0-9_.+,-]+$", f)]
        if bad:
            errors.append(f"ci/targets:{n}: values with characters outside [A-Za-z0-9_.+,-]: {bad}")
        cell = dict(zip(COLUMNS, fields))
        if cell["cell"] in seen:
            errors.append(f"ci/targets:{n}: duplicate cell {cell['cell']!r}")
        seen.add(cell["cell"])
        if job_of(cell["actions"]) is None:
            errors.append(f"ci/targets:{n}: cell {cell['cell']!r}: actions value {cell['actions']!r} is handled by no job "
                          f"(a ubuntu-/macos-/windows- runner label, {', '.join(SPECIAL)})")
        cells.append(cell)
    if not cells:
        errors.append("ci/targets has no cells")
    return cells, errors


def matrices(cells):
    out = {key: [] for key in KEYS}
    for c in cells:
        key, os_label = job_of(c["actions"])
        out[key].append({"cell": c["cell"], "target": c["target"], "os": os_label})
    return out


def main():
    cells, errors = read_cells()
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        return 1
    lines = [f"{key}={json.dumps({'include': items}, separators=(',', ':'))}" for key, items in matrices(cells).items()]
    print("\n".join(lines))
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    for key, items in matrices(cells).items():
        print(f"{key}: {len(items)} cell(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
