#!/usr/bin/env python3
"""Data-parallel pre-training on this machine (docs/distributed.md): segments per second of
  - 1 rank x T threads with --update-freq 2, against
  - 2 ranks x T/2 threads with --update-freq 1 (mpirun), the same global batch, with the gradient
    sums in 25 MiB buckets started during backward (the default) and in one blocking sum after it
    (--bucket-mb 0),
for the --configs (default tiny and small), and the time of one all-reduce of the base encoder's gradient
buffer (363.5 MB) over 2 ranks (ecgssl_mpi_allreduce). Rates are the median of the updates after
the first two (warm-up), read from the runs' CSV logs. Prints a markdown table and one JSON line.

Usage: distributed_throughput.py --ecgssl build/app/bin/ecgssl --allreduce build/default/benchmarks/ecgssl_mpi_allreduce
           [--threads 2] [--steps 12] [--batch-pairs 8] [--data examples/data/cinc] [--configs tiny small base]
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def rate(log):
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    return statistics.median(float(r["segments_per_second"]) for r in rows[2:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ecgssl", required=True)
    p.add_argument("--allreduce", default="")
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-pairs", type=int, default=8)
    p.add_argument("--data", default=str(ROOT / "examples" / "data" / "cinc"))
    p.add_argument("--configs", nargs="+", default=["tiny", "small"])
    a = p.parse_args()
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl="self,vader")
    per_rank = max(1, a.threads // 2)
    results = {"cpu": cpu_name(), "threads": a.threads, "batch_pairs": a.batch_pairs, "configs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for config in a.configs:
            common = ["pretrain", "--data", a.data, "--config", config, "--steps", str(a.steps), "--batch-pairs",
                      str(a.batch_pairs), "--loader-threads", "1", "--seed", "1"]
            one = Path(tmp) / f"{config}_one.csv"
            subprocess.run([a.ecgssl, *common, "--update-freq", "2", "--threads", str(a.threads), "--out",
                            str(Path(tmp) / "one.st"), "--log-csv", str(one)],
                           env=dict(env, OMP_NUM_THREADS=str(a.threads)), check=True, capture_output=True)
            r = {"one_rank": rate(one)}
            for key, mb in [("two_ranks", "25"), ("two_ranks_blocking", "0")]:
                two = Path(tmp) / f"{config}_{key}.csv"
                subprocess.run([a.mpirun, "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", f"OMP_NUM_THREADS={per_rank}",
                                a.ecgssl, *common, "--update-freq", "1", "--threads", str(per_rank), "--bucket-mb", mb,
                                "--out", str(Path(tmp) / "two.st"), "--log-csv", str(two)],
                               env=env, check=True, capture_output=True)
                r[key] = rate(two)
            results["configs"][config] = r
    if a.allreduce:
        out = subprocess.run([a.mpirun, "-np", "2", "--oversubscribe", "--bind-to", "none", a.allreduce, "363.5", "5"],
                             env=env, check=True, capture_output=True, text=True).stdout
        results["allreduce_2_ranks"] = json.loads(out.strip().splitlines()[-1])
    print(f"CPU: {results['cpu']}; {a.threads} threads in all; global batch {2 * a.batch_pairs} pairs per update\n")
    print("| config | 1 rank x %d threads, seg/s | 2 ranks x %d thread(s), 25 MiB buckets, seg/s | ratio "
          "| 2 ranks, one blocking sum (--bucket-mb 0), seg/s | buckets / blocking |" % (a.threads, per_rank))
    print("| --- | --- | --- | --- | --- | --- |")
    for config, r in results["configs"].items():
        print(f"| {config} | {r['one_rank']:.1f} | {r['two_ranks']:.1f} | {r['two_ranks'] / r['one_rank']:.2f} "
              f"| {r['two_ranks_blocking']:.1f} | {r['two_ranks'] / r['two_ranks_blocking']:.2f} |")
    if "allreduce_2_ranks" in results:
        r = results["allreduce_2_ranks"]
        print(f"\nall-reduce of {r['megabytes']:.1f} MB over 2 ranks: median {r['median_s'] * 1000:.0f} ms "
              f"(bus bandwidth {r['bus_gb_per_s']:.2f} GB/s)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
