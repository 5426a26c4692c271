#!/usr/bin/env python3
"""cross.toml against the cross the workflow pins, and against ci/targets.

    python3 ci/check-cross-config.py        (Python >= 3.11: tomllib)

  * the workflow's CROSS_REV is the commit the key sets below were read at
    (bump both together, after reading the new commit's sources);
  * every key of cross.toml is one that commit accepts, with the right type,
    and every `runner` one it knows;
  * its [target.*] set equals the ci/targets cells whose `actions` is `cross`;
  * each of those uses cross's `:main` image of that target.

Exit status 1 on any finding; every check prints what it checked.
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci"))
from importlib import import_module  # noqa: E402

read_cells = import_module("actions-matrix").read_cells

# Read at cross-rs/cross 8c1a8aa4b661711f4b7b6ac07c2e8929ce2f7d27 (main, 2026-08-19):
#   src/cross_toml.rs  CrossToml         { target, build }
#                      CrossBuildConfig  { env, build-std, zig, default-target,
#                                          pre-build, dockerfile }        (kebab-case)
#                      CrossTargetConfig { build-std, zig, image, dockerfile,
#                                          pre-build, runner, env }       (kebab-case)
#                      CrossEnvConfig    { volumes, passthrough }
#                      CrossTargetDockerfileConfig { file, context, build-args }
#                      CrossZigConfig    { enable, version, image }
#   src/docker/image.rs  PossibleImage { name, toolchain }  (the table form of `image`)
#   docker/linux-runner, docs/config_file.md: runner is native, qemu-user or qemu-system
# (`xargo` is gone: removed on main by 452dc27, 2026-01-03, "src: Remove xargo support".)
# Any other key is collected by serde_ignored and warned about, and warnings
# fail cross under CI (src/shell.rs should_fail).
CROSS_COMMIT = "8c1a8aa4b661711f4b7b6ac07c2e8929ce2f7d27"
ENV = {"volumes": "strlist", "passthrough": "strlist"}
DOCKERFILE = {"file": "str", "context": "str", "build-args": "strmap"}
IMAGE = {"name": "str", "toolchain": "strlist"}
ZIG = {"enable": "bool", "version": "str", "image": ("str|table", IMAGE)}
BUILD = {
    "env": ("table", ENV),
    "build-std": "bool|strlist",
    "zig": ("bool|str|table", ZIG),
    "default-target": "str",
    "pre-build": "str|strlist",
    "dockerfile": ("str|table", DOCKERFILE),
}
TARGET = {
    "build-std": "bool|strlist",
    "zig": ("bool|str|table", ZIG),
    "image": ("str|table", IMAGE),
    "dockerfile": ("str|table", DOCKERFILE),
    "pre-build": "str|strlist",
    "runner": "runner",
    "env": ("table", ENV),
}
RUNNERS = {"native", "qemu-user", "qemu-system"}

problems = []


def problem(msg):
    problems.append(msg)
    print(f"  FAIL {msg}")


def is_type(value, kind):
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if kind == "strmap":
        return isinstance(value, dict) and all(isinstance(x, str) for x in value.values())
    if kind == "runner":
        return isinstance(value, str) and value in RUNNERS
    return isinstance(value, {"str": str, "bool": bool, "table": dict}[kind])


def check(path, value, spec):
    kinds, keys = spec if isinstance(spec, tuple) else (spec, None)
    if not any(is_type(value, k) for k in kinds.split("|")):
        problem(f"{path}: {value!r} is not {kinds}" + (f" (runners: {sorted(RUNNERS)})" if kinds == "runner" else ""))
    elif keys is not None and isinstance(value, dict):
        check_table(path, value, keys)


def check_table(path, table, allowed):
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        if key in allowed:
            check(where, value, allowed[key])
        else:
            problem(f"{where}: unknown key (cross warns 'found unused key(s)', fatal under CI); "
                    f"allowed here: {', '.join(sorted(allowed))}")


def main():
    print(f"workflow: CROSS_REV is {CROSS_COMMIT[:12]}, the commit these key sets were read at")
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    pinned = re.findall(r"^\s*CROSS_REV:\s*([0-9a-f]+)", workflow, re.M)
    if pinned != [CROSS_COMMIT]:
        problem(f"the workflow pins CROSS_REV {pinned}, this check was written from {CROSS_COMMIT}: "
                "read the new commit's src/cross_toml.rs and runners, then update both")

    print("cross.toml: keys and types against the pinned cross")
    try:
        config = tomllib.loads((ROOT / "cross.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        problem(f"cross.toml cannot be read as TOML: {e}")
        return 1
    before = len(problems)
    for key, value in config.items():
        if key == "build":
            check("build", value, ("table", BUILD))
        elif key == "target" and isinstance(value, dict):
            for triple, table in value.items():
                check(f"target.{triple}", table, ("table", TARGET))
        else:
            problem(f"{key}: unknown top-level key (cross knows build and target)")
    if len(problems) == before:
        print("  ok   every key is one the pinned cross accepts, with its type")

    print("cross.toml: [target.*] against the ci/targets cells whose actions is `cross`")
    cells, errors = read_cells()
    for e in errors:
        problem(e)
    want = {c["target"]: c["cell"] for c in cells if c["actions"] == "cross"}
    have = set(config.get("target", {}))
    for t in sorted(set(want) - have):
        problem(f"cell {want[t]} ({t}) runs under cross but cross.toml has no [target.{t}]")
    for t in sorted(have - set(want)):
        problem(f"cross.toml has [target.{t}] but no ci/targets cell with actions `cross` uses {t}")
    if set(want) == have:
        print(f"  ok   {len(have)} targets, same set: {', '.join(sorted(have))}")

    print("cross.toml: each cross target uses ghcr.io/cross-rs/<target>:main")
    before = len(problems)
    for t in sorted(have & set(want)):
        image = config["target"][t].get("image")
        name = image.get("name") if isinstance(image, dict) else image
        if name != f"ghcr.io/cross-rs/{t}:main":
            problem(f"target.{t}.image is {name!r}, expected 'ghcr.io/cross-rs/{t}:main'")
    if len(problems) == before:
        print("  ok   every cross target uses its :main image")

    print(f"check-cross-config: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
