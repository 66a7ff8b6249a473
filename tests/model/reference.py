"""PyTorch reference of libqat's encoder: Hugging Face's own RoBERTa/BERT
classes with the quantizers of docs/method.md section 4 patched in, written the way the
study's paper defines them (LSQ with the step gradient scaled by g, BitNet
b1.58 absmean ternary weights and per-token absmax activations, both with the
straight-through estimator)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


CLASS_KEYS = ("E", "W", "A")
SWITCHES = ("shared", "frozen-step", "symmetric", "mlm-head")


def parse_config(text: str) -> dict:
    """The ExWyAz notation of docs/method.md sections 2 and 10, written independently of
    the C parser: {'E'|'W'|'A': None or {'algo': 'lsq'|'lsq+'|'bitnet', 'bits',
    'gran': 'tensor'|'row'|'token'}, 'switches': set of SWITCHES}.
    'E6W1.58A6' -> W bitnet (2 bits) per tensor, A bitnet per token;
    '@seed-code' sets every switch and per-row BitNet weight scales."""
    import re
    base, _, tail = text.partition("@")
    switches, seed = set(), False
    for word in filter(None, tail.split(",")):
        if word == "seed-code":
            switches, seed = set(SWITCHES), True
        elif word == "paper":
            switches, seed = set(), False
        else:
            assert word in SWITCHES, word
            switches.add(word)
    out = {"switches": switches}
    if base.upper() in ("FP32", "NONE"):
        out.update(E=None, W=None, A=None)
        return out
    m = re.fullmatch(r"E(\d+)(?:\(([^)]*)\))?W(1\.58|\d+)(?:\(([^)]*)\))?A(\d+)(?:\(([^)]*)\))?", base)
    assert m, text
    e, eo, w, wo, a, ao = m.groups()
    opts = {k: set(filter(None, (o or "").split(","))) for k, o in zip(CLASS_KEYS, (eo, wo, ao))}
    ternary = w == "1.58"
    bits = {"E": int(e), "W": 2 if ternary else int(w), "A": int(a)}
    for k in CLASS_KEYS:
        if bits[k] == 32:
            out[k] = None
            continue
        algo = "bitnet" if (k == "W" and ternary) or (k == "A" and ternary) else "lsq"
        for o in ("lsq", "lsq+", "bitnet"):
            if o in opts[k]:
                algo = o
        gran = "token" if k == "A" and algo == "bitnet" else "tensor"
        if k == "W" and algo == "bitnet" and seed and not ({"tensor", "row"} & opts[k]):
            gran = "row"
        for o in ("tensor", "row", "token"):
            if o in opts[k]:
                gran = o
        out[k] = {"algo": algo, "bits": bits[k], "gran": gran}
    return out


def _grad_scaled(p: torch.Tensor, g: float) -> torch.Tensor:
    """Value p, gradient g * dL/dp (LSQ's gradient scale)."""
    return (p - p * g).detach() + p * g


def _round_ste(v: torch.Tensor) -> torch.Tensor:
    return (v.round() - v).detach() + v


class LsqQuantizer(nn.Module):
    """LSQ (Esser et al. 2020), signed, as docs/method.md section 4; per tensor or one
    step per output row (per-channel, g = 1 / sqrt(in_features * Qp)).
    frozen: the seed code's variant (docs/method.md section 10): the step never
    learns, the input gradient passes everywhere, x / (s + 1e-8)."""

    def __init__(self, bits: int, rows: int = 0, frozen: bool = False):
        super().__init__()
        self.bits, self.rows, self.frozen = bits, rows, frozen
        self.qn = -(2 ** (bits - 1))
        self.qp = 2 ** (bits - 1) - 1
        self.step = nn.Parameter(torch.ones(rows or 1), requires_grad=not frozen)
        self.initialized = False

    def init_from(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            if self.rows:
                s = 2 * x.abs().mean(dim=1) / math.sqrt(self.qp)
            else:
                s = (2 * x.abs().mean() / math.sqrt(self.qp)).reshape(1)
            # An all-zero row (a padding embedding): any positive step
            # quantizes it exactly; libqat documents 1e-8.
            self.step.copy_(torch.where(s > 0, s, torch.full_like(s, 1e-8)))
        self.initialized = True

    def forward(self, x: torch.Tensor, g_numel: int | None = None) -> torch.Tensor:
        if not self.initialized:
            self.init_from(x)
        s = self.step.view(-1, 1) if self.rows else self.step
        if self.frozen:
            q = torch.clamp(x / (s + 1e-8), self.qn, self.qp).round() * s
            return x + (q - x).detach()
        per_step = x.shape[1] if self.rows else (g_numel or x.numel())
        s = _grad_scaled(s, 1.0 / math.sqrt(per_step * self.qp))
        v = torch.clamp(x / s, self.qn, self.qp)
        return _round_ste(v) * s


def lsq_plus_init(x: np.ndarray, bits: int, bins: int = 2048, grid: int = 64):
    """The documented LSQ+ initialisation (docs/quantizers.md): a histogram
    of x (count, sum, sum of squares per bin) and the clipped range [lo, hi]
    with the least quantisation MSE, each bin quantized at its mean."""
    x = x.astype(np.float64).ravel()
    qp = float(2 ** bits - 1)
    mn, mx = float(x.min()), float(x.max())
    rng = mx - mn
    if not rng > 0:
        return 1e-8, mn
    idx = np.minimum(np.floor((x - mn) * (bins / rng)).astype(np.int64), bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    total = np.bincount(idx, weights=x, minlength=bins)
    sumsq = np.bincount(idx, weights=x * x, minlength=bins)
    keep = count > 0
    count, total, sumsq = count[keep], total[keep], sumsq[keep]
    mean = total / count
    best = (np.inf, mn, rng / qp)
    for i in range(grid // 2):
        for j in range(grid // 2):
            lo, hi = mn + rng * i / grid, mx - rng * j / grid
            s = (hi - lo) / qp
            c = np.round(np.clip((mean - lo) / s, 0.0, qp)) * s + lo
            err = float(np.sum(count * c * c - 2.0 * c * total + sumsq))
            if err < best[0]:
                best = (err, lo, s)
    return best[2], best[1]


class LsqPlusQuantizer(nn.Module):
    """LSQ+ (Bhalgat et al. 2020) for activations: unsigned [0, 2^b - 1],
    learned step and offset beta, both with LSQ's gradient scale:
        x_hat = round(clamp((x - beta) / s, 0, Qp)) * s + beta."""

    def __init__(self, bits: int, frozen: bool = False):
        super().__init__()
        self.bits, self.frozen = bits, frozen
        self.qp = 2 ** bits - 1
        self.step = nn.Parameter(torch.ones(1), requires_grad=not frozen)
        self.offset = nn.Parameter(torch.zeros(1), requires_grad=not frozen)
        self.initialized = False

    def init_from(self, x: torch.Tensor) -> None:
        s, b = lsq_plus_init(x.detach().numpy(), self.bits)
        with torch.no_grad():
            self.step.fill_(s)
            self.offset.fill_(b)
        self.initialized = True

    def forward(self, x: torch.Tensor, g_numel: int | None = None) -> torch.Tensor:
        if not self.initialized:
            self.init_from(x)
        if self.frozen:
            q = torch.clamp((x - self.offset) / (self.step + 1e-8), 0, self.qp).round() * self.step + self.offset
            return x + (q - x).detach()
        g = 1.0 / math.sqrt((g_numel or x.numel()) * self.qp)
        s, b = _grad_scaled(self.step, g), _grad_scaled(self.offset, g)
        v = torch.clamp((x - b) / s, 0, self.qp)
        return _round_ste(v) * s + b


def bitnet_weight(w: torch.Tensor, per_row: bool = False) -> torch.Tensor:
    gamma = (w.abs().mean(dim=1, keepdim=True) if per_row else w.abs().mean()).clamp(min=1e-5)
    q = torch.clamp(torch.round(w / gamma), -1, 1) * gamma
    return w + (q - w).detach()


def bitnet_activation(x: torch.Tensor, bits: int, symmetric: bool = False) -> torch.Tensor:
    qp = 2 ** (bits - 1) - 1
    qn = -qp if symmetric else -(2 ** (bits - 1))
    m = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    q = torch.clamp(torch.round(x * qp / m), qn, qp) * m / qp
    return x + (q - x).detach()


class Quantizers:
    """Makes the quantizer of each tensor: its own, or (switch 'shared') one
    per class, kept on the base model as `shared_quantizers` and used by
    every layer without being registered again (one state-dict entry)."""

    def __init__(self, cfg: dict, base: nn.Module):
        self.cfg = cfg
        self.frozen = "frozen-step" in cfg["switches"]
        self.shared = None
        if "shared" in cfg["switches"]:
            base.shared_quantizers = nn.ModuleDict()
            self.shared = base.shared_quantizers

    def make(self, key: str, rows: int = 0):
        c = self.cfg[key]
        if not c or c["algo"] == "bitnet":
            return None
        name = {"E": "embedding", "W": "weight", "A": "activation"}[key]
        if self.shared is not None and name in self.shared:
            return self.shared[name]
        if c["algo"] == "lsq+":
            q = LsqPlusQuantizer(c["bits"], self.frozen)
        else:
            q = LsqQuantizer(c["bits"], rows if c["gran"] == "row" else 0, self.frozen)
        if self.shared is not None:
            self.shared[name] = q
        return q


class QuantLinear(nn.Module):
    """nn.Linear with the W and A quantizers of one linear layer."""

    def __init__(self, linear: nn.Linear, cfg: dict, quantizers: Quantizers):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.w_cfg, self.a_cfg = cfg["W"], cfg["A"]
        self.symmetric = "symmetric" in cfg["switches"]
        wq, aq = quantizers.make("W", self.weight.shape[0]), quantizers.make("A")
        if quantizers.shared is not None:  # not registered here: one entry, on the base model
            self._wq, self._aq = [wq], [aq]
        else:
            if wq is not None:
                self.weight_quantizer = wq
            if aq is not None:
                self.input_quantizer = aq
            self._wq, self._aq = [wq], [aq]
        if wq is not None and not wq.initialized:
            wq.init_from(self.weight)

    def forward(self, x):
        w = self.weight
        wq, aq = self._wq[0], self._aq[0]
        if self.w_cfg:
            w = wq(w) if wq is not None else bitnet_weight(w, self.w_cfg["gran"] == "row")
        if self.a_cfg:
            x = aq(x) if aq is not None else bitnet_activation(x, self.a_cfg["bits"], self.symmetric)
        return F.linear(x, w, self.bias)


class QuantEmbedding(nn.Module):
    """nn.Embedding whose table goes through an LSQ quantizer."""

    def __init__(self, emb: nn.Embedding, quantizers: Quantizers):
        super().__init__()
        self.weight = emb.weight
        self.padding_idx = emb.padding_idx
        q = quantizers.make("E")
        if quantizers.shared is None:
            self.weight_quantizer = q
        self._q = [q]
        if not q.initialized:
            q.init_from(self.weight)

    def forward(self, ids):
        return F.embedding(ids, self._q[0](self.weight), self.padding_idx)


LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")


def _replace(root: nn.Module, path: str, make) -> None:
    parent = root
    *heads, last = path.split(".")
    for h in heads:
        parent = getattr(parent, h)
    setattr(parent, last, make(getattr(parent, last)))


def quantize_model(model: nn.Module, config: str) -> nn.Module:
    """Patches the six linears of every encoder layer and the embedding
    tables in place; heads stay in float (docs/method.md section 3), except the MLM
    head's dense layer and decoder under the 'mlm-head' switch (docs/method.md section 10)."""
    cfg = parse_config(config)
    base = model.base_model
    quantizers = Quantizers(cfg, base)
    if cfg["E"]:
        emb = base.embeddings
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
            setattr(emb, name, QuantEmbedding(getattr(emb, name), quantizers))
    if cfg["W"] or cfg["A"]:
        for layer in base.encoder.layer:
            for path in LINEARS:
                _replace(layer, path, lambda lin: QuantLinear(lin, cfg, quantizers))
        if "mlm-head" in cfg["switches"]:
            for path in ("lm_head.dense", "lm_head.decoder", "cls.predictions.transform.dense",
                         "cls.predictions.decoder"):
                try:
                    _replace(model, path, lambda lin: QuantLinear(lin, cfg, quantizers))
                except AttributeError:
                    pass  # the other architecture's head
    return model


def build_model(arch: str, task: str, dims: dict, seed: int, tie: bool = True) -> nn.Module:
    """task: 'mlm', 'seqcls' (sequence classification) or anything else
    (token classification)."""
    import transformers as tf
    torch.manual_seed(seed)
    common = dict(vocab_size=dims["vocab"], hidden_size=dims["hidden"], num_hidden_layers=dims["layers"],
                  num_attention_heads=dims["heads"], intermediate_size=dims["inter"],
                  max_position_embeddings=dims["positions"], type_vocab_size=dims["types"],
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, tie_word_embeddings=tie,
                  pad_token_id=dims["pad"], layer_norm_eps=dims.get("eps", 1e-5), num_labels=dims.get("labels", 2))
    if arch == "roberta":
        config = tf.RobertaConfig(**common)
        cls = {"mlm": tf.RobertaForMaskedLM, "seqcls": tf.RobertaForSequenceClassification}.get(
            task, tf.RobertaForTokenClassification)
    else:
        config = tf.BertConfig(**common)
        cls = {"mlm": tf.BertForMaskedLM, "seqcls": tf.BertForSequenceClassification}.get(
            task, tf.BertForTokenClassification)
    model = cls(config)
    model.eval()
    with torch.no_grad():  # non-trivial biases and LayerNorms
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model
