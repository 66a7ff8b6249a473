"""Load time, first and second forward of one .qatp file, each in a fresh
process (what a user's one-shot run pays), for one or more builds of
libqat alternated round by round, so that builds are compared side by side.

usage: .venv/bin/python bench/packed_first_forward.py FILE.qatp LIBQAT.so [LIBQAT.so ...]
       [--rounds N] [--batch B] [--seq L]   (1 thread; QAT_ISA as in the environment)
"""
import argparse
import os
import subprocess
import sys

CHILD = r'''
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
import libqat
t0 = time.perf_counter(); pm = libqat.PackedModel(sys.argv[1]); t1 = time.perf_counter()
pm.threads = 1
B, L = int(sys.argv[3]), int(sys.argv[4])
ids = np.random.default_rng(0).integers(5, 1000, size=(B, L)).astype(np.int32)
mask = np.ones_like(ids)
t2 = time.perf_counter(); pm.forward(ids, mask); t3 = time.perf_counter(); pm.forward(ids, mask); t4 = time.perf_counter()
print(f"{(t1 - t0) * 1e3:.1f} {(t3 - t2) * 1e3:.1f} {(t4 - t3) * 1e3:.1f} {pm.isa}")
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qatp")
    ap.add_argument("libraries", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=128)
    a = ap.parse_args()
    bindings = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python")
    print(f"# {a.qatp}, {a.batch}x{a.seq}, 1 thread; ms: load, first forward, second forward, isa")
    for r in range(a.rounds):
        for lib in a.libraries:
            env = dict(os.environ, LIBQAT_LIBRARY=lib, OMP_NUM_THREADS="1")
            out = subprocess.run([sys.executable, "-c", CHILD, a.qatp, bindings, str(a.batch), str(a.seq)],
                                 env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{lib}: {out.stderr.strip()[-400:]}")
            print(f"round {r + 1}  {lib}: {out.stdout.strip()}")


if __name__ == "__main__":
    main()
