#!/usr/bin/python3
"""The packed forward of two or more libqat builds, alternated, for before /
after figures on a machine whose speed drifts (docs/benchmarks.md).

Each round runs bench_packed_forward_loop once per library, in the order
given, with LD_LIBRARY_PATH set to the directory holding that build's
libqat.so.0 (the loop binary's own RUNPATH comes after it). Per library it
prints the fastest best forward over the rounds, the median of the bests
and the median of the medians: a change smaller than the drift between
rounds shows in all three only if it is real.

Usage:
    bench/packed_ab.py [--rounds 8] [--loop build/tests/export/bench_packed_forward_loop] \\
        MODEL.qatp B L THREADS REPS LIBDIR [LIBDIR ...]

For example, the build before a change in a worktree against this one:
    git worktree add --detach /tmp/before HEAD~1 && (cd /tmp/before && meson setup build && ninja -C build)
    bench/packed_ab.py /tmp/qatp/base_E6W1.58A6.qatp 1 128 1 10 /tmp/before/build build
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

LINE = re.compile(r"best ([0-9.]+) ms, median ([0-9.]+) ms")


def one_run(loop: str, libdir: str, model: str, shape: list) -> tuple:
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.abspath(libdir))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    done = subprocess.run([loop, model] + shape, env=env, capture_output=True, text=True)
    found = LINE.search(done.stdout)
    if done.returncode != 0 or not found:
        sys.exit(f"{loop} with {libdir} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return float(found.group(1)), float(found.group(2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--loop", default="build/tests/export/bench_packed_forward_loop")
    ap.add_argument("model")
    ap.add_argument("batch")
    ap.add_argument("length")
    ap.add_argument("threads")
    ap.add_argument("reps")
    ap.add_argument("libdirs", nargs="+")
    args = ap.parse_args()
    if len(args.libdirs) < 2:
        sys.exit("give at least two library directories to alternate")
    for d in args.libdirs:
        if not os.path.exists(os.path.join(d, "libqat.so.0")):
            sys.exit(f"{d} holds no libqat.so.0")
    shape = [args.batch, args.length, args.threads, args.reps]
    bests = {d: [] for d in args.libdirs}
    medians = {d: [] for d in args.libdirs}
    for _ in range(args.rounds):
        for d in args.libdirs:
            best, median = one_run(args.loop, d, args.model, shape)
            bests[d].append(best)
            medians[d].append(median)
    print(f"{args.model} {args.batch}x{args.length}, {args.threads} thread(s), {args.reps} forwards a run, "
          f"{args.rounds} rounds alternated; ms per forward")
    print("| library | fastest best | median of bests | median of medians |")
    print("|---|---:|---:|---:|")
    for d in args.libdirs:
        print(f"| {d} | {min(bests[d]):.2f} | {statistics.median(bests[d]):.2f} | "
              f"{statistics.median(medians[d]):.2f} |")


if __name__ == "__main__":
    main()
