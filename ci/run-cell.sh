#!/usr/bin/env bash
# Run one cell of ci/targets, whatever its kind. Each step prints a line
# `==> STEP: COMMAND` before running; ci/matrix.sh reads those lines to
# report what ran.
#
#   ci/run-cell.sh CELL
set -euo pipefail
ci=$(dirname "$0")
# shellcheck source=cells.sh
. "$ci/cells.sh"
ci_cell "${1:?usage: ci/run-cell.sh CELL}"
echo "cell: $cell target=$target kind=$kind backend=$backend toolchain=$toolchain runner=$runner linker=$linker cfg=$cfg"

case $kind/$runner in
    test/native)
        # The plain host build also gets formatting, clippy and docs; the
        # tests run even when those fail.
        status=0
        if [ "$cfg" = - ]; then
            "$ci/lint.sh" "$cell" || status=$?
        fi
        "$ci/test.sh" "$cell" || status=$?
        exit "$status"
        ;;
    test/wine)
        "$ci/wine-setup.sh" "$cell"
        status=0
        "$ci/test.sh" "$cell" || status=$?
        # Let this prefix's wineserver exit (it lingers ~3 s after the last
        # Windows process) so the cell leaves nothing running.
        (ci_cell_env && wineserver --wait) || true
        exit "$status"
        ;;
    test/*) "$ci/test.sh" "$cell" ;;
    check/*) "$ci/check.sh" "$cell" ;;
    expect-failure/wasmtime) "$ci/wasi-expect-failure.sh" "$cell" ;;
    *)
        echo "error: cell $cell: no script for kind '$kind' with runner '$runner'" >&2
        exit 1
        ;;
esac
