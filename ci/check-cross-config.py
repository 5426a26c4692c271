#!/usr/bin/env python3
"""Offline drift checks between ci/targets, cross.toml and the CI workflow.

    python3 ci/check-cross-config.py        (Python >= 3.11, stdlib only)

cross.toml
  * every key is one cross documents (the set below), with the right type;
  * its [target.*] set equals the ci/targets cells whose `actions` is `cross`;
  * each of those targets uses cross's `:main` image of that target.

.github/workflows/ci.yml against ci/targets
  * ci/actions-matrix.sh accepts ci/targets (it rejects an `actions` value
    no job handles) and every cell lands in exactly one matrix;
  * the keys it prints == the `targets` job's outputs == the keys the jobs
    read with fromJSON(needs.targets.outputs.KEY), and each key is read by
    the job that handles it;
  * the workflow has the expected jobs, and `ci-ok` needs all the others;
  * every ci/ script the workflow runs exists.

Exit status 1 on any finding; every check prints what it checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "ci" / "targets"
CROSS_TOML = ROOT / "cross.toml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
MATRIX_SCRIPT = ROOT / "ci" / "actions-matrix.sh"

# The keys cross accepts, taken from cross's main branch:
#   src/cross_toml.rs (cross-rs/cross @ e04528c57fb0a022b1b445c93a0d2a683c7b7b16):
#     CrossToml         { target, build }
#     CrossBuildConfig  { env, xargo, build-std, zig, default-target,
#                         pre-build, dockerfile }            (kebab-case)
#     CrossTargetConfig { xargo, build-std, zig, image, dockerfile,
#                         pre-build, runner, env }           (kebab-case)
#     CrossEnvConfig    { volumes, passthrough }
#     CrossTargetDockerfileConfig { file, context, build-args }
#     CrossZigConfig    { enable, version, image }
#   src/docker/image.rs: PossibleImage { name, toolchain }  (table form of `image`)
#   docs/config_file.md: the same keys, and `runner` "must be `qemu-system`,
#     `qemu-user`, or `native`".
# cross collects every other key with serde_ignored and warns "found unused
# key(s) in Cross configuration"; cross main makes warnings fatal under CI.
ENV_KEYS = {"volumes": "strlist", "passthrough": "strlist"}
DOCKERFILE_KEYS = {"file": "str", "context": "str", "build-args": "strmap"}
ZIG_KEYS = {"enable": "bool", "version": "str", "image": "image"}
IMAGE_KEYS = {"name": "str", "toolchain": "strlist"}
BUILD_KEYS = {
    "env": ("table", ENV_KEYS),
    "xargo": "bool",
    "build-std": "buildstd",
    "zig": "zig",
    "default-target": "str",
    "pre-build": "prebuild",
    "dockerfile": "dockerfile",
}
TARGET_KEYS = {
    "xargo": "bool",
    "build-std": "buildstd",
    "zig": "zig",
    "image": "image",
    "dockerfile": "dockerfile",
    "pre-build": "prebuild",
    "runner": "runner",
    "env": ("table", ENV_KEYS),
}
RUNNERS = {"qemu-user", "qemu-system", "native"}

# `actions` value -> (ci/actions-matrix.sh output key, workflow job id).
# Runner labels (ubuntu-*, macos-*, windows-*) all go to the `test` job.
HANDLERS = {
    "cross": ("cross", "cross"),
    "wasmtime": ("wasi", "wasi"),
    "freebsd-vm": ("freebsd", "freebsd"),
    "check": ("check", "check"),
}
RUNNER_LABEL = re.compile(r"^(ubuntu|macos|windows)-[A-Za-z0-9.-]+$")
JOBS = ["targets", "lint", "test", "cross", "wasi", "freebsd", "check", "msrv", "local-parity", "ci-ok"]

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)
    print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    print(f"  ok   {msg}")


# ---------------------------------------------------------------- ci/targets
def read_cells() -> list[dict[str, str]]:
    cols = ["cell", "target", "kind", "backend", "toolchain", "runner", "linker", "cfg", "actions"]
    cells = []
    for n, line in enumerate(TARGETS.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != len(cols):
            problem(f"ci/targets:{n}: {len(fields)} columns, expected {len(cols)}")
            continue
        cells.append(dict(zip(cols, fields)))
    return cells


def handler(actions: str) -> tuple[str, str] | None:
    if actions in HANDLERS:
        return HANDLERS[actions]
    if RUNNER_LABEL.match(actions):
        return ("test", "test")
    return None


# ---------------------------------------------------------------- cross.toml
def check_value(path: str, value: object, kind: object) -> None:
    def is_strlist(v: object) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    if isinstance(kind, tuple):  # ("table", KEYS)
        check_table(path, value, kind[1])
    elif kind == "str":
        if not isinstance(value, str):
            problem(f"{path}: expected a string")
    elif kind == "bool":
        if not isinstance(value, bool):
            problem(f"{path}: expected true or false")
    elif kind == "strlist":
        if not is_strlist(value):
            problem(f"{path}: expected a list of strings")
    elif kind == "strmap":
        if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            problem(f"{path}: expected a table of strings")
    elif kind == "buildstd":
        if not (isinstance(value, bool) or is_strlist(value)):
            problem(f"{path}: expected a bool or a list of crate names")
    elif kind == "prebuild":
        if not (isinstance(value, str) or is_strlist(value)):
            problem(f"{path}: expected a script path or a list of commands")
    elif kind == "runner":
        if value not in RUNNERS:
            problem(f"{path}: runner {value!r} is not one of {sorted(RUNNERS)}")
    elif kind == "image":
        if isinstance(value, dict):
            check_table(path, value, IMAGE_KEYS)
        elif not isinstance(value, str):
            problem(f"{path}: expected an image name or a table")
    elif kind == "dockerfile":
        if isinstance(value, dict):
            check_table(path, value, DOCKERFILE_KEYS)
            if "file" not in value:
                problem(f"{path}: the dockerfile table needs `file`")
        elif not isinstance(value, str):
            problem(f"{path}: expected a path or a table")
    elif kind == "zig":
        if isinstance(value, dict):
            check_table(path, value, ZIG_KEYS)
        elif not isinstance(value, (bool, str)):
            problem(f"{path}: expected a bool, a glibc version or a table")
    else:  # pragma: no cover - a typo in the tables above
        raise AssertionError(kind)


def check_table(path: str, table: object, allowed: dict) -> None:
    if not isinstance(table, dict):
        problem(f"{path}: expected a table")
        return
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        if key not in allowed:
            problem(f"{where}: unknown key (cross would warn 'found unused key(s)'); allowed here: {', '.join(sorted(allowed))}")
            continue
        check_value(where, value, allowed[key])


def check_cross_toml(cells: list[dict[str, str]]) -> None:
    print(f"cross.toml: keys against cross main's documented set ({CROSS_TOML.relative_to(ROOT)})")
    try:
        config = tomllib.loads(CROSS_TOML.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        problem(f"cross.toml: cannot be read as TOML: {e}")
        return
    before = len(problems)
    for key, value in config.items():
        if key == "build":
            check_table("build", value, BUILD_KEYS)
        elif key == "target":
            if not isinstance(value, dict):
                problem("target: expected a table of [target.<triple>] tables")
                continue
            for triple, table in value.items():
                check_table(f"target.{triple}", table, TARGET_KEYS)
        else:
            problem(f"{key}: unknown top-level key (cross knows build and target)")
    if len(problems) == before:
        ok("every key is in cross's set and has the documented type")

    print("cross.toml: [target.*] against the ci/targets cells whose actions is `cross`")
    want = {c["target"]: c["cell"] for c in cells if c["actions"] == "cross"}
    have = set(config.get("target", {})) if isinstance(config.get("target"), dict) else set()
    for t in sorted(set(want) - have):
        problem(f"cell {want[t]} ({t}) runs under cross but cross.toml has no [target.{t}]")
    for t in sorted(have - set(want)):
        problem(f"cross.toml has [target.{t}] but no ci/targets cell with actions `cross` uses {t}")
    if set(want) == have:
        ok(f"{len(have)} targets, same set: {', '.join(sorted(have))}")

    print("cross.toml: images pinned to cross main's images (ghcr.io/cross-rs/<target>:main)")
    before = len(problems)
    for t in sorted(have & set(want)):
        image = config["target"][t].get("image")
        name = image.get("name") if isinstance(image, dict) else image
        if name != f"ghcr.io/cross-rs/{t}:main":
            problem(f"target.{t}.image is {name!r}, expected 'ghcr.io/cross-rs/{t}:main'")
    if len(problems) == before:
        ok("every cross target uses its :main image")


# ------------------------------------------------------------------ workflow
def workflow_jobs(text: str) -> dict[str, str]:
    """Job id -> the job's text, for a workflow written in block style with
    jobs indented by two spaces (this repository's style)."""
    m = re.search(r"^jobs:\s*$", text, re.M)
    if not m:
        return {}
    body = text[m.end():]
    end = re.search(r"^\S", body, re.M)
    if end:
        body = body[: end.start()]
    jobs: dict[str, str] = {}
    heads = list(re.finditer(r"^  ([A-Za-z0-9_-]+):\s*$", body, re.M))
    for i, h in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        jobs[h.group(1)] = body[h.end():stop]
    return jobs


def check_workflow(cells: list[dict[str, str]]) -> None:
    print(f"workflow: ci/actions-matrix.sh on ci/targets ({MATRIX_SCRIPT.relative_to(ROOT)})")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin"}
    run = subprocess.run(["bash", str(MATRIX_SCRIPT)], capture_output=True, text=True, env=env)
    matrices: dict[str, list[dict]] = {}
    if run.returncode != 0:
        problem(f"ci/actions-matrix.sh failed: {run.stderr.strip()}")
    else:
        for line in run.stdout.splitlines():
            key, _, value = line.partition("=")
            try:
                matrices[key] = json.loads(value)["include"]
            except (ValueError, KeyError, TypeError) as e:
                problem(f"ci/actions-matrix.sh printed an invalid matrix for {key!r}: {e}")
        ok(f"keys {', '.join(matrices)}")

    print("workflow: every ci/targets cell is handled by exactly one job")
    placed: dict[str, list[str]] = {}
    for key, items in matrices.items():
        for item in items:
            placed.setdefault(item.get("cell", "?"), []).append(key)
    before = len(problems)
    for c in cells:
        h = handler(c["actions"])
        if h is None:
            problem(f"cell {c['cell']}: actions {c['actions']!r} is handled by no job")
            continue
        where = placed.get(c["cell"], [])
        if matrices and where != [h[0]]:
            problem(f"cell {c['cell']}: expected in matrix {h[0]!r}, ci/actions-matrix.sh put it in {where}")
    for cell in sorted(set(placed) - {c["cell"] for c in cells}):
        problem(f"ci/actions-matrix.sh produced cell {cell!r} that ci/targets does not have")
    if len(problems) == before:
        ok(f"{len(cells)} cells -> " + ", ".join(f"{k} {len(v)}" for k, v in matrices.items()))

    print(f"workflow: jobs and matrix keys ({WORKFLOW.relative_to(ROOT)})")
    before = len(problems)
    try:
        text = WORKFLOW.read_text()
    except OSError as e:
        problem(f"cannot read the workflow: {e}")
        return
    jobs = workflow_jobs(text)
    for job in JOBS:
        if job not in jobs:
            problem(f"job {job!r} missing from the workflow")
    for job in sorted(set(jobs) - set(JOBS)):
        problem(f"job {job!r} is not one this check knows; add it to JOBS and to ci-ok's needs")

    declared = set(re.findall(r"^      ([A-Za-z0-9_-]+): \$\{\{ steps\.matrix\.outputs\.\1 \}\}\s*$",
                              jobs.get("targets", ""), re.M))
    read = set(re.findall(r"needs\.targets\.outputs\.([A-Za-z0-9_-]+)", text))
    produced = set(matrices)
    if produced and declared != produced:
        problem(f"targets job declares outputs {sorted(declared)}, ci/actions-matrix.sh prints {sorted(produced)}")
    if produced and read != produced:
        problem(f"jobs read needs.targets.outputs {sorted(read)}, ci/actions-matrix.sh prints {sorted(produced)}")
    used_keys = {handler(c["actions"]) for c in cells} - {None}
    for key, job in sorted(used_keys):
        body = jobs.get(job, "")
        if f"fromJSON(needs.targets.outputs.{key})" not in body:
            problem(f"job {job!r} does not take its matrix from fromJSON(needs.targets.outputs.{key})")
    m = re.search(r"^    needs: \[([^\]]*)\]\s*$", jobs.get("ci-ok", ""), re.M)
    needs = {n.strip() for n in m.group(1).split(",")} if m else set()
    missing = set(JOBS) - {"ci-ok"} - needs
    if missing:
        problem(f"ci-ok does not need {sorted(missing)} (write `needs: [a, b, ...]` on one line)")
    if "if: always()" not in jobs.get("ci-ok", ""):
        problem("ci-ok must run with `if: always()` to report failed or cancelled jobs")
    for script in sorted(set(re.findall(r"\b(ci/[A-Za-z0-9_./-]+\.(?:sh|py))\b", text))):
        if not (ROOT / script).is_file():
            problem(f"the workflow runs {script}, which does not exist")
    if len(problems) == before:
        ok(f"jobs {', '.join(jobs)}; matrix keys {', '.join(sorted(produced))} declared, produced and read; ci-ok needs all")


def main() -> int:
    if sys.version_info < (3, 11):
        print("error: python >= 3.11 needed (tomllib)", file=sys.stderr)
        return 1
    cells = read_cells()
    print(f"ci/targets: {len(cells)} cells")
    check_cross_toml(cells)
    check_workflow(cells)
    if problems:
        print(f"check-cross-config: {len(problems)} problem(s)")
        return 1
    print("check-cross-config: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
