#!/usr/bin/env bash
# The asan and tsan cells: the Linux suite built with AddressSanitizer or
# ThreadSanitizer (std too: -Zbuild-std), the spawned binary included. A
# report from any process, child processes whose exit status no test reads
# included, fails the cell: the tools write to a fresh directory that must
# stay empty.
#
#   asan: every test (misuse of memory in the unsafe of the tests and of
#         mio, socket2, signal-hook, libc and std; leaks at every exit)
#   tsan: the tests that use threads (servers on a thread, StopHandle and
#         the waker, client threads, the signal thread of the binary)
#
#   ci/sanitizer.sh CELL     (the cell's kind names the sanitizer)
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/sanitizer.sh CELL}"
ci_cell_env
tc=$(ci_rust_toolchain)
cd "$ci_root"

# Tool options beyond the report directory: TSan sleeps 1 s before a process
# exits by default (atexit_sleep_ms, to catch races with exit handlers); the
# black-box stop tests time the binary's exit against a grace period of
# 0.5 to 0.9 s, so that second would be the tool's, not the server's.
case $kind in
    asan) sanitizer=address options=ASAN_OPTIONS tool_options='' tests=() ;;
    tsan)
        sanitizer=thread options=TSAN_OPTIONS tool_options=:atexit_sleep_ms=0
        tests=(--test echo --test linger --test faults --test soak --test cli --test host_faults --test exhaustion)
        ;;
    *) echo "error: cell $cell: kind '$kind' is not a sanitizer" >&2; exit 1 ;;
esac
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zsanitizer=$sanitizer"
export RUSTDOCFLAGS="-Zsanitizer=$sanitizer"
# tests/soak.rs: the child's resident set is the tool's under a sanitizer.
export PORTABLE_ECHO_SANITIZER=$sanitizer
# ci_cell_env gave the cell a target dir of its own (nightly toolchain).
reports="$CARGO_TARGET_DIR/reports"
rm -rf "$reports"
mkdir -p "$reports"
export "$options=log_path=$reports/$kind$tool_options"
echo "exception: the soak's resident-memory bound is not checked under the $sanitizer sanitizer (the tool owns the memory)"
ci_show_env

cargo=(cargo "+$tc" test --locked --no-fail-fast -Zbuild-std --target "$target" ${tests[@]+"${tests[@]}"})
echo "==> $kind: ${cargo[*]}"
status=0
"${cargo[@]}" || status=$?
if [ -n "$(ls -A "$reports")" ]; then
    echo "$kind: reports from the sanitizer:"
    cat "$reports"/*
    status=1
fi
exit "$status"
