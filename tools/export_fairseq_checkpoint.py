#!/usr/bin/env python3
"""ecgssl checkpoint (.safetensors) -> fairseq-signals checkpoint (.pt). Standard library only.

    python3 tools/export_fairseq_checkpoint.py IN.safetensors OUT.pt [--prefix PREFIX]

The reverse of tools/convert_fairseq_checkpoint.py. Writes what fairseq-signals' checkpoint_utils
saves: {"args": None, "cfg": {"model": {fairseq names}}, "model": state dict, "optimizer_history",
"extra_state"}, with the pure-Python torch.save writer of tools/fairseq_checkpoint.py, so that
`torch.load` (and `torch.load(..., weights_only=True)` in torch 2.x) reads it.

A pre-trained checkpoint keeps ecgssl's names (the paper-era fairseq-signals names, weight norm
as weight_g / weight_v). A fine-tuned arrhythmia checkpoint puts the encoder under `--prefix`
(default `w2v_encoder.w2v_model.`; fairseq-signals' own classifiers use `encoder.`) and the head
as `proj.weight` / `proj.bias`. extractor_mode "layer_norm" norms become `conv_layers.i.2.1.*`.
Reads both the canonical "ecgssl.config" form and the ecgssl 0.1 form ({"model": {...}}).
Options fairseq-signals cannot express (attention over the batch axis, min_masks other than 2,
an identification head) are errors.
"""
import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fairseq_checkpoint as fc  # noqa: E402
from convert_fairseq_checkpoint import BASE_OPTIONS, CONTRACT, NAMED, ConversionError, expected_shapes  # noqa: E402


def options_from_ecgssl(j):
    """ecg_transformer_options (dict) of an "ecgssl.config" object in either form."""
    if not isinstance(j, dict):
        raise ConversionError("ecgssl.config is not a JSON object")
    contract = any(k in j for k in ("conv_channels", "dim", "ffn", "extractor_mode"))
    if contract and isinstance(j.get("model"), dict):
        raise ConversionError("ecgssl.config has both a \"model\" object and contract keys")
    o = dict(BASE_OPTIONS)
    if contract:
        missing = [k for k in ("conv_channels", "dim", "layers", "heads", "ffn", "extractor_mode") if k not in j]
        if missing:
            raise ConversionError("ecgssl.config lacks " + ", ".join(missing))
        extra = j.get("encoder", {})
        if not isinstance(extra, dict):
            raise ConversionError("ecgssl.config.encoder is not an object")
        fields = dict(extra)
        for option, name in CONTRACT.items():
            if name in j:
                fields[option] = j[name]
        if j["extractor_mode"] not in ("default", "layer_norm"):
            raise ConversionError("ecgssl.config.extractor_mode = %r" % (j["extractor_mode"],))
        fields["mode"] = "layer_norm" if j["extractor_mode"] == "layer_norm" else "group_norm_first"
    elif isinstance(j.get("model"), dict):
        fields = dict(j["model"])
        base = fields.pop("base", "base")
        if base not in NAMED:
            raise ConversionError("ecgssl.config.model.base = %r (tiny, small or base)" % (base,))
        o.update(NAMED[base])
    else:
        raise ConversionError("ecgssl.config has neither the contract keys nor a \"model\" object")
    unknown = [k for k in fields if k not in BASE_OPTIONS]
    if unknown:
        raise ConversionError("ecgssl.config: unknown option(s) " + ", ".join(unknown))
    o.update(fields)
    if o["mode"] not in ("group_norm_first", "layer_norm"):
        raise ConversionError("ecgssl.config: mode = %r" % (o["mode"],))
    return o


def fairseq_model_cfg(o, classes=None):
    problems = []
    if o["legacy_batch_axis"]:
        problems.append("legacy_batch_axis = true (fairseq-signals has no switch for attention over the batch axis)")
    if o["min_masks"] != 2:
        problems.append("min_masks = %d (fairseq-signals draws at least 2 spans)" % o["min_masks"])
    if problems:
        raise ConversionError("options fairseq-signals cannot represent:\n  " + "\n  ".join(problems))
    m = {
        "_name": "ecg_transformer_classifier" if classes is not None else "wav2vec2",
        "extractor_mode": "layer_norm" if o["mode"] == "layer_norm" else "default",
        "conv_feature_layers": "[(%d, %d, %d)] * %d" % (o["conv_dim"], o["conv_kernel"], o["conv_stride"], o["conv_layers"]),
        "in_d": o["in_channels"], "conv_bias": False, "feature_grad_mult": float(o["feature_grad_mult"]),
        "encoder_layers": o["layers"], "encoder_embed_dim": o["embed_dim"], "encoder_ffn_embed_dim": o["ffn_dim"],
        "encoder_attention_heads": o["heads"], "layer_norm_first": bool(o["layer_norm_first"]),
        "dropout": float(o["dropout"]), "attention_dropout": float(o["attention_dropout"]),
        "activation_dropout": float(o["activation_dropout"]), "encoder_layerdrop": 0.0,
        "dropout_input": float(o["dropout_input"]), "dropout_features": float(o["dropout_features"]),
        "apply_mask": bool(o["apply_mask"]) and classes is None, "mask_length": o["mask_length"],
        "mask_prob": float(o["mask_prob"]), "mask_selection": "static", "mask_other": 0.0, "no_mask_overlap": False,
        "mask_min_space": 1, "mask_channel_prob": 0.0, "conv_pos": o["pos_kernel"], "conv_pos_groups": o["pos_groups"],
        "final_dim": o["final_dim"], "latent_vars": o["latent_vars"], "latent_groups": o["latent_groups"],
        "latent_temp": [float(o["max_temp"]), float(o["min_temp"]), float(o["temp_decay"])],
    }
    if classes is None and o["pretraining_heads"]:
        m.update({"quantize_targets": True, "quantize_input": False, "same_quantizer": False, "target_glu": False,
                  "latent_dim": 0, "logit_temp": 0.1, "num_negatives": 100, "cross_sample_negatives": 0,
                  "codebook_negatives": 0, "negatives_from_everywhere": False})
    if classes is not None:
        m.update({"num_labels": classes, "final_dropout": 0.0})
    return m


def export(tensors, metadata, prefix="w2v_encoder.w2v_model."):
    """The fairseq-signals checkpoint dict of an ecgssl checkpoint."""
    if "ecgssl.config" not in metadata:
        raise ConversionError("no ecgssl.config in the safetensors metadata")
    try:
        j = json.loads(metadata["ecgssl.config"])
    except ValueError as e:
        raise ConversionError("ecgssl.config is not JSON (%s)" % e) from None
    o = options_from_ecgssl(j)
    finetuned = "task" in j
    classes = None
    if finetuned:
        if j["task"] != "arrhythmia" or "arcface.weight" in tensors:
            raise ConversionError("task %r: only arrhythmia (linear head) models have a fairseq-signals "
                                  "classifier counterpart" % (j["task"],))
        if "head.weight" not in tensors:
            raise ConversionError("fine-tuned checkpoint without head.weight")
        classes = tensors["head.weight"].shape[0]
        o["pretraining_heads"] = False
    skipped = [k for k in tensors if k.startswith(("optimizer.", "trainer."))]
    params = {k: t for k, t in tensors.items() if k not in skipped}
    shapes = expected_shapes(o, classes)
    unknown = [k for k in params if k not in shapes]
    missing = [k for k in shapes if k not in params]
    wrong = ["%s: %s, expected %s" % (k, list(params[k].shape), list(shapes[k]))
             for k in params if k in shapes and tuple(params[k].shape) != tuple(shapes[k])]
    if unknown or missing or wrong:
        raise ConversionError("the tensors do not match the configured model: "
                              + "; ".join(filter(None, ["unexpected " + ", ".join(unknown) if unknown else "",
                                                        "missing " + ", ".join(missing) if missing else "",
                                                        "wrong shapes " + "; ".join(wrong) if wrong else ""])))
    state = collections.OrderedDict()
    for k in sorted(params, key=lambda n: list(shapes).index(n)):
        name = k
        if o["mode"] == "layer_norm":
            name = re.sub(r"^(feature_extractor\.conv_layers\.\d+)\.2\.(weight|bias)$", r"\1.2.1.\2", name)
        if finetuned:
            name = "proj." + k[len("head."):] if k.startswith("head.") else prefix + name
        state[name] = params[k]
    ck = {
        "args": None,
        "cfg": {"model": fairseq_model_cfg(o, classes), "ecgssl": {"config": j}},
        "model": state,
        # what fairseq-signals' checkpoint_utils expects to find when it loads a checkpoint
        "optimizer_history": [{"criterion_name": "ecgssl", "optimizer_name": "ecgssl",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "extra_state": {"epoch": 1, "train_iterator": {"epoch": 1, "iterations_in_epoch": 0}},
        "last_optimizer_state": None,
    }
    return ck, skipped


def main(argv=None):
    ap = argparse.ArgumentParser(description="ecgssl .safetensors -> fairseq-signals .pt")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--prefix", default="w2v_encoder.w2v_model.",
                    help="encoder prefix of a fine-tuned model (fairseq-signals' classifiers: 'encoder.')")
    a = ap.parse_args(argv)
    try:
        tensors, metadata = fc.load_safetensors(a.input)
        ck, skipped = export(tensors, metadata, a.prefix)
        fc.save_pt(ck, a.output)
    except (fc.CheckpointError, ConversionError, OSError) as e:
        print("export_fairseq_checkpoint: %s: %s" % (a.input, e), file=sys.stderr)
        return 1
    print("wrote %s: %d tensors, cfg.model = %s" % (a.output, len(ck["model"]), json.dumps(ck["cfg"]["model"])))
    if skipped:
        print("  not exported (optimizer / trainer state): %d tensors" % len(skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
