"""The study runner: the alpha pipeline (DAPT, fine-tuning, evaluation)
and shared-prefix DAPT. EXPERIMENTAL, as qat/study.h in C: its options and
results may still change in any release (docs/api.md, Stability). Its C
symbols are in the LIBQAT_EXPERIMENTAL_1 version node."""
from __future__ import annotations

import ctypes
import math

from ._lib import check, declare
from .core import Context
from .train import TrainOptions, _train_options

PIPELINE_OPTIONS_VERSION = 3
DAPT_OPTIONS_VERSION = 3

PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64,
                               ctypes.c_double)


class AdaptiveOptions(ctypes.Structure):
    """Mirror of qat_adaptive_options (adaptive alpha; layout fixed)."""
    _fields_ = [
        ("enabled", ctypes.c_int),
        ("alpha_max", ctypes.c_double),
        ("eval_every", ctypes.c_int64),
        ("patience", ctypes.c_int64),
        ("min_delta", ctypes.c_double),
        ("heldout_sequences", ctypes.c_int64),
    ]


class RunOptions(ctypes.Structure):
    """Mirror of qat_run_options (embedded in both run option structs)."""
    _fields_ = [
        ("model_dir", ctypes.c_char_p),
        ("tokenizer", ctypes.c_char_p),
        ("quant", ctypes.c_char_p),
        ("corpus", ctypes.c_char_p),
        ("out_dir", ctypes.c_char_p),
        ("total_steps", ctypes.c_int64),
        ("max_seq_len", ctypes.c_int64),
        ("checkpoint_every", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("train", TrainOptions),
        ("adaptive", AdaptiveOptions),
        ("progress", PROGRESS_FN),
        ("progress_user", ctypes.c_void_p),
        ("carbon_intensity", ctypes.c_double),
        ("power_watts", ctypes.c_double),
    ]


class PipelineOptions(ctypes.Structure):
    """Mirror of qat_pipeline_options (version 3)."""
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("run", RunOptions),
        ("alpha", ctypes.c_double),
        ("train_file", ctypes.c_char_p),
        ("eval_file", ctypes.c_char_p),
        ("test_file", ctypes.c_char_p),
        ("plan", ctypes.c_int),  # qat_plan
        ("dapt_dir", ctypes.c_char_p),
        ("comm", ctypes.c_void_p),  # qat_comm *: data-parallel DAPT and fine-tuning
    ]


class DaptOptions(ctypes.Structure):
    """Mirror of qat_dapt_options (version 3)."""
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("run", RunOptions),
        ("alphas", ctypes.POINTER(ctypes.c_double)),
        ("n_alphas", ctypes.c_size_t),
        ("comm", ctypes.c_void_p),  # qat_comm *: data-parallel DAPT
    ]


PLANS = ("per-alpha", "shared-prefix")  # qat_plan

_P = ctypes.c_void_p
_pipe_init = declare("qat_pipeline_options_init", [ctypes.POINTER(PipelineOptions), ctypes.c_uint32])
_pipe_run = declare("qat_pipeline_run", [_P, ctypes.POINTER(PipelineOptions), ctypes.POINTER(ctypes.c_double)])
_dapt_init = declare("qat_dapt_options_init", [ctypes.POINTER(DaptOptions), ctypes.c_uint32])
_dapt_run = declare("qat_dapt_run", [_P, ctypes.POINTER(DaptOptions)])


def _adaptive(opts: AdaptiveOptions, adaptive: dict | None) -> None:
    """adaptive={'alpha_max': 0.9, 'eval_every': 0, 'patience': 3, 'min_delta': 0.01,
    'heldout_sequences': 0} (any subset; unknown keys are an error)."""
    if adaptive is None:
        return
    opts.enabled = 1
    for key, value in adaptive.items():
        if key not in ("alpha_max", "eval_every", "patience", "min_delta", "heldout_sequences"):
            raise ValueError(f"unknown adaptive option {key!r}")
        setattr(opts, key, value)


def _progress_callback(progress):
    if progress is None:
        return None

    def callback_impl(_user, phase, step, total, loss):
        return 1 if progress(phase.decode(), step, total, None if math.isnan(loss) else loss) else 0
    return PROGRESS_FN(callback_impl)


def _enc(value):
    return None if value is None else str(value).encode()


def _run_options(run: RunOptions, *, model_dir, out_dir, quant, corpus, tokenizer, total_steps, max_seq_len,
                 checkpoint_every, seed, progress, adaptive, carbon_intensity, power_watts, train_options):
    """Fills what run_pipeline and run_dapt share (qat_run_options); returns
    the progress callback, which must stay alive while the run runs."""
    run.model_dir, run.out_dir, run.quant = _enc(model_dir), _enc(out_dir), _enc(quant)
    run.corpus, run.tokenizer = _enc(corpus), _enc(tokenizer)
    run.total_steps, run.max_seq_len = total_steps, max_seq_len
    run.checkpoint_every, run.seed = checkpoint_every, seed
    run.carbon_intensity, run.power_watts = carbon_intensity, power_watts
    _adaptive(run.adaptive, adaptive)
    run.train = _train_options(**train_options)
    callback = _progress_callback(progress)
    if callback is not None:
        run.progress = callback
    return callback


def run_pipeline(model_dir, train_file, out_dir, *, quant: str | None = None, alpha: float = 0.0,
                 total_steps: int = 30000, corpus=None, eval_file=None, test_file=None, tokenizer=None,
                 max_seq_len: int = 512, checkpoint_every: int = 0, seed: int = 42, progress=None,
                 context: Context | None = None, carbon_intensity: float = 0.0, power_watts: float = 0.0,
                 dapt_dir=None, adaptive: dict | None = None, comm=None, **train_options) -> float:
    """The study's alpha pipeline; returns the test F1 (a fraction), or the
    test accuracy for a sequence-classification task (train_file .tsv or
    .jsonl, docs/data.md), and writes out_dir/results.json. progress(phase, step, total, loss) may
    return True to stop (the run then raises QatError, checkpoint kept).
    carbon_intensity (g CO2eq/kWh) and power_watts (the estimate's draw
    where no energy counter is readable) feed results.json's "energy"
    object; 0 keeps the defaults (docs/energy.md).
    Plans (docs/training.md): dapt_dir (a run_dapt directory) fine-tunes from
    its snapshot at round(alpha * total_steps), the seed code's shared
    prefix; alpha="auto" (or adaptive={...knobs}) chooses alpha by the
    held-out MLM loss. comm (a libqat.Communicator of context): data-parallel
    DAPT and fine-tuning (not adaptive alpha), rank 0 writing everything;
    the other ranks return NaN (docs/distributed.md)."""
    if alpha == "auto":
        alpha, adaptive = 0.0, adaptive or {}
    opts = PipelineOptions()
    check(_pipe_init(ctypes.byref(opts), PIPELINE_OPTIONS_VERSION))
    keep = _run_options(opts.run, model_dir=model_dir, out_dir=out_dir, quant=quant, corpus=corpus,
                        tokenizer=tokenizer, total_steps=total_steps, max_seq_len=max_seq_len,
                        checkpoint_every=checkpoint_every, seed=seed, progress=progress, adaptive=adaptive,
                        carbon_intensity=carbon_intensity, power_watts=power_watts, train_options=train_options)
    opts.train_file, opts.eval_file, opts.test_file = _enc(train_file), _enc(eval_file), _enc(test_file)
    opts.alpha = alpha
    if dapt_dir is not None:
        opts.plan, opts.dapt_dir = PLANS.index("shared-prefix"), _enc(dapt_dir)
    if comm is not None:
        opts.comm = comm._handle
    context = context or Context()
    f1 = ctypes.c_double()
    check(_pipe_run(context.handle, ctypes.byref(opts), ctypes.byref(f1)))
    del keep
    return f1.value


def run_dapt(model_dir, corpus, out_dir, alphas, *, quant: str | None = None, total_steps: int = 30000,
             tokenizer=None, max_seq_len: int = 512, checkpoint_every: int = 0, seed: int = 42, progress=None,
             context: Context | None = None, adaptive: dict | None = None, carbon_intensity: float = 0.0,
             power_watts: float = 0.0, comm=None, **train_options) -> None:
    """One shared DAPT run (the seed code's plan): a schedule up to
    max(alphas) * total_steps with a snapshot at every alpha, written under
    out_dir; fine-tune from it with run_pipeline(..., dapt_dir=out_dir,
    alpha=a) and the same quant and total_steps. Resumes when run again.
    comm (a libqat.Communicator of context): data-parallel, rank 0 writing
    everything (not with adaptive alpha; docs/distributed.md)."""
    opts = DaptOptions()
    check(_dapt_init(ctypes.byref(opts), DAPT_OPTIONS_VERSION))
    keep = _run_options(opts.run, model_dir=model_dir, out_dir=out_dir, quant=quant, corpus=corpus,
                        tokenizer=tokenizer, total_steps=total_steps, max_seq_len=max_seq_len,
                        checkpoint_every=checkpoint_every, seed=seed, progress=progress, adaptive=adaptive,
                        carbon_intensity=carbon_intensity, power_watts=power_watts, train_options=train_options)
    values = (ctypes.c_double * len(alphas))(*alphas)
    opts.alphas, opts.n_alphas = values, len(alphas)
    if comm is not None:
        opts.comm = comm._handle
    context = context or Context()
    check(_dapt_run(context.handle, ctypes.byref(opts)))
    del keep


__all__ = ["run_pipeline", "run_dapt"]
