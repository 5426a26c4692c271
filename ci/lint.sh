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

# --all / --workspace: the benchmarks (bench/) too, which cargo test does
# not build; fuzz/ is a workspace of its own (built by the fuzz cell),
# formatted here too.
echo "==> fmt: cargo +$tc fmt --all --check; the same for fuzz/Cargo.toml"
cargo "+$tc" fmt --all --check || failed="$failed fmt"
cargo "+$tc" fmt --all --check --manifest-path fuzz/Cargo.toml || failed="$failed fmt-fuzz"

echo "==> clippy: cargo +$tc clippy --locked --workspace --all-targets -- -D warnings"
cargo "+$tc" clippy --locked --workspace --all-targets -- -D warnings || failed="$failed clippy"

echo "==> doc: RUSTDOCFLAGS=-Dwarnings cargo +$tc doc --locked --no-deps"
RUSTDOCFLAGS=-Dwarnings cargo "+$tc" doc --locked --no-deps || failed="$failed doc"

if [ -n "$failed" ]; then
    echo "lint FAILED:$failed"
    exit 1
fi
