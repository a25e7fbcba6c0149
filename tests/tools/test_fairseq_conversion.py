#!/usr/bin/env python3
"""fairseq-signals checkpoints -> ecgssl and back (issue 20). Standard library only.

    python3 tests/tools/test_fairseq_conversion.py --ecgssl build/app/ecgssl

Converts the fixtures of tests/data/io/fairseq (tools/make_fairseq_fixtures.py) with
tools/convert_fairseq_checkpoint.py, runs `ecgssl embed` / `ecgssl predict` on record E00001 and
compares with PyTorch's float64 outputs; checks that bad checkpoints are refused with a message
naming the culprit, that a pickle referencing a disallowed global is refused without running,
and that ecgssl -> .pt -> ecgssl gives identical tensors and config. Where PyTorch is importable
it also checks that torch.load reads the exported .pt and that the PyTorch reference module
loaded from it reproduces the embedding. Prints 'N passed, M failed'; exits non-zero on failure.
"""
import argparse
import collections
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
FIXTURES = os.path.join(ROOT, "tests", "data", "io", "fairseq")
RECORD = os.path.join(ROOT, "tests", "data", "records", "challenge", "E00001")
sys.path.insert(0, TOOLS)
import fairseq_checkpoint as fc  # noqa: E402

TOLERANCE = 1e-5


def run(args, expect_ok=True):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if expect_ok and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def tool(name, *args, expect_ok=True):
    return run([sys.executable, os.path.join(TOOLS, name)] + list(args), expect_ok)


class Suite:
    def __init__(self, ecgssl, tmp):
        self.ecgssl, self.tmp = ecgssl, tmp
        with open(os.path.join(FIXTURES, "expected.json")) as f:
            self.expected = json.load(f)
        self.errors = {}

    def path(self, name):
        return os.path.join(self.tmp, name)

    def converted(self, which):
        out = self.path(which + ".safetensors")
        if not os.path.exists(out):
            tool("convert_fairseq_checkpoint.py", os.path.join(FIXTURES, which + ".pt"), out)
        return out

    # ------------------------------------------------------------------ outputs

    def test_embed_matches_pytorch(self):
        out = self.path("embedding.csv")
        run([self.ecgssl, "embed", "--checkpoint", self.converted("pretrained"), "--out", out, RECORD])
        with open(out) as f:
            rows = [line.strip().split(",") for line in f if line.strip()]
        got = [[float(v) for v in r[2:]] for r in rows[1:]]
        want = self.expected["embedding"]
        assert len(got) == len(want) and all(len(g) == len(w) for g, w in zip(got, want)), "embedding shape"
        err = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
        self.errors["embedding"] = (err, max(abs(v) for w in want for v in w))
        assert err < TOLERANCE, "embedding differs by %g" % err

    def test_predict_matches_pytorch(self):
        out = self.path("predictions")
        run([self.ecgssl, "predict", "--checkpoint", self.converted("finetuned"), "--out", out, RECORD])
        with open(os.path.join(out, "E00001.csv")) as f:
            lines = [line.strip() for line in f]
        got = [float(v) for v in lines[3].split(",")]
        want = self.expected["record_probabilities"]
        assert len(got) == len(want), "%d probabilities, expected %d" % (len(got), len(want))
        err = max(abs(a - b) for a, b in zip(got, want))
        self.errors["record probabilities (6 significant digits)"] = (err, max(want))
        assert err < TOLERANCE, "probabilities differ by %g" % err

    # ------------------------------------------------------------------ refusals

    def _bad(self, name, edit):
        ck = fc.load_pt(os.path.join(FIXTURES, "pretrained.pt"))
        edit(ck)
        path = self.path(name + ".pt")
        fc.save_pt(ck, path)
        p = tool("convert_fairseq_checkpoint.py", path, self.path(name + ".safetensors"), expect_ok=False)
        assert p.returncode != 0, "converted a bad checkpoint (%s)" % name
        assert not os.path.exists(self.path(name + ".safetensors")), "wrote an output for a bad checkpoint"
        return p.stderr

    def test_refuses_conv_bias(self):
        msg = self._bad("conv_bias", lambda ck: ck["cfg"]["model"].update(conv_bias=True))
        assert "conv_bias" in msg, msg

    def test_refuses_nonuniform_conv_stack_and_other_activation(self):
        def edit(ck):
            ck["cfg"]["model"]["conv_feature_layers"] = "[(32, 2, 2)] * 3 + [(32, 3, 2)]"
            ck["cfg"]["model"]["activation_fn"] = "relu"
        msg = self._bad("nonuniform", edit)
        assert "conv_feature_layers" in msg and "activation_fn" in msg, msg

    def test_refuses_code_in_conv_feature_layers(self):
        msg = self._bad("eval", lambda ck: ck["cfg"]["model"].update(conv_feature_layers="__import__('os').getcwd()"))
        assert "conv_feature_layers" in msg, msg

    def test_refuses_unknown_tensor(self):
        def edit(ck):
            ck["model"]["encoder.extra_gate.weight"] = fc.Tensor.from_values([1.0, 2.0], (2,))
        msg = self._bad("unknown_tensor", edit)
        assert "encoder.extra_gate.weight" in msg, msg

    def test_refuses_wrong_shape(self):
        def edit(ck):
            ck["model"]["encoder.layer_norm.bias"] = fc.Tensor.from_values([0.0] * 5, (5,))
        msg = self._bad("wrong_shape", edit)
        assert "encoder.layer_norm.bias" in msg, msg

    def test_reader_refuses_disallowed_global_without_running_it(self):
        marker = self.path("pwned")
        payload = b"\x80\x02cos\nsystem\nX" + len("touch " + marker).to_bytes(4, "little") + \
            ("touch " + marker).encode() + b"\x85R."
        path = self.path("evil.pt")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", payload)
            z.writestr("archive/version", b"3\n")
        try:
            fc.load_pt(path)
            raise AssertionError("loaded a pickle that calls os.system")
        except fc.CheckpointError as e:
            assert "os.system" in str(e), str(e)
        assert not os.path.exists(marker), "the pickle ran"
        p = tool("convert_fairseq_checkpoint.py", path, self.path("evil.safetensors"), expect_ok=False)
        assert p.returncode != 0 and "os.system" in p.stderr, p.stderr

    def test_reader_refuses_legacy_pickle(self):
        path = self.path("legacy.pt")
        with open(path, "wb") as f:
            f.write(b"\x80\x02\x8a\x0alp\xfc\x9cF\xf9 j\xa8P\x19.")  # torch<1.6 files open with this magic number
        try:
            fc.load_pt(path)
            raise AssertionError("read a legacy file")
        except fc.CheckpointError as e:
            assert "torch>=1.6" in str(e), str(e)

    # ------------------------------------------------------------------ round trips

    def _round_trip(self, which, *export_args):
        a = self.converted(which)
        pt = self.path(which + "_exported%s.pt" % len(export_args))
        b = self.path(which + "_back%s.safetensors" % len(export_args))
        tool("export_fairseq_checkpoint.py", a, pt, *export_args)
        tool("convert_fairseq_checkpoint.py", pt, b)
        ta, ma = fc.load_safetensors(a)
        tb, mb = fc.load_safetensors(b)
        assert sorted(ta) == sorted(tb), "tensor names differ: %s" % sorted(set(ta) ^ set(tb))
        for k in ta:
            assert ta[k].shape == tb[k].shape and ta[k].contiguous_bytes() == tb[k].contiguous_bytes(), k
        assert json.loads(ma["ecgssl.config"]) == json.loads(mb["ecgssl.config"]), (ma, mb)
        return pt

    def test_round_trip_pretrained(self):
        self._round_trip("pretrained")

    def test_round_trip_finetuned(self):
        self._round_trip("finetuned")
        self._round_trip("finetuned", "--prefix", "encoder.")

    def test_export_reads_legacy_config(self):
        tensors, md = fc.load_safetensors(self.converted("pretrained"))
        legacy = {"model": {"base": "tiny", "conv_dim": 32, "embed_dim": 32, "ffn_dim": 64, "final_dim": 16,
                            "latent_vars": 8}, "method": "pytorch"}
        path = self.path("legacy_config.safetensors")
        fc.save_safetensors(tensors, path, {"ecgssl.config": json.dumps(legacy)})
        tool("export_fairseq_checkpoint.py", path, self.path("legacy_config.pt"))
        m = fc.load_pt(self.path("legacy_config.pt"))["cfg"]["model"]
        assert (m["encoder_embed_dim"], m["encoder_layers"], m["encoder_attention_heads"], m["encoder_ffn_embed_dim"],
                m["conv_feature_layers"], m["extractor_mode"]) == (32, 2, 4, 64, "[(32, 2, 2)] * 4", "default"), m

    # ------------------------------------------------------------------ PyTorch (optional)

    def torch_available(self):
        try:
            import torch  # noqa: F401
            import numpy  # noqa: F401
            return True
        except ImportError:
            return False

    def test_torch_loads_export(self):
        import torch
        sys.path.insert(0, TOOLS)
        import torch_reference_encoder as ref
        from make_fairseq_fixtures import SIZES, read_challenge_record
        pt = self._round_trip("pretrained")
        major = int(torch.__version__.split(".")[0])
        # torch 1.13's weights_only unpickler lacks the float opcode that torch.save itself writes
        ck = torch.load(pt, weights_only=True) if major >= 2 else torch.load(pt)
        if major < 2:
            torch.load(self._weights_only_probe(pt), weights_only=True)
        o = ref.tiny()
        for k, v in SIZES.items():
            setattr(o, k, v)
        model = ref.ECGTransformer(o).double().eval()
        model.load_state_dict({k: v.double() for k, v in ck["model"].items()})
        import numpy as np
        x = read_challenge_record(RECORD)
        batch = torch.from_numpy(np.stack([x[:, :2500], x[:, 2500:5000]])).double()
        with torch.no_grad():
            h = model(batch, apply_mask=False)["encoded"]
            e = h.sum(dim=1) / (h != 0).sum(dim=1).clamp(min=1)
        err = (e - torch.tensor(self.expected["embedding"], dtype=torch.float64)).abs().max().item()
        self.errors["PyTorch reference from the exported .pt"] = (err, e.abs().max().item())
        assert err < 1e-6, err

    def _weights_only_probe(self, pt):
        """The exported state dict alone (no floats in the pickle), for torch 1.13's weights_only."""
        ck = fc.load_pt(pt)
        path = self.path("state_only.pt")
        fc.save_pt({"model": collections.OrderedDict(ck["model"])}, path)
        return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ecgssl", required=True, help="path of the ecgssl binary")
    a = ap.parse_args()
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        s = Suite(os.path.abspath(a.ecgssl), tmp)
        names = [n for n in dir(Suite) if n.startswith("test_")]
        for name in sorted(names, key=lambda n: Suite.__dict__[n].__code__.co_firstlineno):
            if name == "test_torch_loads_export" and not s.torch_available():
                continue
            try:
                getattr(s, name)()
                passed += 1
                print("ok   " + name)
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print("FAIL " + name)
                traceback.print_exc(file=sys.stdout)
        for what, (err, scale) in s.errors.items():
            print("max abs error, %s: %.3g (values up to %.3g)" % (what, err, scale))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
