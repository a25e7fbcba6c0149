#!/usr/bin/env python3
"""Expected PTB-XL labels for tests/io/test_ptbxl_database.cpp, computed independently of the C++
reader with Python's csv module and ast.literal_eval (standard library only).

    python3 tools/make_ptbxl_label_fixture.py

Reads tests/data/io/ptbxl/{ptbxl_database.csv,scp_statements.csv} (PTB-XL ecg_id 1-500, copied
from the project's shared data; CC BY 4.0) and writes tests/data/io/ptbxl/expected_labels.csv:
ecg_id, patient_id (integer), strat_fold, split (train = folds 1-8, valid = 9, test = 10), the five
superclass flags NORM MI STTC CD HYP (the diagnostic_class of every statement scp_statements.csv
marks diagnostic, any likelihood: the dataset's example code), and the Challenge 2020 SNOMED CT
codes the statements and the heart axis name (space-separated, in the order of the table below).
"""
import ast
import csv
import os

DIR = os.path.join("tests", "data", "io", "ptbxl")
SUPERCLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]
# Statement -> Challenge 2020 scored class, by meaning (dx_mapping_scored.csv of the Challenge).
CHALLENGE = [("1AVB", 270492004), ("AFIB", 164889003), ("AFLT", 164890007), ("CLBBB", 164909002),
             ("CRBBB", 713427006), ("IRBBB", 713426002), ("LAFB", 445118002), ("LVOLT", 251146004),
             ("IVCD", 698252002), ("SR", 426783006), ("PAC", 284470004), ("PACE", 10370003),
             ("PVC", 427172004), ("LPR", 164947007), ("LNGQT", 111975006), ("QWAVE", 164917005),
             ("SARRH", 427393009), ("SBRAD", 426177001), ("STACH", 427084000), ("TAB_", 164934002),
             ("INVT", 59931005)]
AXIS = {"LAD": 39732003, "ALAD": 39732003, "RAD": 47665007, "ARAD": 47665007}


def main():
    with open(os.path.join(DIR, "scp_statements.csv"), newline="") as f:
        statements = {row[""]: row for row in csv.DictReader(f)}
    diagnostic = {code: row["diagnostic_class"] for code, row in statements.items() if row["diagnostic"] == "1.0"}
    with open(os.path.join(DIR, "ptbxl_database.csv"), newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["ecg_id"]))
    with open(os.path.join(DIR, "expected_labels.csv"), "w", newline="") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["ecg_id", "patient_id", "strat_fold", "split"] + SUPERCLASSES + ["challenge_codes"])
        for r in rows:
            codes = ast.literal_eval(r["scp_codes"])
            classes = {diagnostic[c] for c in codes if c in diagnostic}
            fold = int(r["strat_fold"])
            split = "test" if fold == 10 else "valid" if fold == 9 else "train"
            snomed = [str(s) for c, s in CHALLENGE if c in codes]
            if r["heart_axis"] in AXIS:
                snomed.append(str(AXIS[r["heart_axis"]]))
            w.writerow([r["ecg_id"], int(float(r["patient_id"])), fold, split] +
                       [int(k in classes) for k in SUPERCLASSES] + [" ".join(snomed)])
    print("wrote", os.path.join(DIR, "expected_labels.csv"), len(rows), "records")


if __name__ == "__main__":
    main()
