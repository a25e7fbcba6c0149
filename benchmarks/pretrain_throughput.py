#!/usr/bin/python3
"""Pre-training throughput of `ecgssl bench` next to the same objective in PyTorch (issue 6).

    /usr/bin/python3 benchmarks/pretrain_throughput.py --ecgssl build/app/bin/ecgssl \
        --configs tiny small base --pairs 4 --steps 3 --rounds 2 --threads 2

For each config, both sides run complete pre-training updates on random [2P, 12, 2500] input after
one warm-up update: the encoder in training mode (dropout, span mask, Gumbel quantizer), the
W2V+CMSC loss of spec section 4.4 (wav2vec 2.0 contrastive with 100 negatives per masked frame,
diversity 0.1, feature penalty 10, CMSC on mean-pooled outputs, tau 0.1), backward, and Adam with
decoupled weight decay (spec section 5). The PyTorch side is tools/torch_reference_encoder.py
(same architecture, same parameter names). The two programs alternate, `--rounds` times each; the
table reports the fastest round of each (the machine is shared) and the ratio. A second table
gives eval-mode encoder inference at batch 32 and batch 1 (ms per segment), timed the way
`ecgssl bench` times it (PyTorch under torch.no_grad, and autocast in bf16).

Environment as in benchmarks/compare_pytorch.py: OMP_NUM_THREADS = --threads for both sides and
the tuned allocator/OpenMP variables of spec section 11 unless --default-env.

--precision bf16 runs `ecgssl bench --precision bf16` (bf16 product operands, float32 accumulation)
against PyTorch under torch.autocast(device, torch.bfloat16) around the forward and the loss (the
recommended use: backward and the optimizer outside it; PyTorch 1.13's CPU autocast stops in
group_norm with a dtype error, so bf16 runs leave 1.x interpreters out and say so). --torch-python names the interpreters
whose PyTorch runs (default: this one); --venv DIR adds a virtual environment with PyTorch 2.x
from the package index, created there (pip install torch) when it does not exist yet, e.g.
    /usr/bin/python3 benchmarks/pretrain_throughput.py --precision bf16 --venv ~/torch2 \
        --torch-python /usr/bin/python3 --configs tiny small base

--device cuda runs both sides on the GPU (`ecgssl bench --device cuda`, from a build with CUDA;
PyTorch with its model and data on the GPU, TF32 off as in ecgssl, synchronised before each clock
reading), e.g.
    /usr/bin/python3 benchmarks/pretrain_throughput.py --device cuda --ecgssl build/cuda/bin/ecgssl \
        --configs base --pairs 16 --steps 10
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_pytorch import environment  # noqa: E402  (the same variables for both programs)


def pytorch_child(config, pairs, steps, threads, device="cpu", precision="fp32"):
    """Runs in a child process; prints one JSON line with s/step."""
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    import torch_reference_encoder as ref
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    o = getattr(ref, config)()
    model = ref.ECGTransformer(o).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    segments, samples = 2 * pairs, 2500
    x = torch.randn(segments, o.in_channels, samples, device=device)
    frames = samples
    for _ in range(o.conv_layers):
        frames = (frames - o.conv_kernel) // o.conv_stride + 1
    masked = int(round(0.36 * frames))
    negatives, kappa = 100, 0.1

    autocast = torch.autocast("cuda" if device != "cpu" else "cpu", dtype=torch.bfloat16,
                              enabled=precision == "bf16")

    def update(step):
        with autocast:
            opt.zero_grad(set_to_none=False)
            mask = torch.zeros(segments, frames, dtype=torch.bool)
            for s in range(segments):
                mask[s, torch.randperm(frames)[:masked]] = True
            mask = mask.to(device)
            out = model(x, mask=mask, num_updates=step)
            pred = out["predictions"].view(segments, masked, -1)
            targ = out["targets"].view(segments, masked, -1)
            idx = torch.randint(0, masked - 1, (segments, masked, negatives), device=device)
            idx = idx + (idx >= torch.arange(masked, device=device)[None, :, None]).long()
            negs = torch.stack([targ[s][idx[s]] for s in range(segments)])
            cand = torch.cat([targ.unsqueeze(2), negs], dim=2)
            logits = torch.cosine_similarity(pred.unsqueeze(2), cand, dim=-1) / kappa
            same = (targ.unsqueeze(2) == negs).all(-1)
            logits[..., 1:] = logits[..., 1:].masked_fill(same, float("-inf"))
            w2v = F.cross_entropy(logits.reshape(-1, negatives + 1),
                                  torch.zeros(segments * masked, dtype=torch.long, device=device), reduction="sum")
            gv = o.latent_groups * o.latent_vars
            diversity = (gv - out["prob_perplexity"]) / gv
            penalty = out["features"].pow(2).mean()
            h = out["encoded"]
            g = h.sum(dim=1) / (h != 0).sum(dim=1)
            g = g / torch.clamp(g.detach().norm(dim=1, keepdim=True), min=1e-8)
            lam = g[0::2] @ g[1::2].t() / 0.1
            target = torch.arange(pairs, device=device)
            cmsc = 0.5 * F.cross_entropy(lam, target) + 0.5 * F.cross_entropy(lam.t(), target)
            n_m = segments * masked
            loss = (w2v + n_m * (0.1 * diversity + 10.0 * penalty + cmsc)) / n_m
        loss.backward()
        opt.step()
        return loss.item()

    def synchronize():
        if device != "cpu":
            torch.cuda.synchronize()

    update(0)  # warm-up
    synchronize()
    start = time.perf_counter()
    for s in range(1, steps + 1):
        update(s)
    synchronize()
    seconds = (time.perf_counter() - start) / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux

    # Eval-mode inference as `ecgssl bench` times it: one warm-up forward, then batch 1 three
    # times and batch 32 once, ms per segment; no autograd, autocast as in training.
    model.eval()

    def infer_ms(batch, repeats):
        xb = torch.randn(batch, o.in_channels, samples, device=device)
        with torch.no_grad(), autocast:
            model(xb)
            synchronize()
            begin = time.perf_counter()
            for _ in range(repeats):
                model(xb)
            synchronize()
        return 1e3 * (time.perf_counter() - begin) / repeats / batch

    b1, b32 = infer_ms(1, 3), infer_ms(32, 1)
    print(json.dumps({"train_s_per_step": seconds, "train_segments_per_s": segments / seconds,
                      "train_peak_rss_mib": peak, "infer_ms_b1": b1, "infer_ms_b32": b32,
                      "torch": torch.__version__}))


def ensure_torch_venv(path):
    """The python of a virtual environment with PyTorch 2.x at `path`, creating it first if needed."""
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {path} with PyTorch from the package index (once)", file=sys.stderr, flush=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "torch", "numpy"], check=True)
    return python


def run_json(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ecgssl", default="build/app/bin/ecgssl")
    p.add_argument("--configs", nargs="+", default=["tiny", "small", "base"])
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--default-env", action="store_true")
    p.add_argument("--device", choices=["host", "cuda"], default="host")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--torch-python", nargs="+", default=[sys.executable],
                   help="interpreters whose PyTorch runs (e.g. /usr/bin/python3 for Debian's 1.13)")
    p.add_argument("--venv", help="also run PyTorch 2.x from this virtual environment (created if missing)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        pytorch_child(args.child, args.pairs, args.steps, args.threads, "cuda" if args.device == "cuda" else "cpu",
                      args.precision)
        return
    pythons = list(args.torch_python)
    if args.venv:
        pythons.append(ensure_torch_venv(args.venv))
    if args.precision == "bf16" and args.device == "host":
        # PyTorch 1.13's CPU autocast stops in group_norm with a dtype error: leave it out, say so.
        def major(py):
            return int(subprocess.run([py, "-c", "import torch; print(torch.__version__.split('.')[0])"],
                                      capture_output=True, text=True, check=True).stdout.strip())
        old = [py for py in pythons if major(py) < 2]
        for py in old:
            print(f"{py}: PyTorch 1.x has no working CPU bf16 autocast for this model; not compared", file=sys.stderr)
        pythons = [py for py in pythons if py not in old]
        if not pythons:
            sys.exit("no PyTorch 2.x to compare bf16 with: pass --venv DIR or --torch-python with PyTorch 2.x")
    env = environment(args)
    rows, infer = [], []
    for config in args.configs:
        ours, theirs = [], {py: [] for py in pythons}
        for _ in range(args.rounds):
            ours.append(run_json([args.ecgssl, "bench", "--config", config, "--batch-pairs", str(args.pairs),
                                  "--steps", str(args.steps), "--threads", str(args.threads), "--device", args.device,
                                  "--precision", args.precision, "--json"], env))
            for py in pythons:
                theirs[py].append(run_json([py, os.path.abspath(__file__), "--child", config, "--pairs",
                                            str(args.pairs), "--steps", str(args.steps), "--threads", str(args.threads),
                                            "--device", args.device, "--precision", args.precision], env))
        a = min(r["train_s_per_step"] for r in ours)
        peers = [(theirs[py][0]["torch"], min(r["train_s_per_step"] for r in theirs[py]),
                  min(r["train_peak_rss_mib"] for r in theirs[py])) for py in pythons]
        segs = 2 * args.pairs
        rss = min(r.get("train_peak_rss_mib", r["peak_rss_mib"]) for r in ours)
        rows.append((config, segs / a, [(version, segs / b, b / a, m) for version, b, m in peers], ours[0], rss))
        print(f"{config}: ecgssl {a:.3f} s/step, " + ", ".join(f"PyTorch {v} {b:.3f} s/step" for v, b, _ in peers),
              file=sys.stderr, flush=True)
        infer.append((config, [min(r[key] for r in ours) for key in ("infer_ms_per_segment_b32", "infer_ms_per_segment_b1")],
                      [(theirs[py][0]["torch"], min(r["infer_ms_b32"] for r in theirs[py]),
                        min(r["infer_ms_b1"] for r in theirs[py])) for py in pythons]))
    versions = [v for v, _, _, _ in rows[0][2]]
    print("| config | ecgssl segments/s | ecgssl peak RSS, MiB | " +
          " | ".join(f"PyTorch {v} segments/s | ecgssl / PyTorch {v} | PyTorch {v} peak RSS, MiB" for v in versions) + " |")
    print("| --- | --- | --- | " + " | ".join("--- | --- | ---" for _ in versions) + " |")
    for config, a, peers, _, rss in rows:
        print(f"| {config} | {a:.2f} | {rss:.0f} | " +
              " | ".join(f"{b:.2f} | {r:.2f}x | {m:.0f}" for _, b, r, m in peers) + " |")
    print("\nEval-mode inference, ms per segment at batch 32 / batch 1 (lower is better; ratio = PyTorch / ecgssl):")
    print("| config | ecgssl | " + " | ".join(f"PyTorch {v} | ratio" for v in versions) + " |")
    print("| --- | --- | " + " | ".join("--- | ---" for _ in versions) + " |")
    for config, (a32, a1), peers in infer:
        print(f"| {config} | {a32:.1f} / {a1:.1f} | " +
              " | ".join(f"{b32:.1f} / {b1:.1f} | {b32 / a32:.2f}x / {b1 / a1:.2f}x" for _, b32, b1 in peers) + " |")
    first = rows[0][3]
    print("\nPeak RSS: the whole process's resident peak after the timed updates (ecgssl: before its inference "
          "timing), libraries included.")
    print(f"\n{2 * args.pairs} segments per update ({args.pairs} CMSC pairs), device {args.device}, {args.threads} threads, "
          f"precision {args.precision} (PyTorch: {'torch.autocast(bfloat16)' if args.precision == 'bf16' else 'float32'}), "
          f"fastest of {args.rounds} alternating rounds of {args.steps} timed updates after one warm-up. "
          f"oneDNN ISA {first.get('isa', '?')}; ecgssl bf16 products: {first.get('bf16_products', '?')}.")


if __name__ == "__main__":
    main()
