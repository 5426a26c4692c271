#!/usr/bin/env bash
# Run the test suite of one `test` cell: `cargo test` for the cell's target
# under the cell's runner (native, qemu-user, wine or wasmtime), or, with
# CELL_VIA=cross, `cross test` (cross's image provides qemu or Wine).
#
#   ci/test.sh CELL
#
# The black-box tests (black_box::*) start the built binary through the
# same runner: tests/common/launch.rs reads CARGO_TARGET_<TRIPLE>_RUNNER,
# which cargo's environment passes on to the tests (under cross too).
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/test.sh CELL}"
ci_cell_env
cd "$ci_root"

# tests/soak.rs soaks 3 s by default; the first plain native test cell of
# ci/targets (linux-epoll) soaks 30 s, so the long soak costs one cell.
# (awk reads to the end: an early `exit` could make ci_cells die of SIGPIPE
# mid-write, which pipefail and set -e turn into a silent exit of this script.)
soak_cell=$(ci_cells | awk '$3 == "test" && $6 == "native" && $8 == "-" && !found { print $1; found = 1 }')
if [ "$cell" = "$soak_cell" ]; then
    export PORTABLE_ECHO_SOAK_SECS=${PORTABLE_ECHO_SOAK_SECS:-30}
fi

tc=$(ci_rust_toolchain)
if [ "${CELL_VIA:-}" = cross ]; then
    # cross reads cross.toml only through CROSS_CONFIG (see cross.toml).
    export CROSS_CONFIG="$ci_root/cross.toml"
    step=cross-test
    cargo=(cross "+$tc" test --locked --no-fail-fast --target "$target")
else
    step="test"
    cargo=(cargo "+$tc" test --locked --no-fail-fast)
    if [ "$runner" != native ]; then
        cargo+=(--target "$target")
    fi
fi
ci_show_env

echo "==> $step: ${cargo[*]}"
"${cargo[@]}"
