#!/usr/bin/env bash
# A Docker engine that `sam local` can use, on a Debian machine where we are root: installs docker.io
# (and, to run arm64 functions on another architecture, qemu-user-static registered in binfmt_misc with
# the F flag) when absent, and starts dockerd when no daemon answers. Safe to run again.
#
# The daemon keeps a default bridge (containers must reach SAM's emulator on the host, and the host's
# local stack) but leaves the host's iptables alone: nothing is published beyond this machine.
set -euo pipefail

BRIDGE_IP="${DOCKER_BRIDGE_IP:-10.213.98.1/24}"
LOG="${DOCKER_LOG:-/var/log/dockerd-ci.log}"

apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install docker.io

if [ "$(uname -m)" != aarch64 ]; then
    apt_install qemu-user-static binfmt-support
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
    # F: the kernel opens the interpreter now, so containers need no qemu of their own.
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || { echo "qemu-aarch64 is registered without the F flag" >&2; exit 1; }
fi

if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: ${LOG})"
    nohup dockerd --iptables=false --ip-masq=false --bip "${BRIDGE_IP}" >"${LOG}" 2>&1 &
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -20 "${LOG}" >&2; exit 1; }
fi
docker version --format 'docker {{.Server.Version}} ({{.Server.Os}}/{{.Server.Arch}})'
