"""Runs, in order, every command of README.md's "pipeline from the command
line" section and of docs/quickstart.md, as a user would type them, on the
demo data laid out under the names the docs use (camembert-base/ as
downloaded, with its sentencepiece.bpe.model; nachos.txt.gz; train, dev,
test and other.conll; the grid's models/ and data/ folders).

Only budgets change: step counts, batch sizes and sequence lengths are
made small (the table SUBSTITUTIONS), the study grid keeps 2 configs x 2
alphas x 1 model x 1 task, and `--submit` reaches a stand-in sbatch (no
SLURM controller here). The install command is skipped (the test runs on
the build tree). A command the table does not know still runs: a new line
in the docs is tested as soon as it is written.

usage: docs_commands.py SOURCE_ROOT QAT_BINARY DEMO_DIR LIBQAT_LIBRARY"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SUBSTITUTIONS = [
    (r"--steps 30000\b", "--steps 16"),
    (r"total_steps=30000\b", "total_steps=16, max_seq_len=32, batch_size=8"),
    (r"--batch 96\b", "--batch 8"),
    (r"--micro-batch 16\b", "--micro-batch 4"),
    (r"--checkpoint-every 1000\b", "--checkpoint-every 5"),
]
SKIPPED = [r"meson install"]


def code_blocks(text):
    """Indented blocks (4+ spaces), continuation lines joined."""
    blocks, block = [], []
    for line in text.splitlines():
        if line.startswith("    ") and line.strip():
            block.append(line.strip())
        elif block and not line.strip():
            block.append("")
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    out = []
    for b in blocks:
        lines, cur = [], ""
        for line in b:
            if not line:
                continue
            cur += line[:-1].rstrip() + " " if line.endswith("\\") else line
            if not line.endswith("\\"):
                lines.append(cur)
                cur = ""
        out.append(lines)
    return out


def readme_section(root):
    text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    start = text.index("## The study's pipeline from the command line")
    end = text.find("\n## ", start + 3)
    return text[start:end if end > 0 else len(text)]


def lay_out(work, demo):
    """The files the docs name, made from the demo data."""
    model = os.path.join(work, "camembert-base")
    shutil.copytree(os.path.join(demo, "model"), model)
    shutil.copy(os.path.join(demo, "spm.model"), os.path.join(model, "sentencepiece.bpe.model"))
    with open(os.path.join(demo, "corpus.txt"), "rb") as f, gzip.open(os.path.join(work, "nachos.txt.gz"), "wb") as g:
        g.write(f.read())
    sentences = open(os.path.join(demo, "task.conll"), encoding="utf-8").read().strip().split("\n\n")
    parts = {"train": sentences[:400], "dev": sentences[400:500], "test": sentences[500:], "other": sentences[500:]}
    for name, part in parts.items():
        with open(os.path.join(work, name + ".conll"), "w", encoding="utf-8") as f:
            f.write("\n\n".join(part) + "\n")


def small_grid(root, work):
    """examples/grids/study.yaml as shipped, cut to a few cells, with its
    relative paths resolving to the demo files."""
    grid = yaml.safe_load(open(os.path.join(root, "examples", "grids", "study.yaml"), encoding="utf-8"))
    grid["configs"] = ["FP32", "E6W1.58A6"]
    grid["alphas"] = [0, 0.5]
    grid["models"] = grid["models"][:1]
    grid["tasks"] = grid["tasks"][:1]
    grid["threads"] = 1
    grid["training"].update(total_steps=16, batch=8, micro_batch=4, seq_len=32, checkpoint_every=5)
    gdir = os.path.join(work, "examples", "grids")
    os.makedirs(gdir)
    with open(os.path.join(gdir, "study.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(grid, f, sort_keys=False)
    for m in grid["models"]:
        dest = os.path.normpath(os.path.join(gdir, m["path"]))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.symlink(os.path.join(work, "camembert-base"), dest)
        corpus = os.path.normpath(os.path.join(gdir, m["corpus"]))
        os.makedirs(os.path.dirname(corpus), exist_ok=True)
        shutil.copy(os.path.join(work, "nachos.txt.gz"), corpus)
    for t in grid["tasks"]:
        for key in ("train", "eval", "test"):
            dest = os.path.normpath(os.path.join(gdir, t[key]))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.join(work, {"eval": "dev"}.get(key, key) + ".conll"), dest)


def fake_sbatch(work):
    bindir = os.path.join(work, ".bin")
    os.makedirs(bindir)
    path = os.path.join(bindir, "sbatch")
    with open(path, "w") as f:
        f.write('#!/bin/sh\necho "$@" >> "%s/sbatch.calls"\necho "Submitted batch job 4242"\n' % work)
    os.chmod(path, 0o755)
    return bindir


def substitute(cmd):
    for pattern, repl in SUBSTITUTIONS:
        cmd = re.sub(pattern, repl, cmd)
    if re.match(r"qat train\b", cmd):
        cmd += " --seq-len 32 --threads 1"
    return cmd


def main():
    root, qat, demo, library = sys.argv[1:5]
    work = tempfile.mkdtemp(prefix="qat-docs-")
    env = dict(os.environ, LIBQAT_LIBRARY=library, PYTHONPATH=os.path.join(root, "bindings", "python"))
    env["PATH"] = os.pathsep.join([fake_sbatch(work), os.path.dirname(os.path.abspath(qat)), env["PATH"]])
    lay_out(work, demo)
    small_grid(root, work)
    sources = [("README.md", code_blocks(readme_section(root))),
               ("docs/quickstart.md", code_blocks(open(os.path.join(root, "docs", "quickstart.md"),
                                                       encoding="utf-8").read()))]
    ran = failed = 0
    for doc, blocks in sources:
        for block in blocks:
            if block and re.match(r"(import |from )\w", block[0]):
                script = substitute("\n".join(block))
                cmds = [("python", [sys.executable, "-c", script])]
            else:
                cmds = [(line, ["bash", "-c", substitute(line)]) for line in block]
            for shown, argv in cmds:
                if any(re.search(p, shown) for p in SKIPPED):
                    print(f"skipped ({doc}): {shown} (installs into the system)")
                    continue
                ran += 1
                r = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
                tail = "\n".join(r.stdout.strip().splitlines()[-3:])
                if r.returncode != 0:
                    failed += 1
                    print(f"FAIL ({doc}, exit {r.returncode}): {shown}\n{r.stdout}")
                else:
                    print(f"ok ({doc}): {shown}\n    {tail}")
    if not os.path.exists(os.path.join(work, "sbatch.calls")):
        failed += 1
        print("FAIL: --submit did not reach sbatch")
    print(f"{ran} commands, {failed} failed")
    if failed == 0:
        shutil.rmtree(work)
    else:
        print(f"(kept {work})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
