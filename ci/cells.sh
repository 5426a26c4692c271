# shellcheck shell=bash
# Reads ci/targets, the one list of matrix cells, and the toolchain pins
# ci/stable and ci/nightly. Sourced by the other scripts in ci/; it runs
# nothing by itself. Bash 3.2 compatible (macOS runners run it).
#
#   ci_cells              print the cells' rows (no comments, no blank lines)
#   ci_cell NAME          set cell, target, kind, backend, toolchain, runner,
#                         linker, cfg and actions from the row of cell NAME
#   ci_rust_toolchain     the rustup toolchain of the loaded cell
#   ci_host               this machine's Rust host triple
#   ci_cell_env           export the cargo environment of the loaded cell
#
# Everything a cell needs is derived from its row: no target is named here.

ci_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ci_targets="$ci_root/ci/targets"

ci_cells() {
    grep -Ev '^[[:space:]]*(#|$)' "$ci_targets"
}

ci_cell() {
    local row
    row=$(ci_cells | awk -v c="$1" '$1 == c')
    if [ -z "$row" ]; then
        echo "error: no cell named '$1' in ci/targets" >&2
        return 1
    fi
    # shellcheck disable=SC2034 # the variables are used by the caller
    read -r cell target kind backend toolchain runner linker cfg actions <<<"$row"
}

# The first line of a pin file (ci/stable, ci/nightly).
ci_pin() {
    sed -n '1p' "$ci_root/ci/$1"
}

# The cell's toolchain for `cargo +TOOLCHAIN` and `rustup toolchain install`.
ci_rust_toolchain() {
    case $toolchain in
        stable) ci_pin stable ;;
        nightly | nightly-build-std) ci_pin nightly ;;
        msrv) sed -n 's/^rust-version = "\(.*\)"/\1/p' "$ci_root/Cargo.toml" ;;
        *) echo "error: cell $cell: unknown toolchain '$toolchain'" >&2; return 1 ;;
    esac
}

# rustup's own host triple: known before any toolchain is installed.
ci_host() {
    rustup show | tr -d '\r' | sed -n 's/^Default host: //p'
}

# aarch64-linux-gnu-gcc -> aarch64-linux-gnu: the sysroot qemu-user loads
# the target's shared libraries from (/usr/<gnu triple>).
ci_gnu_triple() {
    echo "${linker%-gcc}"
}

# Variable names cargo reads for the target: CARGO_TARGET_<TRIPLE>_*.
ci_target_var() {
    echo "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_$1"
}

ci_cell_env() {
    # Builds go to cargo's target/ (or MATRIX_TARGET_DIR, e.g. outside the
    # directory a VM copies back); a cell whose RUSTFLAGS or toolchain would
    # thrash the shared build gets a folder of its own below it.
    local base=${MATRIX_TARGET_DIR:-$ci_root/target}
    if [ "$cfg" != - ] || [ "$toolchain" != stable ]; then
        export CARGO_TARGET_DIR="$base/cells/$cell"
    elif [ -n "${MATRIX_TARGET_DIR:-}" ]; then
        export CARGO_TARGET_DIR="$base"
    fi
    if [ "$cfg" != - ]; then
        local c
        for c in $(echo "$cfg" | tr , ' '); do
            RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg $c"
        done
        export RUSTFLAGS
    fi
    # Under cross, its image provides the linker and the runner.
    [ "${CELL_VIA:-}" != cross ] || return 0
    if [ "$linker" != - ]; then
        export "$(ci_target_var LINKER)=$linker"
    fi
    case $runner in
        # host: this host runs the target's binaries directly (e.g. musl).
        native | host | -) ;;
        qemu-*)
            export "$(ci_target_var RUNNER)=$runner -L /usr/$(ci_gnu_triple)"
            ;;
        wine)
            export "$(ci_target_var RUNNER)=wine"
            # Prefix and shim DLL live under target/ (ci/wine-setup.sh).
            export WINEPREFIX="$ci_root/target/wine/prefix"
            export WINEPATH="$ci_root/target/wine/dll"
            export WINEDEBUG=-all
            # No Mono/Gecko install dialogs, and no X display needed.
            export WINEDLLOVERRIDES="mscoree,mshtml="
            unset DISPLAY WAYLAND_DISPLAY
            ;;
        wasmtime)
            # Network for WASI preview 2 (its tests bind 127.0.0.1:0);
            # preview 1 programs ignore it.
            export "$(ci_target_var RUNNER)=wasmtime run -S inherit-network -S tcp"
            ;;
        *)
            echo "error: cell $cell: unknown runner '$runner'" >&2
            return 1
            ;;
    esac
}

# Print the environment a cell runs with, for its log.
ci_show_env() {
    env | grep -E '^(CARGO_TARGET_|CELL_VIA|CROSS_CONFIG|RUSTFLAGS|RUST_TEST_THREADS|WINE|PORTABLE_ECHO_|ASAN_OPTIONS|TSAN_OPTIONS)' | sort | sed 's/^/env: /' || true
}
