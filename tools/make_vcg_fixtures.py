#!/usr/bin/env python3
"""Writes tests/data/signal/vcg_*.npy: the fixtures of tests/signal/test_vcg_augmentation.cpp.

The 3KG augmentation (Gopal et al. 2021; spec §4.5) maps the eight independent leads
(I, II, V1..V6) of a 12-lead ECG to a vectorcardiogram v = T x8, rotates and scales it, and
projects it back, x8' = B S R v, then re-derives III, aVR, aVL, aVF from I' and II'. This script
computes that map independently of the C++ code: numpy for the matrix algebra (pinv, products)
and scipy.spatial.transform.Rotation for the rotation (extrinsic 'zyx' Euler angles in degrees,
as fairseq-signals' 3kg dataset draws them).

Input: 0.5 s (250 samples) of the real PhysioNet/CinC 2020 record A0001 (CPSC 2018; bundled in
tests/data/records/challenge, CC BY 4.0) in mV, read with wfdb.

Run from the repository root with the pyenv python3 (numpy, scipy, wfdb):
    python3 tools/make_vcg_fixtures.py
Re-running writes the same files.

Files (float32 unless noted), all [12, 250] in canonical lead order I, II, III, aVR, aVL, aVF, V1..V6:
  vcg_input.npy              the input segment
  vcg_identity_pinv.npy      rotation 0, scale 1; T = inverse Dower, B = pinv(T)
  vcg_identity_dower.npy     rotation 0, scale 1; T = inverse Dower, B = Dower matrix
  vcg_identity_kors.npy      rotation 0, scale 1; T = Kors, B = pinv(T)
  vcg_rotated_pinv.npy       angles/scales of vcg_parameters.npy; T = inverse Dower, B = pinv(T)
  vcg_parameters.npy         float64 [6]: angle about z, y, x (degrees), scale x, y, z
"""
import os

import numpy as np
import wfdb
from scipy.spatial.transform import Rotation

OUT = os.path.join("tests", "data", "signal")

# Inverse Dower matrix (Edenbrandt L, Pahlm O. Vectorcardiogram synthesized from a 12-lead ECG:
# superiority of the inverse Dower matrix. J Electrocardiol 1988;21(4):361-367). Columns I, II, V1..V6.
INVERSE_DOWER = np.array([
    [0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194],
    [-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048],
    [0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108],
])
# Dower matrix (Dower GE, Machado HB, Osborne JA. On deriving the electrocardiogram from
# vectorcardiographic leads. Clin Cardiol 1980;3(2):87-95). Rows I, II, V1..V6; columns X, Y, Z.
DOWER = np.array([
    [0.632, -0.235, 0.059],
    [0.235, 1.066, -0.132],
    [-0.515, 0.157, -0.917],
    [0.044, 0.164, -1.387],
    [0.882, 0.098, -1.277],
    [1.213, 0.127, -0.601],
    [1.125, 0.127, -0.086],
    [0.831, 0.076, 0.230],
])
# Kors regression matrix (Kors JA, van Herpen G, Sittig AC, van Bemmel JH. Eur Heart J
# 1990;11(12):1083-1092). Columns I, II, V1..V6.
KORS = np.array([
    [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],
    [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],
    [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],
])
INDEPENDENT = [0, 1, 6, 7, 8, 9, 10, 11]


def augment(x12, forward, back, rotation, scales):
    x8 = x12[INDEPENDENT].astype(np.float64)
    y8 = back @ np.diag(scales) @ rotation @ forward @ x8
    out = np.zeros_like(x12, dtype=np.float64)
    out[INDEPENDENT] = y8
    lead_i, lead_ii = y8[0], y8[1]
    out[2] = lead_ii - lead_i
    out[3] = -(lead_i + lead_ii) / 2
    out[4] = lead_i - lead_ii / 2
    out[5] = lead_ii - lead_i / 2
    return out.astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    record = wfdb.rdrecord(os.path.join("tests", "data", "records", "challenge", "A0001"))
    names = [n.upper() for n in record.sig_name]
    canonical = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    x = np.stack([record.p_signal[:250, names.index(n)] for n in canonical]).astype(np.float32)
    np.save(os.path.join(OUT, "vcg_input.npy"), x)

    eye = np.eye(3)
    ones = np.ones(3)
    np.save(os.path.join(OUT, "vcg_identity_pinv.npy"), augment(x, INVERSE_DOWER, np.linalg.pinv(INVERSE_DOWER), eye, ones))
    np.save(os.path.join(OUT, "vcg_identity_dower.npy"), augment(x, INVERSE_DOWER, DOWER, eye, ones))
    np.save(os.path.join(OUT, "vcg_identity_kors.npy"), augment(x, KORS, np.linalg.pinv(KORS), eye, ones))

    parameters = np.array([30.0, -20.0, 40.0, 1.2, 1.4, 1.1])
    rotation = Rotation.from_euler("zyx", parameters[:3], degrees=True).as_matrix()
    np.save(os.path.join(OUT, "vcg_rotated_pinv.npy"),
            augment(x, INVERSE_DOWER, np.linalg.pinv(INVERSE_DOWER), rotation, parameters[3:]))
    np.save(os.path.join(OUT, "vcg_parameters.npy"), parameters)
    print("max |pinv(inverse Dower) - Dower| =", np.abs(np.linalg.pinv(INVERSE_DOWER) - DOWER).max())


if __name__ == "__main__":
    main()
