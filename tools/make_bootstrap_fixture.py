#!/usr/bin/env python3
"""Reference bootstrap intervals for tests/metrics/test_bootstrap.cpp, computed with Python's own
`random.Random` and a direct Mann-Whitney AUROC, independently of metrics/bootstrap.hpp.

    python3 tools/make_bootstrap_fixture.py

Writes tests/data/metrics/bootstrap.json: 60 records of 3 classes (labels 0/1 with class rates 0.5, 0.2
and 0.05, scores 0.3 y + 0.7 u rounded to a coarse grid, so ties occur, drawn from random.Random(7)), and for seed 12345, 500 resamples, 95%:
the percentile interval of (a) the mean of the class-0 scores and (b) the macro AUROC over the
classes that have both a positive and a negative record in the resample (NaN if none). Each
resample draws n indices `rng.randrange(n)` from one generator; quantiles are numpy's "linear".
"""
import json
import math
import os
import random

N, CLASSES, RESAMPLES, SEED, LEVEL = 60, 3, 500, 12345, 0.95


def auroc(pairs):
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def macro_auroc(labels, scores, idx):
    values = [auroc([(scores[i][k], labels[i][k]) for i in idx]) for k in range(CLASSES)]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def mean0(scores, idx):
    return sum(scores[i][0] for i in idx) / len(idx)


def quantile(sorted_values, q):
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def interval(metric):
    rng = random.Random(SEED)
    values, undefined = [], 0
    for _ in range(RESAMPLES):
        idx = [rng.randrange(N) for _ in range(N)]
        v = metric(idx)
        if math.isnan(v):
            undefined += 1
        else:
            values.append(v)
    values.sort()
    return {"estimate": metric(list(range(N))), "low": quantile(values, (1 - LEVEL) / 2),
            "high": quantile(values, (1 + LEVEL) / 2), "undefined": undefined}


def main():
    gen = random.Random(7)
    labels = [[int(gen.random() < p) for p in (0.5, 0.2, 0.05)] for _ in range(N)]
    scores = [[round(0.3 * y + 0.7 * gen.random(), 1) for y in row] for row in labels]
    out = {"n": N, "classes": CLASSES, "resamples": RESAMPLES, "seed": SEED, "level": LEVEL,
           "labels": labels, "scores": scores,
           "mean0": interval(lambda idx: mean0(scores, idx)),
           "macro_auroc": interval(lambda idx: macro_auroc(labels, scores, idx))}
    rng = random.Random(SEED)
    out["first_indices"] = [rng.randrange(N) for _ in range(10)]
    path = os.path.join("tests", "data", "metrics", "bootstrap.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path, out["mean0"], out["macro_auroc"])


if __name__ == "__main__":
    main()
