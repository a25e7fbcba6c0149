#!/usr/bin/python3
"""PyTorch parity fixtures for include/ecgssl/loss/ (tests/loss/*.cpp read them).

Run from the repository root with Debian's torch 1.13 interpreter:

    /usr/bin/python3 tools/make_loss_fixtures.py

Writes small float64 .npy files under tests/data/loss/. Every reference below is written
independently from the C++ code, in the form the reference implementation (fairseq-signals,
spec sections cited) uses, and differentiated by autograd in float64. Re-running rewrites the
same files (fixed seeds).
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "loss")
torch.set_default_dtype(torch.float64)


def save(name, array):
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float64)
    elif array.dtype.kind in "iub":
        array = array.astype(np.int64)
    np.save(os.path.join(OUT, name + ".npy"), array)


def leaf(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def bce(rng):
    # spec §6.2: sum over batch x classes / number of positive labels (and the plain mean).
    logits = rng.normal(0.0, 3.0, size=(6, 5))
    targets = (rng.uniform(size=(6, 5)) < 0.3).astype(np.float64)
    targets[2, :] = 0.0
    x = leaf(logits)
    y = torch.tensor(targets)
    total = F.binary_cross_entropy_with_logits(x, y, reduction="sum")
    loss_pos = total / max(1.0, float(y.sum()))
    loss_pos.backward()
    save("bce_logits", logits)
    save("bce_targets", targets)
    save("bce_positive_loss", np.array([loss_pos.item()]))
    save("bce_positive_grad", x.grad)
    x2 = leaf(logits)
    loss_mean = F.binary_cross_entropy_with_logits(x2, y, reduction="mean")
    loss_mean.backward()
    save("bce_mean_loss", np.array([loss_mean.item()]))
    save("bce_mean_grad", x2.grad)


def arcface(rng):
    # spec §6.3: cos = clamp(normalize(x) normalize(W)^T, -1, 1); target -> cos(theta + m) when
    # cos > cos(pi - m), else cos - m sin(m); logits = s * cos; mean cross-entropy.
    batch, dim, classes = 6, 8, 7
    weight = rng.uniform(-1.0, 1.0, size=(classes, dim))
    labels = np.array([0, 3, 3, 6, 1, 2])
    x = rng.normal(size=(batch, dim))
    # Rows 1 and 4 point away from their class centre (cos < -0.54: the fallback branch), row 0
    # close to it (the margin branch).
    x[1] = -weight[3] / np.linalg.norm(weight[3]) * 2.0 + 0.1 * rng.normal(size=dim)
    x[4] = -weight[1] / np.linalg.norm(weight[1]) * 1.5 + 0.2 * rng.normal(size=dim)
    x[0] = weight[0] * 3.0 + 0.3 * rng.normal(size=dim)
    save("arcface_embeddings", x)
    save("arcface_weight", weight)
    save("arcface_labels", labels)
    for tag, s, m in (("s192", 192.0, 1.0), ("s8", 8.0, 0.5)):
        xt = leaf(x)
        wt = leaf(weight)
        cos = F.linear(F.normalize(xt), F.normalize(wt)).clamp(-1.0, 1.0)
        sine = torch.sqrt((1.0 - cos * cos).clamp(0.0, 1.0))
        phi = cos * math.cos(m) - sine * math.sin(m)
        phi = torch.where(cos > math.cos(math.pi - m), phi, cos - math.sin(math.pi - m) * m)
        onehot = F.one_hot(torch.tensor(labels), classes).to(torch.float64)
        logits = s * (onehot * phi + (1.0 - onehot) * cos)
        loss = F.cross_entropy(logits, torch.tensor(labels))
        loss.backward()
        save(f"arcface_{tag}_cos", cos)
        save(f"arcface_{tag}_loss", np.array([loss.item()]))
        save(f"arcface_{tag}_grad_embeddings", xt.grad)
        save(f"arcface_{tag}_grad_weight", wt.grad)


def cmsc(rng):
    # spec §4.3: non-zero-count temporal mean, detached norm, A B^T / tau, positives = same
    # record, symmetric row/column cross-entropy averaged over positives.
    segments, frames, dim = 8, 5, 6
    x = rng.normal(size=(segments, frames, dim))
    x[rng.uniform(size=x.shape) < 0.2] = 0.0  # exact zeros exercise the non-zero count
    seg = np.array([0, 1, 1, 0, 0, 1, 0, 1])
    rec = np.array([10, 10, 11, 11, 12, 12, 10, 10])  # record 10 gives two pairs: extra positives
    save("cmsc_x", x)
    save("cmsc_segments", seg)
    save("cmsc_records", rec)
    tau = 0.1
    xt = leaf(x)
    g = xt.sum(dim=1) / (xt != 0).sum(dim=1)
    g = g / torch.clamp(g.detach().norm(dim=1, keepdim=True), min=1e-8)
    a = g[torch.tensor(seg == 0)]
    b = g[torch.tensor(seg == 1)]
    logits = a @ b.t() / tau
    positive = torch.tensor(rec[seg == 0][:, None] == rec[seg == 1][None, :])
    row = -F.log_softmax(logits, dim=1)[positive].sum() / positive.sum()
    col = -F.log_softmax(logits, dim=0)[positive].sum() / positive.sum()
    loss = 0.5 * row + 0.5 * col
    loss.backward()
    save("cmsc_loss", np.array([loss.item()]))
    save("cmsc_grad", xt.grad)
    # The Jan-2022 criterion: mean over rows of each row's mean over its positives.
    xt3 = leaf(x)
    g3 = xt3.sum(dim=1) / (xt3 != 0).sum(dim=1)
    g3 = g3 / torch.clamp(g3.detach().norm(dim=1, keepdim=True), min=1e-8)
    lam = g3[torch.tensor(seg == 0)] @ g3[torch.tensor(seg == 1)].t() / tau
    neg_row = -F.log_softmax(lam, dim=1)
    neg_col = -F.log_softmax(lam.t(), dim=1)
    row3 = torch.stack([neg_row[i][positive[i]].mean() for i in range(lam.shape[0])]).mean()
    col3 = torch.stack([neg_col[j][positive.t()[j]].mean() for j in range(lam.shape[1])]).mean()
    loss3 = row3 / 2 + col3 / 2
    loss3.backward()
    save("cmsc_rowmean_loss", np.array([loss3.item()]))
    save("cmsc_rowmean_grad", xt3.grad)
    # The paper's Eq. 3: NT-Xent over [A; B], the i-th A and i-th B positive, same detached norm.
    xt2 = leaf(x)
    g2 = xt2.sum(dim=1) / (xt2 != 0).sum(dim=1)
    g2 = g2 / torch.clamp(g2.detach().norm(dim=1, keepdim=True), min=1e-8)
    z = torch.cat([g2[torch.tensor(seg == 0)], g2[torch.tensor(seg == 1)]])
    loss2 = nt_xent_reference(z, tau)
    loss2.backward()
    save("cmsc_ntxent_loss", np.array([loss2.item()]))
    save("cmsc_ntxent_grad", xt2.grad)


def nt_xent_reference(z_hat, tau):
    n2 = z_hat.shape[0]
    sim = z_hat @ z_hat.t() / tau
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
    half = n2 // 2
    partner = torch.cat([torch.arange(half, n2), torch.arange(0, half)])
    return F.cross_entropy(sim, partner)


def nt_xent(rng):
    # SimCLR's NT-Xent (spec §4.5): F.normalize, all 2N-1 others in the denominator.
    z = rng.normal(size=(8, 6))
    save("ntxent_z", z)
    zt = leaf(z)
    loss = nt_xent_reference(F.normalize(zt, dim=1, eps=1e-8), 0.1)
    loss.backward()
    save("ntxent_loss", np.array([loss.item()]))
    save("ntxent_grad", zt.grad)
    # fairseq-signals' simclr / 3kg criteria: z / max(stopgrad ||z||, 1e-8); every ordered pair
    # (i, j) of equal identity is a cross-entropy of s_ij against the rows of other identities
    # of row i; summed and divided by the number of pairs (their sample_size).
    for tag, ids in (("adjacent", np.array([0, 0, 1, 1, 2, 2, 3, 3])),
                     ("identities", np.array([4, 7, 4, 9, 7, 4, 2, 9]))):
        zt = leaf(z)
        zh = zt / torch.clamp(zt.detach().norm(dim=1, keepdim=True), min=1e-8)
        sim = zh @ zh.t() / 0.1
        terms = []
        for i in range(len(ids)):
            negatives = [k for k in range(len(ids)) if ids[k] != ids[i]]
            for j in range(len(ids)):
                if j != i and ids[j] == ids[i]:
                    row = torch.cat([sim[i, j].view(1), sim[i, negatives]])
                    terms.append(-F.log_softmax(row, dim=0)[0])
        loss = torch.stack(terms).sum() / len(terms)
        loss.backward()
        save(f"ntxent_{tag}_ids", ids)
        save(f"ntxent_{tag}_loss", np.array([loss.item()]))
        save(f"ntxent_{tag}_grad", zt.grad)


def wav2vec2(rng):
    # spec §4.1: cosine(c, [q_t; q_negs]) / kappa, negatives equal to the positive -> -inf,
    # cross-entropy with target 0 summed over all S*M frames.
    segments, masked, dim, k, kappa = 3, 6, 8, 5, 0.1
    c = rng.normal(size=(segments, masked, dim))
    q = rng.normal(size=(segments, masked, dim))
    codes = np.arange(segments * masked).reshape(segments, masked)
    q[0, 4] = q[0, 2]  # identical targets (same code) so the -inf rule fires
    codes[0, 4] = codes[0, 2]
    q[2, 1] = q[2, 5]
    codes[2, 1] = codes[2, 5]
    # Fixed negatives by the spec's rule: r in [0, M-2], +1 if r >= t.
    neg = rng.integers(0, masked - 1, size=(segments, masked, k))
    t = np.arange(masked)[None, :, None]
    neg = neg + (neg >= t)
    neg[0, 2, 0] = 4
    neg[0, 4, 1] = 2
    neg[2, 5, 3] = 1
    save("w2v_c", c)
    save("w2v_q", q)
    save("w2v_codes", codes)
    save("w2v_negatives", neg)
    for tag, mask in (("masked", True), ("keep", False)):
        ct = leaf(c)
        qt = leaf(q)
        idx = torch.tensor(neg)
        negs = torch.stack([qt[s][idx[s]] for s in range(segments)])  # [S, M, K, D]
        targets = torch.cat([qt.unsqueeze(2), negs], dim=2)
        logits = torch.cosine_similarity(ct.unsqueeze(2), targets, dim=-1) / kappa
        if mask:
            neg_is_pos = (qt.unsqueeze(2) == negs).all(-1)
            fill = torch.zeros_like(logits, dtype=torch.bool)
            fill[..., 1:] = neg_is_pos
            logits = logits.masked_fill(fill, float("-inf"))
        loss = F.cross_entropy(logits.reshape(-1, k + 1), torch.zeros(segments * masked, dtype=torch.long),
                               reduction="sum")
        loss.backward()
        save(f"w2v_{tag}_loss", np.array([loss.item()]))
        save(f"w2v_{tag}_grad_c", ct.grad)
        save(f"w2v_{tag}_grad_q", qt.grad)


def diversity(rng):
    # spec §3.8/§4.2: (G*V - sum_g exp(-sum_v pbar log(pbar + 1e-7))) / (G*V).
    positions, groups, vars_ = 10, 2, 7
    logits = rng.normal(0.0, 2.0, size=(positions, groups * vars_))
    save("diversity_logits", logits)
    lt = leaf(logits)
    probs = torch.softmax(lt.view(positions, groups, vars_), dim=-1).mean(dim=0)
    perplexity = torch.exp(-torch.sum(probs * torch.log(probs + 1e-7), dim=-1)).sum()
    loss = (groups * vars_ - perplexity) / (groups * vars_)
    loss.backward()
    save("diversity_loss", np.array([loss.item()]))
    save("diversity_perplexity", np.array([perplexity.item()]))
    save("diversity_grad", lt.grad)


def feature_penalty(rng):
    z = rng.normal(size=(2, 3, 4))
    save("penalty_z", z)
    zt = leaf(z)
    loss = zt.pow(2).mean()
    loss.backward()
    save("penalty_loss", np.array([loss.item()]))
    save("penalty_grad", zt.grad)


def combined(rng):
    # spec §4.4: loss_sum = L_w2v + N_m (0.1 L_d + 10 L_f + 1.0 L_cmsc), returned / N_m.
    segments, masked, dim, k, kappa = 4, 5, 6, 4, 0.1
    groups, vars_, channels, frames, width = 2, 3, 3, 7, 6
    c = rng.normal(size=(segments, masked, dim))
    q = rng.normal(size=(segments, masked, dim))
    neg = rng.integers(0, masked - 1, size=(segments, masked, k))
    neg = neg + (neg >= np.arange(masked)[None, :, None])
    logits = rng.normal(size=(segments * masked, groups * vars_))
    z = rng.normal(size=(segments, channels, frames))
    x = rng.normal(size=(segments, frames, width))
    seg = np.array([0, 1, 0, 1])
    rec = np.array([3, 3, 8, 8])
    for name, value in (("c", c), ("q", q), ("negatives", neg), ("logits", logits), ("z", z), ("x", x),
                        ("segments", seg), ("records", rec)):
        save("combined_" + name, value)
    ct, qt, lt, zt, xt = leaf(c), leaf(q), leaf(logits), leaf(z), leaf(x)
    idx = torch.tensor(neg)
    negs = torch.stack([qt[s][idx[s]] for s in range(segments)])
    targets = torch.cat([qt.unsqueeze(2), negs], dim=2)
    w2v_logits = torch.cosine_similarity(ct.unsqueeze(2), targets, dim=-1) / kappa
    w2v = F.cross_entropy(w2v_logits.reshape(-1, k + 1), torch.zeros(segments * masked, dtype=torch.long),
                          reduction="sum")
    probs = torch.softmax(lt.view(-1, groups, vars_), dim=-1).mean(dim=0)
    perplexity = torch.exp(-torch.sum(probs * torch.log(probs + 1e-7), dim=-1)).sum()
    diversity = (groups * vars_ - perplexity) / (groups * vars_)
    penalty = zt.pow(2).mean()
    g = xt.sum(dim=1) / (xt != 0).sum(dim=1)
    g = g / torch.clamp(g.detach().norm(dim=1, keepdim=True), min=1e-8)
    lam = g[torch.tensor(seg == 0)] @ g[torch.tensor(seg == 1)].t() / 0.1
    positive = torch.tensor(rec[seg == 0][:, None] == rec[seg == 1][None, :])
    cmsc = 0.5 * (-F.log_softmax(lam, 1)[positive].sum() / positive.sum()) + \
        0.5 * (-F.log_softmax(lam, 0)[positive].sum() / positive.sum())
    n_m = segments * masked
    loss = (w2v + n_m * (0.1 * diversity + 10.0 * penalty + 1.0 * cmsc)) / n_m
    loss.backward()
    save("combined_loss", np.array([loss.item()]))
    for name, t in (("c", ct), ("q", qt), ("logits", lt), ("z", zt), ("x", xt)):
        save("combined_grad_" + name, t.grad)


def main():
    os.makedirs(OUT, exist_ok=True)
    bce(np.random.default_rng(1))
    arcface(np.random.default_rng(2))
    cmsc(np.random.default_rng(3))
    nt_xent(np.random.default_rng(4))
    wav2vec2(np.random.default_rng(5))
    diversity(np.random.default_rng(6))
    feature_penalty(np.random.default_rng(7))
    combined(np.random.default_rng(8))


if __name__ == "__main__":
    main()
