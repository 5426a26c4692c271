#!/usr/bin/env bash
# Type-check one cell for its target without running anything: clippy with
# -D warnings on every target of the crate (tests included), or plain
# `cargo check` on the msrv toolchain, whose older clippy lints differ.
# nightly-build-std cells (targets without a prebuilt std) build std from
# rust-src.
#
#   ci/check.sh CELL
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/check.sh CELL}"
ci_cell_env
cd "$ci_root"
tc=$(ci_rust_toolchain)
ci_show_env

if [ "$toolchain" = msrv ]; then
    echo "==> check: cargo +$tc check --locked --target $target"
    exec cargo "+$tc" check --locked --target "$target"
fi

cargo=(cargo "+$tc" clippy --locked)
if [ "$toolchain" = nightly-build-std ]; then
    cargo+=(-Zbuild-std)
fi
cargo+=(--all-targets --target "$target")
echo "==> clippy: ${cargo[*]} -- -D warnings"
"${cargo[@]}" -- -D warnings
