#!/usr/bin/env bash
# Formatting, lints and docs of the host build, as a contributor runs them.
# All three run even when one fails, so one run shows every problem.
#
#   ci/lint.sh CELL      (a native cell; the matrix uses the one without cfg)
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/lint.sh CELL}"
ci_cell_env
tc=$(ci_rust_toolchain)
failed=()

echo "==> fmt: cargo +$tc fmt --check"
cargo "+$tc" fmt --check || failed+=(fmt)

echo "==> clippy: cargo +$tc clippy --all-targets -- -D warnings"
cargo "+$tc" clippy --all-targets -- -D warnings || failed+=(clippy)

echo "==> doc: RUSTDOCFLAGS=-Dwarnings cargo +$tc doc --no-deps"
RUSTDOCFLAGS=-Dwarnings cargo "+$tc" doc --no-deps || failed+=(doc)

if [ "${#failed[@]}" -gt 0 ]; then
    echo "lint FAILED: ${failed[*]}"
    exit 1
fi
