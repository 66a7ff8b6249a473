"""One training step (forward + backward) of a CamemBERT-base-shaped encoder
on one GPU: libqat's "cuda" backend vs PyTorch eager (transformers'
RobertaForMaskedLM / RobertaForTokenClassification with the quantizers of docs/method.md
of tests/model/reference.py, the same math), for FP32 and E6W1.58A6, at
batch 32 x seq 512 and 128 by default.

Reports per configuration: ms/step (best of --steps after a warm-up), MFU
(model FLOPs of the step / time / the GPU's dense peak for the precision
policy) and peak device memory. Each measurement runs in its own process
(a fresh CUDA context), so memory numbers do not mix:
  libqat  device memory in use after the steps (cudaMemGetInfo: total - free,
          minus the same figure before the model was created); libqat keeps its
          activations allocated between steps, so this is its peak.
  torch   torch.cuda.max_memory_allocated() (the caching allocator's peak).

Precision policies (--precision fp32,tf32,bf16):
  libqat  QAT_CUDA_PRECISION=<policy> (see docs/cuda.md)
  torch   fp32: allow_tf32 = False; tf32: allow_tf32 = True;
          bf16: torch.autocast("cuda", dtype=torch.bfloat16)

FLOPs: matmul FLOPs of the step (3 x forward): encoder linears, attention
(QK^T and PV) and the head. The MLM head counts only the labelled tokens
(--mlm-prob of them), which is all the work the loss needs and all libqat
does (DESIGN "Numerics contract"); transformers computes it on every token,
so PyTorch's MLM time includes work that the MFU does not credit.

usage: python3 bench/cuda_train_step.py [--batch 32] [--seq 512,128] [--configs FP32,E6W1.58A6]
           [--precision fp32] [--task mlm|tokcls] [--steps 5] [--layers 12] [--peak-tflops X]
           [--skip-torch]
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("QAT_BUILD_DIR", os.path.join(ROOT, "build"))
LABELS = 9
DIMS = dict(vocab=32005, hidden=768, heads=12, inter=3072, positions=514, types=1, pad=1, labels=LABELS)

# Dense peak TFLOP/s per policy, from NVIDIA's datasheets (no sparsity).
PEAKS = [  # (substring of the device name, fp32, tf32, bf16)
    ("H200", 67.0, 494.7, 989.4),
    ("H100 PCIe", 51.2, 378.0, 756.0),
    ("H100", 67.0, 494.7, 989.4),  # SXM
    ("A100", 19.5, 156.0, 312.0),
    ("L40S", 91.6, 183.0, 362.0),
    ("L4", 30.3, 60.0, 121.0),
    ("A10", 31.2, 62.5, 125.0),
]


def setup_paths():
    lib = os.path.join(BUILD, "libqat.so.0")
    if "LIBQAT_LIBRARY" not in os.environ and os.path.exists(lib):
        os.environ["LIBQAT_LIBRARY"] = lib
    mod = os.path.join(BUILD, "backends", "cuda")
    if "QAT_BACKEND_PATH" not in os.environ and os.path.isdir(mod):
        os.environ["QAT_BACKEND_PATH"] = mod
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "model"))


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


def peak_tflops(name, precision, override):
    if override:
        return override
    for key, fp32, tf32, bf16 in PEAKS:
        if key in name:
            return {"fp32": fp32, "tf32": tf32, "bf16": bf16}[precision]
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


def worker_libqat(args, config, seq):
    os.environ["QAT_CUDA_PRECISION"] = args.precision
    import libqat
    rt = cudart()
    ctx = libqat.Context("cuda")
    base = used_bytes(rt)  # the CUDA context and cuBLAS handle
    task = "mlm" if args.task == "mlm" else "token-classification"
    quant = None if config == "FP32" else config
    model = libqat.Model.create(arch="roberta", task=task, context=ctx, num_labels=LABELS, num_layers=args.layers,
                                quant=quant)
    ids, mask, labels = batch(args.batch, seq, args.task, args.mlm_prob)
    # backward() returns the loss, read back from the device: it synchronizes.
    t = timed(lambda: model.backward(ids, mask, labels), args.steps, lambda: None)
    after = used_bytes(rt)
    mem = None if base is None or after is None else after - base
    return {"ms": t * 1e3, "mem": mem}


def worker_torch(args, config, seq):
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

    def step():
        model.zero_grad(set_to_none=False)
        if args.precision == "bf16":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model(input_ids=ids, attention_mask=mask, labels=labels)
        else:
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()

    torch.cuda.reset_peak_memory_stats()
    t = timed(step, args.steps, torch.cuda.synchronize)
    return {"ms": t * 1e3, "mem": torch.cuda.max_memory_allocated()}


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


def run_worker(kind, args, config, seq):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--config", config, "--seq", str(seq),
           "--batch", str(args.batch), "--steps", str(args.steps), "--layers", str(args.layers),
           "--precision", args.precision, "--task", args.task, "--mlm-prob", str(args.mlm_prob)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {proc.returncode}"}


def fmt_mem(b):
    return "n/a" if b is None else f"{b / 2**30:.2f} GiB"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", default="512,128")
    p.add_argument("--configs", default="FP32,E6W1.58A6")
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    p.add_argument("--task", default="mlm", choices=["mlm", "tokcls"])
    p.add_argument("--mlm-prob", type=float, default=0.15)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--peak-tflops", type=float, default=None, help="override the datasheet peak used for MFU")
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--worker", choices=["libqat", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args()
    setup_paths()

    if args.worker:
        fn = worker_libqat if args.worker == "libqat" else worker_torch
        print("RESULT " + json.dumps(fn(args, args.config, int(args.seq))), flush=True)
        return 0

    name = gpu_name()
    if name is None:
        print("cuda_train_step: no usable GPU (no CUDA runtime/driver or no device); nothing measured.")
        return 0
    try:
        import libqat
        usable = libqat.backends()
    except Exception as exc:  # libqat not built / not found
        print(f"cuda_train_step: libqat could not be loaded ({exc}); build it first (meson setup build && ninja -C build).")
        return 0
    if "cuda" not in usable:
        print(f"cuda_train_step: GPU '{name}' found, but libqat's cuda backend is not usable (backends: {usable}); "
              f"build with -Dcuda=enabled and check QAT_BACKEND_PATH={os.environ.get('QAT_BACKEND_PATH')}.")
        return 0

    peak = peak_tflops(name, args.precision, args.peak_tflops)
    print(f"device: {name}; precision policy {args.precision}; peak used for MFU: "
          f"{'unknown (pass --peak-tflops)' if peak is None else f'{peak:g} TFLOP/s'}")
    print(f"shape: CamemBERT-base ({args.layers} layers, hidden 768, vocab 32005), task {args.task}, "
          f"batch {args.batch}, best of {args.steps} steps")
    print(f"{'seq':>5} {'config':10} {'impl':7} {'ms/step':>9} {'MFU':>6} {'memory':>10}")
    for seq in (int(s) for s in args.seq.split(",")):
        flops = step_flops(args, seq)
        for config in args.configs.split(","):
            for kind in ("libqat",) + (() if args.skip_torch else ("torch",)):
                r = run_worker(kind, args, config, seq)
                if "error" in r:
                    print(f"{seq:5d} {config:10} {kind:7} failed: {r['error']}")
                    continue
                mfu = "n/a" if peak is None else f"{flops / (r['ms'] * 1e-3) / (peak * 1e12) * 100:.1f}%"
                print(f"{seq:5d} {config:10} {kind:7} {r['ms']:9.1f} {mfu:>6} {fmt_mem(r['mem']):>10}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
