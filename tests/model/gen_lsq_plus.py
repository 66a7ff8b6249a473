"""Golden data for the LSQ+ initialisation: inputs of several shapes and
the step and offset the documented search (reference.lsq_plus_init, written
in numpy from docs/quantizers.md) picks for them.

usage: gen_lsq_plus.py OUT_FILE"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402
from reference import lsq_plus_init  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(7)
    gauss = rng.normal(0.3, 1.2, 4000)
    gelu_like = np.maximum(rng.normal(0, 1, 3000), -0.17 + 0.01 * rng.random(3000))
    heavy = rng.standard_t(2, 5000)  # outliers: the search should clip them
    two_valued = np.repeat([-0.5, 2.0], 50)
    inputs = [(gauss, 8), (gelu_like, 4), (heavy, 2), (two_valued, 3), (np.full(10, 0.7), 8)]
    records = {"count": np.array([len(inputs)], dtype=np.int32)}
    for i, (x, bits) in enumerate(inputs):
        x = x.astype(np.float32)
        step, offset = lsq_plus_init(x, bits)
        records[f"x{i}"] = x
        records[f"bits{i}"] = np.array([bits], dtype=np.int32)
        records[f"expect{i}"] = np.array([step, offset], dtype=np.float32)
    write_golden(sys.argv[1], records)


if __name__ == "__main__":
    main()
