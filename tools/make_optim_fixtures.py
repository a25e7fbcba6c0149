#!/usr/bin/python3
"""PyTorch trajectory fixtures for include/ecgssl/optim/ (tests/optim/*.cpp read them).

Run from the repository root with Debian's torch 1.13 interpreter:

    /usr/bin/python3 tools/make_optim_fixtures.py

Problem: least squares L = mean_rows(sum_cols((X W + b - Y)^2)) with W [4, 3], b [3] (float64).
For every update rule x schedule pair, 100 updates are taken and the parameters after every
update are saved as [100, 15] (W row-major, then b). torch.optim.Adam / AdamW / SGD give the
PyTorch rules; the reference (fairseq) Adam is re-implemented below in a few lines from its
published update (spec §5). The schedules are written here from their formulas (fairseq's
fixed / tri_stage / polynomial_decay; linear warm-up + cosine). Re-running rewrites the same
files (fixed seeds).
"""
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "optim")
torch.set_default_dtype(torch.float64)
STEPS = 100


def save(name, array):
    if isinstance(array, torch.Tensor):
        array = array.detach().numpy()
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array, dtype=np.float64))


# Schedules: lr for 0-based update u.
def fixed(u, lr=0.05, warmup=5):
    return lr * (u + 1) / warmup if u < warmup else lr


def tri_stage(u, peak=0.05, warmup=10, hold=20, decay=50, init_scale=0.01, final_scale=0.02):
    init = init_scale * peak
    if u < warmup:
        return init + (peak - init) / warmup * u
    if u < warmup + hold:
        return peak
    if u <= warmup + hold + decay:
        return peak * math.exp(math.log(final_scale) / decay * (u - warmup - hold))
    return final_scale * peak


def polynomial(u, lr=0.05, warmup=10, total=90, end=1e-4, power=2.0):
    if u <= warmup:
        return lr * u / warmup
    if u >= total:
        return end
    return (lr - end) * (1 - (u - warmup) / (total - warmup)) ** power + end


def cosine(u, lr=0.05, warmup=10, total=100, minimum=1e-4):
    if u < warmup:
        return lr * (u + 1) / warmup
    progress = min(1.0, (u - warmup) / (total - warmup))
    return minimum + (lr - minimum) * 0.5 * (1 + math.cos(math.pi * progress))


SCHEDULES = {"fixed": fixed, "tri_stage": tri_stage, "polynomial": polynomial, "cosine": cosine}


class FairseqAdam:
    """fairseq optim/adam.py: eps on the un-corrected sqrt(v), correction in the step size,
    decoupled decay p -= lr*wd*p before the step."""

    def __init__(self, params, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01):
        self.params = list(params)
        self.betas, self.eps, self.wd = betas, eps, weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        self.lr = 0.0

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = v.sqrt() + self.eps
                step_size = self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
                p.add_(p, alpha=-self.wd * self.lr)
                p.addcdiv_(m, denom, value=-step_size)


def make_rule(name, params):
    if name == "adam_fairseq":
        return FairseqAdam(params)
    if name == "adam_pytorch":
        return torch.optim.Adam(params, lr=0.0, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=0.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    if name == "sgd_nesterov":
        return torch.optim.SGD(params, lr=0.0, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if name == "sgd_dampening":
        return torch.optim.SGD(params, lr=0.0, momentum=0.8, dampening=0.3, weight_decay=1e-3)
    raise ValueError(name)


def set_lr(rule, lr):
    if isinstance(rule, FairseqAdam):
        rule.lr = lr
    else:
        for group in rule.param_groups:
            group["lr"] = lr * group.get("multiplier", 1.0)


def problem():
    rng = np.random.default_rng(11)
    x = torch.tensor(rng.normal(size=(16, 4)))
    y = torch.tensor(rng.normal(size=(16, 3)))
    w0 = rng.normal(size=(4, 3))
    b0 = rng.normal(size=(3,))
    return x, y, w0, b0


def loss_fn(x, y, w, b):
    return ((x @ w + b - y) ** 2).sum(dim=1).mean()


def trajectory(rule_name, schedule, clip=0.0):
    x, y, w0, b0 = problem()
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    rule = make_rule(rule_name, [w, b])
    out = np.zeros((STEPS, 15))
    for u in range(STEPS):
        set_lr(rule, schedule(u))
        w.grad = None
        b.grad = None
        loss_fn(x, y, w, b).backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([w, b], clip)
        rule.step()
        out[u, :12] = w.detach().numpy().reshape(-1)
        out[u, 12:] = b.detach().numpy()
    return out


def groups_trajectory():
    # AdamW with two groups: W at lr x 1 with decay 0.05, b at lr x 0.5 with no decay.
    x, y, w0, b0 = problem()
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    rule = torch.optim.AdamW([{"params": [w], "weight_decay": 0.05, "multiplier": 1.0},
                              {"params": [b], "weight_decay": 0.0, "multiplier": 0.5}],
                             lr=0.0, betas=(0.9, 0.999), eps=1e-8)
    out = np.zeros((STEPS, 15))
    for u in range(STEPS):
        set_lr(rule, cosine(u))
        w.grad = None
        b.grad = None
        loss_fn(x, y, w, b).backward()
        rule.step()
        out[u, :12] = w.detach().numpy().reshape(-1)
        out[u, 12:] = b.detach().numpy()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y, w0, b0 = problem()
    save("problem_x", x)
    save("problem_y", y)
    save("problem_w0", w0)
    save("problem_b0", b0)
    for rule in ("adam_fairseq", "adam_pytorch", "adamw", "sgd_nesterov", "sgd_dampening"):
        for schedule_name, schedule in SCHEDULES.items():
            save(f"{rule}_{schedule_name}", trajectory(rule, schedule))
    # [100, 4]: fixed, tri_stage, polynomial, cosine.
    save("schedules_lr", np.array([[s(u) for s in SCHEDULES.values()] for u in range(STEPS)]))
    save("adamw_fixed_clip", trajectory("adamw", fixed, clip=0.5))
    save("adamw_cosine_groups", groups_trajectory())


if __name__ == "__main__":
    main()
