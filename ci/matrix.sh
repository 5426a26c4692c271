#!/usr/bin/env bash
# Run the portability matrix of ci/targets on this Linux machine, no Docker.
#
#   ci/matrix.sh [--cell NAME] [--target TRIPLE] [--kind KIND] [--no-install]
#
#   --cell NAME      only this cell (repeatable, or a comma list); the extra
#                    row `ci-config` runs ci/validate.sh
#   --target TRIPLE  only cells of this target (repeatable, comma list)
#   --kind KIND      only cells of this kind: test, check, expect-failure,
#                    config (repeatable, comma list)
#   --no-install     install nothing; cells missing a tool are UNAVAILABLE
#   --help           this text
#
# Each cell's full log is target/matrix-logs/<cell>.log; the report is
# printed as a table and written to target/matrix-report.json. Exits
# non-zero if a cell failed, or, with CI=true, if a cell was UNAVAILABLE.
set -euo pipefail
ci=$(dirname "$0")
# shellcheck source=cells.sh
. "$ci/cells.sh"
ci="$ci_root/ci"
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

# The rows to run: ci/targets plus the ci-config row (kind config, no target).
rows=$(ci_cells | awk '{ print $1, $2, $3, $4 }'; echo "ci-config - config -")
for c in "${want_cells[@]}"; do
    awk -v c="$c" '$1 == c { f = 1 } END { exit !f }' <<<"$rows" ||
        { echo "error: no cell named '$c' in ci/targets" >&2; exit 2; }
done
selected=()
while read -r name tgt knd _; do
    if [ "$name" = ci-config ] && [ "${#want_targets[@]}" -gt 0 ]; then continue; fi
    wanted "$name" "${want_cells[@]}" || continue
    wanted "$tgt" "${want_targets[@]}" || continue
    wanted "$knd" "${want_kinds[@]}" || continue
    selected+=("$name")
done <<<"$rows"
if [ "${#selected[@]}" -eq 0 ]; then
    echo "error: no cell matches the selection" >&2
    exit 2
fi

logs="$ci_root/target/matrix-logs"
results="$logs/results.tsv"
mkdir -p "$logs"
: >"$results"
echo "matrix: ${#selected[@]} cells: ${selected[*]}"

if [ "$install" = 1 ]; then
    echo "matrix: installing what is missing (log: target/matrix-logs/install.log)"
    "$ci/install.sh" "${selected[@]}" >"$logs/install.log" 2>&1 || true
    grep -E '^(install|missing):' "$logs/install.log" | sed 's/^/  /' || true
fi

# Sum libtest's "test result:" lines of a log: "passed failed ignored".
count_tests() {
    awk '/^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) ~ /^passed/) p += $i
                if ($(i + 1) ~ /^failed/) f += $i
                if ($(i + 1) ~ /^ignored/) g += $i
            }
         }
         END { print p + 0, f + 0, g + 0 }' "$1"
}

# run_logged LOG COMMAND...: run with a time limit, all output to LOG; sets
# result to PASS or FAIL, and reason when the time ran out. timeout runs the
# cell in its own process group; on Ctrl-C or TERM we pass the signal on,
# and timeout passes it to the whole cell (cargo, qemu, wine...).
cell_pid=
trap '[ -z "$cell_pid" ] || kill -TERM "$cell_pid" 2>/dev/null; exit 130' INT TERM
run_logged() {
    local log=$1 limit=${MATRIX_CELL_TIMEOUT:-1800} status=0
    shift
    timeout --kill-after=30 "$limit" "$@" >"$log" 2>&1 &
    cell_pid=$!
    wait "$cell_pid" || status=$?
    cell_pid=
    result=PASS
    if [ "$status" -ne 0 ]; then
        result=FAIL
        [ "$status" -ne 124 ] || reason="timed out after ${limit}s"
    fi
}

for name in "${selected[@]}"; do
    log="$logs/$name.log"
    start=$SECONDS
    reason=- ran=- passed=0 failed=0 ignored=0 skipped=- skip_reason=-
    if [ "$name" = ci-config ]; then
        # Not a target: the offline checks of the CI definition.
        tgt=- knd=config be=-
        validate=("$ci/validate.sh")
        [ "$install" = 1 ] || validate+=(--no-install)
        if [ ! -x "$ci/validate.sh" ]; then
            result=UNAVAILABLE reason="ci/validate.sh does not exist yet"
        elif ! missing=$("$ci/install.sh" --check ci-config); then
            result=UNAVAILABLE reason=${missing//$'\n'/; }
        else
            ran=validate
            run_logged "$log" "${validate[@]}"
            if [ "$result" = FAIL ] && missing=$(grep -m1 '^error: missing tool' "$log"); then
                result=UNAVAILABLE reason=${missing#error: }
            fi
        fi
    else
        ci_cell "$name"
        tgt=$target knd=$kind be=$backend
        if ! missing=$("$ci/install.sh" --check "$name"); then
            result=UNAVAILABLE reason=${missing//$'\n'/; }
        else
            run_logged "$log" "$ci/run-cell.sh" "$name"
            ran=$(sed -n 's/^==> \([a-z-]*\):.*/\1/p' "$log" | awk '!seen[$0]++' | paste -sd+ -)
            read -r passed failed ignored < <(count_tests "$log")
            skipped=$(sed -n 's/^skip: \([^ ]*\) .*/\1/p' "$log" | paste -sd, -)
            skip_reason=$(sed -n 's/^skip: [^ ]* (\(.*\))$/\1/p' "$log" | head -n 1)
            : "${ran:=-}" "${skipped:=-}" "${skip_reason:=-}"
        fi
    fi
    seconds=$((SECONDS - start))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$name" "$tgt" "$knd" "$be" "$ran" "$result" "$passed" "$failed" "$ignored" \
        "$seconds" "$reason" "$skipped" "$skip_reason" >>"$results"
    line="$result $name ($tgt, $ran)"
    [ "$knd" != test ] || line+=": $passed passed, $failed failed, $ignored ignored"
    [ "$skipped" = - ] || line+=", skipped by name: $skipped"
    [ "$reason" = - ] || line+=" -- $reason"
    echo "$line [${seconds}s]"
    if [ "$result" = FAIL ]; then
        echo "---- last 40 lines of target/matrix-logs/$name.log"
        tail -n 40 "$log" | sed 's/^/| /'
        echo "----"
    fi
done

"$ci/report.sh" "$results" "$ci_root/target/matrix-report.json"
