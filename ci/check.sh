#!/usr/bin/env bash
# Lint (and so type-check) one `check` cell: a target this machine cannot
# run. Stable cells use the rustup-installed std; nightly-build-std cells
# (tier-3 targets without a prebuilt std) build std from rust-src.
#
#   ci/check.sh CELL
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/check.sh CELL}"
ci_cell_env
tc=$(ci_rust_toolchain)

cargo=(cargo "+$tc" clippy)
if [ "$toolchain" = nightly-build-std ]; then
    cargo+=(-Zbuild-std)
fi
cargo+=(--all-targets --target "$target")
ci_show_env

echo "==> clippy: ${cargo[*]} -- -D warnings"
"${cargo[@]}" -- -D warnings
