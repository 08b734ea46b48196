#!/usr/bin/env bash
# install-deps.sh — make sure the Debian packages qkit needs are installed.
# As root it installs what is missing with apt-get; otherwise it prints the exact command
# to run and fails. Usage: scripts/install-deps.sh [--study]   (--study adds gnuplot)
set -euo pipefail

pkgs=(gcc make cmake pkg-config libopenblas-dev libcjson-dev check libsubunit-dev
      libutf8proc-dev libssl-dev)
if [[ "${1:-}" == "--study" ]]; then
    pkgs+=(gnuplot-nox curl unzip)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
    echo "qkit: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
    echo "qkit: missing Debian packages: ${missing[*]}" >&2
    echo "qkit: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
