#!/usr/bin/python3
"""PyTorch parity fixtures for ecgssl's attention, transformer layer, positional convolution,
Gumbel quantizer (tests/nn/) and the tiny ECG transformer (tests/model/).

Run from the repository root with Debian's PyTorch 1.13 (not the pyenv python3 on PATH):

    /usr/bin/python3 tools/make_model_fixtures.py

It rewrites tests/data/model/<case>/*.npy and is deterministic (fixed seeds). The modules come
from tools/torch_reference_encoder.py (same parameter names as ecgssl). Inputs, weights and
upstream gradients are float32-representable; PyTorch computes in float64. Every random draw is
explicit: dropout keep masks (uint8), the span mask, the Gumbel noise.

Layer cases store every weight. The tiny encoder's 893,440 weights would not fit, so they follow
a formula that the C++ test re-implements (`formula_weight` below): element i of tensor `name`
takes u = ((i * 2654435761 + fnv1a32(name) * 40503) mod 2^32) / 2^32 and
  1-D '.weight' (norm gains) and 'weight_g': 1 + 0.2 (2u - 1);  '.bias': 0.1 (2u - 1);
  'mask_emb', 'quantizer.vars': u;  any other tensor: (2u - 1) sqrt(3 / fan_in),
  fan_in = product of the shape without its first extent;
rounded to float32. Its parameter gradients are stored as samples: indices 0, s, 2s, ... (at
most 48) with stride s = max(1, n // 48).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference_encoder as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "model")


def save(case, **arrays):
    folder = os.path.join(ROOT, case)
    os.makedirs(folder, exist_ok=True)
    for name, value in arrays.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        if value.dtype == np.bool_ or value.dtype == np.uint8:
            value = value.astype(np.uint8)
        elif value.dtype == np.float32:
            pass
        else:
            value = value.astype(np.float64)
        np.save(os.path.join(folder, name + ".npy"), np.ascontiguousarray(value))


def rand(gen, *shape, scale=1.0):
    t = (torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale
    return t.double()


def keep(gen, p, *shape):
    return (torch.rand(*shape, generator=gen) >= p).double()


def float32_params(module, gen, scale=0.5):
    module.double()
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("layer_norm.weight"):
                p.copy_(1.0 + rand(gen, *p.shape, scale=0.2))
            else:
                p.copy_(rand(gen, *p.shape, scale=scale))


def dump_params(module, prefix="p_"):
    out = {}
    for name, p in module.named_parameters():
        out[prefix + name] = p
        out["d" + prefix + name] = p.grad
    return out


def attention_case(case, gen, batch, time, dim, heads, legacy, padding):
    m = ref.MultiheadAttention(dim, heads, 0.2, legacy)
    float32_params(m, gen)
    m.train()
    x = rand(gen, batch, time, dim).requires_grad_(True)
    groups, length = (time, batch) if legacy else (batch, time)
    probs_keep = keep(gen, 0.2, groups, heads, length, length)
    pad = None
    if padding:
        pad = torch.zeros(batch, time, dtype=torch.bool)
        pad[0, -2:] = True
    y = m(x, pad, probs_keep)
    dy = rand(gen, *y.shape)
    y.backward(dy)
    extra = {"padding": pad} if pad is not None else {}
    save(case, x=x, y=y, dy=dy, dx=x.grad, probs_keep=probs_keep.to(torch.uint8), **dump_params(m), **extra)


def layer_case(case, gen, pre_ln):
    b, t, d, h, f = 2, 6, 16, 4, 32
    m = ref.TransformerLayer(d, h, f, dropout=0.1, attention_dropout=0.2, activation_dropout=0.15,
                             layer_norm_first=pre_ln)
    float32_params(m, gen)
    m.train()
    masks = {"probs": keep(gen, 0.2, b, h, t, t), "attn_out": keep(gen, 0.2, b, t, d),
             "dropout1": keep(gen, 0.1, b, t, d), "activation": keep(gen, 0.15, b, t, f),
             "dropout2": keep(gen, 0.1, b, t, d)}
    x = rand(gen, b, t, d).requires_grad_(True)
    y = m(x, masks)
    dy = rand(gen, *y.shape)
    y.backward(dy)
    save(case, x=x, y=y, dy=dy, dx=x.grad, **{"keep_" + k: v.to(torch.uint8) for k, v in masks.items()},
         **dump_params(m))


def pos_conv_case(gen):
    b, t, d = 2, 20, 32
    m = ref.PosConv(d, 128, 16)
    m.double()
    with torch.no_grad():
        conv = m.seq[0]
        conv.weight_v.copy_(rand(gen, *conv.weight_v.shape))
        conv.weight_g.copy_(1.0 + rand(gen, *conv.weight_g.shape, scale=0.5))
        conv.bias.copy_(rand(gen, *conv.bias.shape, scale=0.2))
    x = rand(gen, b, t, d).requires_grad_(True)
    y = m(x)
    dy = rand(gen, *y.shape)
    y.backward(dy)
    c = m.seq[0]
    save("pos_conv", x=x, y=y, dy=dy, dx=x.grad, weight_v=c.weight_v, weight_g=c.weight_g, bias=c.bias,
         dweight_v=c.weight_v.grad, dweight_g=c.weight_g.grad, dbias=c.bias.grad)


def robust_gumbel(gen, logits, groups, codes, minimum_gap=1e-3):
    """Gumbel noise whose per-group top-2 gap of logits + noise exceeds `minimum_gap`, so float32
    and float64 pick the same codes."""
    n = logits.shape[0]
    for _ in range(100):
        u = torch.rand(n, groups * codes, generator=gen, dtype=torch.float32).clamp(1e-6, 1 - 1e-6)
        g = (-torch.log(-torch.log(u.double()))).float().double()
        z = (logits.detach() + g).view(n * groups, codes)
        top = torch.topk(z, 2, dim=-1).values
        if (top[:, 0] - top[:, 1]).min() > minimum_gap:
            return g
    raise RuntimeError("no robust Gumbel draw")


def quantizer_case(gen):
    n, c, g, v, vq = 10, 16, 2, 8, 12
    m = ref.Quantizer(c, g, v, vq)
    m.double()
    with torch.no_grad():
        m.vars.copy_(rand(gen, *m.vars.shape))
        m.weight_proj.weight.copy_(rand(gen, *m.weight_proj.weight.shape))
        m.weight_proj.bias.copy_(rand(gen, *m.weight_proj.bias.shape, scale=0.1))
    m.train()
    x = rand(gen, n, c).requires_grad_(True)
    noise = robust_gumbel(gen, m.weight_proj(x), g, v)
    tau = max(2.0 * 0.999995 ** 1000, 0.5)
    q, prob_pp, code_pp = m(x, tau, noise)
    dq = rand(gen, *q.shape)
    (torch.sum(q * dq) + 0.5 * prob_pp).backward()
    save("quantizer", x=x, noise=noise, q=q, dq=dq, dx=x.grad, prob_perplexity=prob_pp.reshape(1),
         code_perplexity=code_pp.reshape(1), vars=m.vars, weight=m.weight_proj.weight, bias=m.weight_proj.bias,
         dvars=m.vars.grad, dweight=m.weight_proj.weight.grad, dbias=m.weight_proj.bias.grad)


def fnv1a32(name):
    h = 0x811C9DC5
    for byte in name.encode():
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def formula_weight(name, shape):
    n = int(np.prod(shape))
    idx = np.arange(n, dtype=np.uint64)
    h = (idx * np.uint64(2654435761) + np.uint64(fnv1a32(name)) * np.uint64(40503)) % np.uint64(2 ** 32)
    u = h.astype(np.float64) / 2.0 ** 32
    if (name.endswith(".weight") and len(shape) == 1) or name.endswith("weight_g"):
        v = 1.0 + 0.2 * (2 * u - 1)
    elif name.endswith(".bias"):
        v = 0.1 * (2 * u - 1)
    elif name in ("mask_emb", "quantizer.vars"):
        v = u
    else:
        v = (2 * u - 1) * np.sqrt(3.0 / (n // shape[0]))
    return v.astype(np.float32).astype(np.float64).reshape(shape)


def encoder_case(gen):
    o = ref.tiny()
    m = ref.ECGTransformer(o).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.from_numpy(formula_weight(name, tuple(p.shape))))
    m.train()
    b, samples = 2, 400
    frames = 25
    x = rand(gen, b, o.in_channels, samples, scale=2.0).requires_grad_(False)
    mask = torch.zeros(b, frames, dtype=torch.bool)
    mask[0, [2, 3, 4, 5, 11, 12, 13, 20]] = True
    mask[1, [0, 1, 7, 8, 9, 10, 16, 24]] = True
    rows = int(mask.sum())
    d, c, f, h = o.embed_dim, o.conv_dim, o.ffn_dim, o.heads
    k = {"dropout_features": keep(gen, 0.1, b, frames, c), "dropout_input": keep(gen, 0.1, b, frames, d),
         "encoder_dropout": keep(gen, 0.1, b, frames, d)}
    for i in range(o.layers):
        k[f"layers.{i}.probs"] = keep(gen, 0.1, b, h, frames, frames)
        k[f"layers.{i}.attn_out"] = keep(gen, 0.1, b, frames, d)
        k[f"layers.{i}.dropout1"] = keep(gen, 0.1, b, frames, d)
        k[f"layers.{i}.dropout2"] = keep(gen, 0.1, b, frames, d)
    num_updates = 5000
    # logits of the quantizer input, for a Gumbel draw that float32 resolves identically
    with torch.no_grad():
        probe = m(x, mask=mask, gumbel=torch.zeros(rows, o.latent_groups * o.latent_vars, dtype=torch.float64),
                  num_updates=num_updates, keep=k)
    del probe
    z = x
    with torch.no_grad():
        for block in m.feature_extractor.conv_layers:
            z = ref.gelu(block(z))
        fn = m.layer_norm(z.transpose(1, 2)) * k["dropout_features"] / 0.9
        logits = m.quantizer.weight_proj(fn.reshape(b * frames, -1)[mask.reshape(-1)])
    noise = robust_gumbel(gen, logits, o.latent_groups, o.latent_vars)
    out = m(x, mask=mask, gumbel=noise, num_updates=num_updates, keep=k)
    up = {name: rand(gen, *out[name].shape) for name in ("predictions", "targets", "features", "encoded")}
    d_pp = 0.25
    loss = sum(torch.sum(out[n] * up[n]) for n in up) + d_pp * out["prob_perplexity"]
    loss.backward()
    arrays = dict(x=x, mask=mask, noise=noise.float(), d_prob_perplexity=np.array([d_pp]),
                  prob_perplexity=out["prob_perplexity"].reshape(1), code_perplexity=out["code_perplexity"].reshape(1))
    for n in up:
        arrays[n] = out[n]
        arrays["d_" + n] = up[n]
    for name, value in k.items():
        arrays["keep_" + name.replace(".", "_")] = value.to(torch.uint8)
    for name, p in m.named_parameters():
        g = p.grad.reshape(-1)
        stride = max(1, g.numel() // 48)
        arrays["grad_" + name] = g[::stride][:48]
    save("encoder_tiny", **arrays)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20221)
    attention_case("attention_time", gen, 2, 7, 16, 4, legacy=False, padding=True)
    attention_case("attention_legacy", gen, 3, 5, 16, 4, legacy=True, padding=False)
    layer_case("layer_post_ln", gen, False)
    layer_case("layer_pre_ln", gen, True)
    pos_conv_case(gen)
    quantizer_case(gen)
    encoder_case(gen)


if __name__ == "__main__":
    main()
