#!/bin/bash
# The packed forward before and after the vectorised float parts (docs/benchmarks.md,
# "Float parts vectorised"): BEFORE_BUILD is a build of the commit before them
# (git worktree add --detach DIR 86b2024; meson setup; ninja tests/export/bench_packed_infer),
# AFTER_BUILD this one; alternated three times on a shared machine: take medians.
BEFORE_BUILD=${BEFORE_BUILD:-/tmp/fs_before/build}; AFTER_BUILD=${AFTER_BUILD:-build}
for i in 1 2 3; do
  for which in before after; do
    if [ $which = before ]; then B=$BEFORE_BUILD; else B=$AFTER_BUILD; fi
    echo "== $which run $i"
    OMP_WAIT_POLICY=PASSIVE BENCH_QUANTS=E6W1.58A6 LD_LIBRARY_PATH=$B $B/tests/export/bench_packed_infer 3 1:128 8:128 2>&1 | tail -4
  done
done
