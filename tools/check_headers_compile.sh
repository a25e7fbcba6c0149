#!/usr/bin/env bash
# Every public header compiles on its own, and twice in one translation unit (its include guard
# works): for each include/ecgssl/**/*.hpp (cuda/ has its own nvcc check, tests/cuda/header_compile.cu)
# a one-line translation unit is checked with `-fsyntax-only` (templates are parsed, not
# instantiated, so this is cheap), in parallel. Run by ctest as layout/headers_compile.
#   tools/check_headers_compile.sh COMPILER FLAGS_FILE [JOBS]
# FLAGS_FILE holds the compiler flags (standard, include directories, definitions), one per line.
set -euo pipefail
compiler="$1"
flags_file="$2"
jobs="${3:-$(nproc)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mapfile -t flags < "$flags_file"
cd "$root/include"
find ecgssl -name '*.hpp' -not -path 'ecgssl/cuda/*' | sort > "$work/headers"
while IFS= read -r h; do
  printf '#include <%s>\n#include <%s>\n' "$h" "$h" > "$work/$(echo "$h" | tr '/.' '__').cpp"
done < "$work/headers"
export compiler work
printf '%s\n' "${flags[@]}" > "$work/flags"
status=0
ls "$work"/*.cpp | xargs -P "$jobs" -I{} bash -c \
  'mapfile -t f < "$work/flags"; "$compiler" -fsyntax-only "${f[@]}" "$1" 2> "$1.log" || { echo "FAILED: $(head -1 "$1")"; head -5 "$1.log"; exit 1; }' _ {} \
  || status=1
echo "$(wc -l < "$work/headers") headers checked"
exit $status
