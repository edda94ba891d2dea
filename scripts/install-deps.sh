#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet.
# Silent when everything is present; runs 'apt-get update' at most once.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "sfmesh needs these Debian packages: ${missing[*]}" >&2
    echo "run 'make deps' as root, or install them with apt-get" >&2
    exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
