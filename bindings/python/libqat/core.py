"""Version, backends, contexts and quant configs."""
from __future__ import annotations

import ctypes

from ._lib import Handle, check, declare, lib

_list_create = declare("qat_backend_list_create", [ctypes.POINTER(ctypes.c_void_p)])
_list_free = declare("qat_backend_list_free", [ctypes.c_void_p], None)
_list_count = declare("qat_backend_list_count", [ctypes.c_void_p], ctypes.c_int)
_list_name = declare("qat_backend_list_name", [ctypes.c_void_p, ctypes.c_int], ctypes.c_char_p)
_ctx_create = declare("qat_context_create", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)])
_ctx_free = declare("qat_context_free", [ctypes.c_void_p], None)
_ctx_backend = declare("qat_context_backend", [ctypes.c_void_p], ctypes.c_char_p)
_ctx_set = declare("qat_context_set_int", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64])
_ctx_get = declare("qat_context_get_int", [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64)])
_ctx_warning_count = declare("qat_context_warning_count", [ctypes.c_void_p], ctypes.c_size_t)
_ctx_warning = declare("qat_context_warning", [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_char_p)
_ctx_clear_warnings = declare("qat_context_clear_warnings", [ctypes.c_void_p], None)
_qc_parse = declare("qat_quant_config_parse", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)])
_qc_free = declare("qat_quant_config_free", [ctypes.c_void_p], None)
_qc_to_string = declare("qat_quant_config_to_string",
                        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)])
_qc_get = declare("qat_quant_config_get", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)])
_qc_set_switch = declare("qat_quant_config_set_switch", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int])
_qc_get_switch = declare("qat_quant_config_get_switch", [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)])
_qc_set_profile = declare("qat_quant_config_set_profile", [ctypes.c_void_p, ctypes.c_int])
_qc_get_profile = declare("qat_quant_config_get_profile", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)])

_THREADS, _SEED, _DETERMINISTIC, _STRICT_IOB2, _PRECISION, _FUSED_ATTENTION = 1, 2, 3, 4, 5, 6
PRECISIONS = ("fp32", "tf32", "bf16")  # qat_precision's values, in order


def version() -> str:
    """Version of the loaded libqat, e.g. '0.1.0'."""
    return lib.qat_version().decode()


def backends() -> list[str]:
    """Backends usable on this machine, e.g. ['ref', 'cpu'] (one scan: each
    module is loaded and probed once per call)."""
    found = ctypes.c_void_p()
    check(_list_create(ctypes.byref(found)))
    try:
        return [_list_name(found, i).decode() for i in range(_list_count(found))]
    finally:
        _list_free(found)


class Context(Handle):
    """A backend instance ('ref', 'cpu', 'cuda', or None for the best one),
    its threads and its random seed. Models made with it keep it alive in
    the library: closing the context first is allowed."""

    _free = staticmethod(_ctx_free)

    def __init__(self, backend: str | None = None, threads: int | None = None, seed: int | None = None,
                 precision: str | None = None, fused_attention: bool | None = None):
        handle = ctypes.c_void_p()
        check(_ctx_create(backend.encode() if backend else None, ctypes.byref(handle)))
        self._handle = handle
        if threads is not None:
            self.threads = threads
        if seed is not None:
            self.seed = seed
        if precision is not None:
            self.precision = precision
        if fused_attention is not None:
            self.fused_attention = fused_attention

    @property
    def handle(self) -> ctypes.c_void_p:
        return self._handle

    @property
    def backend(self) -> str:
        return _ctx_backend(self._handle).decode()

    def _get(self, key: int) -> int:
        value = ctypes.c_int64()
        check(_ctx_get(self._handle, key, ctypes.byref(value)))
        return value.value

    @property
    def threads(self) -> int:
        return self._get(_THREADS)

    @threads.setter
    def threads(self, value: int) -> None:
        check(_ctx_set(self._handle, _THREADS, int(value)))

    @property
    def seed(self) -> int:
        return self._get(_SEED)

    @seed.setter
    def seed(self, value: int) -> None:
        check(_ctx_set(self._handle, _SEED, int(value)))

    @property
    def strict_iob(self) -> bool:
        """True: CoNLL files with IOB2 inconsistencies (an I-X after O or
        after another type) are refused; False (default): read as seqeval's
        default mode reads them, and reported in warnings."""
        return bool(self._get(_STRICT_IOB2))

    @strict_iob.setter
    def strict_iob(self, value: bool) -> None:
        check(_ctx_set(self._handle, _STRICT_IOB2, int(bool(value))))

    @property
    def precision(self) -> str:
        """GEMM precision policy: 'fp32', 'tf32' or 'bf16' (fp32 master
        weights under each). ref and cpu compute in fp32 only and refuse
        the others; cuda's default is $QAT_CUDA_PRECISION (fp32 if unset)."""
        return PRECISIONS[self._get(_PRECISION)]

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in PRECISIONS:
            raise ValueError(f"precision {value!r} is not one of {', '.join(PRECISIONS)}")
        check(_ctx_set(self._handle, _PRECISION, PRECISIONS.index(value)))

    @property
    def fused_attention(self) -> bool:
        """True: training runs the backend's fused attention, which keeps no
        [batch, heads, L, L] probabilities and recomputes them in the
        backward (less memory; slower on ref and cpu); False (default): the
        GEMM path that keeps them. Read when a model prepares a batch shape."""
        return bool(self._get(_FUSED_ATTENTION))

    @fused_attention.setter
    def fused_attention(self, value: bool) -> None:
        check(_ctx_set(self._handle, _FUSED_ATTENTION, int(bool(value))))

    @property
    def warnings(self) -> list[str]:
        """What calls using this context noticed without failing (the first
        16; see qat_context_warning_count for all)."""
        out = []
        for i in range(_ctx_warning_count(self._handle)):
            text = _ctx_warning(self._handle, i)
            if text is None:
                break
            out.append(text.decode())
        return out

    def clear_warnings(self) -> None:
        _ctx_clear_warnings(self._handle)

    def __repr__(self) -> str:
        return f"Context(backend={self.backend!r}, threads={self.threads})"


class QuantConfig(Handle):
    """A parsed ExWyAz quant config: QuantConfig('E6W1.58A6'),
    QuantConfig('E6W1.58A6@seed-code'), QuantConfig('E8W4(row)A8(lsq+)').

    Switches (docs/method.md section 10; 0 / False is the paper's behaviour):
    sharing (one quantizer per class), frozen_step (LSQ steps never learn,
    x / (s + 1e-8)), symmetric (BitNet activations in [-Qp, Qp]),
    mlm_head (the MLM head quantized during DAPT). `profile` is 'paper',
    'seed-code' or 'custom'; setting it sets every switch."""

    CLASSES = ("embedding", "weight", "activation")
    ALGOS = ("none", "lsq", "bitnet158", "lsq+")
    GRANULARITIES = ("tensor", "row", "token")
    SWITCHES = ("sharing", "frozen_step", "symmetric", "mlm_head")  # qat_quant_switch 1..4
    PROFILES = ("paper", "seed-code", "custom")
    _free = staticmethod(_qc_free)

    def __init__(self, text: str):
        handle = ctypes.c_void_p()
        check(_qc_parse(text.encode(), ctypes.byref(handle)))
        self._handle = handle

    @property
    def handle(self) -> ctypes.c_void_p:
        return self._handle

    def __str__(self) -> str:
        buf = ctypes.create_string_buffer(256)
        check(_qc_to_string(self._handle, buf, len(buf), None))
        return buf.value.decode()

    def describe(self) -> dict:
        """{'weight': {'algo': 'bitnet158', 'bits': 2, 'granularity': 'tensor'}, ...}"""
        out = {}
        for ci, cls in enumerate(self.CLASSES):
            vals = []
            for param in (1, 2, 3):
                v = ctypes.c_int()
                check(_qc_get(self._handle, ci, param, ctypes.byref(v)))
                vals.append(v.value)
            out[cls] = {"algo": self.ALGOS[vals[0]], "bits": vals[1], "granularity": self.GRANULARITIES[vals[2]]}
        out["switches"] = {name: self.switch(name) for name in self.SWITCHES}
        out["profile"] = self.profile
        return out

    def switch(self, name: str) -> bool:
        """The value of a switch (see the class docstring)."""
        v = ctypes.c_int()
        check(_qc_get_switch(self._handle, self._switch_id(name), ctypes.byref(v)))
        return bool(v.value)

    def set_switch(self, name: str, on: bool) -> "QuantConfig":
        check(_qc_set_switch(self._handle, self._switch_id(name), int(bool(on))))
        return self

    @property
    def profile(self) -> str:
        v = ctypes.c_int()
        check(_qc_get_profile(self._handle, ctypes.byref(v)))
        return self.PROFILES[v.value]

    @profile.setter
    def profile(self, name: str) -> None:
        if name not in self.PROFILES[:2]:
            raise ValueError(f"profile must be 'paper' or 'seed-code', not {name!r}")
        check(_qc_set_profile(self._handle, self.PROFILES.index(name)))

    def _switch_id(self, name: str) -> int:
        if name not in self.SWITCHES:
            raise ValueError(f"unknown switch {name!r}; expected one of {', '.join(self.SWITCHES)}")
        return self.SWITCHES.index(name) + 1

    def __repr__(self) -> str:
        return f"QuantConfig({str(self)!r})"
