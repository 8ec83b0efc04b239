#!/usr/bin/env bash
# Installs Debian's chromium package when no Chromium is on PATH, for the browser tests
# (tests/e2e/test_browser_tag.py). Needs root and apt-get; does nothing where Chromium is present.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "no Chromium, and no root apt-get to install it: the browser tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
chromium --version
