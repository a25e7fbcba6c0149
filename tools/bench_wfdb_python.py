#!/usr/bin/env python3
"""Reading throughput of wfdb-python on the shipped 12-lead records (baseline for
benchmarks/bench_io_read.cpp).

Run from the repository root with the pyenv python that has wfdb:

    python3 tools/bench_wfdb_python.py [--seconds 5]

Reads every single-segment 12-lead record under tests/data/records with wfdb.rdrecord
(physical units, the default) repeatedly for about --seconds and prints records/s and MB/s
(signal-file bytes per second, MB = 1e6 bytes).
"""
import argparse
import glob
import os
import time

import wfdb


def twelve_lead_records(root):
    found = []
    for hea in sorted(glob.glob(os.path.join(root, "**", "*.hea"), recursive=True)):
        with open(hea) as f:
            lines = [l.split() for l in f if l.strip() and not l.lstrip().startswith("#")]
        if "/" in lines[0][0] or int(lines[0][1]) != 12:
            continue
        found.append((hea[:-4], os.path.getsize(os.path.join(os.path.dirname(hea), lines[1][0]))))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       "tests", "data", "records"))
    args = parser.parse_args()
    records = twelve_lead_records(args.root)
    readable = []
    for path, size in records:
        try:
            wfdb.rdrecord(path)
            readable.append((path, size))
        except Exception as e:  # E00015: wfdb-python rejects its record line
            print(f"skipped {os.path.basename(path)}: {e}")
    passes = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for path, _ in readable:
            wfdb.rdrecord(path)
        passes += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    n = passes * len(readable)
    total_bytes = passes * sum(size for _, size in readable)
    print(f"wfdb-python {wfdb.__version__}: {len(readable)} records x {passes} passes in {elapsed:.2f} s")
    print(f"records/s: {n / elapsed:.1f}")
    print(f"MB/s: {total_bytes / elapsed / 1e6:.2f}")
    print(f"CPU time: records/s {n / cpu:.1f}, MB/s {total_bytes / cpu / 1e6:.2f}")


if __name__ == "__main__":
    main()
