#!/usr/bin/env bash
# Creates .venv (Python 3.13, the Lambda runtime) with the locked dependencies, and .tools/bin/uv.
# Safe to run again: uv only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.9.11

if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "${UV_VERSION}" ]; then
    python3 -m venv .tools
    .tools/bin/python -m pip install --quiet "uv==${UV_VERSION}"
fi

python313="$(scripts/find-python313.sh)"
.tools/bin/uv sync --locked --quiet --python "${python313}"
