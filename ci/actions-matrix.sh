#!/usr/bin/env bash
# Turn ci/targets, the one list of matrix cells, into the GitHub Actions
# matrices of .github/workflows/ci.yml (its `targets` job runs this).
#
#   ci/actions-matrix.sh            print KEY=JSON lines (also appended to
#                                   $GITHUB_OUTPUT when that is set)
#
# The `actions` column (9th) says which job runs a cell:
#
#   actions value                    output key  workflow job
#   ubuntu-*, macos-*, windows-*     test        test     (native cargo test on that runner)
#   cross                            cross       cross    (cross test, emulated)
#   wasmtime                         wasi        wasi     (wasm32-wasip1 under wasmtime)
#   freebsd-vm                       freebsd     freebsd  (cargo test in a FreeBSD VM)
#   check                            check       check    (clippy --target, no machine)
#
# Each output is {"include":[{...one object per cell...}]}. A row with a
# wrong column count, a duplicate cell name, a character that would need
# JSON escaping, or an `actions` value no job handles is an error, so the
# workflow cannot silently drop a cell (ci/check-cross-config.py checks the
# other direction: that the workflow consumes every key printed here).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
targets="$root/ci/targets"

out=$(awk '
    function fail(msg) { printf "error: ci/targets line %d: %s\n", NR, msg > "/dev/stderr"; bad = 1; exit 1 }
    function obj(    s) {
        s = sprintf("{\"cell\":\"%s\",\"target\":\"%s\",\"kind\":\"%s\",\"backend\":\"%s\",\"toolchain\":\"%s\",\"cfg\":\"%s\"", \
                    $1, $2, $3, $4, $5, $8)
        if (key == "test") s = s sprintf(",\"runner\":\"%s\"", $9)
        return s "}"
    }
    /^[[:space:]]*(#|$)/ { next }
    {
        if (NF != 9) fail(sprintf("expected 9 columns (cell target kind backend toolchain runner linker cfg actions), found %d", NF))
        for (i = 1; i <= NF; i++)
            if ($i !~ /^[A-Za-z0-9_.+-]+$/) fail(sprintf("column %d value \"%s\" has a character outside [A-Za-z0-9_.+-]", i, $i))
        if ($1 in seen) fail(sprintf("duplicate cell \"%s\"", $1))
        seen[$1] = 1
        a = $9
        if (a ~ /^(ubuntu|macos|windows)-/) key = "test"
        else if (a == "cross") key = "cross"
        else if (a == "wasmtime") key = "wasi"
        else if (a == "freebsd-vm") key = "freebsd"
        else if (a == "check") key = "check"
        else fail(sprintf("cell \"%s\": actions value \"%s\" is handled by no job (expected a ubuntu-/macos-/windows- runner label, cross, wasmtime, freebsd-vm or check)", $1, a))
        items[key] = items[key] (items[key] == "" ? "" : ",") obj()
        count[key]++
        cells++
    }
    END {
        if (bad) exit 1
        if (cells == 0) { print "error: ci/targets has no cells" > "/dev/stderr"; exit 1 }
        n = split("test cross wasi freebsd check", keys, " ")
        for (i = 1; i <= n; i++)
            printf "%s={\"include\":[%s]}\n", keys[i], items[keys[i]]
        for (i = 1; i <= n; i++)
            printf "%s %d cell(s)\n", keys[i], count[keys[i]] + 0 > "/dev/stderr"
    }
' "$targets")

printf '%s\n' "$out"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s\n' "$out" >>"$GITHUB_OUTPUT"
fi
