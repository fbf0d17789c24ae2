#!/usr/bin/env bash
# Rebuilds the kernels into a temporary directory and fails if the result differs from the
# committed src/kernels/mlc_kernels.wasm or src/kernels/_wasm_b64.ts (run by CI).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mlc-kernels-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$here/build.sh" "$tmp"
status=0
for f in mlc_kernels.wasm _wasm_b64.ts; do
  if ! cmp -s "$tmp/$f" "$root/src/kernels/$f"; then
    echo "kernels/check.sh: src/kernels/$f differs from a fresh build (run: deno task build:kernels)" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "kernels/check.sh: committed kernels match a fresh build" >&2
exit "$status"
