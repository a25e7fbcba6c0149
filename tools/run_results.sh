#!/usr/bin/env bash
# Measures the paper's Table 1 experiment (spec §7) at toy scale on the bundled real records
# (examples/data/cinc: 156 Challenge 2020/2021 records, 366 5 s segments):
#   pre-train tiny with W2V+CMSC+RLM and with W2V+CMSC (no RLM), fine-tune each for arrhythmia,
#   fine-tune a Random Init. model, evaluate all three on 12/6/3/2/1 leads (zero fill) on the
#   held-out test records, and print a markdown table (also written to $OUT/table.md).
#
# Usage: tools/run_results.sh [BUILD_DIR=build] [OUT_DIR=build/results]
#   Environment: STEPS (pre-training updates, 60), PAIRS (CMSC pairs per batch, 8),
#   EPOCHS (fine-tuning epochs, 5), SEED (1), VALID (record fraction for valid and for test, 0.2),
#   THREADS (OpenMP threads, 2).
# Needs the `ecgssl` program (configure with -DECGSSL_BUILD_EXAMPLES=ON, build target ecgssl).
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-build/results}
BIN=${ECGSSL_BIN:-$BUILD/examples/ecgssl}
DATA=${DATA:-examples/data/cinc}
STEPS=${STEPS:-60}
PAIRS=${PAIRS:-8}
EPOCHS=${EPOCHS:-5}
SEED=${SEED:-1}
VALID=${VALID:-0.2}
export OMP_NUM_THREADS=${THREADS:-2}
mkdir -p "$OUT"
start=$(date +%s)

for method in w2v_cmsc_rlm w2v_cmsc; do
  echo "== pre-train $method ($STEPS updates, $PAIRS pairs)"
  "$BIN" pretrain --data "$DATA" --config tiny --method "$method" --steps "$STEPS" --batch-pairs "$PAIRS" \
    --seed "$SEED" --out "$OUT/pre_$method.safetensors"
  echo "== fine-tune $method"
  "$BIN" finetune --task arrhythmia --checkpoint "$OUT/pre_$method.safetensors" --data "$DATA" --leads 12 \
    --epochs "$EPOCHS" --valid-fraction "$VALID" --seed "$SEED" --out "$OUT/dx_$method.safetensors"
done
echo "== fine-tune random init"
"$BIN" finetune --task arrhythmia --random-init --config tiny --data "$DATA" --leads 12 \
  --epochs "$EPOCHS" --valid-fraction "$VALID" --seed "$SEED" --out "$OUT/dx_random.safetensors"

for name in random w2v_cmsc w2v_cmsc_rlm; do
  "$BIN" evaluate --checkpoint "$OUT/dx_$name.safetensors" --data "$DATA" --leads all --split test --json \
    > "$OUT/eval_$name.json"
done
end=$(date +%s)

python3 - "$OUT" "$((end - start))" "$STEPS" "$PAIRS" "$EPOCHS" "$SEED" <<'PY'
import json, sys
out, seconds, steps, pairs, epochs, seed = sys.argv[1:]
rows = [("Random Init.", "random"), ("W2V+CMSC", "w2v_cmsc"), ("W2V+CMSC+RLM", "w2v_cmsc_rlm")]
lines = ["| Method (Dx, CinC score) | 12-lead | P-6-lead | P-3-lead | P-2-lead | P-1-lead | AUROC 12 |",
         "| --- | --- | --- | --- | --- | --- | --- |"]
segments = None
for label, key in rows:
    j = json.load(open(f"{out}/eval_{key}.json"))
    segments = j["12"]["segments"]
    f = lambda v: "n/a" if v is None else f"{v:.3f}"
    lines.append(f"| {label} | " + " | ".join(f(j[k]["challenge_score"]) for k in ["12", "6", "3", "2", "1"])
                 + f" | {f(j['12']['auroc'])} |")
lines.append("")
lines.append(f"tiny encoder; pre-training {steps} updates x {pairs} pairs; fine-tuning {epochs} epochs; "
             f"seed {seed}; test segments {segments}; wall time {seconds} s")
text = "\n".join(lines) + "\n"
open(f"{out}/table.md", "w").write(text)
print(text)
PY
