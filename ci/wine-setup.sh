#!/usr/bin/env bash
# Prepare Wine for a windows-gnu cell: build the ProcessPrng shim DLL and
# create the Wine prefix, both under target/wine/, without any display.
#
#   ci/wine-setup.sh CELL
#
# Why the shim: Rust >= 1.78 std imports ProcessPrng from
# bcryptprimitives.dll; Wine gained it in 8.13 and Debian 12 ships 8.0.
# ci/wine/bcryptprimitives.c provides it; WINEPATH (set by ci/cells.sh)
# makes Wine load it. Newer Wines have ProcessPrng and do not need the shim
# (it is harmless there too).
set -euo pipefail
# shellcheck source=cells.sh
. "$(dirname "$0")/cells.sh"
ci_cell "${1:?usage: ci/wine-setup.sh CELL}"
ci_cell_env

src="$ci_root/ci/wine"
dll="$WINEPATH/bcryptprimitives.dll"
cc=$linker

if [ ! -e "$dll" ] || [ "$src/bcryptprimitives.c" -nt "$dll" ] || [ "$src/bcryptprimitives.def" -nt "$dll" ]; then
    echo "--> wine-shim: $cc -shared -o $dll bcryptprimitives.c bcryptprimitives.def -ladvapi32"
    mkdir -p "$WINEPATH"
    "$cc" -shared -O2 -s -o "$dll" \
        "$src/bcryptprimitives.c" "$src/bcryptprimitives.def" -ladvapi32
fi

if [ ! -e "$WINEPREFIX/system.reg" ]; then
    echo "--> wine-prefix: wineboot --init (WINEPREFIX=$WINEPREFIX)"
    mkdir -p "$WINEPREFIX"
    wineboot --init </dev/null
    wineserver --wait
fi
echo "wine: $(wine --version), prefix $WINEPREFIX, shim $dll"
