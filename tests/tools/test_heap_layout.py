#!/usr/bin/env python3
"""Same seed, same bits, wherever the buffers land (issue 19).

Runs one short `ecgssl pretrain` (tiny config, one thread) in child processes that differ only in
things that move memory and must not move results: the size of the environment (which shifts the
stack and everything the loader places after it), glibc's malloc tunables (a low mmap threshold
puts every large buffer at a page boundary plus 16 bytes, a high one keeps them in the heap at
whatever 16-byte offset the allocation history gives; no thread cache and one arena change which
freed blocks are reused), the length of the output's name, where stdout goes, and the number of
background loader threads. Every variant must write the same checkpoint, byte for byte, and the
same losses in its CSV log (whose time columns are left out).

A path that sums in an order fixed by addresses (an alignment-dependent vector kernel, a reduction
that peels to the next aligned element) shows up here as a last-bit difference in the loss.

Usage: test_heap_layout.py --ecgssl PATH [--data DIR] [--steps N]
"""

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIME_COLUMNS = {"segments_per_second", "elapsed_seconds"}


def run(ecgssl, data, steps, folder, name, env_extra, loader_threads, stdout_to_file):
    out = folder / name
    log = folder / (name + ".csv")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.update(env_extra)
    command = [str(ecgssl), "pretrain", "--data", str(data), "--config", "tiny", "--steps", str(steps),
               "--batch-pairs", "4", "--seed", "7", "--threads", "1", "--loader-threads", str(loader_threads),
               "--out", str(out), "--log-csv", str(log)]
    if stdout_to_file:
        with open(folder / (name + ".stdout"), "w") as sink:
            result = subprocess.run(command, env=env, stdout=sink, stderr=subprocess.PIPE, text=True, timeout=600)
    else:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"variant {name} failed (rc {result.returncode}): {result.stderr.strip()}")
    with open(log, newline="") as f:
        rows = [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)]
    if len(rows) != steps:
        sys.exit(f"variant {name}: {len(rows)} log rows, expected {steps}")
    return hashlib.sha256(out.read_bytes()).hexdigest(), rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ecgssl", required=True)
    parser.add_argument("--data", default=str(ROOT / "examples" / "data" / "cinc"))
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    variants = [
        # name, extra environment, loader threads, stdout to a file
        ("base", {}, 0, False),
        ("big_environment", {"ECGSSL_TEST_PADDING": "x" * 100_000}, 0, False),
        ("odd_environment", {"ECGSSL_TEST_PADDING": "x" * 4_099}, 0, True),
        ("mmap_everything", {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"}, 0, False),
        ("heap_everything", {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.top_pad=12345"}, 0, False),
        ("no_tcache_one_arena", {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"}, 2, True),
        ("a_much_longer_output_name_than_the_others_" + "y" * 60, {}, 1, True),
    ]
    with tempfile.TemporaryDirectory(prefix="ecgssl_heap_layout_") as tmp:
        folder = Path(tmp)
        results = {}
        for name, env_extra, loader_threads, to_file in variants:
            results[name] = run(args.ecgssl, args.data, args.steps, folder, name, env_extra, loader_threads, to_file)
        base_digest, base_rows = results["base"]
        failures = []
        for name, (digest, rows) in results.items():
            if rows != base_rows:
                first = next(i for i, (a, b) in enumerate(zip(rows, base_rows)) if a != b)
                failures.append(f"{name}: log row {first + 1} differs: {rows[first]} vs {base_rows[first]}")
            if digest != base_digest:
                failures.append(f"{name}: checkpoint bytes differ from base")
        for line in failures:
            print("FAIL", line)
        if failures:
            sys.exit(1)
        print(f"{len(variants)} variants, {args.steps} updates each: identical checkpoints "
              f"(sha256 {base_digest[:16]}...) and losses (last {base_rows[-1]['loss']})")


if __name__ == "__main__":
    main()
