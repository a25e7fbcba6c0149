"""Writes tests/data/signal/resample_mitdb208_*.npy: 10 s of real ECG (MIT-BIH record 208, lead
MLII, 360 Hz, the excerpt scipy ships as scipy.misc.electrocardiogram; ODC-By 1.0, Moody & Mark
2001) and its resampling to 500 Hz and 250 Hz by scipy.signal.resample_poly with the Kaiser
(beta 5) window and edge padding, the design ecgssl::signal::resample documents, and its
linear resampling to 500 Hz by the reference's interp1d rule.

Run from the repository root with the Python that has numpy and scipy:
    python3 tools/gen_resample_fixture.py [/work/shared/data/ecg/scipy_mitdb208/ecg.dat]
"""
import os
import sys

import numpy as np
from scipy.signal import resample_poly

source = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/ecg/scipy_mitdb208/ecg.dat"
with np.load(source) as f:
    ecg = (f["ecg"].astype(np.int64) - 1024) / 200.0  # mV, as scipy.misc.electrocardiogram
x = ecg[:3600].astype(np.float32)
os.makedirs("tests/data/signal", exist_ok=True)
np.save("tests/data/signal/resample_mitdb208_360hz.npy", x)
for target, up, down in [(500, 25, 18), (250, 25, 36)]:
    y = resample_poly(x.astype(np.float64), up, down, window=("kaiser", 5.0), padtype="edge")
    np.save(f"tests/data/signal/resample_mitdb208_{target}hz.npy", y)
    print(target, y.shape)

# The reference's optional linear resampling (spec 2.2): interp1d on
# linspace(0, L * r - 1, L) evaluated at the integer points 0 .. floor(L * r) - 1.
from scipy.interpolate import interp1d

L = len(x)
r = 500 / 360
f = interp1d(np.linspace(0, L * r - 1, L), x.astype(np.float64))
y = f(np.arange(int(np.floor(L * r))))
np.save("tests/data/signal/resample_mitdb208_500hz_linear.npy", y)
print("linear", y.shape)
