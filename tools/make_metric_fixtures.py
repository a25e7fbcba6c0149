#!/usr/bin/env python3
"""Reference values for include/ecgssl/metrics/, computed independently of the C++ code.

Run with the pyenv `python3` (numpy + scikit-learn: `python3 -m pip install scikit-learn`), from
the repository root:

    python3 tools/make_metric_fixtures.py

Writes .npy files under tests/data/metrics/ that tests/metrics/test_metrics_fixture.cpp compares
against to 1e-9:
  labels.npy [N, 26] 0/1, probabilities.npy [N, 26] (rounded to 2 decimals so that ties occur;
  class 3 has no positive label, class 7 no negative one, to exercise the NaN rules);
  expected_scalars.npy = [challenge score, macro AUROC, macro AUPRC, micro AUROC, micro AUPRC,
  accuracy, macro F-measure] with decisions = probabilities > 0.5;
  expected_auroc.npy, expected_auprc.npy, expected_f_measure.npy (per class, NaN = undefined);
  gallery.npy [G, D], gallery_ids.npy [G], probes.npy [P, D], probe_ids.npy [P],
  expected_identification.npy = [top1, best gallery row of probe 0, 1, ...].

Sources of truth:
  - the Challenge score from its definition (spec §6.2) with the weight matrix read from
    data/cinc2021/weights.csv, vectorised with numpy (not the C++ loop structure);
  - per-class AUROC = sklearn roc_auc_score and AUPRC = sklearn average_precision_score (these
    equal the Challenge's trapezoid TNR-vs-TPR area and step PPV-vs-TPR area); where the Challenge
    code yields NaN (no positives: both; no negatives: AUROC) sklearn raises or returns another
    convention, so those entries are set to NaN here as evaluate_model.py does;
  - micro AUROC/AUPRC = sklearn with average='micro'; accuracy = sklearn accuracy_score (exact
    match for multi-label input); F-measure = sklearn f1_score(average=None, zero_division=nan);
    macro values = numpy nanmean;
  - identification top-1 = numpy cosine similarity + argmax.
The random generator is seeded, so re-running rewrites identical files.
"""

import csv
import os

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_DIR = os.path.join(ROOT, "tests", "data", "metrics")
NSR = 14


def read_weights() -> np.ndarray:
    with open(os.path.join(ROOT, "data", "cinc2021", "weights.csv")) as f:
        rows = list(csv.reader(f))
    return np.array([[float(x) for x in row[1:]] for row in rows[1:]], dtype=np.float64)


def challenge_score(weights, labels, decisions):
    def s(outputs):
        union = np.logical_or(labels, outputs).sum(axis=1)
        share = 1.0 / np.maximum(union, 1)
        # A[j, k] = sum_i labels[i, j] * outputs[i, k] / n_i
        a = np.einsum("i,ij,ik->jk", share, labels.astype(np.float64), outputs.astype(np.float64))
        return float(np.sum(weights * a))

    inactive = np.zeros_like(labels)
    inactive[:, NSR] = 1
    observed, correct, baseline = s(decisions), s(labels), s(inactive)
    return 0.0 if correct == baseline else (observed - baseline) / (correct - baseline)


def main() -> None:
    rng = np.random.default_rng(20211)
    n, c = 300, 26
    weights = read_weights()
    assert weights.shape == (c, c)

    prevalence = rng.uniform(0.03, 0.4, size=c)
    labels = (rng.uniform(size=(n, c)) < prevalence).astype(np.int64)
    labels[:, 3] = 0  # no positives
    labels[:, 7] = 1  # no negatives
    # Scores correlated with the labels, rounded so that many ties occur.
    probabilities = np.clip(0.35 * labels + rng.uniform(0.0, 0.65, size=(n, c)), 0.0, 1.0)
    probabilities = np.round(probabilities, 2)
    # About a third of the records are predicted perfectly, so exact-match accuracy is not 0.
    perfect = rng.uniform(size=n) < 0.35
    probabilities[perfect] = np.where(labels[perfect] == 1, 0.9, 0.1)
    decisions = (probabilities > 0.5).astype(np.int64)

    auroc = np.full(c, np.nan)
    auprc = np.full(c, np.nan)
    for k in range(c):
        pos = labels[:, k].sum()
        if pos > 0:
            auprc[k] = average_precision_score(labels[:, k], probabilities[:, k])
        if 0 < pos < n:
            auroc[k] = roc_auc_score(labels[:, k], probabilities[:, k])
    f_measure = f1_score(labels, decisions, average=None, zero_division=np.nan)

    scalars = np.array([
        challenge_score(weights, labels, decisions),
        np.nanmean(auroc),
        np.nanmean(auprc),
        roc_auc_score(labels, probabilities, average="micro"),
        average_precision_score(labels, probabilities, average="micro"),
        accuracy_score(labels, decisions),
        np.nanmean(f_measure),
    ])

    g, d = 40, 16
    gallery = rng.normal(size=(g, d))
    gallery_ids = rng.permutation(1000)[:g].astype(np.int64)
    order = rng.permutation(g)
    probes = gallery[order] + rng.normal(scale=0.9, size=(g, d))  # noisy: some probes miss
    probe_ids = gallery_ids[order]
    gn = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    pn = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    best = np.argmax(pn @ gn.T, axis=1)
    top1 = float(np.mean(gallery_ids[best] == probe_ids))
    identification = np.concatenate([[top1], best.astype(np.float64)])

    os.makedirs(OUT_DIR, exist_ok=True)
    files = {
        "labels": labels, "probabilities": probabilities, "expected_scalars": scalars,
        "expected_auroc": auroc, "expected_auprc": auprc, "expected_f_measure": f_measure,
        "gallery": gallery, "gallery_ids": gallery_ids, "probes": probes, "probe_ids": probe_ids,
        "expected_identification": identification,
    }
    for name, array in files.items():
        np.save(os.path.join(OUT_DIR, name + ".npy"), array)
    print("scalars:", scalars)
    print("identification top1:", top1)
    print("wrote", len(files), "files to", os.path.normpath(OUT_DIR))


if __name__ == "__main__":
    main()
