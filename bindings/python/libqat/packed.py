"""Packed low-bit models (.qatp): export from a Model, integer CPU inference,
and the footprint / BitOPs estimate of docs/method.md section 8."""
from __future__ import annotations

import ctypes

import numpy as np

from ._lib import Handle, check, declare
from .model import Model, _ints, _pooling_args, _read_max_seq_length, _read_pooling
from .tokenizer import Tokenizer

_P = ctypes.c_void_p
_F = ctypes.POINTER(ctypes.c_float)
_I = ctypes.POINTER(ctypes.c_int32)
EXPORT_OPTIONS_VERSION = 1
_TERNARY = {"2": 0, "2bit": 0, "1.6": 1, "1.6bit": 1}
_INFO = {"format_version": 1, "arch": 2, "task": 3, "vocab_size": 4, "hidden_size": 5, "num_layers": 6,
         "num_heads": 7, "intermediate_size": 8, "max_positions": 9, "num_labels": 10, "pad_token_id": 11,
         "file_bytes": 12, "integer_linears": 13, "has_tokenizer": 14, "has_label_names": 15, "isa": 16}


class ExportOptions(ctypes.Structure):
    """Mirror of qat_export_options (version 1)."""
    _fields_ = [("version", ctypes.c_uint32), ("tokenizer_path", ctypes.c_char_p), ("ternary", ctypes.c_int)]


_opts_init = declare("qat_export_options_init", [ctypes.POINTER(ExportOptions), ctypes.c_uint32])
_export = declare("qat_packed_export", [_P, ctypes.c_char_p, ctypes.POINTER(ExportOptions)])
_load = declare("qat_packed_model_load", [ctypes.c_char_p, ctypes.POINTER(_P)])
_load_mem = declare("qat_packed_model_load_memory", [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_P)])
_free = declare("qat_packed_model_free", [_P], None)
_set_int = declare("qat_packed_model_set_int", [_P, ctypes.c_int, ctypes.c_int64])
_get_int = declare("qat_packed_model_get_int", [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_int64)])
_info = declare("qat_packed_model_info", [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_int64)])
_quant = declare("qat_packed_model_quant", [_P, ctypes.POINTER(ctypes.c_char_p)])
_tokenizer = declare("qat_packed_model_tokenizer", [_P, ctypes.POINTER(_P)])
_label_name = declare("qat_packed_model_label_name", [_P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)])
_logits_size = declare("qat_packed_model_logits_size", [_P, ctypes.c_int64, ctypes.c_int64,
                                                         ctypes.POINTER(ctypes.c_size_t)])
_forward = declare("qat_packed_model_forward", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64, _F, ctypes.c_size_t])
_embed = declare("qat_packed_model_embed", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
                                             ctypes.c_uint32, _F, ctypes.c_size_t])
_get_pooling = declare("qat_packed_model_pooling", [_P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint32)])
_max_seq_length = declare("qat_packed_model_max_seq_length", [_P, ctypes.POINTER(ctypes.c_int64)])
_isa_name_of = declare("qat_packed_isa_name_of", [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p)])
_estimate = declare("qat_estimate", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64,
                                     ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)])


def _isa_values() -> dict[str, int]:
    """QAT_PACKED_ISA's values by name, as the library names them."""
    values, name = {}, ctypes.c_char_p()
    while _isa_name_of(len(values), ctypes.byref(name)) == 0:
        values[name.value.decode()] = len(values)
    return values


_ISA = _isa_values()


def isa_paths() -> list[str]:
    """The integer kernels' paths by name, 'auto' first, whether or not this
    machine can run them (PackedModel.set_isa refuses those it cannot)."""
    return list(_ISA)


def export(model: Model, path, tokenizer=None, ternary: str = "2") -> None:
    """Writes `model` (calibrated: LSQ activation steps set) to a .qatp file,
    embedding the tokenizer file or HF directory `tokenizer` if given."""
    opts = ExportOptions()
    check(_opts_init(ctypes.byref(opts), EXPORT_OPTIONS_VERSION))
    tok = None if tokenizer is None else str(tokenizer).encode()
    opts.tokenizer_path = tok
    opts.ternary = _TERNARY[str(ternary)]
    check(_export(model._handle, str(path).encode(), ctypes.byref(opts)))


def estimate(config_path, quant: str = "FP32", seq_len: int = 512) -> tuple[float, float]:
    """(size in bytes, BitOPs) of docs/method.md section 8 for a config.json and quant config."""
    size, bitops = ctypes.c_double(), ctypes.c_double()
    check(_estimate(str(config_path).encode(), str(quant).encode(), int(seq_len), ctypes.byref(size),
                    ctypes.byref(bitops)))
    return size.value, bitops.value


class _BorrowedTokenizer(Tokenizer):
    """The packed model's own tokenizer: freed with the model, not here. It
    refuses calls (QatError) once the model is closed, as a closed handle does."""

    def __init__(self, handle, owner):
        self._borrowed = handle
        self._owner = owner

    @property
    def _handle(self):
        return self._borrowed if self._owner._handle else None

    def close(self) -> None:
        self._borrowed = None


class PackedModel(Handle):
    """A packed low-bit model running integer GEMMs on the CPU.

    >>> pm = PackedModel("model.qatp")
    >>> logits = pm.forward(ids, attention_mask)     # (B, L, classes)
    """

    _free = staticmethod(_free)

    def __init__(self, path=None, data: bytes | None = None):
        handle = _P()
        if data is not None:
            check(_load_mem(data, len(data), ctypes.byref(handle)))
        else:
            check(_load(str(path).encode(), ctypes.byref(handle)))
        self._handle = handle

    def info(self, key: str) -> int:
        v = ctypes.c_int64()
        check(_info(self._handle, _INFO[key], ctypes.byref(v)))
        return v.value

    @property
    def quant(self) -> str:
        s = ctypes.c_char_p()
        check(_quant(self._handle, ctypes.byref(s)))
        return s.value.decode()

    @property
    def threads(self) -> int:
        v = ctypes.c_int64()
        check(_get_int(self._handle, 1, ctypes.byref(v)))
        return v.value

    @threads.setter
    def threads(self, n: int) -> None:
        check(_set_int(self._handle, 1, int(n)))

    @property
    def isa(self) -> str:
        """The integer kernels' path in use: 'scalar', 'avx2', 'avx512vnni', 'onednn', 'neon', 'amx', 'i8mm' or 'avx512vbmi'
        (what set_isa's choice, or auto, resolves to on this machine now)."""
        return {v: k for k, v in _ISA.items()}[self.info("isa")]

    def set_isa(self, isa: str) -> None:
        """'auto' (QAT_ISA, else the best), 'scalar', 'avx2', 'avx512vnni', 'onednn', 'neon', 'amx', 'i8mm', 'avx512vbmi'."""
        if isa not in _ISA:
            raise ValueError(f"isa {isa!r} is not one of {', '.join(_ISA)}")
        check(_set_int(self._handle, 2, _ISA[isa]))

    @property
    def label_names(self) -> list[str] | None:
        """Class names by id (the exported model's id2label), or None when
        the file stores none (MLM models, models without names, older files)."""
        if not self.info("has_label_names"):
            return None
        names = []
        for i in range(self.info("num_labels")):
            name = ctypes.c_char_p()
            check(_label_name(self._handle, i, ctypes.byref(name)))
            names.append(name.value.decode())
        return names

    def tokenizer(self) -> Tokenizer:
        h = _P()
        check(_tokenizer(self._handle, ctypes.byref(h)))
        return _BorrowedTokenizer(h, self)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
        """int arrays (B, L) -> float32 logits (B, L, classes), or (B, classes)
        for a sequence classifier (one row per sequence)."""
        ids, ids_p = _ints(input_ids, name="input_ids")
        _mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        _types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        b, n = ids.shape
        count = ctypes.c_size_t()
        check(_logits_size(self._handle, b, n, ctypes.byref(count)))
        out = np.empty(count.value, dtype=np.float32)
        check(_forward(self._handle, ids_p, mask_p, types_p, b, n, out.ctypes.data_as(_F), out.size))
        if self.info("task") == 3:  # QAT_TASK_SEQUENCE_CLASSIFICATION
            return out.reshape(b, -1)
        return out.reshape(b, n, -1)

    @property
    def pooling(self) -> tuple[str, bool]:
        """The exported model's own pooling, ('mean' | 'cls', normalize), as
        Model.pooling was at export."""
        return _read_pooling(_get_pooling, self._handle)

    @property
    def max_seq_length(self) -> int | None:
        """The exported model's max_seq_length, as Model.max_seq_length."""
        return _read_max_seq_length(_max_seq_length, self._handle)

    def embed(self, input_ids, attention_mask=None, token_type_ids=None, pooling=None,
              normalize=None) -> np.ndarray:
        """Sentence embeddings (B, hidden) from the integer encoder, pooled
        as Model.embed does (pooling None: the model's own)."""
        mode, flags = _pooling_args(pooling, normalize)
        ids, ids_p = _ints(input_ids, name="input_ids")
        _mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        _types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        b, n = ids.shape
        out = np.empty((b, self.info("hidden_size")), dtype=np.float32)
        check(_embed(self._handle, ids_p, mask_p, types_p, b, n, mode, flags, out.ctypes.data_as(_F), out.size))
        return out
