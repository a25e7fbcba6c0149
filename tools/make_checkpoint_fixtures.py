#!/usr/bin/env python3
"""Cross-checks ecgssl's safetensors reader/writer against the reference `safetensors` package.

Run with the pyenv `python3` (it has safetensors and numpy), from the repository root:

    python3 tools/make_checkpoint_fixtures.py
        Writes, with the reference package, under tests/data/io/checkpoints/:
          python_written.safetensors   every dtype the C++ reader must handle (F32, F64, F16,
                                       BF16, I64, I32, U8, BOOL, a scalar, an empty tensor) plus
                                       __metadata__ with "ecgssl.config"; tests/io/test_safetensors.cpp
                                       reads it and checks each value.
          python_same_as_cpp.safetensors  exactly the checkpoint that tests/io/test_checkpoint.cpp
                                       builds from a parameter_store; the C++ test requires its own
                                       serialisation to be byte-identical to this file.

    python3 tools/make_checkpoint_fixtures.py --read FILE
        Loads FILE (a checkpoint written by the C++ test; the test case "checkpoint bytes equal the
        reference writer's" saves it as ecgssl_cpp_written.safetensors in the system temporary
        directory, usually /tmp/) with the reference package and checks every tensor and the metadata against
        the expected values below. Exit status 0 = the reference package reads the C++ file
        correctly.

Re-running rewrites the same bytes (the reference writer is deterministic for a single metadata
key; python_written.safetensors has two keys whose order may change, which the C++ test tolerates).
"""

import argparse
import json
import os
import sys

import numpy as np
from safetensors import TensorSpec, safe_open, serialize
from safetensors.numpy import save_file

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "io", "checkpoints")

# The C++ test's checkpoint: parameter_store<float> {w: [2, 3], b: [2]}, an Adam-style moment
# laid out like the store, two trainer scalars and the configuration.
SAME_AS_CPP_TENSORS = {
    "w": np.array([[0.5, -1.25, 2.0], [3.5, -4.75, 0.125]], dtype=np.float32),
    "b": np.array([0.1, -2.5], dtype=np.float32),
    "optimizer.exp_avg.w": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32),
    "optimizer.exp_avg.b": np.array([-0.5, 0.25], dtype=np.float32),
    "trainer.step": np.array(1234, dtype=np.int64),
    "trainer.seed": np.array(-42, dtype=np.int64),
}
SAME_AS_CPP_METADATA = {"ecgssl.config": json.dumps({"model": "w2v_cmsc_rlm", "dim": 4, "note": "a \"quoted\" word"},
                                                    separators=(",", ":"))}


def write_fixtures() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)

    save_file(SAME_AS_CPP_TENSORS, os.path.join(OUT_DIR, "python_same_as_cpp.safetensors"),
              metadata=SAME_AS_CPP_METADATA)

    tensors = {
        "f32": np.array([[1.5, -2.25], [1024.0, 0.1]], dtype=np.float32),
        "f64": np.array([0.1, -1e300, 2.5], dtype=np.float64),
        # 65504 = largest half, 2^-14 = smallest normal half, 2^-24 = smallest subnormal half
        "f16": np.array([0.5, -2.0, 65504.0, 2.0 ** -14, 2.0 ** -24], dtype=np.float16),
        "i64": np.array([[-(2 ** 40), 0], [1, 2 ** 62]], dtype=np.int64),
        "i32": np.array([-7, 0, 2147483647], dtype=np.int32),
        "u8": np.array([0, 1, 128, 255], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array([42], dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    # numpy has no bfloat16: hand the raw bits to the reference serializer. 0x3fc0 = 1.5,
    # 0xc049 = -3.140625.
    bf16_bits = np.array([0x3FC0, 0xC049], dtype="<u2")
    specs = {}
    keep_alive = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        keep_alive.append(array)
        specs[name] = TensorSpec(dtype=array.dtype.name if array.dtype != np.bool_ else "bool",
                                 shape=list(array.shape), data_ptr=array.ctypes.data, data_len=array.nbytes)
    specs["bf16"] = TensorSpec(dtype="bfloat16", shape=[2], data_ptr=bf16_bits.ctypes.data, data_len=bf16_bits.nbytes)
    metadata = {"ecgssl.config": json.dumps({"model": "w2v_cmsc_rlm", "dim": 768}), "format": "np"}
    blob = bytes(serialize(specs, metadata=metadata))
    with open(os.path.join(OUT_DIR, "python_written.safetensors"), "wb") as f:
        f.write(blob)
    print("wrote fixtures to", os.path.normpath(OUT_DIR))


def read_and_check(path: str) -> int:
    failures = 0
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        names = set(f.keys())
        print("tensors:", sorted(names))
        print("metadata:", metadata)
        if names != set(SAME_AS_CPP_TENSORS):
            print("MISMATCH: tensor names", sorted(names), "expected", sorted(SAME_AS_CPP_TENSORS))
            failures += 1
        for name, expected in SAME_AS_CPP_TENSORS.items():
            if name not in names:
                continue
            got = f.get_tensor(name)
            if got.dtype != expected.dtype or got.shape != expected.shape or not np.array_equal(got, expected):
                print(f"MISMATCH: {name}: got {got.dtype} {got.shape} {got!r}, expected {expected.dtype} "
                      f"{expected.shape} {expected!r}")
                failures += 1
        if metadata != SAME_AS_CPP_METADATA:
            print("MISMATCH: metadata", metadata, "expected", SAME_AS_CPP_METADATA)
            failures += 1
    print("OK" if failures == 0 else f"{failures} mismatches")
    return 0 if failures == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--read", metavar="FILE", help="check a C++-written checkpoint with the reference package")
    args = parser.parse_args()
    if args.read:
        return read_and_check(args.read)
    write_fixtures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
