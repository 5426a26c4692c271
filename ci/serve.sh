#!/usr/bin/env bash
# The serve cell: the server built for a WASI target really serves. Builds
# the binary for the cell's target, then runs the native black-box tests
# (black_box::*) against it, each test starting it under wasmtime with the
# host's network. Tests what WASI preview 2 cannot do are ignored by the
# cell's cfg (portable_echo_wasmtime), each with its reason.
#
#   ci/serve.sh CELL
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/serve.sh CELL}"
ci_cell_env
cd "$ci_root"
tc=$(ci_rust_toolchain)
ci_show_env

echo "==> build: cargo +$tc build --locked --bin portable-echo --target $target"
cargo "+$tc" build --locked --bin portable-echo --target "$target"

# The launched server is the .wasm; the launcher is the cell's runner.
export PORTABLE_ECHO_BIN="${CARGO_TARGET_DIR:-$ci_root/target}/$target/debug/portable-echo.wasm"
PORTABLE_ECHO_LAUNCHER=$(printenv "$(ci_target_var RUNNER)")
export PORTABLE_ECHO_LAUNCHER
echo "==> serve: cargo +$tc test --locked --no-fail-fast -- black_box:: (server: $PORTABLE_ECHO_LAUNCHER $PORTABLE_ECHO_BIN)"
cargo "+$tc" test --locked --no-fail-fast -- black_box::
