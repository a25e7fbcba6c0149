#!/usr/bin/env python3
"""The W2V+CMSC+RLM evidence experiment (issue 22, docs/results.md), end to end.

Reads the real recordings under ../shared/data/ (the bundled Challenge records of
examples/data/cinc, PTB-XL's 500 raw records and the 1,000 band-passed and z-scored PTB-XL
records of ../shared/data/ecg-extra; read that folder's README for their licences), so it runs
in a checkout that has ../shared beside it, not in a bare clone.

Stages (each skips what its outputs already hold, so an interrupted run continues):
  manifests  one manifest of every recording (duplicates HR00001-HR00010 of the Challenge copy
             dropped: they are PTB-XL ecg_id 1-10), with a PTB-XL fold for each record: PTB-XL's own
             strat_fold for the raw records, a seeded draw of 1-10 for records without one
             (their patients are unknown; PTB-XL has 1.16 records per patient).
  pretrain   the tiny encoder with each method on every recording (bandpass,zscore), all methods
             the same number of updates, side by side (one thread each). --pretrain-minutes sets
             that number from a measured rate unless --steps gives it.
  finetune   Random Init. and each pre-trained encoder, 12 leads, Challenge classes, folds 1-8
             train, 9 valid, 10 test, for each seed.
  evaluate   each fine-tuned model on fold 10 with 12/6/3/2/1 leads and 95% bootstrap intervals.
  superclass_finetune
             PTB-XL's five diagnostic superclasses on its 500 raw records (strat_fold 1-8 train,
             9 valid, 10 test; records without a superclass left out), the same encoders and seeds.
  superclass_evaluate
             each superclass model on fold 10 with 12/6/3/2/1 leads (macro AUROC, intervals).
  report     the markdown table (results.md), the plot (score_by_leads.svg), summary.json; the
             superclass table too once its stages have run.
  export     examples/data/cinc/folds.csv: the bundled records' folds in this experiment.
  models     examples/models/: the seed-1 fine-tuned models and their pre-trained encoders,
             without optimizer state.

Usage: tools/run_experiment.py --ecgssl build/app/bin/ecgssl --out build/experiment \
           [--pretrain-minutes 60 | --steps N] [--seeds 1 2 3] [--stages ...]
Needs /usr/bin/python3 with the standard library only.
"""
import argparse
import csv
import json
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
METHODS = ["w2v_cmsc_rlm", "w2v_cmsc"]
LABELS = {"random_init": "Random Init.", "w2v_cmsc": "W2V+CMSC", "w2v_cmsc_rlm": "W2V+CMSC+RLM"}
LEAD_SETS = ["12", "6", "3", "2", "1"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, logfile=None, env=None):
    log(" ".join(str(c) for c in cmd))
    if logfile is None:
        subprocess.run([str(c) for c in cmd], check=True, env=env)
        return
    with open(logfile, "w") as f:
        subprocess.run([str(c) for c in cmd], check=True, stdout=f, stderr=subprocess.STDOUT, env=env)


def one_thread_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def stage_manifests(a, out):
    target = out / "folds.csv"
    if target.exists():
        return
    extra = SHARED / "ecg-extra"
    sources = [
        (ROOT / "examples" / "data" / "cinc", []),
        (extra / "ptbxl500", ["--ptbxl-database", extra / "ptbxl500" / "ptbxl_database.csv"]),
        (extra / "ptbxl-zscore", []),
    ]
    folds = {}
    with open(extra / "ptbxl500" / "ptbxl_database.csv", newline="") as f:
        for r in csv.DictReader(f):
            folds[Path(r["filename_hr"]).name] = int(r["strat_fold"])
    rows = []
    duplicates = {f"HR{i:05d}" for i in range(1, 11)}  # PTB-XL ecg_id 1-10, also in ptbxl500
    draw = random.Random(a.fold_seed)
    for folder, extra_args in sources:
        part = out / f"manifest_{folder.name}.csv"
        run([a.ecgssl, "manifest", folder, "--out", part, "--preprocess", "bandpass,zscore", *extra_args])
        with open(part, newline="") as f:
            for r in csv.DictReader(f):
                if r["skip_reason"] or r["record_id"] in duplicates and folder.name == "cinc":
                    continue
                r["path"] = str((folder / r["path"]).resolve())
                r["fold"] = str(folds.get(r["record_id"], draw.randint(1, 10)))
                rows.append(r)
    # all.csv: the manifest columns every ecgssl reads (pre-training); folds.csv adds the fold.
    for name, fields in [("folds.csv", list(rows[0].keys())), ("all.csv", [k for k in rows[0] if k != "fold"])]:
        with open(out / name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    log(f"{len(rows)} recordings -> {target}")


def stage_export(a, out):
    """examples/data/cinc/folds.csv: the bundled records with the folds this experiment gave them
    (HR00001-HR00010 take PTB-XL's strat_fold of ecg_id 1-10), so the README's main job can test
    the committed models on records none of them trained on (fold 10)."""
    fold_of = {}
    with open(out / "folds.csv", newline="") as f:
        for r in csv.DictReader(f):
            fold_of[r["record_id"]] = r["fold"]
    rows = []
    with open(out / "manifest_cinc.csv", newline="") as f:
        reader = csv.DictReader(f)
        for r in reader:
            rid = r["record_id"]
            r["fold"] = fold_of[f"{int(rid[2:]):05d}_hr"] if rid.startswith("HR") and int(rid[2:]) <= 10 else fold_of[rid]
            rows.append(r)
    target = ROOT / "examples" / "data" / "cinc" / "folds.csv"
    with open(target, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=reader.fieldnames + ["fold"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    log(f"{len(rows)} bundled records with folds -> {target}")


def strip_training_state(source, target):
    """A pre-training checkpoint without its optimizer moments and trainer counters (a third of
    the size: what fine-tuning and embedding read). Plain safetensors: 8-byte header length,
    JSON header, data."""
    with open(source, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    kept, blobs, offset = {}, [], 0
    for name in sorted(header):
        if name.startswith(("optimizer.", "trainer.")):
            continue
        begin, end = header[name]["data_offsets"]
        kept[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
        blobs.append(data[begin:end])
        offset += end - begin
    if meta is not None:
        kept["__metadata__"] = meta
    text = json.dumps(kept, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(target, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def stage_models(a, out):
    """examples/models/: the seed-1 fine-tuned models and the pre-trained encoders they came from."""
    target = ROOT / "examples" / "models"
    target.mkdir(parents=True, exist_ok=True)
    for name in models():
        src = out / f"dx_{name}_s{a.seeds[0]}.safetensors"
        dst = target / f"zscore-tiny-{name}-arrhythmia.safetensors"
        strip_training_state(src, dst)
        log(f"{src} -> {dst} ({dst.stat().st_size} bytes)")
        if name != "random_init":
            dst = target / f"zscore-tiny-{name}-pretrained.safetensors"
            strip_training_state(out / f"pre_{name}.safetensors", dst)
            log(f"pre-trained {name} -> {dst} ({dst.stat().st_size} bytes)")


def pretrain_steps(a, out):
    if a.steps:
        return a.steps
    # Measured, not guessed: 30 updates of the slowest method, one thread, as the real runs.
    probe = out / "rate_probe.safetensors"
    t0 = time.time()
    run([a.ecgssl, "pretrain", "--data", out / "all.csv", "--config", "tiny", "--method", "w2v_cmsc_rlm",
         "--preprocess", "bandpass,zscore", "--steps", 30, "--batch-pairs", a.batch_pairs, "--threads", 1,
         "--seed", 1, "--out", probe], logfile=out / "rate_probe.log", env=one_thread_env())
    per_update = (time.time() - t0) / 30
    probe.unlink(missing_ok=True)
    return max(1, int(a.pretrain_minutes * 60 / per_update))


def run_parallel(jobs, parallel, log_mode="w"):
    """Runs (log_path, command) jobs, `parallel` at a time, one thread each; exits on a failure."""
    jobs = list(jobs)
    running = []
    while jobs or running:
        while jobs and len(running) < parallel:
            log_path, cmd = jobs.pop(0)
            log(" ".join(str(c) for c in cmd))
            f = open(log_path, log_mode)
            running.append((log_path, subprocess.Popen([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT,
                                                       env=one_thread_env())))
        time.sleep(2)
        for log_path, p in list(running):
            if p.poll() is not None:
                running.remove((log_path, p))
                if p.returncode != 0:
                    sys.exit(f"{log_path.stem} failed: see {log_path}")


def stage_pretrain(a, out):
    steps = pretrain_steps(a, out)
    (out / "pretrain_steps.txt").write_text(f"{steps}\n")
    jobs = []
    for m in METHODS:
        ck = out / f"pre_{m}.safetensors"
        if (out / f"pre_{m}.done").exists():
            continue
        cmd = [a.ecgssl, "pretrain", "--data", out / "all.csv", "--config", "tiny", "--method", m,
               "--preprocess", "bandpass,zscore", "--steps", steps, "--batch-pairs", a.batch_pairs,
               "--threads", 1, "--seed", 1, "--checkpoint-every", 250, "--out", ck,
               "--log-csv", out / f"pre_{m}.csv", "--plot-svg", out / f"pre_{m}.svg"]
        if ck.exists():
            cmd += ["--resume", ck]
        jobs.append((out / f"pre_{m}.log", cmd))
    # Every method at once (the same number of updates each); logs append across resumes.
    run_parallel(jobs, len(jobs), log_mode="a")
    for m in METHODS:
        (out / f"pre_{m}.done").write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))


ALL_MODELS = ["random_init"] + METHODS
SELECTED = list(ALL_MODELS)


def models():
    return SELECTED


def finetune_models(a, out, task, data, prefix, epochs):
    """Fine-tunes Random Init. and each pre-trained encoder for `task` on `data` (12 leads, folds
    1-8 train, 9 valid, 10 test), once per seed; checkpoints `{prefix}_{model}_s{seed}`."""
    jobs = []
    for seed in a.seeds:
        for name in models():
            ck = out / f"{prefix}_{name}_s{seed}.safetensors"
            if ck.exists():
                continue
            source = ["--random-init", "--config", "tiny", "--preprocess", "bandpass,zscore"] if name == "random_init" \
                else ["--checkpoint", out / f"pre_{name}.safetensors"]
            jobs.append((ck.with_suffix(".log"), [a.ecgssl, "finetune", "--task", task, *source, "--data", data,
                              "--leads", 12, "--split", "folds", "--epochs", epochs, "--patience", a.patience,
                              "--batch-size", a.finetune_batch, "--seed", seed, "--out", ck]))
    run_parallel(jobs, a.parallel)  # default two at a time: the machine's two cores


def evaluate_models(a, out, data, prefix, eval_prefix):
    """Each fine-tuned model on fold 10 with 12/6/3/2/1 leads and bootstrap intervals (JSON)."""
    for seed in a.seeds:
        for name in models():
            target = out / f"{eval_prefix}_{name}_s{seed}.json"
            if target.exists():
                continue
            with open(target, "w") as f:
                cmd = [a.ecgssl, "evaluate", "--checkpoint", out / f"{prefix}_{name}_s{seed}.safetensors",
                       "--data", data, "--leads", "all", "--split", "test", "--json",
                       "--bootstrap", a.bootstrap, "--bootstrap-seed", 1]
                log(" ".join(str(c) for c in cmd))
                subprocess.run([str(c) for c in cmd], check=True, stdout=f)


def stage_finetune(a, out):
    finetune_models(a, out, "arrhythmia", out / "folds.csv", "dx", a.epochs)


def stage_evaluate(a, out):
    evaluate_models(a, out, out / "folds.csv", "dx", "eval")


def stage_superclass_finetune(a, out):
    """PTB-XL's five diagnostic superclasses on its 500 raw records, split by strat_fold (1-8
    train, 9 valid, 10 test), the pre-trained encoders and Random Init. as for the Challenge classes."""
    manifest = out / "superclass.csv"
    if not manifest.exists():
        extra = SHARED / "ecg-extra" / "ptbxl500"
        part = out / "manifest_ptbxl500_superclass.csv"
        run([a.ecgssl, "manifest", extra, "--out", part, "--preprocess", "bandpass,zscore",
             "--ptbxl-database", extra / "ptbxl_database.csv"])
        with open(part, newline="") as f:
            reader = csv.DictReader(f)
            rows = [dict(r, path=str((extra / r["path"]).resolve())) for r in reader]
            fields = reader.fieldnames
        if "superclasses" not in fields:
            sys.exit(f"{part} has no superclasses column: the ecgssl used predates --task superclass")
        with open(manifest, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        log(f"{len(rows)} PTB-XL records -> {manifest}")
    finetune_models(a, out, "superclass", manifest, "sc", a.superclass_epochs)


def stage_superclass_evaluate(a, out):
    evaluate_models(a, out, out / "superclass.csv", "sc", "sceval")


def superclass_report(a, out):
    """The superclass task's table (macro AUROC), or nothing when its stages have not run."""
    paths = {(n, s): out / f"sceval_{n}_s{s}.json" for n in models() for s in a.seeds}
    if not all(p.exists() for p in paths.values()):
        return None, []
    evals = {k: json.load(open(p)) for k, p in paths.items()}
    summary = {name: {k: dict(seed_entry(a, evals, name, k, "auroc"),
                               segments=evals[(name, a.seeds[0])][k]["segments"]) for k in LEAD_SETS}
               for name in models()}
    lines = ["PTB-XL diagnostic superclasses (NORM, MI, STTC, CD, HYP) on the 500 raw PTB-XL records, "
             "test fold 10:", ""]
    lines += seed_table("macro AUROC", {name: summary[name] for name in models()}, None)
    lines += ["", f"Seed {a.seeds[0]} alone, with 95% bootstrap intervals over the test records:", ""]
    lines += bootstrap_table(a, evals, "macro AUROC", "auroc") + [""]
    return summary, lines


def seed_entry(a, evals, name, k, metric):
    """One model's `metric` at lead set `k` over the seeds: values, mean, t interval, seed 1's bootstrap."""
    vals = [evals[(name, s)][k][metric] for s in a.seeds]
    if any(v is None for v in vals):  # AUROC of a test part where no class is both present and absent
        sys.exit(f"{name} {k} leads: {metric} undefined for some seed")
    mean, lo, hi = seed_summary(vals)
    return {"per_seed": vals, "mean": mean, "seed_low": lo, "seed_high": hi,
            "bootstrap_seed1": evals[(name, a.seeds[0])][k].get("intervals", {}).get(metric)}


def seed_table(title, per_model, metric):
    """Markdown rows: mean [seed interval] per model and lead set; `metric` picks the entry (None:
    the entries are the metric's own)."""
    rows = [f"| {title}: mean [95% interval over seeds] | " + " | ".join(
                "12-lead" if k == "12" else f"P-{k}-lead" for k in LEAD_SETS) + " |",
            "| --- |" + " --- |" * len(LEAD_SETS)]
    for name, per in per_model.items():
        cells = []
        for k in LEAD_SETS:
            e = per[k][metric] if metric else per[k]
            cells.append(f"{e['mean']:.3f} [{e['seed_low']:.3f}, {e['seed_high']:.3f}]")
        rows.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return rows


def bootstrap_table(a, evals, title, metric):
    """Markdown rows: seed 1's value [bootstrap interval] per model and lead set."""
    rows = [f"| {title}, seed {a.seeds[0]} | " + " | ".join(LEAD_SETS) + " |", "| --- |" + " --- |" * len(LEAD_SETS)]
    for name in models():
        cells = []
        for k in LEAD_SETS:
            e = evals[(name, a.seeds[0])][k]
            b = e.get("intervals", {}).get(metric)
            cells.append(f"{e[metric]:.3f}" + (f" [{b[0]:.3f}, {b[1]:.3f}]" if b else ""))
        rows.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return rows


def t_quantile_975(df):
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
    return table.get(df, 1.96)


def seed_summary(values):
    """Mean and the 95% t interval of the mean over seeds (the paper's ± over 3 seeds)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, m, m
    half = t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


def stage_report(a, out):
    evals = {(n, s): json.load(open(out / f"eval_{n}_s{s}.json")) for n in models() for s in a.seeds}
    summary = {"seeds": a.seeds, "models": {}}
    for name in models():
        per = {}
        for k in LEAD_SETS:
            entry = {metric: seed_entry(a, evals, name, k, metric) for metric in ["challenge_score", "auroc"]}
            entry["segments"] = evals[(name, a.seeds[0])][k]["segments"]
            per[k] = entry
        summary["models"][name] = per
    superclass, superclass_lines = superclass_report(a, out)
    if superclass is not None:
        summary["superclass"] = superclass
    (out / "summary.json").write_text(json.dumps(summary, indent=1))

    lines = []
    for metric, title in [("challenge_score", "Challenge score"), ("auroc", "macro AUROC")]:
        lines += seed_table(title, {name: summary["models"][name] for name in models()}, metric) + [""]
    lines.append(f"Seed {a.seeds[0]} alone, with 95% bootstrap intervals over the test records "
                 f"({a.bootstrap} resamples):")
    lines.append("")
    for metric, title in [("challenge_score", "Challenge score"), ("auroc", "macro AUROC")]:
        lines += bootstrap_table(a, evals, title, metric) + [""]
    lines += superclass_lines
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    write_plot(summary, out / "score_by_leads.svg")
    write_loss_plot(out, out / "pretraining_loss.svg")
    print(text)


def write_loss_plot(out, path):
    """Pre-training loss of each method against the update (mean of each 50 updates)."""
    curves = {}
    for m in METHODS:
        with open(out / f"pre_{m}.csv", newline="") as f:
            rows = [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]
        rows.sort()
        curves[m] = [(rows[i][0], statistics.fmean(v for _, v in rows[i:i + 50])) for i in range(0, len(rows), 50)]
    w, h, left, right, top, bottom = 640, 360, 60, 160, 20, 45
    xmax = max(x for c in curves.values() for x, _ in c)
    ymax = max(y for c in curves.values() for _, y in c)
    ymin = min(y for c in curves.values() for _, y in c)
    fx = lambda x: left + (w - left - right) * x / xmax
    fy = lambda y: top + (h - top - bottom) * (ymax - y) / (ymax - ymin)
    colors = {"w2v_cmsc": "#1f77b4", "w2v_cmsc_rlm": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
             f'<text x="{(left + w - right) / 2}" y="{h - 10}" text-anchor="middle">update</text>',
             f'<text x="14" y="{(top + h - bottom) / 2}" transform="rotate(-90 14 {(top + h - bottom) / 2})" '
             f'text-anchor="middle">pre-training loss (mean of 50 updates)</text>']
    for i in range(6):
        x = xmax * i / 5
        parts.append(f'<text x="{fx(x):.1f}" y="{h - bottom + 15}" text-anchor="middle">{x:.0f}</text>')
        y = ymin + (ymax - ymin) * i / 5
        parts.append(f'<text x="{left - 6}" y="{fy(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
    for j, (m, c) in enumerate(curves.items()):
        pts = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in c)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colors[m]}" stroke-width="1.5"/>')
        parts.append(f'<text x="{w - right + 10}" y="{top + 20 + 18 * j}" fill="{colors[m]}">{LABELS[m]}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def write_plot(summary, path):
    """Challenge score against lead count, one line per method, bars = 95% interval over seeds."""
    w, h, left, right, top, bottom = 640, 400, 60, 160, 30, 50
    xs = {k: left + i * (w - left - right) / (len(LEAD_SETS) - 1) for i, k in enumerate(LEAD_SETS)}
    values = [per[k]["challenge_score"][bound] for per in summary["models"].values() for k in LEAD_SETS
              for bound in ("seed_low", "seed_high")]
    lo, hi = min(values + [0.0]), max(values)
    hi = hi + 0.05 * (hi - lo or 1)
    y = lambda v: top + (h - top - bottom) * (hi - v) / (hi - lo)
    colors = {"random_init": "#777777", "w2v_cmsc": "#1f77b4", "w2v_cmsc_rlm": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
             f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">leads (zero-filled)</text>',
             f'<text x="14" y="{(top + h - bottom) / 2}" transform="rotate(-90 14 {(top + h - bottom) / 2})" '
             f'text-anchor="middle">Challenge score (test fold)</text>']
    for k, x in xs.items():
        parts.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{k}</text>')
    for i in range(6):
        v = lo + i * (hi - lo) / 5
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}" stroke="#eeeeee"/>')
    for j, (name, per) in enumerate(summary["models"].items()):
        c = colors[name]
        off = (j - 1) * 6
        pts = []
        for k in LEAD_SETS:
            e = per[k]["challenge_score"]
            x = xs[k] + off
            pts.append(f"{x:.1f},{y(e['mean']):.1f}")
            parts.append(f'<line x1="{x:.1f}" y1="{y(e["seed_low"]):.1f}" x2="{x:.1f}" y2="{y(e["seed_high"]):.1f}" stroke="{c}"/>')
            parts.append(f'<circle cx="{x:.1f}" cy="{y(e["mean"]):.1f}" r="3" fill="{c}"/>')
        parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        parts.append(f'<text x="{w - right + 10}" y="{top + 20 + 18 * j}" fill="{c}">{LABELS[name]}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ecgssl", default=str(ROOT / "build" / "app" / "bin" / "ecgssl"))
    p.add_argument("--out", default=str(ROOT / "build" / "experiment"))
    p.add_argument("--pretrain-minutes", type=float, default=60.0, help="time budget of each method's pre-training")
    p.add_argument("--steps", type=int, default=0, help="pre-training updates (overrides --pretrain-minutes)")
    p.add_argument("--batch-pairs", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--finetune-batch", type=int, default=32)
    p.add_argument("--superclass-epochs", type=int, default=12, help="fine-tuning epochs of the superclass task")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--fold-seed", type=int, default=22)
    p.add_argument("--parallel", type=int, default=2, help="fine-tuning runs at once (one thread each)")
    p.add_argument("--stages", nargs="+", default=["manifests", "pretrain", "finetune", "evaluate", "superclass_finetune",
                                                    "superclass_evaluate", "report"])
    p.add_argument("--models", nargs="+", default=ALL_MODELS, choices=ALL_MODELS,
                   help="models the finetune and evaluate stages work on (report needs all)")
    a = p.parse_args()
    SELECTED[:] = a.models
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for stage in a.stages:
        s0 = time.time()
        globals()[f"stage_{stage}"](a, out)
        log(f"stage {stage}: {time.time() - s0:.0f} s")
    log(f"all stages: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
