"""Writes tests/data/io/cinc_dx.csv: record id and #Dx codes of the 171 labelled PhysioNet/CinC
2020/2021 training records in the shared data folder (records.csv column `dx`), and prints the
number of records positive for each of the 26 scored classes, computed here from weights.csv
independently of ecgssl (tests/io/test_challenge_labels.cpp embeds these counts).

Data: PhysioNet/CinC Challenge 2020/2021 training set, CC BY 4.0 (see data/README.md and
/work/shared/data/ecg/README.md for the per-database citations).

Run from the repository root:
    python3 tools/gen_dx_fixture.py [/work/shared/data/ecg]
"""
import csv
import os
import sys

shared = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/ecg"
rows = [r for r in csv.DictReader(open(os.path.join(shared, "records.csv")))
        if r["folder"].startswith("cinc20") and r["dx"]]
os.makedirs("tests/data/io", exist_ok=True)
with open("tests/data/io/cinc_dx.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["record", "dx"])
    for r in rows:
        w.writerow([r["record"], r["dx"]])

classes = open("data/cinc2021/weights.csv").readline().strip().split(",")[1:]
counts = [0] * len(classes)
any_scored = 0
codes_seen = set()
for r in rows:
    codes = set(c for c in r["dx"].replace(" ", ",").split(",") if c)
    hit = False
    for i, c in enumerate(classes):
        members = set(c.split("|"))
        if members & codes:
            counts[i] += 1
            hit = True
            codes_seen |= members & codes
    any_scored += hit
print("records", len(rows), "with a scored code", any_scored, "distinct scored codes", len(codes_seen))
print("per-class positives", counts)
