#!/usr/bin/python3
"""PyTorch reference of the ecgssl ECG transformer (spec sections 3.3-3.9).

The modules use exactly the parameter names of ecgssl's parameter store (the fairseq-signals state
dict), so a state dict maps one to one onto `ecg_transformer`. They serve two purposes:

* tools/make_model_fixtures.py builds them to write the parity fixtures of tests/nn and
  tests/model (every random draw - dropout keep masks, span mask, Gumbel noise - can be passed in
  explicitly so that both sides compute the same function);
* benchmarks/compare_pytorch.py times their forward+backward as the speed reference.

Use Debian's PyTorch 1.13 (/usr/bin/python3) or PyTorch >= 2. This file is a library; it has
no command-line entry point.

GELU: torch 1.13 computes a wrong GELU backward for a non-contiguous incoming gradient
(pytorch/pytorch#112006, spec section 11); `gelu` below makes the gradient contiguous first.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


class _ContiguousGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.gelu(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(grad.contiguous(), x)


def gelu(x):
    return _ContiguousGelu.apply(x)


def drop(x, p, keep, training):
    """Inverted dropout; `keep` (0/1, shape of x) replaces the random draw when given."""
    if not training or p == 0.0:
        return x
    if keep is not None:
        return x * keep / (1.0 - p)
    return F.dropout(x, p, True)


@dataclass
class Options:
    """Mirror of ecgssl::model::ecg_transformer_options (same names and defaults)."""
    in_channels: int = 12
    conv_dim: int = 256
    conv_layers: int = 4
    conv_kernel: int = 2
    conv_stride: int = 2
    mode: str = "group_norm_first"  # or "layer_norm"
    embed_dim: int = 768
    layers: int = 12
    heads: int = 12
    ffn_dim: int = 3072
    pos_kernel: int = 128
    pos_groups: int = 16
    layer_norm_first: bool = False
    legacy_batch_axis: bool = False
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    dropout_input: float = 0.1
    dropout_features: float = 0.1
    feature_grad_mult: float = 0.1
    final_dim: int = 256
    latent_vars: int = 320
    latent_groups: int = 2
    max_temp: float = 2.0
    min_temp: float = 0.5
    temp_decay: float = 0.999995


def tiny():
    return Options(conv_dim=128, embed_dim=128, layers=2, heads=4, ffn_dim=512)


def small():
    return Options(conv_dim=256, embed_dim=256, layers=4, heads=4, ffn_dim=1024)


def base():
    return Options()


class MultiheadAttention(nn.Module):
    """q/k/v/out projections with bias; attention over time, or over the batch axis (legacy)."""

    def __init__(self, dim, heads, attention_dropout=0.0, legacy_batch_axis=False):
        super().__init__()
        self.dim, self.heads, self.p, self.legacy = dim, heads, attention_dropout, legacy_batch_axis
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, key_padding_mask=None, prob_keep=None):
        # x: [B, T, D]; key_padding_mask: [B, T] bool (True = padded);
        # prob_keep: [groups, H, L, L] with groups = B (time) or T (legacy)
        if self.legacy:
            x = x.transpose(0, 1)  # sequences over the batch axis: [T, B, D]
        n, length, d = x.shape
        dh = d // self.heads
        q = self.q_proj(x).view(n, length, self.heads, dh).transpose(1, 2)
        k = self.k_proj(x).view(n, length, self.heads, dh).transpose(1, 2)
        v = self.v_proj(x).view(n, length, self.heads, dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        if key_padding_mask is not None:
            s = s.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        p = torch.softmax(s, dim=-1)
        p = drop(p, self.p, prob_keep, self.training)
        o = torch.matmul(p, v).transpose(1, 2).reshape(n, length, d)
        o = self.out_proj(o)
        return o.transpose(0, 1) if self.legacy else o


class TransformerLayer(nn.Module):
    """Post-LN (paper-era) or pre-LN layer with the dropout placement of spec 3.7."""

    def __init__(self, dim, heads, ffn_dim, dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
                 layer_norm_first=False, legacy_batch_axis=False, eps=1e-6):
        super().__init__()
        self.self_attn = MultiheadAttention(dim, heads, attention_dropout, legacy_batch_axis)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=eps)
        self.p, self.pa, self.pact, self.pre = dropout, attention_dropout, activation_dropout, layer_norm_first

    def forward(self, x, masks=None, key_padding_mask=None):
        # masks: optional dict of keep masks: probs, attn_out, dropout1, activation, dropout2
        m = masks or {}
        t = self.training

        def attn_branch(h):
            a = self.self_attn(h, key_padding_mask, m.get("probs"))
            a = drop(a, self.pa, m.get("attn_out"), t)  # second attention dropout (MHA output)
            return drop(a, self.p, m.get("dropout1"), t)

        def ffn(h):
            f = drop(gelu(self.fc1(h)), self.pact, m.get("activation"), t)
            return drop(self.fc2(f), self.p, m.get("dropout2"), t)

        if not self.pre:
            h = self.self_attn_layer_norm(x + attn_branch(x))
            return self.final_layer_norm(h + ffn(h))
        r = x + attn_branch(self.self_attn_layer_norm(x))
        return r + ffn(self.final_layer_norm(r))


class PosConv(nn.Module):
    """GELU(SamePad(weight-normed grouped conv)); parameters 0.weight_g/0.weight_v/0.bias."""

    def __init__(self, dim, kernel=128, groups=16):
        super().__init__()
        conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        self.seq = nn.ModuleList([nn.utils.weight_norm(conv, name="weight", dim=2)])

    def forward(self, h):  # h: [B, T, D] -> pos: [B, T, D]
        y = self.seq[0](h.transpose(1, 2))[:, :, :-1]
        return gelu(y).transpose(1, 2)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels of [B, C, T] (the paper-text extractor block norm)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.layer_norm(x.transpose(1, 2), (x.shape[1],), self.weight, self.bias, 1e-5).transpose(1, 2)


class GradMultiply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class Quantizer(nn.Module):
    """Gumbel vector quantizer: vars [1, G*V, vq/G], weight_proj Linear(C, G*V)."""

    def __init__(self, dim, groups, codes, vq_dim):
        super().__init__()
        self.g, self.v, self.vq = groups, codes, vq_dim
        self.vars = nn.Parameter(torch.rand(1, groups * codes, vq_dim // groups))
        self.weight_proj = nn.Linear(dim, groups * codes)

    def forward(self, x, tau, gumbel=None):
        # x: [N, C] -> q: [N, vq]; gumbel: [N, G*V] noise (training) or None (eval / drawn)
        n = x.shape[0]
        logits = self.weight_proj(x).view(n * self.g, self.v)
        k = logits.argmax(-1)
        hard = torch.zeros_like(logits).scatter_(-1, k.view(-1, 1), 1.0).view(n, self.g, -1)
        code_pp = torch.exp(-torch.sum(hard.mean(0) * torch.log(hard.mean(0) + 1e-7), dim=-1)).sum()
        avg = torch.softmax(logits.view(n, self.g, -1), dim=-1).mean(0)
        prob_pp = torch.exp(-torch.sum(avg * torch.log(avg + 1e-7), dim=-1)).sum()
        if self.training:
            if gumbel is None:
                gumbel = -torch.log(-torch.log(torch.rand_like(logits)))
            z = (logits + gumbel.view(n * self.g, self.v)) / tau
            soft = torch.softmax(z, -1)
            idx = soft.argmax(-1)
            hard_st = torch.zeros_like(soft).scatter_(-1, idx.view(-1, 1), 1.0)
            w = hard_st - soft.detach() + soft
        else:
            w = hard.view(n * self.g, self.v)
        w = w.view(n, self.g * self.v, 1)
        q = (w * self.vars).view(n, self.g, self.v, -1).sum(-2).view(n, -1)
        return q, prob_pp, code_pp


class Encoder(nn.Module):
    """Transformer encoder: pos_conv, layer_norm, layers."""

    def __init__(self, o):
        super().__init__()
        pos = PosConv(o.embed_dim, o.pos_kernel, o.pos_groups)
        self.pos_conv = pos.seq
        self.layer_norm = nn.LayerNorm(o.embed_dim, eps=1e-5)
        self.layers = nn.ModuleList([
            TransformerLayer(o.embed_dim, o.heads, o.ffn_dim, o.dropout, o.attention_dropout,
                             o.activation_dropout, o.layer_norm_first, o.legacy_batch_axis)
            for _ in range(o.layers)])


class ECGTransformer(nn.Module):
    """The full pre-training encoder with fairseq-signals parameter names."""

    def __init__(self, o: Options):
        super().__init__()
        self.o = o
        blocks = []
        for i in range(o.conv_layers):
            conv = nn.Conv1d(o.in_channels if i == 0 else o.conv_dim, o.conv_dim, o.conv_kernel,
                             stride=o.conv_stride, bias=False)
            if o.mode == "layer_norm":
                norm = ChannelLayerNorm(o.conv_dim)
            elif i == 0:
                norm = nn.GroupNorm(o.conv_dim, o.conv_dim, eps=1e-5)
            else:
                norm = nn.Identity()
            blocks.append(nn.Sequential(conv, nn.Dropout(0.0), norm))
        self.feature_extractor = nn.Module()
        self.feature_extractor.conv_layers = nn.ModuleList(blocks)
        self.layer_norm = nn.LayerNorm(o.conv_dim, eps=1e-5)
        self.post_extract_proj = nn.Linear(o.conv_dim, o.embed_dim) if o.conv_dim != o.embed_dim else None
        self.mask_emb = nn.Parameter(torch.rand(o.embed_dim))
        self.encoder = Encoder(o)
        self.quantizer = Quantizer(o.conv_dim, o.latent_groups, o.latent_vars, o.final_dim)
        self.project_q = nn.Linear(o.final_dim, o.final_dim)
        self.final_proj = nn.Linear(o.embed_dim, o.final_dim)

    def forward(self, x, mask=None, gumbel=None, num_updates=0, keep=None, apply_mask=True):
        """x: [B, leads, samples]; mask: [B, T] bool (drawn uniformly at 36 % if None and
        apply_mask); gumbel: [rows, G*V]; keep: dict of explicit dropout keep masks (keys
        dropout_features, dropout_input, encoder_dropout, layers.{i}.<site>)."""
        o, t, k = self.o, self.training, keep or {}
        z = x
        for block in self.feature_extractor.conv_layers:
            z = gelu(block(z))
        z = GradMultiply.apply(z, o.feature_grad_mult)
        features = z  # [B, C, T]; the feature penalty sees it after GradMultiply (spec 4.2)
        f = self.layer_norm(z.transpose(1, 2))
        unmasked = drop(f, o.dropout_features, k.get("dropout_features"), t)
        h = self.post_extract_proj(f) if self.post_extract_proj is not None else f
        h = drop(h, o.dropout_input, k.get("dropout_input"), t)
        bsz, frames, _ = h.shape
        if t and apply_mask:
            if mask is None:
                mask = torch.rand(bsz, frames) < 0.36
            h = torch.where(mask[:, :, None], self.mask_emb.to(h.dtype).expand_as(h), h)
        h = h + gelu(self.encoder.pos_conv[0](h.transpose(1, 2))[:, :, :-1]).transpose(1, 2)
        if not o.layer_norm_first:
            h = self.encoder.layer_norm(h)
        h = drop(h, o.dropout, k.get("encoder_dropout"), t)
        for i, layer in enumerate(self.encoder.layers):
            sites = {s: k[f"layers.{i}.{s}"] for s in ("probs", "attn_out", "dropout1", "activation", "dropout2")
                     if f"layers.{i}.{s}" in k}
            h = layer(h, sites)
        if o.layer_norm_first:
            h = self.encoder.layer_norm(h)
        out = {"features": features, "encoded": h}
        if t and apply_mask:
            sel = mask.reshape(-1)
            pred = self.final_proj(h.reshape(bsz * frames, -1)[sel])
            tau = max(o.max_temp * o.temp_decay ** num_updates, o.min_temp)
            q, prob_pp, code_pp = self.quantizer(unmasked.reshape(bsz * frames, -1)[sel], tau, gumbel)
            out.update(predictions=pred, targets=self.project_q(q), prob_perplexity=prob_pp,
                       code_perplexity=code_pp)
        return out
