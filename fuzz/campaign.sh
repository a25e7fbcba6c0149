#!/usr/bin/env bash
# The long fuzzing campaign (issue 19): each parser for RUNS executions (default 10 million),
# starting from the committed corpus in fuzz/corpus/ plus the seeds fuzz/run.sh makes, then
# minimises what was found back into fuzz/corpus/ (commit it). One target at a time on one core.
# Usage: fuzz/campaign.sh [RUNS] [BUILD_DIR] [TARGET...]   (targets: header formats record
# safetensors config ptbxl). Per-target logs and a summary go to BUILD_DIR/campaign/.
# FUZZ_TIMEOUT (seconds, default 10) is libFuzzer's wall-clock limit per input: raise it when the
# campaign shares a loaded machine (run niced next to builds), where a starved input trips it.
set -euo pipefail
runs="${1:-10000000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-$root/build-fuzz}"
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(config ptbxl formats header safetensors record)

# Builds the targets and writes the seed corpus (a zero-second run of each).
bash "$root/fuzz/run.sh" 0 "$build"
out="$build/campaign"
mkdir -p "$out"
binary_of() {
  case "$1" in
    header|formats|record) echo "$build/fuzz/fuzz_wfdb_$1" ;;
    safetensors) echo "$build/fuzz/fuzz_safetensors" ;;
    config) echo "$build/fuzz/fuzz_checkpoint_config" ;;
    ptbxl) echo "$build/fuzz/fuzz_ptbxl_csv" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}
for target in "${targets[@]}"; do
  binary="$(binary_of "$target")"
  work="$out/work-$target"
  committed="$root/fuzz/corpus/$target"
  mkdir -p "$work" "$committed"
  start=$(date +%s)
  echo "== $target: $runs executions ($(date -u +%H:%M:%S))"
  "$binary" "$work" "$committed" "$build/corpus/$target" -runs="$runs" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-10}" \
    -artifact_prefix="$out/crash-$target-" -print_final_stats=1 -print_pcs=0 \
    > "$out/$target.log" 2>&1 || echo "   $target FAILED: see $out/$target.log"
  # Minimise into the committed corpus: keep only inputs that add coverage.
  fresh="$out/min-$target"
  rm -rf "$fresh"; mkdir -p "$fresh"
  "$binary" -merge=1 "$fresh" "$committed" "$work" > "$out/$target.merge.log" 2>&1
  rm -rf "$committed"; mv "$fresh" "$committed"
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$target.log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -E '^#[0-9]+' "$out/$target.log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo '?')
  echo "$target executions=$execs $cov corpus=$(ls "$committed" | wc -l) files $(du -sk "$committed" | cut -f1) KiB seconds=$(( $(date +%s) - start ))" \
    | tee -a "$out/summary.txt"
done
