#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet
# (apt-get update, then apt-get install --no-install-recommends; as root, or through sudo).
# Installs nothing, and needs no apt, when every package is installed already.
# Usage: tools/ensure_debian_packages.sh PACKAGE...
#   kernels/build.sh: rustc cargo libstd-rust-dev-wasm32 lld   (rustc links wasm with rust-lld -> lld-14)
#   .ci/run:          the above, gcc libc6-dev (kernels/check_rounding.c), and libegl1 libegl-mesa0
#                     libgl1-mesa-dri (the llvmpipe WebGPU adapter the WebGPU tests run on),
#                     chromium (tests/browser_convert_test.ts drives the web app in it, headless)
set -euo pipefail

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then missing+=("$pkg"); fi
done
[ "${#missing[@]}" = 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "error: not root and no sudo: install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
