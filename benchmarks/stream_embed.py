#!/usr/bin/python3
"""Streaming embedding of long recordings (issue 20): windows per second and peak memory of
`ecgssl embed --stream` on records of different lengths, to show memory bounded by the window.

    python3 benchmarks/stream_embed.py --ecgssl build/app/bin/ecgssl --checkpoint CK.safetensors \
        --hours 1 8 --batches 1 16 --hop-s 2.5 --threads 2

Each record is assembled in a scratch folder from the bundled real 10 s recordings (PTB-XL
00001_hr and LUDB 3, 12 leads, 500 Hz, format 16, alternating) under one header, as the test in
tests/pipeline/test_stream_embedding.cpp does; an 8-hour record is 346 MB. Peak memory is the
maximum resident set size of the ecgssl process (wait4's rusage of that child), time the wall clock of
the whole command including start-up and the checkpoint load. Standard library only.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIECES = [os.path.join(ROOT, "tests", "data", "records", "ptbxl", "00001_hr"),
          os.path.join(ROOT, "tests", "data", "records", "ludb", "3")]


def assemble(folder, hours):
    """Writes folder/long.hea + long.dat: `hours` of alternating 10 s real pieces."""
    pieces = [open(p + ".dat", "rb").read() for p in PIECES]
    assert all(len(p) == 5000 * 12 * 2 for p in pieces)
    count = int(round(hours * 360))
    with open(os.path.join(folder, "long.dat"), "wb") as dat:
        for i in range(count):
            dat.write(pieces[i % 2])
    with open(PIECES[0] + ".hea") as f:
        signal_lines = [line.split() for line in f.read().splitlines()[1:13]]
    with open(os.path.join(folder, "long.hea"), "w") as hea:
        hea.write("long 12 500 %d\n" % (count * 5000))
        for f in signal_lines:
            hea.write("long.dat %s %s %s %s 0 0 0 %s\n" % (f[1], f[2], f[3], f[4], f[8]))
    return os.path.join(folder, "long")


def run(cmd, env):
    """Wall seconds and this child's own peak RSS in MiB (os.wait4 gives the rusage of that one
    process; ru_maxrss is in KiB on Linux)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit("%s exited with %d" % (" ".join(cmd), child.returncode))
    return wall, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ecgssl", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--hours", type=float, nargs="+", default=[1, 8])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--hop-s", default="2.5")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    print("| record | hop | batch | windows | wall s | windows/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for hours in sorted(a.hours):
            folder = os.path.join(scratch, "%gh" % hours)
            os.makedirs(folder)
            record = assemble(folder, hours)
            samples = int(round(hours * 360)) * 5000
            windows = (samples - 2500) // int(round(float(a.hop_s) * 500)) + 1
            for batch in a.batches:
                out = os.path.join(folder, "out.csv")
                wall, rss = run([a.ecgssl, "embed", "--checkpoint", a.checkpoint, "--stream", "--hop-s", a.hop_s,
                                 "--batch", str(batch), "--threads", str(a.threads), "--out", out, record], env)
                print("| %g h | %s s | %d | %d | %.1f | %.1f | %.0f |" % (hours, a.hop_s, batch, windows, wall, windows / wall, rss))
                sys.stdout.flush()
                os.remove(out)
            os.remove(record + ".dat")


if __name__ == "__main__":
    main()
