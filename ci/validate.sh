#!/usr/bin/env bash
# Offline checks of the CI definition, no network needed once the tools are
# installed:
#
#   1. check-jsonschema: .github/workflows/ci.yml against the GitHub
#      workflow schema (vendored in check-jsonschema, no download)
#   2. zizmor --offline: no finding of medium or high severity
#      (accepted findings and why: .github/zizmor.yml)
#   3. shellcheck: every shell script in ci/ and .ci/run
#   4. ci/check-cross-config.py: cross.toml's keys against the pinned cross,
#      its targets against the cross cells of ci/targets
#   5. ci/check-workflow.py: pins carry SHA, tag and date; the nightly is
#      dated; FREEBSD_RELEASE is one the pinned freebsd-vm lists; every
#      actions value has a job, every job runs cells through ci/run-cell.sh
#      and writes a summary; no cell's commands in YAML
#   6. ci/coverage.py --check: every src/sys module and mio waker is
#      compiled by some cell, each this machine can run is run by one, each
#      cell's backend column is what src/sys and mio select, and README's
#      coverage table is the generated one (needs the toolchain of
#      ci/stable: rustc --print cfg, cargo metadata)
#
#   ci/validate.sh                install missing tools, then check
#   ci/validate.sh --no-install   check only; a missing tool is an error
#
# Tools: check-jsonschema, zizmor and PyYAML, pinned, from PyPI into a venv under
# ${XDG_CACHE_HOME:-~/.cache}/portable-echo/ (VALIDATE_VENV overrides);
# and from apt (Debian/Ubuntu): ShellCheck, if it is not on PATH. Needs python3 >= 3.11
# and, for check 6, the rustup toolchain of ci/stable (ci/install.sh ci-config).
set -euo pipefail

CHECK_JSONSCHEMA_VERSION=0.39.0
ZIZMOR_VERSION=1.32.0
PYYAML_VERSION=6.0.3

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

install=1
for arg in "$@"; do
    case $arg in
        --no-install) install=0 ;;
        -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "error: unknown argument '$arg' (usage: ci/validate.sh [--no-install])" >&2; exit 2 ;;
    esac
done

venv=${VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/portable-echo/validate-venv-cj$CHECK_JSONSCHEMA_VERSION-zz$ZIZMOR_VERSION-py$PYYAML_VERSION}
workflow=.github/workflows/ci.yml
zizmor_config=.github/zizmor.yml

say() { printf -- '--> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ tools
python_ok() {
    command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'
}
python_ok || die "python3 >= 3.11 is required (tomllib); found: $(python3 --version 2>&1 || echo none)"

venv_has() { # TOOL VERSION
    [ -x "$venv/bin/$1" ] || return 1
    local shown
    shown=$("$venv/bin/python" -m pip show --disable-pip-version-check "$1" 2>/dev/null) || return 1
    grep -qx "Version: $2" <<<"$shown"
}

pyyaml_ok() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import sys, yaml; sys.exit(yaml.__version__ != '$PYYAML_VERSION')" 2>/dev/null
}

if ! venv_has check-jsonschema "$CHECK_JSONSCHEMA_VERSION" || ! venv_has zizmor "$ZIZMOR_VERSION" || ! pyyaml_ok; then
    if [ "$install" = 0 ]; then
        die "missing tool: check-jsonschema $CHECK_JSONSCHEMA_VERSION, zizmor $ZIZMOR_VERSION or PyYAML $PYYAML_VERSION (expected in $venv; run ci/validate.sh without --no-install)"
    fi
    say "installing check-jsonschema==$CHECK_JSONSCHEMA_VERSION, zizmor==$ZIZMOR_VERSION and PyYAML==$PYYAML_VERSION from PyPI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "zizmor==$ZIZMOR_VERSION" "PyYAML==$PYYAML_VERSION"
fi

if ! command -v shellcheck >/dev/null; then
    [ "$install" = 1 ] || die "missing tool: shellcheck (apt-get install shellcheck)"
    command -v apt-get >/dev/null || die "missing tool: shellcheck, and no apt-get to install it"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing shellcheck with apt-get (not on PATH)"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi

say "tools: check-jsonschema $("$venv/bin/check-jsonschema" --version | awk '{print $NF}'), zizmor $("$venv/bin/zizmor" --version | awk '{print $NF}'), $(shellcheck --version | sed -n 's/^version: /shellcheck /p'), $(python3 --version)"

# ----------------------------------------------------------------- checks
failed=()
run_check() { # NAME COMMAND...
    local name=$1
    shift
    say "check $name: $*"
    if "$@"; then
        say "check $name: ok"
    else
        say "check $name: FAILED"
        failed+=("$name")
    fi
}

# 1. Schema: structure, keys, types of the workflow.
run_check schema "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$workflow"

# 2. zizmor, offline audits only, gating on medium and high.
run_check zizmor "$venv/bin/zizmor" --offline --no-progress --config "$zizmor_config" \
    --min-severity medium "$workflow"

# 3. shellcheck on every shell script in ci/ (by extension or shebang) and .ci/run.
scripts=()
while IFS= read -r -d '' f; do
    case $f in
        *.sh) scripts+=("$f") ;;
        *) head -n1 "$f" | grep -Eq '^#!.*\b(ba|da|k)?sh\b' && scripts+=("$f") ;;
    esac
done < <(find ci -type f -print0 | sort -z)
[ -f .ci/run ] && scripts+=(.ci/run)
if [ "${#scripts[@]}" = 0 ]; then
    say "check shellcheck: no shell scripts found"
    failed+=(shellcheck)
else
    run_check shellcheck shellcheck --external-sources --source-path=SCRIPTDIR "${scripts[@]}"
    say "shellcheck checked: ${scripts[*]}"
fi

# 4. cross.toml against the pinned cross and ci/targets.
run_check cross-config "$venv/bin/python" ci/check-cross-config.py

# 5. The workflow: pins, nightly, FreeBSD release, one way to run a cell.
run_check workflow "$venv/bin/python" ci/check-workflow.py

# 6. Which cells compile and run each backend and waker.
run_check coverage "$venv/bin/python" ci/coverage.py --check

if [ "${#failed[@]}" != 0 ]; then
    say "validate: FAILED: ${failed[*]}"
    exit 1
fi
say "validate: ok (schema, zizmor, shellcheck, cross-config, workflow, coverage)"
