#!/usr/bin/env bash
# Install what matrix cells need, saying what is installed and for which
# cells. Each cell's needs follow from its row in ci/targets.
#
#   ci/install.sh [CELL...]          install what is missing (default: every
#                                    cell, plus the ci-config row)
#   ci/install.sh --check [CELL...]  install nothing; print one `missing:`
#                                    line per missing tool, exit 1 if any
#
# Installs: rustup toolchains, components and targets; Debian packages
# (qemu-user, cross gcc + libc, mingw-w64, wine, shellcheck), after one
# `apt-get update`; and the wasmtime CLI, pinned, with `cargo install`.
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"

wasmtime_version=48.0.8

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
needs() {
    if [ "$1" = ci-config ]; then
        echo "apt shellcheck shellcheck"
        return
    fi
    ci_cell "$1"
    local tc gnu arch
    tc=$(ci_rust_toolchain)
    if [ "$tc" != stable ]; then
        echo "rustup-toolchain $tc"
    fi
    echo "rustup-component $tc clippy"
    if [ "$kind/$runner/$cfg" = test/native/- ]; then
        echo "rustup-component $tc rustfmt"
    fi
    if [ "$toolchain" = nightly-build-std ]; then
        echo "rustup-component $tc rust-src"
    elif [ "$runner" != native ]; then
        echo "rustup-target $tc $target"
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

have() {
    case $1 in
        rustup-toolchain) rustup run "$2" rustc --version >/dev/null 2>&1 ;;
        rustup-component) rustup component list --installed --toolchain "$2" 2>/dev/null | grep -Eq "^$3(-|\$)" ;;
        rustup-target) rustup target list --installed --toolchain "$2" 2>/dev/null | grep -qx "$3" ;;
        apt) case $3 in /*) [ -e "$3" ] ;; *) command -v "$3" >/dev/null ;; esac ;;
        wasmtime) wasmtime --version 2>/dev/null | grep -qF " $2" ;;
    esac
}

describe() {
    case $1 in
        rustup-toolchain) echo "rust toolchain $2 (rustup toolchain install $2 --profile minimal)" ;;
        rustup-component) echo "$3 for $2 (rustup component add --toolchain $2 $3)" ;;
        rustup-target) echo "std for $3 on $2 (rustup target add --toolchain $2 $3)" ;;
        apt) echo "$3 (Debian package $2)" ;;
        wasmtime) echo "wasmtime $2 (cargo install wasmtime-cli@$2 --locked)" ;;
    esac
}

mode=install
if [ "${1:-}" = --check ]; then
    mode=check
    shift
fi
cells=("$@")
if [ "${#cells[@]}" -eq 0 ]; then
    mapfile -t cells < <(ci_cells | awk '{ print $1 }')
    cells+=(ci-config)
fi

# Missing needs, in first-seen order, with the cells that need each.
declare -A cells_of=()
missing=()
find_missing() {
    cells_of=()
    missing=()
    local c need
    for c in "${cells[@]}"; do
        while read -r need; do
            # shellcheck disable=SC2086 # a need is words
            have $need && continue
            [ -n "${cells_of[$need]:-}" ] || missing+=("$need")
            cells_of[$need]+=" $c"
        done < <(needs "$c")
    done
}

report_missing() {
    local need
    for need in "${missing[@]}"; do
        # shellcheck disable=SC2086
        echo "missing: $(describe $need), needed by${cells_of[$need]}"
    done
    [ "${#missing[@]}" -eq 0 ]
}

find_missing
if [ "$mode" = check ]; then
    report_missing
    exit
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install: nothing missing for ${cells[*]}"
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi

# Debian packages first (one update, one install), then rustup, then the
# slow wasmtime build.
packages=()
for need in "${missing[@]}"; do
    read -r what pkg _ <<<"$need"
    if [ "$what" = apt ] && [[ " ${packages[*]} " != *" $pkg "* ]]; then
        packages+=("$pkg")
        echo "install: Debian package $pkg, needed by${cells_of[$need]}"
    fi
done
if [ "${#packages[@]}" -gt 0 ]; then
    echo "install: apt-get update && apt-get install -y ${packages[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${packages[@]}" || true
fi

for need in "${missing[@]}"; do
    read -r what arg1 arg2 <<<"$need"
    case $what in
        rustup-toolchain)
            echo "install: rustup toolchain install $arg1 --profile minimal, needed by${cells_of[$need]}"
            rustup toolchain install "$arg1" --profile minimal || true
            ;;
        rustup-component)
            echo "install: rustup component add --toolchain $arg1 $arg2, needed by${cells_of[$need]}"
            rustup component add --toolchain "$arg1" "$arg2" || true
            ;;
        rustup-target)
            echo "install: rustup target add --toolchain $arg1 $arg2, needed by${cells_of[$need]}"
            rustup target add --toolchain "$arg1" "$arg2" || true
            ;;
    esac
done

for need in "${missing[@]}"; do
    read -r what version _ <<<"$need"
    [ "$what" = wasmtime ] || continue
    # Someone (the lead's setup, a previous run) may be installing it now:
    # wait for that instead of starting a second build.
    if pid=$(pgrep -f "cargo install wasmtime-cli" | head -n 1) && [ -n "$pid" ]; then
        echo "install: waiting for the running 'cargo install wasmtime-cli' (pid $pid)"
        while kill -0 "$pid" 2>/dev/null; do sleep 10; done
    fi
    if ! have wasmtime "$version"; then
        echo "install: cargo install wasmtime-cli@$version --locked (about 18 min on 2 cores), needed by${cells_of[$need]}"
        cargo install "wasmtime-cli@$version" --locked || true
    fi
done

find_missing
report_missing
