"""The encoder: creation, quantization, parameters by HF name, forward and
backward, on numpy arrays."""
from __future__ import annotations

import ctypes

import numpy as np

from ._lib import Handle, check, declare
from .core import Context, QuantConfig

_ARCHS = {"roberta": 0, "camembert": 0, "xlm-roberta": 0, "bert": 1}
_TASKS = {"mlm": 1, "token-classification": 2, "sequence-classification": 3}
OPTIONS_VERSION = 1
LOAD_OPTIONS_VERSION = 2
LOAD_PARTIAL = 1


class ModelOptions(ctypes.Structure):
    """Mirror of qat_model_options (version 1)."""
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("arch", ctypes.c_int),
        ("task", ctypes.c_int),
        ("vocab_size", ctypes.c_int64),
        ("hidden_size", ctypes.c_int64),
        ("num_layers", ctypes.c_int64),
        ("num_heads", ctypes.c_int64),
        ("intermediate_size", ctypes.c_int64),
        ("max_position_embeddings", ctypes.c_int64),
        ("type_vocab_size", ctypes.c_int64),
        ("pad_token_id", ctypes.c_int64),
        ("num_labels", ctypes.c_int64),
        ("layer_norm_eps", ctypes.c_double),
        ("tie_word_embeddings", ctypes.c_int),
        ("hidden_dropout", ctypes.c_double),
        ("attention_dropout", ctypes.c_double),
        ("classifier_dropout", ctypes.c_double),
    ]


_P = ctypes.c_void_p
_F = ctypes.POINTER(ctypes.c_float)
_I = ctypes.POINTER(ctypes.c_int32)
class LoadOptions(ctypes.Structure):
    """Mirror of qat_load_options (version 2)."""
    _fields_ = [
        ("version", ctypes.c_uint32),
        ("task", ctypes.c_int),
        ("num_labels", ctypes.c_int64),
        ("quant", ctypes.c_char_p),
        ("flags", ctypes.c_uint32),
    ]


_opts_init = declare("qat_model_options_init", [ctypes.POINTER(ModelOptions), ctypes.c_uint32])
_create = declare("qat_model_create", [_P, ctypes.POINTER(ModelOptions), ctypes.POINTER(_P)])
_free = declare("qat_model_free", [_P], None)
_load_init = declare("qat_load_options_init", [ctypes.POINTER(LoadOptions), ctypes.c_uint32])
_load = declare("qat_model_load", [_P, ctypes.c_char_p, ctypes.POINTER(LoadOptions), ctypes.POINTER(_P)])
_save = declare("qat_model_save", [_P, ctypes.c_char_p])
_set_label_names = declare("qat_model_set_label_names", [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t])
_label_name = declare("qat_model_label_name", [_P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)])
_evaluate = declare("qat_model_evaluate", [_P, _P, ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p,
                                           ctypes.POINTER(ctypes.c_double)])
_report_count = declare("qat_model_load_report_count", [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)])
_report_name = declare("qat_model_load_report_name", [_P, ctypes.c_int, ctypes.c_size_t,
                                                      ctypes.POINTER(ctypes.c_char_p)])
_set_quant = declare("qat_model_set_quant", [_P, _P])
_reset_quant = declare("qat_model_reset_quantizers", [_P])
_set_training = declare("qat_model_set_training", [_P, ctypes.c_int])
_count = declare("qat_model_parameter_count", [_P, ctypes.POINTER(ctypes.c_size_t)])
_info = declare("qat_model_parameter_info", [_P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                                             ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int64)])
_size = declare("qat_model_parameter_size", [_P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)])
_get = declare("qat_model_get_parameter", [_P, ctypes.c_char_p, _F, ctypes.c_size_t])
_set = declare("qat_model_set_parameter", [_P, ctypes.c_char_p, _F, ctypes.c_size_t])
_grad = declare("qat_model_get_gradient", [_P, ctypes.c_char_p, _F, ctypes.c_size_t])
_logits_size = declare("qat_model_logits_size", [_P, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(ctypes.c_size_t)])
_forward = declare("qat_model_forward", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64, _F, ctypes.c_size_t])
_backward = declare("qat_model_backward", [_P, _I, _I, _I, _I, ctypes.c_int64, ctypes.c_int64, _F])
_embed = declare("qat_model_embed", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
                                     ctypes.c_uint32, _F, ctypes.c_size_t])
_embed_backward = declare("qat_model_embed_backward", [_P, _I, _I, _I, ctypes.c_int64, ctypes.c_int64,
                                                       ctypes.c_int, ctypes.c_uint32, _F, ctypes.c_size_t])
_get_pooling = declare("qat_model_pooling", [_P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint32)])
_set_pooling = declare("qat_model_set_pooling", [_P, ctypes.c_int, ctypes.c_uint32])
_max_seq_length = declare("qat_model_max_seq_length", [_P, ctypes.POINTER(ctypes.c_int64)])
_POOLING = {"cls": 0, "mean": 1}
POOLING_MODEL = 2  # QAT_POOLING_MODEL: the model's own (its sentence-transformers checkpoint's)
EMBED_NORMALIZE = 1


def _pooling_args(pooling, normalize) -> tuple[int, int]:
    """(qat_pooling, flags) for embed(): pooling None is the model's own
    (with its normalisation, plus normalize=True's); else 'cls' or 'mean'
    with normalize (None: False)."""
    if pooling is None:
        return POOLING_MODEL, EMBED_NORMALIZE if normalize else 0
    if pooling not in _POOLING:
        raise ValueError(f"pooling must be None (the model's own), 'cls' or 'mean', got {pooling!r}")
    return _POOLING[pooling], EMBED_NORMALIZE if normalize else 0


def _read_pooling(fn, handle) -> tuple[str, bool]:
    p, f = ctypes.c_int(), ctypes.c_uint32()
    check(fn(handle, ctypes.byref(p), ctypes.byref(f)))
    return {v: k for k, v in _POOLING.items()}[p.value], bool(f.value & EMBED_NORMALIZE)


def _read_max_seq_length(fn, handle) -> int | None:
    n = ctypes.c_int64()
    check(fn(handle, ctypes.byref(n)))
    return n.value or None


def _ints(a, shape=None, name="array"):
    if a is None:
        return None, None
    arr = np.ascontiguousarray(a, dtype=np.int32)
    want_ndim = len(shape) if shape is not None else 2
    if arr.ndim != want_ndim:
        what = "(batch,)" if want_ndim == 1 else "(batch, seq_len)"
        raise ValueError(f"{name} must be {want_ndim}-D {what}, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr, arr.ctypes.data_as(_I)


def _quant(quant):
    if quant is None or isinstance(quant, QuantConfig):
        return quant
    return QuantConfig(str(quant))


class Model(Handle):
    """A BERT-class encoder with a masked-LM, token-classification or
    sequence-classification head (HF's *ForSequenceClassification: logits
    (batch, num_labels) from the first token; labels (batch,)).

    Model.create(arch="roberta", task="mlm", hidden_size=..., quant="E6W1.58A6")
    Model.load("path/to/hf-dir", quant="E6W1.58A6", task="token-classification", num_labels=9)
    Model.load("path/to/hf-dir", task="sequence-classification", num_labels=3)
    """

    _free = staticmethod(_free)

    def __init__(self, handle: ctypes.c_void_p, context: Context, task: str):
        self._handle = handle
        self.context = context  # the C model holds its own reference; this one is for model.context
        self.task = task

    @classmethod
    def create(cls, *, arch: str = "roberta", task: str = "mlm", context: Context | None = None,
               quant: str | QuantConfig | None = None, **dims) -> "Model":
        """A freshly initialised model; dims are qat_model_options fields
        (vocab_size, hidden_size, num_layers, num_heads, intermediate_size,
        max_position_embeddings, type_vocab_size, pad_token_id, num_labels,
        layer_norm_eps, tie_word_embeddings, hidden_dropout, attention_dropout,
        classifier_dropout)."""
        if arch not in _ARCHS:
            raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(_ARCHS)}")
        if task not in _TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(_TASKS)}")
        opts = ModelOptions()
        check(_opts_init(ctypes.byref(opts), OPTIONS_VERSION))
        opts.arch = _ARCHS[arch]
        opts.task = _TASKS[task]
        names = {f for f, _ in ModelOptions._fields_}
        for key, value in dims.items():
            if key not in names or key in ("version", "arch", "task"):
                raise TypeError(f"unknown model option {key!r}")
            setattr(opts, key, value)
        context = context or Context()
        handle = _P()
        check(_create(context.handle, ctypes.byref(opts), ctypes.byref(handle)))
        model = cls(handle, context, task)
        if quant is not None:
            model.set_quant(quant)
        return model

    @classmethod
    def load(cls, path, quant: str | QuantConfig | None = None, task: str = "mlm", num_labels: int | None = None,
             context: Context | None = None, partial: bool = False) -> "Model":
        """Loads a Hugging Face checkpoint directory (config.json +
        model.safetensors or pytorch_model.bin). quant None keeps the config
        saved by Model.save, else FP32. Every encoder tensor must be in the
        checkpoint, with config.json's shapes (QatError otherwise), unless
        partial=True; heads it lacks are new (see missing_keys,
        unexpected_keys, skipped_keys). NaN or infinite weights raise."""
        if task not in _TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(_TASKS)}")
        opts = LoadOptions()
        check(_load_init(ctypes.byref(opts), LOAD_OPTIONS_VERSION))
        opts.flags = LOAD_PARTIAL if partial else 0
        opts.task = _TASKS[task]
        opts.num_labels = int(num_labels or 0)
        opts.quant = str(quant).encode() if quant is not None else None
        context = context or Context()
        handle = _P()
        check(_load(context.handle, str(path).encode(), ctypes.byref(opts), ctypes.byref(handle)))
        return cls(handle, context, task)

    def save(self, path) -> None:
        """Writes an HF-loadable directory (config.json, model.safetensors)
        plus the quantizer state."""
        check(_save(self._handle, str(path).encode()))

    def _report(self, kind: int) -> list[str]:
        count = ctypes.c_size_t()
        check(_report_count(self._handle, kind, ctypes.byref(count)))
        out = []
        for i in range(count.value):
            name = ctypes.c_char_p()
            check(_report_name(self._handle, kind, i, ctypes.byref(name)))
            out.append(name.value.decode())
        return out

    @property
    def label_names(self) -> list[str] | None:
        """Token / sequence classification: label names by id (None when unnamed)."""
        names = []
        i = 0
        while True:
            name = ctypes.c_char_p()
            status = _label_name(self._handle, i, ctypes.byref(name))
            if status != 0:
                return names or None
            names.append(name.value.decode())
            i += 1

    @label_names.setter
    def label_names(self, names) -> None:
        arr = (ctypes.c_char_p * len(names))(*[n.encode() for n in names])
        check(_set_label_names(self._handle, arr, len(names)))

    def evaluate(self, tokenizer, conll_path, max_seq_len: int = 512, results_path=None) -> float:
        """F1 (entity F1 for IOB2 tags, token micro F1 otherwise) on a CoNLL
        file; for a sequence classifier, the accuracy on a .tsv / .jsonl file
        (results_path also gets the macro / weighted F1 and intervals)."""
        f1 = ctypes.c_double()
        check(_evaluate(self._handle, tokenizer._handle, str(conll_path).encode(), max_seq_len,
                        None if results_path is None else str(results_path).encode(), ctypes.byref(f1)))
        return f1.value

    @property
    def missing_keys(self) -> list[str]:
        """Parameters the loaded checkpoint lacked (freshly initialised)."""
        return self._report(0)

    @property
    def unexpected_keys(self) -> list[str]:
        """Checkpoint tensors the model did not use."""
        return self._report(1)

    @property
    def skipped_keys(self) -> list[str]:
        """Non-float checkpoint tensors left out by the reader."""
        return self._report(2)

    def set_quant(self, quant: str | QuantConfig) -> None:
        """Sets the quant config ('E6W1.58A6', ...); LSQ weight steps are
        initialised from the current weights, activation steps on the next forward."""
        cfg = _quant(quant)
        check(_set_quant(self._handle, cfg.handle))

    def reset_quantizers(self) -> None:
        check(_reset_quant(self._handle))

    def train(self, mode: bool = True) -> "Model":
        """Dropout on (training) or off."""
        check(_set_training(self._handle, int(bool(mode))))
        return self

    def eval(self) -> "Model":
        return self.train(False)

    def parameter_names(self) -> list[str]:
        count = ctypes.c_size_t()
        check(_count(self._handle, ctypes.byref(count)))
        names = []
        for i in range(count.value):
            name = ctypes.c_char_p()
            check(_info(self._handle, i, ctypes.byref(name), None, None))
            names.append(name.value.decode())
        return names

    def parameter_shape(self, name: str) -> tuple[int, ...]:
        count = ctypes.c_size_t()
        check(_count(self._handle, ctypes.byref(count)))
        for i in range(count.value):
            n = ctypes.c_char_p()
            ndim = ctypes.c_int()
            shape = (ctypes.c_int64 * 4)()
            check(_info(self._handle, i, ctypes.byref(n), ctypes.byref(ndim), shape))
            if n.value.decode() == name:
                return tuple(shape[:ndim.value])
        size = ctypes.c_size_t()
        check(_size(self._handle, name.encode(), ctypes.byref(size)))  # aliases (tied decoder...)
        return (size.value,)

    def _read(self, fn, name: str) -> np.ndarray:
        shape = self.parameter_shape(name)
        out = np.empty(int(np.prod(shape)), dtype=np.float32)
        check(fn(self._handle, name.encode(), out.ctypes.data_as(_F), out.size))
        return out.reshape(shape)

    def get_parameter(self, name: str) -> np.ndarray:
        return self._read(_get, name)

    def get_gradient(self, name: str) -> np.ndarray:
        return self._read(_grad, name)

    def set_parameter(self, name: str, value) -> None:
        arr = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        check(_set(self._handle, name.encode(), arr.ctypes.data_as(_F), arr.size))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> np.ndarray:
        """int arrays (B, L) -> float32 logits (B, L, V or num_labels), or
        (B, num_labels) for sequence classification."""
        ids, ids_p = _ints(input_ids, name="input_ids")
        mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        b, n = ids.shape
        count = ctypes.c_size_t()
        check(_logits_size(self._handle, b, n, ctypes.byref(count)))
        out = np.empty(count.value, dtype=np.float32)
        check(_forward(self._handle, ids_p, mask_p, types_p, b, n, out.ctypes.data_as(_F), out.size))
        return out.reshape(b, -1) if self.task == "sequence-classification" else out.reshape(b, n, -1)

    def backward(self, input_ids, attention_mask, labels, token_type_ids=None) -> float:
        """Forward + backward: mean cross-entropy over labels != -100; the
        gradients are then readable with get_gradient(). labels: (B, L), or
        (B,) for sequence classification."""
        ids, ids_p = _ints(input_ids, name="input_ids")
        mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        label_shape = ids.shape[:1] if self.task == "sequence-classification" else ids.shape
        lab, lab_p = _ints(labels, label_shape, "labels")
        loss = ctypes.c_float()
        check(_backward(self._handle, ids_p, mask_p, types_p, lab_p, ids.shape[0], ids.shape[1], ctypes.byref(loss)))
        return loss.value

    def _embed_args(self, input_ids, attention_mask, token_type_ids, pooling, normalize):
        mode, flags = _pooling_args(pooling, normalize)
        ids, ids_p = _ints(input_ids, name="input_ids")
        mask, mask_p = _ints(attention_mask, ids.shape, "attention_mask")
        types, types_p = _ints(token_type_ids, ids.shape, "token_type_ids")
        keep = (ids, mask, types)  # alive while the pointers are used
        return keep, (ids_p, mask_p, types_p, ids.shape[0], ids.shape[1], mode, flags)

    @property
    def pooling(self) -> tuple[str, bool]:
        """The model's own pooling, ('mean' | 'cls', normalize): as its
        sentence-transformers checkpoint says (modules.json,
        1_Pooling/config.json, a Normalize module), or as set; ('mean',
        False) when nothing said. QatError for a checkpoint pooling libqat
        does not run (max pooling, a Dense module...)."""
        return _read_pooling(_get_pooling, self._handle)

    @property
    def max_seq_length(self) -> int | None:
        """The tokens (specials included) its sentence-transformers
        checkpoint truncates a text at before embedding it
        (sentence_bert_config.json), or None when it says none. embed()
        truncates nothing: cut input_ids at this length first."""
        return _read_max_seq_length(_max_seq_length, self._handle)

    def set_pooling(self, pooling: str, normalize: bool = False) -> None:
        """Sets the model's own pooling (saved with save(), exported to .qatp)."""
        if pooling not in _POOLING:
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        check(_set_pooling(self._handle, _POOLING[pooling], EMBED_NORMALIZE if normalize else 0))

    def embed(self, input_ids, attention_mask=None, token_type_ids=None, pooling=None,
              normalize=None) -> np.ndarray:
        """Sentence embeddings (B, hidden): the last hidden state pooled.
        pooling None (default): the model's own (see pooling), normalised if
        it says so; 'cls' or 'mean' over attended tokens, L2-normalised with
        normalize=True."""
        keep, args = self._embed_args(input_ids, attention_mask, token_type_ids, pooling, normalize)
        out = np.empty((args[3], self._hidden_size()), dtype=np.float32)
        check(_embed(self._handle, *args, out.ctypes.data_as(_F), out.size))
        del keep
        return out

    def embed_backward(self, input_ids, attention_mask, d_embeddings, token_type_ids=None, pooling=None,
                       normalize=None) -> None:
        """Forward + backward from the gradient of your loss with respect
        to embed()'s output (B, hidden), with embed()'s pooling arguments;
        then read get_gradient()."""
        keep, args = self._embed_args(input_ids, attention_mask, token_type_ids, pooling, normalize)
        d = np.ascontiguousarray(d_embeddings, dtype=np.float32)
        if d.shape != (args[3], self._hidden_size()):
            raise ValueError(f"d_embeddings has shape {d.shape}, expected {(args[3], self._hidden_size())}")
        check(_embed_backward(self._handle, *args, d.ctypes.data_as(_F), d.size))
        del keep

    def _hidden_size(self) -> int:
        for name in self.parameter_names():
            if name.endswith("embeddings.LayerNorm.weight"):
                return self.parameter_shape(name)[0]
        raise RuntimeError("model has no embeddings.LayerNorm.weight")
