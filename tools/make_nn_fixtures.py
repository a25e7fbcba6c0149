#!/usr/bin/python3
"""PyTorch parity fixtures for the ecgssl nn layers (tests/nn/).

Run from the repository root with Debian's PyTorch 1.13 (not the pyenv python3 on PATH):

    /usr/bin/python3 tools/make_nn_fixtures.py

It rewrites tests/data/nn/<case>/<tensor>.npy. Every input, weight and upstream gradient is drawn
in float32 (so the C++ float tests see exactly these values), then the reference outputs and
gradients are computed by PyTorch in float64 and stored as float64. The script is deterministic
(fixed seeds) and safe to re-run.

GELU: torch 1.13 computes a wrong GELU backward when the incoming gradient is non-contiguous
(pytorch/pytorch#112006, spec section 11), so GELU goes through a tiny autograd function that
makes the gradient contiguous before calling the real backward.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "nn")


class ContiguousGelu(torch.autograd.Function):
    """Exact-erf GELU whose backward sees a contiguous incoming gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.gelu(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(grad.contiguous(), x)


def gelu(x):
    return ContiguousGelu.apply(x)


class GradMultiply(torch.autograd.Function):
    """fairseq's GradMultiply: identity forward, gradient times `scale` backward."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.new(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class Gelu(torch.nn.Module):
    def forward(self, x):
        return gelu(x)


def rand(gen, *shape, scale=1.0):
    """float32-representable uniform(-scale, scale) values, returned as float64 leaf tensors."""
    t = (torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale
    return t.double().requires_grad_(True)


def save(case, **arrays):
    folder = os.path.join(ROOT, case)
    os.makedirs(folder, exist_ok=True)
    for name, value in arrays.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        np.save(os.path.join(folder, name + ".npy"), np.ascontiguousarray(value, dtype=np.float64))


def run(case, module, x, gen, extra=None):
    """Forward, backward with a random upstream gradient, save everything by state-dict name."""
    module = module.double()
    params = dict(module.named_parameters())
    with torch.no_grad():
        for p in params.values():  # float32-representable parameter values
            p.copy_(p.float().double())
    y = module(x)
    dy = rand(gen, *y.shape).detach()
    y.backward(dy)
    out = {"x": x, "y": y, "dy": dy, "dx": x.grad}
    for name, p in params.items():
        out[name.replace(".", "_")] = p
        out["d" + name.replace(".", "_")] = p.grad
    if extra:
        out.update(extra)
    save(case, **out)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)

    # linear over the last axis of [batch, time, features]
    fc = torch.nn.Linear(5, 4)
    run("linear", fc, rand(gen, 2, 3, 5), gen)

    # layer_norm with non-trivial gamma/beta, eps 1e-6 (encoder) and 1e-5 (features)
    for eps, case in ((1e-6, "layer_norm"), (1e-5, "layer_norm_eps5")):
        ln = torch.nn.LayerNorm(8, eps=eps)
        with torch.no_grad():
            ln.weight.copy_(rand(gen, 8) + 1.0)
            ln.bias.copy_(rand(gen, 8))
        run(case, ln, rand(gen, 2, 3, 8, scale=3.0), gen)

    # group_norm: 4 groups of 2 channels, and groups == channels (spec 3.3)
    for groups, case in ((4, "group_norm"), (8, "group_norm_per_channel")):
        gn = torch.nn.GroupNorm(groups, 8, eps=1e-5)
        with torch.no_grad():
            gn.weight.copy_(rand(gen, 8) + 1.0)
            gn.bias.copy_(rand(gen, 8))
        run(case, gn, rand(gen, 2, 8, 10, scale=2.0), gen)

    # gelu over a wide range (tails included)
    run("gelu", Gelu(), rand(gen, 2, 3, 16, scale=6.0), gen)

    # dropout: PyTorch draws the mask; the C++ test injects the same keep mask
    x = rand(gen, 2, 4, 16)
    torch.manual_seed(7)
    y = F.dropout(x, p=0.3, training=True)
    keep = (y != 0).double().detach()
    dy = rand(gen, *y.shape).detach()
    y.backward(dy)
    save("dropout", x=x, y=y, dy=dy, dx=x.grad, keep=keep)

    # grad_scale (feature_grad_mult 0.1, spec 3.3)
    x = rand(gen, 2, 3, 4)
    y = GradMultiply.apply(x, 0.1)
    dy = rand(gen, *y.shape).detach()
    y.backward(dy)
    save("grad_scale", x=x, y=y, dy=dy, dx=x.grad)

    # conv1d configurations: the extractor's (k = s, no padding, no bias), and a general one
    configs = {
        "conv1d_extractor": dict(cin=12, cout=16, k=2, s=2, p=0, d=1, g=1, bias=False, t=20),
        "conv1d_general": dict(cin=6, cout=4, k=3, s=2, p=2, d=2, g=2, bias=True, t=13),
        "conv1d_grouped": dict(cin=8, cout=8, k=4, s=1, p=2, d=1, g=4, bias=True, t=9),
    }
    for case, c in configs.items():
        conv = torch.nn.Conv1d(c["cin"], c["cout"], c["k"], stride=c["s"], padding=c["p"],
                               dilation=c["d"], groups=c["g"], bias=c["bias"])
        run(case, conv, rand(gen, 3, c["cin"], c["t"]), gen)

    # containers: the first two extractor blocks (spec 3.3) as nested nn.Sequential, names
    # feature_extractor.conv_layers.<i>.<j>.weight exactly as wav2vec2's state dict
    class Extractor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            block0 = torch.nn.Sequential(torch.nn.Conv1d(3, 8, 2, stride=2, bias=False),
                                         torch.nn.Dropout(0.0), torch.nn.GroupNorm(8, 8), Gelu())
            block1 = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 2, stride=2, bias=False),
                                         torch.nn.Dropout(0.0), Gelu())
            self.conv_layers = torch.nn.ModuleList([block0, block1])

        def forward(self, x):
            for block in self.conv_layers:
                x = block(x)
            return x

    ext = Extractor()
    with torch.no_grad():
        ext.conv_layers[0][2].weight.copy_(rand(gen, 8) + 1.0)
        ext.conv_layers[0][2].bias.copy_(rand(gen, 8))
    run("extractor", ext, rand(gen, 2, 3, 16), gen)

    # residual feed-forward blocks repeated: x + fc2(gelu(fc1(x))), twice
    class Ffn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(6, 10)
            self.fc2 = torch.nn.Linear(10, 6)

        def forward(self, x):
            return x + self.fc2(gelu(self.fc1(x)))

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([Ffn(), Ffn()])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    run("ffn_stack", Stack(), rand(gen, 2, 3, 6), gen)


if __name__ == "__main__":
    main()
