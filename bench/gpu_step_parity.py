"""One whole training step (forward, backward, gradient norm and clipping,
AdamW) on a device backend against the same step on ref, from the same
parameters and batch, for FP32, E6W1.58A6 and E4W4A4 under the fp32 and
bf16 precision policies. Part of bench/gpu_check.sh (issue #19 item 4).

Compared, as relative L2 errors (||dev - ref|| / ||ref||):
  loss     the step's loss
  update   every parameter's change (after - before), all tensors together:
           the step itself, not the weights it started from
  moments  read indirectly: a second step's update (AdamW's moments carry
           the first step's gradients into it)
Tolerances (docs/cuda.md "Whole training step"): fp32 policy 1e-4 on the
loss and 2e-3 on the updates for FP32 weights, 3e-2 for the quantized
configs (a quantizer code may flip where inputs differ by an ulp at a
rounding tie, and AdamW's first step is g / |g|: a sign flip of a tiny
gradient moves that element by 2 lr); bf16 policy 2e-2 (loss) and 1e-1
(updates).

A config whose step the device backend refuses is reported as
'skipped: <the library's message>', not as a failure.

usage: python3 bench/gpu_step_parity.py [--backend cuda] [--json out.json]
  --backend cpu checks the script itself on a machine without a GPU (the cpu
  backend computes in fp32 only, so its bf16 rows are skipped).
Exit status: 0 when nothing failed (passes and skips), 1 otherwise."""
from __future__ import annotations

import argparse
import json
import sys

from libqat_paths import setup_paths  # bench/ is sys.path[0] when run as a script

DIMS = dict(vocab_size=211, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=96,
            max_position_embeddings=80, num_labels=5)
BATCH, SEQ = 3, 37  # odd sizes on purpose
TOL = {  # precision -> (loss, update FP32 weights, update quantized)
    "fp32": (1e-4, 2e-3, 3e-2),
    "bf16": (2e-2, 1e-1, 1e-1),
}


def rel(a, b):
    import numpy as np
    den = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / (den if den > 0 else 1.0)


def batch(seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, DIMS["vocab_size"], size=(BATCH, SEQ)).astype(np.int32)
    mask = np.ones((BATCH, SEQ), dtype=np.int32)
    mask[1, SEQ - 9:] = 0  # padding in one sequence
    labels = rng.integers(0, DIMS["num_labels"], size=(BATCH, SEQ)).astype(np.int32)
    labels[mask == 0] = -100
    return ids, mask, labels


def one(libqat, backend, config, precision):
    """Two steps on ref and on `backend`; returns a result row."""
    import numpy as np
    quant = None if config == "FP32" else config
    ctx_ref = libqat.Context("ref", seed=11)
    try:
        ctx_dev = libqat.Context(backend, seed=11)
        ctx_dev.precision = precision
    except libqat.QatError as exc:
        return {"status": "skipped", "reason": exc.message}
    kw = dict(arch="roberta", task="token-classification", quant=quant, **DIMS)
    ref = libqat.Model.create(context=ctx_ref, **kw)
    dev = libqat.Model.create(context=ctx_dev, **kw)
    names = ref.parameter_names()
    for n in names:
        value = ref.get_parameter(n)
        if "_quantizer." in n and not value.any():
            continue  # an LSQ step not initialised yet: both take it from the first batch
        dev.set_parameter(n, value)
    opts = dict(learning_rate=1e-3, weight_decay=0.01, max_grad_norm=1.0, batch_size=BATCH)
    t_ref = libqat.Trainer(ref, total_steps=10, **opts)
    try:
        t_dev = libqat.Trainer(dev, total_steps=10, **opts)
    except libqat.QatError as exc:
        return {"status": "skipped", "reason": exc.message}
    row = {"status": "passed"}
    before = {n: ref.get_parameter(n) for n in names}
    for step in (1, 2):
        ids, mask, labels = batch(step)
        loss_ref = t_ref.step(ids, mask, labels)
        try:
            loss_dev = t_dev.step(ids, mask, labels)
        except libqat.QatError as exc:
            return {"status": "skipped", "reason": exc.message}
        after_ref = {n: ref.get_parameter(n) for n in names}
        upd_ref = np.concatenate([(after_ref[n] - before[n]).ravel() for n in names])
        upd_dev = np.concatenate([(dev.get_parameter(n) - before[n]).ravel() for n in names])
        row[f"step{step}_loss_rel"] = abs(loss_dev - loss_ref) / max(abs(loss_ref), 1e-30)
        row[f"step{step}_update_rel"] = rel(upd_dev, upd_ref)
        row[f"step{step}_loss_ref"] = loss_ref
        # Both start the next step from ref's weights, so step 2 measures the
        # step (and the moments it carries), not drift accumulated in step 1.
        for n in names:
            dev.set_parameter(n, after_ref[n])
        before = after_ref
    tl, tf, tq = TOL[precision]
    tu = tf if config == "FP32" else tq
    row["tolerance"] = {"loss": tl, "update": tu}
    bad = [k for k in row if k.endswith("_loss_rel") and not row[k] <= tl]
    bad += [k for k in row if k.endswith("_update_rel") and not row[k] <= tu]
    if bad:
        row["status"] = "failed"
        row["reason"] = ", ".join(f"{k} = {row[k]:.3g}" for k in bad)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="cuda")
    p.add_argument("--configs", default="FP32,E6W1.58A6,E4W4A4")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    setup_paths()
    import libqat
    rows = []
    usable = libqat.backends()
    for precision in args.precisions.split(","):
        for config in args.configs.split(","):
            if args.backend not in usable:
                r = {"status": "skipped", "reason": f"no usable '{args.backend}' backend (usable: {usable})"}
            else:
                r = one(libqat, args.backend, config, precision)
            r.update(backend=args.backend, config=config, precision=precision)
            rows.append(r)
            detail = r.get("reason") or ", ".join(f"{k} {r[k]:.2e}" for k in sorted(r) if k.endswith("_rel"))
            print(f"{config:10} {precision:5} {r['status']}: {detail}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
