#!/usr/bin/env bash
# Formatting, lints and docs of the host build, as a contributor runs them.
# All three run even when one fails, so one run shows every problem.
#
#   ci/lint.sh CELL      (a native test cell without cfg, on its own host)
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/lint.sh CELL}"
ci_cell_env
cd "$ci_root"
tc=$(ci_rust_toolchain)
failed=

echo "==> fmt: cargo +$tc fmt --check"
cargo "+$tc" fmt --check || failed="$failed fmt"

echo "==> clippy: cargo +$tc clippy --locked --all-targets -- -D warnings"
cargo "+$tc" clippy --locked --all-targets -- -D warnings || failed="$failed clippy"

echo "==> doc: RUSTDOCFLAGS=-Dwarnings cargo +$tc doc --locked --no-deps"
RUSTDOCFLAGS=-Dwarnings cargo "+$tc" doc --locked --no-deps || failed="$failed doc"

if [ -n "$failed" ]; then
    echo "lint FAILED:$failed"
    exit 1
fi
