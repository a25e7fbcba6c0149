#!/usr/bin/env bash
# The main job: builds the `ecgssl` command (Release), then on the bundled real ECG records
# (examples/data/cinc: 156 PhysioNet/CinC Challenge recordings, 366 five-second segments)
#   1. pre-trains the tiny encoder with W2V+CMSC+RLM,
#   2. fine-tunes it for 26-class arrhythmia classification on 12 leads (split by record),
#   3. evaluates the fine-tuned model on the held-out records with the paper's lead sets
#      (12, 6, 3, 2, 1 leads, missing leads zero-filled), with 95% bootstrap intervals.
# Outputs (checkpoints, logs, loss curve) go to build/main-job/.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ECGSSL_JOBS:-$(nproc)}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
out=build/main-job
data=examples/data/cinc
seed=${ECGSSL_SEED:-1}

echo "== building the ecgssl command (preset 'app', Release)"
cmake --preset app >/dev/null
cmake --build --preset app -j "$jobs" --target ecgssl_cli
ecgssl=./build/app/bin/ecgssl
mkdir -p "$out"
$ecgssl version

echo
echo "== 1/3 pre-training (tiny encoder, W2V+CMSC+RLM) on $data"
$ecgssl manifest "$data" --out "$out/manifest.csv"
$ecgssl pretrain --data "$data" --config tiny --method w2v_cmsc_rlm --steps "${ECGSSL_PRETRAIN_STEPS:-40}" \
  --batch-pairs 8 --seed "$seed" --out "$out/pretrained.safetensors" \
  --log-csv "$out/pretrain_log.csv" --plot-svg "$out/pretrain_loss.svg"

echo
echo "== 2/3 fine-tuning for arrhythmia classification (26 Challenge classes, 12 leads)"
$ecgssl finetune --task arrhythmia --checkpoint "$out/pretrained.safetensors" --data "$data" --leads 12 \
  --epochs "${ECGSSL_FINETUNE_EPOCHS:-3}" --valid-fraction 0.2 --seed "$seed" --out "$out/finetuned.safetensors"

echo
echo "== 3/3 evaluation on the held-out records, per lead set"
# 95% intervals by the bootstrap over the held-out records: with this few records they are wide.
$ecgssl evaluate --checkpoint "$out/finetuned.safetensors" --data "$data" --leads all --split test --bootstrap 200

echo
echo "Done. Checkpoints, the pre-training log and its loss curve (pretrain_loss.svg) are in $out/."
echo "This sample is tiny (156 records): the numbers show the pipeline works end to end, not the"
echo "paper's accuracy (see docs/results.md)."
