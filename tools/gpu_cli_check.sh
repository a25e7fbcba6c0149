#!/usr/bin/env bash
# The command-line pipelines on the GPU next to the host (issue 8): pre-train, fine-tune,
# evaluate and embed the bundled records with `--device cuda` and with `--device host`, and
# compare what they print and write. Same seed, so the two runs differ by summation order only:
# losses and metrics agree to the printed digits in most lines, not bit for bit.
#
#   bash tools/gpu_cli_check.sh ECGSSL_BINARY [OUTPUT_DIR]
#
# ECGSSL_BINARY is an `ecgssl` built with CUDA (ECGSSL_WITH_CUDA=ON, examples on).
# ECGSSL_CLI_DEVICES (default "cuda host") names the two devices; "host host" checks the script
# itself on a machine without a GPU. The exit status is 0 when every command succeeded on both
# devices and the largest relative difference of the compared numbers is below
# ECGSSL_CLI_TOLERANCE (default 1e-3: float32 training over tens of updates).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: gpu_cli_check.sh ECGSSL_BINARY [OUTPUT_DIR]}
out=${2:-gpu-cli-check}
read -r -a devices <<< "${ECGSSL_CLI_DEVICES:-cuda host}"
tolerance=${ECGSSL_CLI_TOLERANCE:-1e-3}
data=examples/data/cinc
mkdir -p "$out"
status=0
run() {  # run NAME COMMAND...: logs to $out/NAME.out, remembers a failure
  local name=$1
  shift
  local start=$SECONDS
  "$@" > "$out/$name.out" 2>&1
  local rc=$?
  echo "$name: rc $rc in $((SECONDS - start)) s"
  if [ $rc -ne 0 ]; then
    tail -n 5 "$out/$name.out"
    [ $status -eq 0 ] && status=$rc
  fi
}
for i in 0 1; do
  dev=${devices[$i]}
  tag=$i-$dev
  run "pretrain_$tag" "$bin" pretrain --data "$data" --config tiny --method w2v_cmsc_rlm --steps 10 \
    --batch-pairs 8 --seed 1 --device "$dev" --out "$out/pre_$tag.safetensors"
  run "finetune_$tag" "$bin" finetune --task arrhythmia --checkpoint "$out/pre_$tag.safetensors" --data "$data" \
    --epochs 2 --batch-size 16 --lr 1e-3 --seed 1 --device "$dev" --out "$out/dx_$tag.safetensors"
  run "evaluate_$tag" "$bin" evaluate --checkpoint "$out/dx_$tag.safetensors" --data "$data" --leads 12 2 \
    --split valid --json --device "$dev"
  run "embed_$tag" "$bin" embed --checkpoint "$out/pre_$tag.safetensors" --leads 12 --out "$out/embed_$tag.csv" \
    --device "$dev" "$data/A0001" "$data/A0002"
done
[ $status -ne 0 ] && { echo "gpu_cli_check: a command failed"; exit $status; }

# Every number of the epoch and evaluation lines, and of the embeddings, side by side.
python3 - "$out" "0-${devices[0]}" "1-${devices[1]}" "$tolerance" <<'EOF'
import json, re, sys
out, a, b, tolerance = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def numbers(text):
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:[eE][-+]?\d+)?", text)]
def epoch_lines(tag):
    return "\n".join(l for l in open(f"{out}/finetune_{tag}.out") if l.startswith("epoch "))
def evaluation(tag):
    j = json.loads(open(f"{out}/evaluate_{tag}.out").read().strip().splitlines()[-1])
    return [v for k in sorted(j) for _, v in sorted(j[k].items()) if isinstance(v, (int, float))]
def embeddings(tag):
    return [float(x) for line in open(f"{out}/embed_{tag}.csv").read().splitlines()[1:] for x in line.split(",")[2:]]
worst = 0.0
for name, get in [("finetune epochs", lambda t: numbers(epoch_lines(t))), ("evaluate", evaluation),
                  ("embed", embeddings)]:
    x, y = get(a), get(b)
    if len(x) != len(y) or not x:
        print(f"{name}: {len(x)} against {len(y)} numbers"); sys.exit(1)
    scale = max(max(abs(v) for v in y), 1e-6)
    diff = max(abs(p - q) for p, q in zip(x, y)) / scale
    worst = max(worst, diff)
    print(f"{name}: {len(x)} numbers, largest difference {diff:.3g} of the largest magnitude")
print(f"gpu_cli_check: worst {worst:.3g} (tolerance {tolerance:g})")
sys.exit(0 if worst < tolerance else 1)
EOF
