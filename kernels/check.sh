#!/usr/bin/env bash
# Rebuilds the kernels into a temporary directory and fails if the result differs from the
# committed base64 module src/kernels/_wasm_b64.ts (run by CI; build.sh installs the Debian
# packages it needs, lld included, through tools/ensure_debian_packages.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mlc-kernels-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
KEEP_WASM=1 "$here/build.sh" "$tmp"
# the fresh .wasm, the fresh base64 module and the committed one: the same bytes
if ! cmp -s "$tmp/_wasm_b64.ts" "$root/src/kernels/_wasm_b64.ts"; then
  echo "kernels/check.sh: src/kernels/_wasm_b64.ts differs from a fresh build (run: deno task build:kernels)" >&2
  exit 1
fi
decoded="$tmp/decoded.wasm"
sed -n 's/^  "\(.*\)";$/\1/p' "$root/src/kernels/_wasm_b64.ts" | base64 -d >"$decoded"
if ! cmp -s "$decoded" "$tmp/mlc_kernels.wasm"; then
  echo "kernels/check.sh: the base64 in src/kernels/_wasm_b64.ts does not decode to the built module" >&2
  exit 1
fi
echo "kernels/check.sh: src/kernels/_wasm_b64.ts matches a fresh build ($(wc -c <"$decoded") bytes of wasm)" >&2
