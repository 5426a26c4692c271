#!/usr/bin/env bash
# Run one cell of ci/targets: the one entry point of the matrix, used by
# ci/matrix.sh here and by every GitHub Actions job that runs cells. The
# cell's row decides what runs; the job only says how it provides the
# runner, in CELL_VIA:
#
#   (unset)  as on a developer's machine: a native test cell whose target is
#            not this host only type-checks for it, and says so
#   native   this machine is the cell's target (Actions runners, the FreeBSD
#            VM): a native test cell on any other host fails
#   cross    test cells run `cross test`; cross's image brings qemu or Wine
#
#   ci/run-cell.sh CELL
#
# Output goes to the terminal and to target/matrix-logs/CELL.log. Each step
# prints `==> STEP: COMMAND` before it runs, a named exception prints
# `exception: ...` or `skip: TEST (reason)`, and the last line is
# `result: PASS|FAIL seconds=N`: ci/report.py reads the log, nothing else.
set -euo pipefail
ci=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cells.sh
. "$ci/cells.sh"
ci_cell "${1:?usage: ci/run-cell.sh CELL}"
cd "$ci_root"

run() {
    echo "cell: $cell target=$target kind=$kind backend=$backend toolchain=$toolchain runner=$runner linker=$linker cfg=$cfg via=${CELL_VIA:-local}"
    case $kind/$runner in
        test/native) native_test ;;
        test/wine)
            if [ "${CELL_VIA:-}" = cross ]; then
                "$ci/test.sh" "$cell"
                return
            fi
            "$ci/wine-setup.sh" "$cell"
            # One wineserver for the whole cell. By default it exits 3 s
            # after the last Windows process, and a test binary that starts
            # at that moment dies with "wine client error:0: recvmsg:
            # Connection reset by peer" (seen here between two test binaries).
            (ci_cell_env && wineserver --wait && wineserver --persistent)
            local status=0
            other_os_test || status=$?
            # Stop it so the cell leaves nothing running.
            (ci_cell_env && wineserver --kill && wineserver --wait) || true
            return "$status"
            ;;
        test/wasmtime) other_os_test ;;
        test/*) "$ci/test.sh" "$cell" ;;
        check/-) "$ci/check.sh" "$cell" ;;
        expect-failure/wasmtime) "$ci/wasi-expect-failure.sh" "$cell" ;;
        serve/wasmtime) "$ci/serve.sh" "$cell" ;;
        fuzz/native) "$ci/fuzz.sh" "$cell" ;;
        miri/native) "$ci/miri.sh" "$cell" ;;
        asan/native | tsan/native) "$ci/sanitizer.sh" "$cell" ;;
        config/-)
            echo "==> validate: ci/validate.sh${MATRIX_NO_INSTALL:+ --no-install}"
            "$ci/validate.sh" ${MATRIX_NO_INSTALL:+--no-install}
            ;;
        *)
            echo "error: cell $cell: no way to run kind '$kind' with runner '$runner'" >&2
            return 1
            ;;
    esac
}

# A test cell for another operating system (Windows under Wine, WASI under
# wasmtime) also runs clippy for its target and cfg first: that code is
# linted nowhere else. The tests run even when clippy fails.
other_os_test() {
    local status=0
    "$ci/check.sh" "$cell" || status=$?
    "$ci/test.sh" "$cell" || status=$?
    return "$status"
}

# A native test cell tests where this host is its target; elsewhere it only
# type-checks for the target, unless the job promised the host is the target.
native_test() {
    local host status=0
    host=$(ci_host)
    if [ "$host" != "$target" ]; then
        if [ "${CELL_VIA:-}" = native ]; then
            echo "error: cell $cell wants a $target host but this is $host (CELL_VIA=native): fix its actions column in ci/targets" >&2
            return 1
        fi
        echo "exception: tests not run: this host is $host, not $target; only clippy for the target ran (Actions tests it on ${actions})"
        "$ci/check.sh" "$cell"
        return
    fi
    # The plain host build also gets formatting, clippy and docs; the tests
    # run even when those fail.
    if [ "$cfg" = - ]; then
        "$ci/lint.sh" "$cell" || status=$?
    fi
    "$ci/test.sh" "$cell" || status=$?
    return "$status"
}

logs="$ci_root/target/matrix-logs"
log="$logs/$cell.log"
mkdir -p "$logs"
start=$SECONDS
status=0
run 2>&1 | tee "$log" || status=$?
result=PASS
[ "$status" -eq 0 ] || result=FAIL
echo "result: $result seconds=$((SECONDS - start))" | tee -a "$log"
exit "$status"
