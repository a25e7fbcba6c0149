#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ (ASan + UBSan) and runs each for SECONDS seconds
# (default 60) on a seed corpus made from tests/data. Usage: fuzz/run.sh [SECONDS] [BUILD_DIR]
# Crash inputs are written to BUILD_DIR/artifacts/; keep each as a regression test in tests/io.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-$root/build-fuzz}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DECGSSL_BUILD_FUZZERS=ON -DECGSSL_BUILD_TESTS=OFF -DECGSSL_BUILD_EXAMPLES=OFF \
  -DECGSSL_BUILD_BENCHMARKS=OFF -DECGSSL_BUILD_APP=OFF -DECGSSL_WITH_CUDA=OFF >/dev/null
cmake --build "$build" --target fuzz_wfdb_header fuzz_wfdb_formats fuzz_wfdb_record fuzz_safetensors -j1

corpus="$build/corpus"
mkdir -p "$corpus/header" "$corpus/record" "$corpus/formats" "$corpus/safetensors" "$build/artifacts"
cp "$root"/tests/data/io/checkpoints/*.safetensors "$corpus/safetensors/"
records="$root/tests/data/records"
# Headers as they are; records as header + NUL + the first 2 KiB of the first signal file.
while IFS= read -r hea; do
  name="$(basename "$hea" .hea)"
  cp "$hea" "$corpus/header/$name.hea"
  file="$(awk '!/^#/ && NF { n++; if (n == 2) { print $1; exit } }' "$hea")"
  if [[ -n "$file" && -f "$(dirname "$hea")/$file" ]]; then
    { cat "$hea"; printf '\0'; head -c 2048 "$(dirname "$hea")/$file"; } > "$corpus/record/$name"
  fi
done < <(find "$records" -name '*.hea' | sort)
for format in $(seq 0 10); do
  { printf "\\x$(printf %02x "$format")\\x01\\x00\\x00\\x10"; head -c 256 "$records/wfdb/binformats.d1"; } \
    > "$corpus/formats/seed_$format"
done
if [[ -d "$root/tests/data/io/regressions" ]]; then
  cp "$root"/tests/data/io/regressions/* "$corpus/record/" 2>/dev/null || true
fi

status=0
for target in header formats record; do
  echo "== fuzz_wfdb_$target for ${seconds}s"
  "$build/fuzz/fuzz_wfdb_$target" "$corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$build/artifacts/${target}-" -print_final_stats=1 || status=1
done
echo "== fuzz_safetensors for ${seconds}s"
"$build/fuzz/fuzz_safetensors" "$corpus/safetensors" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -timeout=10 -artifact_prefix="$build/artifacts/safetensors-" -print_final_stats=1 || status=1
exit $status
