#!/usr/bin/env python3
"""Data-parallel pre-training and fine-tuning under `mpirun -np 2` (issue 18), against one process.

Checks, on the tiny config and the bundled records, one thread per rank:
  1. equivalence: 2 ranks x B pairs give, after 3 updates, the parameters of 1 rank x B pairs
     with --update-freq 2 (the same batches and random draws; only the order of the gradient sum
     differs), to 1e-6 of the largest parameter (and says whether the logged losses differ);
  2. repeatability: two identical 2-rank runs write byte-identical checkpoints;
  2b. gradient buckets: sums started during backward in 0.05 MiB buckets (tens of them, most
     started before backward ends) and one blocking sum after backward (--bucket-mb 0) both give
     the one-process parameters to 1e-6, and a bucketed run repeats byte for byte;
  3. failure: killing one rank mid-run ends the other (non-zero exit) within 60 s, with a message
     naming the dead rank, and leaves the last checkpoint readable; resuming from it with 2 ranks
     and with 1 rank x --update-freq 2 continues, and the two continuations agree;
  4. fine-tuning (arrhythmia and identification, 12 records): 2 ranks x B segments give the
     parameters of 1 rank x B x --update-freq 2 after two epochs, to 1e-6 of the largest; two
     identical 2-rank runs with validation (rank 0 validates, every rank keeps its epoch) write
     byte-identical checkpoints.
Reads safetensors with the standard library only (float32 tensors).

Usage: test_distributed.py --ecgssl PATH [--mpirun mpirun] [--data DIR]
"""

import argparse
import array
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env():
    e = dict(os.environ)
    e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
             OPENBLAS_NUM_THREADS="1", OMPI_MCA_btl="self,vader", OMPI_MCA_rmaps_base_oversubscribe="1")
    return e


def pretrain_args(a, out, steps, update_freq, extra=()):
    return [a.ecgssl, "pretrain", "--data", a.data, "--config", "tiny", "--steps", str(steps), "--batch-pairs", "2",
            "--update-freq", str(update_freq), "--seed", "3", "--threads", "1", "--loader-threads", "0",
            "--out", str(out), *extra]


def finetune_args(a, data, out, task, update_freq, valid_fraction, extra=()):
    return [a.ecgssl, "finetune", "--task", task, "--random-init", "--config", "tiny", "--data", data,
            "--epochs", "2", "--batch-size", "4", "--update-freq", str(update_freq), "--seed", "3",
            "--valid-fraction", str(valid_fraction), "--out", str(out), *extra]


def mpirun(a, ranks):
    return [a.mpirun, "-np", str(ranks), "--oversubscribe", "--bind-to", "none"]


def run(cmd, what):
    r = subprocess.run([str(c) for c in cmd], env=env(), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        sys.exit(f"{what} failed (rc {r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def tensors(path):
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(data[8 + n + begin:8 + n + end])
        out[name] = values
    return out


def compare(a_path, b_path, what, tolerance=1e-6):
    """The parameters, as one vector: the largest element difference relative to the largest
    parameter (the issue's 1e-6). Element by element it could not hold: a bias that starts at 0
    and whose gradient is near Adam's eps, or zero up to rounding (a key projection's bias cannot
    change the softmax), is a few learning rates or rounding noise after 3 updates, and Adam turns
    last-bit differences of such gradients into 1e-10-sized differences of the values, large
    against the values themselves. The Adam moments are only counted, for the same reason."""
    a, b = tensors(a_path), tensors(b_path)
    if a.keys() != b.keys():
        sys.exit(f"{what}: different tensors: {sorted(a.keys() ^ b.keys())[:5]}")
    moments = sum(1 for name in a if name.startswith("optimizer.") and a[name] != b[name])
    largest, worst, worst_name, differing = 0.0, 0.0, "", 0
    for name in a:
        if name.startswith("optimizer."):
            continue
        largest = max(largest, max((abs(x) for x in a[name]), default=0.0))
        difference = max((abs(x - y) for x, y in zip(a[name], b[name])), default=0.0)
        differing += difference > 0
        if difference > worst:
            worst, worst_name = difference, name
    relative = worst / largest if largest > 0 else 0.0
    if relative > tolerance:
        sys.exit(f"FAIL {what}: {worst_name} differs by {worst:.3g}, {relative:.3g} of the largest parameter "
                 f"(limit {tolerance})")
    print(f"{what}: parameters " + ("bit for bit" if differing == 0 else
          f"within {relative:.3g} of the largest ({differing} tensors differ; largest difference {worst:.3g} "
          f"in {worst_name})") + f"; {moments} Adam moment tensors differ in their bits")


def rank_pid(marker, rank):
    """The pid of the ecgssl process of `rank` whose command line holds `marker`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(marker.encode() in c for c in cmdline) and f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ \
                and any(c.endswith(b"ecgssl") for c in cmdline[:1]):
            return int(entry.name)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ecgssl", required=True)
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--data", default=str(ROOT / "examples" / "data" / "cinc"))
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecgssl_distributed_") as tmp:
        d = Path(tmp)
        t0 = time.time()
        # 1. two ranks x B against one rank x B x update-freq 2
        two = run(mpirun(a, 2) + pretrain_args(a, d / "two.safetensors", 3, 1, ["--log-csv", d / "two.csv"]), "2 ranks")
        if "data parallel: 2 ranks" not in two.stdout:
            sys.exit(f"FAIL the 2-rank run did not say it was data parallel:\n{two.stdout}")
        run(pretrain_args(a, d / "one.safetensors", 3, 2, ["--log-csv", d / "one.csv"]), "1 rank, --update-freq 2")
        compare(d / "two.safetensors", d / "one.safetensors", "2 ranks x 1 micro-batch vs 1 rank x 2")
        rows = [Path(d / f"{n}.csv").read_text().splitlines() for n in ("two", "one")]
        if len(rows[0]) != 4 or [r.split(",")[1] for r in rows[0][1:]] != [r.split(",")[1] for r in rows[1][1:]]:
            losses = [[r.split(",")[1] for r in x[1:]] for x in rows]
            print(f"losses differ in the last digits: 2 ranks {losses[0]}, 1 rank {losses[1]}")

        # 2. the same 2-rank run again: the same bytes
        run(mpirun(a, 2) + pretrain_args(a, d / "two_again.safetensors", 3, 1), "2 ranks again")
        if (d / "two.safetensors").read_bytes() != (d / "two_again.safetensors").read_bytes():
            sys.exit("FAIL two identical 2-rank runs wrote different checkpoints")
        print("two identical 2-rank runs: byte-identical checkpoints")

        # 2b. small buckets started during backward, and one blocking sum, against one process
        for mb in ("0.05", "0"):
            r = run(mpirun(a, 2) + pretrain_args(a, d / f"bucket_{mb}.safetensors", 3, 1, ["--bucket-mb", mb]),
                    f"2 ranks, --bucket-mb {mb}")
            said = "in one blocking sum" if mb == "0" else f"in {mb} MiB buckets during backward"
            if said not in r.stdout:
                sys.exit(f"FAIL the run with --bucket-mb {mb} did not say how it sums:\n{r.stdout}")
            compare(d / f"bucket_{mb}.safetensors", d / "one.safetensors", f"2 ranks, --bucket-mb {mb}, vs 1 rank x 2")
        run(mpirun(a, 2) + pretrain_args(a, d / "bucket_again.safetensors", 3, 1, ["--bucket-mb", "0.05"]),
            "2 ranks, --bucket-mb 0.05, again")
        if (d / "bucket_0.05.safetensors").read_bytes() != (d / "bucket_again.safetensors").read_bytes():
            sys.exit("FAIL two identical bucketed 2-rank runs wrote different checkpoints")
        print("--bucket-mb 0.05 and 0: the one-process parameters; bucketed runs repeat byte for byte")

        # 3. kill rank 1 after the first checkpoint; the other rank must stop within 60 s
        ck = d / "killed.safetensors"
        cmd = [str(c) for c in mpirun(a, 2) + pretrain_args(a, ck, 400, 1, ["--checkpoint-every", "2"])]
        proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while not ck.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        if not ck.exists():
            proc.kill()
            sys.exit(f"FAIL no checkpoint appeared: {proc.communicate()[1][-2000:]}")
        time.sleep(1.0)
        victim = rank_pid(str(ck), 1)
        if victim is None:
            proc.kill()
            sys.exit("FAIL could not find rank 1's process")
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            sys.exit("FAIL rank 0 was still running 60 s after rank 1 was killed")
        waited = time.time() - killed_at
        if proc.returncode == 0:
            sys.exit("FAIL the run exited 0 after a rank was killed")
        if "rank 1" not in err:
            sys.exit(f"FAIL no message names the dead rank:\n{err[-2000:]}")
        print(f"rank 1 killed: the run stopped after {waited:.1f} s with rc {proc.returncode}")
        step = None
        data = ck.read_bytes()
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        begin, end = header["trainer.step"]["data_offsets"]
        step = struct.unpack("<q", data[8 + n + begin:8 + n + end])[0]
        target = step + 2
        for name, cmd in [("resumed_two", mpirun(a, 2) + pretrain_args(a, d / "resumed_two.safetensors", target, 1,
                                                                        ["--resume", ck])),
                          ("resumed_one", pretrain_args(a, d / "resumed_one.safetensors", target, 2, ["--resume", ck]))]:
            run(cmd, name)
        compare(d / "resumed_two.safetensors", d / "resumed_one.safetensors",
                f"resumed from update {step} to {target}: 2 ranks vs 1 rank x 2")

        # 4. fine-tuning: 2 ranks x 4 segments against 1 rank x 4 x update-freq 2, on 12 records
        # (3 updates an epoch: Adam moves a bias the output does not depend on by up to the
        # learning rate either way on rounding noise, so the difference grows with the updates)
        records = d / "finetune_records"
        records.mkdir()
        for hea in sorted(Path(a.data).glob("*.hea"))[:12]:
            for f in Path(a.data).glob(hea.stem + ".*"):
                (records / f.name).write_bytes(f.read_bytes())
        for task in ("arrhythmia", "identification"):
            # No validation part: the last epoch is kept, so both runs keep the same one.
            two = run(mpirun(a, 2) + finetune_args(a, records, d / f"ft_two_{task}.safetensors", task, 1, 0),
                      f"finetune {task}, 2 ranks")
            if "data parallel: 2 ranks x 4 segments x 1" not in two.stdout:
                sys.exit(f"FAIL the 2-rank fine-tuning did not say it was data parallel:\n{two.stdout}")
            run(finetune_args(a, records, d / f"ft_one_{task}.safetensors", task, 2, 0),
                f"finetune {task}, 1 rank, --update-freq 2")
            compare(d / f"ft_two_{task}.safetensors", d / f"ft_one_{task}.safetensors",
                    f"finetune {task}: 2 ranks x 1 micro-batch vs 1 rank x 2")
        for n in ("a", "b"):
            run(mpirun(a, 2) + finetune_args(a, records, d / f"ft_valid_{n}.safetensors", "arrhythmia", 1, 0.2),
                "finetune with validation, 2 ranks")
        if (d / "ft_valid_a.safetensors").read_bytes() != (d / "ft_valid_b.safetensors").read_bytes():
            sys.exit("FAIL two identical 2-rank fine-tuning runs wrote different checkpoints")
        print("fine-tuning with validation: two identical 2-rank runs wrote byte-identical checkpoints")
        print(f"all distributed checks passed in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
