"""One training step (forward + backward) of a BERT-base-shaped encoder with
a token-classification head, side by side in one process:

  libqat (cpu backend)  vs  PyTorch eager (transformers' RobertaForTokenClassification
  with the quantizers of docs/method.md of tests/model/reference.py, the same math)
  and the GEMM roofline: the step's GEMM FLOPs at the throughput oneDNN's
  sgemm reaches on the same shapes, measured in the same run; and the same
  shapes through torch.mm (PyTorch's BLAS: OpenBLAS in Debian's torch), so
  the two libraries' GEMMs can be told apart from the rest of each step.

usage: python3 bench/train_step.py [--batch 8] [--seq 128] [--threads 2] [--steps 3] [--layers 12]
                                  [--configs FP32,E6W1.58A6,E6W1.58A6@seed-code,...] [--optimizer]
                                  [--fused-attention]

--optimizer times the whole step of the pipeline's training instead:
dropout 0.1 on both sides, then gradient clipping at 1.0 and AdamW (libqat's
Trainer; torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW with the same
hyper-parameters).
--fused-attention adds libqat with QAT_CTX_FUSED_ATTENTION (no [batch,
heads, L, L] probabilities kept; the scores recomputed in the backward) as
a third column, in the same process.
Needs LIBQAT_LIBRARY (or an installed libqat) and python3-torch."""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "model"))
import libqat  # noqa: E402
from reference import build_model, quantize_model  # noqa: E402

LABELS = 9


def dims(layers):
    return dict(vocab=32005, hidden=768, layers=layers, heads=12, inter=3072, positions=514, types=1, pad=1,
                labels=LABELS)


def batch(b, n, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 32005, size=(b, n)).astype(np.int64)
    mask = np.ones((b, n), dtype=np.int64)
    labels = rng.integers(0, LABELS, size=(b, n)).astype(np.int64)
    return ids, mask, labels


def best_of(fn, steps):
    fn()  # warm-up (and LSQ initialisation)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def torch_step(config, args):
    model = build_model("roberta", "tokcls", dims(args.layers), seed=0)
    quantize_model(model, config)
    model.train()
    for m in model.modules():  # dropout the same on both sides: off, or the pipeline's 0.1
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.1 if args.optimizer else 0.0
    ids, mask, labels = (torch.from_numpy(x) for x in batch(args.batch, args.seq))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-6, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.01)

    def step():
        model.zero_grad(set_to_none=False)
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        if args.optimizer:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return best_of(step, args.steps)


def libqat_step(config, args, fused=False):
    ctx = libqat.Context("cpu", threads=args.threads, fused_attention=fused)
    model = libqat.Model.create(arch="roberta", task="token-classification", context=ctx, num_labels=LABELS,
                                num_layers=args.layers, quant=config)
    ids, mask, labels = batch(args.batch, args.seq)
    if args.optimizer:  # the study's defaults: AdamW lr 5e-6, betas (0.9, 0.98), eps 1e-8, decay 0.01, clip 1.0
        trainer = libqat.Trainer(model, total_steps=args.steps + 1, batch_size=args.batch)
        return best_of(lambda: trainer.step(ids, mask, labels), args.steps)
    bias = model.get_parameter("classifier.bias")

    def step():
        # In training the optimizer changes the weights every step, so the
        # quantized weights are recomputed: writing a parameter makes the
        # model do that here too.
        model.set_parameter("classifier.bias", bias)
        model.backward(ids, mask, labels)
    return best_of(step, args.steps)


def gemm_shapes(args):
    """(trans_a, trans_b, m, n, k, lda, ldb, ldc, count) of every GEMM of one
    forward + backward, with the layouts libqat uses (row-major)."""
    N, H, I, S, NH = args.batch * args.seq, 768, 3072, args.seq, 12
    dh = H // NH
    L = args.layers
    shapes = []
    for out_f, in_f, reps in ((H, H, 4 * L), (I, H, L), (H, I, L), (LABELS, H, 1)):
        shapes += [(0, 1, N, out_f, in_f, in_f, in_f, out_f, reps),    # y = x W^T
                   (1, 0, out_f, in_f, N, out_f, in_f, in_f, reps),    # dW = dy^T x
                   (0, 0, N, in_f, out_f, out_f, in_f, in_f, reps)]    # dx = dy W
    heads = L * args.batch * NH
    shapes += [(0, 1, S, S, dh, H, H, S, 2 * heads),   # scores = q k^T; dP = dctx v^T
               (0, 0, S, dh, S, S, H, H, 2 * heads),   # ctx = P v; dq = dS k
               (1, 0, S, dh, S, S, H, H, 2 * heads)]   # dv = P^T dctx; dk = dS^T q
    return shapes


def gemm_roofline(args):
    path = ctypes.util.find_library("dnnl") or "libdnnl.so.2"
    dnnl = ctypes.CDLL(path)
    f = ctypes.c_float
    dnnl.dnnl_sgemm.argtypes = [ctypes.c_char, ctypes.c_char, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, f,
                                ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, f,
                                ctypes.c_void_p, ctypes.c_int64]
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    total_flops = total_time = 0.0
    for ta, tb, m, n, k, lda, ldb, ldc, count in gemm_shapes(args):
        a = np.random.rand((k if ta else m) * lda).astype(np.float32)
        b = np.random.rand((n if tb else k) * ldb).astype(np.float32)
        c = np.zeros(m * ldc, dtype=np.float32)
        call = lambda: dnnl.dnnl_sgemm(b"T" if ta else b"N", b"T" if tb else b"N", m, n, k, 1.0,  # noqa: E731
                                       a.ctypes.data, lda, b.ctypes.data, ldb, 0.0, c.ctypes.data, ldc)
        reps = max(1, min(count, 8))
        t = best_of(lambda: [call() for _ in range(reps)], 2) / reps
        total_time += t * count
        total_flops += 2.0 * m * n * k * count
    return total_flops, total_time


def torch_gemm_roofline(args):
    """The same GEMMs as gemm_roofline, through torch.mm on strided views."""
    total_time = 0.0
    for ta, tb, m, n, k, lda, ldb, ldc, count in gemm_shapes(args):
        rows_a, rows_b = (k if ta else m), (n if tb else k)
        a = torch.as_strided(torch.rand(rows_a * lda), (rows_a, m if ta else k), (lda, 1))
        b = torch.as_strided(torch.rand(rows_b * ldb), (rows_b, k if tb else n), (ldb, 1))
        op_a, op_b = (a.t() if ta else a), (b.t() if tb else b)
        reps = max(1, min(count, 8))
        t = best_of(lambda: [torch.mm(op_a, op_b) for _ in range(reps)], 2) / reps
        total_time += t * count
    return total_time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--optimizer", action="store_true",
                   help="the pipeline's whole step: dropout 0.1, clipping and AdamW on both sides")
    p.add_argument("--configs", default="FP32,E6W1.58A6",
                   help="comma-separated quant configs (any notation, e.g. E6W1.58A6@seed-code, E8W4(row)A8(lsq+))")
    p.add_argument("--fused-attention", action="store_true",
                   help="also time libqat with QAT_CTX_FUSED_ATTENTION, side by side")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    flops, roof = gemm_roofline(args)
    print(f"shape: {args.layers} layers, hidden 768, batch {args.batch} x seq {args.seq}, {args.threads} threads")
    print(f"GEMM roofline (oneDNN sgemm on the step's shapes): {roof * 1e3:.0f} ms for {flops / 1e9:.1f} GFLOP "
          f"({flops / roof / 1e9:.1f} GFLOP/s)")
    torch_roof = torch_gemm_roofline(args)
    print(f"GEMM roofline (torch.mm, PyTorch's BLAS, on the same shapes): {torch_roof * 1e3:.0f} ms "
          f"({flops / torch_roof / 1e9:.1f} GFLOP/s)")
    results = {}
    for config in args.configs.split(","):
        t_qat = libqat_step(config, args)
        t_fused = libqat_step(config, args, fused=True) if args.fused_attention else None
        t_torch = torch_step(config, args)
        results[config] = t_qat
        print(f"{config:10s} libqat {t_qat * 1e3:7.0f} ms   PyTorch {t_torch * 1e3:7.0f} ms   "
              f"speed-up x{t_torch / t_qat:.2f}   roofline {roof / t_qat * 100:.0f}%")
        if t_fused is not None:
            print(f"{'':10s} libqat fused attention {t_fused * 1e3:7.0f} ms   vs libqat x{t_qat / t_fused:.2f}   "
                  f"vs PyTorch x{t_torch / t_fused:.2f}")
    for config, t in results.items():
        if config != "FP32" and "FP32" in results:
            print(f"fake-quant overhead ({config} vs FP32, libqat): {(t / results['FP32'] - 1) * 100:+.0f}%")


if __name__ == "__main__":
    main()
