#!/usr/bin/python3
"""PyTorch -> ecgssl checkpoint round trip (issue 6: "a checkpoint written by a PyTorch module
with these names loads and gives the same outputs").

Builds a small ECG transformer in PyTorch (tools/torch_reference_encoder.py, the fairseq-signals
parameter names) with a fixed seed, writes its state dict as a safetensors checkpoint with the
model configuration in __metadata__["ecgssl.config"] (the format of include/ecgssl/io/checkpoint.hpp
and pipeline/embedding/pretrained_encoder.hpp: {"model": {"base": "tiny", <overrides>}, ...}), and the
eval-mode embedding that `ecgssl embed` must reproduce: the non-zero-count temporal mean of the
transformer output (spec §6.1) of each 5 s segment of the real record E00001 (PhysioNet/CinC
Challenge 2020, Georgia; CC BY 4.0; bundled in tests/data/records/challenge), computed in float64.

Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_torch_checkpoint_fixture.py
It calls the pyenv `python3` on PATH (which has the `safetensors` package; Debian's python does
not) to pack the state dict: `python3 tools/make_torch_checkpoint_fixture.py --pack NPZ OUT CONFIG`.
Re-running writes the same files.

Files under tests/data/io/torch_checkpoint/:
  encoder.safetensors   every parameter of the PyTorch module (float32), including the
                        pre-training heads that `embed` skips (quantizer, project_q, final_proj,
                        mask_emb), and __metadata__ {"ecgssl.config": ...}
  input.npy             [2, 12, 2500] float32: E00001 in mV cut into two 5 s segments
  embedding.npy         [2, 32] float64: PyTorch's pooled eval-mode embedding of input.npy
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

OUT = os.path.join("tests", "data", "io", "torch_checkpoint")
RECORD = os.path.join("tests", "data", "records", "challenge", "E00001")

# A config small enough for a committed fixture (about 0.3 MB), exercising every module type.
OVERRIDES = {"conv_dim": 32, "embed_dim": 32, "layers": 2, "heads": 4, "ffn_dim": 64, "final_dim": 16,
             "latent_vars": 8}


def pack(npz_path, out_path, config):
    """Runs under the pyenv python: writes the safetensors file with the reference package."""
    from safetensors.numpy import save_file
    with np.load(npz_path) as f:
        tensors = {k: np.ascontiguousarray(f[k]) for k in f.files}
    save_file(tensors, out_path, metadata={"ecgssl.config": config})


def read_challenge_record(stem):
    """12 leads in mV, read straight from the .hea/.mat pair: format 16 after a 24-byte MATLAB v4
    header, samples interleaved (one frame = one sample of every lead), value = (adu - baseline) / gain."""
    with open(stem + ".hea") as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    n_leads, samples = int(lines[0][1]), int(lines[0][3])
    gains, baselines, names = [], [], []
    for fields in lines[1:1 + n_leads]:
        assert fields[1] == "16+24", fields[1]
        gains.append(float(fields[2].split("/")[0]))
        baselines.append(float(fields[4]))
        names.append(fields[8])
    raw = np.fromfile(stem + ".mat", dtype="<i2", offset=24)[: samples * n_leads].reshape(samples, n_leads).T
    mv = (raw.astype(np.float64) - np.array(baselines)[:, None]) / np.array(gains)[:, None]
    assert names == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"], names
    return mv.astype(np.float32)


def main():
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_reference_encoder as ref

    torch.manual_seed(20260125)
    options = ref.tiny()
    for k, v in OVERRIDES.items():
        setattr(options, k, v)
    model = ref.ECGTransformer(options)
    # Non-trivial norms and biases (PyTorch initialises them to 1 and 0).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("layer_norm.weight", "layer_norm.bias", "conv_layers.0.2.weight", "conv_layers.0.2.bias")):
                p.add_(0.1 * torch.randn_like(p))
    model.eval()

    x = read_challenge_record(RECORD)  # [12, 5000]
    batch = np.stack([x[:, :2500], x[:, 2500:5000]])
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "input.npy"), batch)

    with torch.no_grad():
        model64 = ref.ECGTransformer(options).double()
        model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        model64.eval()
        encoded = model64(torch.from_numpy(batch).double(), apply_mask=False)["encoded"]  # [B, T, D]
        counts = (encoded != 0).sum(dim=1).clamp(min=1)
        embedding = encoded.sum(dim=1) / counts
    np.save(os.path.join(OUT, "embedding.npy"), embedding.numpy())

    model_config = {"base": "tiny"}
    model_config.update(OVERRIDES)
    config = json.dumps({"model": model_config, "method": "pytorch"}, separators=(",", ":"))
    state = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "state.npz")
        np.savez(npz, **state)
        subprocess.run(["python3", os.path.abspath(__file__), "--pack", npz,
                        os.path.join(OUT, "encoder.safetensors"), config], check=True)
    print("parameters:", sum(v.size for v in state.values()), "tensors:", len(state))
    print("embedding[0, :4]:", embedding.numpy()[0, :4])


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--pack":
        pack(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
