#!/usr/bin/env bash
# ci/report.py under whichever Python 3 this machine has: python3, or python
# on Windows runners. Arguments go to ci/report.py (see there).
set -euo pipefail
for py in python3 python; do
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 8))' >/dev/null 2>&1; then
        exec "$py" "$(dirname "$0")/report.py" "$@"
    fi
done
echo "error: ci/report.sh: no Python 3.8 or newer (python3 or python) on PATH" >&2
exit 1
