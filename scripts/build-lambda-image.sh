#!/usr/bin/env bash
# Builds a stand-in for Lambda's python3.13 base image from packages only (the Debian mirror and the
# Python package index), for `sam local ... --invoke-image IMAGE --skip-pull-image` where
# public.ecr.aws/lambda/python:3.13-<arch> cannot be pulled. Prints the image's name.
#
#   scripts/build-lambda-image.sh [arm64|x86_64]     (default: the functions' architecture, arm64)
#
# The image is built once: it carries a hash of its inputs (this script, scripts/lambda-image/, the
# boto3 of uv.lock), and a later run with the same inputs reuses it. Needs root (mmdebstrap) and Docker;
# the image is assembled without running anything of the target architecture, but running it (and SAM's
# image build) on another architecture needs qemu-user-static with the F flag (scripts/ci/docker.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

ARCH="${1:-arm64}"
case "$ARCH" in
    arm64 | aarch64) ARCH=arm64 DEBARCH=arm64 PIPPLAT=aarch64 DOCKERPLAT=linux/arm64 ;;
    x86_64 | amd64) ARCH=x86_64 DEBARCH=amd64 PIPPLAT=x86_64 DOCKERPLAT=linux/amd64 ;;
    *) echo "usage: $0 [arm64|x86_64]" >&2; exit 2 ;;
esac
IMAGE="${IMAGE:-local/lambda-python:3.13-$ARCH}"
SUITE=trixie               # Debian 13, whose python3 is 3.13
RIC_VERSION=4.2.2          # awslambdaric: manylinux wheels for both architectures
# The runtime's boto3 is the one the project develops against (uv.lock); the layer brings its own botocore.
BOTO3_VERSION="$("${root}/.venv/bin/python" -c 'import tomllib, sys
lock = tomllib.load(open(sys.argv[1], "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == "boto3"))' "${root}/uv.lock")"
# The Debian mirror this machine's apt uses, unless MIRROR is set.
MIRROR="${MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}"
MIRROR="${MIRROR:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

INPUTS="$( (cat "$0" "${root}"/scripts/lambda-image/*; echo "${ARCH} ${BOTO3_VERSION}") | sha256sum | cut -c1-16)"
if [ "$(docker image inspect "$IMAGE" --format '{{index .Config.Labels "beacon.inputs"}}' 2>/dev/null)" = "$INPUTS" ]; then
    echo "$IMAGE"
    exit 0
fi

command -v mmdebstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
}

WORK="$(mktemp -d -t lambda-image-$ARCH.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

# 1. The runtime's Python packages, resolved for the target platform on this machine (no emulation).
"${root}/.venv/bin/python" -m pip install --quiet --no-compile --no-warn-conflicts --disable-pip-version-check \
    --target "$WORK/runtime" --only-binary=:all: --implementation cp --python-version 3.13 \
    --platform "manylinux2014_$PIPPLAT" --platform "manylinux_2_28_$PIPPLAT" --platform "manylinux_2_17_$PIPPLAT" \
    "awslambdaric==$RIC_VERSION" "boto3==$BOTO3_VERSION"

# 2. The root filesystem: Debian's python3.13, libstdc++6 (the runtime interface client's extension links
#    it; without it every invoke fails with "'NoneType' object has no attribute 'next'"), and a shell and
#    coreutils (SAM's image build runs `mv` and `chmod`), with their dependencies, only extracted: no
#    maintainer script runs, so nothing runs under emulation. Then everything Python is compiled here,
#    by the project's Python 3.13 (the same bytecode), which spares every cold start the work (under
#    qemu, half a minute). No docs, man pages or locales; no ca-certificates (botocore has its own).
mmdebstrap --quiet --variant=extract --arch="$DEBARCH" --include=base-files,dash,coreutils,python3.13,libstdc++6 \
    --extract-hook='mkdir -p "$1/var/runtime" "$1/var/task" "$1/opt" "$1/var/rapid"' \
    --extract-hook="cp -a '$WORK/runtime/.' \"\$1/var/runtime/\"" \
    --extract-hook="install -m 755 '${root}/scripts/lambda-image/bootstrap' \"\$1/var/runtime/bootstrap\"" \
    --extract-hook='rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale "$1"/usr/share/info' \
    --extract-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    --extract-hook="'${root}/.venv/bin/python' -m compileall -q -j0 -s \"\$1\" -p / \"\$1/usr/lib/python3.13\" \"\$1/var/runtime\" >/dev/null" \
    "$SUITE" "$WORK/rootfs.tar" "$MIRROR"

# 3. The image, FROM scratch with --platform (`docker import --platform` is ignored by Docker 20.10,
#    which then labels an arm64 image amd64, and SAM refuses it).
cp "${root}/scripts/lambda-image/Dockerfile" "$WORK/"
docker build --quiet --platform "$DOCKERPLAT" --label "beacon.inputs=$INPUTS" -t "$IMAGE" "$WORK" \
    >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
echo "built $IMAGE ($DOCKERPLAT) in $((SECONDS - started)) s" >&2
echo "$IMAGE"
