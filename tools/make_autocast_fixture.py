#!/usr/bin/python3
"""PyTorch 2.x torch.autocast(bfloat16) fixture for the tiny encoder on a real record
(tests/model/test_ecg_transformer_parity.cpp, issue 17).

    /usr/bin/python3 tools/make_autocast_fixture.py [--venv DIR]

Needs PyTorch 2.x. Run with an interpreter that has it, or let the script make a virtual
environment with PyTorch 2.x from the package index (default ~/.cache/ecgssl/torch2-venv, or
--venv DIR) and re-run itself there. It writes tests/data/model/autocast_tiny/:
  x.npy        [1, 12, 2500] float32: record A0001 (tests/data/records/challenge), samples 0-2499,
               in mV (ADC value / gain of its header), read here from the MATLAB v4 file directly;
  fp32.npy     [1, 156, 128] the encoder's output ("encoded") in float32;
  bf16.npy     [1, 156, 128] the same forward under torch.autocast("cpu", torch.bfloat16), as float32;
  torch.txt    the PyTorch version.
The weights follow the formula of tools/make_model_fixtures.py (formula_weight), the encoder is in
evaluation mode (no dropout, no mask). Deterministic.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = os.path.join(ROOT, "tests", "data", "model", "autocast_tiny")


def torch2_available():
    try:
        import torch
    except ImportError:
        return False
    return int(torch.__version__.split(".")[0]) >= 2


def rerun_in_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv} with PyTorch 2.x (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "torch", "numpy"], check=True)
    os.execv(python, [python, os.path.abspath(__file__), "--in-venv"])


def read_challenge_record(stem, samples):
    """ADC values / gain of a Challenge 2021 record (.hea + MATLAB v4 .mat of int16 'val')."""
    import numpy as np
    with open(stem + ".hea") as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    leads = int(lines[0][1])
    gains = [float(fields[2].split("/")[0]) for fields in lines[1:1 + leads]]
    baselines = [int(fields[4]) for fields in lines[1:1 + leads]]
    with open(stem + ".mat", "rb") as f:
        raw = f.read()
    mopt, rows, cols, imag, namelen = np.frombuffer(raw[:20], dtype="<i4")
    assert mopt == 30 and rows == leads and imag == 0, "expected a MATLAB v4 int16 matrix"
    values = np.frombuffer(raw[20 + namelen:], dtype="<i2", count=rows * cols).reshape(cols, rows).T
    x = np.empty((leads, samples), dtype=np.float32)
    for lead in range(leads):
        x[lead] = ((values[lead, :samples].astype(np.float64) - baselines[lead]) / gains[lead]).astype(np.float32)
    return x


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venv", default=os.path.expanduser("~/.cache/ecgssl/torch2-venv"))
    p.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if not torch2_available():
        if args.in_venv:
            sys.exit("PyTorch 2.x is not importable even in the virtual environment")
        rerun_in_venv(args.venv)
    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    import torch_reference_encoder as ref
    from make_model_fixtures import formula_weight

    torch.manual_seed(0)
    x = read_challenge_record(os.path.join(ROOT, "tests", "data", "records", "challenge", "A0001"), 2500)[None]
    m = ref.ECGTransformer(ref.tiny())
    with torch.no_grad():
        for name, param in m.named_parameters():
            param.copy_(torch.from_numpy(formula_weight(name, tuple(param.shape)).astype(np.float32)))
    m.eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        fp32 = m(xt)["encoded"].float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = m(xt)["encoded"].float()
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "x.npy"), x)
    np.save(os.path.join(OUT, "fp32.npy"), fp32.numpy())
    np.save(os.path.join(OUT, "bf16.npy"), bf16.numpy())
    with open(os.path.join(OUT, "torch.txt"), "w") as f:
        f.write(torch.__version__ + "\n")
    diff = (bf16 - fp32).norm() / fp32.norm()
    print(f"wrote {OUT}: PyTorch {torch.__version__}, autocast vs float32 relative difference {diff:.5f}")


if __name__ == "__main__":
    main()
