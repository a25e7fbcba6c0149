#!/usr/bin/env bash
# The main job: builds the `ecgssl` command (Release), then on the bundled real ECG records
# (examples/data/cinc: 156 PhysioNet/CinC Challenge recordings, 366 five-second segments)
#   1. pre-trains the tiny encoder with W2V+CMSC+RLM (0.5-40 Hz band-pass, per-lead z-score),
#   2. fine-tunes it for 26-class arrhythmia classification on 12 leads (folds 1-8 of
#      examples/data/cinc/folds.csv train, fold 9 validates),
#   3. evaluates it on the held-out fold 10 with the paper's lead sets (12, 6, 3, 2, 1 leads,
#      missing leads zero-filled), with 95% bootstrap intervals,
#   4. evaluates the three committed models of examples/models/ (Random Init., W2V+CMSC,
#      W2V+CMSC+RLM, trained on 1,646 recordings in docs/results.md) on the same held-out records,
#      none of which they saw in training.
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
echo "== 1/4 pre-training (tiny encoder, W2V+CMSC+RLM) on $data"
$ecgssl manifest "$data" --out "$out/manifest.csv"
$ecgssl pretrain --data "$data" --config tiny --method w2v_cmsc_rlm --preprocess bandpass,zscore \
  --steps "${ECGSSL_PRETRAIN_STEPS:-40}" --batch-pairs 8 --seed "$seed" --out "$out/pretrained.safetensors" \
  --log-csv "$out/pretrain_log.csv" --plot-svg "$out/pretrain_loss.svg"

echo
echo "== 2/4 fine-tuning for arrhythmia classification (26 Challenge classes, 12 leads)"
# The folds are those of the experiment in docs/results.md, so step 4 compares like with like.
$ecgssl finetune --task arrhythmia --checkpoint "$out/pretrained.safetensors" --data "$data/folds.csv" --split folds \
  --leads 12 --epochs "${ECGSSL_FINETUNE_EPOCHS:-3}" --seed "$seed" --out "$out/finetuned.safetensors"

echo
echo "== 3/4 evaluation on the held-out records (fold 10), per lead set"
# 95% intervals by the bootstrap over the held-out records: with this few records they are wide.
$ecgssl evaluate --checkpoint "$out/finetuned.safetensors" --data "$data/folds.csv" --leads all --split test --bootstrap 200

echo
echo "== 4/4 the committed models (examples/models/) on the same held-out records"
for method in random_init w2v_cmsc w2v_cmsc_rlm; do
  echo
  echo "-- examples/models/zscore-tiny-$method-arrhythmia.safetensors"
  $ecgssl evaluate --checkpoint "examples/models/zscore-tiny-$method-arrhythmia.safetensors" --data "$data/folds.csv" \
    --leads all --split test --bootstrap 200
done

echo
echo "Done. Checkpoints, the pre-training log and its loss curve (pretrain_loss.svg) are in $out/."
echo "The held-out part here is 16 records: the intervals above are wide. The committed models'"
echo "results on 329 held-out segments of 1,646 recordings, with intervals over seeds and records,"
echo "are in docs/results.md."
