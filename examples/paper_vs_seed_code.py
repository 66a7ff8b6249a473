#!/usr/bin/env python3
"""Paper vs seed code, measured: runs the study's alpha pipeline (DAPT then
fine-tuning) on the generated demo model and task for E6W1.58A6 and
E4W4A4 under the paper's quantizers, each of the seed code's switches
alone, the whole seed-code profile, and the two extensions (per-channel
LSQ, LSQ+), over a few seeds; prints a Markdown table of the final DAPT
and fine-tuning losses and the test F1 (mean +- std over seeds).
docs/paper-vs-seed-code.md shows its output.

usage: examples/paper_vs_seed_code.py [--steps N] [--seeds K] [--out DIR]
(run after building: ninja -C build)"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QAT = os.path.join(ROOT, "build", "examples", "qat")
CONFIGS = [
    ("E6W1.58A6", "paper"),
    ("E6W1.58(row)A6", "BitNet scale per row"),
    ("E6W1.58A6@symmetric", "activations in [-Qp, Qp]"),
    ("E6W1.58A6@shared", "one quantizer per class"),
    ("E6W1.58A6@frozen-step", "frozen LSQ steps"),
    ("E6W1.58A6@mlm-head", "quantized MLM head"),
    ("E6W1.58A6@seed-code", "seed code (all)"),
    ("E4W4A4", "paper"),
    ("E4W4A4@shared", "one quantizer per class"),
    ("E4W4A4@frozen-step", "frozen LSQ steps"),
    ("E4W4A4@seed-code", "seed code (all)"),
    ("E4W4(row)A4", "per-channel LSQ weights"),
    ("E4W4A4(lsq+)", "LSQ+ activations"),
]


def last_losses(metrics_path: str) -> dict:
    """Mean loss of the last 10 logged steps of each phase."""
    by_phase: dict[str, list[float]] = {}
    with open(metrics_path) as f:
        for line in f:
            rec = json.loads(line)
            if "loss" in rec and rec.get("phase") in ("dapt", "finetune"):
                by_phase.setdefault(rec["phase"], []).append(rec["loss"])
    return {k: statistics.mean(v[-10:]) for k, v in by_phase.items()}


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300, help="B_total per run (alpha 0.5: half DAPT)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "demo-out", "paper-vs-seed-code"))
    args = ap.parse_args()
    data = os.path.join(args.out, "data")
    if not os.path.isdir(os.path.join(data, "model")):
        env = dict(os.environ, LIBQAT_LIBRARY=os.path.join(ROOT, "build", "libqat.so.0"))
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "make_demo.py"), data], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    print(f"| config | what changes | DAPT loss | fine-tuning loss | test F1 (%) |")
    print(f"|---|---|---|---|---|")
    for quant, what in CONFIGS:
        dapt, ft, f1 = [], [], []
        for seed in range(42, 42 + args.seeds):
            run = os.path.join(args.out, "runs", f"{quant}-s{seed}")
            cmd = [QAT, "train", "--model", os.path.join(data, "model"), "--tokenizer", os.path.join(data, "spm.model"),
                   "--corpus", os.path.join(data, "corpus.txt"), "--task", os.path.join(data, "task.conll"),
                   "--quant", quant, "--alpha", "0.5", "--steps", str(args.steps), "--batch", "16", "--lr", "3e-3",
                   "--seq-len", "32", "--threads", "1", "--seed", str(seed), "--out", run]
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit(f"{quant} seed {seed} failed:\n{done.stderr[-2000:]}")
            losses = last_losses(os.path.join(run, "metrics.jsonl"))
            dapt.append(losses["dapt"])
            ft.append(losses["finetune"])
            with open(os.path.join(run, "results.json")) as f:
                f1.append(100 * json.load(f)["test"]["f1"])
        print(f"| `{quant}` | {what} | {mean_std(dapt)} | {mean_std(ft)} | {mean_std(f1)} |",
              flush=True)


if __name__ == "__main__":
    main()
