#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ (ASan + UBSan) and runs each for SECONDS seconds
# (default 60) on a seed corpus made from tests/data and the campaign's corpus in fuzz/corpus/
# (read, never written). Usage: fuzz/run.sh [SECONDS] [BUILD_DIR]; SECONDS=0 builds and seeds only.
# Crash inputs are written to BUILD_DIR/artifacts/; keep each as a regression test in tests/io.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-$root/build-fuzz}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DECGSSL_BUILD_FUZZERS=ON -DECGSSL_BUILD_TESTS=OFF -DECGSSL_BUILD_EXAMPLES=OFF \
  -DECGSSL_BUILD_BENCHMARKS=OFF -DECGSSL_BUILD_APP=OFF -DECGSSL_WITH_CUDA=OFF >/dev/null
cmake --build "$build" --target fuzz_wfdb_header fuzz_wfdb_formats fuzz_wfdb_record fuzz_safetensors \
  fuzz_checkpoint_config fuzz_ptbxl_csv -j "$(nproc)"

corpus="$build/corpus"
mkdir -p "$corpus/header" "$corpus/record" "$corpus/formats" "$corpus/safetensors" "$corpus/config" "$corpus/ptbxl" "$build/artifacts"
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
# Checkpoint configurations: both forms, as ecgssl and the fairseq converter write them.
printf '%s' '{"conv_channels":128,"dim":128,"layers":2,"heads":4,"ffn":512,"extractor_mode":"default","final_dim":256,"latent_vars":320,"latent_groups":2,"encoder":{"pos_kernel":128,"pos_groups":16,"layer_norm_first":false},"method":"w2v_cmsc_rlm"}' > "$corpus/config/canonical.json"
printf '%s' '{"model":{"base":"tiny","embed_dim":32,"conv_dim":32,"layers":2,"heads":4,"ffn_dim":64,"mode":"layer_norm"},"method":"pytorch"}' > "$corpus/config/legacy.json"
# PTB-XL: statements, NUL, the database's header and first 20 rows.
{ cat "$root/tests/data/io/ptbxl/scp_statements.csv"; printf '\0'; head -21 "$root/tests/data/io/ptbxl/ptbxl_database.csv"; } > "$corpus/ptbxl/seed"
if [[ -d "$root/tests/data/io/regressions" ]]; then
  cp "$root"/tests/data/io/regressions/* "$corpus/record/" 2>/dev/null || true
fi

[[ "$seconds" == 0 ]] && exit 0
committed="$root/fuzz/corpus"
# Each target is one process on one core: they run side by side, as many at a time as the
# machine has cores (ECGSSL_FUZZ_JOBS), each into its own log, printed whole when it ends.
jobs="${ECGSSL_FUZZ_JOBS:-$(nproc)}"
logs="$build/logs"
mkdir -p "$logs"
run_target() {  # run_target PROGRAM CORPUS_DIR
  local program="$1" dir="$2" status=0
  "$build/fuzz/$program" "$corpus/$dir" $(ls -d "$committed/$dir" 2>/dev/null) -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$build/artifacts/$program-" -print_final_stats=1 \
    > "$logs/$program.log" 2>&1 || status=$?
  echo "$status" > "$logs/$program.status"
  { echo "== $program for ${seconds}s: exit status $status"; cat "$logs/$program.log"; }
}
targets=(fuzz_wfdb_header:header fuzz_wfdb_formats:formats fuzz_wfdb_record:record
  fuzz_safetensors:safetensors fuzz_checkpoint_config:config fuzz_ptbxl_csv:ptbxl)
rm -f "$logs"/*.status
for entry in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true  # only to keep JOBS running; each target's status is in its .status file
  done
  run_target "${entry%%:*}" "${entry##*:}" &
done
wait
status=0
for entry in "${targets[@]}"; do
  program="${entry%%:*}"
  if [ "$(cat "$logs/$program.status" 2>/dev/null)" != 0 ]; then
    echo "fuzz/run.sh: $program failed (log: $logs/$program.log; inputs: $build/artifacts/)" >&2
    status=1
  fi
done
exit $status
