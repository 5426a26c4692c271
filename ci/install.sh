#!/usr/bin/env bash
# Install what matrix cells need, saying what is installed and for which
# cells. Each cell's needs follow from its row in ci/targets and from
# CELL_VIA (see ci/run-cell.sh). Used here by ci/matrix.sh and by every
# GitHub Actions job before it runs a cell. Bash 3.2 compatible (macOS).
#
#   ci/install.sh [CELL...]          install what is missing (default: every cell)
#   ci/install.sh --check [CELL...]  install nothing; print one `missing:`
#                                    line per missing tool, exit 1 if any
#
# Installs: rustup toolchains (ci/stable, ci/nightly, the msrv), components
# and targets; Debian packages (qemu-user, cross gcc + libc, mingw-w64,
# wine, shellcheck, g++), after one `apt-get update`; and two pinned tools
# built with `cargo install --locked` (crates checked against crates.io by
# the checksums in their own Cargo.lock): the wasmtime CLI and cargo-fuzz. With
# CELL_VIA=cross, test cells need cross (the workflow installs it from git
# at its pinned CROSS_REV) instead of a local linker and emulator.
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"

# wasmtime-cli on crates.io; 48.x is the last that builds with Rust 1.95.
wasmtime_version=48.0.8
# cargo-fuzz on crates.io, for the fuzz cell.
cargo_fuzz_version=0.13.2

# The Debian architecture of a GNU triple (aarch64-linux-gnu -> arm64).
deb_arch() {
    dpkg-architecture -t "$1" -qDEB_HOST_ARCH 2>/dev/null
}

# What CELL needs, one need per line:
#   rustup-toolchain TOOLCHAIN
#   rustup-component TOOLCHAIN COMPONENT
#   rustup-target    TOOLCHAIN TRIPLE
#   apt              PACKAGE PROBE   (a command, or a path that must exist)
#   wasmtime         VERSION
#   cargo-tool       CRATE VERSION   (cargo install CRATE@VERSION --locked)
#   cross            -               (installed by the workflow, not here)
needs() {
    ci_cell "$1"
    if [ "$kind" = config ]; then
        echo "apt shellcheck shellcheck"
        # ci/coverage.py: rustc --print cfg, cargo metadata.
        echo "rustup-toolchain $(ci_pin stable)"
        return
    fi
    local tc gnu arch via=${CELL_VIA:-}
    tc=$(ci_rust_toolchain)
    echo "rustup-toolchain $tc"
    [ "$toolchain" = msrv ] || echo "rustup-component $tc clippy"
    if [ "$kind/$runner/$cfg" = test/native/- ]; then
        echo "rustup-component $tc rustfmt"
    fi
    case $kind in
        fuzz)
            echo "cargo-tool cargo-fuzz $cargo_fuzz_version"
            echo "apt g++ g++"
            ;;
        miri) echo "rustup-component $tc miri" ;;
        asan | tsan) echo "rustup-component $tc rust-src" ;;
    esac
    if [ "$toolchain" = nightly-build-std ]; then
        echo "rustup-component $tc rust-src"
    elif [ "$target" != "$host" ]; then
        echo "rustup-target $tc $target"
    fi
    if [ "$kind" = test ] && [ "$via" = cross ]; then
        echo "cross -"
        return
    fi
    case $linker in
        -) ;;
        *-w64-mingw32-gcc) echo "apt mingw-w64 $linker" ;;
        *-linux-gnu*-gcc)
            gnu=$(ci_gnu_triple)
            echo "apt gcc-$gnu $linker"
            # gcc-<triple> recommends its libc; name it when dpkg-dev can.
            if arch=$(deb_arch "$gnu"); then
                echo "apt libc6-dev-$arch-cross /usr/$gnu/lib/libc.so"
            else
                echo "apt gcc-$gnu /usr/$gnu/lib/libc.so"
            fi
            ;;
        *) echo "error: cell $cell: don't know how to install linker '$linker'" >&2 ;;
    esac
    case $runner in
        qemu-*) echo "apt qemu-user $runner" ;;
        wine)
            echo "apt wine wine"
            echo "apt wine64 /usr/lib/wine/wine64"
            ;;
        wasmtime) echo "wasmtime $wasmtime_version" ;;
    esac
}

# Listings are read whole before they are searched: `cmd | grep -q` under
# pipefail fails when grep exits at its first match while cmd still writes
# (cmd dies of SIGPIPE or EPIPE), and a tool that is there would look missing.
have() {
    local listing
    case $1 in
        rustup-toolchain) rustup run "$2" rustc --version >/dev/null 2>&1 ;;
        rustup-component)
            listing=$(rustup component list --installed --toolchain "$2" 2>/dev/null) &&
                grep -Eq "^$3(-|\$)" <<<"$listing"
            ;;
        rustup-target)
            listing=$(rustup target list --installed --toolchain "$2" 2>/dev/null) &&
                grep -qx "$3" <<<"$listing"
            ;;
        apt) case $3 in /*) [ -e "$3" ] ;; *) command -v "$3" >/dev/null ;; esac ;;
        wasmtime) listing=$(wasmtime --version 2>/dev/null) && grep -qF " $2" <<<"$listing" ;;
        cargo-tool) listing=$(cargo install --list 2>/dev/null) && grep -qx "$2 v$3:" <<<"$listing" ;;
        cross) command -v cross >/dev/null ;;
    esac
}

describe() {
    case $1 in
        rustup-toolchain) echo "rust toolchain $2 (rustup toolchain install $2 --profile minimal)" ;;
        rustup-component) echo "$3 for $2 (rustup component add --toolchain $2 $3)" ;;
        rustup-target) echo "std for $3 on $2 (rustup target add --toolchain $2 $3)" ;;
        apt) echo "$3 (Debian package $2)" ;;
        wasmtime) echo "wasmtime $2 (cargo install wasmtime-cli@$2 --locked)" ;;
        cargo-tool) echo "$2 $3 (cargo install $2@$3 --locked)" ;;
        cross) echo "cross (CELL_VIA=cross: the workflow installs it from git at CROSS_REV)" ;;
    esac
}

mode=install
if [ "${1:-}" = --check ]; then
    mode=check
    shift
fi
if [ $# -eq 0 ]; then
    # shellcheck disable=SC2046 # cell names are single words
    set -- $(ci_cells | awk '{ print $1 }')
fi
host=$(ci_host 2>/dev/null || true)

# Missing needs, one line each, in first-seen order: `NEED|CELL CELL...`.
missing=
find_missing() {
    local c need lines=
    for c in "$@"; do
        while read -r need; do
            [ -n "$need" ] || continue
            # shellcheck disable=SC2086 # a need is words
            have $need && continue
            lines="$lines$need|$c"$'\n'
        done <<<"$(needs "$c")"
    done
    missing=$(printf '%s' "$lines" | awk -F'|' '
        !($1 in cells) { order[++n] = $1 }
        { cells[$1] = cells[$1] " " $2 }
        END { for (i = 1; i <= n; i++) print order[i] "|" cells[order[i]] }')
}

report_missing() {
    local need cells
    [ -n "$missing" ] || return 0
    while IFS='|' read -r need cells; do
        # shellcheck disable=SC2086
        echo "missing: $(describe $need), needed by$cells"
    done <<<"$missing"
    return 1
}

find_missing "$@"
if [ "$mode" = check ]; then
    report_missing
    exit
fi

if [ -z "$missing" ]; then
    echo "install: nothing missing for $*"
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
    sudo=sudo
fi

# Debian packages first (one update, one install), then rustup, then the
# slow wasmtime build.
packages=
while IFS='|' read -r need cells; do
    read -r what pkg _ <<<"$need"
    if [ "$what" = apt ] && [[ " $packages " != *" $pkg "* ]]; then
        packages="$packages $pkg"
        echo "install: Debian package $pkg, needed by$cells"
    fi
done <<<"$missing"
if [ -n "$packages" ]; then
    echo "install: apt-get update && apt-get install -y$packages"
    $sudo apt-get update
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y $packages || true
fi

while IFS='|' read -r need cells; do
    read -r what arg1 arg2 <<<"$need"
    case $what in
        rustup-toolchain)
            echo "install: rustup toolchain install $arg1 --profile minimal, needed by$cells"
            rustup toolchain install "$arg1" --profile minimal --no-self-update || true
            ;;
        rustup-component)
            echo "install: rustup component add --toolchain $arg1 $arg2, needed by$cells"
            rustup component add --toolchain "$arg1" "$arg2" || true
            ;;
        rustup-target)
            echo "install: rustup target add --toolchain $arg1 $arg2, needed by$cells"
            rustup target add --toolchain "$arg1" "$arg2" || true
            ;;
        wasmtime)
            # Someone (the lead's setup, a previous run) may be installing it
            # now: wait for that instead of starting a second build.
            pid=$(pgrep -f "cargo install wasmtime-cli" | head -n 1 || true)
            if [ -n "$pid" ]; then
                echo "install: waiting for the running 'cargo install wasmtime-cli' (pid $pid)"
                while kill -0 "$pid" 2>/dev/null; do sleep 10; done
            fi
            if ! have wasmtime "$arg1"; then
                stable=$(ci_pin stable)
                echo "install: cargo +$stable install wasmtime-cli@$arg1 --locked (the longest install: minutes, 16 to 18 on earlier 2-core machines), needed by$cells"
                cargo "+$stable" install "wasmtime-cli@$arg1" --locked || true
            fi
            ;;
        cargo-tool)
            stable=$(ci_pin stable)
            echo "install: cargo +$stable install $arg1@$arg2 --locked, needed by$cells"
            cargo "+$stable" install "$arg1@$arg2" --locked || true
            ;;
    esac
done <<<"$missing"

find_missing "$@"
report_missing
