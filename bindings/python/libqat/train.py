"""Training: the trainer (AdamW with the study's schedule). The study
runner (the alpha pipeline) is in libqat.study, the experimental tier."""
from __future__ import annotations

import ctypes
import numpy as np

from ._lib import Handle, check, declare
from .model import Model, _ints

TRAIN_OPTIONS_VERSION = 1


class TrainOptions(ctypes.Structure):
    """Mirror of qat_train_options (version 1)."""
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("learning_rate", ctypes.c_double),
        ("beta1", ctypes.c_double),
        ("beta2", ctypes.c_double),
        ("eps", ctypes.c_double),
        ("weight_decay", ctypes.c_double),
        ("warmup_ratio", ctypes.c_double),
        ("max_grad_norm", ctypes.c_double),
        ("batch_size", ctypes.c_int64),
        ("micro_batch_size", ctypes.c_int64),
    ]


_P = ctypes.c_void_p
_train_init = declare("qat_train_options_init", [ctypes.POINTER(TrainOptions), ctypes.c_uint32])
_trainer_create = declare("qat_trainer_create", [_P, ctypes.POINTER(TrainOptions), ctypes.c_int64,
                                                 ctypes.POINTER(_P)])
_trainer_free = declare("qat_trainer_free", [_P], None)
_I = ctypes.POINTER(ctypes.c_int32)
_trainer_step = declare("qat_trainer_step", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64,
                                             ctypes.POINTER(ctypes.c_float)])
_trainer_step_typed = declare("qat_trainer_step_typed", [_P, _I, _I, _I, _I, ctypes.c_int64, ctypes.c_int64,
                                                         ctypes.POINTER(ctypes.c_float)])
_trainer_get = declare("qat_trainer_get", [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_double)])
_U64x2 = ctypes.c_uint64 * 2
_trainer_save = declare("qat_trainer_save", [_P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)])
_trainer_resume = declare("qat_trainer_resume", [_P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)])
_trainer_set_comm = declare("qat_trainer_set_comm", [_P, _P, ctypes.c_int64])
_comm_from_env = declare("qat_comm_create_from_env", [_P, ctypes.POINTER(_P)])
_comm_free = declare("qat_comm_free", [_P], None)
_comm_get = declare("qat_comm_get", [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_int64)])
_comm_kind = declare("qat_comm_kind", [_P], ctypes.c_char_p)


def _train_options(**kw) -> TrainOptions:
    opts = TrainOptions()
    check(_train_init(ctypes.byref(opts), TRAIN_OPTIONS_VERSION))
    names = {f for f, _ in TrainOptions._fields_} - {"version"}
    for key, value in kw.items():
        if key not in names:
            raise TypeError(f"unknown training option {key!r}; expected one of {sorted(names)}")
        setattr(opts, key, value)
    return opts


class Communicator(Handle):
    """This process's place in a data-parallel job, from the environment
    torchrun or srun set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
    MASTER_PORT; SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; QAT_DIST_FILE):
    a single rank when none is set. More than one rank needs the cuda
    backend (NCCL); docs/distributed.md.

    comm = Communicator(ctx); trainer.set_comm(comm)"""

    _free = staticmethod(_comm_free)

    def __init__(self, context):
        handle = _P()
        check(_comm_from_env(context.handle, ctypes.byref(handle)))
        self._handle = handle

    def _get(self, key: int) -> int:
        v = ctypes.c_int64()
        check(_comm_get(self._handle, key, ctypes.byref(v)))
        return v.value

    @property
    def rank(self) -> int:
        return self._get(1)

    @property
    def world_size(self) -> int:
        return self._get(2)

    @property
    def local_rank(self) -> int:
        return self._get(3)

    @property
    def kind(self) -> str:
        """"single", or "backend" (NCCL)."""
        return _comm_kind(self._handle).decode()


class Trainer(Handle):
    """AdamW over a model for `total_steps` steps (the schedule's length).

    Trainer(model, total_steps=1000, learning_rate=5e-5, batch_size=32)
    loss = trainer.step(input_ids, attention_mask, labels)
    loss = trainer.step(input_ids, attention_mask, labels, token_type_ids)  # BERT pairs"""

    _free = staticmethod(_trainer_free)

    def __init__(self, model: Model, total_steps: int, **options):
        opts = _train_options(**options)
        handle = _P()
        check(_trainer_create(model._handle, ctypes.byref(opts), int(total_steps), ctypes.byref(handle)))
        self._handle = handle
        self.model = model  # the C trainer holds its own reference; this one is for trainer.model

    def step(self, input_ids, attention_mask, labels, token_type_ids=None) -> float:
        """One optimizer step; labels [batch, seq_len], or [batch] for
        sequence classification; token_type_ids [batch, seq_len] or None
        (zeros)."""
        ids, ids_p = _ints(input_ids, name="input_ids")
        mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        if self.model.task == "sequence-classification":
            lab = np.ascontiguousarray(labels, dtype=np.int32)
            if lab.shape != (ids.shape[0],):
                raise ValueError(f"labels must have shape ({ids.shape[0]},) for sequence classification")
            lab_p = lab.ctypes.data_as(_I)
        else:
            lab, lab_p = _ints(labels, ids.shape, "labels")
        loss = ctypes.c_float()
        check(_trainer_step_typed(self._handle, ids_p, mask_p, types_p, lab_p, ids.shape[0], ids.shape[1],
                                  ctypes.byref(loss)))
        return loss.value

    def _get(self, key: int) -> float:
        v = ctypes.c_double()
        check(_trainer_get(self._handle, key, ctypes.byref(v)))
        return v.value

    @property
    def steps_done(self) -> int:
        return int(self._get(1))

    @property
    def learning_rate(self) -> float:
        """Learning rate of the last step."""
        return self._get(3)

    @property
    def grad_norm(self) -> float:
        """Global gradient norm of the last step, before clipping."""
        return self._get(4)

    def set_comm(self, comm: Communicator | None, bucket_bytes: int = 0) -> None:
        """Train data-parallel over comm (None: one rank): every rank passes
        the same global batch to step() and trains on its shard; gradients
        are all-reduced in buckets of about bucket_bytes (0: 25 MB)."""
        check(_trainer_set_comm(self._handle, comm._handle if comm is not None else None, int(bucket_bytes)))

    def save(self, path, data_position=(0, 0)) -> None:
        """Training state (weights, steps, moments, RNG) for a bit-identical resume."""
        check(_trainer_save(self._handle, str(path).encode(), _U64x2(*data_position)))

    def resume(self, path) -> tuple[int, int]:
        pos = _U64x2()
        check(_trainer_resume(self._handle, str(path).encode(), pos))
        return int(pos[0]), int(pos[1])


__all__ = ["Communicator", "Trainer", "np"]
