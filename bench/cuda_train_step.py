"""One training step (forward, backward, gradient clipping, AdamW) of a
CamemBERT-base-shaped encoder on one GPU: libqat's "cuda" backend vs PyTorch
eager and torch.compile (transformers' RobertaForTokenClassification /
RobertaForMaskedLM with the quantizers of docs/method.md in
tests/model/reference.py, the same math), for FP32 and E6W1.58A6, at batch
96 x seq 512 and 128 by default.

Reports per configuration: ms/step (best of --steps after a warm-up; every
timed step ends with a device synchronisation), MFU (model FLOPs of the step
/ time / the GPU's dense bf16 peak, whatever the policy, so figures compare
across policies) and peak device memory. Each measurement runs in its own process
(a fresh CUDA context), so memory numbers do not mix:
  libqat  device memory in use after the steps (cudaMemGetInfo: total - free,
          minus the same figure before the model was created); libqat keeps its
          activations allocated between steps, so this is its peak.
  torch   torch.cuda.max_memory_allocated() (the caching allocator's peak).

libqat-fused is libqat with QAT_CTX_FUSED_ATTENTION (no [B, heads, S, S]
probabilities kept, the scores recomputed in the backward); it runs last by
default, after torch.compile, when the time budget allows.

Precision policies (--precision fp32,tf32,bf16):
  libqat  the context's QAT_CTX_PRECISION (see docs/cuda.md)
  torch   fp32: allow_tf32 = False; tf32: allow_tf32 = True;
          bf16: torch.autocast("cuda", dtype=torch.bfloat16)

FLOPs: matmul FLOPs of the step (3 x forward): encoder linears, attention
(QK^T and PV) and the head. The MLM head counts only the labelled tokens
(--mlm-prob of them), which is all the work the loss needs and all libqat
does (DESIGN "Numerics contract"); transformers computes it on every token,
so PyTorch's MLM time includes work that the MFU does not credit.

The libqat step is qat_trainer_step (AdamW, clipping at 1.0); if the trainer
refuses the backend, the row times the forward + backward alone and says so.
The torch step is zero_grad, forward, backward, clip_grad_norm_(1.0) and
torch.optim.AdamW.step.

usage: python3 bench/cuda_train_step.py [--batch 96] [--seq 512,128] [--configs FP32,E6W1.58A6]
           [--precision bf16] [--task tokcls|mlm] [--steps 5] [--layers 12] [--peak-tflops X]
           [--impls libqat,eager,compile] [--json out.json] [--deadline SECONDS]
           [--worker-timeout SECONDS]
Needs libqat built with the CUDA module (meson setup build && ninja -C build):
LIBQAT_LIBRARY / QAT_BACKEND_PATH default to ./build of this tree. Exits 0 with
a message when no GPU is usable."""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

from libqat_paths import setup_paths  # bench/ is sys.path[0] when run as a script
LABELS = 9
DIMS = dict(vocab=32005, hidden=768, heads=12, inter=3072, positions=514, types=1, pad=1, labels=LABELS)

# Dense peak TFLOP/s per policy, from NVIDIA's datasheets (no sparsity). H200
# is the H100 SXM's chip with more memory: the same 989.4 dense bf16.
PEAKS = [  # (substring of the device name, fp32, tf32, bf16)
    ("H200", 67.0, 494.7, 989.4),
    ("H100 PCIe", 51.2, 378.0, 756.0),
    ("H100", 67.0, 494.7, 989.4),  # SXM
    ("A100", 19.5, 156.0, 312.0),
    ("L40S", 91.6, 183.0, 362.0),
    ("L4", 30.3, 60.0, 121.0),
    ("A10", 31.2, 62.5, 125.0),
]


def batch(b, n, task, mlm_prob, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, DIMS["vocab"], size=(b, n)).astype(np.int64)
    mask = np.ones((b, n), dtype=np.int64)
    if task == "mlm":
        labels = np.where(rng.random((b, n)) < mlm_prob, ids, -100).astype(np.int64)
    else:
        labels = rng.integers(0, LABELS, size=(b, n)).astype(np.int64)
    return ids, mask, labels


def step_flops(args, seq):
    """Matmul FLOPs of forward + backward (3 x forward)."""
    H, I, V, L, B = DIMS["hidden"], DIMS["inter"], DIMS["vocab"], args.layers, args.batch
    tokens = B * seq
    per_token_layer = 2 * (4 * H * H + 2 * H * I) + 4 * seq * H
    fwd = tokens * L * per_token_layer
    if args.task == "mlm":
        fwd += tokens * args.mlm_prob * 2 * (H * H + H * V)
    else:
        fwd += tokens * 2 * H * LABELS
    return 3.0 * fwd


def peak_tflops(name, override):
    """The dense bf16 peak: MFU's denominator for every policy."""
    if override:
        return override
    for key, _fp32, _tf32, bf16 in PEAKS:
        if key in name:
            return bf16
    return None


def timed(fn, steps, sync):
    fn()  # warm-up: allocations, LSQ initialisation, cuBLAS heuristics
    sync()
    times = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def cudart():
    for name in ("libcudart.so.13", "libcudart.so.12", "libcudart.so"):
        for path in (name, os.path.join("/usr/local/cuda/lib64", name)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                pass
    return None


def used_bytes(rt):
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    if rt is None or rt.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)) != 0:
        return None
    return total.value - free.value


def worker_libqat(args, config, seq, fused=False):
    import libqat
    rt = cudart()
    ctx = libqat.Context("cuda", precision=args.precision, fused_attention=fused)
    base = used_bytes(rt)  # the CUDA context and cuBLAS handle
    task = "mlm" if args.task == "mlm" else "token-classification"
    quant = None if config == "FP32" else config
    model = libqat.Model.create(arch="roberta", task=task, context=ctx, num_labels=LABELS, num_layers=args.layers,
                                hidden_dropout=0.0, attention_dropout=0.0, quant=quant)
    ids, mask, labels = batch(args.batch, seq, args.task, args.mlm_prob)
    note = "AdamW step"
    try:
        trainer = libqat.Trainer(model, total_steps=1000, learning_rate=5e-5, max_grad_norm=1.0,
                                 batch_size=args.batch)
        step = lambda: trainer.step(ids, mask, labels)  # noqa: E731
    except libqat.QatError as exc:
        note = f"forward + backward only (the trainer refused: {exc.message})"
        step = lambda: model.backward(ids, mask, labels)  # noqa: E731
    # The loss read back mid-step waits for the forward only: wait for the
    # whole step's kernels before stopping the clock.
    t = timed(step, args.steps, lambda: rt.cudaDeviceSynchronize())
    after = used_bytes(rt)
    mem = None if base is None or after is None else after - base
    return {"ms": t * 1e3, "mem": mem, "note": note}


def worker_torch(args, config, seq, compiled=False):
    import torch
    from reference import build_model, quantize_model
    dims = dict(DIMS, layers=args.layers)
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    model = build_model("roberta", "mlm" if args.task == "mlm" else "tokcls", dims, seed=0)
    if config != "FP32":
        quantize_model(model, config)
    model = model.cuda().train()
    for m in model.modules():  # dropout off on both sides: same work, comparable numbers
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ids, mask, labels = (torch.from_numpy(x).cuda() for x in batch(args.batch, seq, args.task, args.mlm_prob))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    forward = torch.compile(model) if compiled else model

    def step():
        opt.zero_grad(set_to_none=False)
        if args.precision == "bf16":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = forward(input_ids=ids, attention_mask=mask, labels=labels)
        else:
            out = forward(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    torch.cuda.reset_peak_memory_stats()
    t = timed(step, args.steps, torch.cuda.synchronize)  # the warm-up step also compiles
    return {"ms": t * 1e3, "mem": torch.cuda.max_memory_allocated(),
            "note": f"torch {torch.__version__}{' compile' if compiled else ' eager'}"}


def gpu_name():
    rt = cudart()
    if rt is None:
        return None
    count = ctypes.c_int()
    if rt.cudaGetDeviceCount(ctypes.byref(count)) != 0 or count.value < 1:
        return None

    class Props(ctypes.Structure):  # only the leading name field is read
        _fields_ = [("name", ctypes.c_char * 256), ("rest", ctypes.c_byte * 4096)]
    props = Props()
    fn = getattr(rt, "cudaGetDeviceProperties_v2", None) or rt.cudaGetDeviceProperties
    if fn(ctypes.byref(props), 0) != 0:
        return "unknown GPU"
    return props.name.decode(errors="replace")


def run_worker(kind, args, config, seq, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--config", config, "--seq", str(seq),
           "--batch", str(args.batch), "--steps", str(args.steps), "--layers", str(args.layers),
           "--precision", args.precision, "--task", args.task, "--mlm-prob", str(args.mlm_prob)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {proc.returncode}"}


def fmt_mem(b):
    return "n/a" if b is None else f"{b / 2**30:.2f} GiB"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--seq", default="512,128")
    p.add_argument("--configs", default="FP32,E6W1.58A6")
    p.add_argument("--precision", default="bf16", choices=["fp32", "tf32", "bf16"])
    p.add_argument("--task", default="tokcls", choices=["mlm", "tokcls"])
    p.add_argument("--mlm-prob", type=float, default=0.15)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--peak-tflops", type=float, default=None, help="override the datasheet peak used for MFU")
    p.add_argument("--impls", default="libqat,eager,compile,libqat-fused",
                   help="which of libqat, eager, compile, libqat-fused (QAT_CTX_FUSED_ATTENTION) to run")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--deadline", type=float, default=None,
                   help="seconds for the whole run: later rows are reported as skipped")
    p.add_argument("--worker-timeout", type=float, default=240.0, help="seconds per measurement")
    p.add_argument("--worker", choices=["libqat", "libqat-fused", "eager", "compile"], help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args()
    setup_paths("tests/model")

    if args.worker:
        seq = int(args.seq)
        r = (worker_libqat(args, args.config, seq, fused=args.worker == "libqat-fused")
             if args.worker.startswith("libqat")
             else worker_torch(args, args.config, seq, compiled=args.worker == "compile"))
        print("RESULT " + json.dumps(r), flush=True)
        return 0
    started = time.monotonic()
    report = {"gpu": None, "rows": [], "args": {k: v for k, v in vars(args).items() if k not in ("worker", "config")}}

    def finish(message=None):
        if message:
            print(message)
            report["skipped"] = message
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        return 0

    name = gpu_name()
    if name is None:
        return finish("cuda_train_step: no usable GPU (no CUDA runtime/driver or no device); nothing measured.")
    report["gpu"] = name
    impls = [i for i in args.impls.split(",") if i]
    if any(i.startswith("libqat") for i in impls):
        try:
            import libqat
            usable = libqat.backends()
        except Exception as exc:  # libqat not built / not found
            return finish(f"cuda_train_step: libqat could not be loaded ({exc}); build it first.")
        if "cuda" not in usable:
            return finish(f"cuda_train_step: GPU '{name}' found, but libqat's cuda backend is not usable "
                          f"(backends: {usable}); build with -Dcuda=enabled and check "
                          f"QAT_BACKEND_PATH={os.environ.get('QAT_BACKEND_PATH')}.")

    peak = peak_tflops(name, args.peak_tflops)
    report["peak_bf16_tflops"] = peak
    print(f"device: {name}; precision policy {args.precision}; MFU against the dense bf16 peak: "
          f"{'unknown (pass --peak-tflops)' if peak is None else f'{peak:g} TFLOP/s'}")
    print(f"shape: CamemBERT-base ({args.layers} layers, hidden 768, vocab 32005), task {args.task}, "
          f"batch {args.batch}, best of {args.steps} steps")
    print(f"{'seq':>5} {'config':10} {'impl':12} {'ms/step':>9} {'MFU':>6} {'memory':>10}  note")
    # Cheap rows first (libqat, eager at every shape), torch.compile last.
    order = [(kind, seq, config) for kind in impls for seq in (int(s) for s in args.seq.split(","))
             for config in args.configs.split(",")]
    for kind, seq, config in order:
        row = {"impl": kind, "seq": seq, "batch": args.batch, "config": config, "precision": args.precision}
        left = None if args.deadline is None else args.deadline - (time.monotonic() - started)
        if left is not None and left < 20:
            row["error"] = "skipped: the time budget is spent"
        else:
            timeout = args.worker_timeout if left is None else min(args.worker_timeout, left - 5)
            row.update(run_worker(kind, args, config, seq, timeout))
        report["rows"].append(row)
        if "error" in row:
            print(f"{seq:5d} {config:10} {kind:12} failed: {row['error']}", flush=True)
            continue
        flops = step_flops(args, seq)
        row["tflops_step"] = flops / 1e12
        row["mfu"] = None if peak is None else flops / (row["ms"] * 1e-3) / (peak * 1e12)
        mfu = "n/a" if row["mfu"] is None else f"{row['mfu'] * 100:.1f}%"
        print(f"{seq:5d} {config:10} {kind:12} {row['ms']:9.1f} {mfu:>6} {fmt_mem(row['mem']):>10}  {row['note']}",
              flush=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
