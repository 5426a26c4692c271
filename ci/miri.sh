#!/usr/bin/env bash
# The miri cell: the socket-free tests under Miri (undefined behaviour,
# out-of-bounds and aliasing errors in the state machine and its test
# doubles). Miri cannot run sockets, mio, threads of the server or /proc,
# so only these test targets run; a test in them that Miri cannot run
# carries #[cfg_attr(miri, ignore = "why")].
#
#   ci/miri.sh CELL
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/miri.sh CELL}"
ci_cell_env
tc=$(ci_rust_toolchain)
cd "$ci_root"
echo "exception: Miri runs only the socket-free tests (lib, state_machine, fuzz_regressions): it cannot run sockets, mio or /proc"
echo "==> miri: cargo +$tc miri test --locked --lib --test state_machine --test fuzz_regressions"
cargo "+$tc" miri test --locked --lib --test state_machine --test fuzz_regressions
