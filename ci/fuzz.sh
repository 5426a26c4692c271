#!/usr/bin/env bash
# The fuzz cell: cargo-fuzz (libFuzzer) drives the connection state machine
# from the committed seed corpus for a fixed time; any violated invariant,
# panic, overflow, hang (10 s) or 2 GB of memory fails the cell, and the
# crash input is left in fuzz/artifacts/. What it covers: fuzz/README.md.
#
#   ci/fuzz.sh CELL          (FUZZ_SECONDS, default 60)
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/fuzz.sh CELL}"
tc=$(ci_rust_toolchain)
seconds=${FUZZ_SECONDS:-60}
cd "$ci_root/fuzz"

# libFuzzer writes what it finds to the first corpus directory: a fresh one
# outside the repository; the committed seeds are only read.
found="$ci_root/target/fuzz-corpus"
rm -rf "$found"
mkdir -p "$found"
echo "==> fuzz: cargo +$tc fuzz run -s none connection (${seconds} s from $(find corpus/connection -type f | wc -l) seeds)"
cargo "+$tc" fuzz run -s none connection "$found" corpus/connection -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1
echo "fuzz: corpus grew to $(find "$found" -type f | wc -l) inputs"
