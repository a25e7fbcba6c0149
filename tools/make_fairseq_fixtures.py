#!/usr/bin/python3
"""fairseq-signals checkpoints for tests/tools/test_fairseq_conversion.py (issue 20).

Builds two small ECG transformers with the PyTorch reference module (tools/torch_reference_encoder.py,
fixed seeds), saves them with torch.save in the layout fairseq-signals writes (checkpoint_utils:
{"args": None, "cfg": {"model": {...fairseq names...}, ...}, "model": state dict, "optimizer_history",
"extra_state"}), and the float64 outputs PyTorch computes on the real record E00001 (PhysioNet/CinC
Challenge 2020, Georgia; CC BY 4.0; tests/data/records/challenge), cut into two 5 s segments in mV:

* pretrained.pt: a wav2vec 2.0 + CMSC pre-training checkpoint, extractor_mode "default", post-LN,
  with the pre-training heads (mask_emb, quantizer, project_q, final_proj); pos_conv as the
  old weight_norm's weight_g / weight_v.
* finetuned.pt: an arrhythmia classifier (26 classes) in the prefixed layout
  (`w2v_encoder.w2v_model.` + head `proj`), extractor_mode "layer_norm" (fairseq's nested
  `conv_layers.i.2.1.` norm names), layer_norm_first, no quantizer heads but a leftover mask_emb,
  pos_conv under torch>=2.1's parametrization names (original0 / original1, the latter stored
  as float16), and a head weight saved as a transposed (non-contiguous) view.
* expected.json: {"embedding": [2][32] (pretrained.pt, non-zero-count temporal mean of the
  eval-mode transformer output per segment, what `ecgssl embed` writes), "logits": [2][26]
  (finetuned.pt per segment), "probabilities": [2][26] (sigmoid), "record_probabilities": [26]
  (mean over the two segments, what `ecgssl predict` writes)}.

Run from the repository root with Debian's PyTorch: /usr/bin/python3 tools/make_fairseq_fixtures.py
Re-running writes the same tensors (torch.save's zip may differ in timestamps only).
"""
import collections
import json
import os
import re
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_reference_encoder as ref  # noqa: E402
from make_torch_checkpoint_fixture import read_challenge_record  # noqa: E402

OUT = os.path.join("tests", "data", "io", "fairseq")
RECORD = os.path.join("tests", "data", "records", "challenge", "E00001")
SIZES = {"conv_dim": 32, "embed_dim": 32, "layers": 2, "heads": 4, "ffn_dim": 64, "final_dim": 16, "latent_vars": 8}
CLASSES = 26


def options(**extra):
    o = ref.tiny()
    for k, v in dict(SIZES, **extra).items():
        setattr(o, k, v)
    return o


def build(seed, o):
    torch.manual_seed(seed)
    model = ref.ECGTransformer(o)
    # PyTorch initialises norms to 1 and 0; perturb them so that a swapped name shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or ".2.weight" in name or ".2.bias" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def fairseq_model_cfg(o, name, **extra):
    """cfg.model as fairseq-signals' Wav2Vec2Config / ECGTransformerClassificationConfig write it."""
    cfg = {
        "_name": name, "extractor_mode": "layer_norm" if o.mode == "layer_norm" else "default",
        "conv_feature_layers": "[(%d, %d, %d)] * %d" % (o.conv_dim, o.conv_kernel, o.conv_stride, o.conv_layers),
        "in_d": o.in_channels, "conv_bias": False, "feature_grad_mult": o.feature_grad_mult,
        "encoder_layers": o.layers, "encoder_embed_dim": o.embed_dim, "encoder_ffn_embed_dim": o.ffn_dim,
        "encoder_attention_heads": o.heads, "layer_norm_first": o.layer_norm_first,
        "dropout": o.dropout, "attention_dropout": o.attention_dropout, "activation_dropout": o.activation_dropout,
        "encoder_layerdrop": 0.0, "dropout_input": o.dropout_input, "dropout_features": o.dropout_features,
        "apply_mask": True, "mask_length": 10, "mask_prob": 0.65, "mask_selection": "static", "mask_other": 0.0,
        "no_mask_overlap": False, "mask_min_space": 1, "mask_channel_length": 10, "mask_channel_prob": 0.0,
        "mask_channel_selection": "static", "mask_channel_other": 0.0, "no_mask_channel_overlap": False,
        "mask_channel_min_space": 1, "conv_pos": o.pos_kernel, "conv_pos_groups": o.pos_groups,
        "normalize": False, "data": "/path/to/manifest", "args": None,
    }
    cfg.update(extra)
    return cfg


def checkpoint(model_cfg, state):
    return {
        "args": None,
        "cfg": {"_name": None, "common": {"seed": 1, "fp16": False}, "task": {"_name": "ecg_pretraining"},
                "model": model_cfg, "criterion": {"_name": "wav2vec2_with_cmsc"}},
        "model": state,
        "optimizer_history": [{"criterion_name": "Wav2Vec2WithCMSCCriterion", "optimizer_name": "Adam",
                               "lr_scheduler_state": {"best": 1.25}, "num_updates": 100}],
        "extra_state": {"epoch": 2, "val_loss": np.float64(1.25), "train_iterator": {"epoch": 2}},
        "last_optimizer_state": None,
    }


def pooled64(model, batch):
    with torch.no_grad():
        m = ref.ECGTransformer(model.o).double()
        m.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        m.eval()
        x = m(torch.from_numpy(batch).double(), apply_mask=False)["encoded"]
        # fairseq-signals' pooling: sum over time / number of non-zero entries (per channel)
        return x.sum(dim=1) / (x != 0).sum(dim=1).clamp(min=1)


def main():
    x = read_challenge_record(RECORD)
    batch = np.stack([x[:, :2500], x[:, 2500:5000]])
    os.makedirs(OUT, exist_ok=True)

    # (i) pre-training checkpoint: the names are ecgssl's (and the paper-era fairseq-signals')
    o1 = options()
    pre = build(20260301, o1)
    state = collections.OrderedDict((k, v.clone()) for k, v in pre.state_dict().items())
    cfg = fairseq_model_cfg(o1, "wav2vec2_cmsc", quantize_targets=True, quantize_input=False, same_quantizer=False,
                            target_glu=False, latent_vars=o1.latent_vars, latent_groups=o1.latent_groups,
                            latent_dim=0, final_dim=o1.final_dim, latent_temp=[2.0, 0.5, 0.999995],
                            logit_temp=0.1, num_negatives=100, cross_sample_negatives=0, codebook_negatives=0,
                            negatives_from_everywhere=False)
    torch.save(checkpoint(cfg, state), os.path.join(OUT, "pretrained.pt"))
    embedding = pooled64(pre, batch)

    # (ii) fine-tuned classifier, prefixed layout
    o2 = options(mode="layer_norm", layer_norm_first=True, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.1, dropout_input=0.0, dropout_features=0.0, feature_grad_mult=0.0)
    fine = build(20260302, o2)
    torch.manual_seed(20260303)
    head_t = torch.randn(o2.embed_dim, CLASSES) * 0.3  # stored transposed: a non-contiguous view
    head_b = torch.randn(CLASSES) * 0.1
    with torch.no_grad():  # the fp16 copy below is what the expected values use
        fine.encoder.pos_conv[0].weight_v.copy_(fine.encoder.pos_conv[0].weight_v.half().float())
    prefix = "w2v_encoder.w2v_model."
    state = collections.OrderedDict()
    for k, v in fine.state_dict().items():
        if k.startswith(("quantizer.", "project_q.", "final_proj.")):
            continue  # fairseq-signals' remove_pretraining_modules
        # fairseq's layer-norm block is Sequential(TransposeLast, LayerNorm, TransposeLast)
        k = re.sub(r"^(feature_extractor\.conv_layers\.\d+)\.2\.(weight|bias)$", r"\1.2.1.\2", k)
        if k.endswith("pos_conv.0.weight_g"):
            k, v = k[:-len("weight_g")] + "parametrizations.weight.original0", v
        elif k.endswith("pos_conv.0.weight_v"):
            k, v = k[:-len("weight_v")] + "parametrizations.weight.original1", v.half()
        state[prefix + k] = v.clone()
    state["proj.weight"] = head_t.t()
    state["proj.bias"] = head_b.clone()
    cfg = fairseq_model_cfg(o2, "ecg_transformer_classifier", num_labels=CLASSES, final_dropout=0.0,
                            apply_mask=False, model_path="/path/to/pretrained.pt", no_pretrained_weights=False,
                            freeze_finetune_updates=0, final_dim=0)
    torch.save(checkpoint(cfg, state), os.path.join(OUT, "finetuned.pt"))
    assert not state["proj.weight"].is_contiguous()

    pooled = pooled64(fine, batch)
    logits = pooled @ head_t.double() + head_b.double()
    probs = torch.sigmoid(logits)
    expected = {"embedding": embedding.tolist(), "logits": logits.tolist(), "probabilities": probs.tolist(),
                "record_probabilities": probs.mean(dim=0).tolist()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("embedding[0, :4]:", embedding[0, :4].tolist())
    print("record probabilities[:4]:", probs.mean(dim=0)[:4].tolist())


if __name__ == "__main__":
    main()
