"""Writes tests/data/signal/preprocess_ptbxl00001_bandpass_zscore.npy: what `--preprocess
bandpass,zscore` must make of the bundled PTB-XL record 00001_hr (12 leads, 500 Hz, format 16,
1000 adu/mV; PTB-XL, CC BY 4.0), computed with numpy and scipy alone: the millivolts
(adu - baseline) / gain read from the .dat file, rounded to float32 as ecgssl stores samples,
filtered by scipy.signal.sosfiltfilt with Butterworth order 2 low-pass 40 Hz and high-pass 0.5 Hz
in cascade (default odd padding), then z-scored per lead over the record (population std).
Every 5th sample is kept (float64, [12, 1000]) to keep the file small.

Run from the repository root with the Python that has numpy and scipy (Debian: python3-scipy):
    /usr/bin/python3 tools/make_preprocess_fixture.py
"""
import os

import numpy as np
from scipy.signal import butter, sosfiltfilt

STEM = os.path.join("tests", "data", "records", "ptbxl", "00001_hr")


def main():
    with open(STEM + ".hea") as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    leads, samples = int(lines[0][1]), int(lines[0][3])
    gains = np.array([float(l[2].split("(")[0].split("/")[0]) for l in lines[1:1 + leads]])
    baselines = np.array([float(l[2].split("(")[1].split(")")[0]) if "(" in l[2] else 0.0 for l in lines[1:1 + leads]])
    adu = np.fromfile(STEM + ".dat", dtype="<i2")[: samples * leads].reshape(samples, leads).T.astype(np.float64)
    mv = ((adu - baselines[:, None]) / gains[:, None]).astype(np.float32).astype(np.float64)
    sos = np.vstack([butter(2, 40.0, "lowpass", fs=500.0, output="sos"), butter(2, 0.5, "highpass", fs=500.0, output="sos")])
    y = sosfiltfilt(sos, mv, axis=1)
    y = (y - y.mean(axis=1, keepdims=True)) / y.std(axis=1, keepdims=True)
    out = os.path.join("tests", "data", "signal", "preprocess_ptbxl00001_bandpass_zscore.npy")
    np.save(out, np.ascontiguousarray(y[:, ::5]))
    print(out, y.shape, float(np.abs(y).max()))


if __name__ == "__main__":
    main()
