#!/usr/bin/env python3
"""fairseq-signals / ECG-FM checkpoint (.pt) -> ecgssl checkpoint (.safetensors). Standard library only.

    python3 tools/convert_fairseq_checkpoint.py IN.pt OUT.safetensors [--ignore-config KEY,...]

ecgssl's parameter names are the fairseq-signals state-dict names of the W2V+CMSC+RLM paper's
code, so most tensors keep their name. What changes:

* fine-tuned models: the encoder prefix (`w2v_encoder.w2v_model.`, or `encoder.` as
  fairseq-signals' classifiers write it) is stripped and the linear head (`proj.*`, or
  `w2v_encoder.proj.*`) becomes `head.*`; fairseq-signals' pooling before the head is the
  non-zero-count temporal mean, ecgssl's fine-tuned model takes the plain mean (equal unless an
  encoder output is exactly 0). Tensors a fine-tuned ecgssl model has no place for (mask_emb,
  pre-training heads) are dropped and listed.
* the positional conv's weight norm under torch>=2.1 names (`parametrizations.weight.original0/1`)
  becomes `weight_g` / `weight_v`; the newer fairseq-signals module path `conv_pos.pos_conv.` becomes
  `encoder.pos_conv.`.
* extractor_mode "layer_norm": fairseq's block norm is `conv_layers.i.2.1.*` (inside
  Sequential(TransposeLast, LayerNorm, TransposeLast)); ecgssl's is `conv_layers.i.2.*`.

Everything else is checked, not guessed: every tensor must land on a parameter of the model the
configuration describes, with its shape; a configuration value ecgssl cannot represent (conv_bias,
a non-uniform conv stack, another activation or model kind, ...) is an error naming the keys.
`--ignore-config` accepts the listed keys as they are (training-only settings, say) after you
have checked that ignoring them is right. Tensors are written as float32, contiguous.
"""
import argparse
import ast
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fairseq_checkpoint as fc  # noqa: E402


class ConversionError(Exception):
    pass


# ecg_transformer_options (include/ecgssl/model/configs.hpp): names and defaults of the base config.
BASE_OPTIONS = {
    "in_channels": 12, "conv_dim": 256, "conv_layers": 4, "conv_kernel": 2, "conv_stride": 2,
    "mode": "group_norm_first", "embed_dim": 768, "layers": 12, "heads": 12, "ffn_dim": 3072,
    "pos_kernel": 128, "pos_groups": 16, "layer_norm_first": False, "legacy_batch_axis": False,
    "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0, "dropout_input": 0.1,
    "dropout_features": 0.1, "feature_grad_mult": 0.1, "apply_mask": True, "mask_prob": 0.65,
    "mask_length": 10, "min_masks": 2, "pretraining_heads": True, "final_dim": 256, "latent_vars": 320,
    "latent_groups": 2, "max_temp": 2.0, "min_temp": 0.5, "temp_decay": 0.999995,
}
NAMED = {
    "tiny": {"conv_dim": 128, "embed_dim": 128, "layers": 2, "heads": 4, "ffn_dim": 512},
    "small": {"conv_dim": 256, "embed_dim": 256, "layers": 4, "heads": 4, "ffn_dim": 1024},
    "base": {},
}
# Canonical checkpoint config: these options sit at the top level under contract names.
CONTRACT = {"conv_dim": "conv_channels", "embed_dim": "dim", "layers": "layers", "heads": "heads",
            "ffn_dim": "ffn", "final_dim": "final_dim", "latent_vars": "latent_vars", "latent_groups": "latent_groups"}

# Model kinds whose encoder is the wav2vec 2.0 ECG transformer.
MODEL_KINDS = {"wav2vec2", "wav2vec2_cmsc", "wav2vec2_cmsc_rlm", "ecg_transformer", "ecg_transformer_classifier",
               "conv_transformer", "linear_projection", "wav2vec2_ecg", None}

# fairseq cfg.model keys -> ecgssl option (direct copies; type-checked below)
DIRECT = {
    "in_d": "in_channels", "encoder_embed_dim": "embed_dim", "encoder_layers": "layers",
    "encoder_attention_heads": "heads", "encoder_ffn_embed_dim": "ffn_dim", "conv_pos": "pos_kernel",
    "conv_pos_groups": "pos_groups", "layer_norm_first": "layer_norm_first", "dropout": "dropout",
    "attention_dropout": "attention_dropout", "activation_dropout": "activation_dropout",
    "dropout_input": "dropout_input", "dropout_features": "dropout_features",
    "feature_grad_mult": "feature_grad_mult", "mask_prob": "mask_prob", "mask_length": "mask_length",
    "apply_mask": "apply_mask", "latent_vars": "latent_vars", "latent_groups": "latent_groups",
}
# Values ecgssl implements only in this form (ecgssl has no switch for them).
REQUIRED = {
    "conv_bias": False, "encoder_layerdrop": 0.0, "mask_selection": "static", "mask_other": 0.0,
    "no_mask_overlap": False, "mask_min_space": 1, "mask_channel_prob": 0.0, "quantize_input": False,
    "target_glu": False, "activation_fn": "gelu", "quantize_targets": True,
}
# Keys without an effect on the weights or on what ecgssl computes from them (bookkeeping, the
# contrastive loss's sampling, channel masking that is off, the classifier's dropout, ...).
NOT_CARRIED = {
    "_name", "normalize", "data", "args", "saliency", "all_gather", "model_path", "no_pretrained_weights",
    "freeze_finetune_updates", "final_dropout", "num_labels", "logit_temp", "num_negatives",
    "cross_sample_negatives", "codebook_negatives", "negatives_from_everywhere", "mask_channel_length",
    "mask_channel_selection", "mask_channel_other", "no_mask_channel_overlap", "mask_channel_min_space",
    "same_quantizer",
}
# Keys read by options_from_fairseq itself.
READ_BELOW = {"conv_feature_layers", "extractor_mode", "final_dim", "latent_dim", "latent_temp"}


def parse_conv_layers(text):
    """The [(dim, kernel, stride), ...] of a conv_feature_layers string, without eval: only list and
    tuple literals of ints, `list * int` and `list + list`."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ConversionError("conv_feature_layers %r is not a Python literal (%s)" % (text, e.msg)) from None

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            left, right = value(node.left), value(node.right)
            if isinstance(left, int):
                left, right = right, left
            if isinstance(left, list) and isinstance(right, int) and 0 <= right <= 1024:
                return left * right
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value(node.left), value(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
        raise ConversionError("conv_feature_layers %r: only list/tuple literals of ints, list * int and "
                              "list + list are read" % text)

    layers = value(tree)
    if not isinstance(layers, list) or not layers or not all(
            isinstance(t, tuple) and len(t) == 3 and all(isinstance(v, int) and v > 0 for v in t) for t in layers):
        raise ConversionError("conv_feature_layers %r is not a non-empty list of (dim, kernel, stride)" % text)
    return layers


def _number(key, v, kind):
    if kind is bool:
        if not isinstance(v, bool):
            raise ConversionError("cfg.model.%s = %r: expected true/false" % (key, v))
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConversionError("cfg.model.%s = %r: expected a number" % (key, v))
    if kind is int:
        if v != int(v) or v < 0:
            raise ConversionError("cfg.model.%s = %r: expected a non-negative integer" % (key, v))
        return int(v)
    return float(v)


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def model_config(ck):
    """cfg.model of a fairseq checkpoint (new `cfg` dict, or old `args` Namespace)."""
    cfg = ck.get("cfg") if isinstance(ck, dict) else None
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        return cfg["model"]
    if isinstance(ck, dict) and isinstance(ck.get("args"), dict):
        return ck["args"]  # pre-hydra fairseq: one flat Namespace
    raise ConversionError("no cfg.model (nor args) in the checkpoint: not a fairseq-signals checkpoint")


def options_from_fairseq(m, pretraining_heads, ignore=()):
    """ecg_transformer_options (dict) for cfg.model `m`, and the keys not carried over."""
    o = dict(BASE_OPTIONS)
    problems, not_carried = [], []
    kinds = {k: type(BASE_OPTIONS[v]) for k, v in DIRECT.items()}
    for key, value in m.items():
        if key in ignore:
            not_carried.append(key)
            continue
        try:
            if key in DIRECT:
                o[DIRECT[key]] = _number(key, value, kinds[key])
            elif key in REQUIRED:
                if key == "quantize_targets" and not pretraining_heads:
                    not_carried.append(key)
                elif not _same(value, REQUIRED[key]):
                    problems.append("%s = %r (ecgssl implements only %r)" % (key, value, REQUIRED[key]))
            elif key in NOT_CARRIED:
                not_carried.append(key)
            elif key in READ_BELOW:
                pass
            else:
                problems.append("%s = %r (unknown to this converter)" % (key, value))
        except ConversionError as e:
            problems.append(str(e))
    kind = m.get("_name")
    if "_name" not in ignore and kind not in MODEL_KINDS:
        problems.append("_name = %r (not a wav2vec 2.0 / ECG transformer model; known: %s)"
                        % (kind, ", ".join(sorted(k for k in MODEL_KINDS if k))))
    mode = m.get("extractor_mode", "default")
    if mode not in ("default", "layer_norm"):
        problems.append("extractor_mode = %r (expected 'default' or 'layer_norm')" % (mode,))
    o["mode"] = "layer_norm" if mode == "layer_norm" else "group_norm_first"
    try:
        layers = parse_conv_layers(m.get("conv_feature_layers", "[(256, 2, 2)] * 4"))
        if len(set(layers)) != 1:
            problems.append("conv_feature_layers = %r (ecgssl's extractor repeats one (dim, kernel, stride))"
                            % m["conv_feature_layers"])
        o["conv_dim"], o["conv_kernel"], o["conv_stride"] = layers[0]
        o["conv_layers"] = len(layers)
    except ConversionError as e:
        problems.append(str(e))
    final_dim = m.get("final_dim", 0)
    if isinstance(final_dim, int) and not isinstance(final_dim, bool) and final_dim >= 0:
        o["final_dim"] = final_dim if final_dim > 0 else o["embed_dim"]
    else:
        problems.append("final_dim = %r (expected an integer >= 0)" % (final_dim,))
    latent_dim = m.get("latent_dim", 0)
    if pretraining_heads and "latent_dim" not in ignore and latent_dim not in (0, o["final_dim"]):
        problems.append("latent_dim = %r (ecgssl's codebook entries have final_dim = %d components)"
                        % (latent_dim, o["final_dim"]))
    temp = m.get("latent_temp", (2.0, 0.5, 0.999995))
    if isinstance(temp, str):
        try:
            temp = ast.literal_eval(temp)
        except (ValueError, SyntaxError):
            pass
    if (isinstance(temp, (list, tuple)) and len(temp) == 3
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in temp)):
        o["max_temp"], o["min_temp"], o["temp_decay"] = (float(t) for t in temp)
    else:
        problems.append("latent_temp = %r (expected (max, min, decay))" % (temp,))
    if o["heads"] == 0 or o["embed_dim"] % o["heads"]:
        problems.append("encoder_attention_heads = %d does not divide encoder_embed_dim = %d" % (o["heads"], o["embed_dim"]))
    if o["pos_groups"] == 0 or o["embed_dim"] % o["pos_groups"]:
        problems.append("conv_pos_groups = %d does not divide encoder_embed_dim = %d" % (o["pos_groups"], o["embed_dim"]))
    if problems:
        raise ConversionError("configuration values ecgssl cannot represent (cfg.model):\n  " + "\n  ".join(problems)
                              + "\n(--ignore-config KEY,... accepts keys you have checked do not matter)")
    o["pretraining_heads"] = pretraining_heads
    return o, sorted(not_carried)


def expected_shapes(o, head_classes=None):
    """Every parameter name -> shape of ecgssl's model for options `o` (plus head.* when classes given)."""
    c, d, f, k = o["conv_dim"], o["embed_dim"], o["ffn_dim"], o["conv_kernel"]
    s = {}
    for i in range(o["conv_layers"]):
        p = "feature_extractor.conv_layers.%d." % i
        s[p + "0.weight"] = (c, o["in_channels"] if i == 0 else c, k)
        if o["mode"] == "layer_norm" or i == 0:
            s[p + "2.weight"] = s[p + "2.bias"] = (c,)
    s["layer_norm.weight"] = s["layer_norm.bias"] = (c,)
    if c != d:
        s["post_extract_proj.weight"], s["post_extract_proj.bias"] = (d, c), (d,)
    s["encoder.pos_conv.0.bias"] = (d,)
    s["encoder.pos_conv.0.weight_g"] = (1, 1, o["pos_kernel"])
    s["encoder.pos_conv.0.weight_v"] = (d, d // max(o["pos_groups"], 1), o["pos_kernel"])
    s["encoder.layer_norm.weight"] = s["encoder.layer_norm.bias"] = (d,)
    for i in range(o["layers"]):
        p = "encoder.layers.%d." % i
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            s[p + "self_attn.%s.weight" % proj], s[p + "self_attn.%s.bias" % proj] = (d, d), (d,)
        s[p + "fc1.weight"], s[p + "fc1.bias"] = (f, d), (f,)
        s[p + "fc2.weight"], s[p + "fc2.bias"] = (d, f), (d,)
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            s[p + ln + ".weight"] = s[p + ln + ".bias"] = (d,)
    if o["pretraining_heads"]:
        g, v, fd = o["latent_groups"], o["latent_vars"], o["final_dim"]
        s["mask_emb"] = (d,)
        s["quantizer.vars"] = (1, g * v, fd // max(g, 1))
        s["quantizer.weight_proj.weight"], s["quantizer.weight_proj.bias"] = (g * v, c), (g * v,)
        s["project_q.weight"], s["project_q.bias"] = (fd, fd), (fd,)
        s["final_proj.weight"], s["final_proj.bias"] = (fd, d), (fd,)
    if head_classes is not None:
        s["head.weight"], s["head.bias"] = (head_classes, d), (head_classes,)
    return s


PRETRAINING_HEADS = ("mask_emb", "quantizer.", "project_q.", "final_proj.")
HEADS = {"proj.weight": "head.weight", "proj.bias": "head.bias", "w2v_encoder.proj.weight": "head.weight",
         "w2v_encoder.proj.bias": "head.bias", "head.weight": "head.weight", "head.bias": "head.bias"}


def encoder_name(name, mode):
    """ecgssl's name for an encoder tensor name of fairseq-signals (prefix already stripped)."""
    if name.startswith("conv_pos.pos_conv."):
        name = "encoder.pos_conv." + name[len("conv_pos.pos_conv."):]
    name = name.replace("pos_conv.0.parametrizations.weight.original0", "pos_conv.0.weight_g")
    name = name.replace("pos_conv.0.parametrizations.weight.original1", "pos_conv.0.weight_v")
    if mode == "layer_norm":
        name = re.sub(r"^(feature_extractor\.conv_layers\.\d+)\.2\.1\.(weight|bias)$", r"\1.2.\2", name)
    return name


def split_state(state):
    """(fine-tuned?, encoder prefix, {head name: tensor name}) of a fairseq state dict."""
    heads = {HEADS[k]: k for k in state if k in HEADS}
    for prefix in ("w2v_encoder.w2v_model.", "encoder."):
        if any(k.startswith(prefix + "feature_extractor.") for k in state):
            return True, prefix, heads
    return bool(heads), "", heads


def convert(ck, ignore=()):
    """(tensors, config dict, report lines) of ecgssl for a loaded fairseq checkpoint."""
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict):
        raise ConversionError("no 'model' state dict in the checkpoint")
    state = ck["model"]
    bad = [k for k, v in state.items() if not isinstance(v, fc.Tensor)]
    if bad:
        raise ConversionError("state dict entries that are not tensors: " + ", ".join(map(str, bad)))
    m = model_config(ck)
    finetuned, prefix, heads = split_state(state)
    body = {k[len(prefix):]: k for k in state if k.startswith(prefix) and k not in heads.values()}
    outside = [k for k in state if k not in body.values() and k not in heads.values()]
    if finetuned and set(heads) != {"head.weight", "head.bias"}:
        raise ConversionError("fine-tuned checkpoint without a complete linear head (found: %s; expected "
                              "proj.weight/proj.bias or w2v_encoder.proj.weight/bias)" % (sorted(heads.values()) or "none"))
    present = [n for n in PRETRAINING_HEADS if any(k == n or k.startswith(n) for k in body)]
    pretraining_heads = not finetuned and len(present) == len(PRETRAINING_HEADS)
    if not finetuned and present and not pretraining_heads:
        raise ConversionError("pre-training heads only in part: has %s, lacks %s"
                              % (", ".join(present), ", ".join(n for n in PRETRAINING_HEADS if n not in present)))
    o, not_carried = options_from_fairseq(m, pretraining_heads, ignore)
    classes = state[heads["head.weight"]].shape[0] if finetuned else None
    labels = m.get("num_labels")
    if finetuned and labels is not None and "num_labels" not in ignore and labels != classes:
        raise ConversionError("cfg.model.num_labels = %r but the head has %d rows" % (labels, classes))

    tensors, renamed, dropped, unknown = {}, [], [], list(outside)
    for short, full in body.items():
        if finetuned and (short == "mask_emb" or short.startswith(PRETRAINING_HEADS[1:])):
            dropped.append(full + " (a fine-tuned ecgssl model has no masking nor pre-training heads)")
            continue
        name = encoder_name(short, o["mode"])
        if name in tensors:
            raise ConversionError("two tensors map onto %s (one of them %s)" % (name, full))
        tensors[name] = state[full]
        if name != full:
            renamed.append((full, name))
    for name, full in heads.items():
        tensors[name] = state[full]
        if name != full:
            renamed.append((full, name))
    shapes = expected_shapes(o, classes)
    unknown += [k for k in tensors if k not in shapes]
    missing = [k for k in shapes if k not in tensors]
    wrong = ["%s: %s, expected %s" % (k, list(tensors[k].shape), list(shapes[k]))
             for k in tensors if k in shapes and tuple(tensors[k].shape) != tuple(shapes[k])]
    if unknown or missing or wrong:
        parts = []
        if unknown:
            parts.append("tensors without a place in the ecgssl model (after renaming): " + ", ".join(unknown))
        if missing:
            parts.append("missing tensors: " + ", ".join(missing))
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong))
        raise ConversionError("\n".join(parts))
    converted = {}
    for k, t in tensors.items():
        if t.dtype not in ("float32", "float64", "float16", "bfloat16"):
            raise ConversionError("%s has dtype %s; parameters must be floating point" % (k, t.dtype))
        converted[k] = t.to_float32()
    config = canonical_config(o, classes)
    converted_dtypes = sorted({t.dtype for t in tensors.values()} - {"float32"})
    report = ["parameters: %d in %d tensors (%s)" % (sum(t.numel for t in converted.values()), len(converted),
                                                   "fine-tuned, %d classes" % classes if finetuned else
                                                   "pre-trained" + (" with pre-training heads" if pretraining_heads else "")),
              "config: " + json.dumps(config, separators=(",", ":"))]
    if converted_dtypes:
        report.append("converted to float32 from: " + ", ".join(converted_dtypes))
    if renamed:
        report.append("renamed %d: " % len(renamed) + ", ".join("%s -> %s" % r for r in renamed[:8])
                      + (", ..." if len(renamed) > 8 else ""))
    if dropped:
        report.append("dropped %d: " % len(dropped) + "; ".join(dropped))
    skipped = [k for k in ck if k not in ("model", "cfg", "args")]
    if skipped:
        report.append("not converted (training state): " + ", ".join(map(str, skipped)))
    if not_carried:
        report.append("cfg.model keys not carried (no effect on ecgssl's model): " + ", ".join(not_carried))
    return converted, config, report


def canonical_config(o, classes=None):
    """The canonical "ecgssl.config" object (docs/checkpoints.md) for options `o`."""
    j = {CONTRACT[k]: o[k] for k in ("conv_dim", "embed_dim", "layers", "heads", "ffn_dim")}
    j["extractor_mode"] = "layer_norm" if o["mode"] == "layer_norm" else "default"
    for k in ("final_dim", "latent_vars", "latent_groups"):
        j[k] = o[k]
    j["encoder"] = {k: v for k, v in o.items() if k not in CONTRACT and k != "mode"}
    j["method"] = "fairseq-signals"
    if classes is not None:
        j["encoder"]["pretraining_heads"] = False
        j["encoder"]["apply_mask"] = False
        j.update({"task": "arrhythmia", "classes": classes, "pretrained": True, "linear_probe": False, "leads": "12"})
    return j


def main(argv=None):
    ap = argparse.ArgumentParser(description="fairseq-signals / ECG-FM .pt -> ecgssl .safetensors")
    ap.add_argument("input", help="checkpoint written by fairseq-signals (torch.save, zip format)")
    ap.add_argument("output", help="ecgssl checkpoint to write (.safetensors)")
    ap.add_argument("--ignore-config", default="", help="comma-separated cfg.model keys to accept as they are")
    a = ap.parse_args(argv)
    ignore = {k for k in a.ignore_config.split(",") if k}
    try:
        ck = fc.load_pt(a.input)
        tensors, config, report = convert(ck, ignore)
        fc.save_safetensors(tensors, a.output, {"ecgssl.config": json.dumps(config, separators=(",", ":"))})
    except (fc.CheckpointError, ConversionError, OSError) as e:
        print("convert_fairseq_checkpoint: %s: %s" % (a.input, e), file=sys.stderr)
        return 1
    print("wrote %s" % a.output)
    for line in report:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
