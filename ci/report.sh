#!/usr/bin/env bash
# Print the matrix report as a table and write it as JSON.
#
#   ci/report.sh RESULTS.tsv REPORT.json
#
# RESULTS.tsv has one line per cell (written by ci/matrix.sh), tab-separated:
#   cell target kind backend ran result passed failed ignored seconds
#   reason skipped skip_reason        ('-' for none; skipped is a comma list)
#
# The last line printed is the total of tests, `tests: N passed, M failed`.
# Exits 1 if a cell FAILed, or if a cell is UNAVAILABLE and CI=true.
set -euo pipefail
results=${1:?usage: ci/report.sh RESULTS.tsv REPORT.json}
json=${2:?usage: ci/report.sh RESULTS.tsv REPORT.json}

json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    printf '"%s"' "${s//$'\n'/\\n}"
}

# '-' (none) is null.
json_opt() {
    if [ "$1" = - ]; then echo null; else json_str "$1"; fi
}

# The table.
echo
printf '%-14s %-30s %-8s %-26s %-11s %6s %6s %7s %7s %5s\n' \
    cell target backend ran result passed failed ignored skipped secs
declare -i cells=0 pass=0 fail=0 unavailable=0 passed=0 failed=0 ignored=0 skipped=0
while IFS=$'\t' read -r c t k b r res p f i s _ sk _; do
    n=0
    [ "$sk" = - ] || n=$(tr , '\n' <<<"$sk" | wc -l)
    if [ "$k" = test ]; then
        printf '%-14s %-30s %-8s %-26s %-11s %6d %6d %7d %7d %5d\n' "$c" "$t" "$b" "$r" "$res" "$p" "$f" "$i" "$n" "$s"
    else
        printf '%-14s %-30s %-8s %-26s %-11s %6s %6s %7s %7s %5d\n' "$c" "$t" "$b" "$r" "$res" - - - - "$s"
    fi
    cells+=1 passed+=p failed+=f ignored+=i skipped+=n
    case $res in PASS) pass+=1 ;; FAIL) fail+=1 ;; *) unavailable+=1 ;; esac
done <"$results"
echo
echo "cells: $pass PASS, $fail FAIL, $unavailable UNAVAILABLE (of $cells)"

# Reasons and named exceptions, so nothing is skipped silently.
while IFS=$'\t' read -r c _ _ _ _ res _ _ _ _ reason sk skr; do
    [ "$reason" = - ] || echo "$res $c: $reason"
    [ "$sk" = - ] || echo "skipped by name in $c: ${sk//,/, } -- $skr"
done <"$results"

# The JSON report.
{
    echo "{"
    echo "  \"generated\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
    echo "  \"host\": $(json_str "$(rustc -vV | sed -n 's/^host: //p')"),"
    echo "  \"cells\": ["
    sep=
    while IFS=$'\t' read -r c t k b r res p f i s reason sk skr; do
        names=
        if [ "$sk" != - ]; then
            IFS=, read -ra list <<<"$sk"
            for x in "${list[@]}"; do names+="${names:+, }$(json_str "$x")"; done
        fi
        printf '%s    {"cell": %s, "target": %s, "kind": %s, "backend": %s, "ran": %s, "result": %s, "reason": %s, ' \
            "$sep" "$(json_str "$c")" "$(json_str "$t")" "$(json_str "$k")" "$(json_str "$b")" \
            "$(json_str "$r")" "$(json_str "$res")" "$(json_opt "$reason")"
        printf '"tests": {"passed": %d, "failed": %d, "ignored": %d}, "skipped": [%s], "skip_reason": %s, "seconds": %d, "log": %s}' \
            "$p" "$f" "$i" "$names" "$(json_opt "$skr")" "$s" \
            "$(json_str "target/matrix-logs/$c.log")"
        sep=$',\n'
    done <"$results"
    echo
    echo "  ],"
    echo "  \"totals\": {\"cells\": {\"pass\": $pass, \"fail\": $fail, \"unavailable\": $unavailable}, \"tests\": {\"passed\": $passed, \"failed\": $failed, \"ignored\": $ignored, \"skipped\": $skipped}}"
    echo "}"
} >"$json"
echo "report: ${json#"$PWD"/}"

status=0
[ "$fail" -eq 0 ] || status=1
if [ "${CI:-}" = true ] && [ "$unavailable" -gt 0 ]; then
    echo "CI=true: UNAVAILABLE cells fail the run"
    status=1
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
