#!/usr/bin/env python3
"""Copy the WFDB records the io tests need and write wfdb-python reference arrays for them.

Run from the repository root with the pyenv python that has wfdb (4.3) and numpy:

    python3 tools/make_wfdb_fixtures.py [--source /work/shared/data/ecg]

1. Copies each record listed in RECORDS byte for byte from the shared data folder into
   tests/data/records/<dest>/ (skipped when the copy is already there and identical).
2. For every copied record reads it with wfdb.rdrecord (physical=False for d_signal, and
   physical=True for p_signal; frames smoothed as wfdb does by default) and writes, under
   tests/data/io/wfdb/<id>_*.npy:
     digital_head  int32 [leads, <=128]  first samples of d_signal (transposed)
     digital_tail  int32 [leads, <=32]   last samples
     physical_head float64 [leads, <=128], physical_tail float64 [leads, <=32] (NaN kept)
     digital_sum   int64 [leads]   sum of all digital samples
     physical_sum  float64 [leads] nansum of all physical samples
     nan_count     int64 [leads]   NaN samples in p_signal
     meta          float64 [3]     fs, n_samples, n_leads
   Heads/tails plus whole-record sums keep the fixtures small (<1 MB) while still checking
   every sample of every record.
Multi-segment records: wfdb.rdrecord returns only p_signal for them, so digital arrays are the
concatenation of each segment's d_signal (all segments of 041s share gains and baselines).
The script is deterministic and re-runnable.
"""
import argparse
import filecmp
import os
import shutil

import numpy as np
import wfdb

HEAD = 128
TAIL = 32

# (fixture id, source path relative to the data folder without extension, destination folder
#  relative to tests/data/records, extra files to copy besides <record>.hea)
WFDB = "wfdb_python_sample_data"
RECORDS = [
    ("binformats", f"{WFDB}/binformats", "wfdb", [f"binformats.d{i}" for i in range(10)]),
    ("100_3chan", f"{WFDB}/100_3chan", "wfdb", ["100_3chan.dat"]),
    ("3000003_0003", f"{WFDB}/3000003_0003", "wfdb", ["3000003_0003.dat"]),
    ("310derive", f"{WFDB}/310derive", "wfdb", ["310derive.dat"]),
    ("310derive_2", f"{WFDB}/310derive_2", "wfdb", ["310derive_2.dat"]),
    ("310derive_3", f"{WFDB}/310derive_3", "wfdb", ["310derive_3.dat"]),
    ("311derive", f"{WFDB}/311derive", "wfdb", ["311derive.dat"]),
    ("311derive_2", f"{WFDB}/311derive_2", "wfdb", ["311derive_2.dat"]),
    ("311derive_3", f"{WFDB}/311derive_3", "wfdb", ["311derive_3.dat"]),
    ("311derive_4", f"{WFDB}/311derive_4", "wfdb", ["311derive_4.dat"]),
    ("test01_00s", f"{WFDB}/test01_00s", "wfdb", ["test01_00s.dat"]),
    ("test01_00s_frame", f"{WFDB}/test01_00s_frame", "wfdb", []),
    ("test01_00s_skew", f"{WFDB}/test01_00s_skew", "wfdb", []),
    ("test01_00s_skewframe", f"{WFDB}/test01_00s_skewframe", "wfdb", []),
    ("03700181", f"{WFDB}/03700181", "wfdb", ["03700181.dat"]),
    ("s0010_re", f"{WFDB}/s0010_re", "wfdb", ["s0010_re.dat", "s0010_re.xyz"]),
    ("041s", f"{WFDB}/multi-segment/041s/041s", "wfdb/041s",
     ["041s01.hea", "041s01.dat", "041s02.hea", "041s02.dat"]),
    ("00001_hr", "ptbxl_ludb_openep/ptb-xl/records500/00000/00001_hr", "ptbxl", ["00001_hr.dat"]),
    ("ludb_3", "ptbxl_ludb_openep/lobachevsky/3", "ludb", ["3.dat"]),
    ("HR00001", "cinc2021_smoke_tuijalei/PTB_PTBXL/HR00001", "challenge", ["HR00001.mat"]),
    ("A0001", "cinc2021_smoke_tuijalei/CPSC_CPSC-Extra/A0001", "challenge", ["A0001.mat"]),
    ("Q0001", "cinc2021_smoke_tuijalei/CPSC_CPSC-Extra/Q0001", "challenge", ["Q0001.mat"]),
    ("E00001", "cinc2021_smoke_tuijalei/G12EC/E00001", "challenge", ["E00001.mat"]),
    ("JS00001", "cinc2021_smoke_tuijalei/ChapmanShaoxing_Ningbo/JS00001", "challenge", ["JS00001.mat"]),
    ("JS45542", "cinc2021_smoke_tuijalei/ChapmanShaoxing_Ningbo/JS45542", "challenge", ["JS45542.mat"]),
    ("E00015", "cinc2020_tests_awwong1/E00015", "challenge", ["E00015.mat"]),
    ("HR00599", "cinc2020_tests_awwong1/HR00599", "challenge", ["HR00599.mat"]),
]


def copy_record(source_root, repo, src, dest, extras):
    src_dir = os.path.join(source_root, os.path.dirname(src))
    dest_dir = os.path.join(repo, "tests", "data", "records", dest)
    os.makedirs(dest_dir, exist_ok=True)
    names = [os.path.basename(src) + ".hea"] + extras
    for name in names:
        a = os.path.join(src_dir, name)
        b = os.path.join(dest_dir, name)
        if os.path.exists(b) and filecmp.cmp(a, b, shallow=False):
            continue
        shutil.copyfile(a, b)
    return os.path.join(dest_dir, os.path.basename(src))


def reference(path):
    if os.path.basename(path) in MAT_ONLY:
        return reference_from_mat(path)
    rec_d = wfdb.rdrecord(path, physical=False) if not is_multi(path) else None
    rec_p = wfdb.rdrecord(path)
    p = rec_p.p_signal.T.astype(np.float64)
    if rec_d is not None:
        d = rec_d.d_signal.T.astype(np.int64)
    else:
        parts = []
        for seg in wfdb.rdheader(path).seg_name:
            if seg == "~":
                raise SystemExit("null segments are not in the shipped records")
            parts.append(wfdb.rdrecord(os.path.join(os.path.dirname(path), seg), physical=False).d_signal.T)
        d = np.concatenate(parts, axis=1).astype(np.int64)
    assert d.shape == p.shape, (path, d.shape, p.shape)
    return rec_p.fs, d, p


# wfdb-python 4.3 rejects the record line "E00015.mat 12 500 5000 ..." (a record name with a
# dot, as written by the early 2020 Challenge release). For that record the reference is read
# with scipy.io.loadmat (MATLAB v4 `val`, int16 [leads, samples]) and the header's gain
# (4880/mV, baseline 0) -- an independent reader of the same bytes.
MAT_ONLY = {"E00015"}


def reference_from_mat(path):
    import scipy.io

    d = scipy.io.loadmat(path + ".mat")["val"].astype(np.int64)
    with open(path + ".hea") as f:
        lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
    fs = float(lines[0][2])
    gains = np.array([float(l[2].split("/")[0]) for l in lines[1:]])
    assert all("(" not in l[2] and l[4] == "0" for l in lines[1:])  # baseline = adc zero = 0
    p = d / gains[:, None]
    return fs, d, p


def is_multi(path):
    with open(path + ".hea") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                return "/" in line.split()[0]
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/work/shared/data/ecg")
    args = parser.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(repo, "tests", "data", "io", "wfdb")
    os.makedirs(out_dir, exist_ok=True)
    for fixture_id, src, dest, extras in RECORDS:
        local = copy_record(args.source, repo, src, dest, extras)
        fs, d, p = reference(local)
        n_leads, n = d.shape
        arrays = {
            "digital_head": d[:, :HEAD].astype(np.int32),
            "digital_tail": d[:, max(0, n - TAIL):].astype(np.int32),
            "physical_head": p[:, :HEAD],
            "physical_tail": p[:, max(0, n - TAIL):],
            "digital_sum": d.sum(axis=1).astype(np.int64),
            "physical_sum": np.nansum(p, axis=1),
            "nan_count": np.isnan(p).sum(axis=1).astype(np.int64),
            "meta": np.array([fs, n, n_leads], dtype=np.float64),
        }
        for key, value in arrays.items():
            np.save(os.path.join(out_dir, f"{fixture_id}_{key}.npy"), np.ascontiguousarray(value))
        print(f"{fixture_id}: {n_leads} leads x {n} samples at {fs} Hz, NaN {int(arrays['nan_count'].sum())}")


if __name__ == "__main__":
    main()
