"""Writes tests/data/signal/band_pass_mitdb208_*.npy: 10 s of real ECG (MIT-BIH record 208, lead
MLII, 360 Hz, scipy's electrocardiogram excerpt; ODC-By 1.0, Moody & Mark 2001) filtered by
scipy.signal.sosfiltfilt with a Butterworth low-pass and a Butterworth high-pass of the same order
in cascade (what ecgssl::signal::band_pass designs), default odd padding.

Run from the repository root with the Python that has numpy and scipy:
    python3 tools/gen_band_pass_fixture.py [/work/shared/data/ecg/scipy_mitdb208/ecg.dat]
"""
import os
import sys

import numpy as np
from scipy.signal import butter, sosfiltfilt

source = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/ecg/scipy_mitdb208/ecg.dat"
with np.load(source) as f:
    ecg = (f["ecg"].astype(np.int64) - 1024) / 200.0
x = ecg[:3600].astype(np.float32).astype(np.float64)
fs = 360.0
os.makedirs("tests/data/signal", exist_ok=True)
for name, low, high, order in [("o2_0p5_40", 0.5, 40.0, 2), ("o3_1_45", 1.0, 45.0, 3)]:
    sos = np.vstack([butter(order, high, "lowpass", fs=fs, output="sos"),
                     butter(order, low, "highpass", fs=fs, output="sos")])
    y = sosfiltfilt(sos, x)
    np.save(f"tests/data/signal/band_pass_mitdb208_{name}.npy", y)
    print(name, y.shape, float(np.abs(y).max()))
