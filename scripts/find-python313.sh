#!/usr/bin/env bash
# Prints the path of a Python 3.13 interpreter: from PATH, from pyenv, or from uv.
set -euo pipefail
if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' >/dev/null 2>&1; then
    command -v python3.13
    exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -V | tail -n 1 || true)"
    if [ -n "${version}" ]; then
        echo "$(pyenv root)/versions/${version}/bin/python3.13"
        exit 0
    fi
fi
.tools/bin/uv python find 3.13 2>/dev/null || { .tools/bin/uv python install 3.13 >&2 && .tools/bin/uv python find 3.13; }
