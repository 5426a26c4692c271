#!/usr/bin/env bash
# Run the portability matrix of ci/targets on this machine, no Docker: every
# selected cell through ci/run-cell.sh, then one report.
#
#   ci/matrix.sh [--cell NAME] [--target TRIPLE] [--kind KIND] [--no-install]
#
#   --cell NAME      only this cell (repeatable, or a comma list)
#   --target TRIPLE  only cells of this target (repeatable, comma list)
#   --kind KIND      only cells of this kind: test, check, expect-failure,
#                    config (repeatable, comma list)
#   --no-install     install nothing; cells missing a tool are UNAVAILABLE
#   --help           this text
#
# Each cell's full log is target/matrix-logs/<cell>.log. ci/report.py prints
# the table and writes target/matrix-report.json and .md. Exits non-zero if
# a cell failed, or, with CI=true, if a cell was UNAVAILABLE.
set -euo pipefail
ci=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cells.sh
. "$ci/cells.sh"
cd "$ci_root"

usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"; }

want_cells=() want_targets=() want_kinds=() install=1
while [ $# -gt 0 ]; do
    case $1 in
        --cell) IFS=, read -ra v <<<"${2:?--cell needs a NAME}"; want_cells+=("${v[@]}"); shift ;;
        --target) IFS=, read -ra v <<<"${2:?--target needs a TRIPLE}"; want_targets+=("${v[@]}"); shift ;;
        --kind) IFS=, read -ra v <<<"${2:?--kind needs a KIND}"; want_kinds+=("${v[@]}"); shift ;;
        --no-install) install=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# wanted VALUE LIST...: is VALUE in LIST? An empty list wants everything.
wanted() {
    local value=$1 x
    shift
    [ $# -eq 0 ] && return 0
    for x in "$@"; do [ "$x" = "$value" ] && return 0; done
    return 1
}

rows=$(ci_cells | awk '{ print $1, $2, $3 }')
for c in ${want_cells[@]+"${want_cells[@]}"}; do
    awk -v c="$c" '$1 == c { f = 1 } END { exit !f }' <<<"$rows" ||
        { echo "error: no cell named '$c' in ci/targets" >&2; exit 2; }
done
selected=()
while read -r name tgt knd; do
    wanted "$name" ${want_cells[@]+"${want_cells[@]}"} || continue
    wanted "$tgt" ${want_targets[@]+"${want_targets[@]}"} || continue
    wanted "$knd" ${want_kinds[@]+"${want_kinds[@]}"} || continue
    selected+=("$name")
done <<<"$rows"
if [ "${#selected[@]}" -eq 0 ]; then
    echo "error: no cell matches the selection" >&2
    exit 2
fi

logs="$ci_root/target/matrix-logs"
mkdir -p "$logs"
echo "matrix: ${#selected[@]} cells: ${selected[*]}"

if [ "$install" = 1 ]; then
    echo "matrix: installing what is missing (log: target/matrix-logs/install.log)"
    "$ci/install.sh" "${selected[@]}" >"$logs/install.log" 2>&1 || true
    grep -E '^(install|missing):' "$logs/install.log" | sed 's/^/  /' || true
else
    export MATRIX_NO_INSTALL=1
fi

# Ctrl-C or TERM: pass the signal on to the running cell; timeout runs it in
# a process group of its own and passes it to the whole cell (cargo, qemu...).
cell_pid=
trap '[ -z "$cell_pid" ] || kill -TERM "$cell_pid" 2>/dev/null; exit 130' INT TERM

limit=${MATRIX_CELL_TIMEOUT:-1800}
for name in "${selected[@]}"; do
    log="$logs/$name.log"
    if ! missing=$("$ci/install.sh" --check "$name"); then
        { echo "cell: $name"; echo "result: UNAVAILABLE seconds=0 reason=${missing//$'\n'/; }"; } >"$log"
    else
        start=$SECONDS status=0
        timeout --kill-after=30 "$limit" "$ci/run-cell.sh" "$name" >/dev/null 2>&1 &
        cell_pid=$!
        wait "$cell_pid" || status=$?
        cell_pid=
        # ci/run-cell.sh ends its log with a result line; these are read
        # after it, the last one counts.
        if [ "$status" -eq 124 ]; then
            echo "result: FAIL seconds=$((SECONDS - start)) reason=timed out after ${limit}s" >>"$log"
        elif [ "$status" -ne 0 ] && missing=$(grep -m1 '^error: missing tool' "$log"); then
            echo "result: UNAVAILABLE seconds=$((SECONDS - start)) reason=${missing#error: }" >>"$log"
        fi
    fi
    "$ci/report.sh" --line "$name" || true
    if [ "$(sed -n 's/^result: \([A-Z]*\).*/\1/p' "$log" | tail -n 1)" = FAIL ]; then
        echo "---- last 40 lines of target/matrix-logs/$name.log"
        tail -n 40 "$log" | sed 's/^/| /'
        echo "----"
    fi
done

"$ci/report.sh" "${selected[@]}"
