# shellcheck shell=bash
# Reads ci/targets, the one list of matrix cells. Sourced by the other
# scripts in ci/; it runs nothing by itself.
#
#   ci_cells              print the cells' rows (no comments, no blank lines)
#   ci_cell NAME          set cell, target, kind, backend, toolchain, runner,
#                         linker, cfg and actions from the row of cell NAME
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

# The cell's toolchain for `cargo +TOOLCHAIN`.
ci_rust_toolchain() {
    case $toolchain in
        stable) echo stable ;;
        nightly-build-std) echo nightly ;;
        *) echo "error: cell $cell: unknown toolchain '$toolchain'" >&2; return 1 ;;
    esac
}

# aarch64-linux-gnu-gcc -> aarch64-linux-gnu: the sysroot qemu-user loads
# the target's shared libraries from (/usr/<gnu triple>).
ci_gnu_triple() {
    echo "${linker%-gcc}"
}

# Variable names cargo reads for the target: CARGO_TARGET_<TRIPLE>_*.
ci_target_var() {
    local t=${target^^}
    echo "CARGO_TARGET_${t//-/_}_$1"
}

ci_cell_env() {
    # One shared target dir (cargo keeps each --target in its own subfolder),
    # except for cells whose RUSTFLAGS or toolchain would thrash it.
    if [ "$cfg" != - ] || [ "$toolchain" != stable ]; then
        export CARGO_TARGET_DIR="$ci_root/target/cells/$cell"
    else
        export CARGO_TARGET_DIR="$ci_root/target"
    fi
    if [ "$cfg" != - ]; then
        export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg $cfg"
    fi
    if [ "$linker" != - ]; then
        export "$(ci_target_var LINKER)=$linker"
    fi
    case $runner in
        native | -) ;;
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
            export "$(ci_target_var RUNNER)=wasmtime"
            ;;
        *)
            echo "error: cell $cell: unknown runner '$runner'" >&2
            return 1
            ;;
    esac
}

# Print the environment a cell runs with, for its log.
ci_show_env() {
    env | grep -E '^(CARGO_TARGET_|RUSTFLAGS|RUST_TEST_THREADS|WINE|PORTABLE_ECHO_)' | sort | sed 's/^/env: /'
}
