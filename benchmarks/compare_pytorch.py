#!/usr/bin/python3
"""Times the ECG transformer's pre-training forward+backward in PyTorch and in ecgssl, same
machine, same thread count, and prints the ratio (spec section 11).

    /usr/bin/python3 benchmarks/compare_pytorch.py --config base --batch 8 --threads 2 \
        [--bench build/bench_encoder] [--default-env]

The PyTorch side is tools/torch_reference_encoder.py (same architecture and parameter names),
float32, training mode (dropout 0.1, ~36 % of frames masked, Gumbel quantizer, all heads), loss =
a weighted sum of every output as in bench_encoder.cpp. The ecgssl side runs the Google Benchmark
binary `--bench` (built as described in bench_encoder.cpp) with the same OMP_NUM_THREADS and
environment and reads its JSON.

Environment: unless --default-env, the variables of spec section 11 are set for both programs
(OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, OMP_WAIT_POLICY=PASSIVE, OPENBLAS_THREAD_TIMEOUT=4,
MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=68719476736); with them PyTorch 1.13 was about twice
as fast on the 2-core machine. The script re-executes itself once so torch sees them at import.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

TUNED = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4", "MALLOC_MMAP_MAX_": "0",
         "MALLOC_TRIM_THRESHOLD_": "68719476736"}


def environment(args):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    if not args.default_env:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        env.update(TUNED)
    env["ECGSSL_COMPARE_CHILD"] = "1"
    return env


def forward_flops(o, batch, samples, rows):
    length, cin, flops = samples, o.in_channels, 0.0
    for _ in range(o.conv_layers):
        length = (length - o.conv_kernel) // o.conv_stride + 1
        flops += 2 * batch * length * o.conv_dim * cin * o.conv_kernel
        cin = o.conv_dim
    t, c, d, f = length, o.conv_dim, o.embed_dim, o.ffn_dim
    if c != d:
        flops += 2 * batch * t * c * d
    flops += 2 * batch * t * d * (d / o.pos_groups) * o.pos_kernel
    flops += o.layers * (8 * batch * t * d * d + 4 * batch * t * t * d + 4 * batch * t * d * f)
    flops += 2 * rows * (d * o.final_dim + c * o.latent_groups * o.latent_vars + o.final_dim ** 2)
    return flops


def time_pytorch(args):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import torch_reference_encoder as ref
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    o = getattr(ref, args.config)()
    model = ref.ECGTransformer(o).train()
    x = 0.3 * torch.randn(args.batch, o.in_channels, 2500)
    frames = 156
    times, cpu_times, rows = [], [], 0
    for it in range(args.warmup + args.iters):
        mask = torch.rand(args.batch, frames) < 0.36
        mask[:, 0] = True
        start = time.perf_counter()
        cpu_start = time.process_time()
        out = model(x, mask=mask, num_updates=it)
        loss = (1e-3 * (out["predictions"] ** 2).sum() / 2 + 1e-3 * (out["targets"] ** 2).sum() / 2
                + 1e-4 * (out["features"] ** 2).sum() / 2 + 1e-4 * (out["encoded"] ** 2).sum() / 2
                - 1e-3 * out["prob_perplexity"])
        model.zero_grad(set_to_none=False)
        loss.backward()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        rows = out["predictions"].shape[0]
        if it >= args.warmup:
            times.append(elapsed)
            cpu_times.append(cpu)
    times.sort()
    cpu_times.sort()
    median = times[len(times) // 2]
    flops = 3 * forward_flops(o, args.batch, 2500, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"seconds": median, "cpu_seconds": cpu_times[len(cpu_times) // 2], "gflops": flops / median * 1e-9,
            "peak_rss_MiB": peak, "torch": torch.__version__}


def time_ecgssl(args, env):
    name = f"{args.config}_forward_backward"
    cmd = [args.bench, f"--benchmark_filter={args.config}_forward_backward", "--benchmark_format=json",
           f"--benchmark_min_time={args.min_time}"]
    env = dict(env, ECGSSL_BENCH_BATCH=str(args.batch))
    result = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
    for b in result["benchmarks"]:
        if b["name"].startswith(name):
            return {"seconds": b["real_time"] / 1e3, "cpu_seconds": b["cpu_time"] / 1e3, "gflops": b["GFLOP/s"],
                    "peak_rss_MiB": b["peak_rss_MiB"]}
    raise RuntimeError("benchmark not found in " + json.dumps(result)[:500])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="base", choices=["tiny", "small", "base"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-time", default="5")
    parser.add_argument("--bench", default=None, help="path of the bench_encoder binary")
    parser.add_argument("--default-env", action="store_true", help="do not apply the spec 11 environment")
    args = parser.parse_args()
    env = environment(args)
    if os.environ.get("ECGSSL_COMPARE_CHILD") != "1":
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    torch_result = time_pytorch(args)
    print(f"environment: {'default' if args.default_env else 'spec 11 tuned'}, threads {args.threads}, "
          f"{args.config} batch {args.batch} x 12 x 2500, forward+backward")
    print(f"pytorch {torch_result['torch']}: {torch_result['seconds']:.3f} s/iter "
          f"(CPU {torch_result['cpu_seconds']:.3f} s), "
          f"{torch_result['gflops']:.1f} GFLOP/s, peak RSS {torch_result['peak_rss_MiB']:.0f} MiB")
    if args.bench:
        e = time_ecgssl(args, env)
        print(f"ecgssl: {e['seconds']:.3f} s/iter (CPU {e['cpu_seconds']:.3f} s), {e['gflops']:.1f} GFLOP/s, "
              f"peak RSS {e['peak_rss_MiB']:.0f} MiB")
        print(f"ratio ecgssl/pytorch wall time: {e['seconds'] / torch_result['seconds']:.2f}, "
              f"CPU time: {e['cpu_seconds'] / torch_result['cpu_seconds']:.2f}")


if __name__ == "__main__":
    main()
