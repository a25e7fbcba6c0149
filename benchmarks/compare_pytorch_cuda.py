#!/usr/bin/python3
"""Times one training step (forward + backward) of the base encoder's transformer stack in
PyTorch on a GPU and, with --bench, runs ecgssl's ecgssl_bench_cuda_transformer on the same GPU
and prints both and their ratio (issue 8).

    /usr/bin/python3 benchmarks/compare_pytorch_cuda.py --batch 8 --time 156 \
        [--bench build/cuda/benchmarks/ecgssl_bench_cuda_transformer] [--iters 20] [--warmup 3]

The stack is the one ecgssl times: 12 post-LN layers (spec section 3.7), D 768, H 12, F 3072,
exact GELU, dropout 0.1 after attention and after fc2, attention dropout 0.1 on the
probabilities and on the attention output (the paper-era placement), layer norms eps 1e-6,
float32, training mode, input [batch, time, 768], a fixed random upstream gradient. TF32 is off
on both sides (ecgssl's cuBLAS calls use CUBLAS_DEFAULT_MATH). Needs a CUDA build of torch.
"""
import argparse
import json
import math
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


class Layer(torch.nn.Module):
    def __init__(self, d=768, h=12, f=3072, p=0.1, pa=0.1):
        super().__init__()
        self.h, self.p, self.pa = h, p, pa
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.ln1 = torch.nn.LayerNorm(d, eps=1e-6)
        self.fc1 = torch.nn.Linear(d, f)
        self.fc2 = torch.nn.Linear(f, d)
        self.ln2 = torch.nn.LayerNorm(d, eps=1e-6)

    def attention(self, x):
        b, t, d = x.shape
        hd = d // self.h
        split = lambda y: y.view(b, t, self.h, hd).transpose(1, 2)  # [b, h, t, hd]
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        p = F.dropout(p, self.pa, self.training)
        c = (p @ v).transpose(1, 2).reshape(b, t, d)
        return self.o(c)

    def forward(self, x):
        a = F.dropout(F.dropout(self.attention(x), self.pa, self.training), self.p, self.training)
        h = self.ln1(x + a)
        f = F.dropout(self.fc2(F.gelu(self.fc1(h))), self.p, self.training)
        return self.ln2(h + f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--time", type=int, default=156)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--bench", help="path of ecgssl_bench_cuda_transformer")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("compare_pytorch_cuda.py: torch sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[Layer() for _ in range(args.layers)]).to(dev).train()
    x = torch.randn(args.batch, args.time, 768, device=dev, requires_grad=True)
    dy = torch.randn(args.batch, args.time, 768, device=dev) * 1e-3
    ms = []
    for it in range(args.warmup + args.iters):
        torch.cuda.synchronize()
        start = time.perf_counter()
        stack.zero_grad(set_to_none=False)
        x.grad = None
        stack(x).backward(dy)
        torch.cuda.synchronize()
        if it >= args.warmup:
            ms.append((time.perf_counter() - start) * 1e3)
    ms.sort()
    torch_ms = ms[len(ms) // 2]
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "batch": args.batch, "time": args.time, "layers": args.layers,
              "torch_ms_per_step": round(torch_ms, 3)}
    if args.bench:
        out = subprocess.run([args.bench, "--batch", str(args.batch), "--time", str(args.time),
                              "--layers", str(args.layers), "--warmup", str(args.warmup),
                              "--iters", str(args.iters)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"compare_pytorch_cuda.py: {args.bench} failed (exit status {out.returncode}):\n"
                     f"{out.stdout}{out.stderr}")
        ours = json.loads(out.stdout.strip().splitlines()[-1])
        result["ecgssl_cuda_ms_per_step"] = ours["cuda_ms_per_step"]
        result["ecgssl_over_torch"] = round(ours["cuda_ms_per_step"] / torch_ms, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
