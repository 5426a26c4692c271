#!/usr/bin/env bash
# Run the test suite of one `test` cell: `cargo test` for the cell's target
# under the cell's runner (native, qemu-user, wine or wasmtime), or, with
# CELL_VIA=cross, `cross test` (cross's image provides qemu or Wine).
#
#   ci/test.sh CELL
#
# Named exception: tests whose name contains `host_only_` spawn the built
# binary, which only works where that binary is native to the host. Every
# emulated cell skips them with `--skip host_only_` and prints one
# `skip: NAME (reason)` line per skipped test, so a skip is never silent.
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/test.sh CELL}"
ci_cell_env
cd "$ci_root"

case $runner in
    native) skip_reason= ;;
    qemu-*) skip_reason="spawns the built binary: qemu-user cannot exec a foreign-arch binary without binfmt_misc" ;;
    wine) skip_reason="spawns the built binary: run in native cells only, by policy (they do pass under Wine 8.0)" ;;
    wasmtime) skip_reason="spawns the built binary: the binary can't bind on WASI (and WASI cannot spawn processes)" ;;
    *) echo "error: cell $cell: unknown runner '$runner'" >&2; exit 1 ;;
esac

# tests/soak.rs: each soak runs this long in the matrix (3 s in a plain
# `cargo test`). wasmtime passes no environment; nothing soaks on WASI.
export PORTABLE_ECHO_SOAK_SECS=${PORTABLE_ECHO_SOAK_SECS:-30}

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

libtest=()
if [ -n "$skip_reason" ]; then
    libtest=(--skip host_only_)
    list="$ci_root/target/matrix-logs/$cell.tests"
    mkdir -p "$(dirname "$list")"
    echo "--> list: ${cargo[*]} -- --list"
    # A build error shows again, and fails the cell, in the run below.
    "${cargo[@]}" -- --list | tee "$list" || true
    sed -n 's/: test$//p' "$list" | grep -F host_only_ |
        while read -r name; do echo "skip: $name ($skip_reason)"; done || true
fi

# ${a[@]+"${a[@]}"}: bash 3.2 (macOS) calls an empty array unbound under set -u.
echo "==> $step: ${cargo[*]} --${libtest[*]+ ${libtest[*]}}"
"${cargo[@]}" -- ${libtest[@]+"${libtest[@]}"}
