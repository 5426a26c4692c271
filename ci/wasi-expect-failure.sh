#!/usr/bin/env bash
# The expect-failure cell: build the portable-echo binary for WASI, run it
# in wasmtime and require the documented failure. On wasm32-wasip1 mio has
# no TcpListener::bind, so `main` panics; a panic aborts on wasm, and
# wasmtime reports the trap with exit status 134 on Unix hosts (3 on
# Windows hosts).
#
#   ci/wasi-expect-failure.sh CELL
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/wasi-expect-failure.sh CELL}"
ci_cell_env
cd "$ci_root"
tc=$(ci_rust_toolchain)

expected_message="can't bind to an address with wasi"
case $(uname -s) in
    MINGW* | MSYS* | CYGWIN*) expected_status=3 ;;
    *) expected_status=134 ;;
esac

ci_show_env
echo "==> build: cargo +$tc build --locked --bin portable-echo --target $target"
cargo "+$tc" build --locked --bin portable-echo --target "$target"

out="${CARGO_TARGET_DIR:-$ci_root/target}/$target/debug"
wasm="$out/portable-echo.wasm"
stderr="$out/$cell.stderr"
echo "==> expect-failure: wasmtime $wasm (want exit $expected_status and \"$expected_message\" on stderr)"
status=0
wasmtime "$wasm" 2>"$stderr" || status=$?
sed 's/^/  stderr: /' "$stderr"

fail=0
if [ "$status" -ne "$expected_status" ]; then
    echo "FAIL: exit status $status, want $expected_status"
    fail=1
fi
if ! grep -qF "$expected_message" "$stderr"; then
    echo "FAIL: stderr lacks \"$expected_message\""
    fail=1
fi
if [ "$fail" -eq 0 ]; then
    echo "ok: exit status $status and the expected message"
fi
exit "$fail"
